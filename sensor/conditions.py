"""Trigger conditions: which dependencies must have fired before a trigger runs.

Argo Events writes them as ``(dep-a || dep-b) && dep-c``. It rewrites the text into an
expr-lang program that concatenates the dependency names it finds between ``&&``, ``||`` and
parentheses, so that is the whole language: no ``!``, no ``and``/``or`` words, no literals or
comparisons. Names may contain dashes, which no expression library here reads as part of a
name, hence this small parser. ``&&`` binds tighter than ``||``, as in govaluate, which Argo
uses to evaluate the result.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Set
from dataclasses import dataclass

__all__ = ["And", "Condition", "ConditionError", "Name", "Or", "all_of", "parse_condition"]

_NAME = re.compile(r"[A-Za-z0-9_-]+")
_WORD_OPERATORS = {"and": "&&", "or": "||", "not": None}


class ConditionError(ValueError):
    """A condition that does not parse; ``position`` is the 0-based offset of the problem."""

    def __init__(self, message: str, position: int) -> None:
        self.reason = message
        self.position = position
        super().__init__(f"{message} (at position {position})")


@dataclass(frozen=True)
class Name:
    """A dependency name: true once that dependency's event has arrived."""

    name: str

    def names(self) -> tuple[str, ...]:
        return (self.name,)

    def evaluate(self, satisfied: Set[str]) -> bool:
        return self.name in satisfied

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class And:
    operands: tuple[Condition, ...]

    def names(self) -> tuple[str, ...]:
        return _unique(n for op in self.operands for n in op.names())

    def evaluate(self, satisfied: Set[str]) -> bool:
        return all(op.evaluate(satisfied) for op in self.operands)

    def __str__(self) -> str:
        return " && ".join(f"({op})" if isinstance(op, Or) else str(op) for op in self.operands)


@dataclass(frozen=True)
class Or:
    operands: tuple[Condition, ...]

    def names(self) -> tuple[str, ...]:
        return _unique(n for op in self.operands for n in op.names())

    def evaluate(self, satisfied: Set[str]) -> bool:
        return any(op.evaluate(satisfied) for op in self.operands)

    def __str__(self) -> str:
        return " || ".join(str(op) for op in self.operands)


Condition = Name | And | Or


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def all_of(names: Iterable[str]) -> Condition:
    """Argo's condition for a trigger without ``conditions``: every dependency."""
    operands = tuple(Name(n) for n in _unique(names))
    if not operands:
        raise ValueError("a condition needs at least one dependency")
    return operands[0] if len(operands) == 1 else And(operands)


@dataclass(frozen=True)
class _Token:
    kind: str  # name, &&, ||, (, )
    text: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif text.startswith(("&&", "||"), i):
            tokens.append(_Token(text[i : i + 2], text[i : i + 2], i))
            i += 2
        elif ch in "()":
            tokens.append(_Token(ch, ch, i))
            i += 1
        elif match := _NAME.match(text, i):
            word = match.group()
            if word.lower() in _WORD_OPERATORS:
                instead = _WORD_OPERATORS[word.lower()]
                hint = f"write '{instead}'" if instead else "negation is not supported"
                raise ConditionError(f"'{word}' is not an operator here; {hint}", i)
            if word[0].isdigit():
                # Argo compiles the condition as expr-lang, where this is a number
                raise ConditionError(f"'{word}' is not a name: a name cannot start with a digit", i)
            tokens.append(_Token("name", word, i))
            i = match.end()
        elif ch == "!":
            raise ConditionError(
                "'!' is not supported: conditions combine dependency names "
                "with '&&', '||' and parentheses only",
                i,
            )
        elif ch in "&|":
            raise ConditionError(f"unexpected '{ch}'; did you mean '{ch * 2}'?", i)
        else:
            raise ConditionError(f"unexpected character '{ch}'", i)
    return tokens


class _Parser:
    """``expr := term ('||' term)*``, ``term := factor ('&&' factor)*``,
    ``factor := NAME | '(' expr ')'``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def parse(self) -> Condition:
        if not self.tokens:
            raise ConditionError("the condition is empty", 0)
        node = self.expr()
        extra = self.peek()
        if extra is not None:
            if extra.kind == ")":
                raise ConditionError("unbalanced ')'", extra.pos)
            raise ConditionError(f"expected '&&' or '||' before '{extra.text}'", extra.pos)
        return node

    def expr(self) -> Condition:
        operands = [self.term()]
        while (tok := self.peek()) is not None and tok.kind == "||":
            self.i += 1
            operands.append(self.term())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def term(self) -> Condition:
        operands = [self.factor()]
        while (tok := self.peek()) is not None and tok.kind == "&&":
            self.i += 1
            operands.append(self.factor())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def factor(self) -> Condition:
        tok = self.peek()
        if tok is None:
            raise ConditionError("expected a dependency name at the end", len(self.text))
        self.i += 1
        if tok.kind == "name":
            return Name(tok.text)
        if tok.kind == "(":
            node = self.expr()
            close = self.peek()
            if close is None or close.kind != ")":
                raise ConditionError("missing ')'", close.pos if close else len(self.text))
            self.i += 1
            return node
        raise ConditionError(f"expected a dependency name, got '{tok.text}'", tok.pos)


def parse_condition(text: str) -> Condition:
    """Parse a trigger's ``conditions``; a ConditionError says what is wrong and where."""
    return _Parser(text).parse()

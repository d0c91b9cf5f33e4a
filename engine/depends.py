"""Argo's DAG ``depends`` logic: ``A && (B.Succeeded || C.Failed) && !D.Skipped``.

Task names may contain dashes, so the expression is parsed here rather than by govaluate.
"""

from __future__ import annotations

import re
from collections.abc import Callable

RESULTS = (
    "Succeeded",
    "Failed",
    "Errored",
    "Skipped",
    "Omitted",
    "Daemoned",
    "Completed",
    "AnySucceeded",
    "AllFailed",
)
_TOKEN = re.compile(r"\s*(&&|\|\||!|\(|\)|[A-Za-z0-9_][A-Za-z0-9_.\-]*)")


class DependsError(ValueError):
    """A ``depends`` expression that cannot be parsed."""


def _split_ref(ref: str) -> tuple[str, str | None]:
    name, _, result = ref.rpartition(".")
    if name and result in RESULTS:
        return name, result
    return ref, None


def tokenize(expression: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    text = expression.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise DependsError(f"invalid depends expression '{expression}' at position {pos}")
        tokens.append(m.group(1))
        pos = m.end()
    return tokens


def task_names(expression: str) -> list[str]:
    """The tasks an expression refers to, in order of first mention."""
    seen: list[str] = []
    for tok in tokenize(expression):
        if tok not in ("&&", "||", "!", "(", ")"):
            name, _ = _split_ref(tok)
            if name not in seen:
                seen.append(name)
    return seen


def evaluate(expression: str, result: Callable[[str, str | None], bool]) -> bool:
    """Evaluate with ``result(task, check)``; ``check`` is None for a bare task name."""
    tokens = tokenize(expression)
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise DependsError(f"unexpected end of depends expression '{expression}'")
        pos += 1
        return tokens[pos - 1]

    def parse_or() -> bool:
        value = parse_and()
        while peek() == "||":
            take()
            rhs = parse_and()
            value = value or rhs
        return value

    def parse_and() -> bool:
        value = parse_not()
        while peek() == "&&":
            take()
            rhs = parse_not()
            value = value and rhs
        return value

    def parse_not() -> bool:
        if peek() == "!":
            take()
            return not parse_not()
        return parse_atom()

    def parse_atom() -> bool:
        tok = take()
        if tok == "(":
            value = parse_or()
            if take() != ")":
                raise DependsError(f"missing ')' in depends expression '{expression}'")
            return value
        if tok in ("&&", "||", ")"):
            raise DependsError(f"unexpected '{tok}' in depends expression '{expression}'")
        return result(*_split_ref(tok))

    value = parse_or()
    if pos != len(tokens):
        raise DependsError(f"unexpected '{tokens[pos]}' in depends expression '{expression}'")
    return value


def from_dependencies(names: list[str]) -> str:
    """The legacy ``dependencies: [A, B]`` list as a depends expression."""
    return " && ".join(names)

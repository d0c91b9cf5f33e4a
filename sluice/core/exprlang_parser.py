"""Tokens, syntax tree and Pratt parser for ``sluice.core.exprlang`` (expr-lang's grammar subset).

Parsing is kept apart from evaluation so each stays small; operator precedence and
associativity are expr's own (``??`` binds tightest, ``**`` and ``^`` to the right, chained
comparisons ``a < b < c`` mean ``a < b && b < c``, ternaries only at the outermost level).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ExprError", "Node", "parse"]


class ExprError(ValueError):
    """An expression that does not parse or cannot be evaluated.

    ``pos`` is the 0-based offset of the offending token; once the error is bound to its
    source, ``line``/``column`` (1-based) are set and appear in the message as ``(line:col)``.
    """

    def __init__(self, message: str, pos: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.source: str | None = None
        self.line: int | None = None
        self.column: int | None = None

    def bind(self, source: str) -> None:
        self.source = source
        if self.pos is not None:
            self.line = source.count("\n", 0, self.pos) + 1
            self.column = self.pos - (source.rfind("\n", 0, self.pos) + 1) + 1
            self.args = (f"{self.message} ({self.line}:{self.column})",)


# ---- syntax tree ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Literal(Node):
    value: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Ident(Node):
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Pointer(Node):
    name: str  # "" for the element itself, "index" for its position


@dataclass(frozen=True, slots=True, kw_only=True)
class Array(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class MapLit(Node):
    pairs: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Member(Node):
    obj: Node
    key: Node
    optional: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Slice(Node):
    obj: Node
    start: Node | None
    end: Node | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Chain(Node):
    node: Node  # contains a ``?.``: nil anywhere along it makes the whole chain nil


@dataclass(frozen=True, slots=True, kw_only=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True, slots=True, kw_only=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True, kw_only=True)
class Conditional(Node):
    cond: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True, slots=True, kw_only=True)
class Call(Node):
    callee: Node
    name: str  # as written, for messages: ``asInt``, ``sprig.trim``
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Predicate(Node):
    body: Node


@dataclass(frozen=True, slots=True, kw_only=True)
class PredicateCall(Node):
    name: str
    items: Node
    predicate: Predicate | None


# ---- tokens --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # number, string, ident, op, eof
    value: Any
    pos: int
    text: str

    def is_op(self, *values: str) -> bool:
        return self.kind == "op" and (not values or self.value in values)


_WORD_OPS = {"and", "or", "not", "in", "matches", "contains", "startsWith", "endsWith"}
_TWO_CHAR = ("**", "==", "!=", "<=", ">=", "&&", "||", "??", "?.", "..")
_ONE_CHAR = "+-*/%^!<>?:.,()[]{}#"
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?"
)
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _string(src: str, start: int) -> tuple[str, int]:
    quote, i = src[start], start + 1
    out: list[str] = []
    if quote == "`":
        end = src.find("`", i)
        if end < 0:
            raise ExprError("literal not terminated", start)
        return src[i:end], end + 1
    while i < len(src):
        ch = src[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\n":
            break
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        esc = src[i + 1 : i + 2]
        if esc in _ESCAPES:
            out.append(_ESCAPES[esc])
            i += 2
        elif esc in ("\\", "'", '"'):
            out.append(esc)
            i += 2
        elif esc in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[esc]
            digits = src[i + 2 : i + 2 + width]
            if not re.fullmatch(rf"[0-9a-fA-F]{{{width}}}", digits):
                raise ExprError("invalid char escape", i)
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif re.fullmatch(r"[0-7]{3}", src[i + 1 : i + 4]):
            out.append(chr(int(src[i + 1 : i + 4], 8)))
            i += 4
        else:
            raise ExprError("invalid char escape", i)
    raise ExprError("literal not terminated", start)


def _tokenize(src: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(src):
        ch = src[i]
        if ch.isspace():
            i += 1
        elif m := _NUMBER.match(src, i):
            text = m.group(0).replace("_", "")
            if text[:2].lower() in ("0x", "0b", "0o"):
                value: Any = int(text, 0)
            elif any(c in text for c in ".eE"):
                value = float(text)
            else:
                value = int(text, 10)
            tokens.append(_Token("number", value, i, m.group(0)))
            i = m.end()
        elif ch in "'\"`":
            value, end = _string(src, i)
            tokens.append(_Token("string", value, i, src[i:end]))
            i = end
        elif m := _IDENT.match(src, i):
            word = m.group(0)
            tokens.append(_Token("op" if word in _WORD_OPS else "ident", word, i, word))
            i = m.end()
        elif src[i : i + 2] in _TWO_CHAR and not (
            src[i : i + 2] == "?." and src[i + 2 : i + 3].isdigit()  # a ? .5 : b
        ):
            tokens.append(_Token("op", src[i : i + 2], i, src[i : i + 2]))
            i += 2
        elif ch in _ONE_CHAR:
            tokens.append(_Token("op", ch, i, ch))
            i += 1
        else:
            raise ExprError(f"unrecognized character: {ch!r}", i)
    tokens.append(_Token("eof", None, len(src), "end of expression"))
    return tokens


# ---- parser --------------------------------------------------------------------------------
_BINARY = {
    "or": 10, "||": 10, "and": 15, "&&": 15,
    "==": 20, "!=": 20, "<": 20, ">": 20, ">=": 20, "<=": 20,
    "in": 20, "matches": 20, "contains": 20, "startsWith": 20, "endsWith": 20,
    "..": 25, "+": 30, "-": 30, "*": 60, "/": 60, "%": 60,
    "**": 100, "^": 100, "??": 500,
}  # fmt: skip
_RIGHT_ASSOC = {"**", "^"}
_UNARY = {"not": 50, "!": 50, "-": 90, "+": 90}
_NEGATABLE = {"in", "matches", "contains", "startsWith", "endsWith"}
_PREDICATES = {
    "all", "none", "any", "one", "filter", "map", "count", "sum",
    "find", "findIndex", "findLast", "findLastIndex",
}  # fmt: skip
_OPTIONAL_PREDICATE = {"count", "sum"}


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0  # > 0 inside a predicate, where ``#`` means the current element

    @property
    def cur(self) -> _Token:
        return self.tokens[self.i]

    def ahead(self, n: int = 1) -> _Token:
        return self.tokens[min(self.i + n, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        tok = self.cur
        if tok.kind != "eof":
            self.i += 1
        return tok

    def unexpected(self, tok: _Token | None = None) -> ExprError:
        tok = tok or self.cur
        if tok.kind == "eof":
            return ExprError("unexpected end of expression", tok.pos)
        return ExprError(f"unexpected token {tok.text!r}", tok.pos)

    def expect(self, value: str) -> _Token:
        if not self.cur.is_op(value):
            raise self.unexpected()
        return self.advance()

    def negated_op(self, min_prec: int) -> str | None:
        """The operator after ``not`` in ``a not in b``, if it binds at ``min_prec``."""
        nxt = self.ahead()
        if not (nxt.is_op() and nxt.value in _NEGATABLE):
            raise self.unexpected(nxt)
        return nxt.value if _BINARY[nxt.value] >= min_prec else None

    def expression(self, min_prec: int = 0) -> Node:
        left = self.primary()
        previous = ""
        while self.cur.is_op():
            tok, op, negate = self.cur, self.cur.value, False
            if op == "not":
                negated = self.negated_op(min_prec)
                if negated is None:
                    break
                self.advance()
                tok, op, negate = self.cur, negated, True
            if op not in _BINARY or _BINARY[op] < min_prec:
                break
            self.advance()
            if previous == "??" and op != "??":
                raise ExprError(
                    f"Operator ({op}) and coalesce expressions (??) cannot be mixed. "
                    "Wrap either by parentheses.",
                    tok.pos,
                )
            if _BINARY[op] == 20:
                left = self.comparison(left, tok, op, negate)
            else:
                prec = _BINARY[op] if op in _RIGHT_ASSOC else _BINARY[op] + 1
                left = Binary(op=op, left=left, right=self.expression(prec), pos=tok.pos)
            previous = op
        if min_prec == 0:
            while self.cur.is_op("?"):
                tok = self.advance()
                then = self.expression()
                self.expect(":")
                left = Conditional(cond=left, then=then, otherwise=self.expression(), pos=tok.pos)
        return left

    def comparison(self, left: Node, tok: _Token, op: str, negate: bool) -> Node:
        root: Node | None = None
        while True:
            right = self.expression(21)
            node: Node = Binary(op=op, left=left, right=right, pos=tok.pos)
            if negate:
                node = Unary(op="not", operand=node, pos=tok.pos)
            root = node if root is None else Binary(op="&&", left=root, right=node, pos=tok.pos)
            left, tok, negate = right, self.cur, False
            if tok.is_op("not") and self.negated_op(20):
                self.advance()
                tok, negate = self.cur, True
            elif not (tok.is_op() and _BINARY.get(tok.value) == 20):
                return root
            op = self.advance().value

    def primary(self) -> Node:
        tok = self.cur
        if tok.is_op(*_UNARY):
            self.advance()
            operand = self.expression(_UNARY[tok.value])
            return self.postfix(Unary(op=tok.value, operand=operand, pos=tok.pos))
        if tok.is_op("("):
            self.advance()
            inner = self.expression()
            self.expect(")")
            return self.postfix(inner)
        if tok.is_op("#", "."):
            if self.depth == 0:
                raise ExprError("cannot use pointer accessor outside predicate", tok.pos)
            name = ""
            if tok.value == "#":
                self.advance()
                if self.cur.kind == "ident":
                    name = self.advance().value
                    if name != "index":
                        raise ExprError(f"unknown pointer #{name}", tok.pos)
            return self.postfix(Pointer(name=name, pos=tok.pos))
        return self.postfix(self.secondary())

    def secondary(self) -> Node:
        tok = self.advance()
        if tok.kind in ("number", "string"):
            return Literal(value=tok.value, pos=tok.pos)
        if tok.kind == "ident":
            if tok.value in ("true", "false", "nil"):
                return Literal(value={"true": True, "false": False}.get(tok.value), pos=tok.pos)
            if not self.cur.is_op("("):
                return Ident(name=tok.value, pos=tok.pos)
            if tok.value in _PREDICATES:
                return self.predicate_call(tok)
            callee = Ident(name=tok.value, pos=tok.pos)
            return Call(callee=callee, name=tok.value, args=self.arguments(), pos=tok.pos)
        if tok.is_op("["):
            items = self.sequence("]")
            return Array(items=tuple(items), pos=tok.pos)
        if tok.is_op("{"):
            return self.map_literal(tok)
        raise self.unexpected(tok)

    def sequence(self, closer: str) -> list[Node]:
        """Comma-separated expressions up to ``closer`` (already past the opener)."""
        items: list[Node] = []
        while not self.cur.is_op(closer):
            if items:
                self.expect(",")
                if self.cur.is_op(closer):
                    break
            items.append(self.expression())
        self.advance()
        return items

    def arguments(self) -> tuple[Node, ...]:
        self.expect("(")
        return tuple(self.sequence(")"))

    def map_literal(self, opener: _Token) -> Node:
        pairs: list[tuple[Node, Node]] = []
        while not self.cur.is_op("}"):
            if pairs:
                self.expect(",")
                if self.cur.is_op("}"):
                    break
            tok = self.cur
            if tok.kind in ("number", "string", "ident"):
                self.advance()
                text = tok.value if tok.kind == "string" else tok.text
                key: Node = Literal(value=text, pos=tok.pos)
            elif tok.is_op("("):
                key = self.expression()
            else:
                raise ExprError(
                    "a map key must be a quoted string, a number, a identifier, or an "
                    f"expression enclosed in parentheses (unexpected token {tok.text!r})",
                    tok.pos,
                )
            self.expect(":")
            pairs.append((key, self.expression()))
        self.advance()
        return MapLit(pairs=tuple(pairs), pos=opener.pos)

    def predicate_call(self, name: _Token) -> Node:
        self.expect("(")
        items = self.expression()
        predicate = None
        if self.cur.is_op(","):
            self.advance()
            if not self.cur.is_op(")"):
                predicate = self.predicate()
                if self.cur.is_op(","):
                    self.advance()
        if predicate is None and name.value not in _OPTIONAL_PREDICATE:
            raise ExprError(
                f"{name.value} expects a predicate: {name.value}(list, {{...}})", name.pos
            )
        self.expect(")")
        return PredicateCall(name=name.value, items=items, predicate=predicate, pos=name.pos)

    def predicate(self) -> Predicate:
        start = self.cur
        braced = start.is_op("{")
        if braced:
            self.advance()
        self.depth += 1
        body = self.expression()
        self.depth -= 1
        if braced:
            self.expect("}")
        return Predicate(body=body, pos=start.pos)

    def postfix(self, node: Node) -> Node:
        chained = False
        while self.cur.is_op(".", "?.", "["):
            tok = self.advance()
            optional = tok.value == "?."
            chained = chained or optional
            if tok.value == "[" or (optional and self.cur.is_op("[")):
                if tok.value != "[":
                    self.advance()
                node = self.subscript(node, optional, tok)
                continue
            prop = self.advance()
            if prop.kind != "ident" and not (prop.kind == "op" and prop.value in _WORD_OPS):
                raise ExprError("expected name", prop.pos)
            node = Member(obj=node, key=Literal(value=prop.value), optional=optional, pos=prop.pos)
            if self.cur.is_op("("):
                name = _call_name(node)
                node = Call(callee=node, name=name, args=self.arguments(), pos=prop.pos)
        return Chain(node=node, pos=node.pos) if chained else node

    def subscript(self, node: Node, optional: bool, tok: _Token) -> Node:
        start = None if self.cur.is_op(":") else self.expression()
        if self.cur.is_op(":"):
            self.advance()
            end = None if self.cur.is_op("]") else self.expression()
            self.expect("]")
            return Slice(obj=node, start=start, end=end, pos=tok.pos)
        self.expect("]")
        assert start is not None
        return Member(obj=node, key=start, optional=optional, pos=tok.pos)


def _call_name(node: Node) -> str:
    if isinstance(node, Ident):
        return node.name
    if isinstance(node, Member) and isinstance(node.key, Literal):
        return f"{_call_name(node.obj)}.{node.key.value}"
    return "function"


def parse(source: str) -> Node:
    """Parse ``source`` into a syntax tree; raises ``ExprError`` bound to the source."""
    try:
        parser = _Parser(_tokenize(source))
        node = parser.expression()
        if parser.cur.kind != "eof":
            raise parser.unexpected()
    except ExprError as exc:
        exc.bind(source)
        raise
    return node

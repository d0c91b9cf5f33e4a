"""The govaluate language of Argo's ``when:`` conditions and Argo Events' ``exprs`` filters.

Argo evaluates ``when`` after substituting ``{{...}}`` tags, with every bare word turned into a
string so that ``heads == heads`` needs no quotes; Argo Events binds named fields from the event
payload and evaluates the expression over them. Both use Knetic/govaluate, whose semantics this
module reproduces: numbers are float64, ``==`` never equates a number with a string, ``<`` works
on two numbers or two strings, quoted strings that parse as dates become Unix seconds, operators
bind as govaluate's planner binds them, and ``&&``/``||``/``?``/``??`` short-circuit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sluice.core.govalue import go_equal, go_str, is_number

__all__ = ["ExpressionError", "evaluate", "evaluate_when"]


class ExpressionError(ValueError):
    """An expression that does not parse or cannot be evaluated; ``position`` is 0-based."""

    def __init__(self, message: str, position: int | None = None, token: str | None = None) -> None:
        self.reason = message
        self.position = position
        self.token = token
        super().__init__(message if position is None else f"{message} (at position {position})")


# ---- tokens --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # value, variable, op, prefix, lparen, rparen, comma
    value: Any
    pos: int
    text: str


_BINARY = {
    "?": 1, ":": 1, "??": 1,
    "||": 2,
    "&&": 3,
    "==": 4, "!=": 4, ">": 4, ">=": 4, "<": 4, "<=": 4, "=~": 4, "!~": 4, "in": 4,
    "&": 5, "|": 5, "^": 5,
    "<<": 6, ">>": 6,
    "+": 7, "-": 7,
    "*": 8, "/": 8, "%": 8,
    "**": 9,
}  # fmt: skip
_PREFIX = {"-", "!", "~"}
_SYMBOL_STOP = set("()[]'\",.")

# The layouts govaluate tries on every quoted string (Go's time.Parse, zone-less ones as UTC).
_D = r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
_HM = r"(?P<h>\d{1,2}):(?P<mi>\d{2})"
_S = r":(?P<s>\d{2})(?:[.,]\d+)?"
_WD = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MON = r"(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME_LAYOUTS = tuple(
    re.compile(p)
    for p in (
        rf"{_WD} {_MON}  ?(?P<d>\d{{1,2}}) {_HM}{_S} (?P<y>\d{{4}})",  # ANSIC
        rf"{_WD} {_MON}  ?(?P<d>\d{{1,2}}) {_HM}{_S} [A-Z]{{3,5}} (?P<y>\d{{4}})",  # UnixDate
        rf"{_WD} {_MON} (?P<d>\d{{2}}) {_HM}{_S} (?P<z>[+-]\d{{4}}) (?P<y>\d{{4}})",  # RubyDate
        r"(?P<h>\d{1,2}):(?P<mi>\d{2})(?P<ampm>AM|PM)",  # Kitchen
        rf"{_D}T{_HM}{_S}(?P<z>Z|[+-]\d{{2}}:\d{{2}})",  # RFC3339, RFC3339Nano
        _D,
        rf"{_D} {_HM}",
        rf"{_D} {_HM}{_S}",
        rf"{_D} {_HM}{_S}(?P<z>[+-]\d{{2}}:\d{{2}})",
        rf"{_D}T(?P<h>\d{{1,2}})(?P<z>Z|[+-]\d{{4}})",  # ISO 8601 variants
        rf"{_D}T{_HM}(?P<z>Z|[+-]\d{{4}})",
        rf"{_D}T{_HM}{_S}(?P<z>Z|[+-]\d{{4}})",
    )
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_YEAR_ZERO = -62167219200  # 0000-01-01T00:00:00Z, where Go puts a time with no date


def _parse_time(text: str) -> float | None:
    """Unix seconds of ``text`` if one of govaluate's layouts reads it, else None."""
    for layout in _TIME_LAYOUTS:
        m = layout.fullmatch(text)
        if m is None:
            continue
        g = m.groupdict()
        hour = int(g.get("h") or 0)
        if g.get("ampm"):
            if not 1 <= hour <= 12 or int(g["mi"]) > 59:
                return None
            hour = hour % 12 + (12 if g["ampm"] == "PM" else 0)
            return float(_YEAR_ZERO + hour * 3600 + int(g["mi"]) * 60)
        zone = g.get("z") or "Z"
        offset = 0 if zone == "Z" else int(zone[1:3]) * 60 + int(zone[-2:])
        month = _MONTHS.index(g["mon"]) + 1 if g.get("mon") else int(g["mo"])
        try:
            tz = timezone(timedelta(minutes=-offset if zone[0] == "-" else offset))
            t = datetime(int(g["y"]), month, int(g["d"]), hour, int(g.get("mi") or 0))
            t = t.replace(second=int(g.get("s") or 0), tzinfo=tz)
        except ValueError:
            return None
        return float((t - _EPOCH) // timedelta(seconds=1))
    return None


def _read_quoted(src: str, start: int, closer: str, what: str) -> tuple[str, int]:
    """Text up to ``closer`` with backslash escapes; returns it and the index after ``closer``."""
    out, i = [], start + 1
    while i < len(src):
        ch = src[i]
        if ch == "\\" and i + 1 < len(src):
            out.append(src[i + 1])
            i += 2
            continue
        if ch == closer:
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise ExpressionError(f"Unclosed {what}", start, src[start:])


def _tokenize(src: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(src):
        ch, start = src[i], i
        if ch.isspace():
            i += 1
            continue
        if src.startswith(("0x", "0X"), i):
            m = re.compile(r"0[xX]([0-9a-fA-F]+)").match(src, i)
            if m is None:
                raise ExpressionError("Unable to parse hex value", i, src[i : i + 2])
            tokens.append(_Token("value", float(int(m.group(1), 16)), i, m.group(0)))
            i = m.end()
        elif ch.isdigit() or ch == ".":
            while i < len(src) and (src[i].isdigit() or src[i] == "."):
                i += 1
            text = src[start:i]
            try:
                tokens.append(_Token("value", float(text), start, text))
            except ValueError:
                raise ExpressionError(
                    f"Unable to parse numeric value '{text}' to float64", start, text
                ) from None
        elif ch == ",":
            tokens.append(_Token("comma", ",", i, ","))
            i += 1
        elif ch in "()":
            tokens.append(_Token("lparen" if ch == "(" else "rparen", ch, i, ch))
            i += 1
        elif ch == "[":
            name, i = _read_quoted(src, i, "]", "parameter bracket")
            tokens.append(_Token("variable", name, start, src[start:i]))
        elif ch in "'\"":
            text, i = _read_quoted(src, i, ch, "string literal")
            when = _parse_time(text)
            tokens.append(_Token("value", text if when is None else when, start, src[start:i]))
        elif ch.isalpha():
            while i < len(src) and (src[i].isalnum() or src[i] in "_."):
                i += 1
            word = src[start:i]
            if word.endswith("."):
                raise ExpressionError(f"Hanging accessor on token '{word}'", start, word)
            if word in ("true", "false"):
                tokens.append(_Token("value", word == "true", start, word))
            elif word in ("in", "IN"):
                tokens.append(_Token("op", "in", start, word))
            else:
                tokens.append(_Token("variable", word, start, word))
        else:
            while i < len(src) and not (
                src[i].isalnum() or src[i].isspace() or src[i] in _SYMBOL_STOP
            ):
                i += 1
            symbol = src[start:i]
            prefix_ok = not tokens or tokens[-1].kind in ("op", "prefix", "lparen", "comma")
            if prefix_ok and symbol in _PREFIX:
                tokens.append(_Token("prefix", symbol, start, symbol))
            elif symbol in _BINARY:
                tokens.append(_Token("op", symbol, start, symbol))
            else:
                raise ExpressionError(f"Invalid token: '{symbol}'", start, symbol)
    return tokens


# ---- parsing -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class _Variable:
    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class _Unary:
    op: str
    operand: _Node


@dataclass(frozen=True, slots=True)
class _Binary:
    op: str
    left: _Node
    right: _Node


@dataclass(frozen=True, slots=True)
class _Array:
    items: tuple[_Node, ...]


_Node = _Literal | _Variable | _Unary | _Binary | _Array


class _Parser:
    """Precedence climbing over govaluate's levels; same-level operators associate left."""

    def __init__(self, tokens: list[_Token], variables_as_strings: bool) -> None:
        self.tokens = tokens
        self.i = 0
        self.as_strings = variables_as_strings

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        tok = self.peek()
        if tok is None:
            raise ExpressionError("Unexpected end of expression")
        self.i += 1
        return tok

    def parse(self) -> _Node:
        node = self.sequence()
        tok = self.peek()
        if tok is not None:
            if tok.kind == "rparen":
                raise ExpressionError("Unbalanced parenthesis", tok.pos, tok.text)
            raise ExpressionError(f"Unexpected token '{tok.text}'", tok.pos, tok.text)
        return node

    def sequence(self) -> _Node:
        items = [self.binary(1)]
        while (tok := self.peek()) is not None and tok.kind == "comma":
            self.i += 1
            items.append(self.binary(1))
        return items[0] if len(items) == 1 else _Array(tuple(items))

    def binary(self, min_level: int) -> _Node:
        left = self.unary()
        while (tok := self.peek()) is not None and tok.kind == "op":
            level = _BINARY[tok.value]
            if level < min_level:
                break
            self.i += 1
            left = _Binary(tok.value, left, self.binary(level + 1))
        return left

    def unary(self) -> _Node:
        tok = self.take()
        if tok.kind == "prefix":
            return _Unary(tok.value, self.unary())
        if tok.kind == "value":
            return _Literal(tok.value)
        if tok.kind == "variable":
            return _Literal(tok.value) if self.as_strings else _Variable(tok.value, tok.pos)
        if tok.kind == "lparen":
            if (close := self.peek()) is not None and close.kind == "rparen":
                raise ExpressionError("Empty parentheses", tok.pos, "()")
            inner = self.sequence()
            close = self.peek()
            if close is None or close.kind != "rparen":
                raise ExpressionError("Unbalanced parenthesis", tok.pos, "(")
            self.i += 1
            return inner
        raise ExpressionError(f"Unexpected token '{tok.text}'", tok.pos, tok.text)


# ---- evaluation ----------------------------------------------------------------------------
def _kind(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def _need(value: Any, ok: bool, op: str, role: str, expected: str) -> None:
    if not ok:
        raise ExpressionError(
            f"Value '{go_str(value)}' cannot be used with the {role} '{op}', it is not {expected}"
        )


def _fdiv(a: float, b: float) -> float:
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _pow(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf
    except ValueError:
        return math.nan


def _compare(op: str, a: Any, b: Any) -> bool:
    if not (is_number(a) and is_number(b)) and not (isinstance(a, str) and isinstance(b, str)):
        raise ExpressionError(
            f"Cannot compare {_kind(a)} '{go_str(a)}' with {_kind(b)} '{go_str(b)}' "
            f"using '{op}': both sides must be numbers or both strings"
        )
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def _regex(op: str, a: Any, b: Any) -> bool:
    _need(a, isinstance(a, str), op, "comparator", "a string")
    _need(b, isinstance(b, str), op, "comparator", "a string")
    try:
        found = re.search(b, a) is not None
    except re.error as exc:
        raise ExpressionError(f"Unable to compile regexp pattern '{b}': {exc}") from exc
    return found if op == "=~" else not found


def _arith(op: str, a: Any, b: Any) -> Any:
    if op == "+":
        if is_number(a) and is_number(b):
            return float(a) + float(b)
        if isinstance(a, str) or isinstance(b, str):
            return go_str(a) + go_str(b)
        _need(a if not is_number(a) else b, False, op, "modifier", "a number")
    _need(a, is_number(a), op, "modifier", "a number")
    _need(b, is_number(b), op, "modifier", "a number")
    x, y = float(a), float(b)
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "/":
        return _fdiv(x, y)
    if op == "%":
        return math.fmod(x, y) if y != 0 else math.nan
    if op == "**":
        return _pow(x, y)
    m, n = int(x), int(y)
    mask = (1 << 64) - 1
    if op == "&":
        return float(m & n)
    if op == "|":
        return float(m | n)
    if op == "^":
        return float(m ^ n)
    if op == "<<":
        return float(((m & mask) << (n & mask)) & mask)
    return float((m & mask) >> (n & mask))


class _Evaluator:
    def __init__(self, parameters: Mapping[str, Any]) -> None:
        self.parameters = parameters

    def lookup(self, node: _Variable) -> Any:
        if node.name in self.parameters:
            value = self.parameters[node.name]
        else:
            value = self.parameters
            for part in node.name.split("."):
                if not isinstance(value, Mapping) or part not in value:
                    raise ExpressionError(f"No parameter '{node.name}' found.", node.pos)
                value = value[part]
        return float(value) if is_number(value) else value

    def eval(self, node: _Node) -> Any:
        if isinstance(node, _Literal):
            return node.value
        if isinstance(node, _Variable):
            return self.lookup(node)
        if isinstance(node, _Array):
            return [self.eval(item) for item in node.items]
        if isinstance(node, _Unary):
            value = self.eval(node.operand)
            if node.op == "!":
                _need(value, isinstance(value, bool), "!", "prefix", "a bool")
                return not value
            _need(value, is_number(value), node.op, "prefix", "a number")
            return -float(value) if node.op == "-" else float(~int(value))
        return self.binary(node)

    def binary(self, node: _Binary) -> Any:
        op = node.op
        left = self.eval(node.left)
        if op in ("&&", "||"):
            if left is (op == "||"):  # short circuit: false && ..., true || ...
                return left
            right = self.eval(node.right)
            _need(left, isinstance(left, bool), op, "logical operator", "a bool")
            _need(right, isinstance(right, bool), op, "logical operator", "a bool")
            return bool(right)
        if op == "?":
            _need(left, isinstance(left, bool), op, "ternary operator", "a bool")
            return self.eval(node.right) if left else None
        if op in (":", "??"):
            return left if left is not None else self.eval(node.right)
        right = self.eval(node.right)
        if op == "==":
            return go_equal(left, right)
        if op == "!=":
            return not go_equal(left, right)
        if op in ("<", "<=", ">", ">="):
            return _compare(op, left, right)
        if op in ("=~", "!~"):
            return _regex(op, left, right)
        if op == "in":
            _need(right, isinstance(right, list | tuple), op, "comparator", "an array")
            return any(go_equal(left, item) for item in right)
        return _arith(op, left, right)


def _parse(expression: str, variables_as_strings: bool) -> _Node | None:
    tokens = _tokenize(expression)
    if not tokens:
        return None
    return _Parser(tokens, variables_as_strings).parse()


def evaluate(
    expression: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    variables_as_strings: bool = False,
) -> Any:
    """Evaluate a govaluate expression; numbers come back as floats, an empty one as None.

    Variables are looked up in ``parameters`` by their full name (``body.value``, ``[a-b]``),
    then, for dotted names, through nested mappings. With ``variables_as_strings`` every
    variable is instead the string of its own name, as Argo does for ``when``.
    """
    node = _parse(expression, variables_as_strings)
    return None if node is None else _Evaluator(parameters or {}).eval(node)


def _rewrap(message: str, exc: ExpressionError) -> ExpressionError:
    wrapped = ExpressionError(message)
    wrapped.position, wrapped.token = exc.position, exc.token
    return wrapped


def evaluate_when(expression: str) -> bool:
    """Argo's ``when``: true when empty, bare words are strings, the result must be a bool."""
    try:
        node = _parse(expression, True)
    except ExpressionError as exc:
        hint = ' (hint: try wrapping the affected expression in quotes ("))'
        hint = hint if exc.reason.startswith("Invalid token") else ""
        raise _rewrap(f"Invalid 'when' expression '{expression}': {exc}{hint}", exc) from exc
    if node is None:
        return True
    try:
        result = _Evaluator({}).eval(node)
    except ExpressionError as exc:
        raise _rewrap(f"Failed to evaluate 'when' result '{expression}': {exc}", exc) from exc
    if not isinstance(result, bool):
        got = go_str(result)
        raise ExpressionError(f"Expected boolean evaluation for '{expression}'. Got {got}")
    return result

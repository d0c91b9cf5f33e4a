"""Tokens and literal values for ``sluice.core.gotemplate``, as Go's ``text/template/parse`` lexes.

Text runs up to ``{{``; a trim marker (``{{- `` / `` -}}``, the dash next to the braces and a
space on its other side) eats the whitespace beside the action; a comment is only ``{{/* */}}``
with nothing else in the action; fields, variables and words end at a space, ``.``, ``,``, ``|``,
``:``, ``(``, ``)`` or the closing braces, so ``.my-key`` is a "bad character" as in Go. Tokens
come lazily, so the parser reports the first error in the text, as Go's does.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from typing import NamedTuple

from sluice.core.errors import SluiceError
from sluice.core.govalue import go_quote

__all__ = ["TemplateError", "Token", "line_column", "number", "tokens", "unquote"]


class TemplateError(SluiceError, ValueError):
    """A template that does not parse or fails while executing.

    ``line`` and ``column`` (1-based) locate the offending token; the message reads
    ``template: LINE:COL: problem`` as Go's does (less the template name).
    """

    def __init__(self, message: str, source: str, pos: int) -> None:
        self.message = message
        self.line, self.column = line_column(source, pos)
        super().__init__(f"template: {self.line}:{self.column}: {message}")


def line_column(source: str, pos: int) -> tuple[int, int]:
    """1-based line and column of offset ``pos``."""
    return source.count("\n", 0, pos) + 1, pos - (source.rfind("\n", 0, pos) + 1) + 1


# ---- tokens ---------------------------------------------------------------------------------
class Token(NamedTuple):
    kind: str
    text: str
    pos: int
    spaced: bool = False  # whitespace came before it inside the action

    @property
    def end(self) -> int:
        return self.pos + len(self.text)


_SPACE = " \t\r\n"
_KEYWORDS = frozenset(
    {"if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"}
)
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]*)?"
    r"|0[oO][0-7_]*|0[bB][01_]*|[0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]*)?)i?"
)
_PUNCT = {"=": "assign", "|": "pipe", "(": "lparen", ")": "rparen"}


def _alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or ch.isdecimal()


def _rune(ch: str) -> str:
    """Go's ``%#U``."""
    return f"U+{ord(ch):04X} '{ch}'" if ch.isprintable() else f"U+{ord(ch):04X}"


class _Lexer:
    def __init__(self, source: str) -> None:
        self.src = source
        self.paren_depth = 0

    def error(self, message: str, pos: int) -> TemplateError:
        return TemplateError(message, self.src, pos)

    def right_delim(self, i: int) -> int:
        """Length of the right delimiter at ``i`` (4 with a trim marker), or 0."""
        if self.src.startswith("}}", i):
            return 2
        if i < len(self.src) and self.src[i] in _SPACE and self.src.startswith("-}}", i + 1):
            return 4
        return 0

    def skip_space(self, i: int) -> int:
        while i < len(self.src) and self.src[i] in _SPACE:
            i += 1
        return i

    def tokens(self) -> Iterator[Token]:
        src, i = self.src, 0
        while (j := src.find("{{", i)) >= 0:
            trim = src.startswith("-", j + 2) and src[j + 3 : j + 4] in tuple(_SPACE)
            text = src[i:j].rstrip(_SPACE) if trim else src[i:j]
            if text:
                yield Token("text", text, i)
            k = j + (4 if trim else 2)
            if src.startswith("/*", k):
                close = src.find("*/", k + 2)
                if close < 0:
                    raise self.error("unclosed comment", j)
                delim = self.right_delim(close + 2)
                if not delim:
                    raise self.error("comment ends before closing delimiter", j)
                i = close + 2 + delim
                i = self.skip_space(i) if delim == 4 else i
                continue
            yield Token("left", src[j:k], j)
            i = yield from self.action(k, j)
        if i < len(src):
            yield Token("text", src[i:], i)
        yield Token("eof", "", len(src))

    def action(self, i: int, start: int) -> Generator[Token, None, int]:
        src, spaced = self.src, False
        self.paren_depth = 0
        while True:
            if delim := self.right_delim(i):
                if self.paren_depth:
                    raise self.error("unclosed left paren", i)
                yield Token("right", src[i : i + delim], i, spaced)
                return self.skip_space(i + delim) if delim == 4 else i + delim
            if i >= len(src):
                raise self.error("unclosed action", start)
            if src[i] in _SPACE:
                j = self.skip_space(i)
                i = j - 1 if src.startswith("-}}", j) else j  # keep the space of " -}}"
                spaced = True
                continue
            token = self.token(i)
            yield token._replace(spaced=spaced)
            i, spaced = token.end, False

    def at_terminator(self, i: int) -> bool:
        return i >= len(self.src) or self.src[i] in _SPACE + ".,|:()" or bool(self.right_delim(i))

    def scan(self, i: int, closer: str, what: str) -> int:
        """The end of a quoted string or character constant starting at ``i``."""
        j = i + 1
        while j < len(self.src) and self.src[j] != closer:
            escaped = self.src[j] == "\\" and closer != "`"
            if closer != "`" and "\n" in (self.src[j], self.src[j + 1 : j + 2] if escaped else ""):
                break
            j += 2 if escaped else 1
        if j >= len(self.src) or self.src[j] != closer:
            raise self.error(f"unterminated {what}", i)
        return j + 1

    def word(self, i: int, kind: str) -> Token:
        j = i + 1 if kind != "ident" else i
        while j < len(self.src) and _alnum(self.src[j]):
            j += 1
        if not self.at_terminator(j):
            raise self.error(f"bad character {_rune(self.src[j])}", j)
        text = self.src[i:j]
        if kind == "field" and text == ".":
            kind = "dot"
        elif kind == "ident" and text in _KEYWORDS:
            kind = "keyword"
        elif kind == "ident" and text in ("true", "false"):
            kind = "bool"
        elif kind == "ident" and text == "nil":
            kind = "nil"
        return Token(kind, text, i)

    def token(self, i: int) -> Token:
        src, ch = self.src, self.src[i]
        nxt = src[i + 1 : i + 2]
        if ch == ":":
            if nxt != "=":
                raise self.error("expected :=", i)
            return Token("declare", ":=", i)
        if ch in _PUNCT:
            self.paren_depth += {"(": 1, ")": -1}.get(ch, 0)
            if self.paren_depth < 0:
                raise self.error("unexpected right paren", i)
            return Token(_PUNCT[ch], ch, i)
        quoted = {'"': ("string", "quoted string"), "`": ("raw", "raw quoted string")}
        quoted["'"] = ("char", "character constant")
        if ch in quoted:
            kind, what = quoted[ch]
            return Token(kind, src[i : self.scan(i, ch, what)], i)
        if ch == "$":
            return self.word(i, "variable")
        if ch == "." and not nxt[:1].isdigit():
            return self.word(i, "field")
        if ch in "+-." or ch.isdigit():
            m = _NUMBER.match(src, i)
            assert m is not None  # the pattern matches the empty string
            j = m.end()
            imaginary = _NUMBER.match(src, j) if src[j : j + 1] in ("+", "-") else None
            if imaginary and imaginary.group().endswith("i"):
                raise self.error(f"complex number {src[i : imaginary.end()]} is not supported", i)
            if j < len(src) and (_alnum(src[j]) or src[j] in "+-"):
                raise self.error(f"bad number syntax: {go_quote(src[i : j + 1])}", i)
            return Token("number", src[i:j], i)
        if _alnum(ch):
            return self.word(i, "ident")
        if ch.isascii() and ch.isprintable():
            return Token("char_punct", ch, i)
        raise self.error(f"unrecognized character in action: {_rune(ch)}", i)


# ---- literals ------------------------------------------------------------------------------
_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}


def _unquote_one(body: str, i: int, quote: str) -> tuple[int, bool, int]:
    """One character of a Go literal: (code point or byte, is a raw byte, next index)."""
    if body[i] != "\\":
        return ord(body[i]), False, i + 1
    esc = body[i + 1 : i + 2]
    if esc in _ESCAPES:
        return _ESCAPES[esc], False, i + 2
    if esc == quote:
        return ord(quote), False, i + 2
    sizes = {"x": 2, "u": 4, "U": 8}
    if esc in sizes:
        digits = body[i + 2 : i + 2 + sizes[esc]]
        if len(digits) == sizes[esc] and all(c in "0123456789abcdefABCDEF" for c in digits):
            value = int(digits, 16)
            if esc == "x" or (value <= 0x10FFFF and not 0xD800 <= value < 0xE000):
                return value, esc == "x", i + 2 + sizes[esc]
    elif esc and esc in "01234567":
        digits = body[i + 1 : i + 4]
        if len(digits) == 3 and all(c in "01234567" for c in digits) and int(digits, 8) < 256:
            return int(digits, 8), True, i + 4
    raise ValueError(f"invalid escape in {quote}{body}{quote}")


def unquote(text: str) -> str:
    """``strconv.Unquote`` for a double-quoted or backquoted Go string."""
    if text[0] == "`":
        return text[1:-1].replace("\r", "")
    body, out, i = text[1:-1], bytearray(), 0
    while i < len(body):
        value, is_byte, i = _unquote_one(body, i, '"')
        out += bytes([value]) if is_byte else chr(value).encode("utf-8", "surrogatepass")
    return out.decode("utf-8", errors="replace")


def number(text: str) -> int | float:
    """A number constant as Go's ``idealConstant`` types it: int unless it looks like a float."""
    if text.startswith("'"):
        body = text[1:-1]
        value, _, end = _unquote_one(body, 0, "'") if body else (0, False, -1)
        if end != len(body):
            raise ValueError(f"malformed character constant: {text}")
        return value
    if text.endswith("i"):
        raise ValueError(f"complex number {text} is not supported")
    body = text.lstrip("+-")
    try:
        if re.fullmatch(r"0[0-7_]+", body):
            value = int(body.replace("_", ""), 8)
        else:
            value = int(body, 0)
    except ValueError:
        pass
    else:
        value = -value if text.startswith("-") else value
        if not -(2**63) <= value < 2**63:
            raise ValueError(f"integer overflow: {go_quote(text)}")
        return value
    is_hex = body[:2].lower() == "0x"
    try:
        number = float.fromhex(text.replace("_", "")) if is_hex else float(text)
    except ValueError:
        raise ValueError(f"illegal number syntax: {go_quote(text)}") from None
    if not re.search("[.eEpP]" if not is_hex else "[pP]", text):
        raise ValueError(f"integer overflow: {go_quote(text)}")
    return number


def tokens(source: str) -> Iterator[Token]:
    """The tokens of ``source``, ending with an ``eof`` one; raises ``TemplateError``."""
    return _Lexer(source).tokens()

"""Go's builtin template functions and ``fmt.Sprintf``, for ``sluice.core.gotemplate``.

Each builtin behaves as Go's ``text/template`` one does on the values JSON decodes to: ``eq``
refuses to compare an int with a float64, ``index`` wants an int index and a string key, ``len``
counts a string's UTF-8 bytes, ``printf`` answers a verb that does not fit with ``%!d(string=x)``.
A builtin that fails raises ``ValueError`` with Go's message; the executor adds the position.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sluice.core.govalue import go_float, go_quote, go_str

__all__ = ["BUILTINS", "MISSING", "as_float64", "go_type", "truth"]


class _Missing:
    """Go's invalid ``reflect.Value``: what a missing map key or a nil pipeline result is."""

    def __repr__(self) -> str:
        return "<no value>"


MISSING: Any = _Missing()


def go_type(value: Any) -> str:
    """The Go type JSON decoding gives ``value``, for messages."""
    kinds: list[tuple[Any, str]] = [(bool, "bool"), (int, "int"), (float, "float64")]
    kinds += [(str, "string"), (list | tuple, "[]interface {}"), (datetime, "time.Time")]
    kinds += [(Mapping, "map[string]interface {}")]
    if value is None:
        return "interface {}"
    return next((name for cls, name in kinds if isinstance(value, cls)), type(value).__name__)


def truth(value: Any) -> bool:
    """Go's ``isTrue``: the zero value of its type is false, and so is nil."""
    if value is None or value is MISSING:
        return False
    if isinstance(value, bool | int | float):
        return value != 0
    if isinstance(value, str | bytes | list | tuple | Mapping):
        return len(value) > 0
    return True


def as_float64(value: Any) -> Any:
    """What Go's JSON decoding into ``interface{}`` makes of the data: every number a float64."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return math.copysign(math.inf, value)
    if isinstance(value, Mapping):
        return {k: as_float64(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_float64(v) for v in value]
    return value


# ---- builtins ------------------------------------------------------------------------------
def _kind(value: Any) -> str:
    for cls, kind in ((bool, "bool"), (int, "int"), (float, "float"), (str, "string")):
        if isinstance(value, cls):
            return kind
    return "invalid"


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise ValueError("missing argument for comparison")
    for b in others:
        if _kind(a) != _kind(b):
            if a is not None and b is not None:
                raise ValueError(
                    f"incompatible types for comparison: {go_type(a)} and {go_type(b)}"
                )
        elif _kind(a) != "invalid" or a is None or b is None:
            if a == b:
                return True
        elif go_type(a) != go_type(b):
            raise ValueError(
                f"non-comparable types {go_str(a)}: {go_type(a)}, {go_type(b)}: {go_str(b)}"
            )
        elif isinstance(b, list | tuple | Mapping):
            raise ValueError(f"non-comparable type {go_str(b)}: {go_type(b)}")
        elif a == b:
            return True
    return False


def _lt(a: Any, b: Any) -> bool:
    if "invalid" in (_kind(a), _kind(b)):
        raise ValueError("invalid type for comparison")
    if _kind(a) != _kind(b):
        raise ValueError(f"incompatible types for comparison: {go_type(a)} and {go_type(b)}")
    if _kind(a) == "bool":
        raise ValueError("invalid type for comparison")
    return bool(a < b)


def _len(value: Any) -> int:
    if value is None:
        raise ValueError("len of nil pointer")
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, list | tuple | Mapping):
        return len(value)
    raise ValueError(f"len of type {go_type(value)}")


def _index_arg(index: Any, cap: int, kind: str = "slice/array") -> int:
    if index is None:
        raise ValueError(f"cannot index {kind} with nil")
    if not isinstance(index, int) or isinstance(index, bool):
        raise ValueError(f"cannot index {kind} with type {go_type(index)}")
    if not 0 <= index <= cap:
        raise ValueError(f"index out of range: {index}")
    return index


def _index(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise ValueError("index of untyped nil")
    for index in indexes:
        if item is None:
            raise ValueError("index of nil pointer")
        if isinstance(item, str | list | tuple):
            seq = item.encode() if isinstance(item, str) else item
            if _index_arg(index, len(seq)) == len(seq):
                raise ValueError(f"index out of range: {index}")
            item = seq[index]
        elif isinstance(item, Mapping):
            if index is None:
                raise ValueError("value is nil; should be of type string")
            if not isinstance(index, str):
                raise ValueError(f"value has type {go_type(index)}; should be string")
            item = item.get(index)
        else:
            raise ValueError(f"can't index item of type {go_type(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise ValueError("slice of untyped nil")
    if len(indexes) > 3:
        raise ValueError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str) and len(indexes) == 3:
        raise ValueError("cannot 3-index slice a string")
    if not isinstance(item, str | list | tuple):
        raise ValueError(f"can't slice item of type {go_type(item)}")
    seq = item.encode() if isinstance(item, str) else list(item)
    bounds = [0, len(seq), len(seq)]
    for i, index in enumerate(indexes):
        bounds[i] = _index_arg(index, len(seq))
    for low, high in ((bounds[0], bounds[1]), (bounds[1], bounds[2])):
        if low > high:
            raise ValueError(f"invalid slice index: {low} > {high}")
    part = seq[bounds[0] : bounds[1]]
    return part.decode("utf-8", errors="replace") if isinstance(part, bytes) else part


def _sprint(*args: Any) -> str:
    """``fmt.Sprint``: a space between operands when neither is a string."""
    out = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(go_str(arg))
    return "".join(out)


def _eval_args(args: tuple[Any, ...]) -> str:
    """The text that ``html``, ``js`` and ``urlquery`` escape; nil reads ``<no value>``."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return _sprint(*("<no value>" if a is None else a for a in args))


_HTML = str.maketrans(
    {"\0": "\ufffd", '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;"}
)
_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026"}
_JS["="] = "\\u003D"


def _js(*args: Any) -> str:
    out = []
    for ch in _eval_args(args):
        if ch in _JS:
            out.append(_JS[ch])
        elif ch < " " or (ch >= "\x80" and not ch.isprintable()):
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def _call(fn: Any, *args: Any) -> Any:
    raise ValueError("call of nil" if fn is None else f"non-function of type {go_type(fn)}")


# ---- printf --------------------------------------------------------------------------------
_SPEC = re.compile(r"([-+# 0]*)(\d*)(?:\.(\d*))?(.?)", re.S)


def _pad(text: str, flags: str, width: int) -> str:
    if len(text) >= width:
        return text
    if "-" in flags:
        return text.ljust(width)
    return text.rjust(width, "0" if "0" in flags else " ")


def _rune(value: int) -> str:
    """Go's ``rune(value)`` as written by ``%c``: an invalid code point is U+FFFD."""
    valid = 0 <= value <= 0x10FFFF and not 0xD800 <= value < 0xE000
    return chr(value) if valid else "\ufffd"


def _format_int(verb: str, flags: str, width: int, value: int) -> str | None:
    if verb == "c":
        return _pad(_rune(value), flags, width)
    if verb == "q":
        quoted = go_quote(_rune(value))[1:-1].replace('\\"', '"').replace("'", "\\'")
        return _pad(f"'{quoted}'", flags, width)
    if verb == "U":  # Go formats the int as a uint64
        return _pad(f"U+{value & 0xFFFFFFFFFFFFFFFF:04X}", flags, width)
    base = {"v": "d", "d": "d", "b": "b", "o": "o", "O": "o", "x": "x", "X": "X"}.get(verb)
    if base is None:
        return None
    sign = "+" if "+" in flags else (" " if " " in flags else "")
    digits = format(abs(value), base)
    prefix = {"O": "0o"}.get(verb, "")
    if "#" in flags:
        prefix = {"b": "0b", "o": "0", "O": "0o", "x": "0x", "X": "0X"}.get(verb, "")
    head = ("-" if value < 0 else sign) + prefix
    if "0" in flags and "-" not in flags:
        return head + digits.rjust(width - len(head), "0")
    return _pad(head + digits, flags, width)


def _format_float(verb: str, flags: str, width: int, prec: int | None, value: float) -> str | None:
    if verb not in "vbeEfFgGxX" or not verb:
        return None
    if not math.isfinite(value):
        text = go_float(value)
        return _pad("+Inf" if "+" in flags and value > 0 else text, flags.replace("0", ""), width)
    if verb in "xX":
        head, exponent = value.hex().split("p")
        head = head.rstrip("0").rstrip(".")
        text = f"{head}p{int(exponent):+03d}"
        text = "+" + text if "+" in flags and value >= 0 else text
        return _pad(text.upper() if verb == "X" else text, flags, width)
    if verb in "vgG" and prec is None:
        text = go_float(value)
        text = text.upper() if verb == "G" else text
        if "+" in flags and not text.startswith("-"):
            text = "+" + text
    else:
        spec = {"v": "g", "b": "e", "F": "f"}.get(verb, verb)
        default = 6 if spec in "eEfF" else None
        precision = prec if prec is not None else default
        sign = "+" if "+" in flags else (" " if " " in flags else "")
        text = format(value, f"{sign}{'#' if '#' in flags else ''}.{precision}{spec}")
        if precision is None:
            text = format(value, f"{sign}{spec}")
    if "0" in flags and "-" not in flags and text[:1] in "+- ":
        return text[0] + text[1:].rjust(width - 1, "0")
    return _pad(text, flags, width)


def _format(verb: str, flags: str, width: int, prec: int | None, value: Any) -> str:
    """One ``%verb`` of ``fmt.Sprintf``, lists and maps element by element as Go does."""
    if verb == "T":
        return _pad("<nil>" if value is None else go_type(value), flags, width)
    if isinstance(value, list | tuple):
        return "[" + " ".join(_format(verb, flags, width, prec, v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = sorted(value.items(), key=lambda kv: go_str(kv[0]))
        parts = (f"{_format(verb, flags, width, prec, k)}:{_format(verb, flags, width, prec, v)}"
                 for k, v in items)  # fmt: skip
        return "map[" + " ".join(parts) + "]"
    text: str | None = None
    if value is None:
        text = _pad("<nil>", flags, width) if verb == "v" else None
    elif isinstance(value, bool):
        text = _pad(go_str(value), flags, width) if verb in "vt" else None
    elif isinstance(value, int):
        text = _format_int(verb, flags, width, value)
    elif isinstance(value, float):
        text = _format_float(verb, flags, width, prec, value)
    elif isinstance(value, str):
        if verb in "vs":
            text = _pad(value if prec is None else value[:prec], flags, width)
        elif verb == "q":
            text = _pad(go_quote(value), flags, width)
        elif verb in "xX":
            hexed = value.encode().hex()
            text = _pad(hexed.upper() if verb == "X" else hexed, flags, width)
    elif verb in "vs":
        text = _pad(go_str(value), flags, width)
    if text is not None:
        return text
    return f"%!{verb}(<nil>)" if value is None else f"%!{verb}({go_type(value)}={go_str(value)})"


def _too_large(digits: str) -> bool:
    """Go's ``parsenum`` refuses a width or precision that grows past 1e6 before its last digit."""
    number = 0
    for digit in digits:
        if number > 1_000_000:
            return True
        number = number * 10 + int(digit)
    return False


def _sprintf(template: Any, *args: Any) -> str:
    """``fmt.Sprintf`` for the verbs templates use, with Go's ``%!d(string=x)`` complaints."""
    if not isinstance(template, str):
        raise ValueError(f"wrong type for value; expected string; got {go_type(template)}")
    out: list[str] = []
    used, i = 0, 0
    while (j := template.find("%", i)) >= 0:
        out.append(template[i:j])
        m = _SPEC.match(template, j + 1)
        assert m is not None  # every part of the pattern is optional
        flags, width, prec, verb = m.groups()
        i = m.end()
        if _too_large(width) or _too_large(prec or ""):  # Go gives up on the rest of the format
            out.append("%!(NOVERB)")
            i = len(template)
            break
        if not verb:
            out.append("%!(NOVERB)")
        elif verb == "%":
            out.append("%")
        elif used >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            precision = None if prec is None else int(prec or 0)
            out.append(_format(verb, flags, int(width or 0), precision, args[used]))
            used += 1
    out.append(template[i:])
    if used < len(args):
        extra = (f"{go_type(a)}={go_str(a)}" if a is not None else "<nil>" for a in args[used:])
        out.append(f"%!(EXTRA {', '.join(extra)})")
    return "".join(out)


def _unreachable(*_args: Any) -> Any:
    raise AssertionError("and/or short-circuit in the executor")


BUILTINS: Mapping[str, tuple[Callable[..., Any], int, int | None]] = MappingProxyType(
    {
        "and": (_unreachable, 1, None),
        "or": (_unreachable, 1, None),
        "not": (lambda value: not truth(value), 1, 1),
        "len": (_len, 1, 1),
        "index": (_index, 1, None),
        "slice": (_slice, 1, None),
        "eq": (_eq, 1, None),
        "ne": (lambda a, b: not _eq(a, b), 2, 2),
        "lt": (_lt, 2, 2),
        "le": (lambda a, b: _lt(a, b) or _eq(a, b), 2, 2),
        "gt": (lambda a, b: not (_lt(a, b) or _eq(a, b)), 2, 2),
        "ge": (lambda a, b: not _lt(a, b), 2, 2),
        "print": (_sprint, 0, None),
        "printf": (_sprintf, 1, None),
        "println": (lambda *args: " ".join(go_str(a) for a in args) + "\n", 0, None),
        "html": (lambda *args: _eval_args(args).translate(_HTML), 0, None),
        "js": (_js, 0, None),
        "urlquery": (lambda *args: urllib.parse.quote_plus(_eval_args(args), safe=""), 0, None),
        "call": (_call, 1, None),
    }
)
"""Go's builtin functions by name: (function, least and most argument counts, None: any)."""

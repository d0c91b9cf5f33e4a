"""The sprig template functions Argo's and Argo Events' documentation uses, as Python callables.

Argo exposes sprig inside ``{{=sprig.name(...)}}`` expression tags and Argo Events inside its Go
templates, so both the engine's expression evaluator and the sensor's template interpreter call
into ``FUNCTIONS``. Argument order and results follow sprig (``replace old new s``, ``trimPrefix
prefix s``, ``add`` returning an int64), including its habit of answering bad data with a zero
value (``int "x"`` is 0, ``fromJson "{"`` is nil, ``regexMatch`` with a broken pattern is false).
What Go itself would reject - a wrong argument count or type, a slice out of range, a division by
zero, a pattern ``regexFind`` cannot compile - raises ``SprigError`` naming the function.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import inspect
import json
import math
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from sluice.core.govalue import format_time, go_json, go_quote, go_str

__all__ = ["FUNCTIONS", "SprigError", "empty", "to_float64", "to_int64", "to_string"]


class SprigError(ValueError):
    """A sprig function was called with arguments Go would reject."""

    def __init__(self, function: str, problem: str) -> None:
        self.function = function
        super().__init__(f"{function}: {problem}")


def _type(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "map"
    return type(value).__name__


def _want_str(fn: str, value: Any) -> str:
    if not isinstance(value, str):
        raise SprigError(fn, f"expected a string, got {_type(value)} {go_str(value)!r}")
    return value


def _want_int(fn: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise SprigError(fn, f"expected an int, got {_type(value)} {go_str(value)!r}")


# ---- conversions (spf13/cast, as sprig uses it) --------------------------------------------
def _parse_go_int(text: str) -> int:
    """``strconv.ParseInt(text, 0, 64)``: 0x/0o/0b prefixes, a leading 0 means octal."""
    if text != text.strip() or not text:
        raise ValueError(text)
    sign, body = (-1 if text[0] == "-" else 1), text[1:] if text[0] in "+-" else text
    if len(body) > 1 and body[0] == "0" and body[1].isdigit():
        return sign * int(body[1:], 8)
    return sign * int(body, 0)


def to_int64(value: Any) -> int:
    """cast.ToInt64: numbers truncate, bools are 0/1, unparsable strings and nil are 0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else 0
    if isinstance(value, str):
        text = value
        if re.fullmatch(r"[+-]?\d+\.0+", text):  # cast trims a zero decimal part
            text = text.split(".")[0]
        try:
            return _parse_go_int(text)
        except ValueError:
            return 0
    return 0


def to_float64(value: Any) -> float:
    """cast.ToFloat64: numbers and bools convert, unparsable strings and nil are 0."""
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str) and "_" not in value and value == value.strip():
        try:
            return float(value)
        except ValueError:
            return 0.0
    return 0.0


def to_string(value: Any) -> str:
    """sprig's strval: strings as is, bytes decoded, everything else as ``%v``."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return go_str(value)


def _strslice(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [to_string(v) for v in value if v is not None]
    return [] if value is None else [to_string(value)]


def empty(value: Any) -> bool:
    """sprig's ``empty``: nil, false, zero, and empty strings/lists/maps are empty."""
    if value is None:
        return True
    if isinstance(value, bool | int | float):
        return not value
    if isinstance(value, str | bytes | list | tuple | Mapping):
        return len(value) == 0
    return False


# ---- strings -------------------------------------------------------------------------------
def _title(s: str) -> str:
    out, prev_sep = [], True
    for ch in s:
        out.append(ch.upper() if prev_sep else ch)
        if ch.isascii():
            prev_sep = not (ch.isalnum() or ch == "_")
        else:
            prev_sep = not ch.isalnum() and ch.isspace()
    return "".join(out)


def _untitle(s: str) -> str:
    out, prev_space = [], True
    for ch in s:
        out.append(ch.lower() if prev_space else ch)
        prev_space = ch.isspace()
    return "".join(out)


def _substr(start: Any, end: Any, s: Any) -> str:
    a, b, text = _want_int("substr", start), _want_int("substr", end), _want_str("substr", s)
    if a < 0:
        a = 0
    elif b < 0 or b > len(text):
        b = len(text)
    if a > b or b > len(text):
        raise SprigError("substr", f"slice bounds out of range [{a}:{b}] with length {len(text)}")
    return text[a:b]


def _trunc(count: Any, s: Any) -> str:
    c, text = _want_int("trunc", count), _want_str("trunc", s)
    if c < 0 and len(text) + c > 0:
        return text[len(text) + c :]
    if c >= 0 and len(text) > c:
        return text[:c]
    return text


def _abbrev(width: Any, s: Any) -> str:
    w, text = _want_int("abbrev", width), _want_str("abbrev", s)
    if w < 4 or len(text) <= w:
        return text
    return text[: w - 3] + "..."


def _repeat(count: Any, s: Any) -> str:
    c = _want_int("repeat", count)
    if c < 0:
        raise SprigError("repeat", "negative repeat count")
    return _want_str("repeat", s) * c


def _indent(spaces: Any, s: Any) -> str:
    pad = " " * _want_int("indent", spaces)
    return pad + _want_str("indent", s).replace("\n", "\n" + pad)


def _go_split(fn: str, sep: Any, s: Any) -> list[str]:
    separator, text = _want_str(fn, sep), _want_str(fn, s)
    return list(text) if separator == "" else text.split(separator)


def _split(sep: Any, s: Any) -> dict[str, str]:
    return {f"_{i}": part for i, part in enumerate(_go_split("split", sep, s))}


def _quote(*values: Any) -> str:
    return " ".join(go_quote(to_string(v)) for v in values if v is not None)


def _squote(*values: Any) -> str:
    return " ".join(f"'{to_string(v)}'" for v in values if v is not None)


def _cat(*values: Any) -> str:
    return " ".join(go_str(v) for v in values if v is not None)


_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _b64dec(s: Any) -> str:
    """Sprig returns the decoding error's text as the result: templates render it."""
    data = _want_str("b64dec", s).encode()
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        bad = next((i for i, c in enumerate(data) if c not in _B64 and c != ord("=")), None)
        if bad is None:  # only the padding is wrong: Go reports the end of the last quantum
            bad = len(data.rstrip(b"=")) // 4 * 4
        return f"illegal base64 data at input byte {bad}"
    return raw.decode("utf-8", errors="replace")


# ---- data and encoding ---------------------------------------------------------------------
def _to_json(value: Any, *, indent: bool = False) -> str:
    try:
        return go_json(value, indent=indent)
    except (TypeError, ValueError):
        return ""  # sprig's toJson swallows the error; mustToJson would raise


def _from_json(s: Any) -> Any:
    try:
        return json.loads(_want_str("fromJson", s))
    except json.JSONDecodeError:
        return None


def _dict(*pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(pairs), 2):
        out[to_string(pairs[i])] = pairs[i + 1] if i + 1 < len(pairs) else ""
    return out


def _want_map(fn: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SprigError(fn, f"expected a map, got {_type(value)}")
    return value


def _get(d: Any, key: Any) -> Any:
    return _want_map("get", d).get(_want_str("get", key), "")


def _has_key(d: Any, key: Any) -> bool:
    return _want_str("hasKey", key) in _want_map("hasKey", d)


def _keys(*dicts: Any) -> list[str]:
    return [k for d in dicts for k in _want_map("keys", d)]


def _end(fn: str, items: Any, index: int) -> Any:
    if not isinstance(items, list | tuple):
        raise SprigError(fn, f"cannot find {fn} on type {_type(items)}")
    return items[index] if items else None


def _len(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode())  # Go's len counts bytes
    if isinstance(value, list | tuple | Mapping | bytes):
        return len(value)
    raise SprigError("len", f"len of type {_type(value)}")


def _ternary(true_value: Any, false_value: Any, condition: Any) -> Any:
    if not isinstance(condition, bool):
        raise SprigError("ternary", f"expected a bool condition, got {_type(condition)}")
    return true_value if condition else false_value


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if not empty(v)), None)


def _default(default: Any, *given: Any) -> Any:
    return default if not given or empty(given[0]) else given[0]


# ---- math ----------------------------------------------------------------------------------
def _go_div(fn: str, a: int, b: int) -> tuple[int, int]:
    """Go's truncated integer division and remainder."""
    if b == 0:
        raise SprigError(fn, "integer divide by zero")
    q = abs(a) // abs(b)
    q = q if (a >= 0) == (b >= 0) else -q
    return q, a - q * b


def _round(value: Any, places: Any, *round_on: Any) -> float:
    on = to_float64(round_on[0]) if round_on else 0.5
    pow10 = math.pow(10, to_float64(places))
    digit = pow10 * to_float64(value)
    frac = math.modf(digit)[0]
    return (math.ceil(digit) if frac >= on else math.floor(digit)) / pow10


def _atoi(s: Any) -> int:
    text = _want_str("atoi", s)
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else 0


# ---- regular expressions -------------------------------------------------------------------
def _compile(fn: str, pattern: Any) -> re.Pattern[str]:
    try:
        return re.compile(_want_str(fn, pattern))
    except re.error as exc:
        raise SprigError(fn, f"error parsing regexp {pattern!r}: {exc}") from exc


def _regex_match(pattern: Any, s: Any) -> bool:
    text = _want_str("regexMatch", s)
    try:
        return re.search(_want_str("regexMatch", pattern), text) is not None
    except re.error:
        return False


def _regex_find(pattern: Any, s: Any) -> str:
    m = _compile("regexFind", pattern).search(_want_str("regexFind", s))
    return m.group(0) if m else ""


def _regex_find_all(pattern: Any, s: Any, n: Any) -> list[str]:
    limit = _want_int("regexFindAll", n)
    text = _want_str("regexFindAll", s)
    found = [m.group(0) for m in _compile("regexFindAll", pattern).finditer(text)]
    return found if limit < 0 else found[:limit]


def _go_expand(template: str, m: re.Match[str]) -> str:
    """regexp.Expand: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``; unknown groups are empty."""

    def replace(ref: re.Match[str]) -> str:
        if ref.group(0) == "$$":
            return "$"
        name = ref.group(1) or ref.group(2)
        try:
            return m.group(int(name) if name.isdigit() else name) or ""
        except IndexError:
            return ""

    return re.sub(r"\$\$|\$\{(\w+)\}|\$(\w+)", replace, template)


def _regex_replace_all(pattern: Any, s: Any, repl: Any) -> str:
    template = _want_str("regexReplaceAll", repl)
    regex = _compile("regexReplaceAll", pattern)
    return regex.sub(lambda m: _go_expand(template, m), _want_str("regexReplaceAll", s))


# ---- dates ---------------------------------------------------------------------------------
def _date(layout: Any, when: Any) -> str:
    fmt = _want_str("date", layout)
    if isinstance(when, datetime):
        return format_time(when, fmt)
    if isinstance(when, int) and not isinstance(when, bool):
        return format_time(datetime.fromtimestamp(when, UTC), fmt)
    raise SprigError("date", f"expected a time or unix seconds, got {_type(when)}")


# ---- the registry --------------------------------------------------------------------------
class _Function:
    """A sprig function: checks the argument count the way Go's template engine does."""

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        self.name = name
        self._fn = fn
        self._signature = inspect.signature(fn)

    def __call__(self, *args: Any) -> Any:
        try:
            self._signature.bind(*args)
        except TypeError:
            raise SprigError(
                self.name, f"wrong number of arguments ({len(args)}) for {self._signature}"
            ) from None
        return self._fn(*args)

    def __repr__(self) -> str:
        return f"<sprig function {self.name}>"


def _s(fn: str, op: Callable[[str], Any]) -> Callable[[Any], Any]:
    """A one-string-argument function."""
    return lambda s: op(_want_str(fn, s))


def _s2(fn: str, op: Callable[[str, str], Any]) -> Callable[[Any, Any], Any]:
    """A two-string-argument function, arguments in sprig's order."""
    return lambda a, b: op(_want_str(fn, a), _want_str(fn, b))


def _minmax(pick: Callable[..., int]) -> Callable[..., int]:
    return lambda first, *rest: pick(to_int64(v) for v in (first, *rest))


_RAW: dict[str, Callable[..., Any]] = {
    # strings
    "upper": _s("upper", str.upper),
    "lower": _s("lower", str.lower),
    "title": _s("title", _title),
    "untitle": _s("untitle", _untitle),
    "trim": _s("trim", str.strip),
    "trimAll": _s2("trimAll", lambda cutset, s: s.strip(cutset)),
    "trimPrefix": _s2("trimPrefix", lambda prefix, s: s.removeprefix(prefix)),
    "trimSuffix": _s2("trimSuffix", lambda suffix, s: s.removesuffix(suffix)),
    "nospace": _s("nospace", lambda s: "".join(ch for ch in s if not ch.isspace())),
    "repeat": _repeat,
    "substr": _substr,
    "trunc": _trunc,
    "abbrev": _abbrev,
    "replace": lambda old, new, s: _want_str("replace", s).replace(
        _want_str("replace", old), _want_str("replace", new)
    ),
    "contains": _s2("contains", lambda sub, s: sub in s),
    "hasPrefix": _s2("hasPrefix", lambda prefix, s: s.startswith(prefix)),
    "hasSuffix": _s2("hasSuffix", lambda suffix, s: s.endswith(suffix)),
    "quote": _quote,
    "squote": _squote,
    "cat": _cat,
    "indent": _indent,
    "nindent": lambda spaces, s: "\n" + _indent(spaces, s),
    "split": _split,
    "splitList": lambda sep, s: _go_split("splitList", sep, s),
    "join": lambda sep, items: _want_str("join", sep).join(_strslice(items)),
    "toString": to_string,
    "toStrings": _strslice,
    # encoding
    "toJson": _to_json,
    "toPrettyJson": lambda value: _to_json(value, indent=True),
    "fromJson": _from_json,
    "b64enc": _s("b64enc", lambda s: base64.b64encode(s.encode()).decode()),
    "b64dec": _b64dec,
    "sha256sum": _s("sha256sum", lambda s: hashlib.sha256(s.encode()).hexdigest()),
    # defaults and flow
    "default": _default,
    "empty": empty,
    "coalesce": _coalesce,
    "ternary": _ternary,
    # lists and dicts
    "list": lambda *items: list(items),
    "dict": _dict,
    "get": _get,
    "hasKey": _has_key,
    "keys": _keys,
    "first": lambda items: _end("first", items, 0),
    "last": lambda items: _end("last", items, -1),
    "len": _len,
    # math (sprig's integer math is int64; floor/ceil/round are float64)
    "add": lambda *values: sum(to_int64(v) for v in values),
    "add1": lambda value: to_int64(value) + 1,
    "sub": lambda a, b: to_int64(a) - to_int64(b),
    "mul": lambda first, *rest: math.prod(to_int64(v) for v in (first, *rest)),
    "div": lambda a, b: _go_div("div", to_int64(a), to_int64(b))[0],
    "mod": lambda a, b: _go_div("mod", to_int64(a), to_int64(b))[1],
    "max": _minmax(max),
    "min": _minmax(min),
    "floor": lambda value: float(math.floor(to_float64(value))),
    "ceil": lambda value: float(math.ceil(to_float64(value))),
    "round": _round,
    "int": to_int64,
    "int64": to_int64,
    "float64": to_float64,
    "atoi": _atoi,
    # regular expressions (Go RE2 syntax; Python's re accepts the common subset)
    "regexMatch": _regex_match,
    "regexFind": _regex_find,
    "regexFindAll": _regex_find_all,
    "regexReplaceAll": _regex_replace_all,
    "regexReplaceAllLiteral": lambda pattern, s, repl: _compile(
        "regexReplaceAllLiteral", pattern
    ).sub(
        lambda _m: _want_str("regexReplaceAllLiteral", repl), _want_str("regexReplaceAllLiteral", s)
    ),
    # time and identity
    "now": lambda: datetime.now(UTC),
    "date": _date,
    "uuidv4": lambda: str(uuid.uuid4()),
}

FUNCTIONS: Mapping[str, Callable[..., Any]] = MappingProxyType(
    {name: _Function(name, fn) for name, fn in _RAW.items()}
)
"""Every supported sprig function by its template name."""

del _RAW

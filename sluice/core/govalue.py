"""Plain Python values seen the way Go prints, quotes, compares and JSON-encodes them.

Argo's template languages (sprig, govaluate, expr) are Go programs, so what a user sees when a
number lands in a string is Go's ``fmt`` output (``1e+06``, ``<nil>``, ``map[a:1]``), not
Python's. Sprig and both expression languages share these helpers so that the three agree.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def is_number(value: Any) -> bool:
    """True for ints and floats; False for bools, which Python counts as ints and Go does not."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def go_equal(a: Any, b: Any) -> bool:
    """Equality as Go's dynamic languages see it: numbers by value, no bool/number mixing."""
    if is_number(a) and is_number(b):
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(go_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(go_equal(a[k], b[k]) for k in a)
    if type(a) is not type(b) and not (isinstance(a, str) and isinstance(b, str)):
        return False
    return bool(a == b)


def go_float(value: float) -> str:
    """A float64 as ``fmt.Sprint`` writes it: shortest digits, exponent below 1e-4 or from 1e6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    assert isinstance(exponent, int)
    point = len(digits) + exponent  # digits before the decimal point
    exp10 = point - 1
    prefix = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return prefix + digits + "0" * (point - len(digits))
    return f"{prefix}{digits[:point]}.{digits[point:]}"


def go_str(value: Any) -> str:
    """``fmt.Sprintf("%v", value)`` for the values templates and expressions produce."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_str(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = sorted(value.items(), key=lambda kv: go_str(kv[0]))
        return "map[" + " ".join(f"{go_str(k)}:{go_str(v)}" for k, v in items) + "]"
    if isinstance(value, datetime):
        return format_time(value, "2006-01-02 15:04:05.999999999 -0700 MST")
    return str(value)


def go_quote(text: str) -> str:
    """``strconv.Quote``: double quotes, Go escapes, printable Unicode kept as is."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'  # nothing to escape: the common case, without the loop
    out = ['"']
    named = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    named["\v"] = "\\v"
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in named:
            out.append(named[ch])
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)  # Go writes 3.0 as 3
    if isinstance(value, Mapping):
        return {(k if isinstance(k, str) else go_str(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return format_time(value, "2006-01-02T15:04:05.999999999Z07:00")
    return value


def go_json(value: Any, *, indent: bool = False) -> str:
    """``json.Marshal`` (or ``MarshalIndent(v, "", "  ")``): sorted keys, HTML-safe escapes.

    Raises ``TypeError`` or ``ValueError`` for what Go cannot encode either (NaN, functions).
    """
    text = json.dumps(
        _jsonable(value),
        sort_keys=True,
        ensure_ascii=False,
        allow_nan=False,
        indent=2 if indent else None,
        separators=(",", ": ") if indent else (",", ":"),
    )
    # Go escapes these inside strings; they cannot occur outside one in JSON text.
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, esc)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


# ---- time layouts --------------------------------------------------------------------------
# Go formats times by example: the reference time Mon Jan 2 15:04:05 MST 2006 written the way
# the output should look. Each chunk below is one element of that reference time.
_CHUNKS = (
    "January", "Jan", "Monday", "Mon", "MST",
    "2006", "002", "01", "02", "03", "04", "05", "06", "15",
    "__2", "_2", "1", "2", "3", "4", "5", "PM", "pm",
    "-07:00:00", "-070000", "-07:00", "-0700", "-07",
    "Z07:00:00", "Z070000", "Z07:00", "Z0700", "Z07",
)  # fmt: skip


def _zone(dt: datetime, chunk: str) -> str:
    offset = dt.utcoffset() or timedelta(0)
    seconds = int(offset.total_seconds())
    if chunk.startswith("Z") and seconds == 0:
        return "Z"
    sign = "-" if seconds < 0 else "+"
    hh, rest = divmod(abs(seconds), 3600)
    mm, ss = divmod(rest, 60)
    body = chunk[1:]
    if body == "07":
        return f"{sign}{hh:02d}"
    if body == "0700":
        return f"{sign}{hh:02d}{mm:02d}"
    if body == "07:00":
        return f"{sign}{hh:02d}:{mm:02d}"
    if body == "070000":
        return f"{sign}{hh:02d}{mm:02d}{ss:02d}"
    return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}"


def _zone_name(dt: datetime) -> str:
    name = dt.tzname()
    offset = dt.utcoffset() or timedelta(0)
    if isinstance(dt.tzinfo, timezone) and offset and (name or "").startswith("UTC"):
        name = None  # a bare offset has no abbreviation; Go prints the offset instead
    return name or _zone(dt, "-0700")


def _element(dt: datetime, chunk: str) -> str:
    hour12 = dt.hour % 12 or 12
    simple = {
        "January": _MONTHS[dt.month - 1],
        "Jan": _MONTHS[dt.month - 1][:3],
        "Monday": _DAYS[dt.weekday()],
        "Mon": _DAYS[dt.weekday()][:3],
        "2006": f"{dt.year:04d}",
        "06": f"{dt.year % 100:02d}",
        "01": f"{dt.month:02d}",
        "1": str(dt.month),
        "02": f"{dt.day:02d}",
        "2": str(dt.day),
        "_2": f"{dt.day:>2d}",
        "002": f"{dt.timetuple().tm_yday:03d}",
        "__2": f"{dt.timetuple().tm_yday:>3d}",
        "15": f"{dt.hour:02d}",
        "03": f"{hour12:02d}",
        "3": str(hour12),
        "04": f"{dt.minute:02d}",
        "4": str(dt.minute),
        "05": f"{dt.second:02d}",
        "5": str(dt.second),
        "PM": "PM" if dt.hour >= 12 else "AM",
        "pm": "pm" if dt.hour >= 12 else "am",
    }
    if chunk in simple:
        return simple[chunk]
    if chunk == "MST":
        return _zone_name(dt)
    return _zone(dt, chunk)


def format_time(dt: datetime, layout: str) -> str:
    """``time.Time.Format``: render ``dt`` by a Go reference-time layout such as ``2006-01-02``.

    A naive ``dt`` is taken to be UTC.
    """
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    out: list[str] = []
    i = 0
    while i < len(layout):
        ch = layout[i]
        if ch in ".," and i + 1 < len(layout) and layout[i + 1] in "09":
            run = layout[i + 1]
            j = i + 1
            while j < len(layout) and layout[j] == run:
                j += 1
            if j == len(layout) or not layout[j].isdigit():
                digits = f"{dt.microsecond * 1000:09d}"[: j - i - 1]
                if run == "9":
                    digits = digits.rstrip("0")
                out.append(ch + digits if digits else "")
                i = j
                continue
        for chunk in _CHUNKS:
            if layout.startswith(chunk, i):
                out.append(_element(dt, chunk))
                i += len(chunk)
                break
        else:
            out.append(ch)
            i += 1
    return "".join(out)

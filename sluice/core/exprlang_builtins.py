"""The functions an Argo ``{{=expr}}`` tag may call by name, besides ``sprig.*`` and predicates.

Argo evaluates expression tags with expr-lang and adds ``asInt``, ``asFloat``, ``jsonpath`` and
``toJson`` to expr's own builtins; this module holds that set. Each function raises ``ValueError``
for arguments expr would reject; the evaluator in ``sluice.core.exprlang`` names the function in the
error it reports. Closure-taking builtins (``filter``, ``map``, ...) live with the evaluator.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from jsonpath_ng import Child, Fields, Index, JSONPath, Root, This
from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext import parse as parse_jsonpath

from sluice.core.govalue import go_json, go_str, is_number

__all__ = ["BUILTINS", "type_name"]


def type_name(value: Any) -> str:
    """The name expr's ``type()`` gives a value; also used in error messages."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "map"
    if callable(value):
        return "func"
    return type(value).__name__


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected string, got {type_name(value)}")
    return value


def _list(value: Any) -> list[Any] | tuple[Any, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected array, got {type_name(value)}")
    return value


def _map(value: Any) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected map, got {type_name(value)}")
    return value


def _num(value: Any) -> int | float:
    if not is_number(value):
        raise ValueError(f"expected number, got {type_name(value)}")
    return value


def as_int(value: Any) -> int:
    """``asInt``/``int``: numbers truncate, strings must hold a decimal integer."""
    if is_number(value):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"cannot convert {go_str(value)} to int")
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value):
        return int(value)
    raise ValueError(f"cannot convert {type_name(value)} {go_str(value)!r} to int")


def as_float(value: Any) -> float:
    """``asFloat``/``float``: numbers widen, strings are parsed as Go's ParseFloat would."""
    if is_number(value):
        return float(value)
    if isinstance(value, str) and value == value.strip() and "_" not in value:
        try:
            return float(value)
        except ValueError:
            pass
    raise ValueError(f"cannot convert {type_name(value)} {go_str(value)!r} to float")


def _len(value: Any) -> int:
    if isinstance(value, str | list | tuple | Mapping):
        return len(value)
    raise ValueError(f"invalid argument for len (type {type_name(value)})")


def _from_json(text: Any) -> Any:
    try:
        return json.loads(_str(text))
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc}") from exc


def _singular(path: JSONPath) -> bool:
    """Whether a JSONPath names at most one value (no wildcard, slice, filter or recursion)."""
    if isinstance(path, Root | This):
        return True
    if isinstance(path, Child):
        return _singular(path.left) and _singular(path.right)
    if isinstance(path, Fields):
        return len(path.fields) == 1 and path.fields[0] != "*"
    if isinstance(path, Index):
        return len(path.indices) == 1
    return False


def jsonpath(document: Any, path: Any) -> Any:
    """Argo's ``jsonpath(json, '$.a.b')``: the value a singular path names, else the matches.

    ``document`` is a JSON string (as parameters are) or an already decoded value.
    """
    data = _from_json(document) if isinstance(document, str) else document
    try:
        compiled = parse_jsonpath(_str(path))
    except JSONPathError as exc:
        raise ValueError(f"invalid JSONPath {path!r}: {exc}") from exc
    found = [match.value for match in compiled.find(data)]
    if not _singular(compiled):
        return found
    if not found:
        raise ValueError(f"JSONPath {path!r} matches nothing")
    return found[0]


def _trim(s: Any, chars: Any = None) -> str:
    return _str(s).strip() if chars is None else _str(s).strip(_str(chars))


def _split(s: Any, sep: Any, n: Any = -1) -> list[str]:
    text, separator, limit = _str(s), _str(sep), as_int(n)
    if limit == 0:
        return []
    parts = list(text) if separator == "" else text.split(separator)
    if 0 < limit < len(parts):
        parts = [*parts[: limit - 1], separator.join(parts[limit - 1 :])]
    return parts


def _join(items: Any, sep: Any = "") -> str:
    return _str(sep).join(_str(v) for v in _list(items))


def _end(items: Any, index: int) -> Any:
    seq = _list(items)
    return seq[index] if seq else None


def _extreme(pick: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    values = _list(args[0]) if len(args) == 1 and isinstance(args[0], list | tuple) else args
    if not values:
        raise ValueError("not enough arguments")
    return pick((_num(v) for v in values), key=float)


def _round_half_away(value: Any) -> int | float:
    x = _num(value)
    if isinstance(x, int):
        return x
    return float(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def _sort(items: Any, order: Any = "asc") -> list[Any]:
    seq = list(_list(items))
    if _str(order) not in ("asc", "desc"):
        raise ValueError(f"unknown order {order!r}, use 'asc' or 'desc'")
    kinds = {type_name(v) for v in seq}
    if not (kinds <= {"int", "float"} or kinds <= {"string"}):
        raise ValueError(f"cannot sort an array of {', '.join(sorted(kinds))}")
    return sorted(seq, reverse=order == "desc")


def _concat(*arrays: Any) -> list[Any]:
    return [v for a in arrays for v in _list(a)]


def _to_json(value: Any, *, indent: bool = False) -> str:
    try:
        return go_json(value, indent=indent)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cannot encode {type_name(value)} as JSON: {exc}") from exc


BUILTINS: Mapping[str, Callable[..., Any]] = MappingProxyType(
    {
        # Argo's additions
        "asInt": as_int,
        "asFloat": as_float,
        "jsonpath": jsonpath,
        "toJson": _to_json,
        # conversions
        "int": as_int,
        "float": as_float,
        "string": go_str,
        "type": type_name,
        "toJSON": lambda value: _to_json(value, indent=True),
        "fromJSON": _from_json,
        "fromJson": _from_json,
        "len": _len,
        # strings
        "lower": lambda s: _str(s).lower(),
        "upper": lambda s: _str(s).upper(),
        "trim": _trim,
        "trimPrefix": lambda s, prefix=" ": _str(s).removeprefix(_str(prefix)),
        "trimSuffix": lambda s, suffix=" ": _str(s).removesuffix(_str(suffix)),
        "split": _split,
        "join": _join,
        "replace": lambda s, old, new: _str(s).replace(_str(old), _str(new)),
        "repeat": lambda s, n: _str(s) * max(as_int(n), 0),
        "indexOf": lambda s, sub: _str(s).find(_str(sub)),
        "lastIndexOf": lambda s, sub: _str(s).rfind(_str(sub)),
        "hasPrefix": lambda s, prefix: _str(s).startswith(_str(prefix)),
        "hasSuffix": lambda s, suffix: _str(s).endswith(_str(suffix)),
        # numbers
        "abs": lambda x: abs(_num(x)),
        "max": lambda *args: _extreme(max, args),
        "min": lambda *args: _extreme(min, args),
        "ceil": lambda x: float(math.ceil(_num(x))),
        "floor": lambda x: float(math.floor(_num(x))),
        "round": _round_half_away,
        # arrays and maps
        "first": lambda items: _end(items, 0),
        "last": lambda items: _end(items, -1),
        "keys": lambda m: list(_map(m).keys()),
        "values": lambda m: list(_map(m).values()),
        "reverse": lambda items: list(reversed(_list(items))),
        "sort": _sort,
        "concat": _concat,
    }
)
"""Builtins callable by name in an expression; an env entry of the same name takes precedence."""

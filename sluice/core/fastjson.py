"""JSON in and out, fast: orjson where it gives the same result, the standard library otherwise.

Hot paths (every event a sensor takes is parsed, logged, recorded and marked) spend much of
their time in JSON, which orjson handles several times faster. Where the two would differ,
``json`` does the work, so results are the standard library's:

* orjson reads integers beyond 64 bits as floats, and refuses ``NaN`` and ``Infinity``: text
  with a run of 19 or more digits, or that orjson refuses, is read by ``json``;
* orjson refuses to write integers beyond 64 bits: such values are written by ``json``.

Output is compact (no spaces) UTF-8 with non-ASCII characters kept as they are, as Go's
``json.Marshal`` writes them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["dumps", "dumps_text", "loads"]

_OPTIONS = orjson.OPT_NON_STR_KEYS
_DIGITS = bytes(ord("0") if chr(i).isdigit() and i < 128 else ord(" ") for i in range(256))
_LONG_RUN = b"0" * 19  # 19 digits in a row may not fit in 64 bits


def loads(data: bytes) -> Any:
    """The value of the JSON ``data``; ``ValueError`` when it is not JSON."""
    if _LONG_RUN not in data.translate(_DIGITS):  # faster than a regular expression
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # json says why, or reads what orjson does not (NaN, UTF-16)
    return json.loads(data)


def dumps(value: Any, *, default: Callable[[Any], Any] | None = None) -> bytes:
    """``value`` as compact UTF-8 JSON; ``default`` turns what JSON cannot hold into what it can."""
    try:
        return orjson.dumps(value, default=default, option=_OPTIONS)
    except TypeError:  # a too-large integer, or what only json's default handling takes
        text = json.dumps(value, default=default, separators=(",", ":"), ensure_ascii=False)
        return text.encode()


def dumps_text(value: Any, *, default: Callable[[Any], Any] | None = None) -> str:
    """``dumps`` as text."""
    return dumps(value, default=default).decode()

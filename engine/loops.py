"""Loop expansion: ``withItems``, ``withParam`` and ``withSequence``, named as Argo names them."""

from __future__ import annotations

import json
from typing import Any

from engine.templating import to_text


class LoopError(ValueError):
    """A loop's items could not be computed."""


def item_label(item: Any) -> str:
    """The part of an expanded node's name that shows its item: ``0:hello`` or ``0:a:1,b:2``."""
    if isinstance(item, dict):
        return ",".join(f"{k}:{to_text(item[k])}" for k in sorted(item))
    return to_text(item)


def expanded_name(name: str, index: int, item: Any) -> str:
    return f"{name}({index}:{item_label(item)})"


def from_param(text: str) -> list[Any]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoopError(f"withParam value could not be parsed as a JSON list: {text}") from exc
    if not isinstance(items, list):
        raise LoopError(f"withParam value could not be parsed as a JSON list: {text}")
    return items


def _int(value: Any, field: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise LoopError(f"withSequence.{field} is not an integer: {value!r}") from exc


def _format(fmt: str, value: int) -> str:
    # Go's fmt verbs as Argo's examples use them: %d, %02d, %x, %s
    py = fmt.replace("%s", "%d").replace("%v", "%d")
    try:
        return py % value
    except (TypeError, ValueError) as exc:
        raise LoopError(f"withSequence.format '{fmt}' cannot format {value}") from exc


def from_sequence(count: Any, start: Any, end: Any, fmt: str | None) -> list[str]:
    if count not in (None, "") and end not in (None, ""):
        raise LoopError("withSequence: only one of count or end can be defined")
    first = _int(start, "start") if start not in (None, "") else 0
    if count not in (None, ""):
        n = _int(count, "count")
        numbers = list(range(first, first + n))
    elif end not in (None, ""):
        last = _int(end, "end")
        step = 1 if last >= first else -1
        numbers = list(range(first, last + step, step))
    else:
        raise LoopError("withSequence: either count or end must be defined")
    return [_format(fmt, n) if fmt else str(n) for n in numbers]

"""How Argo puts a received message's payload into event data, for every source that has one.

Argo's event data types hold the payload as ``[]byte`` (which Go marshals as base64 text) or,
with ``jsonBody``, as the JSON itself, which Go's encoder checks: text that is not JSON, or
that uses Python's ``NaN``/``Infinity`` extensions, cannot become such an event. ``metadata``
is added only when set (``omitempty``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["message_body", "with_metadata"]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")  # Go's decoder rejects NaN and Infinity


def message_body(payload: bytes | None, json_body: bool) -> Any:
    """Argo's ``body``: base64 text (None for no payload), or the JSON value with ``jsonBody``.

    Raises ``ValueError`` when ``jsonBody`` is set and the payload is not JSON.
    """
    if json_body:
        return json.loads(payload or b"", parse_constant=_no_constant)
    return None if payload is None else base64.b64encode(payload).decode("ascii")


def with_metadata(data: dict[str, Any], metadata: Mapping[str, str] | None) -> dict[str, Any]:
    """``data`` with the event's ``metadata`` added, as Go's ``omitempty`` writes it."""
    if metadata:
        data["metadata"] = dict(metadata)
    return data

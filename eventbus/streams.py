"""Stream settings from Argo's ``streamConfig``: maxMsgs, maxAge, maxBytes, replicas, duplicates.

Argo writes durations as Go does (``72h``, ``4h35m``, ``300s``) and sizes as numbers or
quantities (``1GB``, ``512Mi``); ``-1`` or ``0`` means unlimited for the limits. The defaults
are Argo's controller defaults, except one replica, which is what a single server can hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from nats.js import api

from eventbus.errors import BusError

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGTP]i?)?B?$", re.IGNORECASE)
_SIZE_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}


def parse_duration(value: str | int | float, field: str) -> float:
    """Seconds in a Go duration (``1h30m``) or a plain number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise BusError(f"streamConfig.{field}: {value!r} is not a duration like '72h' or '5m'")
    return total


def parse_size(value: str | int | float, field: str) -> int:
    """Bytes in ``1048576``, ``1MB`` (10^6) or ``1Mi`` (2^20); negative means unlimited."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    text = str(value).strip()
    if text.startswith("-") and text[1:].isdigit():
        return int(text)
    match = _SIZE.match(text)
    if not match:
        raise BusError(f"streamConfig.{field}: {value!r} is not a size like '1GB' or '512Mi'")
    unit = (match.group(2) or "").lower()
    base = 1024 if unit.endswith("i") else 1000
    return int(float(match.group(1)) * base ** _SIZE_POWERS[unit.rstrip("i")])


@dataclass(frozen=True)
class StreamSettings:
    """The limits of one namespace's stream; ``-1`` means unlimited."""

    max_msgs: int = 1_000_000
    max_age: float = 72 * 3600.0
    max_bytes: int = -1
    replicas: int = 1
    duplicates: float = 300.0

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> StreamSettings:
        """Settings from Argo's streamConfig keys; an unknown key is an error."""
        config = dict(config or {})
        known = {"maxMsgs", "maxAge", "maxBytes", "replicas", "duplicates"}
        unknown = sorted(set(config) - known)
        if unknown:
            raise BusError(
                f"streamConfig: unknown field {unknown[0]!r}; known: {', '.join(sorted(known))}"
            )
        defaults = cls()
        try:
            max_msgs = int(config.get("maxMsgs", defaults.max_msgs))
            replicas = int(config.get("replicas", defaults.replicas))
        except (TypeError, ValueError) as exc:
            raise BusError(f"streamConfig: maxMsgs and replicas must be integers: {exc}") from exc
        return cls(
            max_msgs=max_msgs if max_msgs > 0 else -1,
            max_age=parse_duration(config.get("maxAge", defaults.max_age), "maxAge"),
            max_bytes=max(parse_size(config.get("maxBytes", -1), "maxBytes"), -1) or -1,
            replicas=replicas,
            duplicates=parse_duration(config.get("duplicates", defaults.duplicates), "duplicates"),
        )

    def stream_config(self, name: str, subjects: list[str]) -> api.StreamConfig:
        """The JetStream config of a namespace's stream ``name`` with these limits."""
        return api.StreamConfig(
            name=name,
            subjects=subjects,
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            max_msgs=self.max_msgs,
            max_bytes=self.max_bytes,
            max_age=self.max_age,
            num_replicas=self.replicas,
            duplicate_window=self.duplicates,
        )

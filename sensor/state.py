"""A sensor's memory: the pending event of each dependency per trigger, and what already fired.

Argo keeps, per trigger, the latest event of each of its dependencies until the trigger's
condition holds ("latest wins"), then fires with them and forgets them. sluice keeps the same
in a JetStream key-value bucket per sensor, written before the event that changed it is acked,
so a restarted sensor neither forgets a pending event nor fires twice:

* ``pending.<trigger>.<dependency>``: the CloudEvent, with a hash of the dependency's spec. A
  changed Sensor keeps the pending events of the dependencies whose spec did not change.
* ``fired.<key>`` (a second bucket whose keys expire): the firings done, by idempotency key,
  and ``used.<trigger>.<dependency>.<event id>``: the events a firing of a waiting trigger (one
  with ``&&``) consumed. They are looked up only for a redelivered message; a first delivery
  cannot have fired anything.

``MemoryState`` keeps the same in memory, for ``sluice sensor test`` and unit tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from eventbus.base import Bus, KeyValue
from sluice.core import fastjson

__all__ = ["DependencyState", "KVState", "MemoryState", "bucket_name", "key_token"]

Event = Mapping[str, Any]
_PLAIN = re.compile(r"^[A-Za-z0-9_-]+$")
FIRED_TTL = 7 * 24 * 3600.0  # how long a firing is remembered against redelivery


def key_token(name: str) -> str:
    """``name`` as one key token: itself when plain, else ``=`` and its UTF-8 in hex."""
    return name if _PLAIN.match(name) else "=" + name.encode().hex()


def _name_of(token: str) -> str:
    return bytes.fromhex(token[1:]).decode() if token.startswith("=") else token


def bucket_name(namespace: str, sensor: str) -> str:
    """The sensor's bucket: ``sensor_<namespace>_<name>``, hashed when too long."""
    name = f"sensor_{namespace}_{sensor}".replace(".", "-")
    if len(name) > 64:
        name = name[:47] + "_" + hashlib.sha256(name.encode()).hexdigest()[:16]
    return name


class DependencyState(Protocol):
    """Pending events and firing records; one writer (the sensor's runner) at a time."""

    def pending(self, trigger: str) -> dict[str, Event]:
        """The pending event of each dependency of ``trigger`` (a copy)."""

    async def put(self, trigger: str, dependency: str, event: Event, spec_hash: str) -> None:
        """Make ``event`` the pending event of ``dependency`` for ``trigger``."""

    async def clear(self, trigger: str, dependencies: Iterable[str] | None = None) -> None:
        """Forget the pending events of ``trigger`` (of some dependencies only, if given)."""

    async def fired(self, key: str) -> dict[str, Any] | None:
        """The record of the firing with idempotency key ``key``, if it was done."""

    async def record_firing(
        self, key: str, trigger: str, used: Mapping[str, str], record: dict[str, Any]
    ) -> None:
        """Remember that ``key`` fired, consuming the events ``used`` (dependency -> event id)
        of ``trigger``."""

    async def used(self, trigger: str, dependency: str, event_id: str) -> bool:
        """Whether a firing of ``trigger`` already consumed ``event_id`` of ``dependency``."""


class MemoryState:
    """Dependency state in memory: for offline evaluation and tests."""

    def __init__(self) -> None:
        self._pending: dict[str, dict[str, Event]] = {}
        self._fired: dict[str, dict[str, Any]] = {}
        self._used: set[tuple[str, str, str]] = set()

    def pending(self, trigger: str) -> dict[str, Event]:
        return dict(self._pending.get(trigger, {}))

    async def put(self, trigger: str, dependency: str, event: Event, spec_hash: str) -> None:
        self._pending.setdefault(trigger, {})[dependency] = event

    async def clear(self, trigger: str, dependencies: Iterable[str] | None = None) -> None:
        if dependencies is None:
            self._pending.pop(trigger, None)
            return
        for dep in dependencies:
            self._pending.get(trigger, {}).pop(dep, None)

    async def fired(self, key: str) -> dict[str, Any] | None:
        return self._fired.get(key)

    async def record_firing(
        self, key: str, trigger: str, used: Mapping[str, str], record: dict[str, Any]
    ) -> None:
        self._fired[key] = record
        self._used.update((trigger, dep, event_id) for dep, event_id in used.items())

    async def used(self, trigger: str, dependency: str, event_id: str) -> bool:
        return (trigger, dependency, event_id) in self._used


class KVState(MemoryState):
    """Dependency state in the sensor's JetStream buckets, mirrored in memory for reads."""

    def __init__(self, store: KeyValue, marks: KeyValue) -> None:
        super().__init__()
        self.store = store
        self.marks = marks

    @classmethod
    async def open(
        cls,
        bus: Bus,
        namespace: str,
        sensor: str,
        spec_hashes: Mapping[tuple[str, str], str],
    ) -> KVState:
        """Load the pending events that still apply: of a (trigger, dependency) in
        ``spec_hashes`` with the same spec hash. The others are deleted."""
        bucket = bucket_name(namespace, sensor)
        state = cls(await bus.kv(bucket), await bus.kv(bucket + "_fired", ttl=FIRED_TTL))
        for key in await state.store.keys():
            parts = key.split(".")
            value = await state.store.get(key)
            if len(parts) == 3 and parts[0] == "pending" and value:
                trigger, dep = _name_of(parts[1]), _name_of(parts[2])
                stored = json.loads(value)
                if spec_hashes.get((trigger, dep)) == stored.get("spec"):
                    state._pending.setdefault(trigger, {})[dep] = stored["event"]
                    continue
            await state.store.delete(key)
        return state

    async def put(self, trigger: str, dependency: str, event: Event, spec_hash: str) -> None:
        value = fastjson.dumps({"spec": spec_hash, "event": event})
        await self.store.put(_pending_key(trigger, dependency), value)
        await super().put(trigger, dependency, event, spec_hash)

    async def clear(self, trigger: str, dependencies: Iterable[str] | None = None) -> None:
        deps = list(self._pending.get(trigger, {}) if dependencies is None else dependencies)
        await asyncio.gather(*(self.store.delete(_pending_key(trigger, d)) for d in deps))
        await super().clear(trigger, deps)

    async def fired(self, key: str) -> dict[str, Any] | None:
        value = await self.marks.get("fired." + key_token(key))
        return json.loads(value) if value else None

    async def record_firing(
        self, key: str, trigger: str, used: Mapping[str, str], record: dict[str, Any]
    ) -> None:
        mark = self.marks.put("fired." + key_token(key), fastjson.dumps(record))
        if not used:  # most firings: one write, without gather's task
            await mark
            return
        writes = [mark, *(self.marks.put(_used_key(trigger, d, i), b"1") for d, i in used.items())]
        await asyncio.gather(*writes)

    async def used(self, trigger: str, dependency: str, event_id: str) -> bool:
        return await self.marks.get(_used_key(trigger, dependency, event_id)) is not None


def _pending_key(trigger: str, dependency: str) -> str:
    return f"pending.{key_token(trigger)}.{key_token(dependency)}"


def _used_key(trigger: str, dependency: str, event_id: str) -> str:
    return f"used.{key_token(trigger)}.{key_token(dependency)}.{key_token(event_id)}"

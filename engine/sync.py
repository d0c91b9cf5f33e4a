"""Argo's ``synchronization``: mutexes and ConfigMap semaphores, held in memory.

A workflow or template names one or more locks; it runs only once it holds all of them. As in
Argo's sync manager, a request queues on every lock it names, ordered by priority (higher first),
then creation time, then arrival, and may take a lock only when it is at the front of that lock's
queue. Because that order is the same on every lock and all locks are taken in one step, two
requests for {A, B} and {B, A} cannot deadlock. The cost, which Argo documents too: a request at
the front that waits for one lock keeps later requests off its other locks.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

log = logging.getLogger(__name__)

# Argo's order in allSyncItems; the first lock that blocks names the wait message.
_FIELDS = ("semaphore", "mutex", "semaphores", "mutexes")


@dataclass(frozen=True)
class _Ref:
    key: str  # Argo's lock name: <ns>/Mutex/<name>, <ns>/ConfigMap/<cm>/<key>, <ns>/Database/<k>
    path: str  # where the lock is spelled in the spec, for error messages
    limit_ref: tuple[str, str, str] | None = None  # (namespace, configmap, key); None for a mutex


@dataclass(eq=False)
class _Waiter:
    holder: str
    keys: tuple[str, ...]
    order: tuple[int, float, int]
    future: asyncio.Future[Lease]
    on_wait: Callable[[str], None] | None
    message: str | None = None


@dataclass(eq=False)
class _Lock:
    ref: _Ref
    limit: int
    holders: dict[str, int] = field(default_factory=dict)  # holder -> times it holds the lock
    pending: list[_Waiter] = field(default_factory=list)  # sorted by _Waiter.order

    def front(self) -> _Waiter | None:
        """The first live waiter that does not already hold the lock."""
        return next(
            (w for w in self.pending if not w.future.done() and w.holder not in self.holders),
            None,
        )

    def message(self) -> str:
        free = max(self.limit - len(self.holders), 0)
        return f"Waiting for {self.ref.key} lock. Lock status: {free}/{self.limit}"


class Lease:
    """Locks granted to one holder; release once (further releases do nothing)."""

    def __init__(self, manager: SyncManager, holder: str, keys: tuple[str, ...]) -> None:
        self._manager = manager
        self.holder = holder
        self.keys = keys
        self.released = False

    def release(self) -> None:
        self._manager.release(self)

    async def __aenter__(self) -> Lease:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"Lease({self.holder!r}, {list(self.keys)}, released={self.released})"


class SyncManager:
    """Grants leases on mutexes and semaphores; ``semaphore_limit(ns, configmap, key)`` gives a
    semaphore's limit (a ``database`` semaphore is asked with an empty configmap name)."""

    def __init__(self, semaphore_limit: Callable[[str, str, str], int]) -> None:
        self._semaphore_limit = semaphore_limit
        self._locks: dict[str, _Lock] = {}
        self._waiters: list[_Waiter] = []  # sorted by order, like each lock's queue
        self._seq = itertools.count()

    async def acquire(
        self,
        holder: str,
        namespace: str,
        sync: dict[str, Any],
        *,
        priority: int = 0,
        created: float = 0.0,
        on_wait: Callable[[str], None] | None = None,
    ) -> Lease:
        """Wait until ``holder`` holds every lock in ``sync``, then return the lease.

        ``on_wait`` gets Argo's waiting message when the wait starts and whenever it changes.
        Raises ``ValueError`` for a bad spec or limit, before anything is queued.
        """
        if not isinstance(holder, str) or not holder:
            raise ValueError("holder: must be a non-empty string")
        refs = parse(sync, namespace)
        limits = {r.key: self._read_limit(r) for r in refs if r.limit_ref}
        for ref in refs:
            lock = self._locks.get(ref.key)
            if lock is None:
                self._locks[ref.key] = _Lock(ref, limits.get(ref.key, 1))
            elif ref.key in limits and lock.ref.limit_ref:
                lock.limit = limits[ref.key]
        keys = tuple(r.key for r in refs)
        order = (-priority, created, next(self._seq))
        waiter = _Waiter(holder, keys, order, asyncio.get_running_loop().create_future(), on_wait)
        bisect.insort(self._waiters, waiter, key=lambda w: w.order)
        for key in keys:
            bisect.insort(self._locks[key].pending, waiter, key=lambda w: w.order)
        self._dispatch()
        try:
            return await waiter.future
        except BaseException:
            if waiter.future.done() and not waiter.future.cancelled():
                self.release(waiter.future.result())  # granted, but the caller is gone
            else:
                self._forget(waiter)
                self._dispatch()
            raise

    def release(self, lease: Lease) -> None:
        if lease._manager is not self:
            raise ValueError(f"{lease!r} was granted by another SyncManager")
        if lease.released:
            return
        lease.released = True
        for key in lease.keys:
            lock = self._locks[key]
            lock.holders[lease.holder] -= 1
            if not lock.holders[lease.holder]:
                del lock.holders[lease.holder]
            self._drop_if_idle(lock)
        self._dispatch()

    def refresh(self) -> None:
        """Re-read every known semaphore's limit (say, after its ConfigMap changed)."""
        for lock in list(self._locks.values()):
            if lock.ref.limit_ref:
                lock.limit = self._read_limit(lock.ref)
        self._dispatch()

    def status(self) -> dict[str, Any]:
        """Holders and waiters per lock, shaped like Argo's ``SynchronizationStatus``."""
        mutex: dict[str, list[Any]] = {"holding": [], "waiting": []}
        semaphore: dict[str, list[Any]] = {"holding": [], "waiting": []}
        for key, lock in sorted(self._locks.items()):
            holding = list(lock.holders)
            waiting = list(
                dict.fromkeys(
                    w.holder
                    for w in lock.pending
                    if not w.future.done() and w.holder not in lock.holders
                )
            )
            if lock.ref.limit_ref:
                for section, names in (("holding", holding), ("waiting", waiting)):
                    if names:
                        semaphore[section].append({"semaphore": key, "holders": names})
            else:
                mutex["holding"] += [{"mutex": key, "holder": h} for h in holding]
                mutex["waiting"] += [{"mutex": key, "holder": h} for h in waiting]
        return {"mutex": mutex, "semaphore": semaphore}

    def _read_limit(self, ref: _Ref) -> int:
        assert ref.limit_ref is not None
        raw: object = self._semaphore_limit(*ref.limit_ref)
        if isinstance(raw, str) and raw.strip().removeprefix("-").isdecimal():
            raw = int(raw)  # ConfigMap data are strings
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError(f"{ref.path}: limit {raw!r} of {ref.key} is not an integer")
        if raw < 1:
            raise ValueError(f"{ref.path}: limit of {ref.key} must be at least 1, got {raw}")
        return raw

    def _dispatch(self) -> None:
        # One pass in queue order suffices: a grant only takes slots and only lets later
        # waiters reach the front, and those are visited afterwards.
        for waiter in list(self._waiters):
            if waiter.future.done():  # cancelled; its task cleans up later
                self._forget(waiter)
            elif self._blocker(waiter) is None:
                for key in waiter.keys:
                    holders = self._locks[key].holders
                    holders[waiter.holder] = holders.get(waiter.holder, 0) + 1
                self._forget(waiter)
                waiter.future.set_result(Lease(self, waiter.holder, waiter.keys))
        for waiter in list(self._waiters):  # messages after all grants, so counts are final
            blocker = self._blocker(waiter)
            if blocker is not None and blocker.message() != waiter.message:
                waiter.message = blocker.message()
                if waiter.on_wait is not None:
                    try:
                        waiter.on_wait(waiter.message)
                    except Exception:
                        log.exception("on_wait callback of %s failed", waiter.holder)

    def _blocker(self, waiter: _Waiter) -> _Lock | None:
        for key in waiter.keys:
            lock = self._locks[key]
            if waiter.holder in lock.holders:
                continue  # re-entrant: the holder already has it
            if len(lock.holders) >= lock.limit or lock.front() is not waiter:
                return lock
        return None

    def _forget(self, waiter: _Waiter) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)
        for key in waiter.keys:
            lock = self._locks.get(key)
            if lock is not None and waiter in lock.pending:
                lock.pending.remove(waiter)
                self._drop_if_idle(lock)

    def _drop_if_idle(self, lock: _Lock) -> None:
        if not lock.holders and not lock.pending:
            del self._locks[lock.ref.key]


def parse(sync: object, namespace: str) -> list[_Ref]:
    """The locks a ``synchronization`` mapping names, in Argo's order; ``ValueError`` if bad."""
    if not isinstance(sync, Mapping):
        raise ValueError(f"synchronization: must be a mapping, got {type(sync).__name__}")
    for name in sync:
        if name not in _FIELDS:
            raise ValueError(f"synchronization.{name}: unknown field; expected one of {_FIELDS}")
    refs: list[_Ref] = []
    for name in _FIELDS:
        value = sync.get(name)
        if value is None:
            continue
        path = f"synchronization.{name}"
        if name.endswith("es"):
            if not isinstance(value, list):
                raise ValueError(f"{path}: must be a list")
            items = [(f"{path}[{i}]", item) for i, item in enumerate(value)]
        else:
            items = [(path, value)]
        parse_one = _mutex if name.startswith("mutex") else _semaphore
        for item_path, item in items:
            ref = parse_one(item_path, item, namespace)
            if any(r.key == ref.key for r in refs):
                raise ValueError(f"{item_path}: duplicate lock {ref.key}")
            refs.append(ref)
    if not refs:
        raise ValueError(f"synchronization: needs at least one of {', '.join(_FIELDS)}")
    return refs


def _mutex(path: str, spec: object, namespace: str) -> _Ref:
    spec = _mapping(path, spec, {"name", "namespace", "database"})
    name = _text(f"{path}.name", spec.get("name"))
    ns = _text(f"{path}.namespace", spec.get("namespace") or namespace)
    database = spec.get("database", False)
    if not isinstance(database, bool):
        raise ValueError(f"{path}.database: must be a boolean")
    return _Ref(f"{ns}/{'Database' if database else 'Mutex'}/{name}", path)


def _semaphore(path: str, spec: object, namespace: str) -> _Ref:
    spec = _mapping(path, spec, {"configMapKeyRef", "database", "namespace"})
    ns = _text(f"{path}.namespace", spec.get("namespace") or namespace)
    if ("configMapKeyRef" in spec) == ("database" in spec):
        raise ValueError(f"{path}: needs exactly one of configMapKeyRef or database")
    if "database" in spec:  # Argo keeps these in a table; here they are local like the rest
        db = _mapping(f"{path}.database", spec["database"], {"key"})
        key = _text(f"{path}.database.key", db.get("key"))
        return _Ref(f"{ns}/Database/{key}", path, (ns, "", key))
    ref = _mapping(f"{path}.configMapKeyRef", spec["configMapKeyRef"], {"name", "key", "optional"})
    cm = _text(f"{path}.configMapKeyRef.name", ref.get("name"))
    key = _text(f"{path}.configMapKeyRef.key", ref.get("key"))
    return _Ref(f"{ns}/ConfigMap/{cm}/{key}", f"{path}.configMapKeyRef", (ns, cm, key))


def _mapping(path: str, value: object, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{path}: must be a mapping")
    for name in value:
        if name not in allowed:
            raise ValueError(f"{path}.{name}: unknown field; expected one of {sorted(allowed)}")
    return value


def _text(path: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{path}: required, a non-empty string")
    if "/" in value:
        raise ValueError(f"{path}: must not contain '/', got {value!r}")
    return value

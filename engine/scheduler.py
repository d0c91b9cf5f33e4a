"""Which ready pods start now: the one place that applies every concurrency and resource limit.

The operator awaits ``admit`` (or enters ``hold``) before it starts a pod and ``release``s the
slot when the pod ends. All limits hold at once:

- ``parallelism``: pods running at once across all workflows. Argo's controller
  ``parallelism`` counts running *workflows*; sluice runs pods on one machine, where pods are
  what compete for it, so here it counts *pods*. ``namespace_parallelism`` likewise counts the
  pods running in one namespace. ``set_workflow_parallelism`` is ``spec.parallelism``.
  ``None`` or 0 means no limit, as in Argo's config.
- CPU and memory requests against the executor's capacity (the machine's, unless given). A pod
  that asks for more than the whole capacity can never start: ``admit`` raises
  ``Unschedulable`` at once.
- ``rate_limit``: Argo's ``resourceRateLimit`` (``limit`` pods per second, ``burst``), a token
  bucket on the injected clock.

Order: highest priority first. Among equal priority, the workflow with the fewest running pods
goes first, then the one served longest ago (a workflow never served before any served one),
then by (workflow created, arrival). The middle key is what makes workflows take turns when few
slots free up at a time and every workflow has zero running pods, so a huge fan-out never
starves a small workflow submitted after it. Within a workflow, pods start in arrival order. The
pod chosen next reserves CPU and memory: while it does not fit, nothing overtakes it (no
backfill), so a big pod is never starved by a stream of small ones. A pod held back by its own
workflow's or namespace's limit is skipped, since only its own pods ending can unblock it.

Each workflow has its own heap of waiting pods; the workflows with waiting pods sit in one heap
keyed as above (entries are versioned and dropped lazily when stale). A decision costs
O(log n) amortized; ``release`` grants exactly the pods that can now start. Use it from the
event loop's thread only.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

from sluice.core.clock import Clock, SystemClock

log = logging.getLogger(__name__)


class Unschedulable(Exception):
    """The pod can never start here: it requests more than the executor's whole capacity."""


@dataclass(frozen=True)
class PodRequest:
    workflow_uid: str
    namespace: str
    priority: int = 0  # the workflow's spec.priority; higher starts first
    created: float = 0.0  # the workflow's creation time; FIFO within a priority
    cpu_millis: int = 0  # resources.requests.cpu, see parse_cpu
    memory_bytes: int = 0  # resources.requests.memory, see parse_memory


class Slot:
    """A started pod's share of the capacity; hand it back with ``Scheduler.release``."""

    __slots__ = ("released", "request")

    def __init__(self, request: PodRequest) -> None:
        self.request = request
        self.released = False


class _Waiter:
    __slots__ = ("future", "gone", "request", "seq")

    def __init__(self, request: PodRequest, seq: int, future: asyncio.Future[Slot]) -> None:
        self.request = request
        self.seq = seq
        self.future = future
        self.gone = False  # granted, or cancelled while waiting


class _Flow:
    """One workflow: its waiting pods (a heap), its running count and its limit."""

    __slots__ = ("forgotten", "last_grant", "limit", "queue", "running", "version", "waiting")

    def __init__(self) -> None:
        self.queue: list[tuple[int, float, int, _Waiter]] = []
        self.waiting = 0
        self.running = 0
        self.limit = 0
        self.last_grant = 0  # tick of the last pod started; 0 = never (goes before the served)
        self.version = 0
        self.forgotten = False

    def head(self) -> _Waiter | None:
        queue = self.queue
        while queue and queue[0][3].gone:
            heapq.heappop(queue)
        return queue[0][3] if queue else None

    @property
    def idle(self) -> bool:
        return not self.waiting and not self.running


class Scheduler:
    """Decides which waiting pods start now (see the module docstring for the rules)."""

    def __init__(
        self,
        *,
        parallelism: int | None = None,
        namespace_parallelism: int | None = None,
        cpu_millis: int | None = None,
        memory_bytes: int | None = None,
        rate_limit: tuple[float, int] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._parallelism = _limit("parallelism", parallelism)
        self._ns_limit = _limit("namespace_parallelism", namespace_parallelism)
        self._cpu = machine_cpu_millis() if cpu_millis is None else cpu_millis
        self._mem = machine_memory_bytes() if memory_bytes is None else memory_bytes
        if self._cpu <= 0 or self._mem <= 0:
            raise ValueError("cpu_millis and memory_bytes must be positive")
        clock = clock or SystemClock()
        self._bucket = _TokenBucket(*rate_limit, clock) if rate_limit else None
        self._clock = clock
        self._flows: dict[str, _Flow] = {}
        self._ready: list[tuple[tuple[int, int, int, float, int], int, _Flow]] = []
        self._parked: dict[str, dict[int, _Flow]] = {}  # namespace → flows held by its limit
        self._ns_running: dict[str, int] = {}
        self._running = 0
        self._waiting = 0
        self._cpu_used = 0
        self._mem_used = 0
        self._seq = itertools.count()
        self._ticks = itertools.count(1)
        self._timer: asyncio.Task[None] | None = None

    # ---- the API -----------------------------------------------------------------------------
    def set_workflow_parallelism(self, workflow_uid: str, limit: int | None) -> None:
        flow = self._flow(workflow_uid)
        flow.limit = _limit("spec.parallelism", limit)
        self._requeue(flow)
        self._dispatch()

    async def admit(self, req: PodRequest) -> Slot:
        """Wait until the pod may start; the caller must ``release`` the slot it gets."""
        self._check_fits(req)
        flow = self._flow(req.workflow_uid)
        waiter = _Waiter(req, next(self._seq), asyncio.get_running_loop().create_future())
        heapq.heappush(flow.queue, (-req.priority, req.created, waiter.seq, waiter))
        flow.waiting += 1
        self._waiting += 1
        if flow.head() is waiter:
            self._requeue(flow)
        self._dispatch()
        try:
            return await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                self.release(waiter.future.result())  # granted as we were being cancelled
            else:
                self._withdraw(waiter, flow)
                self._dispatch()  # a pod that held capacity in reserve may let others go
            raise

    @contextlib.asynccontextmanager
    async def hold(self, req: PodRequest) -> AsyncIterator[Slot]:
        """``admit`` on entry, ``release`` on exit, however the block ends."""
        slot = await self.admit(req)
        try:
            yield slot
        finally:
            self.release(slot)

    def release(self, slot: Slot) -> None:
        """The pod ended; start whatever can start now. Releasing twice is harmless."""
        if slot.released:
            return
        slot.released = True
        req = slot.request
        self._running -= 1
        self._cpu_used -= req.cpu_millis
        self._mem_used -= req.memory_bytes
        left = self._ns_running[req.namespace] - 1
        if left:
            self._ns_running[req.namespace] = left
        else:
            del self._ns_running[req.namespace]
        if not self._ns_limit or left < self._ns_limit:
            for flow in self._parked.pop(req.namespace, {}).values():
                self._requeue(flow)
        own = self._flows.get(req.workflow_uid)
        if own is not None:
            own.running -= 1
            self._requeue(own)
            self._drop_if_done(req.workflow_uid, own)
        self._dispatch()

    def forget(self, workflow_uid: str) -> None:
        """The workflow ended: drop its bookkeeping (at once, or when its last pod is released)."""
        flow = self._flows.get(workflow_uid)
        if flow is not None:
            flow.forgotten = True
            self._drop_if_done(workflow_uid, flow)

    def stats(self) -> dict[str, Any]:
        return {
            "running": self._running,
            "waiting": self._waiting,
            "parallelism": self._parallelism or None,
            "namespace_parallelism": self._ns_limit or None,
            "cpu_millis": {"used": self._cpu_used, "capacity": self._cpu},
            "memory_bytes": {"used": self._mem_used, "capacity": self._mem},
            "rate_limit_tokens": self._bucket.available() if self._bucket else None,
            "namespaces": dict(self._ns_running),
            "workflows": {
                uid: {"running": f.running, "waiting": f.waiting, "parallelism": f.limit or None}
                for uid, f in self._flows.items()
            },
        }

    # ---- bookkeeping -------------------------------------------------------------------------
    def _check_fits(self, req: PodRequest) -> None:
        if req.cpu_millis < 0 or req.memory_bytes < 0:
            raise ValueError("resource requests cannot be negative")
        if req.cpu_millis > self._cpu:
            raise Unschedulable(
                f"pod requests cpu {req.cpu_millis}m, more than the executor's capacity"
                f" {self._cpu}m"
            )
        if req.memory_bytes > self._mem:
            raise Unschedulable(
                f"pod requests memory {format_memory(req.memory_bytes)}, more than the"
                f" executor's capacity {format_memory(self._mem)}"
            )

    def _flow(self, uid: str) -> _Flow:
        flow = self._flows.get(uid)
        if flow is None:
            flow = self._flows[uid] = _Flow()
        return flow

    def _drop_if_done(self, uid: str, flow: _Flow) -> None:
        if flow.forgotten and flow.idle and self._flows.get(uid) is flow:
            del self._flows[uid]

    def _requeue(self, flow: _Flow) -> None:
        """(Re)enter the flow in the ready heap under its current key; older entries go stale."""
        head = flow.head()
        if head is None:
            return
        flow.version += 1
        req = head.request
        key = (-req.priority, flow.running, flow.last_grant, req.created, head.seq)
        heapq.heappush(self._ready, (key, flow.version, flow))
        if len(self._ready) > 256 + 4 * len(self._flows):  # too many stale entries: compact
            self._ready = [e for e in self._ready if e[1] == e[2].version and e[2].waiting]
            heapq.heapify(self._ready)

    def _withdraw(self, waiter: _Waiter, flow: _Flow) -> None:
        if waiter.gone:
            return
        waiter.gone = True
        flow.waiting -= 1
        self._waiting -= 1
        self._requeue(flow)  # the head may have changed
        self._drop_if_done(waiter.request.workflow_uid, flow)
        if not self._waiting and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _next_flow(self) -> _Flow | None:
        """The flow whose head pod goes next, skipping flows held by their own limits."""
        ready = self._ready
        while ready:
            _, version, flow = ready[0]
            if version != flow.version or not flow.waiting:
                heapq.heappop(ready)
                continue
            if flow.limit and flow.running >= flow.limit:
                heapq.heappop(ready)  # requeued when one of its pods is released
                continue
            head = flow.head()
            assert head is not None
            ns = head.request.namespace
            if self._ns_limit and self._ns_running.get(ns, 0) >= self._ns_limit:
                heapq.heappop(ready)
                self._parked.setdefault(ns, {})[id(flow)] = flow  # requeued on a release in ns
                continue
            return flow
        return None

    def _dispatch(self) -> None:
        """Start waiting pods, best first, until a limit stops the best one."""
        while self._waiting and not (self._parallelism and self._running >= self._parallelism):
            flow = self._next_flow()
            if flow is None:
                return
            waiter = flow.head()
            assert waiter is not None
            if waiter.future.done():  # cancelled; its admit has not cleaned up yet
                self._withdraw(waiter, flow)
                continue
            req = waiter.request
            if (
                self._cpu_used + req.cpu_millis > self._cpu
                or self._mem_used + req.memory_bytes > self._mem
            ):
                return  # it keeps its place; a release will try again
            if self._bucket is not None:
                delay = self._bucket.take()
                if delay > 0:
                    self._wake_after(delay)
                    return
            waiter.gone = True
            flow.waiting -= 1
            flow.running += 1
            flow.last_grant = next(self._ticks)
            self._waiting -= 1
            self._running += 1
            self._cpu_used += req.cpu_millis
            self._mem_used += req.memory_bytes
            self._ns_running[req.namespace] = self._ns_running.get(req.namespace, 0) + 1
            waiter.future.set_result(Slot(req))
            self._requeue(flow)

    def _wake_after(self, delay: float) -> None:
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(
                self._wake(delay), name="scheduler-rate-limit"
            )

    async def _wake(self, delay: float) -> None:
        await self._clock.sleep(delay)
        self._timer = None
        try:
            self._dispatch()
        except Exception:  # pragma: no cover - a bug here must not pass silently
            log.exception("scheduler: dispatch after the rate-limit wait failed")


class _TokenBucket:
    """``limit`` tokens a second up to ``burst``, full at the start (Go's rate.Limiter)."""

    def __init__(self, limit: float, burst: int, clock: Clock) -> None:
        if limit <= 0 or burst < 1:
            raise ValueError(f"rate_limit needs limit > 0 and burst >= 1, got ({limit}, {burst})")
        self.limit = float(limit)
        self.burst = burst
        self.clock = clock
        self.tokens = float(burst)
        self.last = clock.now()

    def available(self) -> float:
        now = self.clock.now()
        elapsed = (now - self.last).total_seconds()
        if elapsed > 0:
            self.tokens = min(float(self.burst), self.tokens + elapsed * self.limit)
            self.last = now
        return self.tokens

    def take(self) -> float:
        """Take a token and return 0, or return the seconds until one is there."""
        tokens = self.available()
        if tokens >= 1 - 1e-9:
            self.tokens = max(0.0, tokens - 1)
            return 0.0
        return (1 - tokens) / self.limit


def _limit(what: str, value: int | None) -> int:
    if value is None:
        return 0
    if value < 0:
        raise ValueError(f"{what} cannot be negative, got {value}")
    return int(value)


# ---- resource quantities -------------------------------------------------------------------------
_QUANTITY = re.compile(
    r"([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?"
)
_DECIMAL_EXPONENTS = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_SUFFIXES = {s: Decimal(10) ** e for s, e in _DECIMAL_EXPONENTS.items()} | {
    s: Decimal(2) ** (10 * i) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"), 1)
}


def _quantity(value: str | int | float, what: str) -> Decimal:
    """A Kubernetes quantity (``500m``, ``2``, ``1.5``, ``64Mi``, ``1G``, ``1e3``)."""
    problem = f"invalid {what} quantity {value!r}"
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{problem}: expected a string or a number")
    if isinstance(value, str):
        match = _QUANTITY.fullmatch(value.strip())
        if match is None:
            raise ValueError(f"{problem}: expected a number with an optional suffix (m, Mi, G...)")
        number, exponent, suffix = match.groups()
        quantity = Decimal(number)
        if exponent:
            quantity = quantity.scaleb(int(exponent[1:]))
        elif suffix:
            quantity *= _SUFFIXES[suffix]
    else:
        try:
            quantity = Decimal(str(value))
        except InvalidOperation as exc:  # pragma: no cover - str() of a number always parses
            raise ValueError(problem) from exc
    if not quantity.is_finite():
        raise ValueError(f"{problem}: not a finite number")
    if quantity < 0:
        raise ValueError(f"{problem}: cannot be negative")
    return quantity


def parse_cpu(value: str | int | float) -> int:
    """CPU in millicores, rounded up as Kubernetes does: ``"500m"`` → 500, ``"2"`` → 2000."""
    return int((_quantity(value, "cpu") * 1000).to_integral_value(ROUND_CEILING))


def parse_memory(value: str | int) -> int:
    """Memory in bytes, rounded up: ``"64Mi"`` → 67108864, ``"1G"`` → 10**9."""
    return int(_quantity(value, "memory").to_integral_value(ROUND_CEILING))


def format_memory(n: int) -> str:
    """Bytes for people: ``64Mi``, ``7.6Gi``, ``512``."""
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = int(_SUFFIXES[suffix])
        if n >= unit:
            return f"{n // unit}{suffix}" if n % unit == 0 else f"{n / unit:.1f}{suffix}"
    return str(n)


def machine_cpu_millis() -> int:
    return (os.cpu_count() or 1) * 1000


def machine_memory_bytes() -> int:
    """The machine's memory: /proc/meminfo's MemTotal, else sysconf."""
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - no way to tell: no limit
        return 1 << 62

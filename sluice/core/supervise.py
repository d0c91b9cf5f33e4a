"""Supervised, named tasks: how sluice runs anything that must keep running.

Event sources now, and sensors later, run a handful of long-lived *services*: a webhook
server, a calendar timer, a bus consumer. Left as bare tasks, a service that crashes dies
silently, one that fails in a loop burns the CPU, and shutdown hangs on whichever ignores it.
A :class:`Supervisor` runs each service as a named task and, as kopf and Argo Events do:

* restarts a service that failed, or ended by itself, after an exponential backoff
  (``initial``, times ``factor``, up to ``cap``) that starts over once the service has run
  ``healthy_after`` seconds; a ``TemporaryError`` brings its own delay;
* never restarts a service that raised ``PermanentError`` or ``SpecError``: retrying cannot fix
  it, so it is marked failed with the message, for ``sluice get eventsources`` to show;
* logs every failure and restart with the service's name, isolates services from each other,
  and never swallows ``CancelledError``;
* stops in stages: set the ``stopping`` flag services watch, give them ``grace`` seconds to
  return, cancel the leftovers, and log their names.

Backoff waits go through the injectable ``Clock``, so tests run them without sleeping. The
grace period bounds real time, so it is the event loop's own timeout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sluice.core.clock import Clock, SystemClock
from sluice.core.errors import PermanentError, SluiceError, SpecError, TemporaryError

log = logging.getLogger(__name__)

Service = Callable[[], Awaitable[None]]
"""A fresh attempt of a service: an awaitable that runs until it fails or is cancelled."""


class ServiceState(StrEnum):
    STARTING = "starting"  # attempt begun, not yet ready
    RUNNING = "running"
    BACKOFF = "backoff"  # failed; waiting to restart
    FAILED = "failed"  # failed for good: not restarted
    STOPPED = "stopped"


@dataclass
class ServiceStatus:
    """What ``sluice get`` shows of one service."""

    name: str
    state: ServiceState = ServiceState.STARTING
    restarts: int = 0
    last_error: str | None = None
    since: datetime | None = None  # when it entered ``state``

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state.value,
            "restarts": self.restarts,
            "lastError": self.last_error,
            "since": self.since.isoformat() if self.since else None,
        }


@dataclass(frozen=True)
class RestartPolicy:
    """Exponential restart backoff, reset by a healthy run."""

    initial: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    healthy_after: float = 60.0  # a run at least this long resets the delay to ``initial``

    def next_delay(self, previous: float | None, ran: float) -> float:
        if previous is None or ran >= self.healthy_after:
            return min(self.initial, self.cap)
        return min(previous * self.factor, self.cap)


@dataclass
class _Entry:
    service: Service
    status: ServiceStatus
    wait_ready: bool
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


def describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _traceback_of(error: Exception) -> Exception | None:
    """Only an unexpected error is worth a traceback; sluice's own say what went wrong."""
    return None if isinstance(error, SluiceError) or error.__traceback__ is None else error


class Supervisor:
    """Runs named services, restarts failed ones, and stops them all in stages."""

    def __init__(
        self,
        name: str,
        *,
        clock: Clock | None = None,
        policy: RestartPolicy | None = None,
        grace: float = 10.0,
    ) -> None:
        self.name = name
        self.clock: Clock = clock or SystemClock()
        self.policy = policy or RestartPolicy()
        self.grace = grace
        self.stopping = asyncio.Event()  # services watch it to return on their own
        self._entries: dict[str, _Entry] = {}

    def add(self, name: str, service: Service, *, wait_ready: bool = False) -> ServiceStatus:
        """Start ``service`` as the task ``name``.

        With ``wait_ready`` each attempt is ``starting`` until the service calls
        :meth:`ready` (a server once it listens); otherwise it is ``running`` at once.
        """
        if self.stopping.is_set():
            raise RuntimeError(f"{self.name} is stopping; cannot add {name}")
        if name in self._entries:
            raise ValueError(f"{self.name} already runs a service named {name}")
        entry = _Entry(service, ServiceStatus(name, since=self.clock.now()), wait_ready)
        self._entries[name] = entry
        entry.task = asyncio.create_task(self._run(entry), name=name)
        entry.task.add_done_callback(self._reap)
        return entry.status

    def ready(self, name: str) -> None:
        """Called by a ``wait_ready`` service once it serves."""
        entry = self._entries[name]
        if entry.status.state is ServiceState.STARTING:
            self._set(entry, ServiceState.RUNNING)

    async def settled(self, names: Iterable[str] | None = None) -> None:
        """Wait until each service's first attempt is ready, or has failed."""
        entries = [self._entries[n] for n in names] if names is not None else self._entries.values()
        await asyncio.gather(*(entry.settled.wait() for entry in entries))

    def status(self) -> dict[str, ServiceStatus]:
        return {name: entry.status for name, entry in self._entries.items()}

    async def stop(self, grace: float | None = None) -> list[str]:
        """Flag → ``grace`` seconds → cancel the rest; returns the names that were cancelled."""
        grace = self.grace if grace is None else grace
        self.stopping.set()
        tasks = {e.task: n for n, e in self._entries.items() if e.task and not e.task.done()}
        if not tasks:
            return []
        _, pending = await asyncio.wait(tasks, timeout=grace)
        left = sorted(tasks[task] for task in pending)
        if left:
            log.warning(
                "%s: %s did not stop within %gs; cancelling", self.name, ", ".join(left), grace
            )
            for task in pending:
                task.cancel()
            _, stuck = await asyncio.wait(pending, timeout=grace)
            if stuck:
                names = ", ".join(sorted(tasks[task] for task in stuck))
                log.error("%s: %s ignored cancellation; abandoned", self.name, names)
        return left

    async def _run(self, entry: _Entry) -> None:
        status, delay = entry.status, None
        try:
            while not self.stopping.is_set():
                first = ServiceState.STARTING if entry.wait_ready else ServiceState.RUNNING
                self._set(entry, first)
                started = self.clock.now()
                try:
                    await entry.service()
                except (PermanentError, SpecError) as exc:
                    status.last_error = describe(exc)
                    self._set(entry, ServiceState.FAILED)
                    log.error("%s failed and will not be restarted: %s", status.name, exc)
                    return
                except Exception as exc:
                    error: Exception = exc
                else:
                    error = RuntimeError("ended by itself")
                if self.stopping.is_set():
                    break
                ran = (self.clock.now() - started).total_seconds()
                delay = self.policy.next_delay(delay, ran)
                wait = error.delay if isinstance(error, TemporaryError) else delay
                status.last_error = describe(error)
                self._set(entry, ServiceState.BACKOFF)
                log.error(
                    "%s failed: %s; restart %d in %.2fs",
                    status.name,
                    status.last_error,
                    status.restarts + 1,
                    wait,
                    exc_info=_traceback_of(error),
                )
                if await until(self.stopping, self.clock.sleep(wait)):
                    break
                status.restarts += 1
        finally:
            if status.state is not ServiceState.FAILED:
                self._set(entry, ServiceState.STOPPED)

    def _set(self, entry: _Entry, state: ServiceState) -> None:
        entry.status.state = state
        entry.status.since = self.clock.now()
        if state is not ServiceState.STARTING:  # ready, failed or stopped: ``settled()`` ends
            entry.settled.set()

    def _reap(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "%s: supervision of %s crashed",
                self.name,
                task.get_name(),
                exc_info=task.exception(),
            )


async def until(event: asyncio.Event, awaitable: Awaitable[Any]) -> bool:
    """Await ``awaitable`` unless ``event`` is set first; True if it was (the rest is cancelled).

    Lets a backoff sleep or a source's ``wait()`` end as soon as a stop is asked for.
    """
    work = asyncio.ensure_future(awaitable)
    flag = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({work, flag}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (work, flag):
            task.cancel()
        await asyncio.wait({work, flag})
    if event.is_set():
        if not work.cancelled():
            work.exception()  # retrieved: a failure during a stop is not news
        return True
    work.result()
    return False


async def watch_tasks(tasks: Iterable[asyncio.Task[Any]], stopped: asyncio.Event) -> None:
    """Return once ``stopped`` is set; raise as soon as one of ``tasks`` ended before that.

    A source's timers and watches run until it is stopped, so one that ends on its own means
    the source stopped working: its error is raised as it is (so ``PermanentError`` keeps its
    meaning), an end without error as ``RuntimeError`` naming the task.
    """
    flag = asyncio.ensure_future(stopped.wait())
    try:
        done, _ = await asyncio.wait({*tasks, flag}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        flag.cancel()
        await asyncio.wait({flag})
    if stopped.is_set():
        return
    ended = next(task for task in done if task is not flag)
    if ended.cancelled():
        raise RuntimeError(f"{ended.get_name()} was cancelled")
    exc = ended.exception()
    if exc is not None:
        raise exc
    raise RuntimeError(f"{ended.get_name()} ended by itself")


__all__ = [
    "RestartPolicy",
    "Service",
    "ServiceState",
    "ServiceStatus",
    "Supervisor",
    "describe",
    "until",
    "watch_tasks",
]

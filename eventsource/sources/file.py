"""The ``file`` event source: changes to files in a local directory become events.

Argo Events watches ``watchPathConfig.directory`` (not recursively) with fsnotify, or with a
100ms poller when ``polling: true``, and dispatches each change to a direct child whose name
equals ``path`` or matches ``pathRegexp`` (searched, not anchored, as Go's ``MatchString``)
when the change's op is the event's ``eventType``. The data is Argo's ``fsevent.Event``:
``{"name": "<directory>/<file>", "op": <bitmask>, "metadata": {...} | null}``; ``op`` is a
number because Argo's ``Op`` is a ``uint32`` without a JSON marshaller: CREATE=1, WRITE=2,
REMOVE=4, RENAME=8, CHMOD=16. ``metadata`` is ``null`` when unset, as Go writes a nil map.

sluice watches with watchfiles' inotify watcher, which reports only added, modified and
deleted paths per debounced batch. With ``polling: true`` it diffs ``os.stat`` scans of the
directory every ``poll_delay_ms`` instead of using watchfiles' poller, which compares mtimes
in whole seconds and so misses a second write within the same second, and every chmod.
``classify`` turns a batch back into fsnotify's ops with a stat snapshot of the children:

* deleted → REMOVE; but if a path added in the same batch has the deleted path's inode, the
  pair is a rename inside the directory and becomes RENAME of the old name + CREATE of the
  new, as inotify's MOVED_FROM/MOVED_TO are. A rename out of the directory is a REMOVE
  (fsnotify: RENAME); a rename into it is a CREATE (as in fsnotify).
* added → CREATE, plus WRITE when the new regular file already has content, since writing it
  raised an inotify MODIFY that watchfiles folded into the addition. So ``echo x > f`` gives
  CREATE and WRITE, ``touch f`` and a rename give CREATE only.
* modified → WRITE when size, mtime or inode changed, else CHMOD when mode or owner changed.
  A ``touch`` of an existing file is therefore a WRITE (fsnotify: CHMOD).

Deliberate differences from Argo: ``name`` is ``<directory>/<file>`` in polling mode too
(Argo's poller gives the bare file name), and ``path``/``pathRegexp`` are matched against the
file name whether or not ``directory`` ends in ``/`` (Argo trims the directory string as
written, so ``/data`` + ``path: a.txt`` never matches there). ``pathRegexp`` is a Python
regex, not RE2. An ``eventType`` that is not one of the five ops is refused, and a directory
that does not exist is an error at start. Each event is watched by a named task that is
restarted with backoff when the watch fails, e.g. because the directory was removed; changes
while it is down are not reported, as in Argo.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import stat
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from watchfiles import Change, awatch

from eventbus.errors import BusError
from eventsource.adaptor import Adaptor
from eventsource.models import EventSource
from eventsource.models.other import FileEventSource
from eventsource.registry import SourceContext, register
from sluice.core.errors import SpecError
from sluice.core.supervise import watch_tasks

log = logging.getLogger(__name__)

EVENT_TYPE = "file"
OPS = {"CREATE": 1, "WRITE": 2, "REMOVE": 4, "RENAME": 8, "CHMOD": 16}  # fsnotify's bits


class DirectoryGone(Exception):
    """The watched directory was removed; its watch must be set up again."""


@dataclass(frozen=True)
class _Stat:
    ino: int
    size: int
    mtime_ns: int
    mode: int
    uid: int
    gid: int

    @classmethod
    def of(cls, path: str) -> _Stat | None:
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError:
            return None
        return cls(st.st_ino, st.st_size, st.st_mtime_ns, st.st_mode, st.st_uid, st.st_gid)

    @property
    def content(self) -> tuple[int, int, int]:
        return (self.ino, self.size, self.mtime_ns)


def scan(directory: str) -> dict[str, _Stat]:
    """The stats of the directory's children, by full path (raises if it does not exist)."""
    snapshot: dict[str, _Stat] = {}
    with os.scandir(directory) as entries:
        for entry in entries:
            found = _Stat.of(entry.path)
            if found is not None:
                snapshot[entry.path] = found
    return snapshot


def poll_changes(current: dict[str, _Stat], snapshot: dict[str, _Stat]) -> set[tuple[Change, str]]:
    """What watchfiles would report for the difference between two scans of a directory.

    A path whose inode changed was replaced (``mv new old``), so it counts as added.
    """
    changes = {(Change.deleted, path) for path in snapshot.keys() - current.keys()}
    for path, found in current.items():
        before = snapshot.get(path)
        if before is None or before.ino != found.ino:
            changes.add((Change.added, path))
        elif before != found:
            changes.add((Change.modified, path))
    return changes


def classify(
    changes: Iterable[tuple[Change, str]], directory: str, snapshot: dict[str, _Stat]
) -> list[tuple[str, str]]:
    """fsnotify's ``(op, path)`` events for one watchfiles batch; updates ``snapshot``.

    Only direct children of ``directory`` count; its own removal raises ``DirectoryGone``.
    """
    by_kind: dict[Change, list[str]] = {kind: [] for kind in Change}
    for kind, path in changes:
        if path == directory:
            if kind == Change.deleted or not os.path.isdir(directory):
                raise DirectoryGone(f"{directory} was removed")
            continue  # the poller sees the directory's own mtime change
        if os.path.dirname(path) == directory:
            by_kind[kind].append(path)
    added = {path: _Stat.of(path) for path in sorted(by_kind[Change.added])}
    inodes = {found.ino: path for path, found in added.items() if found is not None}
    renamed_to: set[str] = set()
    events: list[tuple[str, str]] = []
    for path in sorted(by_kind[Change.deleted]):
        old = snapshot.pop(path, None)
        new_path = inodes.get(old.ino) if old is not None else None
        if new_path is not None and new_path not in renamed_to:
            renamed_to.add(new_path)
            events.append(("RENAME", path))
        else:
            events.append(("REMOVE", path))
    for path, found in added.items():
        if found is None:  # gone again before we looked; its deletion follows
            continue
        snapshot[path] = found
        events.append(("CREATE", path))
        if path not in renamed_to and stat.S_ISREG(found.mode) and found.size > 0:
            events.append(("WRITE", path))
    for path in sorted(by_kind[Change.modified]):
        found, before = _Stat.of(path), snapshot.get(path)
        if found is None:
            continue
        snapshot[path] = found
        same_content = before is not None and before.content == found.content
        events.append(("CHMOD" if same_content and before != found else "WRITE", path))
    return events


@dataclass
class _Watch:
    """One file event: what it watches, which changes it wants, and how it dispatches."""

    event_name: str
    spec: FileEventSource
    adaptor: Adaptor

    def __post_init__(self) -> None:
        spec, where, problems = self.spec, self.where(), []
        config = spec.watch_path_config
        directory = (config.directory if config else None) or ""
        self.path = (config.path if config else None) or ""
        pattern = (config.path_regexp if config else None) or ""
        self.directory = os.path.normpath(directory) if directory else ""
        self.regexp: re.Pattern[str] | None = None
        if not spec.event_type:
            problems.append(f"{where}: eventType is required")
        elif spec.event_type not in OPS:
            problems.append(
                f"{where}: eventType {spec.event_type!r} is not one of {', '.join(OPS)}"
            )
        if not directory:
            problems.append(f"{where}: watchPathConfig.directory is required")
        elif not os.path.isabs(directory):
            problems.append(f"{where}: watchPathConfig.directory must be an absolute path")
        if not self.path and not pattern:
            problems.append(f"{where}: either watchPathConfig.path or pathRegexp is required")
        elif self.path and pattern:
            problems.append(f"{where}: watchPathConfig.path and pathRegexp cannot both be set")
        elif os.path.isabs(self.path):
            problems.append(f"{where}: watchPathConfig.path must be a relative path")
        if pattern:
            try:
                self.regexp = re.compile(pattern)
            except re.error as exc:
                problems.append(f"{where}: watchPathConfig.pathRegexp {pattern!r}: {exc}")
        if problems:
            raise SpecError(problems)

    def where(self) -> str:
        return f"eventsource/{self.adaptor.source_name}: file {self.event_name}"

    def wants(self, op: str, path: str) -> bool:
        if op != self.spec.event_type:
            return False
        name = os.path.basename(path)
        if self.path:
            return name == self.path
        return self.regexp is not None and self.regexp.search(name) is not None

    async def emit(self, op: str, path: str) -> None:
        metadata = self.spec.metadata
        data: dict[str, Any] = {
            "name": path,
            "op": OPS[op],
            "metadata": dict(metadata) if metadata is not None else None,
        }
        try:
            await self.adaptor.dispatch(self.event_name, EVENT_TYPE, data)
        except BusError as exc:  # as Argo: log, count, and keep watching
            log.error("%s: failed to dispatch %s of %s: %s", self.where(), op, path, exc)


Sleep = Callable[[float], Awaitable[None]]


@register("file")
class FileSource:
    """Every ``spec.file`` event of one EventSource, watched until ``stop()``.

    ``debounce_ms`` and ``step_ms`` are watchfiles' inotify batching (a batch ends after
    ``step_ms`` without changes, or after ``debounce_ms``); ``poll_delay_ms`` is the interval
    of the ``polling: true`` scans.
    A failed watch is retried after ``backoff[0]`` seconds, doubling up to ``backoff[1]``.
    """

    def __init__(
        self,
        event_source: EventSource,
        adaptor: Adaptor,
        *,
        debounce_ms: int = 200,
        step_ms: int = 20,
        poll_delay_ms: int = 100,
        backoff: tuple[float, float] = (1.0, 30.0),
        stop_grace: float = 2.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.event_source = event_source
        self.adaptor = adaptor
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        self.poll_delay_ms = poll_delay_ms
        self.backoff = backoff
        self.stop_grace = stop_grace
        self.sleep = sleep
        self.restarts = 0
        self._watches = [
            _Watch(name, spec, adaptor)
            for name, spec in sorted((event_source.spec.file or {}).items())
        ]
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    def from_context(
        cls, event_source: EventSource, adaptor: Adaptor, context: SourceContext
    ) -> FileSource:
        return cls(event_source, adaptor, sleep=context.clock.sleep)

    async def start(self) -> None:
        """Start watching; raises ``SpecError`` if a directory does not exist."""
        if self._tasks:
            raise RuntimeError(f"eventsource/{self.adaptor.source_name}: file already started")
        missing = [
            f"{watch.where()}: watchPathConfig.directory {watch.directory} is not a directory"
            for watch in self._watches
            if not os.path.isdir(watch.directory)
        ]
        if missing:
            raise SpecError(missing)
        self._stop = asyncio.Event()
        for watch in self._watches:
            name = f"eventsource/{self.adaptor.source_name}:file:{watch.event_name}"
            self._tasks.append(asyncio.create_task(self._supervise(watch), name=name))
        # A task's first step runs up to watchfiles' first wait on its thread, by which
        # time the watch is registered: once every task had it, no change is missed.
        await asyncio.sleep(0)

    async def stop(self) -> None:
        """Ask every watch to end, wait ``stop_grace`` seconds, then cancel what is left."""
        self._stop.set()
        tasks, self._tasks = self._tasks, []
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=self.stop_grace)
        for task in pending:
            log.warning(
                "%s did not stop within %.1fs; cancelling it", task.get_name(), self.stop_grace
            )
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait(self) -> None:
        """Return once stopped; raise if a watch task died (a failed watch is restarted)."""
        await watch_tasks(self._tasks, self._stop)

    async def _supervise(self, watch: _Watch) -> None:
        low, high = self.backoff
        delay = low
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            started = loop.time()
            try:
                await self._watch(watch)
            except Exception as exc:
                log.error("%s: watch failed: %s", watch.where(), exc, exc_info=exc)
            if self._stop.is_set():
                return
            if loop.time() - started > 30:
                delay = low
            log.warning("%s: restarting the watch in %.2fs", watch.where(), delay)
            await self.sleep(delay)
            delay = min(delay * 2, high)
            self.restarts += 1

    async def _watch(self, watch: _Watch) -> None:
        snapshot = scan(watch.directory)
        batches = self._poll(watch, snapshot) if watch.spec.polling else self._notify(watch)
        async for changes in batches:
            for op, path in classify(changes, watch.directory, snapshot):
                if watch.wants(op, path):
                    log.info("%s: %s %s", watch.where(), op, path)
                    await watch.emit(op, path)
        if not self._stop.is_set():
            raise RuntimeError("the watch ended by itself")

    def _notify(self, watch: _Watch) -> AsyncIterator[set[tuple[Change, str]]]:
        return awatch(
            watch.directory,
            watch_filter=None,
            debounce=self.debounce_ms,
            step=self.step_ms,
            stop_event=self._stop,
            recursive=False,
        )

    async def _poll(
        self, watch: _Watch, snapshot: dict[str, _Stat]
    ) -> AsyncIterator[set[tuple[Change, str]]]:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.poll_delay_ms / 1000)
                return
            current = await asyncio.to_thread(scan, watch.directory)
            changes = poll_changes(current, snapshot)
            if changes:
                yield changes


__all__ = ["EVENT_TYPE", "OPS", "DirectoryGone", "FileSource", "classify", "poll_changes", "scan"]

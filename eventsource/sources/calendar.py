"""The ``calendar`` event source: a cron schedule or a fixed interval becomes events.

As in Argo Events, ``schedule`` (a five-field cron expression, optionally ``CRON_TZ=<zone>``
first) wins over ``interval`` (a Go duration); ticks are computed in ``timezone`` (UTC when it is
empty), and a tick whose calendar date is one of the ``exclusionDates`` (RFC 5545
``EXDATE:20060102T150405Z,...`` entries, dates taken in UTC) is skipped. The event data is
Argo's ``{"eventTime": <Go time.String() of the tick>, "metadata": {...}}``.

Argo keeps the last fired tick in a ConfigMap; sluice keeps it in a small JSON file per event
under the data directory, written atomically once the bus stored the event. A restart resumes
after that tick, so a tick is never sent twice; with ``persistence.catchup.enabled`` the ticks
missed while sluice was down are sent on start, those older than ``catchup.maxDuration``
dropped. A tick the bus refused is not recorded: with catch-up it is retried until it is stored
(as Argo does), without it is dropped and logged. Each tick has an event id derived from the
tick, so a tick re-sent after a crash between the bus ack and the file write is stored once.

Deliberate differences from Argo: ``eventTime`` is the scheduled tick, not the moment the timer
woke (so no ``m=+...`` monotonic suffix), the ``configMap`` settings are replaced by the file,
and an expression that never matches (``0 0 31 2 *``) is a spec error instead of a busy loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from eventbus.errors import BusError
from eventsource.adaptor import Adaptor, rfc3339
from eventsource.models import EventSource
from eventsource.models.other import CalendarEventSource
from eventsource.registry import SourceContext, register
from sluice.core.clock import Clock
from sluice.core.errors import SpecError
from sluice.core.supervise import watch_tasks

log = logging.getLogger(__name__)

EVENT_TYPE = "calendar"
RETRY_PAUSE = 1.0  # seconds before a tick the bus refused is tried again
_EXDATE = "EXDATE:"
_EXDATE_LAYOUT = "%Y%m%dT%H%M%SZ"
_CRON_ATOM = re.compile(r"^(\*|\?|\d+|[A-Za-z]{3})$")
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def go_duration(text: str) -> timedelta:
    """Go's ``time.ParseDuration``: ``10s``, ``1h30m``, ``-1.5m``; a bare number only if 0."""
    body = text.lstrip("+-")
    sign = -1 if text.startswith("-") else 1
    if body == "0":
        return timedelta(0)
    pos, seconds = 0, 0.0
    for match in _DURATION.finditer(body):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not body or pos != len(body):
        raise ValueError(f"{text!r} is not a duration like '10s' or '1h30m'")
    return timedelta(seconds=sign * seconds)


def go_time_string(moment: datetime) -> str:
    """Go's ``time.Time.String()``, no monotonic suffix: ``2024-01-02 09:00:00 -0500 EST``."""
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    offset = moment.strftime("%z")
    return f"{text} {offset} {moment.tzname() or offset}"


def exclusion_dates(values: list[str]) -> frozenset[date]:
    """The dates of Argo's ``EXDATE:`` entries; other entries are ignored, as Argo does."""
    dates: set[date] = set()
    for value in values:
        if not value.startswith(_EXDATE):
            continue
        for item in value.removeprefix(_EXDATE).split(","):
            try:
                dates.add(datetime.strptime(item, _EXDATE_LAYOUT).date())
            except ValueError as exc:
                raise ValueError(f"{item!r} is not a date-time like 20060102T150405Z") from exc
    return frozenset(dates)


class Schedule(Protocol):
    def next(self, after: datetime) -> datetime:
        """The first tick strictly after ``after``, in ``after``'s zone."""
        ...


@dataclass(frozen=True)
class CronSchedule:
    """A five-field cron expression, as robfig/cron's standard parser reads it."""

    expression: str
    zone: tzinfo | None = None  # CRON_TZ=...

    @classmethod
    def parse(cls, text: str) -> CronSchedule:
        spec, zone = text.strip(), None
        for prefix in ("CRON_TZ=", "TZ="):
            if spec.startswith(prefix):
                name, _, spec = spec.removeprefix(prefix).partition(" ")
                zone = load_zone(name)
                spec = spec.strip()
        fields = spec.split()
        if len(fields) != 5:
            raise ValueError(f"expected 5 fields, found {len(fields)}")
        for part in (p for f in fields for p in f.split(",")):
            span, _, step = part.partition("/")
            atoms_ok = all(_CRON_ATOM.match(atom) for atom in span.split("-"))
            if not atoms_ok or (step and not step.isdigit()):
                raise ValueError(f"cannot parse {part!r}")
        schedule = cls(" ".join(fields), zone)
        try:
            schedule.next(datetime(2000, 1, 1, tzinfo=UTC))
        except CroniterBadDateError as exc:
            raise ValueError("no date ever matches it") from exc
        except (ValueError, KeyError) as exc:
            raise ValueError(str(exc) or type(exc).__name__) from exc
        return schedule

    def next(self, after: datetime) -> datetime:
        local = after.astimezone(self.zone) if self.zone is not None else after
        tick: datetime = croniter(self.expression, local.replace(microsecond=0)).get_next(datetime)
        return tick.astimezone(after.tzinfo)


@dataclass(frozen=True)
class IntervalSchedule:
    """robfig/cron's ``ConstantDelaySchedule``: ``after`` rounded down to the second, plus delay."""

    delay: timedelta

    def next(self, after: datetime) -> datetime:
        # in UTC: an aware datetime plus a timedelta is wall-clock arithmetic in its own zone
        return (after.astimezone(UTC).replace(microsecond=0) + self.delay).astimezone(after.tzinfo)


def load_zone(name: str) -> tzinfo:
    if not name or name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


class CalendarTimer:
    """One calendar event: its schedule, the last tick it fired, and the file that keeps it."""

    def __init__(
        self,
        name: str,
        spec: CalendarEventSource,
        adaptor: Adaptor,
        clock: Clock,
        state_file: Path | None,
    ) -> None:
        self.name, self.spec, self.adaptor, self.clock = name, spec, adaptor, clock
        self.state_file = state_file
        self.where = f"eventsource/{adaptor.source_name}: spec.calendar.{name}"
        problems: list[str] = []

        def check(field: str, parse: Any, value: Any, what: str = "") -> Any:
            try:
                return parse(value)
            except ValueError as exc:
                problems.append(f"{self.where}.{field}: {what}{exc}")
                return None

        self.zone: tzinfo = check("timezone", load_zone, spec.timezone or "") or UTC
        self.schedule: Schedule | None = None
        if spec.schedule:
            what = f"invalid cron expression {spec.schedule!r}: "
            self.schedule = check("schedule", CronSchedule.parse, spec.schedule, what)
        elif spec.interval:
            delay = check("interval", go_duration, spec.interval)
            if delay is not None and delay <= timedelta(0):
                problems.append(f"{self.where}.interval: {spec.interval!r} must be positive")
            elif delay is not None:
                self.schedule = IntervalSchedule(delay)
        else:
            problems.append(f"{self.where}: must have either schedule or interval")
        self.excluded: frozenset[date] = (
            check("exclusionDates", exclusion_dates, spec.exclusion_dates or []) or frozenset()
        )
        catchup = spec.persistence.catchup if spec.persistence else None
        self.catchup = bool(catchup and catchup.enabled) and state_file is not None
        self.max_catchup: timedelta | None = None
        if catchup and catchup.max_duration:
            field = "persistence.catchup.maxDuration"
            self.max_catchup = check(field, go_duration, catchup.max_duration)
        if problems:
            raise SpecError(problems)
        self.last: datetime | None = None

    def resume(self, now: datetime) -> None:
        """Start after the last recorded tick (or ``now``), catching up if enabled."""
        recorded = self._load()
        if self.catchup and recorded is not None:
            start = recorded
            if self.max_catchup is not None and now - start > self.max_catchup:
                start = now - self.max_catchup
        else:
            start = now if recorded is None else max(now, recorded)
        self.last = start.astimezone(self.zone)

    def next_tick(self) -> datetime:
        """The next tick after the last one, skipping excluded dates."""
        assert self.schedule is not None and self.last is not None
        tick = self.schedule.next(self.last)
        while tick.date() in self.excluded:
            tick = self.schedule.next(tick)
        return tick

    async def tick_once(self, now: datetime) -> list[datetime]:
        """Send every tick due at ``now``, oldest first; stop at the first the bus refused."""
        if self.last is None:
            self.resume(now)
        assert self.last is not None
        if self.catchup and self.max_catchup is not None:
            # ticks refused for longer than maxDuration are dropped, one by one, so an
            # interval keeps its phase
            while (tick := self.next_tick()) < now - self.max_catchup:
                log.warning("%s: tick %s dropped: older than maxDuration", self.where, tick)
                self.last = tick
        fired: list[datetime] = []
        while (tick := self.next_tick()) <= now:
            if not await self._fire(tick):
                if self.catchup:
                    break  # retried on the next call
            else:
                fired.append(tick)
            self.last = tick
        return fired

    async def run(self) -> None:
        """Sleep until each tick and send it, until cancelled."""
        if self.last is None:
            self.resume(self.clock.now())
        log.info("%s: next tick at %s", self.where, self.next_tick())
        while True:
            wait = (self.next_tick() - self.clock.now()).total_seconds()
            if wait > 0:
                await self.clock.sleep(wait)
                continue
            try:
                await self.tick_once(self.clock.now())
            except Exception:
                log.exception("%s: tick failed", self.where)
            if self.next_tick() <= self.clock.now():
                await self.clock.sleep(RETRY_PAUSE)

    async def _fire(self, tick: datetime) -> bool:
        data: dict[str, Any] = {"eventTime": go_time_string(tick)}
        if self.spec.metadata:  # omitempty, as in Argo's CalendarEventData
            data["metadata"] = dict(self.spec.metadata)
        key = f"{self.adaptor.namespace}/{self.adaptor.source_name}/{self.name}@{rfc3339(tick)}"
        try:
            await self.adaptor.dispatch(
                self.name, EVENT_TYPE, data, event_id=uuid.uuid5(uuid.NAMESPACE_URL, key).hex
            )
        except BusError as exc:
            log.error("%s: tick %s not sent (not recorded as fired): %s", self.where, tick, exc)
            return False
        if self.state_file is not None:
            try:
                await asyncio.to_thread(self._save, self.state_file, tick, data["eventTime"])
            except OSError as exc:
                log.error("%s: tick %s sent but not recorded: %s", self.where, tick, exc)
        return True

    def _load(self) -> datetime | None:
        if self.state_file is None or not self.state_file.exists():
            return None
        try:
            moment = datetime.fromisoformat(json.loads(self.state_file.read_text())["time"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("%s: ignoring unreadable %s: %s", self.where, self.state_file, exc)
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    @staticmethod
    def _save(path: Path, tick: datetime, event_time: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w") as out:
                json.dump({"time": rfc3339(tick), "eventTime": event_time}, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


@register("calendar")
class CalendarSource:
    """Every ``spec.calendar`` event of one EventSource, each ticking in its own task."""

    def __init__(
        self,
        event_source: EventSource,
        adaptor: Adaptor,
        *,
        data_dir: str | Path | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.event_source = event_source
        self.adaptor = adaptor
        self.clock = clock or adaptor.clock
        self.timers: dict[str, CalendarTimer] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = asyncio.Event()
        problems: list[str] = []
        for name, spec in sorted((event_source.spec.calendar or {}).items()):
            try:
                self.timers[name] = CalendarTimer(
                    name, spec, adaptor, self.clock, self.state_file(data_dir, name)
                )
            except SpecError as exc:
                problems += exc.problems
        if problems:
            raise SpecError(problems)

    @classmethod
    def from_context(
        cls, event_source: EventSource, adaptor: Adaptor, context: SourceContext
    ) -> CalendarSource:
        return cls(event_source, adaptor, data_dir=context.data_dir, clock=context.clock)

    def state_file(self, data_dir: str | Path | None, event: str) -> Path | None:
        """``<data-dir>/eventsources/calendar/<ns>.<source>.<event>.json``."""
        if data_dir is None:
            return None
        parts = (self.adaptor.namespace, self.adaptor.source_name, event)
        name = ".".join(quote(p, safe="-_") for p in parts)
        return Path(data_dir) / "eventsources" / "calendar" / f"{name}.json"

    async def tick_once(self, now: datetime) -> dict[str, list[datetime]]:
        """Send every event's ticks due at ``now``; the ticks sent, by event."""
        return {name: await timer.tick_once(now) for name, timer in self.timers.items()}

    async def start(self) -> None:
        """Resume every event from its record and start ticking; returns at once."""
        self._stopped.clear()
        now = self.clock.now()
        for name, timer in self.timers.items():
            timer.resume(now)
            task_name = f"eventsource/{self.adaptor.source_name}:calendar:{name}"
            self._tasks.append(asyncio.create_task(timer.run(), name=task_name))

    async def stop(self) -> None:
        """Cancel the timers; a tick in flight is not recorded, so it is sent again on restart."""
        self._stopped.set()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task, result in zip(
            tasks, await asyncio.gather(*tasks, return_exceptions=True), strict=True
        ):
            if isinstance(result, Exception):
                log.error("%s ended with %r", task.get_name(), result)

    async def wait(self) -> None:
        """Return once stopped; raise if a timer task died (its ticks would silently stop)."""
        await watch_tasks(self._tasks, self._stopped)


__all__ = [
    "CalendarSource",
    "CalendarTimer",
    "CronSchedule",
    "IntervalSchedule",
    "exclusion_dates",
    "go_duration",
    "go_time_string",
]

"""CronWorkflows: which scheduled times are due, and what Argo's controller does about each one.

Only the controller logic: Argo's policies (suspend, ``when``, concurrencyPolicy,
startingDeadlineSeconds, history limits, stopStrategy) decide, a ``CronRuntime`` the engine
implements runs the Workflows, and an injected ``Clock`` plus ``tick(now)`` keep tests from
sleeping. Each scheduled time is evaluated once and the last evaluation is persisted, so after a
restart the times that passed while down are "missed"; runs are named after their scheduled
time, so one time never runs twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

from engine.models import CronWorkflow
from engine.templating import Scope, resolve_text
from sluice.core import exprlang, govaluate
from sluice.core.clock import Clock
from sluice.core.errors import ConflictError, NotFoundError, SpecError

log = logging.getLogger(__name__)

API_VERSION = "argoproj.io/v1alpha1"
LABEL_CRON = "workflows.argoproj.io/cron-workflow"
ANNOTATION_SCHEDULED = "workflows.argoproj.io/scheduled-time"
POLICIES = ("Allow", "Forbid", "Replace")
MAX_NAME = 52  # Argo's limit: "-<unix seconds>" must still fit in a 63-character name
_HISTORY = (
    (("Succeeded",), "successfulJobsHistoryLimit", 3),
    (("Failed", "Error"), "failedJobsHistoryLimit", 1),
)


class CronRuntime(Protocol):
    """What the scheduler needs from the engine. ``submit`` raises ConflictError when the name
    exists; ``active``/``history`` list the Workflows a CronWorkflow started (``history`` the
    finished ones, as (name, phase, finishedAt)); state is kept under ``namespace/name``.
    """

    async def submit(self, manifest: dict[str, Any], *, labels: dict[str, str]) -> str: ...
    def active(self, cron_name: str, namespace: str) -> list[str]: ...
    async def stop(self, namespace: str, name: str) -> None: ...
    def history(self, cron_name: str, namespace: str) -> list[tuple[str, str, datetime]]: ...
    async def delete(self, namespace: str, name: str) -> None: ...
    def load_state(self, key: str) -> dict[str, Any] | None: ...
    def save_state(self, key: str, state: dict[str, Any]) -> None: ...


def _rfc3339(t: datetime, *, utc: bool = True) -> str:
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t
    return (t.astimezone(UTC) if utc else t).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone '{name}'") from None


@dataclass(frozen=True)
class Schedule:
    """One cron expression in one timezone."""

    expr: str
    tz: ZoneInfo
    minutes: tuple[Any, ...]
    hours: tuple[Any, ...]

    def _walk(self, start: datetime, forward: bool) -> datetime | None:
        it = croniter(self.expr, start.astimezone(self.tz))
        for _ in range(4):
            try:
                slot: datetime = it.get_next(datetime) if forward else it.get_prev(datetime)
            except CroniterError:  # no such date within croniter's search window
                return None
            # croniter moves a wall time that a DST jump skips to the next hour; Argo's cron
            # library does not run it at all, so a slot off the expression's hours is dropped
            if ("*" in self.minutes or slot.minute in self.minutes) and (
                "*" in self.hours or slot.hour in self.hours
            ):
                return slot
        return None  # pragma: no cover - a DST gap never drops four times in a row

    def next_after(self, t: datetime) -> datetime | None:
        """The first scheduled time strictly after ``t``, in the schedule's timezone."""
        return self._walk(t, True)

    def latest_until(self, t: datetime) -> datetime | None:
        """The last scheduled time at or before ``t``."""
        return self._walk(t + timedelta(microseconds=1), False)


def parse_schedule(text: str, timezone: str | None = None) -> Schedule:
    """A schedule as Argo reads it: 5 fields or an @descriptor, an optional ``CRON_TZ=`` prefix."""
    expr, tz_name = text.strip(), timezone or "UTC"
    first, _, rest = expr.partition(" ")
    if first.startswith(("CRON_TZ=", "TZ=")):  # the prefix wins over spec.timezone
        tz_name, expr = first.partition("=")[2], rest.strip()
    tz = _zone(tz_name)
    if not (len(expr.split()) == 5 or (expr.startswith("@") and " " not in expr)):
        raise ValueError(f"invalid cron expression '{text}': expected 5 fields or @descriptor")
    try:
        expanded = croniter(expr).expanded
        croniter(expr, datetime(2000, 1, 1, tzinfo=tz)).get_next(datetime)
    except (CroniterError, ValueError) as exc:
        raise ValueError(f"invalid cron expression '{text}': {exc}") from None
    return Schedule(expr, tz, tuple(expanded[0]), tuple(expanded[1]))


def _as_dict(cron: Mapping[str, Any] | CronWorkflow) -> dict[str, Any]:
    if isinstance(cron, CronWorkflow):
        return cron.model_dump(by_alias=True, exclude_none=True)
    return copy.deepcopy(dict(cron))


def validate(cron: Mapping[str, Any] | CronWorkflow) -> list[Schedule]:
    """The CronWorkflow's schedules; SpecError lists every problem, each naming its field."""
    data = _as_dict(cron)
    name, spec = (data.get("metadata") or {}).get("name") or "", data.get("spec") or {}
    problems: list[str] = []
    if not name or len(name) > MAX_NAME:
        problems.append(f"metadata.name: must be 1 to {MAX_NAME} characters, got '{name}'")
    timezone = spec.get("timezone") or None
    try:
        _zone(timezone or "UTC")
    except ValueError as exc:
        problems.append(f"spec.timezone: {exc}")
        timezone = None
    entries = [(f"spec.schedules[{i}]", s) for i, s in enumerate(spec.get("schedules") or [])]
    if spec.get("schedule"):
        if entries:
            problems.append("spec.schedules: cannot be used together with spec.schedule")
        entries = [("spec.schedule", spec["schedule"])]
    elif not entries:
        problems.append("spec.schedules: a CronWorkflow needs at least one schedule")
    schedules: list[Schedule] = []
    for path, text in entries:
        try:
            schedules.append(parse_schedule(str(text), timezone))
        except ValueError as exc:
            problems.append(f"{path}: {exc}")
    policy = spec.get("concurrencyPolicy")
    if policy and policy not in POLICIES:
        problems.append(f"spec.concurrencyPolicy: must be one of {POLICIES}, got '{policy}'")
    try:
        exprlang.parse((spec.get("stopStrategy") or {}).get("expression") or "true")
    except ValueError as exc:
        problems.append(f"spec.stopStrategy.expression: {exc}")
    if problems:
        raise SpecError(problems)
    return schedules


def build_workflow(cron: Mapping[str, Any] | CronWorkflow, scheduled: datetime) -> dict[str, Any]:
    """The Workflow Argo creates for ``scheduled``, named ``<cron>-<unix seconds>``."""
    data = _as_dict(cron)
    meta, spec = data.get("metadata") or {}, data.get("spec") or {}
    extra = spec.get("workflowMetadata") or {}
    scheduled = scheduled.replace(tzinfo=UTC) if scheduled.tzinfo is None else scheduled
    # ours go last: the scheduler finds its runs by this label
    labels = {**(extra.get("labels") or {}), LABEL_CRON: meta["name"]}
    annotations = {**(extra.get("annotations") or {})}
    annotations[ANNOTATION_SCHEDULED] = _rfc3339(scheduled, utc=False)
    metadata = {"name": f"{meta['name']}-{int(scheduled.timestamp())}", "labels": labels}
    metadata.update(annotations=annotations)
    if meta.get("namespace"):
        metadata["namespace"] = meta["namespace"]
    workflow = {"apiVersion": API_VERSION, "kind": "Workflow", "metadata": metadata}
    return {**workflow, "spec": copy.deepcopy(spec.get("workflowSpec") or {})}


@dataclass
class _Cron:
    namespace: str
    name: str
    manifest: dict[str, Any]
    schedules: list[Schedule]
    cursor: datetime  # every scheduled time up to here has been evaluated
    live_from: datetime  # since when this scheduler has been watching it
    state: dict[str, Any] = field(default_factory=dict)
    saved: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.manifest.get("spec") or {})

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def _identity(manifest: dict[str, Any]) -> tuple[str, str]:
    meta = manifest["metadata"]
    return str(meta.get("namespace") or "default"), str(meta["name"])


def _schedule_key(schedules: list[Schedule]) -> str:
    return ",".join(f"CRON_TZ={s.tz.key} {s.expr}" for s in schedules)


class CronScheduler:
    """Holds the CronWorkflows and fires them on time.

    A time fired at most ``late_tolerance`` seconds late is on time; one that came due while the
    scheduler was not running (a restart, a suspended host) is missed, and startingDeadlineSeconds
    decides. Every ``sync_period`` finished runs are counted and history limits applied.
    """

    def __init__(
        self,
        runtime: CronRuntime,
        clock: Clock,
        *,
        late_tolerance: float = 10,
        sync_period: float = 10,
    ) -> None:
        self.runtime, self.clock = runtime, clock
        self.late_tolerance = timedelta(seconds=late_tolerance)
        self.sync_period = timedelta(seconds=sync_period)
        self._crons: dict[str, _Cron] = {}
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()

    def add(self, cron: Mapping[str, Any] | CronWorkflow) -> None:
        """Schedule a CronWorkflow, resuming from its persisted state if there is one."""
        manifest = _as_dict(cron)
        schedules, now = validate(manifest), self.clock.now()
        entry = _Cron(*_identity(manifest), manifest, schedules, now, now)
        if entry.key in self._crons:
            raise ConflictError(f"CronWorkflow {entry.key} is already scheduled")
        saved, key = self.runtime.load_state(entry.key) or {}, _schedule_key(schedules)
        entry.state = {"lastScheduledTime": None, "succeeded": 0, "failed": 0, "phase": "Active"}
        entry.state.update(active=[], conditions=[], lastEvaluatedTime=None)
        entry.state.update(copy.deepcopy(saved), schedule=key)
        evaluated = _parse_time(saved.get("lastEvaluatedTime"))
        if evaluated is not None and saved.get("schedule") == key:  # else: no missed runs
            entry.cursor = min(evaluated, now)
        entry.saved = copy.deepcopy(saved)
        self._crons[entry.key] = entry
        self._changed.set()

    def update(self, cron: Mapping[str, Any] | CronWorkflow) -> None:
        manifest = _as_dict(cron)
        schedules = validate(manifest)
        entry = self._get(*_identity(manifest))
        entry.manifest, entry.schedules = manifest, schedules
        if _schedule_key(schedules) != entry.state["schedule"]:  # Argo: a new schedule
            entry.cursor = max(entry.cursor, self.clock.now())  # runs no missed times
            entry.state["schedule"] = _schedule_key(schedules)
        self._changed.set()

    def remove(self, namespace: str, name: str, *, forget: bool = False) -> None:
        """Stop scheduling it; ``forget`` also drops its persisted state (it was deleted)."""
        entry = self._crons.pop(self._get(namespace, name).key)
        if forget:
            self.runtime.save_state(entry.key, {})

    def suspend(self, namespace: str, name: str) -> None:
        self._get(namespace, name).manifest.setdefault("spec", {})["suspend"] = True

    def resume(self, namespace: str, name: str) -> None:
        """Scheduling resumes with the next time; times passed while suspended do not run."""
        self._get(namespace, name).manifest.setdefault("spec", {})["suspend"] = False

    def _get(self, namespace: str, name: str) -> _Cron:
        entry = self._crons.get(f"{namespace}/{name}")
        if entry is None:
            raise NotFoundError(f"CronWorkflow {namespace}/{name} not found")
        return entry

    def status_of(self, namespace: str, name: str) -> dict[str, Any]:
        """Argo's CronWorkflowStatus."""
        state = self._get(namespace, name).state
        refs = [
            {"apiVersion": API_VERSION, "kind": "Workflow", "name": n, "namespace": namespace}
            for n in self.runtime.active(name, namespace)
        ]
        status = {"active": refs, "conditions": copy.deepcopy(state["conditions"])}
        status.update({k: state[k] for k in ("lastScheduledTime", "succeeded", "failed", "phase")})
        return {k: v for k, v in status.items() if v is not None}

    def next_time(self, namespace: str, name: str) -> datetime | None:
        """The next scheduled time not yet evaluated, in UTC."""
        entry = self._get(namespace, name)
        slots = (s.next_after(entry.cursor) for s in entry.schedules)
        return min((slot.astimezone(UTC) for slot in slots if slot is not None), default=None)

    async def run(self) -> None:
        """Fire every CronWorkflow on time, until cancelled."""
        while True:
            self._changed.clear()
            now = self.clock.now()
            await self.tick(now)
            times = [self.next_time(e.namespace, e.name) for e in list(self._crons.values())]
            wake = min([now + self.sync_period, *(t for t in times if t is not None)])
            tasks = [  # sleep on the clock, waking early when a CronWorkflow is added or changed
                asyncio.create_task(self._changed.wait(), name="cron-changed"),
                asyncio.create_task(
                    self.clock.sleep(max(0.0, (wake - self.clock.now()).total_seconds())),
                    name="cron-sleep",
                ),
            ]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def tick(self, now: datetime | None = None) -> list[str]:
        """One evaluation step at ``now``: count finished runs, fire what is due; new names."""
        now = self.clock.now() if now is None else now
        submitted: list[str] = []
        async with self._lock:
            for key in list(self._crons):
                if (entry := self._crons.get(key)) is None:
                    continue
                try:
                    submitted += await self._step(entry, now)
                except Exception:  # one broken CronWorkflow must not stop the others
                    log.exception("CronWorkflow %s: evaluation failed", key)
                    entry.cursor = max(entry.cursor, now)
                if entry.state != entry.saved:
                    entry.saved = copy.deepcopy(entry.state)
                    self.runtime.save_state(key, copy.deepcopy(entry.state))
        return submitted

    async def _step(self, entry: _Cron, now: datetime) -> list[str]:
        try:
            await self._sync(entry, now)
        except Exception:  # counting and cleanup can wait; the schedule cannot
            log.exception("CronWorkflow %s: sync failed", entry.key)
        slots = self._due(entry, now)
        entry.cursor = max(entry.cursor, now)
        names = [name for slot in slots if (name := await self._fire(entry, slot, now))]
        if slots:
            entry.state["lastEvaluatedTime"] = _rfc3339(entry.cursor)
        return names

    def _due(self, entry: _Cron, now: datetime) -> list[datetime]:
        """On-time times in order; else the latest missed one, if within the deadline."""
        # times after `edge` are on time; those in (cursor, edge] were missed
        edge = max(entry.cursor, now - self.late_tolerance, entry.live_from - timedelta.resolution)
        edge = min(edge, now)
        on_time: dict[datetime, datetime] = {}
        missed: datetime | None = None
        for schedule in entry.schedules:
            slot = schedule.next_after(edge)
            while slot is not None and slot <= now:
                on_time.setdefault(slot.astimezone(UTC), slot)  # two schedules, one instant
                slot = schedule.next_after(slot)
            last = schedule.latest_until(edge) if edge > entry.cursor else None
            if last is not None and last > entry.cursor and (missed is None or last > missed):
                missed = last
        if on_time or missed is None:
            return [on_time[t] for t in sorted(on_time)]
        deadline = entry.spec.get("startingDeadlineSeconds")
        run = deadline is not None and now < missed + timedelta(seconds=deadline)
        log.info("CronWorkflow %s: missed %s, run: %s", entry.key, _rfc3339(missed), run)
        return [missed] if run else []

    async def _fire(self, entry: _Cron, slot: datetime, now: datetime) -> str | None:
        spec, state = entry.spec, entry.state
        if spec.get("suspend") or self._stopped(entry, now):
            return None
        try:
            if not self._when(entry, now):
                log.info("CronWorkflow %s: 'when' is false at %s", entry.key, _rfc3339(slot))
                return None
        except (ValueError, TypeError) as exc:
            self._condition(entry, "SubmissionError", f"run policy error: {exc}")
            return None
        active = self.runtime.active(entry.name, entry.namespace)
        policy = spec.get("concurrencyPolicy") or "Allow"
        if active and policy == "Forbid":
            log.info("CronWorkflow %s: Forbid, %s still running", entry.key, active)
            return None
        for running in active if policy == "Replace" else []:
            with contextlib.suppress(NotFoundError):
                await self.runtime.stop(entry.namespace, running)
        name: str | None = None
        try:
            manifest = build_workflow(entry.manifest, slot)
            name = await self.runtime.submit(manifest, labels={LABEL_CRON: entry.name})
        except ConflictError:  # the deterministic name exists: this time already ran
            pass
        except Exception as exc:
            self._condition(entry, "SubmissionError", f"Failed to submit Workflow: {exc}")
            return None
        if name is not None and name not in state["active"]:
            state["active"].append(name)
        state.update(lastScheduledTime=_rfc3339(slot), phase="Active")
        self._condition(entry, "SubmissionError", None)
        return name

    async def _sync(self, entry: _Cron, now: datetime) -> None:
        """Count the runs that finished since the last sync, then apply the history limits."""
        state = entry.state
        live = self.runtime.active(entry.name, entry.namespace)
        finished = self.runtime.history(entry.name, entry.namespace)
        phases = {name: phase for name, phase, _ in finished}
        done = [n for n in state["active"] if n not in live]
        for name in done:
            state["active"].remove(name)
            if phases.get(name) == "Succeeded":
                state["succeeded"] += 1
            elif phases.get(name) in ("Failed", "Error"):
                state["failed"] += 1
        state["active"].extend(n for n in live if n not in state["active"])
        if any(name in phases for name in done):
            self._stopped(entry, now)
        for kept, limit_field, default in _HISTORY:
            limit = entry.spec.get(limit_field)
            keep = limit if isinstance(limit, int) and limit >= 0 else default
            runs = sorted((run for run in finished if run[1] in kept), key=lambda run: run[2])
            for name, _, _ in runs[: max(0, len(runs) - keep)]:  # the oldest first
                with contextlib.suppress(NotFoundError):
                    await self.runtime.delete(entry.namespace, name)

    def _scope(self, entry: _Cron, now: datetime) -> Scope:
        """The ``cronworkflow.*`` variables Argo gives ``when`` and stopStrategy, and now()."""
        meta, state = entry.manifest.get("metadata") or {}, entry.state
        values: dict[str, Any] = {"now": lambda: now}
        for kind in ("labels", "annotations"):
            values[f"cronworkflow.{kind}"] = dict(meta.get(kind) or {})
            values[f"cronworkflow.{kind}.json"] = json.dumps(meta.get(kind) or {}, sort_keys=True)
        values.update({"cronworkflow.name": entry.name, "cronworkflow.namespace": entry.namespace})
        values.update({f"cronworkflow.{k}": state[k] for k in ("failed", "succeeded")})
        values["cronworkflow.lastScheduledTime"] = _parse_time(state["lastScheduledTime"])
        return Scope(values)

    def _when(self, entry: _Cron, now: datetime) -> bool:
        """Argo's ``when``: ``{{...}}`` tags are substituted, then the text is a govaluate
        condition. Without tags it is one expr expression (a sluice convenience)."""
        when = entry.spec.get("when")
        if not when:
            return True
        scope = self._scope(entry, now)
        if "{{" in when:
            return govaluate.evaluate_when(resolve_text(when, scope))
        result = exprlang.evaluate(when, scope.env())
        if not isinstance(result, bool):
            raise ValueError(f"'when' must be a bool, got {result!r}")
        return result

    def _stopped(self, entry: _Cron, now: datetime) -> bool:
        """Whether it must not fire: Stopped already, or stopStrategy.expression is true now."""
        expression = (entry.spec.get("stopStrategy") or {}).get("expression")
        if entry.state["phase"] == "Stopped":
            return True
        if not expression:
            return False
        try:
            result = exprlang.evaluate(expression, self._scope(entry, now).env())
            if not isinstance(result, bool):
                raise ValueError(f"expected a bool, got {result!r}")
        except (ValueError, TypeError) as exc:
            self._condition(entry, "SpecError", f"failed to evaluate stop expression: {exc}")
            return True
        self._condition(entry, "SpecError", None)
        if result:
            log.info("CronWorkflow %s: stopStrategy reached, stopping", entry.key)
            entry.state["phase"] = "Stopped"
        return result

    def _condition(self, entry: _Cron, kind: str, message: str | None) -> None:
        """Set (message) or clear (None) a condition; Argo counts a SubmissionError as failed."""
        conditions = [c for c in entry.state["conditions"] if c["type"] != kind]
        if message is not None:
            log.warning("CronWorkflow %s: %s: %s", entry.key, kind, message)
            conditions.append({"type": kind, "status": "True", "message": message})
            if kind == "SubmissionError":
                entry.state["failed"] += 1
        entry.state["conditions"] = conditions

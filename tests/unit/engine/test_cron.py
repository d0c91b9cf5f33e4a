"""CronWorkflow scheduling, driven by a fake clock and an in-memory runtime: no test sleeps."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.cron import ANNOTATION_SCHEDULED, LABEL_CRON, CronScheduler, build_workflow
from engine.models import CronWorkflow
from sluice.core.errors import ConflictError, SpecError

DAY = "2024-01-15"  # a Monday in winter: New York is UTC-5


def at(text: str) -> datetime:
    """``"10:01"`` on DAY, or a full ISO time, in UTC."""
    full = datetime.fromisoformat(text if "T" in text else f"{DAY}T{text}")
    return full.replace(tzinfo=UTC) if full.tzinfo is None else full.astimezone(UTC)


def run_name(text: str) -> str:
    return f"job-{int(at(text).timestamp())}"


class FakeClock:
    """Sleeping advances the time at once; after ``budget`` sleeps it parks until cancelled."""

    def __init__(self, now: datetime, budget: int = 1000) -> None:
        self.current, self.budget = now, budget
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if len(self.sleeps) > self.budget:
            await asyncio.Event().wait()
        self.current += timedelta(seconds=seconds)
        await asyncio.sleep(0)


class FakeRuntime:
    """Workflows in a dict; state in a dict that outlives any one scheduler (a restart)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.workflows: dict[str, dict[str, Any]] = {}
        self.states: dict[str, dict[str, Any]] = {}
        self.submitted: list[str] = []
        self.stopped: list[str] = []
        self.deleted: list[str] = []

    async def submit(self, manifest: dict[str, Any], *, labels: dict[str, str]) -> str:
        name = manifest["metadata"]["name"]
        if name in self.workflows:
            raise ConflictError(f"workflow {name} exists")
        ns = manifest["metadata"].get("namespace", "default")
        self.workflows[name] = {"manifest": manifest, "cron": labels[LABEL_CRON], "ns": ns}
        self.workflows[name].update(phase="Running", finishedAt=None)
        self.submitted.append(name)
        return name

    def _mine(self, cron: str, ns: str) -> dict[str, dict[str, Any]]:
        return {n: w for n, w in self.workflows.items() if (w["cron"], w["ns"]) == (cron, ns)}

    def active(self, cron_name: str, namespace: str) -> list[str]:
        mine = self._mine(cron_name, namespace)
        return [n for n, w in mine.items() if w["phase"] == "Running"]

    def history(self, cron_name: str, namespace: str) -> list[tuple[str, str, datetime]]:
        mine = self._mine(cron_name, namespace).items()
        return [(n, w["phase"], w["finishedAt"]) for n, w in mine if w["phase"] != "Running"]

    def finish(self, name: str, phase: str) -> None:
        self.workflows[name].update(phase=phase, finishedAt=self.clock.now())

    async def stop(self, namespace: str, name: str) -> None:
        self.stopped.append(name)
        self.finish(name, "Failed")

    async def delete(self, namespace: str, name: str) -> None:
        self.deleted.append(name)
        del self.workflows[name]

    def load_state(self, key: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.states.get(key))

    def save_state(self, key: str, state: dict[str, Any]) -> None:
        self.states[key] = copy.deepcopy(state)


def cron(**spec: Any) -> dict[str, Any]:
    spec.setdefault("schedule", "* * * * *")
    spec["workflowSpec"] = {"entrypoint": "main", "templates": [{"name": "main"}]}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "job", "namespace": "default", "labels": {"team": "data"}},
        "spec": spec,
    }


def start(spec: dict[str, Any], now: str = "10:00:30") -> tuple[CronScheduler, FakeRuntime]:
    clock = FakeClock(at(now))
    runtime = FakeRuntime(clock)
    scheduler = CronScheduler(runtime, clock)
    scheduler.add(cron(**spec))
    return scheduler, runtime


async def tick(scheduler: CronScheduler, text: str) -> list[str]:
    assert isinstance(scheduler.clock, FakeClock)
    scheduler.clock.current = at(text)
    return await scheduler.tick(at(text))


def restart(runtime: FakeRuntime, spec: dict[str, Any], now: str) -> CronScheduler:
    """A new scheduler over the same runtime and persisted state, started at ``now``."""
    runtime.clock.current = at(now)
    scheduler = CronScheduler(runtime, runtime.clock)
    scheduler.add(cron(**spec))
    return scheduler


SCHEDULES = [
    ("every-minute", {}, ["10:01", "10:01:30", "10:02", "10:03"], ["10:01", "10:02", "10:03"]),
    ("tick-a-little-late", {}, ["10:01:05", "10:02:09"], ["10:01", "10:02"]),
    (
        "multiple-schedules",
        {"schedule": None, "schedules": ["0 * * * *", "30 * * * *"]},
        ["10:30", "11:00", "11:15", "11:30"],
        ["10:30", "11:00", "11:30"],
    ),
    (
        "two-schedules-one-instant",
        {"schedule": None, "schedules": ["0 * * * *", "*/30 * * * *"]},
        ["10:30", "11:00"],
        ["10:30", "11:00"],
    ),
    (
        "timezone-winter",
        {"schedule": "0 9 * * *", "timezone": "America/New_York"},
        ["13:59", "14:00", "23:59"],
        ["14:00"],
    ),
    (
        "timezone-summer",
        {"schedule": "0 9 * * *", "timezone": "America/New_York"},
        ["2024-07-15T12:00", "2024-07-15T13:00", "2024-07-15T14:00"],
        ["2024-07-15T13:00"],
    ),
    ("cron-tz-prefix", {"schedule": "CRON_TZ=America/New_York 0 9 * * *"}, ["14:00"], ["14:00"]),
    ("descriptor", {"schedule": "@hourly"}, ["10:59", "11:00"], ["11:00"]),
    ("suspend", {"suspend": True}, ["10:01", "10:02"], []),
    ("paused-host-no-deadline", {}, ["10:01", "10:05:20"], ["10:01"]),
    (
        "paused-host-within-deadline",
        {"startingDeadlineSeconds": 30},
        ["10:01", "10:05:20"],
        ["10:01", "10:05"],
    ),
    ("when-false", {"when": "false"}, ["10:01", "10:02"], []),
    ("when-expr", {"when": "cronworkflow.labels.team == 'data'"}, ["10:01"], ["10:01"]),
    (
        "when-argo-tag-first-run-only",
        {"when": "{{= cronworkflow.lastScheduledTime == nil }}"},
        ["10:01", "10:02", "10:03"],
        ["10:01"],
    ),
]


@pytest.mark.parametrize(
    ("spec", "ticks", "expected"), [c[1:] for c in SCHEDULES], ids=[c[0] for c in SCHEDULES]
)
async def test_fires_what_is_due(
    spec: dict[str, Any], ticks: list[str], expected: list[str]
) -> None:
    first = at(ticks[0]) - timedelta(minutes=30)
    scheduler, runtime = start(spec, now=first.isoformat())
    for text in ticks:  # every run stays Running: the default policy, Allow, lets them overlap
        await tick(scheduler, text)
    assert runtime.submitted == [run_name(t) for t in expected]


RESTARTS = [
    ("no-deadline", {}, ["10:05:20"], []),
    ("within-deadline", {"startingDeadlineSeconds": 30}, ["10:05:20"], ["10:05"]),
    ("outside-deadline", {"startingDeadlineSeconds": 10}, ["10:05:20"], []),
    ("zero-deadline", {"startingDeadlineSeconds": 0}, ["10:05:20"], []),
    ("deadline-shorter-than-tolerance", {"startingDeadlineSeconds": 5}, ["10:05:07"], []),
    ("up-before-the-minute", {}, ["10:04:59", "10:05"], ["10:05"]),
]


@pytest.mark.parametrize(
    ("spec", "ticks", "expected"), [c[1:] for c in RESTARTS], ids=[c[0] for c in RESTARTS]
)
async def test_missed_runs_after_downtime(
    spec: dict[str, Any], ticks: list[str], expected: list[str]
) -> None:
    scheduler, runtime = start(spec)
    assert await tick(scheduler, "10:01") == [run_name("10:01")]
    # down from just after 10:01 until ticks[0]: at most the latest missed time runs
    scheduler = restart(runtime, spec, ticks[0])
    for text in ticks:
        await tick(scheduler, text)
    assert runtime.submitted == [run_name(t) for t in ["10:01", *expected]]
    assert await tick(scheduler, "10:06") == [run_name("10:06")]


async def test_changed_schedule_runs_no_missed_time() -> None:
    scheduler, runtime = start({"startingDeadlineSeconds": 600})
    await tick(scheduler, "10:01")
    scheduler = restart(
        runtime, {"schedule": "*/2 * * * *", "startingDeadlineSeconds": 600}, "10:05"
    )
    assert await scheduler.tick(at("10:05:30")) == []
    assert await tick(scheduler, "10:06") == [run_name("10:06")]


@pytest.mark.parametrize("lost_save", [False, True], ids=["state-saved", "last-save-lost"])
async def test_restart_never_runs_a_time_twice(lost_save: bool) -> None:
    spec = {"startingDeadlineSeconds": 60}
    scheduler, runtime = start(spec)
    await tick(scheduler, "10:01")
    before = copy.deepcopy(runtime.states)
    await tick(scheduler, "10:02")
    if lost_save:  # crashed after submitting 10:02 but before saving: 10:02 looks missed
        runtime.states = before
    scheduler = restart(runtime, spec, "10:02:20")
    assert await scheduler.tick(at("10:02:20")) == []
    await tick(scheduler, "10:02:40")
    assert runtime.submitted == [run_name("10:01"), run_name("10:02")]
    status = scheduler.status_of("default", "job")  # an existing run is not a failure
    assert (status["conditions"], status["failed"]) == ([], 0)
    assert status["lastScheduledTime"] == "2024-01-15T10:02:00Z"


@pytest.mark.parametrize(
    ("policy", "submitted", "stopped"),
    [
        (None, ["10:01", "10:02"], []),
        ("Allow", ["10:01", "10:02"], []),
        ("Forbid", ["10:01"], []),
        ("Replace", ["10:01", "10:02"], ["10:01"]),
    ],
    ids=["default", "allow", "forbid", "replace"],
)
async def test_concurrency_policy_with_an_active_run(
    policy: str | None, submitted: list[str], stopped: list[str]
) -> None:
    scheduler, runtime = start({"concurrencyPolicy": policy} if policy else {})
    await tick(scheduler, "10:01")
    await tick(scheduler, "10:02")
    assert runtime.submitted == [run_name(t) for t in submitted]
    assert runtime.stopped == [run_name(t) for t in stopped]


async def test_forbid_runs_again_once_the_active_run_finished() -> None:
    scheduler, runtime = start({"concurrencyPolicy": "Forbid"})
    await tick(scheduler, "10:01")
    runtime.finish(run_name("10:01"), "Succeeded")
    assert await tick(scheduler, "10:02") == [run_name("10:02")]


HISTORY = [  # runs at 10:01..10:06 end Succeeded, Failed, Succeeded, Succeeded, Succeeded, Failed
    ("defaults-3-and-1", None, None, [1, 2]),
    ("custom", 1, 2, [1, 3, 4]),
    ("zero-keeps-none", 0, 0, [1, 2, 3, 4, 5, 6]),
    ("negative-means-default", -1, None, [1, 2]),
]


@pytest.mark.parametrize(
    ("successful", "failed", "deleted"), [c[1:] for c in HISTORY], ids=[c[0] for c in HISTORY]
)
async def test_history_limits_delete_the_oldest(
    successful: int | None, failed: int | None, deleted: list[int]
) -> None:
    limits = {"successfulJobsHistoryLimit": successful, "failedJobsHistoryLimit": failed}
    scheduler, runtime = start({k: v for k, v in limits.items() if v is not None})
    phases = ["Succeeded", "Failed", "Succeeded", "Succeeded", "Succeeded", "Failed"]
    for minute, phase in enumerate(phases, start=1):
        await tick(scheduler, f"10:0{minute}")
        await tick(scheduler, f"10:0{minute}:30")
        runtime.finish(run_name(f"10:0{minute}"), phase)
    await tick(scheduler, "10:06:40")
    assert sorted(runtime.deleted) == [run_name(f"10:0{minute}") for minute in deleted]
    status = scheduler.status_of("default", "job")
    assert (status["succeeded"], status["failed"]) == (4, 2)


@pytest.mark.parametrize(
    ("expression", "outcomes", "fired"),
    [
        ("cronworkflow.failed >= 2", ["Failed", "Succeeded", "Failed"], 3),
        ("cronworkflow.succeeded >= 1", ["Succeeded"], 1),
        ("cronworkflow.failed >= 5", ["Failed"] * 4, 5),
    ],
    ids=["two-failures", "one-success", "not-reached"],
)
async def test_stop_strategy(expression: str, outcomes: list[str], fired: int) -> None:
    scheduler, runtime = start({"stopStrategy": {"expression": expression}})
    for minute in range(1, 6):
        await tick(scheduler, f"10:0{minute}")
        name = run_name(f"10:0{minute}")
        if name in runtime.workflows and minute <= len(outcomes):
            runtime.finish(name, outcomes[minute - 1])
    assert len(runtime.submitted) == fired
    stopped = fired < 5
    assert scheduler.status_of("default", "job")["phase"] == ("Stopped" if stopped else "Active")


async def test_when_false_keeps_last_scheduled_time_and_is_not_missed_later() -> None:
    spec = {"when": "cronworkflow.succeeded == 0", "startingDeadlineSeconds": 120}
    scheduler, runtime = start(spec)
    await tick(scheduler, "10:01")
    runtime.finish(run_name("10:01"), "Succeeded")
    assert await tick(scheduler, "10:02") == []  # skipped by `when`
    assert scheduler.status_of("default", "job")["lastScheduledTime"] == "2024-01-15T10:01:00Z"
    scheduler = restart(runtime, {**spec, "when": None}, "10:02:30")
    assert await scheduler.tick(at("10:02:30")) == []  # 10:02 was evaluated, not missed


async def test_when_that_fails_to_evaluate_is_a_submission_error() -> None:
    scheduler, _ = start({"when": "{{= cronworkflow.nosuch.field > 1 }}"})
    assert await tick(scheduler, "10:01") == []
    status = scheduler.status_of("default", "job")
    assert [c["type"] for c in status["conditions"]] == ["SubmissionError"]
    assert status["failed"] == 1  # as Argo counts it


async def test_status_has_argo_shape() -> None:
    scheduler, _ = start({})
    await tick(scheduler, "10:01")
    assert scheduler.status_of("default", "job") == {
        "active": [
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Workflow",
                "name": run_name("10:01"),
                "namespace": "default",
            }
        ],
        "conditions": [],
        "lastScheduledTime": "2024-01-15T10:01:00Z",
        "succeeded": 0,
        "failed": 0,
        "phase": "Active",
    }


def test_build_workflow() -> None:
    manifest = cron(workflowMetadata={"labels": {"a": "b"}, "annotations": {"note": "x"}})
    scheduled = datetime(2024, 1, 15, 9, 0, tzinfo=ZoneInfo("America/New_York"))
    wf = build_workflow(CronWorkflow.model_validate(manifest), scheduled)
    assert wf["apiVersion"] == "argoproj.io/v1alpha1"
    assert wf["kind"] == "Workflow"
    assert wf["metadata"] == {
        "name": f"job-{int(at('14:00').timestamp())}",
        "namespace": "default",
        "labels": {"a": "b", LABEL_CRON: "job"},
        "annotations": {"note": "x", ANNOTATION_SCHEDULED: "2024-01-15T09:00:00-05:00"},
    }
    assert wf["spec"] == manifest["spec"]["workflowSpec"]


@pytest.mark.parametrize(
    ("schedule", "since", "expected"),
    [
        ("0 2 * * *", "2020-03-07T00:00", ["2020-03-07T02:00", "2020-03-09T02:00"]),
        ("59 1 * * *", "2020-11-01T00:00", ["2020-11-01T01:59", "2020-11-01T01:59+1"]),
    ],
    ids=["spring-forward-skips", "fall-back-runs-twice"],
)
async def test_daylight_saving_as_argo(schedule: str, since: str, expected: list[str]) -> None:
    la = ZoneInfo("America/Los_Angeles")
    local = [
        datetime.fromisoformat(t.removesuffix("+1")).replace(tzinfo=la, fold=t.endswith("+1"))
        for t in expected
    ]
    scheduler, runtime = start({"schedule": schedule, "timezone": "America/Los_Angeles"}, since)
    for _ in expected:
        nxt = scheduler.next_time("default", "job")
        assert nxt is not None
        await tick(scheduler, nxt.isoformat())
    assert runtime.submitted == [f"job-{int(t.timestamp())}" for t in local]


INVALID = [
    (
        "bad-field",
        {"schedule": None, "schedules": ["* * * * *", "61 * * * *"]},
        "spec.schedules[1]: invalid cron expression '61 * * * *'",
    ),
    ("four-fields", {"schedule": "* * * *"}, "spec.schedule: invalid cron expression '* * * *'"),
    ("six-fields", {"schedule": "0 * * * * *"}, "spec.schedule: invalid cron expression"),
    ("every", {"schedule": "@every 1h"}, "spec.schedule: invalid cron expression '@every 1h'"),
    ("never", {"schedule": "0 0 31 2 *"}, "spec.schedule: invalid cron expression '0 0 31 2 *'"),
    ("timezone", {"timezone": "Mars/Olympus"}, "spec.timezone: unknown timezone 'Mars/Olympus'"),
    (
        "cron-tz",
        {"schedule": "CRON_TZ=Nowhere/City 0 9 * * *"},
        "spec.schedule: unknown timezone 'Nowhere/City'",
    ),
    ("none", {"schedule": None}, "spec.schedules: a CronWorkflow needs at least one schedule"),
    ("both", {"schedules": ["0 * * * *"]}, "spec.schedules: cannot be used together"),
    ("policy", {"concurrencyPolicy": "Sometimes"}, "spec.concurrencyPolicy: must be one of"),
    ("stop", {"stopStrategy": {"expression": "failed >="}}, "spec.stopStrategy.expression:"),
]


@pytest.mark.parametrize(("spec", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_spec_is_a_spec_error(spec: dict[str, Any], message: str) -> None:
    clock = FakeClock(at("10:00"))
    scheduler = CronScheduler(FakeRuntime(clock), clock)
    with pytest.raises(SpecError) as caught:
        scheduler.add(cron(**spec))
    assert message in str(caught.value)


def test_name_too_long_for_the_run_suffix() -> None:
    manifest = cron()
    manifest["metadata"]["name"] = "x" * 53
    clock = FakeClock(at("10:00"))
    with pytest.raises(SpecError, match=r"metadata\.name: must be 1 to 52 characters"):
        CronScheduler(FakeRuntime(clock), clock).add(manifest)


async def settle(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the scheduler loop did not get there")


async def test_run_sleeps_on_the_clock_until_each_minute() -> None:
    clock = FakeClock(at("10:00:30"), budget=15)  # 3 sleeps to 10:01, then 6 a minute
    runtime = FakeRuntime(clock)
    scheduler = CronScheduler(runtime, clock)
    scheduler.add(cron())
    task = asyncio.create_task(scheduler.run())
    await settle(lambda: len(clock.sleeps) > clock.budget)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert runtime.submitted == [run_name(t) for t in ["10:01", "10:02", "10:03"]]
    assert max(clock.sleeps) <= 10  # finished runs are counted every sync period


async def test_run_wakes_when_a_cron_workflow_is_added() -> None:
    clock = FakeClock(at("10:00:58"), budget=0)
    scheduler = CronScheduler(FakeRuntime(clock), clock)
    task = asyncio.create_task(scheduler.run())
    await settle(lambda: clock.sleeps == [10.0])
    scheduler.add(cron())
    await settle(lambda: clock.sleeps == [10.0, 2.0])
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_unknown_and_duplicate_cron_workflows() -> None:
    clock = FakeClock(at("10:00"))
    scheduler = CronScheduler(FakeRuntime(clock), clock)
    scheduler.add(cron())
    with pytest.raises(ConflictError):
        scheduler.add(cron())
    scheduler.remove("default", "job", forget=True)
    with pytest.raises(Exception, match="not found"):
        scheduler.status_of("default", "job")

"""The pod scheduler: each limit alone and together, order, fairness, rate limit, cancellation."""

from __future__ import annotations

import asyncio
import heapq
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.scheduler import (
    PodRequest,
    Scheduler,
    Slot,
    Unschedulable,
    format_memory,
    parse_cpu,
    parse_memory,
)

GI = 1 << 30
MI = 1 << 20
BIG = {"cpu_millis": 64_000, "memory_bytes": 64 * GI}  # capacity no test runs into by accident


class ManualClock:
    """Time moves only when the test says so; sleepers wake when their deadline is passed."""

    def __init__(self) -> None:
        self.t = datetime(2024, 1, 1, tzinfo=UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._n = 0

    def now(self) -> datetime:
        return self.t

    async def sleep(self, seconds: float) -> None:
        fut = asyncio.get_running_loop().create_future()
        self._n += 1
        heapq.heappush(self._sleepers, (self.t + timedelta(seconds=seconds), self._n, fut))
        await fut

    async def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)
        while self._sleepers and self._sleepers[0][0] <= self.t:
            fut = heapq.heappop(self._sleepers)[2]
            if not fut.done():
                fut.set_result(None)
        await settle()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


class Pods:
    """Submits labelled pods to a scheduler and records the order in which they start."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.slots: dict[str, Slot] = {}
        self.order: list[str] = []
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.requests: dict[str, PodRequest] = {}

    async def submit(self, label: str, req: PodRequest) -> None:
        self.requests[label] = req
        self.tasks[label] = asyncio.create_task(self._admit(label, req))
        await settle()

    async def submit_many(self, items: list[tuple[str, PodRequest]]) -> None:
        for label, req in items:
            self.requests[label] = req
            self.tasks[label] = asyncio.create_task(self._admit(label, req))
        await settle()

    async def _admit(self, label: str, req: PodRequest) -> None:
        self.slots[label] = await self.scheduler.admit(req)
        self.order.append(label)

    async def release(self, label: str) -> list[str]:
        """Release a running pod; returns the pods that started because of it."""
        before = len(self.order)
        self.scheduler.release(self.slots.pop(label))
        await settle()
        return self.order[before:]

    @property
    def running(self) -> set[str]:
        return set(self.slots)

    @property
    def waiting(self) -> list[PodRequest]:
        return [self.requests[p] for p, t in self.tasks.items() if not t.done()]


def req(wf: str = "wf", ns: str = "default", **kw: Any) -> PodRequest:
    return PodRequest(workflow_uid=wf, namespace=ns, **kw)


# ---- each limit alone, and combined -----------------------------------------------------------
LIMITS = [
    ("parallelism", {"parallelism": 2}, [("a", req()), ("b", req()), ("c", req())], {"a", "b"}),
    (
        "namespace",
        {"namespace_parallelism": 1},
        [("a1", req("w1", "a")), ("a2", req("w2", "a")), ("b1", req("w3", "b"))],
        {"a1", "b1"},
    ),
    (
        "workflow",
        {"workflow_limits": {"w1": 1}},
        [("x1", req("w1")), ("x2", req("w1")), ("y1", req("w2")), ("y2", req("w2"))],
        {"x1", "y1", "y2"},
    ),
    (
        "cpu",
        {"cpu_millis": 2000},
        [(p, req(cpu_millis=parse_cpu("800m"))) for p in "abc"],
        {"a", "b"},
    ),
    (
        "memory",
        {"memory_bytes": GI},
        [(p, req(memory_bytes=parse_memory("400Mi"))) for p in "abc"],
        {"a", "b"},
    ),
    (
        "combined",
        {"parallelism": 4, "namespace_parallelism": 2, "cpu_millis": 2500,
         "workflow_limits": {"w1": 1}},
        [("a1", req("w1", "a", cpu_millis=500)), ("a2", req("w1", "a", cpu_millis=500)),
         ("a3", req("w2", "a", cpu_millis=500)), ("a4", req("w2", "a", cpu_millis=500)),
         ("b1", req("w3", "b", cpu_millis=1000)), ("b2", req("w3", "b", cpu_millis=1000)),
         ("c1", req("w4", "c", cpu_millis=100))],
        # w1 is at its limit, then namespace a is; b2 would pass 2500m; c1 (its workflow has
        # nothing running) goes before b2 (its workflow has b1 running) and fits
        {"a1", "a3", "b1", "c1"},
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("config", "pods", "first"), [x[1:] for x in LIMITS], ids=[x[0] for x in LIMITS]
)
async def test_limit_holds_and_release_starts_the_next(
    config: dict[str, Any], pods: list[tuple[str, PodRequest]], first: set[str]
) -> None:
    config = {**BIG, **config}
    limits = config.pop("workflow_limits", {})
    scheduler = Scheduler(**config)
    for uid, limit in limits.items():
        scheduler.set_workflow_parallelism(uid, limit)
    pods_ = Pods(scheduler)
    await pods_.submit_many(pods)
    assert pods_.running == first
    assert scheduler.stats()["waiting"] == len(pods) - len(first)
    started: list[str] = []
    while pods_.running:
        started += await pods_.release(sorted(pods_.running)[0])
    assert sorted(started) == sorted({p for p, _ in pods} - first)
    stats = scheduler.stats()
    assert (stats["running"], stats["waiting"], stats["cpu_millis"]["used"]) == (0, 0, 0)


async def test_combined_limits_hold_under_random_load() -> None:
    """Random admissions and releases. After each step every limit holds, and while there is
    room for any pod, every waiting pod is held by its workflow's or its namespace's limit."""
    rng = random.Random(7)
    scheduler = Scheduler(parallelism=6, namespace_parallelism=4, cpu_millis=4000,
                          memory_bytes=4 * GI)  # fmt: skip
    limits = {f"w{i}": rng.choice([None, 1, 2, 3]) for i in range(8)}
    for uid, limit in limits.items():
        scheduler.set_workflow_parallelism(uid, limit)
    pods = Pods(scheduler)
    for step in range(300):
        if pods.running and rng.random() < 0.45:
            await pods.release(rng.choice(sorted(pods.running)))
        else:
            wf = rng.choice(sorted(limits))
            r = req(wf, f"ns{int(wf[1:]) % 3}", cpu_millis=rng.choice([0, 250, 1000, 2000]),
                    memory_bytes=rng.choice([0, 100 * MI, GI]))  # fmt: skip
            await pods.submit(f"p{step}", r)
        stats = scheduler.stats()
        running = [pods.slots[p].request for p in pods.running]
        assert stats["running"] == len(running) <= 6
        for ns in {r.namespace for r in running}:
            assert sum(r.namespace == ns for r in running) <= 4
        for uid, limit in limits.items():
            assert sum(r.workflow_uid == uid for r in running) <= (limit or 99)
        assert sum(r.cpu_millis for r in running) == stats["cpu_millis"]["used"] <= 4000
        assert sum(r.memory_bytes for r in running) == stats["memory_bytes"]["used"] <= 4 * GI
        assert stats["waiting"] == len(pods.waiting)
        room = (
            len(running) < 6
            and stats["cpu_millis"]["used"] <= 4000 - 2000
            and stats["memory_bytes"]["used"] <= 4 * GI - GI
        )
        if room:
            for r in pods.waiting:
                held_by_workflow = stats["workflows"][r.workflow_uid]["running"] >= (
                    limits[r.workflow_uid] or 99
                )
                held_by_namespace = stats["namespaces"].get(r.namespace, 0) >= 4
                assert held_by_workflow or held_by_namespace, r
    for task in pods.tasks.values():
        task.cancel()
    await settle()
    while pods.running:
        await pods.release(sorted(pods.running)[0])
    assert scheduler.stats()["waiting"] == 0
    assert scheduler.stats()["cpu_millis"]["used"] == 0


# ---- unschedulable ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (req(cpu_millis=4000), "pod requests cpu 4000m, more than the executor's capacity 2000m"),
        (
            req(memory_bytes=3 * GI),
            "pod requests memory 3Gi, more than the executor's capacity 2Gi",
        ),
    ],
    ids=["cpu", "memory"],
)
async def test_a_pod_bigger_than_the_capacity_is_unschedulable_at_once(
    request_: PodRequest, message: str
) -> None:
    scheduler = Scheduler(cpu_millis=2000, memory_bytes=2 * GI, parallelism=1)
    with pytest.raises(Unschedulable) as info:
        await scheduler.admit(request_)
    assert str(info.value) == message
    assert scheduler.stats()["waiting"] == 0
    slot = await scheduler.admit(req(cpu_millis=2000, memory_bytes=2 * GI))  # exactly fits
    scheduler.release(slot)


def test_default_capacity_is_the_machine() -> None:
    import os

    stats = Scheduler().stats()
    assert stats["cpu_millis"]["capacity"] == (os.cpu_count() or 1) * 1000
    assert stats["memory_bytes"]["capacity"] > 64 * MI


@pytest.mark.parametrize(
    "kwargs",
    [{"parallelism": -1}, {"rate_limit": (0.0, 1)}, {"rate_limit": (1.0, 0)}, {"cpu_millis": 0}],
    ids=["negative-parallelism", "zero-rate", "zero-burst", "zero-cpu"],
)
def test_invalid_configuration_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Scheduler(**kwargs)


# ---- ordering ---------------------------------------------------------------------------------
async def test_higher_priority_starts_first() -> None:
    pods = Pods(Scheduler(parallelism=1, **BIG))
    await pods.submit("blocker", req("w0"))
    await pods.submit_many(
        [
            ("low", req("w1", priority=0, created=1.0)),
            ("high", req("w2", priority=5, created=9.0)),
            ("mid", req("w3", priority=2, created=5.0)),
        ]
    )
    order = []
    for label in ["blocker", "high", "mid"]:
        order += await pods.release(label)
    assert order == ["high", "mid", "low"]


async def test_fifo_within_a_workflow_and_by_creation_across_workflows() -> None:
    pods = Pods(Scheduler(parallelism=1, **BIG))
    await pods.submit("blocker", req("w0", created=0.0))
    await pods.submit_many([(f"late{i}", req("late", created=20.0)) for i in range(2)])
    await pods.submit_many([(f"early{i}", req("early", created=10.0)) for i in range(2)])
    order = []
    for _ in range(5):
        order += await pods.release(next(iter(pods.running)))
    # earliest created first, then the two workflows take turns; each keeps its arrival order
    assert order == ["early0", "late0", "early1", "late1"]


async def test_a_huge_fan_out_does_not_starve_a_small_workflow_submitted_later() -> None:
    pods = Pods(Scheduler(parallelism=4, **BIG))
    await pods.submit_many([(f"big{i}", req("big", created=1.0)) for i in range(1000)])
    assert len(pods.running) == 4
    await pods.submit_many([(f"small{i}", req("small", created=2.0)) for i in range(2)])
    started = []
    for _ in range(4):
        started += await pods.release(sorted(pods.running)[0])
    assert {"small0", "small1"} <= set(started)
    assert scheduler_waiting(pods) == 1000 - 4 - 2


async def test_workflows_take_turns_when_one_slot_is_shared() -> None:
    pods = Pods(Scheduler(parallelism=1, **BIG))
    await pods.submit_many([(f"big{i}", req("big", created=1.0)) for i in range(50)])
    await pods.submit_many([(f"small{i}", req("small", created=2.0)) for i in range(2)])
    order: list[str] = []
    for _ in range(5):
        order += await pods.release(next(iter(pods.running)))
    assert pods.order[0] == "big0"
    assert order == ["small0", "big1", "small1", "big2", "big3"]


def scheduler_waiting(pods: Pods) -> int:
    return int(pods.scheduler.stats()["waiting"])


async def test_the_next_pod_keeps_its_place_until_its_cpu_is_free() -> None:
    """No backfill: a big pod first in line is not overtaken by smaller ones behind it."""
    pods = Pods(Scheduler(cpu_millis=2000, memory_bytes=GI))
    await pods.submit("small0", req("w1", cpu_millis=1000, created=1.0))
    await pods.submit("large", req("w2", cpu_millis=2000, created=2.0))
    await pods.submit("small1", req("w3", cpu_millis=500, created=3.0))
    assert pods.running == {"small0"}
    assert await pods.release("small0") == ["large"]
    assert await pods.release("large") == ["small1"]


async def test_a_workflow_at_its_limit_does_not_block_others() -> None:
    scheduler = Scheduler(parallelism=3, **BIG)
    scheduler.set_workflow_parallelism("w1", 1)
    pods = Pods(scheduler)
    await pods.submit_many([(f"x{i}", req("w1", created=1.0)) for i in range(3)])
    await pods.submit_many([(f"y{i}", req("w2", created=2.0)) for i in range(3)])
    assert pods.running == {"x0", "y0", "y1"}
    scheduler.set_workflow_parallelism("w1", 2)  # raised while running; parallelism is full
    await settle()
    assert pods.running == {"x0", "y0", "y1"}
    assert await pods.release("y0") == ["x1"]  # w1 and w2 run one each; w1 was served longer ago
    assert await pods.release("y1") == ["y2"]  # w1 is at its new limit of 2


# ---- rate limit ------------------------------------------------------------------------------
async def test_rate_limit_allows_a_burst_then_the_rate() -> None:
    clock = ManualClock()
    pods = Pods(Scheduler(rate_limit=(2.0, 3), clock=clock, **BIG))
    await pods.submit_many([(f"p{i}", req(created=float(i))) for i in range(6)])
    assert pods.order == ["p0", "p1", "p2"]  # the burst
    await clock.advance(0.25)
    assert pods.order == ["p0", "p1", "p2"]
    await clock.advance(0.25)  # 2 per second: one token every 0.5 s
    assert pods.order == ["p0", "p1", "p2", "p3"]
    await clock.advance(1.0)  # two tokens accrued since p3 started
    assert pods.order == ["p0", "p1", "p2", "p3", "p4", "p5"]
    assert scheduler_waiting(pods) == 0


async def test_rate_limit_refills_while_idle_up_to_the_burst() -> None:
    clock = ManualClock()
    pods = Pods(Scheduler(rate_limit=(1.0, 2), clock=clock, **BIG))
    await pods.submit_many([(f"a{i}", req()) for i in range(2)])
    await clock.advance(60)  # idle: the bucket refills to 2, not 60
    await pods.submit_many([(f"b{i}", req()) for i in range(3)])
    assert pods.order == ["a0", "a1", "b0", "b1"]
    await clock.advance(1.0)
    assert pods.order[-1] == "b2"


# ---- cancellation -----------------------------------------------------------------------------
async def test_cancelling_a_waiting_admit_leaks_nothing() -> None:
    scheduler = Scheduler(parallelism=1, **BIG)
    pods = Pods(scheduler)
    await pods.submit_many([("a", req("w1")), ("b", req("w2")), ("c", req("w3"))])
    pods.tasks["b"].cancel()
    await settle()
    assert scheduler.stats()["waiting"] == 1
    assert await pods.release("a") == ["c"]
    await pods.release("c")
    assert scheduler.stats()["running"] == 0


async def test_cancelled_right_after_the_grant_gives_the_slot_back() -> None:
    scheduler = Scheduler(parallelism=1, **BIG)
    pods = Pods(scheduler)
    await pods.submit_many([("a", req("w1")), ("b", req("w2")), ("c", req("w3"))])
    scheduler.release(pods.slots.pop("a"))  # grants b; b's task has not resumed yet
    pods.tasks["b"].cancel()
    await settle()
    assert pods.order == ["a", "c"]
    assert scheduler.stats()["running"] == 1


async def test_cancelling_the_pod_that_held_cpu_in_reserve_lets_the_others_go() -> None:
    scheduler = Scheduler(cpu_millis=2000, memory_bytes=GI)
    pods = Pods(scheduler)
    await pods.submit("small0", req("w1", cpu_millis=1000, created=1.0))
    await pods.submit("large", req("w2", cpu_millis=2000, created=2.0))
    await pods.submit("small1", req("w3", cpu_millis=1000, created=3.0))
    assert pods.running == {"small0"}
    pods.tasks["large"].cancel()
    await settle()
    assert pods.running == {"small0", "small1"}


async def test_cancelling_every_waiter_stops_the_rate_limit_timer() -> None:
    clock = ManualClock()
    scheduler = Scheduler(rate_limit=(1.0, 1), clock=clock, **BIG)
    pods = Pods(scheduler)
    await pods.submit_many([("a", req()), ("b", req())])
    timer = scheduler._timer
    assert timer is not None
    pods.tasks["b"].cancel()
    await settle()
    assert timer.cancelled()
    assert scheduler.stats()["waiting"] == 0


async def test_hold_releases_on_error_and_forget_drops_the_workflow() -> None:
    scheduler = Scheduler(parallelism=1, **BIG)
    scheduler.set_workflow_parallelism("w1", 1)
    with pytest.raises(RuntimeError):
        async with scheduler.hold(req("w1")):
            assert scheduler.stats()["running"] == 1
            raise RuntimeError("pod failed")
    assert scheduler.stats()["running"] == 0
    slot = await scheduler.admit(req("w1"))
    scheduler.forget("w1")
    assert "w1" in scheduler.stats()["workflows"]  # still has a running pod
    scheduler.release(slot)
    scheduler.release(slot)  # twice is harmless
    assert scheduler.stats()["workflows"] == {}
    assert scheduler.stats()["running"] == 0


# ---- scale ------------------------------------------------------------------------------------
async def test_five_thousand_waiting_pods_across_two_hundred_workflows_drain_fairly() -> None:
    scheduler = Scheduler(parallelism=8, namespace_parallelism=6, **BIG)
    for w in range(0, 200, 7):
        scheduler.set_workflow_parallelism(f"w{w}", 1)
    pods = Pods(scheduler)
    await pods.submit_many(
        [(f"w{w}-{i}", req(f"w{w}", f"ns{w % 4}", created=float(w))) for w in range(200)
         for i in range(25)]
    )  # fmt: skip
    while pods.running:
        for label in sorted(pods.running):
            scheduler.release(pods.slots.pop(label))
        await settle()
    assert len(pods.order) == 5000
    assert scheduler.stats()["waiting"] == 0
    # Once the first 8 arrivals have filled the free slots, the workflows take turns: every
    # workflow starts a pod before any workflow starts its third.
    queued = pods.order[8:]
    firsts: dict[str, int] = {}
    for n, label in enumerate(queued):
        firsts.setdefault(label.split("-")[0], n)
    assert len(firsts) == 200
    third_of_any = min(n for n, label in enumerate(queued) if label.endswith("-2"))
    assert max(firsts.values()) < third_of_any


# ---- quantities -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "millis"),
    [("500m", 500), ("2", 2000), (2, 2000), ("0.5", 500), (0.25, 250), ("1.5", 1500),
     ("100u", 1), ("1e3", 1_000_000), ("1k", 1_000_000), (" 250m ", 250), ("0", 0), (".1", 100)],
    ids=lambda v: repr(v),
)  # fmt: skip
def test_parse_cpu(value: str | int | float, millis: int) -> None:
    assert parse_cpu(value) == millis


@pytest.mark.parametrize(
    ("value", "size"),
    [("64Mi", 64 * MI), ("1G", 10**9), ("1Gi", GI), ("128974848", 128974848), (1024, 1024),
     ("129e6", 129_000_000), ("123Ki", 123 * 1024), ("1.5Gi", 3 * GI // 2), ("500m", 1),
     ("1Ti", 1 << 40), ("2k", 2000), ("0", 0)],
    ids=lambda v: repr(v),
)  # fmt: skip
def test_parse_memory(value: str | int, size: int) -> None:
    assert parse_memory(value) == size


@pytest.mark.parametrize(
    "value", ["", "abc", "1.2.3", "-1", "5x", "1 Gi", "Mi", True, None, float("inf"), "1mi"],
    ids=lambda v: repr(v),
)  # fmt: skip
def test_invalid_quantities_are_errors(value: Any) -> None:
    with pytest.raises(ValueError, match="invalid"):
        parse_cpu(value)
    with pytest.raises(ValueError, match="invalid"):
        parse_memory(value)


@pytest.mark.parametrize(
    ("size", "text"),
    [(512, "512"), (64 * MI, "64Mi"), (3 * GI, "3Gi"), (int(7.6 * GI), "7.6Gi")],
    ids=["bytes", "mi", "gi", "fraction"],
)
def test_format_memory(size: int, text: str) -> None:
    assert format_memory(size) == text

"""Mutexes and semaphores: exclusion, queue order, atomic multi-lock, cancellation, messages."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine.sync import Lease, SyncManager

CM = "my-config"
SEM: dict[str, Any] = {"semaphore": {"configMapKeyRef": {"name": CM, "key": "workflow"}}}
SEM_KEY = "default/ConfigMap/my-config/workflow"


def mutexes(*names: str) -> dict[str, Any]:
    return {"mutexes": [{"name": n} for n in names]}


def waiting_msg(key: str, free: int, limit: int) -> str:
    return f"Waiting for {key} lock. Lock status: {free}/{limit}"


class Harness:
    """A manager over a mutable limit table; ``wait`` returns once the acquire is queued."""

    def __init__(self, **limits: object) -> None:
        self.limits: dict[tuple[str, str, str], object] = {
            ("default", CM, k): v for k, v in limits.items()
        }
        self.calls: list[tuple[str, str, str]] = []
        self.mgr = SyncManager(self._limit)
        self.messages: dict[str, list[str]] = {}

    def _limit(self, ns: str, cm: str, key: str) -> int:
        self.calls.append((ns, cm, key))
        return self.limits[(ns, cm, key)]  # type: ignore[return-value]

    async def take(self, holder: str, sync: dict[str, Any], **kw: Any) -> Lease:
        return await self.mgr.acquire(holder, "default", sync, **kw)

    async def wait(self, holder: str, sync: dict[str, Any], **kw: Any) -> asyncio.Task[Lease]:
        queued = asyncio.Event()

        def on_wait(msg: str) -> None:
            self.messages.setdefault(holder, []).append(msg)
            queued.set()

        task = asyncio.create_task(self.take(holder, sync, on_wait=on_wait, **kw))
        async with asyncio.timeout(1):
            await queued.wait()
        assert not task.done()
        return task

    def holding(self) -> dict[str, list[str]]:
        return _by_key(self.mgr.status(), "holding")

    def waiting(self) -> dict[str, list[str]]:
        return _by_key(self.mgr.status(), "waiting")


def _by_key(status: dict[str, Any], section: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for row in status["mutex"][section]:
        out.setdefault(row["mutex"], []).append(row["holder"])
    for row in status["semaphore"][section]:
        out[row["semaphore"]] = row["holders"]
    return out


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


@pytest.mark.parametrize(
    ("sync", "key"),
    [
        ({"mutex": {"name": "welcome"}}, "default/Mutex/welcome"),
        (mutexes("welcome"), "default/Mutex/welcome"),
        ({"mutex": {"name": "welcome", "namespace": "other"}}, "other/Mutex/welcome"),
        ({"mutexes": [{"name": "welcome", "database": True}]}, "default/Database/welcome"),
    ],
    ids=["mutex", "mutexes", "other-namespace", "database"],
)
async def test_mutex_excludes_until_released(sync: dict[str, Any], key: str) -> None:
    h = Harness()
    first = await h.take("wf-1", sync)
    second = await h.wait("wf-2", sync)
    assert h.messages["wf-2"] == [waiting_msg(key, 0, 1)]
    assert (h.holding(), h.waiting()) == ({key: ["wf-1"]}, {key: ["wf-2"]})
    first.release()
    assert (await second).keys == (key,)
    assert (h.holding(), h.waiting()) == ({key: ["wf-2"]}, {})
    second.result().release()
    assert h.mgr.status() == {
        "mutex": {"holding": [], "waiting": []},
        "semaphore": {"holding": [], "waiting": []},
    }


@pytest.mark.parametrize(
    ("semaphore", "key", "limit_call"),
    [
        ({"configMapKeyRef": {"name": CM, "key": "t"}}, "default/ConfigMap/my-config/t", CM),
        ({"database": {"key": "t"}}, "default/Database/t", ""),
    ],
    ids=["configmap", "database"],
)
async def test_semaphore_limit_two_with_four_holders(
    semaphore: dict[str, Any], key: str, limit_call: str
) -> None:
    h = Harness()
    h.limits[("default", limit_call, "t")] = "2"  # ConfigMap data are strings
    sync = {"semaphores": [semaphore]}
    leases = [await h.take("wf-1", sync), await h.take("wf-2", sync)]
    third, fourth = await h.wait("wf-3", sync), await h.wait("wf-4", sync)
    assert h.messages["wf-3"] == h.messages["wf-4"] == [waiting_msg(key, 0, 2)]
    assert h.holding() == {key: ["wf-1", "wf-2"]}
    assert h.waiting() == {key: ["wf-3", "wf-4"]}
    leases[0].release()
    await third
    assert not fourth.done()
    assert h.holding() == {key: ["wf-2", "wf-3"]}
    leases[1].release()
    await fourth
    assert h.holding() == {key: ["wf-3", "wf-4"]}
    assert set(h.calls) == {("default", limit_call, "t")}


@pytest.mark.parametrize(
    ("arrivals", "expected"),
    [
        ([("a", 0, 0.0), ("b", 5, 0.0), ("c", 1, 0.0)], ["b", "c", "a"]),
        ([("a", 0, 30.0), ("b", 0, 10.0), ("c", 0, 20.0)], ["b", "c", "a"]),
        ([("a", 0, 5.0), ("b", 0, 5.0), ("c", 0, 5.0)], ["a", "b", "c"]),
        ([("a", 0, 1.0), ("b", 2, 9.0), ("c", 2, 3.0), ("d", 0, 1.0)], ["c", "b", "a", "d"]),
    ],
    ids=["priority", "creation-time", "arrival", "priority-then-creation"],
)
async def test_waiters_served_by_priority_then_creation(
    arrivals: list[tuple[str, int, float]], expected: list[str]
) -> None:
    h = Harness()
    lease = await h.take("owner", mutexes("m"))
    tasks = {}
    for holder, priority, created in arrivals:
        tasks[holder] = await h.wait(holder, mutexes("m"), priority=priority, created=created)
    order = []
    for _ in arrivals:
        lease.release()
        await settle()
        (winner,) = [name for name, t in tasks.items() if t.done() and name not in order]
        order.append(winner)
        lease = tasks[winner].result()
    assert order == expected


async def test_holder_reenters_and_keeps_lock_until_last_release() -> None:
    h = Harness()
    outer = await h.take("ns/wf", mutexes("m"))
    other = await h.wait("ns/other", mutexes("m"))
    inner = await h.take("ns/wf", mutexes("m"))  # at once, though someone is queued
    assert h.holding() == {"default/Mutex/m": ["ns/wf"]}
    outer.release()
    outer.release()  # idempotent: does not drop the inner hold
    await settle()
    assert not other.done()
    inner.release()
    assert (await other).holder == "ns/other"


async def test_reentrant_holder_waits_only_for_the_locks_it_lacks() -> None:
    h = Harness()
    mine = await h.take("wf", mutexes("a"))
    theirs = await h.take("other", mutexes("b"))
    both = await h.wait("wf", mutexes("a", "b"))
    assert h.messages["wf"] == [waiting_msg("default/Mutex/b", 0, 1)]
    theirs.release()
    (await both).release()
    assert h.holding() == {"default/Mutex/a": ["wf"]}
    mine.release()
    assert h.holding() == {}


async def test_locks_are_taken_together_or_not_at_all() -> None:
    h = Harness()
    blocker = await h.take("owner", mutexes("a"))
    ab = await h.wait("wf-ab", mutexes("a", "b"))
    ba = await h.wait("wf-ba", mutexes("b", "a"))
    assert h.holding() == {"default/Mutex/a": ["owner"]}  # b is free but nobody took it
    # wf-ab is ahead on b as well, so wf-ba waits although b has a free slot (Argo does too).
    assert h.messages["wf-ba"] == [waiting_msg("default/Mutex/b", 1, 1)]
    blocker.release()
    first = await ab
    assert h.holding() == {"default/Mutex/a": ["wf-ab"], "default/Mutex/b": ["wf-ab"]}
    first.release()
    (await ba).release()
    assert h.holding() == {}


async def test_opposite_lock_orders_never_deadlock() -> None:
    h = Harness(workflow=2)
    specs = [mutexes("a", "b") | SEM, SEM | mutexes("b", "a"), mutexes("b"), mutexes("a")]
    done: list[str] = []

    async def worker(i: int) -> None:
        for _ in range(5):
            async with await h.take(f"wf-{i}", specs[i % len(specs)]):
                await asyncio.sleep(0)
        done.append(f"wf-{i}")

    async with asyncio.timeout(2):
        await asyncio.gather(*(worker(i) for i in range(12)))
    assert len(done) == 12
    assert h.holding() == {} and h.waiting() == {}


@pytest.mark.parametrize("granted_first", [False, True], ids=["while-waiting", "after-grant"])
async def test_cancelled_waiter_leaves_no_trace(granted_first: bool) -> None:
    h = Harness(workflow=1)
    lease = await h.take("wf-1", SEM)
    second, third = await h.wait("wf-2", SEM), await h.wait("wf-3", SEM)
    if granted_first:
        lease.release()  # wf-2's future now holds a lease it will never see
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    if not granted_first:
        assert h.waiting() == {SEM_KEY: ["wf-3"]}
        lease.release()
    (await third).release()
    assert h.holding() == {} and h.waiting() == {}
    (await h.take("wf-4", SEM)).release()  # the slot was not leaked


async def test_cancelling_the_front_waiter_unblocks_those_behind() -> None:
    h = Harness()
    holds_b = await h.take("owner", mutexes("b"))
    front = await h.wait("wf-ab", mutexes("a", "b"))
    behind = await h.wait("wf-a", mutexes("a"))
    front.cancel()
    async with asyncio.timeout(1):
        (await behind).release()
    assert front.cancelled()
    holds_b.release()
    assert h.holding() == {} and h.waiting() == {}


@pytest.mark.parametrize(
    ("trigger", "holders"),
    [("refresh", ["wf-1", "wf-2"]), ("next-acquire", ["wf-1", "wf-2", "wf-3"])],
    ids=["refresh", "next-acquire"],
)
async def test_raised_limit_admits_waiters(trigger: str, holders: list[str]) -> None:
    h = Harness(workflow=1)
    await h.take("wf-1", SEM)
    second = await h.wait("wf-2", SEM)
    h.limits[("default", CM, "workflow")] = 3
    if trigger == "refresh":
        h.mgr.refresh()
    else:
        await h.take("wf-3", SEM)  # reads the new limit; wf-2, ahead of it, goes first
    await second
    assert h.holding() == {SEM_KEY: holders}


async def test_lowered_limit_keeps_holders_and_admits_below_it() -> None:
    h = Harness(workflow=2)
    leases = [await h.take("wf-1", SEM), await h.take("wf-2", SEM)]
    h.limits[("default", CM, "workflow")] = 1
    third = await h.wait("wf-3", SEM)
    assert h.messages["wf-3"] == [waiting_msg(SEM_KEY, 0, 1)]
    leases[0].release()
    await settle()
    assert not third.done()
    leases[1].release()
    await third


async def test_wait_message_sent_on_start_and_on_change_only() -> None:
    h = Harness(workflow=2)
    a, b = await h.take("wf-a", mutexes("a")), await h.take("wf-b", mutexes("b"))
    sems = [await h.take("wf-s1", SEM), await h.take("wf-s2", SEM)]
    waiter = await h.wait("wf", SEM | mutexes("a", "b"))
    await h.wait("late", SEM)  # a new waiter behind does not change wf's message
    sems[0].release()
    await settle()
    a.release()
    b.release()
    await settle()
    assert h.messages["wf"] == [
        waiting_msg(SEM_KEY, 0, 2),
        waiting_msg("default/Mutex/a", 0, 1),
        waiting_msg("default/Mutex/b", 0, 1),
    ]
    await waiter
    # "late" saw a free slot it could not take: "wf" was ahead of it in the queue.
    assert h.messages["late"] == [
        waiting_msg(SEM_KEY, 0, 2),
        waiting_msg(SEM_KEY, 1, 2),
        waiting_msg(SEM_KEY, 0, 2),
    ]
    assert h.waiting() == {SEM_KEY: ["late"]}
    sems[1].release()


def sem(ref: dict[str, Any]) -> dict[str, Any]:
    return {"semaphore": {"configMapKeyRef": ref}}


@pytest.mark.parametrize(
    ("sync", "limit", "error"),
    [
        (["mutex"], 1, r"^synchronization: must be a mapping"),
        ({}, 1, r"^synchronization: needs at least one of"),
        ({"mutx": {"name": "a"}}, 1, r"^synchronization\.mutx: unknown field"),
        ({"mutex": {}}, 1, r"^synchronization\.mutex\.name: required"),
        (mutexes("a", ""), 1, r"^synchronization\.mutexes\[1\]\.name: required"),
        ({"mutexes": {"name": "a"}}, 1, r"^synchronization\.mutexes: must be a list"),
        ({"mutex": {"name": "a/b"}}, 1, r"^synchronization\.mutex\.name: must not contain '/'"),
        ({"mutex": {"name": "a", "database": "yes"}}, 1, r"\.mutex\.database: must be a bool"),
        ({"mutex": {"name": "a"}} | mutexes("a"), 1, r"mutexes\[0\]: duplicate lock default/"),
        ({"semaphore": {}}, 1, r"^synchronization\.semaphore: needs exactly one of"),
        (sem({"name": CM}), 1, r"^synchronization\.semaphore\.configMapKeyRef\.key: required"),
        (sem({"key": "workflow"}), 1, r"\.semaphore\.configMapKeyRef\.name: required"),
        ({"semaphores": [{"database": {}}]}, 1, r"\.semaphores\[0\]\.database\.key: required"),
        (SEM, "two", r"^synchronization\.semaphore\.configMapKeyRef: limit 'two' .* not an int"),
        (SEM, 2.5, r"configMapKeyRef: limit 2\.5 of default/ConfigMap/my-config/workflow is not"),
        (SEM, True, r"configMapKeyRef: limit True of .* is not an integer"),
        (SEM, "0", r"configMapKeyRef: limit of .* must be at least 1, got 0"),
    ],
    ids=[
        "not-mapping",
        "empty",
        "unknown-field",
        "mutex-no-name",
        "mutexes-empty-name",
        "mutexes-not-list",
        "slash-in-name",
        "database-not-bool",
        "duplicate",
        "semaphore-no-ref",
        "configmap-no-key",
        "configmap-no-name",
        "database-no-key",
        "limit-word",
        "limit-float",
        "limit-bool",
        "limit-zero",
    ],
)
async def test_bad_spec_raises_and_queues_nothing(sync: Any, limit: object, error: str) -> None:
    h = Harness(workflow=limit)
    with pytest.raises(ValueError, match=error):
        await h.take("wf", sync)
    assert h.holding() == {} and h.waiting() == {}


async def test_empty_holder_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"^holder: must be a non-empty string"):
        await Harness().take("", mutexes("a"))


async def test_lease_from_another_manager_is_rejected() -> None:
    lease = await Harness().take("wf", mutexes("a"))
    with pytest.raises(ValueError, match="granted by another SyncManager"):
        Harness().mgr.release(lease)

"""The supervisor: restarts with backoff on a fake clock, permanent failures, staged stop."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import pytest

from sluice.core.clock import SystemClock
from sluice.core.errors import PermanentError, SpecError, TemporaryError
from sluice.core.supervise import (
    RestartPolicy,
    ServiceState,
    Supervisor,
    until,
    watch_tasks,
)
from tests.conftest import FakeClock


def supervisor(clock: FakeClock, **policy: float) -> Supervisor:
    return Supervisor("test", clock=clock, policy=RestartPolicy(**policy))


@pytest.mark.parametrize(
    ("previous", "ran", "expected"),
    [
        (None, 0.0, 1.0),
        (1.0, 0.0, 2.0),
        (4.0, 59.9, 8.0),
        (8.0, 0.0, 10.0),
        (10.0, 0.0, 10.0),
        (8.0, 60.0, 1.0),
    ],
    ids=["first", "doubles", "short-run-doubles", "capped", "stays-capped", "healthy-resets"],
)
def test_next_delay(previous: float | None, ran: float, expected: float) -> None:
    policy = RestartPolicy(initial=1, factor=2, cap=10, healthy_after=60)
    assert policy.next_delay(previous, ran) == expected


async def test_a_failing_service_is_restarted_with_exponential_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    sup = supervisor(clock, initial=1, factor=2, cap=5)
    attempts, up = 0, asyncio.Event()

    async def flaky() -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 5:
            raise RuntimeError(f"boom {attempts}")
        up.set()
        await sup.stopping.wait()

    with caplog.at_level(logging.ERROR, logger="sluice.core.supervise"):
        status = sup.add("eventsource/es:flaky", flaky)
        await up.wait()
    assert clock.sleeps == [1, 2, 4, 5, 5]
    assert (status.state, status.restarts, status.last_error) == (ServiceState.RUNNING, 5, "boom 5")
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "eventsource/es:flaky failed: boom 1; restart 1 in 1.00s"
    assert len(messages) == 5
    assert await sup.stop() == []
    assert status.state is ServiceState.STOPPED


async def test_a_healthy_run_resets_the_backoff() -> None:
    clock = FakeClock()
    sup = supervisor(clock, initial=1, factor=2, cap=30, healthy_after=60)
    attempts, up = 0, asyncio.Event()

    async def service() -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 3:
            clock.t += timedelta(seconds=60)  # this attempt ran for a minute before failing
        if attempts <= 4:
            raise RuntimeError("down")
        up.set()
        await sup.stopping.wait()

    sup.add("svc", service)
    await up.wait()
    assert clock.sleeps == [1, 2, 1, 2]
    await sup.stop()


async def test_a_temporary_error_brings_its_own_delay() -> None:
    clock = FakeClock()
    sup = supervisor(clock, initial=1)
    attempts, up = 0, asyncio.Event()

    async def service() -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise TemporaryError("rate limited", delay=7)
        up.set()
        await sup.stopping.wait()

    sup.add("svc", service)
    await up.wait()
    assert clock.sleeps == [7]
    await sup.stop()


async def test_a_service_that_ends_by_itself_is_restarted() -> None:
    clock = FakeClock()
    sup = supervisor(clock, initial=1)
    attempts, up = 0, asyncio.Event()

    async def service() -> None:
        nonlocal attempts
        attempts += 1
        if attempts > 1:
            up.set()
            await sup.stopping.wait()

    status = sup.add("svc", service)
    await up.wait()
    assert (status.restarts, status.last_error) == (1, "ended by itself")
    await sup.stop()


@pytest.mark.parametrize(
    "error",
    [PermanentError("bucket b does not exist"), SpecError(["x.yaml: spec.webhook.a: bad"])],
    ids=["permanent", "spec"],
)
async def test_permanent_failures_are_not_restarted(error: Exception) -> None:
    clock = FakeClock()
    sup = supervisor(clock)
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise error

    status = sup.add("broken", broken)
    await sup.settled()
    assert (status.state, status.last_error, calls) == (ServiceState.FAILED, str(error), 1)
    assert clock.sleeps == []
    assert await sup.stop() == []
    assert status.state is ServiceState.FAILED


async def test_one_failing_service_does_not_disturb_another() -> None:
    clock = FakeClock()
    sup = supervisor(clock)
    good_runs, bad_runs, bad_up = 0, 0, asyncio.Event()

    async def good() -> None:
        nonlocal good_runs
        good_runs += 1
        await sup.stopping.wait()

    async def bad() -> None:
        nonlocal bad_runs
        bad_runs += 1
        if bad_runs <= 3:
            raise OSError("address in use")
        bad_up.set()
        await sup.stopping.wait()

    good_status, bad_status = sup.add("good", good), sup.add("bad", bad)
    await bad_up.wait()
    assert (good_runs, good_status.restarts, good_status.state) == (1, 0, ServiceState.RUNNING)
    assert bad_status.restarts == 3
    await sup.stop()


async def test_a_wait_ready_service_is_starting_until_it_says_ready() -> None:
    sup = supervisor(FakeClock())
    gate = asyncio.Event()

    async def server() -> None:
        await gate.wait()
        sup.ready("server")
        await sup.stopping.wait()

    status = sup.add("server", server, wait_ready=True)
    settled = asyncio.create_task(sup.settled(["server"]))
    await asyncio.sleep(0)
    assert status.state is ServiceState.STARTING
    assert not settled.done()
    gate.set()
    await settled
    assert status.state is ServiceState.RUNNING
    json.dumps(status.as_dict())  # shown by ``sluice get``
    await sup.stop()


async def test_cancelled_error_is_not_swallowed() -> None:
    clock = FakeClock()
    sup = supervisor(clock)
    calls = 0

    async def cancelled() -> None:
        nonlocal calls
        calls += 1
        raise asyncio.CancelledError

    status = sup.add("svc", cancelled)
    await sup.settled()
    assert (calls, status.state, clock.sleeps) == (1, ServiceState.STOPPED, [])


async def test_stop_lets_services_return_on_the_flag() -> None:
    sup = supervisor(FakeClock())
    returned = []

    async def polite(name: str) -> None:
        await sup.stopping.wait()
        returned.append(name)

    statuses = [sup.add(name, lambda n=name: polite(n)) for name in ("a", "b")]
    await sup.settled()
    assert await sup.stop() == []
    assert sorted(returned) == ["a", "b"]
    assert {s.state for s in statuses} == {ServiceState.STOPPED}
    with pytest.raises(RuntimeError, match="stopping"):
        sup.add("late", lambda: polite("late"))


async def test_stop_cancels_and_names_what_ignored_the_flag(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sup = Supervisor("es", clock=FakeClock(), grace=0.05)
    cancelled = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()  # never looks at ``stopping``
        except asyncio.CancelledError:
            cancelled.set()
            raise

    status = sup.add("stubborn", stubborn)
    await sup.settled()
    with caplog.at_level(logging.WARNING, logger="sluice.core.supervise"):
        assert await sup.stop() == ["stubborn"]
    assert cancelled.is_set()
    assert status.state is ServiceState.STOPPED
    assert "es: stubborn did not stop within 0.05s; cancelling" in caplog.text


async def test_stop_interrupts_a_backoff_wait() -> None:
    # A real clock and an hour-long backoff: stop must not wait it out.
    sup = Supervisor("es", clock=SystemClock(), policy=RestartPolicy(initial=3600))

    async def failing() -> None:
        raise RuntimeError("down")

    status = sup.add("failing", failing)
    await sup.settled()
    assert status.state is ServiceState.BACKOFF
    assert await sup.stop() == []
    assert (status.state, status.restarts) == (ServiceState.STOPPED, 0)


async def test_names_are_unique() -> None:
    sup = supervisor(FakeClock())
    sup.add("svc", sup.stopping.wait)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already runs a service named svc"):
        sup.add("svc", sup.stopping.wait)  # type: ignore[arg-type]
    await sup.stop()


async def test_until() -> None:
    flag = asyncio.Event()
    assert await until(flag, asyncio.sleep(0)) is False
    with pytest.raises(KeyError):
        await until(flag, _raise(KeyError("k")))
    never = asyncio.Event()
    waiting = asyncio.create_task(until(flag, never.wait()))
    await asyncio.sleep(0)
    flag.set()
    assert await waiting is True


async def test_until_lets_its_own_cancellation_through() -> None:
    waiting = asyncio.create_task(until(asyncio.Event(), asyncio.Event().wait()))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def _raise(exc: Exception) -> None:
    raise exc


async def test_watch_tasks_returns_once_stopped() -> None:
    stopped = asyncio.Event()
    task = asyncio.create_task(asyncio.Event().wait())
    watching = asyncio.create_task(watch_tasks([task], stopped))
    await asyncio.sleep(0)
    stopped.set()
    await watching
    task.cancel()


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (lambda: _raise(PermanentError("gone")), PermanentError, "gone"),
        (lambda: asyncio.sleep(0), RuntimeError, "timer-1 ended by itself"),
    ],
    ids=["raises-its-error", "ended"],
)
async def test_watch_tasks_raises_when_a_task_ends(
    body: Callable[[], Coroutine[Any, Any, None]], error: type[Exception], message: str
) -> None:
    task = asyncio.create_task(body(), name="timer-1")
    with pytest.raises(error, match=message):
        await watch_tasks([task], asyncio.Event())

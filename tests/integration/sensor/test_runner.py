"""A sensor's consumer loop against a real nats-server, its trigger posting to a loopback server.

The loop keeps up to ``sluice/concurrency`` events in hand and fetches the next batch while the
last ones finish: the server here counts how many requests it holds at once. A trigger's
``conditionsReset`` forgets its pending events on the cron schedule, timed by a manual clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from eventbus.jetstream import JetStreamBus
from eventsource.adaptor import Adaptor
from sensor.runner import CONCURRENCY_ANNOTATION
from sensor.triggers import TriggerContext
from sluice.sensors import SensorRuntime


class Receiver:
    """An HTTP server that holds each request a moment and notes what it saw."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.seen: list[int] = []
        self.now = 0
        self.most = 0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.now += 1
        self.most = max(self.most, self.now)
        await asyncio.sleep(self.hold)
        self.now -= 1
        self.seen.append(int(body["n"]))
        return web.Response(text="ok")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    got = Receiver(hold=0.02)
    app = web.Application()
    app.router.add_post("/hook", got.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    got.url = f"http://{host}:{port}/hook"
    yield got
    await runner.cleanup()


def manifest(namespace: str, concurrency: int, url: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {
            "name": "counted",
            "namespace": namespace,
            "annotations": {CONCURRENCY_ANNOTATION: str(concurrency)},
        },
        "spec": {
            "dependencies": [{"name": "dep", "eventSourceName": "src", "eventName": "ev"}],
            "triggers": [
                {
                    "template": {
                        "name": "post",
                        "http": {
                            "url": url,
                            "method": "POST",
                            "payload": [
                                {"src": {"dependencyName": "dep", "dataKey": "n"}, "dest": "n"}
                            ],
                        },
                    }
                }
            ],
        },
    }


async def drain(
    nats_url: str, namespace: str, receiver: Receiver, concurrency: int, events: int
) -> dict[str, int]:
    bus = JetStreamBus()
    await bus.connect(nats_url)
    runtime = SensorRuntime(bus, TriggerContext())
    try:
        await runtime.apply(manifest(namespace, concurrency, receiver.url))
        adaptor = Adaptor(bus, namespace, "src")
        for n in range(events):
            await adaptor.dispatch("ev", "test", {"n": n})
        runner = runtime.runners[(namespace, "counted")]
        async with asyncio.timeout(60):
            while sum(runner.counts.values()) < events:
                await asyncio.sleep(0.05)
        return dict(runner.counts)
    finally:
        await runtime.close()
        await bus.close()


@pytest.mark.parametrize("concurrency", [4, 16])
async def test_events_are_handled_concurrently_up_to_the_limit_each_once(
    nats_url: str, receiver: Receiver, concurrency: int
) -> None:
    counts = await drain(nats_url, f"runner-c{concurrency}", receiver, concurrency, 150)
    assert counts == {"passed": 150}
    assert sorted(receiver.seen) == list(range(150))  # every event, none twice
    assert receiver.most == concurrency  # the limit was reached, never passed


async def test_concurrency_one_keeps_the_order(nats_url: str, receiver: Receiver) -> None:
    counts = await drain(nats_url, "runner-c1", receiver, 1, 40)
    assert counts == {"passed": 40}
    assert receiver.seen == list(range(40))
    assert receiver.most == 1


class ManualClock:
    """A clock that stands still; a sleep returns only when the test moves time past it."""

    def __init__(self, now: datetime) -> None:
        self.t = now
        self.asked: list[float] = []
        self._moved = asyncio.Event()

    def now(self) -> datetime:
        return self.t

    async def sleep(self, seconds: float) -> None:
        until = self.t + timedelta(seconds=seconds)
        self.asked.append(seconds)
        while self.t < until:
            self._moved.clear()
            await self._moved.wait()

    def move_to(self, t: datetime) -> None:
        self.t = t
        self._moved.set()


def waiting_manifest(namespace: str, url: str) -> dict[str, Any]:
    """Two dependencies that must both come, reset at the top of every hour."""
    sensor = manifest(namespace, 4, url)
    sensor["metadata"]["name"] = "reset"
    sensor["spec"]["dependencies"] = [
        {"name": "a", "eventSourceName": "src", "eventName": "a"},
        {"name": "b", "eventSourceName": "src", "eventName": "b"},
    ]
    template = sensor["spec"]["triggers"][0]["template"]
    template["conditions"] = "a && b"
    template["conditionsReset"] = [{"byTime": {"cron": "0 * * * *", "timezone": "UTC"}}]
    template["http"]["payload"] = [{"src": {"dependencyName": "b", "dataKey": "n"}, "dest": "n"}]
    return sensor


async def test_conditions_reset_forgets_pending_events_on_schedule(
    nats_url: str, receiver: Receiver
) -> None:
    namespace = "runner-reset"
    clock = ManualClock(datetime(2026, 12, 5, 10, 59, 30, tzinfo=UTC))
    bus = JetStreamBus()
    await bus.connect(nats_url)
    runtime = SensorRuntime(bus, TriggerContext(), clock=clock)
    try:
        await runtime.apply(waiting_manifest(namespace, receiver.url))
        runner = runtime.runners[(namespace, "reset")]
        assert runner.logic is not None
        adaptor = Adaptor(bus, namespace, "src", clock=clock)

        async def settled(handled: int) -> dict[str, Any]:
            async with asyncio.timeout(20):
                while sum(runner.counts.values()) < handled:
                    await asyncio.sleep(0.02)
            assert runner.logic is not None
            return runner.logic.state.pending("post")

        async with asyncio.timeout(10):
            while not clock.asked:  # the reset waits for 11:00
                await asyncio.sleep(0.02)
        assert clock.asked == [30.0]
        await adaptor.dispatch("a", "test", {"n": 1})
        assert list(await settled(1)) == ["a"]

        clock.move_to(datetime(2026, 12, 5, 11, 0, 0, tzinfo=UTC))  # the reset runs
        async with asyncio.timeout(10):
            while runner.logic.state.pending("post") or len(clock.asked) < 2:
                await asyncio.sleep(0.02)
        assert clock.asked[1] == 3600.0  # and waits for 12:00

        await adaptor.dispatch("b", "test", {"n": 2})  # "a" was forgotten: nothing fires
        assert list(await settled(2)) == ["b"]
        await adaptor.dispatch("a", "test", {"n": 3})
        assert await settled(3) == {}
        async with asyncio.timeout(10):
            while not receiver.seen:
                await asyncio.sleep(0.02)
    finally:
        await runtime.close()
        await bus.close()
    assert receiver.seen == [2]  # one firing, with the "b" that came after the reset

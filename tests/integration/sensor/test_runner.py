"""A sensor's consumer loop against a real nats-server, its trigger posting to a loopback server.

The loop keeps up to ``sluice/concurrency`` events in hand and fetches the next batch while the
last ones finish: the server here counts how many requests it holds at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
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

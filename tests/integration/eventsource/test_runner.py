"""EventSourceRunner against a real nats-server and the real webhook source."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from eventbus.embedded import free_port
from eventbus.jetstream import JetStreamBus
from eventsource.adaptor import Adaptor
from eventsource.models import EventSource, parse_event_source
from eventsource.registry import SourceContext, SourceRegistry
from eventsource.runner import EventSourceRunner
from eventsource.secrets import LocalSecrets
from eventsource.sources.webhook import WebhookServers, WebhookSource
from sluice.core.supervise import RestartPolicy
from tests.conftest import FakeClock

SOURCE = "runner-es"
Run = Callable[..., Awaitable[EventSourceRunner]]


def event_source(spec: dict[str, Any]) -> EventSource:
    return parse_event_source(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "EventSource",
            "metadata": {"name": SOURCE},
            "spec": spec,
        }
    )


@pytest.fixture
def context(tmp_path: Path) -> SourceContext:
    return SourceContext(
        data_dir=tmp_path,
        secrets=LocalSecrets(tmp_path),
        webhook_servers=WebhookServers("127.0.0.1"),
        host="127.0.0.1",
    )


@pytest.fixture
async def run(bus: JetStreamBus, namespace: str, context: SourceContext) -> AsyncIterator[Run]:
    """Start a runner for a spec on the test's namespace; every runner is stopped afterwards."""
    runners: list[EventSourceRunner] = []

    async def start(spec: dict[str, Any], **options: Any) -> EventSourceRunner:
        runner = EventSourceRunner(event_source(spec), bus, context, namespace=namespace, **options)
        runners.append(runner)
        await runner.start()
        return runner

    yield start
    for runner in runners:
        await runner.stop()


def webhook(port: int, endpoint: str = "/hook", **extra: Any) -> dict[str, Any]:
    return {"endpoint": endpoint, "method": "POST", "port": str(port), **extra}


async def post(port: int, body: Any, endpoint: str = "/hook") -> tuple[int, Any]:
    url = f"http://127.0.0.1:{port}{endpoint}"
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as resp:
        return resp.status, json.loads(await resp.text())


async def next_events(bus: JetStreamBus, namespace: str, event: str, n: int) -> list[Any]:
    consumer = await bus.subscribe(bus.subject(namespace, SOURCE, event), f"t-{event}")
    got: list[Any] = []
    while len(got) < n:
        msgs = await consumer.fetch(n - len(got), timeout=3)
        assert msgs, f"only {len(got)} of {n} events arrived on {event}"
        for msg in msgs:
            got.append(json.loads(msg.data))
            await msg.ack()
    await consumer.close()
    return got


async def test_a_webhook_started_by_the_runner_publishes_to_the_stream(
    run: Run, bus: JetStreamBus, namespace: str
) -> None:
    port = free_port()
    runner = await run({"webhook": {"example": webhook(port)}})
    status, reply = await post(port, {"n": 1})
    assert status == 200
    [event] = await next_events(bus, namespace, "example", 1)
    assert (event["id"], event["source"], event["type"]) == (reply["eventId"], SOURCE, "webhook")
    assert event["data"]["body"] == {"n": 1}
    summary = runner.status()
    assert summary["namespace"] == namespace
    webhook_status = summary["types"]["webhook"]
    assert webhook_status["state"] == "running"
    assert webhook_status["events"] == {"example": {"published": 1, "failed": 0, "filtered": 0}}
    json.dumps(summary)


async def test_an_unsupported_type_is_reported_and_the_others_still_run(
    run: Run, bus: JetStreamBus, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    sftp = {"eventType": "CREATE", "watchPathConfig": {"directory": "/upload", "path": "a"}}
    with caplog.at_level(logging.WARNING, logger="eventsource.runner"):
        runner = await run({"webhook": {"example": webhook(port)}, "sftp": {"drop": sftp}})
    message = f"eventsource/{SOURCE}: sftp is not supported yet"
    assert message in caplog.messages
    types = runner.status()["types"]
    assert (types["sftp"]["state"], types["sftp"]["lastError"]) == ("unsupported", message)
    assert types["webhook"]["state"] == "running"
    assert (await post(port, {"still": "works"}))[0] == 200
    [event] = await next_events(bus, namespace, "example", 1)
    assert event["data"]["body"] == {"still": "works"}


async def test_a_filtered_webhook_event_is_answered_200_and_not_published(
    run: Run, bus: JetStreamBus, namespace: str
) -> None:
    port = free_port()
    spec = webhook(port, filter={"expression": "(body.id == 4) && (body.name != 'Joe')"})
    runner = await run({"webhook": {"example": spec}})
    status, reply = await post(port, {"id": 4, "name": "Joe"})
    assert (status, reply) == (200, {"message": "filtered out by filter.expression"})
    status, reply = await post(port, {"id": 4, "name": "Ann"})
    assert status == 200
    [event] = await next_events(bus, namespace, "example", 1)
    assert (event["id"], event["data"]["body"]["name"]) == (reply["eventId"], "Ann")
    counts = runner.status()["types"]["webhook"]["events"]["example"]
    assert counts == {"published": 1, "failed": 0, "filtered": 1}


async def test_spec_errors_fail_their_type_only_and_are_not_retried(
    run: Run, bus: JetStreamBus, namespace: str
) -> None:
    port = free_port()
    clock = FakeClock()
    spec = {
        "webhook": {"example": webhook(port)},
        "calendar": {"tick": {"interval": "1h", "filter": {"expression": "eventTime =="}}},
        "file": {
            "gone": {
                "eventType": "CREATE",
                "watchPathConfig": {"directory": "/does/not/exist", "path": "a"},
            }
        },
    }
    runner = await run(spec, clock=clock)
    types = runner.status()["types"]
    assert types["calendar"]["state"] == "failed"
    assert types["calendar"]["lastError"].startswith(
        f"eventsource/{SOURCE}: spec.calendar.tick.filter.expression: "
    )
    assert types["file"]["state"] == "failed"
    assert (
        "watchPathConfig.directory /does/not/exist is not a directory"
        in (types["file"]["lastError"])
    )
    assert types["file"]["restarts"] == 0 and clock.sleeps == []
    assert types["webhook"]["state"] == "running"
    assert (await post(port, {"ok": True}))[0] == 200
    assert len(await next_events(bus, namespace, "example", 1)) == 1


class FlakySource:
    """A source that fails to start twice, then dies once while serving, then keeps serving."""

    attempts = 0
    serving = asyncio.Event()

    def __init__(self, attempt: int) -> None:
        self.attempt = attempt
        self.stopped = asyncio.Event()

    @classmethod
    def from_context(
        cls, event_source: EventSource, adaptor: Adaptor, context: SourceContext
    ) -> FlakySource:
        cls.attempts += 1
        return cls(cls.attempts)

    async def start(self) -> None:
        if self.attempt <= 2:
            raise OSError(f"connection refused ({self.attempt})")

    async def wait(self) -> None:
        if self.attempt == 3:
            raise RuntimeError("consumer died")
        type(self).serving.set()
        await self.stopped.wait()

    async def stop(self) -> None:
        self.stopped.set()


async def test_other_failures_restart_the_type_with_backoff(
    run: Run, bus: JetStreamBus, namespace: str
) -> None:
    registry = SourceRegistry()
    registry.register("webhook")(WebhookSource)
    registry.register("calendar")(FlakySource)
    FlakySource.attempts, FlakySource.serving = 0, asyncio.Event()
    port, clock = free_port(), FakeClock()
    spec = {"webhook": {"example": webhook(port)}, "calendar": {"tick": {"interval": "1h"}}}
    policy = RestartPolicy(initial=1, factor=2, cap=30)
    runner = await run(spec, registry=registry, clock=clock, policy=policy)
    await FlakySource.serving.wait()
    assert clock.sleeps == [1, 2, 4]
    calendar = runner.status()["types"]["calendar"]
    assert (calendar["state"], calendar["restarts"]) == ("running", 3)
    assert calendar["lastError"] == "consumer died"
    assert runner.status()["types"]["webhook"]["restarts"] == 0
    assert (await post(port, {"n": 1}))[0] == 200
    assert len(await next_events(bus, namespace, "example", 1)) == 1


async def test_stop_closes_the_webhook_and_reports_stopped(run: Run) -> None:
    port = free_port()
    runner = await run({"webhook": {"example": webhook(port)}})
    await runner.stop()
    assert runner.status()["types"]["webhook"]["state"] == "stopped"
    with pytest.raises(aiohttp.ClientConnectionError):
        await post(port, {"n": 1})

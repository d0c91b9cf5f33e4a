"""The calendar source against a real nats-server: a tick lands on the bus in Argo's shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from eventbus.jetstream import JetStreamBus
from eventsource.adaptor import Adaptor
from eventsource.models import parse_event_source
from eventsource.sources.calendar import CalendarSource
from tests.conftest import FakeClock

SOURCE = "calendar-es"


async def test_a_tick_lands_on_the_bus(bus: JetStreamBus, namespace: str, tmp_path: Path) -> None:
    resource = parse_event_source(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "EventSource",
            "metadata": {"name": SOURCE},
            "spec": {
                "calendar": {
                    "daily": {
                        "schedule": "0 9 * * *",
                        "timezone": "America/New_York",
                        "metadata": {"team": "ops"},
                        "persistence": {"catchup": {"enabled": True, "maxDuration": "1h"}},
                    }
                }
            },
        }
    )
    clock = FakeClock()
    clock.t = datetime(2024, 1, 10, 13, 59, 30, tzinfo=UTC)
    source = CalendarSource(
        resource, Adaptor(bus, namespace, SOURCE, clock=clock), data_dir=tmp_path
    )
    assert await source.tick_once(clock.t) == {"daily": []}
    clock.t += timedelta(seconds=30)
    tick = datetime(2024, 1, 10, 14, tzinfo=UTC)
    assert await source.tick_once(clock.t) == {"daily": [tick]}

    subject = f"events.{namespace}.{SOURCE}.daily"
    assert bus.subject(namespace, SOURCE, "daily") == subject
    consumer = await bus.subscribe(subject, "t-calendar")
    [msg] = await consumer.fetch(1, timeout=3)
    await msg.ack()
    await consumer.close()
    event = json.loads(msg.data)
    assert {k: event[k] for k in ("specversion", "source", "subject", "type")} == {
        "specversion": "1.0",
        "source": SOURCE,
        "subject": "daily",
        "type": "calendar",
    }
    assert event["data"] == {
        "eventTime": "2024-01-10 09:00:00 -0500 EST",
        "metadata": {"team": "ops"},
    }
    record = tmp_path / "eventsources" / "calendar" / f"{namespace}.{SOURCE}.daily.json"
    assert json.loads(record.read_text())["time"] == "2024-01-10T14:00:00Z"

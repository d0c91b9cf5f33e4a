"""The CloudEvent envelope, the publish retry and the dispatch counters of the adaptor."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from eventbus.base import PublishAck
from eventbus.errors import BusError, BusUnavailable
from eventbus.subjects import subject
from eventsource.adaptor import Adaptor, RetryPolicy, cloud_event, rfc3339
from eventsource.models.common import Backoff
from tests.conftest import FakeClock


class RecordingBus:
    """Records publishes; fails the first ``failures`` of them with the given errors."""

    def __init__(self, failures: list[BusError] | None = None) -> None:
        self.failures = list(failures or [])
        self.published: list[tuple[str, bytes, str, dict[str, str]]] = []

    def subject(self, namespace: str, event_source: str, event_name: str) -> str:
        return subject(namespace, event_source, event_name)

    async def publish(
        self, subject: str, payload: bytes, msg_id: str, headers: Mapping[str, str] | None = None
    ) -> PublishAck:
        if self.failures:
            raise self.failures.pop(0)
        self.published.append((subject, payload, msg_id, dict(headers or {})))
        return PublishAck(stream="S", seq=len(self.published), duplicate=False)


def make(bus: RecordingBus, clock: FakeClock, **kwargs: Any) -> Adaptor:
    return Adaptor(bus, "default", "my-source", clock=clock, **kwargs)  # type: ignore[arg-type]


async def test_dispatch_publishes_a_structured_cloud_event() -> None:
    bus, clock = RecordingBus(), FakeClock()
    data = {"header": {"X-A": ["1"]}, "body": {"x": 1}}
    event_id = await make(bus, clock).dispatch("example", "webhook", data)

    [(subj, payload, msg_id, headers)] = bus.published
    assert subj == "events.default.my-source.example"
    assert msg_id == event_id
    assert len(event_id) == 32 and int(event_id, 16) >= 0
    assert headers == {"Content-Type": "application/cloudevents+json"}
    assert json.loads(payload) == {
        "specversion": "1.0",
        "id": event_id,
        "source": "my-source",
        "subject": "example",
        "type": "webhook",
        "time": rfc3339(clock.now()),
        "datacontenttype": "application/json",
        "data": data,
    }


async def test_ids_are_fresh_unless_given() -> None:
    bus, clock = RecordingBus(), FakeClock()
    adaptor = make(bus, clock)
    first = await adaptor.dispatch("e", "webhook", {})
    second = await adaptor.dispatch("e", "webhook", {})
    given = await adaptor.dispatch("e", "pubsub", {}, event_id="upstream-42")
    assert first != second
    assert given == "upstream-42"
    assert bus.published[-1][2] == "upstream-42"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"a": [1, 2]}', {"datacontenttype": "application/json", "data": {"a": [1, 2]}}),
        (b"[1]", {"datacontenttype": "application/json", "data": [1]}),
        (
            b"\x00raw",
            {"datacontenttype": "application/octet-stream", "data_base64": "AHJhdw=="},
        ),
    ],
    ids=["json-object-bytes", "json-array-bytes", "binary-bytes"],
)
def test_bytes_data(data: bytes, expected: dict[str, Any]) -> None:
    event = cloud_event(
        event_id="i", source="s", subject="e", event_type="t", time=datetime.now(UTC), data=data
    )
    assert {k: v for k, v in event.items() if k in expected} == expected
    assert ("data" in event) != ("data_base64" in event)


def test_metadata_become_extension_attributes() -> None:
    event = cloud_event(
        event_id="i",
        source="s",
        subject="e",
        event_type="t",
        time=datetime.now(UTC),
        data={},
        extensions={"traceparent": "00-abc", "bucket": "b1"},
    )
    assert (event["traceparent"], event["bucket"]) == ("00-abc", "b1")


@pytest.mark.parametrize("name", ["Upper", "with-dash", "id", "data", "x" * 21], ids=str)
def test_bad_extension_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="extension name"):
        cloud_event(
            event_id="i",
            source="s",
            subject="e",
            event_type="t",
            time=datetime.now(UTC),
            data={},
            extensions={name: "v"},
        )


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC), "2024-05-01T12:00:00Z"),
        (datetime(2024, 5, 1, 12, 0, 0, 5000, tzinfo=UTC), "2024-05-01T12:00:00.005000Z"),
        (
            datetime(2024, 5, 1, 14, 0, 0, tzinfo=timezone(timedelta(hours=2))),
            "2024-05-01T12:00:00Z",
        ),
        (datetime(2024, 5, 1, 12, 0, 0), "2024-05-01T12:00:00Z"),
    ],
    ids=["utc", "fraction", "offset", "naive-is-utc"],
)
def test_rfc3339(moment: datetime, text: str) -> None:
    assert rfc3339(moment) == text


async def test_unavailable_bus_is_retried_with_backoff() -> None:
    bus = RecordingBus([BusUnavailable("down"), BusUnavailable("down")])
    clock = FakeClock()
    adaptor = make(bus, clock, retry=RetryPolicy(duration=0.5, factor=2, steps=4))
    event_id = await adaptor.dispatch("e", "webhook", {"n": 1})
    assert clock.sleeps == [0.5, 1.0]
    assert [p[2] for p in bus.published] == [event_id]
    assert adaptor.metrics.published == {"e": 1}
    assert adaptor.metrics.failed == {}


async def test_gives_up_after_the_last_step() -> None:
    bus = RecordingBus([BusUnavailable("down")] * 3)
    clock = FakeClock()
    adaptor = make(bus, clock, retry=RetryPolicy(duration=1, factor=3, steps=3))
    with pytest.raises(BusUnavailable):
        await adaptor.dispatch("e", "webhook", {})
    assert clock.sleeps == [1, 3]
    assert bus.published == []
    assert adaptor.metrics.failed == {"e": 1}
    assert adaptor.metrics.published == {}


async def test_a_refused_event_is_not_retried() -> None:
    bus, clock = RecordingBus([BusError("too large")]), FakeClock()
    adaptor = make(bus, clock)
    with pytest.raises(BusError, match="too large"):
        await adaptor.dispatch("e", "webhook", {})
    assert clock.sleeps == []
    assert adaptor.metrics.failed == {"e": 1}


@pytest.mark.parametrize(
    ("backoff", "policy"),
    [
        (None, RetryPolicy(1.0, 1.0, 5)),
        (Backoff(duration=2_000_000_000, factor=2, steps=3), RetryPolicy(2.0, 2.0, 3)),
        (Backoff(duration="1m30s", factor=1.5), RetryPolicy(90.0, 1.5, 5)),
        (Backoff(duration="250ms", steps=0), RetryPolicy(0.25, 1.0, 1)),
    ],
    ids=["defaults", "nanoseconds", "go-duration", "at-least-one-attempt"],
)
def test_retry_policy_from_connection_backoff(backoff: Backoff | None, policy: RetryPolicy) -> None:
    assert RetryPolicy.from_backoff(backoff) == policy


def test_bad_backoff_duration() -> None:
    with pytest.raises(ValueError, match=r"connectionBackoff\.duration"):
        RetryPolicy.from_backoff(Backoff(duration="soon"))


def test_upstream_ids_are_stable_and_distinct_per_source_and_event() -> None:
    def adaptor(source: str) -> Adaptor:
        return Adaptor(object(), "ns", source)  # type: ignore[arg-type]

    one = adaptor("es").upstream_id("uploads", "msg-1")
    assert one == adaptor("es").upstream_id("uploads", "msg-1")  # a redelivery: the same event
    others = {
        adaptor("es").upstream_id("uploads", "msg-2"),
        adaptor("es").upstream_id("other", "msg-1"),
        adaptor("es2").upstream_id("uploads", "msg-1"),
    }
    assert one not in others and len(others) == 3

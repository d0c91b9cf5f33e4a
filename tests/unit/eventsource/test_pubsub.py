"""The pubSub source's event data and generated subscription name (the source itself runs
against the Pub/Sub emulator fixture in tests/integration/eventsource/test_pubsub.py)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from eventsource.models.cloud import PubSubEventSource
from eventsource.sources.pubsub import event_data, subscription_id


def message(data: bytes, attributes: dict[str, str] | None = None, **kw: Any) -> Any:
    published = kw.get("publish_time", datetime(2026, 12, 5, 13, 4, 5, 123456, tzinfo=UTC))
    return SimpleNamespace(
        message_id="1234", data=data, attributes=attributes or {}, publish_time=published
    )


def spec(**fields: Any) -> PubSubEventSource:
    return PubSubEventSource.model_validate({"topic": "t", **fields})


def test_body_is_base64_by_default_as_go_marshals_bytes() -> None:
    data = event_data(message(b"\x00raw bytes", {"objectId": "a.json"}), spec())
    assert data == {
        "id": "1234",
        "body": base64.b64encode(b"\x00raw bytes").decode(),
        "attributes": {"objectId": "a.json"},
        "publishTime": "2026-12-05 13:04:05.123456 +0000 UTC",
    }


def test_json_body_is_the_json_itself_and_metadata_is_added() -> None:
    data = event_data(
        message(b'{"name": "a.json", "size": "7"}'), spec(jsonBody=True, metadata={"k": "v"})
    )
    assert data["body"] == {"name": "a.json", "size": "7"}
    assert data["attributes"] is None  # Go writes an empty (nil) map as null
    assert data["metadata"] == {"k": "v"}


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"\xff\xfe", b'{"open": ', b'{"x": NaN}'],
    ids=["text", "bytes", "cut", "python-nan"],
)
def test_json_body_that_is_not_json_is_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        event_data(message(raw), spec(jsonBody=True))


def test_publish_time_is_written_in_utc_as_go_time_string() -> None:
    local = datetime(2026, 1, 2, 5, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    data = event_data(message(b"", publish_time=local), spec())
    assert data["publishTime"] == "2026-01-02 03:00:00 +0000 UTC"


def test_subscription_id_is_given_or_generated_from_the_spec() -> None:
    assert subscription_id("ev", spec(subscriptionID="mine")) == "mine"
    generated = subscription_id("ev", spec())
    assert generated.startswith("ev-") and generated[3:].isdigit()
    assert subscription_id("ev", spec()) == generated  # stable across restarts
    assert subscription_id("ev", spec(topic="other")) != generated
    assert subscription_id("other", spec()) != generated

"""The source registry agrees with the EventSource model and reports what is not supported."""

from __future__ import annotations

import pytest

from eventsource import registry
from eventsource.models import EventSourceSpec
from eventsource.registry import EVENT_TYPES, SourceRegistry, unsupported_message


def test_event_types_are_the_spec_event_fields() -> None:
    # The spec's fields whose value is a map of event name to settings, read independently.
    fields = {
        field.alias
        for field in EventSourceSpec.model_fields.values()
        if "dict[str, eventsource.models." in str(field.annotation)
    }
    assert set(EVENT_TYPES) == fields
    assert len(EVENT_TYPES) == len(set(EVENT_TYPES))
    assert {"webhook", "pubSub", "sqs", "calendar", "redisStream"} <= set(EVENT_TYPES)


def test_every_registered_source_is_an_event_type() -> None:
    assert set(registry.SOURCES) <= set(EVENT_TYPES)
    for key in registry.SOURCES:
        assert registry.supported(key)


def test_sources_view_is_read_only() -> None:
    with pytest.raises(TypeError):
        registry.SOURCES["webhook"] = object  # type: ignore[index]


def test_register_and_supported() -> None:
    reg = SourceRegistry()

    @reg.register("webhook")
    class WebhookSource:
        pass

    assert reg.view == {"webhook": WebhookSource}
    assert reg.supported("webhook")
    assert not reg.supported("pubSub")
    assert reg.register("webhook")(WebhookSource) is WebhookSource  # re-import is harmless


@pytest.mark.parametrize(
    ("key", "message"),
    [("pubsub", "'pubsub' is not an EventSource event type"), ("webhook", "already served")],
    ids=["unknown-key", "duplicate"],
)
def test_register_rejects(key: str, message: str) -> None:
    reg = SourceRegistry()

    @reg.register("webhook")
    class First:
        pass

    class Second:
        pass

    with pytest.raises(ValueError, match=message):
        reg.register(key)(Second)


@pytest.mark.parametrize(
    ("name", "key", "expected"),
    [
        ("gcs-uploads", "pubSub", "eventsource/gcs-uploads: pubSub is not supported yet"),
        ("hooks", "webhook", "eventsource/hooks: webhook is not supported yet"),
    ],
    ids=["pubSub", "webhook"],
)
def test_unsupported_message(name: str, key: str, expected: str) -> None:
    assert unsupported_message(name, key) == expected

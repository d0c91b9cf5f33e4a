"""The pubSub source with the real google-cloud-pubsub client, against the Pub/Sub emulator
fixture over gRPC, publishing to a real nats-server."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1

from eventbus.jetstream import JetStreamBus
from eventsource.adaptor import Adaptor, RetryPolicy
from eventsource.models import parse_event_source
from eventsource.sources.pubsub import PubSubSource
from sluice.core.errors import SpecError
from tests.support.pubsub_emulator import PubSubEmulator, pubsub_emulator  # noqa: F401

PROJECT = "sluice-test"
SOURCE = "pubsub-es"


@pytest.fixture
def emulator(
    pubsub_emulator: PubSubEmulator,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> PubSubEmulator:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.host)
    return pubsub_emulator


@pytest.fixture
def names() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:10]
    return f"topic-{tag}", f"sub-{tag}"


@pytest.fixture
def publisher(emulator: PubSubEmulator) -> Iterator[pubsub_v1.PublisherClient]:
    client = pubsub_v1.PublisherClient()
    yield client
    client.transport.close()


def event_source(event: dict[str, Any]) -> Any:
    return parse_event_source(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "EventSource",
            "metadata": {"name": SOURCE},
            "spec": {"pubSub": {"uploads": {"projectID": PROJECT, **event}}},
        }
    )


async def read_events(bus: JetStreamBus, namespace: str, n: int) -> list[dict[str, Any]]:
    consumer = await bus.subscribe(bus.subject(namespace, SOURCE, "uploads"), "t-pubsub")
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + 15
    while len(got) < n and time.monotonic() < deadline:
        for msg in await consumer.fetch(n - len(got), timeout=1):
            await msg.ack()
            got.append(json.loads(msg.data))
    await consumer.close()
    return got


async def until(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_creates_what_is_missing_and_acks_once_stored(
    bus: JetStreamBus,
    namespace: str,
    emulator: PubSubEmulator,
    publisher: pubsub_v1.PublisherClient,
    names: tuple[str, str],
) -> None:
    topic, sub = names
    spec = {"topic": topic, "subscriptionID": sub, "metadata": {"team": "data"}}
    source = PubSubSource(event_source(spec), Adaptor(bus, namespace, SOURCE))
    await source.start()
    try:
        path = publisher.topic_path(PROJECT, topic)
        publisher.publish(path, b"\x00\x01 raw", objectId="a.bin").result(timeout=10)
        [event] = await read_events(bus, namespace, 1)
        sub_path = f"projects/{PROJECT}/subscriptions/{sub}"
        await until(lambda: len(emulator.acked(sub_path)) == 1)
    finally:
        await source.stop()
    data = event["data"]
    assert event["type"] == "pubsub" and event["subject"] == "uploads"
    # from the message id, so a redelivery is stored once
    assert event["id"] == Adaptor(bus, namespace, SOURCE).upstream_id("uploads", data["id"])
    assert data["body"] == base64.b64encode(b"\x00\x01 raw").decode()
    assert data["attributes"] == {"objectId": "a.bin"}
    assert data["metadata"] == {"team": "data"}
    assert data["publishTime"].endswith(" +0000 UTC")
    assert emulator.backlog(sub_path) == 0


async def test_nacked_while_the_bus_cannot_store_it_then_delivered(
    nats_url: str,
    emulator: PubSubEmulator,
    publisher: pubsub_v1.PublisherClient,
    names: tuple[str, str],
) -> None:
    topic, sub = names
    namespace = f"ns-{uuid.uuid4().hex[:10]}"
    bus = JetStreamBus()
    await bus.connect(nats_url)  # no stream for the namespace yet: every publish fails
    adaptor = Adaptor(bus, namespace, SOURCE, retry=RetryPolicy(duration=0.05, steps=1))
    source = PubSubSource(
        event_source({"topic": topic, "subscriptionID": sub, "jsonBody": True}), adaptor
    )
    await source.start()
    try:
        publisher.publish(publisher.topic_path(PROJECT, topic), b'{"n": 1}').result(timeout=10)
        await until(lambda: source.counts()["uploads"][1] >= 2)  # nacked, redelivered, nacked
        sub_path = f"projects/{PROJECT}/subscriptions/{sub}"
        assert emulator.acked(sub_path) == []
        await bus.ensure_stream(namespace)
        [event] = await read_events(bus, namespace, 1)
        await until(lambda: len(emulator.acked(sub_path)) == 1)
    finally:
        await source.stop()
        await bus.close()
    assert event["data"]["body"] == {"n": 1}


async def test_json_body_that_is_not_json_is_nacked_not_stored(
    bus: JetStreamBus,
    namespace: str,
    emulator: PubSubEmulator,
    publisher: pubsub_v1.PublisherClient,
    names: tuple[str, str],
) -> None:
    topic, sub = names
    spec = {"topic": topic, "subscriptionID": sub, "jsonBody": True}
    source = PubSubSource(event_source(spec), Adaptor(bus, namespace, SOURCE))
    await source.start()
    try:
        path = publisher.topic_path(PROJECT, topic)
        publisher.publish(path, b"not json").result(timeout=10)
        await until(lambda: source.counts()["uploads"][1] >= 1)
        publisher.publish(path, b'{"ok": true}').result(timeout=10)
        events = await read_events(bus, namespace, 1)
    finally:
        await source.stop()
    assert [e["data"]["body"] for e in events] == [{"ok": True}]
    assert emulator.acked(f"projects/{PROJECT}/subscriptions/{sub}") != []


async def test_an_existing_subscription_is_checked_against_the_topic(
    bus: JetStreamBus,
    namespace: str,
    emulator: PubSubEmulator,
    publisher: pubsub_v1.PublisherClient,
    names: tuple[str, str],
) -> None:
    topic, sub = names
    other = publisher.topic_path(PROJECT, topic + "-other")
    publisher.create_topic(name=other)
    subscriber = pubsub_v1.SubscriberClient()
    subscriber.create_subscription(name=subscriber.subscription_path(PROJECT, sub), topic=other)
    subscriber.close()
    source = PubSubSource(
        event_source({"topic": topic, "subscriptionID": sub}), Adaptor(bus, namespace, SOURCE)
    )
    with pytest.raises(SpecError, match=f"belongs to {other}"):
        await source.start()

    missing = PubSubSource(
        event_source({"subscriptionID": sub + "-missing"}), Adaptor(bus, namespace, SOURCE)
    )
    with pytest.raises(SpecError, match="topic is needed"):
        await missing.start()


async def test_delete_subscription_on_finish(
    bus: JetStreamBus,
    namespace: str,
    emulator: PubSubEmulator,
    names: tuple[str, str],
) -> None:
    topic, sub = names
    spec = {"topic": topic, "subscriptionID": sub, "deleteSubscriptionOnFinish": True}
    source = PubSubSource(event_source(spec), Adaptor(bus, namespace, SOURCE))
    await source.start()
    await source.stop()
    subscriber = pubsub_v1.SubscriberClient()
    try:
        with pytest.raises(gexc.NotFound):
            subscriber.get_subscription(subscription=subscriber.subscription_path(PROJECT, sub))
    finally:
        subscriber.close()

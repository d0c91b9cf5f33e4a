"""The Pub/Sub emulator fixture, driven by the real google-cloud-pubsub client over gRPC.

The pubSub event source's tests trust this fixture to behave like the service, so these tests
pin the behaviour they rely on: topics and subscriptions, publish with attributes, Pull and
StreamingPull, acknowledgement, nack and ack-deadline redelivery, and NOT_FOUND errors.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from google.api_core import exceptions
from google.cloud import pubsub_v1
from google.cloud.pubsub_v1.subscriber.message import Message
from google.cloud.pubsub_v1.types import PublisherOptions

from tests.support.pubsub_emulator import PubSubEmulator, pubsub_emulator  # noqa: F401

PROJECT = "sluice-test"


@dataclass
class Clients:
    publisher: pubsub_v1.PublisherClient
    subscriber: pubsub_v1.SubscriberClient
    topic: str
    subscription: str

    def create(self, ack_deadline_seconds: int = 10) -> None:
        self.publisher.create_topic(name=self.topic)
        self.subscriber.create_subscription(
            name=self.subscription, topic=self.topic, ack_deadline_seconds=ack_deadline_seconds
        )


def _wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture(autouse=True)
def no_leaked_threads(pubsub_emulator: PubSubEmulator) -> Iterator[None]:  # noqa: F811
    """Every thread a test starts (clients, streams, its own emulators) has ended after it."""
    before = set(threading.enumerate())
    yield

    def leaked() -> list[str]:
        return [
            t.name
            for t in threading.enumerate()
            if t not in before and t.is_alive() and not _is_pool_worker(t, pubsub_emulator)
        ]

    try:
        _wait_for(lambda: not leaked(), timeout=3.0)
    except AssertionError:
        pytest.fail(f"threads left running: {leaked()}")


def _is_pool_worker(thread: threading.Thread, emulator: PubSubEmulator) -> bool:
    # The session emulator's worker pool grows on demand and lives until the session ends.
    return thread.name.startswith(f"{emulator.name}_")


@contextmanager
def _clients(emulator: PubSubEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clients]:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", emulator.host)
    publisher = pubsub_v1.PublisherClient(
        publisher_options=PublisherOptions(enable_message_ordering=True)
    )
    subscriber = pubsub_v1.SubscriberClient()
    suffix = uuid.uuid4().hex[:8]
    try:
        yield Clients(
            publisher,
            subscriber,
            f"projects/{PROJECT}/topics/t-{suffix}",
            f"projects/{PROJECT}/subscriptions/s-{suffix}",
        )
    finally:
        subscriber.close()
        publisher.stop()
        publisher.transport.close()


@pytest.fixture
def clients(
    pubsub_emulator: PubSubEmulator,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Clients]:
    with _clients(pubsub_emulator, monkeypatch) as made:
        yield made


def test_publish_then_pull_and_ack(clients: Clients, pubsub_emulator: PubSubEmulator) -> None:  # noqa: F811
    clients.create()
    message_id = clients.publisher.publish(
        clients.topic, b"hello", ordering_key="order-1", source="sluice", kind="greeting"
    ).result(timeout=5)

    response = clients.subscriber.pull(subscription=clients.subscription, max_messages=10)

    [received] = response.received_messages
    assert received.message.data == b"hello"
    assert dict(received.message.attributes) == {"source": "sluice", "kind": "greeting"}
    assert received.message.ordering_key == "order-1"
    assert received.message.message_id == message_id
    assert received.message.publish_time.timestamp() > 0
    assert received.delivery_attempt == 1
    assert [m.message_id for m in pubsub_emulator.published(clients.topic)] == [message_id]

    clients.subscriber.acknowledge(subscription=clients.subscription, ack_ids=[received.ack_id])

    assert pubsub_emulator.acked(clients.subscription) == [message_id]
    assert pubsub_emulator.backlog(clients.subscription) == 0
    again = clients.subscriber.pull(subscription=clients.subscription, max_messages=10)
    assert list(again.received_messages) == []


def test_streaming_pull_delivers_and_acked_messages_stay_acked(
    clients: Clients,
    pubsub_emulator: PubSubEmulator,  # noqa: F811
) -> None:
    clients.create()
    received: list[Message] = []

    def callback(message: Message) -> None:
        received.append(message)
        message.ack()

    future = clients.subscriber.subscribe(clients.subscription, callback)
    try:
        ids = [
            clients.publisher.publish(clients.topic, f"m{i}".encode(), n=str(i)).result(timeout=5)
            for i in range(3)
        ]
        _wait_for(lambda: len(received) == 3)
        _wait_for(lambda: pubsub_emulator.backlog(clients.subscription) == 0)
        # Give a spurious redelivery (a lease the ack did not clear) time to show up.
        time.sleep(0.5)
    finally:
        future.cancel()
        future.result(timeout=10)

    assert sorted(m.message_id for m in received) == sorted(ids)
    assert {m.attributes["n"] for m in received} == {"0", "1", "2"}
    assert all(m.delivery_attempt == 1 for m in received)
    assert sorted(pubsub_emulator.acked(clients.subscription)) == sorted(ids)


def test_nacked_message_is_redelivered(clients: Clients) -> None:
    clients.create()
    deliveries: list[Message] = []
    done = threading.Event()

    def callback(message: Message) -> None:
        deliveries.append(message)
        if len(deliveries) == 1:
            message.nack()
        else:
            message.ack()
            done.set()

    future = clients.subscriber.subscribe(clients.subscription, callback)
    try:
        message_id = clients.publisher.publish(clients.topic, b"retry me").result(timeout=5)
        assert done.wait(5)
    finally:
        future.cancel()
        future.result(timeout=10)

    assert [m.message_id for m in deliveries] == [message_id, message_id]
    assert [m.delivery_attempt for m in deliveries] == [1, 2]


def test_message_not_acked_before_its_deadline_is_redelivered(clients: Clients) -> None:
    clients.create()
    message_id = clients.publisher.publish(clients.topic, b"slow").result(timeout=5)
    first = clients.subscriber.pull(subscription=clients.subscription, max_messages=1)
    [lease] = first.received_messages
    clients.subscriber.modify_ack_deadline(
        subscription=clients.subscription, ack_ids=[lease.ack_id], ack_deadline_seconds=1
    )

    started = time.monotonic()
    redelivered: list[pubsub_v1.types.ReceivedMessage] = []
    while not redelivered and time.monotonic() - started < 5:
        pulled = clients.subscriber.pull(subscription=clients.subscription, max_messages=1)
        redelivered = list(pulled.received_messages)

    [again] = redelivered
    assert again.message.message_id == message_id
    assert again.delivery_attempt == 2
    assert again.ack_id != lease.ack_id
    assert time.monotonic() - started >= 0.9


def test_ack_deadline_cap_makes_redelivery_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = PubSubEmulator(ack_deadline_cap=0.3, pull_wait=2.0)
    with emulator, _clients(emulator, monkeypatch) as clients:
        clients.create(ack_deadline_seconds=60)
        clients.publisher.publish(clients.topic, b"x").result(timeout=5)
        pull = clients.subscriber.pull
        [first] = pull(subscription=clients.subscription, max_messages=1).received_messages
        started = time.monotonic()
        [again] = pull(subscription=clients.subscription, max_messages=1).received_messages
        assert time.monotonic() - started < 1.5
        assert again.message.message_id == first.message.message_id
        assert again.delivery_attempt == 2
    assert not [t.name for t in threading.enumerate() if t.name.startswith(emulator.name)]


def test_missing_resources_are_not_found(clients: Clients) -> None:
    with pytest.raises(exceptions.NotFound):
        clients.subscriber.get_subscription(subscription=clients.subscription)
    with pytest.raises(exceptions.NotFound):
        clients.subscriber.create_subscription(name=clients.subscription, topic=clients.topic)
    with pytest.raises(exceptions.NotFound):
        clients.publisher.get_topic(topic=clients.topic)
    with pytest.raises(exceptions.NotFound):
        clients.publisher.publish(clients.topic, b"nowhere").result(timeout=10)


def test_create_get_and_delete_subscription(clients: Clients) -> None:
    clients.create(ack_deadline_seconds=30)

    got = clients.subscriber.get_subscription(subscription=clients.subscription)
    assert (got.name, got.topic, got.ack_deadline_seconds) == (
        clients.subscription,
        clients.topic,
        30,
    )
    with pytest.raises(exceptions.AlreadyExists):
        clients.subscriber.create_subscription(name=clients.subscription, topic=clients.topic)

    clients.subscriber.delete_subscription(subscription=clients.subscription)

    with pytest.raises(exceptions.NotFound):
        clients.subscriber.get_subscription(subscription=clients.subscription)
    with pytest.raises(exceptions.NotFound):
        clients.subscriber.delete_subscription(subscription=clients.subscription)


def test_streaming_pull_on_missing_subscription_fails_the_future(clients: Clients) -> None:
    future = clients.subscriber.subscribe(clients.subscription, lambda message: message.ack())

    with pytest.raises(exceptions.NotFound):
        future.result(timeout=10)

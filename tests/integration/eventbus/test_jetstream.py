"""The JetStream bus against a real nats-server: publish, consume, redeliver, KV."""

from __future__ import annotations

import pytest

from eventbus.errors import BusError, KeyConflict
from eventbus.jetstream import JetStreamBus


async def test_publish_fetch_ack(bus: JetStreamBus, namespace: str) -> None:
    subject = bus.subject(namespace, "webhook", "example")
    ack = await bus.publish(subject, b'{"a": 1}', "id-1", headers={"ce-type": "webhook"})
    assert (ack.seq, ack.duplicate) == (1, False)
    consumer = await bus.subscribe(subject, "sensor-dep")
    [msg] = await consumer.fetch(10, timeout=2)
    assert msg.data == b'{"a": 1}'
    assert msg.subject == subject
    assert msg.headers["ce-type"] == "webhook"
    assert msg.headers["Nats-Msg-Id"] == "id-1"
    assert (msg.metadata.stream_seq, msg.metadata.num_delivered) == (1, 1)
    await msg.ack()
    assert await consumer.fetch(1, timeout=0.3) == []


async def test_retried_publish_is_stored_once(bus: JetStreamBus, namespace: str) -> None:
    subject = bus.subject(namespace, "src", "ev")
    first = await bus.publish(subject, b"x", "same-id")
    again = await bus.publish(subject, b"x", "same-id")
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.seq == first.seq
    assert await bus.stream_message_count(namespace) == 1


async def test_nak_with_delay_redelivers(bus: JetStreamBus, namespace: str) -> None:
    subject = bus.subject(namespace, "src", "ev")
    await bus.publish(subject, b"x", "id-1")
    consumer = await bus.subscribe(subject, "d")
    [msg] = await consumer.fetch(1, timeout=2)
    await msg.nak(delay=0.3)
    [again] = await consumer.fetch(1, timeout=3)
    assert again.metadata.num_delivered == 2
    assert again.metadata.stream_seq == msg.metadata.stream_seq
    await again.ack()


async def test_unacked_message_is_redelivered_after_ack_wait(
    bus: JetStreamBus, namespace: str
) -> None:
    subject = bus.subject(namespace, "src", "ev")
    await bus.publish(subject, b"x", "id-1")
    consumer = await bus.subscribe(subject, "d", ack_wait=1)
    [msg] = await consumer.fetch(1, timeout=2)
    assert msg.metadata.num_delivered == 1
    [again] = await consumer.fetch(1, timeout=4)
    assert again.metadata.num_delivered == 2
    await again.term()
    assert await consumer.fetch(1, timeout=1.5) == []


async def test_durable_consumer_resumes_after_reconnect(nats_url: str, namespace: str) -> None:
    first = JetStreamBus()
    await first.connect(nats_url)
    await first.ensure_stream(namespace)
    subject = first.subject(namespace, "src", "ev")
    for i in range(3):
        await first.publish(subject, f"m{i}".encode(), f"id-{i}")
    consumer = await first.subscribe(subject, "durable-dep")
    [msg] = await consumer.fetch(1, timeout=2)
    assert msg.data == b"m0"
    await msg.ack()
    await first.close()

    second = JetStreamBus()
    await second.connect(nats_url)
    try:
        consumer = await second.subscribe(subject, "durable-dep")
        msgs = await consumer.fetch(10, timeout=2)
        assert [m.data for m in msgs] == [b"m1", b"m2"]
        for m in msgs:
            await m.ack()
    finally:
        await second.close()


async def test_subscriber_sees_only_its_subject(bus: JetStreamBus, namespace: str) -> None:
    wanted = bus.subject(namespace, "a.b", "ev")
    other = bus.subject(namespace, "a", "b.ev")
    await bus.publish(other, b"other", "id-1")
    await bus.publish(wanted, b"wanted", "id-2")
    consumer = await bus.subscribe(wanted, "d")
    assert [m.data for m in await consumer.fetch(10, timeout=1)] == [b"wanted"]


async def test_publish_without_stream_is_a_bus_error(bus: JetStreamBus) -> None:
    with pytest.raises(BusError):
        await bus.publish("events.nowhere.src.ev", b"x", "id-1")


async def test_stream_config_is_applied(bus: JetStreamBus, namespace: str) -> None:
    await bus.ensure_stream(namespace, {"maxMsgs": 2, "maxAge": "1h", "duplicates": "1m"})
    subject = bus.subject(namespace, "src", "ev")
    for i in range(4):
        await bus.publish(subject, b"x", f"id-{i}")
    assert await bus.stream_message_count(namespace) == 2
    with pytest.raises(BusError, match="unknown field 'maxMsg'"):
        await bus.ensure_stream(namespace, {"maxMsg": 2})


async def test_key_value(bus: JetStreamBus) -> None:
    kv = await bus.kv("sensor-state")
    assert await kv.get("missing") is None
    rev = await kv.put("dep-a", b"1")
    assert await kv.get("dep-a") == b"1"
    with pytest.raises(KeyConflict):
        await kv.create("dep-a", b"2")
    created = await kv.create("dep-b", b"b")
    assert sorted(await kv.keys()) == ["dep-a", "dep-b"]
    new_rev = await kv.update("dep-a", b"3", last_revision=rev)
    assert new_rev > created
    with pytest.raises(KeyConflict):
        await kv.update("dep-a", b"4", last_revision=rev)
    entry = await kv.entry("dep-a")
    assert entry is not None and (entry.value, entry.revision) == (b"3", new_rev)
    await kv.delete("dep-a")
    assert await kv.get("dep-a") is None
    assert await kv.keys() == ["dep-b"]
    await kv.delete("dep-b")
    assert await kv.keys() == []

"""The broker sources against real brokers: a message published with each broker's own client
becomes a CloudEvent on the sluice bus in Argo's shape, and where the protocol acknowledges
(AMQP, Redis streams) a message is acknowledged only once the bus stored its event.

RabbitMQ, Mosquitto, Redis and a NATS server (the user's broker, not sluice's bus) run on their
standard loopback ports; a test whose broker is absent skips, or fails with
``SLUICE_REQUIRE_SERVICES=1``. Every test uses names of its own.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aio_pika
import aiomqtt
import nats
import pytest
import redis.asyncio as aioredis

from eventbus.jetstream import JetStreamBus
from eventsource.adaptor import Adaptor, RetryPolicy
from eventsource.models import parse_event_source
from eventsource.registry import SOURCES
from eventsource.sources.amqp import AMQPSource
from eventsource.sources.brokers import BrokerSource
from eventsource.sources.mqtt import MQTTSource
from eventsource.sources.nats import NATSSource
from eventsource.sources.redis import RedisSource
from eventsource.sources.redis_stream import CONSUMER, RedisStreamSource
from tests.services import require_service

SOURCE = "broker-es"
HOST = "127.0.0.1"
AMQP_URL = f"amqp://guest:guest@{HOST}:5672/"
Start = Callable[..., Awaitable[Any]]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def start(bus: JetStreamBus, namespace: str) -> AsyncIterator[Start]:
    """Start a broker source for ``{yaml_key: events}``, publishing to ``on`` (default: bus)."""
    started: list[BrokerSource[Any]] = []

    async def run(
        cls: type[BrokerSource[Any]], key: str, events: dict[str, Any], on: Any = None
    ) -> Any:
        resource = parse_event_source(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "EventSource",
                "metadata": {"name": SOURCE},
                "spec": {key: events},
            }
        )
        retry = RetryPolicy(duration=0.05, factor=1, steps=2)
        source = cls(resource, Adaptor(on or bus, namespace, SOURCE, retry=retry))
        await source.start()
        started.append(source)
        return source

    yield run
    for source in started:
        await source.stop()


async def on_bus(bus: JetStreamBus, namespace: str, event: str, n: int = 1) -> list[Any]:
    """The next ``n`` CloudEvents of one event."""
    consumer = await bus.subscribe(bus.subject(namespace, SOURCE, event), unique("t"))
    got: list[Any] = []
    while len(got) < n:
        msgs = await consumer.fetch(n - len(got), timeout=5)
        assert msgs, f"only {len(got)} of {n} events arrived on {event}"
        for msg in msgs:
            got.append(json.loads(msg.data))
            await msg.ack()
    await consumer.close()
    return got


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 5) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def envelope(event: dict[str, Any], event_type: str, name: str) -> None:
    assert {k: event[k] for k in ("specversion", "source", "subject", "type")} == {
        "specversion": "1.0",
        "source": SOURCE,
        "subject": name,
        "type": event_type,
    }


@pytest.mark.parametrize(
    ("key", "cls"),
    [
        ("amqp", AMQPSource),
        ("mqtt", MQTTSource),
        ("redis", RedisSource),
        ("redisStream", RedisStreamSource),
        ("nats", NATSSource),
    ],
    ids=["amqp", "mqtt", "redis", "redisStream", "nats"],
)
def test_registered(key: str, cls: type[Any]) -> None:
    assert SOURCES[key] is cls


# --- AMQP -------------------------------------------------------------------------------------


@pytest.fixture
async def rabbit() -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    require_service("RabbitMQ", HOST, 5672)
    connection = await aio_pika.connect(AMQP_URL)
    channel = await connection.channel()
    yield channel
    await connection.close()


def amqp_event(exchange: str, key: str, **extra: Any) -> dict[str, Any]:
    spec = {"url": AMQP_URL, "exchangeName": exchange, "exchangeType": "topic", "routingKey": key}
    return spec | extra


@pytest.mark.parametrize("json_body", [True, False], ids=["jsonBody", "raw"])
async def test_amqp_message_arrives_in_argo_shape(
    start: Start, rabbit: Any, bus: JetStreamBus, namespace: str, json_body: bool
) -> None:
    exchange = unique("ex")
    event = amqp_event(exchange, "orders.*", jsonBody=json_body, metadata={"team": "a"})
    await start(AMQPSource, "amqp", {"orders": event})
    target = await rabbit.get_exchange(exchange)
    body = b'{"id": 7, "items": ["x"]}'
    await target.publish(
        aio_pika.Message(
            body,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            priority=3,
            correlation_id="c-1",
            reply_to="replies",
            expiration=60,
            message_id="m-1",
            timestamp=datetime(2024, 1, 2, 9, 0, 0, tzinfo=UTC),
            type="order.created",
            app_id="shop",
        ),
        routing_key="orders.new",
    )
    [got] = await on_bus(bus, namespace, "orders")
    envelope(got, "amqp", "orders")
    assert got["data"] == {
        "contentType": "application/json",
        "contentEncoding": "utf-8",
        "deliveryMode": 2,
        "priority": 3,
        "correlationId": "c-1",
        "replyTo": "replies",
        "expiration": "60000",
        "messageId": "m-1",
        "timestamp": "2024-01-02 09:00:00 +0000 UTC",
        "type": "order.created",
        "appId": "shop",
        "exchange": exchange,
        "routingKey": "orders.new",
        "body": {"id": 7, "items": ["x"]} if json_body else base64.b64encode(body).decode(),
        "metadata": {"team": "a"},
    }
    await target.delete()


async def test_amqp_acks_only_what_the_bus_stored(
    start: Start, rabbit: Any, bus: JetStreamBus, namespace: str, nats_url: str
) -> None:
    exchange, queue_name = unique("ex"), unique("q")
    events = {
        "orders": amqp_event(
            exchange,
            "k",
            queueDeclare={"name": queue_name, "durable": True, "exclusive": False},
        )
    }
    own_bus = JetStreamBus()
    await own_bus.connect(nats_url)
    await own_bus.close()  # the bus is down
    source = await start(AMQPSource, "amqp", events, on=own_bus)
    target = await rabbit.get_exchange(exchange)
    await target.publish(aio_pika.Message(b"hello"), routing_key="k")

    async def failed() -> bool:
        return source.counts()["orders"][1] >= 1

    await eventually(failed, "a failed dispatch")
    await source.stop()
    queue = await rabbit.declare_queue(queue_name, passive=True)
    assert queue.declaration_result.message_count == 1  # nacked back into the queue

    await own_bus.connect(nats_url)  # the bus is back
    try:
        await start(AMQPSource, "amqp", events, on=own_bus)
        [got] = await on_bus(bus, namespace, "orders")
        assert got["data"]["body"] == base64.b64encode(b"hello").decode()

        async def drained() -> bool:
            declared = await rabbit.declare_queue(queue_name, passive=True)
            return declared.declaration_result.message_count == 0

        await eventually(drained, "the queue to be empty")
    finally:
        await own_bus.close()
    await rabbit.queue_delete(queue_name)
    await target.delete()


async def test_amqp_rejects_a_body_that_is_not_json(
    start: Start, rabbit: Any, bus: JetStreamBus, namespace: str
) -> None:
    exchange = unique("ex")
    source = await start(AMQPSource, "amqp", {"e": amqp_event(exchange, "k", jsonBody=True)})
    target = await rabbit.get_exchange(exchange)
    await target.publish(aio_pika.Message(b"not json"), routing_key="k")
    await target.publish(aio_pika.Message(b"[1]"), routing_key="k")
    [got] = await on_bus(bus, namespace, "e")
    assert got["data"]["body"] == [1]
    assert source.counts()["e"] == (2, 1)
    await target.delete()


async def test_amqp_consumes_again_after_the_broker_cancelled_it(
    start: Start, rabbit: Any, bus: JetStreamBus, namespace: str
) -> None:
    exchange, queue_name = unique("ex"), unique("q")
    spec = amqp_event(exchange, "k", queueDeclare={"name": queue_name, "exclusive": False})
    source = await start(AMQPSource, "amqp", {"e": spec})
    await rabbit.queue_delete(queue_name)  # the broker cancels the consumer

    async def restarted() -> bool:
        [status] = source.supervisor.status().values()
        return bool(status.restarts == 1 and status.state == "running")

    await eventually(restarted, "the listener to declare and consume again")
    target = await rabbit.get_exchange(exchange)
    await target.publish(aio_pika.Message(b"[3]"), routing_key="k")
    [got] = await on_bus(bus, namespace, "e")
    assert got["data"]["body"] == base64.b64encode(b"[3]").decode()
    await rabbit.queue_delete(queue_name)
    await target.delete()


# --- MQTT -------------------------------------------------------------------------------------


@pytest.mark.parametrize("json_body", [True, False], ids=["jsonBody", "raw"])
async def test_mqtt_message_arrives_in_argo_shape(
    start: Start, bus: JetStreamBus, namespace: str, json_body: bool
) -> None:
    require_service("Mosquitto", HOST, 1883)
    topic = unique("sluice/test")
    event = {
        "url": f"tcp://{HOST}:1883",
        "topic": f"{topic}/+",
        "clientId": unique("sluice"),
        "jsonBody": json_body,
        "metadata": {"k": "v"},
    }
    await start(MQTTSource, "mqtt", {"sensors": event})
    async with aiomqtt.Client(HOST, 1883) as client:
        await client.publish(f"{topic}/room1", b'{"temp": 21.5}', qos=0)
    [got] = await on_bus(bus, namespace, "sensors")
    envelope(got, "mqtt", "sensors")
    body: Any = {"temp": 21.5} if json_body else base64.b64encode(b'{"temp": 21.5}').decode()
    assert got["data"] == {
        "topic": f"{topic}/room1",
        "messageId": 0,
        "body": body,
        "metadata": {"k": "v"},
    }


async def test_mqtt_subscribes_again_after_losing_its_session(
    start: Start, bus: JetStreamBus, namespace: str
) -> None:
    require_service("Mosquitto", HOST, 1883)
    topic, client_id = unique("sluice/lost"), unique("sluice")
    event = {"url": f"tcp://{HOST}:1883", "topic": topic, "clientId": client_id}
    source = await start(MQTTSource, "mqtt", {"e": event})
    async with aiomqtt.Client(HOST, 1883, identifier=client_id):
        pass  # same client id: the broker disconnects the source's session

    async def restarted() -> bool:
        [status] = source.supervisor.status().values()
        return bool(status.restarts == 1 and status.state == "running")

    await eventually(restarted, "the listener to connect and subscribe again")
    async with aiomqtt.Client(HOST, 1883) as client:
        await client.publish(topic, b"again", qos=0)
    [got] = await on_bus(bus, namespace, "e")
    assert got["data"]["body"] == base64.b64encode(b"again").decode()


# --- Redis PUB/SUB ----------------------------------------------------------------------------


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    require_service("Redis", HOST, 6379)
    client = aioredis.Redis(host=HOST, port=6379)
    yield client
    await client.aclose()


@pytest.mark.parametrize("json_body", [True, False], ids=["jsonBody", "raw"])
async def test_redis_message_arrives_in_argo_shape(
    start: Start, redis_client: aioredis.Redis, bus: JetStreamBus, namespace: str, json_body: bool
) -> None:
    channel = unique("chan")
    event = {"hostAddress": f"{HOST}:6379", "channels": [channel], "jsonBody": json_body}
    await start(RedisSource, "redis", {"news": event})
    assert await redis_client.publish(channel, '{"headline": "ok"}') == 1
    [got] = await on_bus(bus, namespace, "news")
    envelope(got, "redis", "news")
    body: Any = {"headline": "ok"} if json_body else '{"headline": "ok"}'
    assert got["data"] == {"channel": channel, "pattern": "", "body": body}


async def test_redis_subscribes_again_after_its_connection_is_killed(
    start: Start, redis_client: aioredis.Redis, bus: JetStreamBus, namespace: str
) -> None:
    channel = unique("chan")
    event = {"hostAddress": f"{HOST}:6379", "channels": [channel]}
    await start(RedisSource, "redis", {"killed": event})
    [mine] = [c for c in await redis_client.client_list() if c["name"] == f"sluice:{SOURCE}:killed"]
    await redis_client.client_kill_filter(_id=mine["id"])

    async def subscribed() -> bool:
        return bool((await redis_client.pubsub_numsub(channel))[0][1] == 1)

    await eventually(subscribed, "the subscription to come back")
    await redis_client.publish(channel, "again")
    [got] = await on_bus(bus, namespace, "killed")
    assert got["data"]["body"] == "again"


# --- Redis streams ----------------------------------------------------------------------------


async def test_redis_stream_entry_arrives_in_argo_shape(
    start: Start, redis_client: aioredis.Redis, bus: JetStreamBus, namespace: str
) -> None:
    stream, group = unique("stream"), unique("cg")
    await redis_client.xadd(stream, {"before": "start"})  # the group starts at $: not read
    event = {
        "hostAddress": f"{HOST}:6379",
        "streams": [stream],
        "consumerGroup": group,
        "maxMsgCountPerRead": 2,
        "metadata": {"k": "v"},
    }
    await start(RedisStreamSource, "redisStream", {"entries": event})
    ids = [await redis_client.xadd(stream, {"n": str(n), "who": "me"}) for n in range(3)]
    got = await on_bus(bus, namespace, "entries", 3)
    envelope(got[0], "redisStream", "entries")
    assert [e["data"] for e in got] == [
        {
            "stream": stream,
            "message_id": entry.decode(),
            "values": {"n": str(n), "who": "me"},
            "metadata": {"k": "v"},
        }
        for n, entry in enumerate(ids)
    ]

    async def acked() -> bool:
        pending = await redis_client.xpending(stream, group)
        return pending["pending"] == 0

    await eventually(acked, "every entry to be acked")
    await redis_client.delete(stream)


async def test_redis_stream_acks_only_what_the_bus_stored(
    start: Start, redis_client: aioredis.Redis, bus: JetStreamBus, namespace: str, nats_url: str
) -> None:
    stream, group = unique("stream"), unique("cg")
    await redis_client.xadd(stream, {"init": "1"})
    events = {
        "entries": {"hostAddress": f"{HOST}:6379", "streams": [stream], "consumerGroup": group}
    }
    own_bus = JetStreamBus()
    await own_bus.connect(nats_url)
    await own_bus.close()  # the bus is down
    source = await start(RedisStreamSource, "redisStream", events, on=own_bus)
    entry = await redis_client.xadd(stream, {"order": "42"})

    async def failed() -> bool:
        return source.counts()["entries"][1] >= 1

    await eventually(failed, "a failed dispatch")
    await source.stop()
    pending = await redis_client.xpending(stream, group)
    assert (pending["pending"], pending["min"]) == (1, entry)
    assert [c["name"] for c in pending["consumers"]] == [CONSUMER.encode()]

    await own_bus.connect(nats_url)  # the bus is back; a new start reads the pending entry
    try:
        await start(RedisStreamSource, "redisStream", events, on=own_bus)
        [got] = await on_bus(bus, namespace, "entries")
        assert got["data"]["message_id"] == entry.decode()
        assert got["data"]["values"] == {"order": "42"}

        async def acked() -> bool:
            return (await redis_client.xpending(stream, group))["pending"] == 0

        await eventually(acked, "the entry to be acked")
    finally:
        await own_bus.close()
    await redis_client.delete(stream)


# --- NATS -------------------------------------------------------------------------------------


@pytest.fixture
async def broker_nats() -> AsyncIterator[Any]:
    """The user's NATS server (not sluice's bus)."""
    require_service("NATS", HOST, 4222)
    nc = await nats.connect(f"nats://{HOST}:4222")
    yield nc
    await nc.close()


@pytest.mark.parametrize("json_body", [True, False], ids=["jsonBody", "raw"])
async def test_nats_message_arrives_in_argo_shape(
    start: Start, broker_nats: Any, bus: JetStreamBus, namespace: str, json_body: bool
) -> None:
    subject = unique("sluice.test")
    event = {"url": f"nats://{HOST}:4222", "subject": f"{subject}.>", "jsonBody": json_body}
    await start(NATSSource, "nats", {"orders": event})
    await broker_nats.publish(f"{subject}.eu", b'{"id": 1}', headers={"X-Trace": "t1"})
    await broker_nats.publish(f"{subject}.us", b"[2]")
    got = await on_bus(bus, namespace, "orders", 2)
    envelope(got[0], "nats", "orders")

    def body(raw: bytes) -> Any:
        return json.loads(raw) if json_body else base64.b64encode(raw).decode()

    assert [e["data"] for e in got] == [
        {"subject": f"{subject}.eu", "body": body(b'{"id": 1}'), "header": {"X-Trace": ["t1"]}},
        {"subject": f"{subject}.us", "body": body(b"[2]")},
    ]


async def test_nats_queue_group_shares_the_messages(
    start: Start, broker_nats: Any, bus: JetStreamBus, namespace: str
) -> None:
    subject = unique("sluice.queue")
    event = {"url": f"nats://{HOST}:4222", "subject": subject, "queue": unique("workers")}
    first = await start(NATSSource, "nats", {"jobs": event})
    second = await start(NATSSource, "nats", {"jobs": event})
    for n in range(20):
        await broker_nats.publish(subject, str(n).encode())
    got = await on_bus(bus, namespace, "jobs", 20)
    bodies = sorted(int(base64.b64decode(e["data"]["body"])) for e in got)
    assert bodies == list(range(20))  # each message once, whichever member received it
    assert first.counts()["jobs"][0] + second.counts()["jobs"][0] == 20

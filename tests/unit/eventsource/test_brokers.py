"""The broker sources' data shaping and spec checks, without a broker (the sources themselves
run against real brokers in tests/integration/eventsource/test_brokers.py)."""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiomqtt
import pytest

from eventsource.adaptor import Adaptor
from eventsource.models import parse_event_source
from eventsource.models.brokers import (
    AMQPEventSource,
    MQTTEventSource,
    NATSEventsSource,
    RedisEventSource,
    RedisStreamEventSource,
)
from eventsource.models.common import TLSConfig
from eventsource.secrets import LocalSecrets
from eventsource.sources import amqp, mqtt, nats, redis, redis_stream
from eventsource.sources.brokers import (
    BrokerError,
    Inbox,
    check_tls,
)
from eventsource.sources.payloads import message_body, with_metadata
from sluice.core.errors import SpecError

B64 = base64.b64encode


@pytest.mark.parametrize(
    ("payload", "json_body", "expected"),
    [
        (b"\x00raw", False, B64(b"\x00raw").decode()),
        (b"", False, ""),
        (None, False, None),  # Go marshals a nil []byte as null
        (b'{"a": [1, 2.5]}', True, {"a": [1, 2.5]}),
        (b" [1] ", True, [1]),
        (b'"text"', True, "text"),
    ],
    ids=["bytes-base64", "empty", "nil", "object", "array-spaces", "string"],
)
def test_message_body(payload: bytes | None, json_body: bool, expected: Any) -> None:
    assert message_body(payload, json_body) == expected


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"", b"\xff\xfe", b'{"open": ', b"NaN", b"[Infinity]"],
    ids=["text", "empty", "bytes", "cut", "nan", "infinity"],
)
def test_json_body_that_go_would_refuse(payload: bytes) -> None:
    with pytest.raises(ValueError):
        message_body(payload, True)


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [(None, {"a": 1}), ({}, {"a": 1}), ({"k": "v"}, {"a": 1, "metadata": {"k": "v"}})],
    ids=["none", "empty-omitted", "set"],
)
def test_with_metadata(metadata: dict[str, str] | None, expected: dict[str, Any]) -> None:
    assert with_metadata({"a": 1}, metadata) == expected


SECRET = {"name": "s", "key": "k"}


@pytest.mark.parametrize(
    ("tls", "problem"),
    [
        ({}, "set caCertSecret"),
        ({"clientCertSecret": SECRET}, "go together"),
        ({"clientKeySecret": SECRET, "caCertSecret": SECRET}, "go together"),
        ({"caCertSecret": SECRET}, None),
        ({"insecureSkipVerify": True}, None),
        ({"clientCertSecret": SECRET, "clientKeySecret": SECRET}, None),
    ],
    ids=["nothing", "cert-no-key", "key-no-cert", "ca", "insecure", "client-pair"],
)
def test_check_tls(tls: dict[str, Any], problem: str | None) -> None:
    config = TLSConfig.model_validate(tls)
    if problem is None:
        check_tls(config, "x.tls")
        return
    with pytest.raises(SpecError, match=problem):
        check_tls(config, "x.tls")


# --- AMQP -------------------------------------------------------------------------------------


def amqp_message(**props: Any) -> Any:
    names = "content_type content_encoding delivery_mode priority correlation_id reply_to"
    names += " message_id timestamp type app_id exchange routing_key"
    fields: dict[str, Any] = dict.fromkeys(names.split())
    fields.update(props)
    expiration = fields.pop("expiration", None)
    return SimpleNamespace(
        body=fields.pop("body", b"hi"), properties=SimpleNamespace(expiration=expiration), **fields
    )


@pytest.mark.parametrize(
    ("props", "spec", "expected"),
    [
        (
            {},
            {},
            {
                "contentType": "",
                "contentEncoding": "",
                "deliveryMode": 0,
                "priority": 0,
                "correlationId": "",
                "replyTo": "",
                "expiration": "",
                "messageId": "",
                "timestamp": "0001-01-01 00:00:00 +0000 UTC",
                "type": "",
                "appId": "",
                "exchange": "",
                "routingKey": "",
                "body": B64(b"hi").decode(),
            },
        ),
        (
            {
                "body": b'{"x": 1}',
                "delivery_mode": 2,
                "expiration": "1500",
                "timestamp": datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
                "routing_key": "a.b",
            },
            {"jsonBody": True, "metadata": {"k": "v"}},
            {
                "deliveryMode": 2,
                "expiration": "1500",
                "timestamp": "2024-05-01 12:30:00 +0000 UTC",
                "routingKey": "a.b",
                "body": {"x": 1},
                "metadata": {"k": "v"},
            },
        ),
    ],
    ids=["no-properties-go-zero-values", "properties-json-metadata"],
)
def test_amqp_event_data(props: dict[str, Any], spec: dict[str, Any], expected: Any) -> None:
    data = amqp.event_data(amqp_message(**props), AMQPEventSource.model_validate(spec))
    assert {k: data[k] for k in expected} == expected
    assert list(data)[:3] == ["contentType", "contentEncoding", "deliveryMode"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, None),
        ("", None),
        ("x-queue-type: quorum\nx-max-length: 10", {"x-queue-type": "quorum", "x-max-length": 10}),
        ("[1, 2]", SpecError),
        ("a: [", SpecError),
    ],
    ids=["none", "empty", "table", "list", "broken"],
)
def test_amqp_queue_arguments(text: str | None, expected: Any) -> None:
    if expected is SpecError:
        with pytest.raises(SpecError, match=r"queueDeclare\.arguments"):
            amqp.queue_arguments(text, "spec.amqp.x")
    else:
        assert amqp.queue_arguments(text, "spec.amqp.x") == expected


# --- MQTT -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("tcp://broker:1883", ("broker", 1883, "tcp", False, None)),
        ("mqtt://broker", ("broker", 1883, "tcp", False, None)),
        ("ssl://broker", ("broker", 8883, "tcp", True, None)),
        ("tls://broker:9999", ("broker", 9999, "tcp", True, None)),
        ("ws://broker:8080/mqtt", ("broker", 8080, "websockets", False, "/mqtt")),
        ("wss://broker", ("broker", 443, "websockets", True, "/")),
        ("broker:1884", ("broker", 1884, "tcp", False, None)),
    ],
    ids=["tcp", "mqtt-default-port", "ssl", "tls-port", "ws-path", "wss", "no-scheme"],
)
def test_mqtt_url(url: str, expected: tuple[Any, ...]) -> None:
    parsed = mqtt.BrokerURL.parse(url)
    assert (parsed.host, parsed.port, parsed.transport, parsed.tls, parsed.path) == expected


def test_mqtt_url_credentials_and_errors() -> None:
    parsed = mqtt.BrokerURL.parse("tcp://us%40er:p%3Ass@broker")
    assert (parsed.username, parsed.password) == ("us@er", "p:ss")
    with pytest.raises(ValueError, match="unknown scheme"):
        mqtt.BrokerURL.parse("http://broker")
    with pytest.raises(ValueError, match="no host"):
        mqtt.BrokerURL.parse("tcp://:1883")


@pytest.mark.parametrize(
    ("payload", "spec", "body"),
    [
        (b'{"t": 1}', {}, B64(b'{"t": 1}').decode()),
        (b'{"t": 1}', {"jsonBody": True}, {"t": 1}),
    ],
    ids=["raw", "jsonBody"],
)
def test_mqtt_event_data(payload: bytes, spec: dict[str, Any], body: Any) -> None:
    message = aiomqtt.Message("a/b", payload, qos=1, retain=False, mid=17, properties=None)
    data = mqtt.event_data(message, MQTTEventSource.model_validate(spec))
    assert data == {"topic": "a/b", "messageId": 17, "body": body}


# --- Redis ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "spec", "expected"),
    [
        (
            {"type": "message", "pattern": None, "channel": b"c", "data": b'{"a": 1}'},
            {},
            {"channel": "c", "pattern": "", "body": '{"a": 1}'},
        ),
        (
            {"type": "message", "pattern": None, "channel": b"c", "data": b'{"a": 1}'},
            {"jsonBody": True, "metadata": {"k": "v"}},
            {"channel": "c", "pattern": "", "body": {"a": 1}, "metadata": {"k": "v"}},
        ),
        (
            {"type": "pmessage", "pattern": b"c*", "channel": b"cx", "data": b"\xffok"},
            {},
            {"channel": "cx", "pattern": "c*", "body": "\ufffdok"},
        ),
    ],
    ids=["string-body", "jsonBody-metadata", "invalid-utf8-as-go"],
)
def test_redis_event_data(
    message: dict[str, Any], spec: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert redis.event_data(message, RedisEventSource.model_validate(spec)) == expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("redis:6379", ("redis", 6379)),
        ("redis", ("redis", 6379)),
        ("[::1]:7000", ("::1", 7000)),
        ("redis:port", ValueError),
        (":6379", ValueError),
    ],
    ids=["host-port", "default-port", "ipv6", "bad-port", "no-host"],
)
def test_redis_host_port(address: str, expected: Any) -> None:
    if expected is ValueError:
        with pytest.raises(ValueError):
            redis.host_port(address)
    else:
        assert redis.host_port(address) == expected


def test_redis_stream_event_data_and_id() -> None:
    spec = RedisStreamEventSource.model_validate({"metadata": {"k": "v"}})
    values = {b"n": b"1", b"name": b"\xff"}
    assert redis_stream.event_data("s", "1-0", values, spec) == {
        "stream": "s",
        "message_id": "1-0",
        "values": {"n": "1", "name": "\ufffd"},
        "metadata": {"k": "v"},
    }
    one = redis_stream.entry_event_id("es", "e", "s", "1-0")
    assert one == redis_stream.entry_event_id("es", "e", "s", "1-0")
    others = {
        redis_stream.entry_event_id(*args)
        for args in [("es", "e", "s", "1-1"), ("es", "f", "s", "1-0"), ("es2", "e", "s", "1-0")]
    }
    assert one not in others and len(others) == 3


# --- NATS -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "spec", "expected"),
    [
        (None, {}, {"subject": "a.b", "body": B64(b"[1]").decode()}),
        ({}, {"jsonBody": True}, {"subject": "a.b", "body": [1]}),
        (
            {"X-Id": "7"},
            {"metadata": {"k": "v"}},
            {
                "subject": "a.b",
                "body": B64(b"[1]").decode(),
                "header": {"X-Id": ["7"]},
                "metadata": {"k": "v"},
            },
        ),
    ],
    ids=["no-header-omitted", "jsonBody", "header-as-go-map"],
)
def test_nats_event_data(headers: Any, spec: dict[str, Any], expected: dict[str, Any]) -> None:
    msg: Any = SimpleNamespace(subject="a.b", data=b"[1]", headers=headers)
    assert nats.event_data(msg, NATSEventsSource.model_validate(spec)) == expected


# --- spec checks and the inbox ----------------------------------------------------------------


def resource(key: str, spec: dict[str, Any]) -> Any:
    return parse_event_source(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "EventSource",
            "metadata": {"name": "es"},
            "spec": {key: {"e": spec}},
        }
    )


@pytest.mark.parametrize(
    ("cls", "key", "spec", "problem"),
    [
        (amqp.AMQPSource, "amqp", {"exchangeName": "x", "exchangeType": "topic"}, "url"),
        (amqp.AMQPSource, "amqp", {"url": "amqp://h"}, "exchangeName"),
        (
            amqp.AMQPSource,
            "amqp",
            {
                "url": "amqp://h",
                "exchangeName": "x",
                "exchangeType": "topic",
                "queueDeclare": {"arguments": "[1]"},
            },
            "arguments",
        ),
        (mqtt.MQTTSource, "mqtt", {"url": "tcp://h"}, "topic"),
        (mqtt.MQTTSource, "mqtt", {"url": "http://h", "topic": "t"}, "unknown scheme"),
        (
            mqtt.MQTTSource,
            "mqtt",
            {"url": "ssl://h", "topic": "t", "tls": {"clientCertSecret": SECRET}},
            "spec.mqtt.e.tls: clientCertSecret and clientKeySecret",
        ),
        (redis.RedisSource, "redis", {"hostAddress": "h:6379"}, "channels"),
        (redis.RedisSource, "redis", {"hostAddress": "h:x", "channels": ["c"]}, "hostAddress"),
        (redis_stream.RedisStreamSource, "redisStream", {"hostAddress": "h"}, "streams"),
        (nats.NATSSource, "nats", {"url": "nats://h"}, "subject"),
        (
            nats.NATSSource,
            "nats",
            {"url": "nats://h", "subject": "s", "auth": {"basic": {"username": SECRET}}},
            "spec.nats.e.auth: username and password",
        ),
        (
            mqtt.MQTTSource,
            "mqtt",
            {"url": "tcp://h", "topic": "t", "auth": {"password": SECRET}},
            "spec.mqtt.e.auth: username and password",
        ),
    ],
    ids=[
        "amqp-no-url",
        "amqp-no-exchange",
        "amqp-bad-arguments",
        "mqtt-no-topic",
        "mqtt-bad-scheme",
        "mqtt-tls",
        "redis-no-channels",
        "redis-bad-host",
        "redisstream-no-streams",
        "nats-no-subject",
        "nats-basic-half",
        "mqtt-auth-half",
    ],
)
async def test_spec_problems_fail_the_start(
    cls: Any, key: str, spec: dict[str, Any], problem: str
) -> None:
    source = cls(resource(key, spec), Adaptor(object(), "default", "es"))  # type: ignore[arg-type]
    with pytest.raises(SpecError, match=re.escape(problem)) as caught:
        await source.start()
    assert f"eventsource/es: spec.{key}.e" in str(caught.value)


async def test_inbox_hands_over_items_failures_and_stops() -> None:
    inbox: Inbox[int] = Inbox(size=4)
    stopping = asyncio.Event()
    await inbox.put(1)
    assert await inbox.get(stopping) == 1
    inbox.fail(BrokerError("lost"))
    with pytest.raises(BrokerError, match="lost"):
        await inbox.get(stopping)
    waiting = asyncio.ensure_future(inbox.get(stopping))
    await asyncio.sleep(0)
    stopping.set()
    assert await waiting is None
    await inbox.put(2)
    assert await inbox.get(stopping) is None  # stopped: nothing more is taken


def listener_of(spec: NATSEventsSource, data_dir: Path) -> nats.NATSListener:
    adaptor = Adaptor(object(), "default", "es")  # type: ignore[arg-type]
    return nats.NATSListener("e", spec, adaptor, LocalSecrets(data_dir))


def test_tls_secrets_become_an_ssl_context(tmp_path: Path) -> None:
    from tests.integration.eventsource.test_webhook import self_signed

    self_signed(tmp_path)  # the secret "tls" with keys crt and key
    crt, key = {"name": "tls", "key": "crt"}, {"name": "tls", "key": "key"}
    tls = {"caCertSecret": crt, "clientCertSecret": crt, "clientKeySecret": key}
    spec = NATSEventsSource.model_validate({"url": "nats://h", "subject": "s", "tls": tls})
    listener = listener_of(spec, tmp_path)
    with listener.tls() as files:
        assert files.ca and files.cert and files.key and not files.insecure
        folder = Path(files.ca).parent
        assert (folder / "key.pem").stat().st_mode & 0o077 == 0
        context = files.context()
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert not folder.exists()  # the key does not outlive the context

    insecure = spec.model_copy(
        update={"tls": TLSConfig.model_validate({"insecureSkipVerify": True})}
    )
    listener = listener_of(insecure, tmp_path)
    with listener.tls() as files:
        assert files.context().verify_mode is ssl.CERT_NONE

    missing = spec.model_copy(
        update={"tls": TLSConfig.model_validate({"caCertSecret": {"name": "nope", "key": "k"}})}
    )
    listener = listener_of(missing, tmp_path)
    with pytest.raises(BrokerError, match=r"tls\.caCertSecret"), listener.tls():
        pass
    listener.secrets = None
    with pytest.raises(SpecError, match="needs a data directory"), listener.tls():
        pass

"""The webhook source against a real nats-server: what arrives on the bus, and what callers get."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from eventbus.embedded import EmbeddedNats, free_port
from eventbus.jetstream import JetStreamBus
from eventsource.adaptor import Adaptor, RetryPolicy
from eventsource.models import parse_event_source
from eventsource.registry import SOURCES
from eventsource.secrets import LocalSecrets
from eventsource.sources.webhook import MASKED_AUTH, WebhookServers, WebhookSource

SOURCE = "webhook-es"
Start = Callable[..., Awaitable[tuple[WebhookSource, int]]]


def event_source(events: dict[str, dict[str, Any]]) -> Any:
    return parse_event_source(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "EventSource",
            "metadata": {"name": SOURCE},
            "spec": {"webhook": events},
        }
    )


@pytest.fixture
async def start_webhook(bus: JetStreamBus, namespace: str, tmp_path: Path) -> AsyncIterator[Start]:
    """Start a WebhookSource for the given events; every event listens on one free port."""
    started: list[WebhookSource] = []

    async def start(
        events: dict[str, dict[str, Any]], *, on: JetStreamBus | None = None
    ) -> tuple[WebhookSource, int]:
        port = free_port()
        for spec in events.values():
            spec.setdefault("port", str(port))
        adaptor = Adaptor(
            on or bus, namespace, SOURCE, retry=RetryPolicy(duration=0.05, factor=1, steps=2)
        )
        source = WebhookSource(
            event_source(events),
            adaptor,
            secrets=LocalSecrets(tmp_path),
            servers=WebhookServers("127.0.0.1"),
        )
        await source.start()
        started.append(source)
        return source, port

    yield start
    for source in started:
        await source.stop()


async def on_bus(bus: JetStreamBus, namespace: str, event: str, n: int = 1) -> list[Any]:
    """The next ``n`` messages of one event: (headers, CloudEvent) each."""
    consumer = await bus.subscribe(bus.subject(namespace, SOURCE, event), f"t-{event}")
    got: list[Any] = []
    while len(got) < n:
        msgs = await consumer.fetch(n - len(got), timeout=3)
        assert msgs, f"only {len(got)} of {n} events arrived on {event}"
        for msg in msgs:
            got.append((msg.headers, json.loads(msg.data)))
            await msg.ack()
    await consumer.close()
    return got


async def call(method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(method, url, **kwargs) as resp:
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text


def test_webhook_is_registered() -> None:
    assert SOURCES["webhook"] is WebhookSource


async def test_json_post_arrives_with_argo_data_shape(
    start_webhook: Start, bus: JetStreamBus, namespace: str
) -> None:
    events = {"example": {"endpoint": "/example", "method": "POST", "metadata": {"team": "data"}}}
    _, port = await start_webhook(events)
    status, reply = await call(
        "POST",
        f"http://127.0.0.1:{port}/example",
        json={"message": "hello", "n": [1, 2]},
        headers={"x-request-id": "r1"},
    )
    assert status == 200, reply
    assert reply["message"] == "success"

    [(headers, event)] = await on_bus(bus, namespace, "example")
    assert headers["Nats-Msg-Id"] == reply["eventId"] == event["id"]
    assert {k: event[k] for k in ("specversion", "source", "subject", "type")} == {
        "specversion": "1.0",
        "source": SOURCE,
        "subject": "example",
        "type": "webhook",
    }
    assert event["datacontenttype"] == "application/json"
    assert event["time"].endswith("Z")
    data = event["data"]
    assert set(data) == {"header", "body", "metadata"}
    assert data["body"] == {"message": "hello", "n": [1, 2]}
    assert data["metadata"] == {"team": "data"}
    assert data["header"]["X-Request-Id"] == ["r1"]
    assert data["header"]["Content-Type"] == ["application/json"]
    assert "Host" not in data["header"]


async def test_form_post_and_get_query(
    start_webhook: Start, bus: JetStreamBus, namespace: str
) -> None:
    events = {
        "form": {"endpoint": "/form", "method": "POST"},
        "query": {"endpoint": "/query", "method": "GET"},
    }
    _, port = await start_webhook(events)
    base = f"http://127.0.0.1:{port}"
    form = [("a", "1"), ("a", "2"), ("empty", "")]
    status, _ = await call("POST", f"{base}/form", data=form)
    assert status == 200
    status, _ = await call("GET", f"{base}/query?q=x&q=y&page=2")
    assert status == 200

    [(_, form_event)] = await on_bus(bus, namespace, "form")
    assert form_event["data"]["body"] == {"a": ["1", "2"], "empty": [""]}
    assert "metadata" not in form_event["data"]
    [(_, query_event)] = await on_bus(bus, namespace, "query")
    assert query_event["data"]["body"] == {"q": ["x", "y"], "page": ["2"]}


async def test_two_events_share_one_port(
    start_webhook: Start, bus: JetStreamBus, namespace: str
) -> None:
    events = {
        "one": {"endpoint": "/one", "method": "POST"},
        "two": {"endpoint": "/two", "method": "POST"},
    }
    source, port = await start_webhook(events)
    assert source.servers.ports() == [port]
    for name in ("one", "two", "two"):
        status, _ = await call("POST", f"http://127.0.0.1:{port}/{name}", json={"to": name})
        assert status == 200
    assert [e["data"]["body"] for _, e in await on_bus(bus, namespace, "one")] == [{"to": "one"}]
    two = await on_bus(bus, namespace, "two", n=2)
    assert [e["data"]["body"] for _, e in two] == [{"to": "two"}] * 2
    status, _ = await call("POST", f"http://127.0.0.1:{port}/three", json={})
    assert status == 404


async def test_health(start_webhook: Start) -> None:
    _, port = await start_webhook({"e": {"endpoint": "/e", "method": "POST"}})
    assert await call("GET", f"http://127.0.0.1:{port}/health") == (200, "OK")


@pytest.mark.parametrize("layout", ["key-file", "manifest"])
async def test_bearer_auth(
    start_webhook: Start, bus: JetStreamBus, namespace: str, tmp_path: Path, layout: str
) -> None:
    secrets = tmp_path / "secrets"
    if layout == "key-file":
        (secrets / "hook").mkdir(parents=True)
        (secrets / "hook" / "token").write_text("s3cret\n")
    else:
        secrets.mkdir()
        (secrets / "hook.yaml").write_text("kind: Secret\ndata:\n  token: czNjcmV0\n")
    events = {
        "secure": {
            "endpoint": "/secure",
            "method": "POST",
            "authSecret": {"name": "hook", "key": "token"},
        }
    }
    _, port = await start_webhook(events)
    url = f"http://127.0.0.1:{port}/secure"

    status, reply = await call("POST", url, json={})
    assert (status, reply["error"]) == (401, "Invalid Authorization Header")
    status, reply = await call("POST", url, json={}, headers={"Authorization": "Bearer nope"})
    assert (status, reply["error"]) == (401, "Invalid Auth token")
    status, reply = await call(
        "POST", url, json={"ok": 1}, headers={"Authorization": "Bearer s3cret"}
    )
    assert status == 200

    [(_, event)] = await on_bus(bus, namespace, "secure")
    assert event["id"] == reply["eventId"]
    assert event["data"]["header"]["Authorization"] == [MASKED_AUTH]
    assert "s3cret" not in json.dumps(event)


async def test_refused_requests_publish_nothing(
    start_webhook: Start, bus: JetStreamBus, namespace: str
) -> None:
    events = {"small": {"endpoint": "/small", "method": "POST", "maxPayloadSize": 64}}
    _, port = await start_webhook(events)
    url = f"http://127.0.0.1:{port}/small"

    status, reply = await call("POST", url, json={"pad": "x" * 100})
    assert status == 413, reply
    status, reply = await call(
        "POST", url, data=b"{not json", headers={"Content-Type": "text/plain"}
    )
    assert status == 400
    assert "not valid JSON" in reply["error"]
    status, reply = await call("POST", url, data=b"")
    assert status == 400
    status, reply = await call("GET", url)
    assert (status, reply["error"]) == (400, "http method does not match")
    assert await bus.stream_message_count(namespace) == 0


async def test_no_200_for_an_event_the_bus_did_not_store(
    start_webhook: Start, namespace: str, tmp_path: Path
) -> None:
    server = EmbeddedNats(tmp_path / "own-bus")
    await server.start()
    own = JetStreamBus(publish_timeout=0.5, reconnect_wait=0.1)
    try:
        await own.connect(server.url)
        await own.ensure_stream(namespace)
        _, port = await start_webhook({"e": {"endpoint": "/e", "method": "POST"}}, on=own)
        url = f"http://127.0.0.1:{port}/e"
        replies = [await call("POST", url, json={"n": 0})]
        assert replies[0][0] == 200

        await server.stop()
        down = await call("POST", url, json={"n": 1})
        assert down == (500, {"error": "failed to record event"})
        replies.append(down)

        await server.start()
        for n in range(2, 100):  # until the client has reconnected
            replies.append(await call("POST", url, json={"n": n}))
            if replies[-1][0] == 200:
                break
            await asyncio.sleep(0.1)
        assert replies[-1][0] == 200

        stored = {h["Nats-Msg-Id"] for h, _ in await on_bus(own, namespace, "e", n=1)}
        consumer = await own.subscribe(own.subject(namespace, SOURCE, "e"), "all")
        while msgs := await consumer.fetch(100, timeout=1):
            stored |= {m.headers["Nats-Msg-Id"] for m in msgs}
        acked = {reply["eventId"] for status, reply in replies if status == 200}
        assert len(acked) >= 2
        assert acked <= stored
        assert all(status in (200, 500) for status, _ in replies)
    finally:
        await own.close()
        await server.stop()


def self_signed(folder: Path) -> Path:
    """A certificate and key for 127.0.0.1 as the secret ``tls`` (keys crt, key); the cert path."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    secret = folder / "secrets" / "tls"
    secret.mkdir(parents=True)
    (secret / "crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (secret / "key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return secret / "crt"


async def test_tls_from_cert_and_key_secrets(
    start_webhook: Start, bus: JetStreamBus, namespace: str, tmp_path: Path
) -> None:
    import ssl

    cert = self_signed(tmp_path)
    events = {
        "tls": {
            "endpoint": "/tls",
            "method": "POST",
            "serverCertSecret": {"name": "tls", "key": "crt"},
            "serverKeySecret": {"name": "tls", "key": "key"},
        }
    }
    _, port = await start_webhook(events)
    trusted = ssl.create_default_context(cafile=str(cert))
    status, reply = await call("POST", f"https://127.0.0.1:{port}/tls", json={"a": 1}, ssl=trusted)
    assert status == 200, reply
    [(_, event)] = await on_bus(bus, namespace, "tls")
    assert event["data"]["body"] == {"a": 1}
    with pytest.raises(aiohttp.ClientError):  # plain HTTP is not served on a TLS port
        await call("POST", f"http://127.0.0.1:{port}/tls", json={"a": 2})


async def test_tls_settings_are_checked_at_start(start_webhook: Start, tmp_path: Path) -> None:
    from sluice.core.errors import SpecError

    half = {"endpoint": "/h", "method": "POST", "serverCertSecret": {"name": "tls", "key": "crt"}}
    with pytest.raises(SpecError, match="serverCertSecret and serverKeySecret go together"):
        await start_webhook({"half": half})
    missing = {
        "endpoint": "/m",
        "method": "POST",
        "serverCertSecret": {"name": "nope", "key": "crt"},
        "serverKeySecret": {"name": "nope", "key": "key"},
    }
    with pytest.raises(SpecError, match="cannot read the TLS secrets"):
        await start_webhook({"missing": missing})
    self_signed(tmp_path)
    mixed = {
        "plain": {"endpoint": "/plain", "method": "POST"},
        "secure": {
            "endpoint": "/secure",
            "method": "POST",
            "serverCertSecret": {"name": "tls", "key": "crt"},
            "serverKeySecret": {"name": "tls", "key": "key"},
        },
    }
    with pytest.raises(SpecError, match="must agree on serverCertSecret"):
        await start_webhook(mixed)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def test_basic_auth(
    start_webhook: Start, bus: JetStreamBus, namespace: str, tmp_path: Path
) -> None:
    creds = tmp_path / "secrets" / "creds"
    creds.mkdir(parents=True)
    (creds / "user").write_text("alice\n")
    (creds / "pass").write_text("pw:with-colon")
    events = {
        "basic": {
            "endpoint": "/basic",
            "method": "POST",
            "basicAuth": {
                "username": {"name": "creds", "key": "user"},
                "password": {"name": "creds", "key": "pass"},
            },
        }
    }
    _, port = await start_webhook(events)
    url = f"http://127.0.0.1:{port}/basic"
    status, reply = await call("POST", url, json={})
    assert (status, reply["error"]) == (401, "Invalid Authorization Header")
    status, reply = await call("POST", url, json={}, headers=basic("alice", "nope"))
    assert (status, reply["error"]) == (401, "Invalid basic auth credentials")
    status, reply = await call("POST", url, json={"ok": 1}, headers=basic("alice", "pw:with-colon"))
    assert status == 200, reply
    [(_, event)] = await on_bus(bus, namespace, "basic")
    assert event["data"]["header"]["Authorization"] == [MASKED_AUTH]
    assert await bus.stream_message_count(namespace) == 1

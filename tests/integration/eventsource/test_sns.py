"""The sns source against moto's SNS API and a real nats-server.

The endpoint is subscribed through moto; moto confirms HTTP subscriptions at once and does not
post a ``SubscriptionConfirmation``, so the tests post one as SNS would. Signatures are made
here as SNS makes them, with a key and self-signed certificate of the test's own, served from a
loopback server that ``SLUICE_SNS_CERT_HOSTS`` lets the source trust.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from eventbus.embedded import free_port
from eventbus.jetstream import JetStreamBus
from eventsource.adaptor import Adaptor, RetryPolicy
from eventsource.models import parse_event_source
from eventsource.registry import SOURCES
from eventsource.secrets import LocalSecrets
from eventsource.sources.sns import CERT_HOSTS_ENV, SNSSource
from eventsource.sources.webhook import WebhookServers
from tests.support.moto_server import REGION, aws_env, moto_server  # noqa: F401

SOURCE = "sns-es"
Start = Callable[..., Awaitable[tuple[SNSSource, str]]]


@pytest.fixture(scope="module")
def signer() -> tuple[rsa.RSAPrivateKey, bytes]:
    """An RSA key and its self-signed certificate (PEM), as SNS's signing pair."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
async def cert_fetches(signer: tuple[rsa.RSAPrivateKey, bytes]) -> AsyncIterator[list[str]]:
    """The certificate on a loopback server (anything else there is a 404); the list is of
    the paths fetched, the first item is the certificate's URL."""
    fetched: list[str] = []

    async def serve(request: web.Request) -> web.Response:
        fetched.append(request.path)
        return web.Response(body=signer[1])

    app = web.Application()
    app.router.add_get("/SimpleNotificationService-test.pem", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    fetched.append(f"http://127.0.0.1:{port}/SimpleNotificationService-test.pem")
    yield fetched
    await runner.cleanup()


@pytest.fixture
def cert_url(cert_fetches: list[str]) -> str:
    return cert_fetches[0]


def sign(message: dict[str, Any], key: rsa.RSAPrivateKey, version: str = "1") -> dict[str, Any]:
    """The message signed as SNS signs it (the key lists are AWS's documented ones)."""
    if message["Type"] == "Notification":
        keys = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        keys = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join(f"{k}\n{message[k]}\n" for k in keys if message.get(k))
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(text.encode(), padding.PKCS1v15(), digest)
    return message | {
        "SignatureVersion": version,
        "Signature": base64.b64encode(signature).decode(),
    }


def notification(topic: str, cert: str, **fields: Any) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": topic,
        "Message": '{"hello": "world"}',
        "Timestamp": "2024-05-01T12:00:00.123Z",
        "SigningCertURL": cert,
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    } | fields


@pytest.fixture
def sns_client(moto_server: str, aws_env: None) -> Iterator[Any]:  # noqa: F811
    client = boto3.client("sns", region_name=REGION, endpoint_url=moto_server)
    yield client
    client.close()


@pytest.fixture
def topic(sns_client: Any) -> str:
    return str(sns_client.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"])


@pytest.fixture
async def start_sns(
    bus: JetStreamBus,
    namespace: str,
    tmp_path: Path,
    moto_server: str,  # noqa: F811
    topic: str,
) -> AsyncIterator[Start]:
    """Start an SNSSource with one event ``example`` on a free port, subscribed through moto."""
    folder = tmp_path / "secrets" / "aws"
    folder.mkdir(parents=True)
    (folder / "accesskey").write_text("testing")
    (folder / "secretkey").write_text("testing\n")
    started: list[SNSSource] = []

    async def start(**spec: Any) -> tuple[SNSSource, str]:
        port = free_port()
        event = {
            "topicArn": topic,
            "region": REGION,
            "endpoint": moto_server,
            "webhook": {"endpoint": "/sns", "port": str(port), "method": "POST",
                        "url": f"http://127.0.0.1:{port}"},
            "accessKey": {"name": "aws", "key": "accesskey"},
            "secretKey": {"name": "aws", "key": "secretkey"},
        } | spec  # fmt: skip
        raw = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "EventSource",
            "metadata": {"name": SOURCE},
            "spec": {"sns": {"example": event}},
        }
        adaptor = Adaptor(bus, namespace, SOURCE, retry=RetryPolicy(duration=0.05, steps=2))
        source = SNSSource(
            parse_event_source(raw),
            adaptor,
            secrets=LocalSecrets(tmp_path),
            servers=WebhookServers("127.0.0.1"),
        )
        await source.start()
        started.append(source)
        return source, f"http://127.0.0.1:{port}/sns"

    yield start
    for source in started:
        await source.stop()


async def post(url: str, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "text/plain; charset=UTF-8"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=data, headers=headers) as r,
    ):
        return r.status, await r.json(content_type=None)


async def on_bus(bus: JetStreamBus, namespace: str, n: int = 1) -> list[dict[str, Any]]:
    consumer = await bus.subscribe(bus.subject(namespace, SOURCE, "example"), "t-sns")
    got: list[dict[str, Any]] = []
    while len(got) < n:
        msgs = await consumer.fetch(n - len(got), timeout=3)
        assert msgs, f"only {len(got)} of {n} events arrived"
        for msg in msgs:
            got.append(json.loads(msg.data))
            await msg.ack()
    await consumer.close()
    return got


def subscriptions(sns_client: Any, topic: str) -> list[tuple[str, str]]:
    found = sns_client.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    return [(s["Protocol"], s["Endpoint"]) for s in found]


def test_sns_is_registered() -> None:
    assert SOURCES["sns"] is SNSSource


async def test_subscribes_confirms_and_receives_through_moto(
    start_sns: Start, sns_client: Any, topic: str, bus: JetStreamBus, namespace: str
) -> None:
    source, url = await start_sns(metadata={"team": "data"})
    assert await asyncio.to_thread(subscriptions, sns_client, topic) == [("http", url)]

    confirmation = {
        "Type": "SubscriptionConfirmation",
        "MessageId": str(uuid.uuid4()),
        "Token": "t0k3n",
        "TopicArn": topic,
        "Message": "You have chosen to subscribe to the topic",
        "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
        "Timestamp": "2024-05-01T12:00:00.000Z",
    }
    assert await post(url, confirmation) == (200, {"message": "subscription confirmed"})
    [(_, route)] = source.routes
    assert route.subscription_arn is not None
    assert route.subscription_arn.startswith(topic + ":")  # moto's ConfirmSubscription reply

    # moto posts the notification to the endpoint, as SNS does
    published = await asyncio.to_thread(
        sns_client.publish, TopicArn=topic, Message="hello", Subject="greeting"
    )
    [event] = await on_bus(bus, namespace)
    assert event["type"] == "sns" and event["subject"] == "example"
    data = event["data"]
    assert set(data) == {"header", "body", "metadata"}
    assert data["metadata"] == {"team": "data"}
    assert data["header"]["Content-Type"] == ["text/plain; charset=UTF-8"]
    body = data["body"]
    assert (body["Type"], body["MessageId"]) == ("Notification", published["MessageId"])
    assert (body["Message"], body["Subject"], body["TopicArn"]) == ("hello", "greeting", topic)


async def test_stop_unsubscribes(start_sns: Start, sns_client: Any, topic: str) -> None:
    source, url = await start_sns()
    assert await asyncio.to_thread(subscriptions, sns_client, topic) == [("http", url)]
    await source.stop()
    assert await asyncio.to_thread(subscriptions, sns_client, topic) == []


async def test_a_redelivered_message_is_stored_once(
    start_sns: Start, topic: str, bus: JetStreamBus, namespace: str
) -> None:
    source, url = await start_sns()
    message = notification(topic, "http://unused")
    first, second = await post(url, message), await post(url, message)
    assert first[0] == second[0] == 200
    assert first[1]["eventId"] == second[1]["eventId"]
    assert source.adaptor.metrics.duplicates["example"] == 1
    [event] = await on_bus(bus, namespace)
    assert event["data"]["body"] == message


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"not json", 400, "Expecting value"),
        ([1, 2], 400, "not a valid SNS notification"),
        ({"Type": "UnsubscribeConfirmation"}, 200, "UnsubscribeConfirmation message dropped"),
        ({"Type": "SubscriptionConfirmation"}, 400, "without a Token"),
    ],
    ids=["not-json", "not-an-object", "unsubscribe-dropped", "confirmation-without-token"],
)
async def test_bodies_that_are_not_events(
    start_sns: Start, body: Any, status: int, reason: str
) -> None:
    _, url = await start_sns()
    got_status, reply = await post(url, body)
    assert got_status == status
    assert reason in (reply.get("error") or reply.get("message"))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (None, None),
        ({"version": "2"}, None),
        ({"fields": {"Subject": "with a subject"}}, None),
        ({"after": {"Message": "tampered"}}, "message signature check error"),
        ({"after": {"Subject": "added later"}}, "message signature check error"),
        ({"after": {"SignatureVersion": "2"}}, "message signature check error"),
        ({"other_key": True}, "message signature check error"),
        ({"unsigned": True}, "the message is not signed"),
        ({"after": {"SignatureVersion": "3"}}, "unsupported SignatureVersion '3'"),
        ({"after": {"Signature": "%%%"}}, "failed to base64 decode signature"),
        ({"cert": "https://evil.example.com/c.pem"}, "is not an SNS host"),
        ({"cert": "http://sns.us-east-1.amazonaws.com/c.pem"}, "not using https"),
        ({"cert": "missing"}, "failed to fetch signing cert: HTTP 404"),
        ({"after": {"SigningCertURL": None}}, "has no SigningCertURL"),
    ],
    ids=[
        "sha1-v1",
        "sha256-v2",
        "with-subject",
        "tampered-message",
        "subject-added",
        "version-switched",
        "other-key",
        "unsigned",
        "unknown-version",
        "signature-not-base64",
        "untrusted-cert-host",
        "cert-over-http",
        "cert-not-found",
        "no-cert-url",
    ],
)
async def test_validate_signature(
    start_sns: Start,
    signer: tuple[rsa.RSAPrivateKey, bytes],
    cert_url: str,
    topic: str,
    bus: JetStreamBus,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, Any] | None,
    reason: str | None,
) -> None:
    monkeypatch.setenv(CERT_HOSTS_ENV, "localhost, 127.0.0.1")
    _, url = await start_sns(validateSignature=True)
    change = change or {}
    key = signer[0]
    if change.get("other_key"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = change.get("cert", cert_url)
    if cert == "missing":
        cert = cert_url.replace("test.pem", "missing.pem")
    message = notification(topic, cert, **change.get("fields", {}))
    if not change.get("unsigned"):
        message = sign(message, key, change.get("version", "1"))
    message = {k: v for k, v in (message | change.get("after", {})).items() if v is not None}

    status, reply = await post(url, message)
    if reason is None:
        assert (status, reply["message"]) == (200, "success")
        [event] = await on_bus(bus, namespace)
        assert event["data"]["body"] == message
    else:
        assert status == 400
        assert reason in reply["error"]


async def test_signed_confirmation_is_verified_before_it_is_confirmed(
    start_sns: Start,
    signer: tuple[rsa.RSAPrivateKey, bytes],
    cert_url: str,
    topic: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CERT_HOSTS_ENV, "127.0.0.1")
    source, url = await start_sns(validateSignature=True)
    [(_, route)] = source.routes
    subscribed = route.subscription_arn
    confirmation = {
        "Type": "SubscriptionConfirmation",
        "MessageId": str(uuid.uuid4()),
        "Token": "t0k3n",
        "TopicArn": topic,
        "Message": "You have chosen to subscribe",
        "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
        "Timestamp": "2024-05-01T12:00:00.000Z",
        "SigningCertURL": cert_url,
    }
    signed = sign(confirmation, signer[0], "2")

    status, reply = await post(url, signed | {"Token": "forged"})
    assert (status, route.subscription_arn) == (400, subscribed)
    assert "signature check error" in reply["error"]

    assert await post(url, signed) == (200, {"message": "subscription confirmed"})
    assert route.subscription_arn != subscribed


async def test_the_certificate_is_fetched_once(
    start_sns: Start,
    signer: tuple[rsa.RSAPrivateKey, bytes],
    cert_fetches: list[str],
    topic: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CERT_HOSTS_ENV, "127.0.0.1")
    _, url = await start_sns(validateSignature=True)
    for _ in range(3):
        status, _ = await post(url, sign(notification(topic, cert_fetches[0]), signer[0]))
        assert status == 200
    assert cert_fetches[1:] == ["/SimpleNotificationService-test.pem"]


async def test_a_loopback_cert_is_refused_without_the_setting(
    start_sns: Start,
    signer: tuple[rsa.RSAPrivateKey, bytes],
    cert_url: str,
    topic: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(CERT_HOSTS_ENV, raising=False)
    _, url = await start_sns(validateSignature=True)
    status, reply = await post(url, sign(notification(topic, cert_url), signer[0]))
    assert status == 400
    assert "SigningCertURL hostname '127.0.0.1' is not an SNS host" in reply["error"]


async def test_role_arn_is_assumed_through_sts(
    start_sns: Start, sns_client: Any, topic: str
) -> None:
    role = "arn:aws:iam::123456789012:role/sns-subscriber"
    _, url = await start_sns(roleARN=role, accessKey=None, secretKey=None)
    assert await asyncio.to_thread(subscriptions, sns_client, topic) == [("http", url)]

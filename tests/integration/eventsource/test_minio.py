"""The minio source against a loopback MinIO stand-in and a real nats-server.

moto's S3 has no ListenBucketNotification, so :class:`FakeMinio` answers that one request as
MinIO does: it checks the AWS Signature V4 (computed here independently of botocore), the
bucket and the query, then streams newline-delimited ``{"Records": [...]}`` objects written as
Go's ``json.Encoder`` writes them, with MinIO's keep-alives (bare spaces, ``{"Records":null}``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import pytest
from aiohttp import web

from eventbus.embedded import free_port
from eventbus.jetstream import JetStreamBus
from eventsource.adaptor import Adaptor, RetryPolicy
from eventsource.models import parse_event_source
from eventsource.registry import SOURCES
from eventsource.secrets import LocalSecrets
from eventsource.sources.minio import MinioSource
from sluice.core.supervise import ServiceState
from tests.conftest import FakeClock

SOURCE = "minio-es"
BUCKET = "input"
ACCESS, SECRET = "minio-access", "minio-secret/+key"
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/s3/"
    r"aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?Signature=(?P<signature>[0-9a-f]{64})"
)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sigv4_problem(request: web.Request, secret: str) -> str | None:
    """Why the request's SigV4 signature is wrong (None if it is right), as S3 checks it."""
    match = _AUTH.fullmatch(request.headers.get("Authorization", ""))
    if match is None:
        return "AuthorizationHeaderMalformed"
    if match["key"] != ACCESS:
        return "InvalidAccessKeyId"
    raw_query = request.raw_path.partition("?")[2]
    pairs = sorted(
        (quote(k, safe="-_.~"), quote(v, safe="-_.~"))
        for k, v in parse_qsl(raw_query, keep_blank_values=True)
    )
    signed = match["signed"].split(";")
    canonical = "\n".join(
        [
            request.method,
            quote(request.path, safe="/-_.~"),
            "&".join(f"{k}={v}" for k, v in pairs),
            "".join(f"{h}:{' '.join(request.headers.get(h, '').split())}\n" for h in signed),
            match["signed"],
            request.headers.get("X-Amz-Content-Sha256", ""),
        ]
    )
    scope = f"{match['date']}/{match['region']}/s3/aws4_request"
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            request.headers.get("X-Amz-Date", ""),
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = _hmac(("AWS4" + secret).encode(), match["date"])
    for part in (match["region"], "s3", "aws4_request"):
        key = _hmac(key, part)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if {"host", "x-amz-date", "x-amz-content-sha256"} - set(signed):
        return "AccessDenied"
    return None if hmac.compare_digest(expected, match["signature"]) else "SignatureDoesNotMatch"


def s3_error(status: int, code: str) -> web.Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code></Error>'
    return web.Response(status=status, text=body, content_type="application/xml")


class FakeMinio:
    """MinIO's ``GET /<bucket>?events=...`` listen endpoint, fed by :meth:`send`."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.requests: list[list[tuple[str, str]]] = []  # each request's query pairs
        self.regions: list[str] = []
        self.lines: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.runner: web.AppRunner | None = None
        self.port = free_port()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{bucket}", self.listen)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        self.lines.put_nowait(None)
        if self.runner is not None:
            await self.runner.cleanup()

    def send(self, *records: dict[str, Any]) -> None:
        """One notification line, as Go's ``json.Encoder`` writes it (compact, newline)."""
        self.raw(json.dumps({"Records": list(records)}, separators=(",", ":")).encode() + b"\n")

    def raw(self, line: bytes) -> None:
        self.lines.put_nowait(line)

    def end_stream(self) -> None:
        self.lines.put_nowait(None)

    async def listen(self, request: web.Request) -> web.StreamResponse:
        problem = sigv4_problem(request, self.secret)
        if problem is not None:
            return s3_error(403, problem)
        if request.match_info["bucket"] != BUCKET:
            return s3_error(404, "NoSuchBucket")
        auth = _AUTH.fullmatch(request.headers["Authorization"])
        assert auth is not None
        self.regions.append(auth["region"])
        self.requests.append(parse_qsl(request.raw_path.partition("?")[2], keep_blank_values=True))
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        await response.write(b" ")  # the pre-ping keep-alive: a bare space
        await response.write(b'{"Records":null}\n')  # a ping
        while (line := await self.lines.get()) is not None:
            await response.write(line)
        return response

    async def requested(self, n: int) -> None:
        deadline = time.monotonic() + 5
        while len(self.requests) < n:
            assert time.monotonic() < deadline, f"only {len(self.requests)} of {n} requests"
            await asyncio.sleep(0.01)


def record(key: str, event: str = "s3:ObjectCreated:Put", **extra: Any) -> dict[str, Any]:
    """A record as MinIO writes it."""
    return {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": "",
        "eventTime": "2024-05-01T12:00:00.123Z",
        "eventName": event,
        "userIdentity": {"principalId": ACCESS},
        "requestParameters": {"principalId": ACCESS, "region": "", "sourceIPAddress": "::1"},
        "responseElements": {"x-amz-request-id": "17C", "x-minio-origin-endpoint": "http://m"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {
                "name": BUCKET,
                "ownerIdentity": {"principalId": ACCESS},
                "arn": f"arn:aws:s3:::{BUCKET}",
            },
            "object": {
                "key": key,
                "size": 12,
                "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                "contentType": "text/csv",
                "userMetadata": {"content-type": "text/csv"},
                "sequencer": "17C0D1A2B3",
            },
        },
        "source": {"host": "::1", "port": "", "userAgent": "MinIO (linux; amd64) minio-go/v7"},
    } | extra


Start = Callable[..., Awaitable[MinioSource]]


@pytest.fixture
async def fake_minio() -> AsyncIterator[FakeMinio]:
    server = FakeMinio()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def start_minio(
    bus: JetStreamBus, namespace: str, tmp_path: Path, fake_minio: FakeMinio
) -> AsyncIterator[Start]:
    folder = tmp_path / "secrets" / "minio"
    folder.mkdir(parents=True)
    (folder / "accesskey").write_text(ACCESS + "\n")
    (folder / "secretkey").write_text(SECRET)
    started: list[MinioSource] = []

    async def start(clock: Any = None, **spec: Any) -> MinioSource:
        event = {
            "bucket": {"name": BUCKET},
            "endpoint": f"127.0.0.1:{fake_minio.port}",
            "insecure": True,
            "events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"],
            "accessKey": {"name": "minio", "key": "accesskey"},
            "secretKey": {"name": "minio", "key": "secretkey"},
        } | spec
        raw = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "EventSource",
            "metadata": {"name": SOURCE},
            "spec": {"minio": {"example": event}},
        }
        adaptor = Adaptor(bus, namespace, SOURCE, retry=RetryPolicy(duration=0.05, steps=2))
        source = MinioSource(
            parse_event_source(raw), adaptor, secrets=LocalSecrets(tmp_path), clock=clock
        )
        await source.start()
        started.append(source)
        return source

    yield start
    for source in started:
        await source.stop()


async def on_bus(bus: JetStreamBus, namespace: str, n: int) -> list[dict[str, Any]]:
    consumer = await bus.subscribe(bus.subject(namespace, SOURCE, "example"), "t-minio")
    got: list[dict[str, Any]] = []
    while len(got) < n:
        msgs = await consumer.fetch(n - len(got), timeout=3)
        assert msgs, f"only {len(got)} of {n} events arrived"
        for msg in msgs:
            got.append(json.loads(msg.data))
            await msg.ack()
    await consumer.close()
    return got


def test_minio_is_registered() -> None:
    assert SOURCES["minio"] is MinioSource


async def test_notifications_arrive_as_argo_sends_them(
    start_minio: Start, fake_minio: FakeMinio, bus: JetStreamBus, namespace: str
) -> None:
    source = await start_minio(
        filter={"prefix": "in/", "suffix": ".csv"}, metadata={"team": "data"}
    )
    assert fake_minio.requests == [
        [
            ("events", "s3:ObjectCreated:*"),
            ("events", "s3:ObjectRemoved:Delete"),
            ("ping", "10"),
            ("prefix", "in/"),
            ("suffix", ".csv"),
        ]
    ]
    assert fake_minio.regions == ["us-east-1"]

    first = record("in%2Fa.csv", userTags={"x": "y"})  # a field minio-go does not know
    second = record("in%2Fb.csv", "s3:ObjectRemoved:Delete")
    second["s3"]["object"] = {"key": "in%2Fb.csv", "sequencer": "17C0D1A2B4"}
    fake_minio.send(first)
    fake_minio.raw(b"  ")  # keep-alives between notifications
    fake_minio.raw(b'{"Records":null}\n')
    fake_minio.send(second)

    events = await on_bus(bus, namespace, 2)
    assert [e["type"] for e in events] == ["minio", "minio"]
    assert all(set(e["data"]) == {"notification", "metadata"} for e in events)
    assert events[0]["data"]["metadata"] == {"team": "data"}
    [got_first] = events[0]["data"]["notification"]
    assert got_first == {k: v for k, v in first.items() if k != "userTags"}
    assert list(got_first) == list(first)[:-1]  # minio-go's field order
    [got_second] = events[1]["data"]["notification"]
    assert got_second["eventName"] == "s3:ObjectRemoved:Delete"
    assert got_second["s3"]["object"] == {"key": "in%2Fb.csv", "sequencer": "17C0D1A2B4"}

    began = time.monotonic()
    await source.stop()
    assert time.monotonic() - began < 1.0  # the open stream does not hold the stop


async def test_one_event_per_notification_with_all_its_records(
    start_minio: Start, fake_minio: FakeMinio, bus: JetStreamBus, namespace: str
) -> None:
    await start_minio()
    fake_minio.send(record("a"), record("b"))
    [event] = await on_bus(bus, namespace, 1)
    keys = [r["s3"]["object"]["key"] for r in event["data"]["notification"]]
    assert keys == ["a", "b"]
    assert "metadata" not in event["data"]


async def test_invalid_notifications_are_skipped(
    start_minio: Start, fake_minio: FakeMinio, bus: JetStreamBus, namespace: str
) -> None:
    source = await start_minio()
    fake_minio.raw(b"not json\n")
    bad = record("bad")
    bad["s3"]["object"]["size"] = "big"
    fake_minio.send(bad)
    fake_minio.send(record("good"))
    [event] = await on_bus(bus, namespace, 1)
    assert event["data"]["notification"][0]["s3"]["object"]["key"] == "good"
    [bucket] = source.buckets
    assert (bucket.skipped, bucket.dispatched) == (2, 1)


async def test_a_stream_that_ends_is_reopened_after_backoff(
    start_minio: Start, fake_minio: FakeMinio, bus: JetStreamBus, namespace: str
) -> None:
    clock = FakeClock()
    await start_minio(clock=clock)
    fake_minio.end_stream()
    await fake_minio.requested(2)
    assert clock.sleeps == [1.0]
    fake_minio.send(record("after-reconnect"))
    [event] = await on_bus(bus, namespace, 1)
    assert event["data"]["notification"][0]["s3"]["object"]["key"] == "after-reconnect"


class ParkingClock(FakeClock):
    """Sleeps return at once until ``budget`` of them; then they wait to be cancelled."""

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget = budget

    async def sleep(self, seconds: float) -> None:
        if len(self.sleeps) >= self.budget:
            self.sleeps.append(seconds)
            await asyncio.Event().wait()
        await super().sleep(seconds)


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"secretKey": {"name": "minio", "key": "accesskey"}}, "SignatureDoesNotMatch"),
        ({"region": "eu-west-1"}, None),
        ({"bucket": {"name": "missing"}}, "NoSuchBucket"),
    ],
    ids=["wrong-secret", "region-is-signed", "no-such-bucket"],
)
async def test_refused_listens_are_retried_with_backoff(
    start_minio: Start, fake_minio: FakeMinio, spec: dict[str, Any], reason: str | None
) -> None:
    clock = ParkingClock(budget=1)
    source = await start_minio(clock=clock, **spec)
    [status] = source.supervisor.status().values()
    if reason is None:
        assert (status.state, fake_minio.regions) == (ServiceState.RUNNING, ["eu-west-1"])
        return
    while len(clock.sleeps) < 2:
        await asyncio.sleep(0.01)
    assert clock.sleeps == [1.0, 2.0]
    assert status.state is ServiceState.BACKOFF
    assert status.last_error is not None
    assert "HTTP 403" in status.last_error or "HTTP 404" in status.last_error
    assert reason in status.last_error
    assert fake_minio.requests == []


async def test_an_unreachable_server_is_retried(start_minio: Start) -> None:
    clock = ParkingClock(budget=0)
    source = await start_minio(clock=clock, endpoint=f"127.0.0.1:{free_port()}")
    [status] = source.supervisor.status().values()
    assert status.state is ServiceState.BACKOFF
    assert "ClientConnectorError" in (status.last_error or "")

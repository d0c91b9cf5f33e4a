"""The github, gitlab and bitbucketserver sources against a real nats-server: what callers get
and what arrives on the bus. ``start_hook`` and the helpers are shared with ``test_slack``."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from eventbus.embedded import free_port
from eventbus.jetstream import JetStreamBus
from eventsource.adaptor import Adaptor, RetryPolicy
from eventsource.models import parse_event_source
from eventsource.registry import SOURCES, SourceContext
from eventsource.secrets import LocalSecrets
from eventsource.sources.bitbucketserver import BitbucketServerSource
from eventsource.sources.github import GithubSource
from eventsource.sources.gitlab import GitlabSource
from eventsource.sources.hooks import HookSource
from eventsource.sources.webhook import MASKED_AUTH, WebhookServers
from sluice.core.clock import Clock, SystemClock

SOURCE = "hooks-es"
SECRET = "It's a Secret to Everybody"
Start = Callable[..., Awaitable[str]]


@pytest.fixture
async def start_hook(bus: JetStreamBus, namespace: str, tmp_path: Path) -> AsyncIterator[Start]:
    """Start one source of ``key`` whose only event ``e`` listens on /hook; returns its URL.

    The secret ``hook`` has the keys ``secret`` (= SECRET) and ``token`` (= "verify-me")."""
    folder = tmp_path / "secrets" / "hook"
    folder.mkdir(parents=True)
    (folder / "secret").write_text(SECRET + "\n")
    (folder / "token").write_text("verify-me")
    started: list[HookSource] = []

    async def start(key: str, spec: dict[str, Any], *, clock: Clock | None = None) -> str:
        port = free_port()
        spec = {"webhook": {"endpoint": "/hook", "method": "POST", "port": str(port)}, **spec}
        event_source = parse_event_source(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "EventSource",
                "metadata": {"name": SOURCE},
                "spec": {key: {"e": spec}},
            }
        )
        adaptor = Adaptor(bus, namespace, SOURCE, retry=RetryPolicy(0.05, 1, 2))
        context = SourceContext(
            secrets=LocalSecrets(tmp_path),
            webhook_servers=WebhookServers("127.0.0.1"),
            clock=clock or SystemClock(),
        )
        source = SOURCES[key].from_context(event_source, adaptor, context)
        await source.start()
        started.append(source)
        return f"http://127.0.0.1:{port}/hook"

    yield start
    for source in started:
        await source.stop()


async def on_bus(bus: JetStreamBus, namespace: str, n: int = 1) -> list[dict[str, Any]]:
    """The next ``n`` CloudEvents of event ``e``."""
    consumer = await bus.subscribe(bus.subject(namespace, SOURCE, "e"), "t-e")
    got: list[dict[str, Any]] = []
    while len(got) < n:
        msgs = await consumer.fetch(n - len(got), timeout=3)
        assert msgs, f"only {len(got)} of {n} events arrived"
        for msg in msgs:
            got.append(json.loads(msg.data))
            await msg.ack()
    await consumer.close()
    return got


async def call(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as resp,
    ):
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text


def sign(body: bytes, prefix: str = "sha256", secret: str = SECRET) -> str:
    return f"{prefix}=" + hmac.new(secret.encode(), body, getattr(hashlib, prefix)).hexdigest()


def test_the_sources_are_registered() -> None:
    assert SOURCES["github"] is GithubSource
    assert SOURCES["gitlab"] is GitlabSource
    assert SOURCES["bitbucketserver"] is BitbucketServerSource


GITHUB = {"webhookSecret": {"name": "hook", "key": "secret"}, "metadata": {"team": "ci"}}


async def test_github_signed_delivery_in_argo_shape(
    start_hook: Start, bus: JetStreamBus, namespace: str
) -> None:
    url = await start_hook("github", {**GITHUB, "events": ["push"]})
    body = json.dumps({"ref": "refs/heads/main", "after": "abc"}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": sign(body),
    }
    status, reply = await call(url, body, headers)
    assert status == 200, reply

    [event] = await on_bus(bus, namespace)
    assert (event["id"], event["type"], event["subject"]) == (reply["eventId"], "github", "e")
    data = event["data"]
    assert set(data) == {"headers", "body", "metadata"}
    assert data["body"] == {
        "ref": "refs/heads/main",
        "after": "abc",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    }
    assert data["headers"]["X-Github-Event"] == ["push"]
    assert data["metadata"] == {"team": "ci"}


async def test_github_form_delivery_and_legacy_sha1(
    start_hook: Start, bus: JetStreamBus, namespace: str
) -> None:
    url = await start_hook("github", GITHUB)
    body = urlencode({"payload": json.dumps({"zen": "Keep it logically awesome."})}).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-GitHub-Event": "ping",
        "X-Hub-Signature": sign(body, "sha1"),
    }
    status, reply = await call(url, body, headers)
    assert status == 200, reply
    [event] = await on_bus(bus, namespace)
    assert event["data"]["body"]["zen"] == "Keep it logically awesome."
    assert event["data"]["body"]["X-GitHub-Delivery"] == ""


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing signature"),
        ({"X-Hub-Signature-256": sign(b"other")}, "payload signature check failed"),
        ({"X-Hub-Signature-256": sign(b"{}", secret="wrong")}, "payload signature check failed"),
        ({"X-Hub-Signature-256": "sha256=zz"}, "error decoding signature"),
        ({"X-Hub-Signature-256": sign(b"{}", "sha1")}, "must be sha256"),
        ({"X-Hub-Signature-256": sign(b"{}"), "Content-Type": "text/plain"}, "unsupported"),
    ],
    ids=["missing", "other-body", "other-secret", "not-hex", "sha1-as-256", "content-type"],
)
async def test_github_refuses_with_400_and_publishes_nothing(
    start_hook: Start,
    bus: JetStreamBus,
    namespace: str,
    headers: dict[str, str],
    reason: str,
) -> None:
    url = await start_hook("github", GITHUB)
    status, reply = await call(url, b"{}", {"Content-Type": "application/json", **headers})
    assert status == 400
    assert reason in reply["error"]
    assert await bus.stream_message_count(namespace) == 0


async def test_github_events_allow_list_drops_others(
    start_hook: Start, bus: JetStreamBus, namespace: str
) -> None:
    url = await start_hook("github", {"events": ["push", "pull_request"]})
    json_type = {"Content-Type": "application/json"}
    status, reply = await call(url, b"{}", {**json_type, "X-GitHub-Event": "issues"})
    assert (status, reply["message"]) == (200, "event 'issues' is not in events; dropped")
    assert await bus.stream_message_count(namespace) == 0
    status, _ = await call(url, b'{"n": 1}', {**json_type, "X-GitHub-Event": "pull_request"})
    assert status == 200
    [event] = await on_bus(bus, namespace)
    assert event["data"]["body"]["n"] == 1


async def test_github_without_secret_refuses_signed_and_non_object(
    start_hook: Start, bus: JetStreamBus, namespace: str
) -> None:
    url = await start_hook("github", {})
    json_type = {"Content-Type": "application/json"}
    status, reply = await call(url, b"{}", {**json_type, "X-Hub-Signature-256": sign(b"{}")})
    assert status == 400
    assert "no webhookSecret is configured" in reply["error"]
    status, reply = await call(url, b"[1]", json_type)
    assert (status, reply["error"]) == (400, "the payload is not a JSON object")
    assert await bus.stream_message_count(namespace) == 0


GITLAB = {
    "secretToken": {"name": "hook", "key": "token"},
    "events": ["PushEvents", "TagPushEvents"],
}


async def test_gitlab_token_events_and_shape(
    start_hook: Start, bus: JetStreamBus, namespace: str
) -> None:
    url = await start_hook("gitlab", GITLAB)
    push = {"Content-Type": "application/json", "X-Gitlab-Event": "Push Hook"}
    body = b'{"object_kind": "push"}'
    for token in (None, "nope"):
        headers = push if token is None else {**push, "X-Gitlab-Token": token}
        status, reply = await call(url, body, headers)
        assert (status, reply["error"]) == (400, "token mismatch")
    status, reply = await call(
        url, body, {**push, "X-Gitlab-Token": "verify-me", "X-Gitlab-Event": "Issue Hook"}
    )
    assert (status, reply["message"]) == (200, "event 'Issue Hook' is not in events; dropped")
    assert await bus.stream_message_count(namespace) == 0

    status, reply = await call(url, body, {**push, "X-Gitlab-Token": "verify-me"})
    assert status == 200, reply
    [event] = await on_bus(bus, namespace)
    assert event["type"] == "gitlab"
    assert set(event["data"]) == {"headers", "body"}
    assert event["data"]["body"] == {"object_kind": "push"}
    assert event["data"]["headers"]["X-Gitlab-Event"] == ["Push Hook"]
    assert event["data"]["headers"]["X-Gitlab-Token"] == [MASKED_AUTH]


BITBUCKET = {"webhookSecret": {"name": "hook", "key": "secret"}, "oneEventPerChange": True}


async def test_bitbucketserver_signature_and_one_event_per_change(
    start_hook: Start, bus: JetStreamBus, namespace: str
) -> None:
    url = await start_hook("bitbucketserver", BITBUCKET)
    changes = [{"ref": {"id": "refs/heads/a"}}, {"ref": {"id": "refs/heads/b"}}]
    body = json.dumps({"eventKey": "repo:refs_changed", "changes": changes}).encode()
    headers = {"Content-Type": "application/json", "X-Event-Key": "repo:refs_changed"}
    status, reply = await call(url, body, headers)
    assert (status, reply["error"]) == (400, "missing signature header")
    status, reply = await call(url, body, {**headers, "X-Hub-Signature": sign(b"x")})
    assert (status, reply["error"]) == (400, "hmac verification failed")
    assert await bus.stream_message_count(namespace) == 0

    status, reply = await call(url, body, {**headers, "X-Hub-Signature": sign(body)})
    assert status == 200, reply
    assert len(reply["eventIds"]) == 2
    events = await on_bus(bus, namespace, n=2)
    assert [e["data"]["body"]["changes"] for e in events] == [[changes[0]], [changes[1]]]
    assert all(e["data"]["body"]["eventKey"] == "repo:refs_changed" for e in events)
    assert events[0]["data"]["headers"]["X-Event-Key"] == ["repo:refs_changed"]


async def test_bitbucketserver_other_events_are_one_event(
    start_hook: Start, bus: JetStreamBus, namespace: str
) -> None:
    url = await start_hook("bitbucketserver", {**BITBUCKET, "events": ["pr:opened"]})
    body = b'{"eventKey": "pr:opened", "changes": [1, 2]}'
    headers = {"X-Event-Key": "pr:opened", "X-Hub-Signature": sign(body)}
    status, reply = await call(url, body, headers)
    assert status == 200, reply
    [event] = await on_bus(bus, namespace)
    assert event["data"]["body"]["changes"] == [1, 2]
    headers = {"X-Event-Key": "repo:refs_changed", "X-Hub-Signature": sign(body)}
    status, reply = await call(url, body, headers)
    assert (status, reply["message"]) == (
        200,
        "event 'repo:refs_changed' is not in events; dropped",
    )

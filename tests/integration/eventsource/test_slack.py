"""The slack source against a real nats-server: signed requests, the url_verification
handshake, event callbacks, interactive payloads and slash commands."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from eventbus.jetstream import JetStreamBus
from eventsource.registry import SOURCES
from eventsource.sources.slack import SlackSource
from tests.integration.eventsource.test_github import SECRET, Start, call, on_bus, start_hook

__all__ = ["start_hook"]  # the fixture, used here by name

SLACK = {
    "signingSecret": {"name": "hook", "key": "secret"},
    "token": {"name": "hook", "key": "token"},
}


class FixedClock:
    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC)

    async def sleep(self, seconds: float) -> None:
        self.at += seconds


def signed(body: bytes, *, at: int | None = None, secret: str = SECRET, form: bool = False) -> Any:
    timestamp = str(int(time.time()) if at is None else at)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded" if form else "application/json",
    }


def test_slack_is_registered() -> None:
    assert SOURCES["slack"] is SlackSource


async def test_event_callback_dispatches_the_inner_event(
    start_hook: Start, bus: JetStreamBus, namespace: str
) -> None:
    url = await start_hook("slack", SLACK)
    inner = {"type": "app_mention", "user": "U1", "text": "<@U0> deploy", "ts": "1.2"}
    envelope = {
        "token": "verify-me",
        "type": "event_callback",
        "team_id": "T1",
        "event_id": "Ev1",
        "event": inner,
    }
    body = json.dumps(envelope).encode()
    status, reply = await call(url, body, signed(body))
    assert status == 200, reply
    [event] = await on_bus(bus, namespace)
    assert event["type"] == "slack"
    assert event["id"] == reply["eventId"]
    assert event["data"] == {"type": "app_mention", "Data": inner}


async def test_url_verification_echoes_the_challenge(
    start_hook: Start, bus: JetStreamBus, namespace: str
) -> None:
    url = await start_hook("slack", SLACK)
    body = b'{"token": "verify-me", "type": "url_verification", "challenge": "3eZbrw1aBm2r"}'
    assert await call(url, body, signed(body)) == (200, "3eZbrw1aBm2r")
    body = b'{"token": "not-it", "type": "url_verification", "challenge": "x"}'
    status, reply = await call(url, body, signed(body))
    assert (status, reply["error"]) == (401, "invalid verification token")
    assert await bus.stream_message_count(namespace) == 0


async def test_interactive_payload(start_hook: Start, bus: JetStreamBus, namespace: str) -> None:
    url = await start_hook("slack", SLACK)
    action = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "actions": [{"action_id": "approve", "value": "yes"}],
    }
    body = urlencode({"payload": json.dumps(action)}).encode()
    assert await call(url, body, signed(body, form=True)) == (200, "")
    [event] = await on_bus(bus, namespace)
    assert event["data"] == action


async def test_slash_command(start_hook: Start, bus: JetStreamBus, namespace: str) -> None:
    url = await start_hook("slack", SLACK)
    form = {"token": "t", "team_id": "T1", "command": "/deploy", "text": "prod", "user_id": "U1"}
    body = urlencode(form).encode()
    assert await call(url, body, signed(body, form=True)) == (200, "")
    [event] = await on_bus(bus, namespace)
    data = event["data"]
    assert (data["command"], data["text"], data["user_id"]) == ("/deploy", "prod", "U1")
    assert data["is_enterprise_install"] is False
    assert data["response_url"] == ""
    assert "enterprise_id" not in data


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        (lambda b: {}, 401, "missing X-Slack-Request-Timestamp"),
        (lambda b: signed(b, secret="other"), 401, "signature mismatch"),
        (lambda b: signed(b + b" "), 401, "signature mismatch"),
        (lambda b: signed(b, at=int(time.time()) - 301), 401, "more than 5 minutes away"),
        (lambda b: {**signed(b), "X-Slack-Request-Timestamp": "soon"}, 401, "not a number"),
        (lambda b: signed(b, form=True), 400, "could not determine slack type"),
    ],
    ids=["unsigned", "other-secret", "other-body", "stale", "bad-timestamp", "unknown-form"],
)
async def test_refused_requests_publish_nothing(
    start_hook: Start,
    bus: JetStreamBus,
    namespace: str,
    headers: Any,
    status: int,
    reason: str,
) -> None:
    url = await start_hook("slack", SLACK)
    body = b'{"token": "verify-me", "type": "event_callback", "event": {"type": "message"}}'
    got, reply = await call(url, body, headers(body))
    assert got == status
    assert reason in reply["error"]
    assert await bus.stream_message_count(namespace) == 0


async def test_timestamps_use_the_injected_clock(
    start_hook: Start, bus: JetStreamBus, namespace: str
) -> None:
    url = await start_hook("slack", SLACK, clock=FixedClock(1_000_000))
    body = b'{"token": "verify-me", "type": "event_callback", "event": {"type": "message"}}'
    status, _ = await call(url, body, signed(body, at=1_000_000 - 299))
    assert status == 200
    status, _ = await call(url, body, signed(body))  # now, by the wall clock: stale
    assert status == 401
    assert len(await on_bus(bus, namespace)) == 1


async def test_without_signing_secret_requests_are_not_verified(
    start_hook: Start, bus: JetStreamBus, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = await start_hook("slack", {})
    assert "no signingSecret" in caplog.text
    body = b'{"type": "event_callback", "event": {"type": "message", "text": "hi"}}'
    status, _ = await call(url, body, {"Content-Type": "application/json"})
    assert status == 200
    [event] = await on_bus(bus, namespace)
    assert event["data"]["Data"]["text"] == "hi"

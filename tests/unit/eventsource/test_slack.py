"""Slack request signatures (through slack_sdk), Events API envelopes and slash commands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.signature import SignatureVerifier

from eventsource.sources.hooks import Refused
from eventsource.sources.slack import _Clock, check_signature, events_api, slash_command

NOW = 1_700_000_000
BODY = b'{"type": "event_callback"}'


class Fixed:
    def now(self) -> datetime:
        return datetime.fromtimestamp(NOW, UTC)

    async def sleep(self, seconds: float) -> None:
        pass


def headers(at: int = NOW, secret: str = "s3cret", body: bytes = BODY) -> dict[str, str]:
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(at), body=body)
    assert signature is not None
    return {"X-Slack-Request-Timestamp": str(at), "X-Slack-Signature": signature}


VERIFIER = SignatureVerifier("s3cret", clock=_Clock(Fixed()))


@pytest.mark.parametrize(
    "given",
    [headers(), headers(at=NOW - 300), headers(at=NOW + 300)],
    ids=["now", "5-minutes-old", "5-minutes-ahead"],
)
def test_accepted_signatures(given: dict[str, str]) -> None:
    check_signature(VERIFIER, BODY, given)


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ({}, "missing"),
        ({"X-Slack-Signature": headers()["X-Slack-Signature"]}, "missing"),
        (headers(at=NOW - 301), "more than 5 minutes away"),
        (headers(at=NOW + 301), "more than 5 minutes away"),
        ({**headers(), "X-Slack-Request-Timestamp": "x"}, "not a number"),
        (headers(secret="other"), "signature mismatch"),
        (headers(body=b"{}"), "signature mismatch"),
        ({**headers(), "X-Slack-Signature": "v1=abc"}, "signature mismatch"),
    ],
    ids=[
        "unsigned",
        "no-timestamp",
        "stale",
        "future",
        "bad-timestamp",
        "other-secret",
        "other-body",
        "other-version",
    ],
)
def test_refused_signatures(given: dict[str, str], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_signature(VERIFIER, BODY, given)


@pytest.mark.parametrize(
    ("body", "token", "status"),
    [
        ([], None, 400),
        ({"type": "event_callback", "token": "a"}, "b", 401),
        ({"type": "event_callback"}, "b", 401),
        ({"type": "url_verification"}, None, 400),
        ({"type": "event_callback", "event": "x"}, None, 400),
        ({"type": "event_callback", "event": {"text": "no type"}}, None, 400),
    ],
    ids=["not-object", "wrong-token", "no-token", "no-challenge", "event-not-object", "no-type"],
)
def test_events_api_refusals(body: Any, token: str | None, status: int) -> None:
    with pytest.raises(Refused) as refused:
        events_api(body, token)
    assert refused.value.status == status


def test_events_api_outcomes() -> None:
    inner = {"type": "reaction_added", "reaction": "tada"}
    assert events_api({"type": "event_callback", "event": inner}, None).events == [
        {"type": "reaction_added", "Data": inner}
    ]
    other = events_api({"type": "app_rate_limited", "token": "t"}, "t")
    assert other.events == []
    assert other.dropped is not None
    verification = events_api({"type": "url_verification", "challenge": "c"}, None)
    assert verification.events == []
    assert verification.reply is not None


def test_slash_command_has_slack_go_fields() -> None:
    form = {"command": ["/weather"], "text": ["94070"], "is_enterprise_install": ["true"]}
    command = slash_command(form)
    assert command["command"] == "/weather"
    assert command["is_enterprise_install"] is True
    assert "enterprise_id" not in command
    assert set(command) == {
        "token", "team_id", "team_domain", "is_enterprise_install", "channel_id",
        "channel_name", "user_id", "user_name", "command", "text", "response_url",
        "trigger_id", "api_app_id",
    }  # fmt: skip
    assert slash_command({**form, "enterprise_id": ["E1"]})["enterprise_id"] == "E1"

"""The slack trigger against a Slack Web API stand-in on loopback.

The stand-in answers as Slack's API does: the bot token must come as ``Authorization: Bearer``,
``chat.postMessage`` takes a JSON body (channel by name or id, text, attachments, blocks,
thread_ts, reply_broadcast, username, icon_emoji/icon_url) and answers ``{ok: true, ts, ...}``
or ``{ok: false, error}`` (``not_in_channel``, ``channel_not_found``, ``thread_not_found``,
``ratelimited`` with HTTP 429, ...); ``conversations.list`` pages with a cursor;
``conversations.join`` takes a channel id. The trigger reaches it through
``SLUICE_SLACK_API_URL``.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from sensor.conditions import parse_condition
from sensor.decisions import FIRED
from sensor.firing import Firer
from sensor.logic import TriggerPlan
from sensor.models import Trigger
from sensor.triggers import Firing, Outcome, TriggerContext, TriggerError, build
from sensor.triggers.slack import API_URL_ENV
from sluice.core.objects import LocalObjects
from tests.integration.sensor.test_triggers import serve

TOKEN = "xoxb-test-token"


@dataclass
class Call:
    method: str
    http: str
    content_type: str
    args: dict[str, Any]


@dataclass
class FakeSlack:
    """Channels by id (name, members), the messages posted, every call in order."""

    url: str = ""
    channels: dict[str, str] = field(
        default_factory=lambda: {"C001": "general", "C002": "random", "C003": "builds"}
    )
    members: set[str] = field(default_factory=lambda: {"C001", "C002"})
    messages: dict[str, list[str]] = field(default_factory=dict)  # channel id -> ts
    calls: list[Call] = field(default_factory=list)
    fail_next: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    clock: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def channel_id(self, channel: str) -> str | None:
        if channel in self.channels:
            return channel
        return next((cid for cid, name in self.channels.items() if name == channel), None)

    def posts(self) -> list[dict[str, Any]]:
        return [c.args for c in self.calls if c.method == "chat.postMessage"]


def _reply(data: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


async def _args(request: web.Request) -> dict[str, Any]:
    if request.method == "GET":
        return dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        assert isinstance(body, dict)
        return body
    return dict(await request.post())


def make_app(slack: FakeSlack) -> web.Application:
    async def api(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _args(request)
        slack.calls.append(Call(method, request.method, request.content_type, args))
        if request.headers.get("Authorization", "") != f"Bearer {TOKEN}":
            error = "not_authed" if "Authorization" not in request.headers else "invalid_auth"
            return _reply({"ok": False, "error": error})
        if slack.fail_next:
            status, data = slack.fail_next.pop(0)
            return _reply(data, status)
        handler = HANDLERS.get(method)
        if handler is None:
            return _reply({"ok": False, "error": "unknown_method"}, 404)
        return handler(slack, request, args)

    app = web.Application()
    app.router.add_route("*", "/api/{method}", api)
    return app


def post_message(slack: FakeSlack, request: web.Request, args: dict[str, Any]) -> web.Response:
    assert request.method == "POST"
    assert request.content_type == "application/json"  # write methods accept JSON bodies
    cid = slack.channel_id(str(args.get("channel", "")))
    if cid is None:
        return _reply({"ok": False, "error": "channel_not_found"})
    if cid not in slack.members:
        return _reply({"ok": False, "error": "not_in_channel"})
    if not (args.get("text") or args.get("attachments") or args.get("blocks")):
        return _reply({"ok": False, "error": "no_text"})
    for name in ("attachments", "blocks"):
        if name in args and not isinstance(args[name], list):
            return _reply({"ok": False, "error": f"invalid_{name}"})
    thread = args.get("thread_ts")
    if thread is not None and thread not in slack.messages.get(cid, []):
        return _reply({"ok": False, "error": "thread_not_found"})
    ts = f"1700000000.{next(slack.clock):06d}"
    slack.messages.setdefault(cid, []).append(ts)
    message = {"text": args.get("text", ""), "ts": ts, **({"thread_ts": thread} if thread else {})}
    return _reply({"ok": True, "channel": cid, "ts": ts, "message": message})


def conversations_list(
    slack: FakeSlack, request: web.Request, args: dict[str, Any]
) -> web.Response:
    assert request.method == "GET"
    assert args["types"] == "public_channel,private_channel"
    ids = sorted(slack.channels)
    start = int(args.get("cursor") or 0)
    page = ids[start : start + 2]  # small pages, so paging is exercised
    more = start + 2 < len(ids)
    channels = [{"id": cid, "name": slack.channels[cid]} for cid in page]
    meta = {"next_cursor": str(start + 2) if more else ""}
    return _reply({"ok": True, "channels": channels, "response_metadata": meta})


def conversations_join(
    slack: FakeSlack, request: web.Request, args: dict[str, Any]
) -> web.Response:
    cid = str(args.get("channel", ""))
    if cid not in slack.channels:  # an id, not a name
        return _reply({"ok": False, "error": "channel_not_found"})
    slack.members.add(cid)
    return _reply({"ok": True, "channel": {"id": cid, "name": slack.channels[cid]}})


HANDLERS = {
    "chat.postMessage": post_message,
    "conversations.list": conversations_list,
    "conversations.join": conversations_join,
}


@pytest.fixture
async def slack(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    async with serve(make_app(fake)) as url:
        fake.url = url
        monkeypatch.setenv(API_URL_ENV, f"{url}/api")  # no trailing slash: slack_sdk adds it
        yield fake


@pytest.fixture
def context(tmp_path: Path) -> TriggerContext:
    (tmp_path / "secrets").mkdir()
    tokens = {"token": TOKEN, "wrong": "xoxb-revoked"}
    data = {k: base64.b64encode(v.encode()).decode() for k, v in tokens.items()}
    (tmp_path / "secrets" / "slack-secret.yaml").write_text(yaml.safe_dump({"data": data}))
    return TriggerContext(objects=LocalObjects(tmp_path))


def spec(**fields: Any) -> dict[str, Any]:
    return {"slack": {"slackToken": {"name": "slack-secret", "key": "token"}, **fields}}


def firing() -> Firing:
    event = {"id": "e1", "data": {"body": {"text": "build 42 passed"}}}
    return Firing("default", "s", "t", {"dep": event}, "key-1")


async def run(template: dict[str, Any], context: TriggerContext) -> Outcome:
    trigger = Trigger.model_validate({"template": {"name": "t", **template}})
    impl = build(trigger, context)
    return await impl.fire(firing(), await impl.resource(), None)


# ---- what is posted ---------------------------------------------------------------------------
async def test_posts_text_attachments_blocks_and_sender(
    slack: FakeSlack, context: TriggerContext
) -> None:
    attachments = [{"color": "good", "text": "all green"}]
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*done*"}}]
    template = spec(
        channel="#general",
        message="hello",
        attachments=json.dumps(attachments),
        blocks=json.dumps(blocks),
        sender={"username": "argo-bot", "icon": ":robot_face:"},
    )
    outcome = await run(template, context)
    assert outcome.detail == "posted to slack channel general: ts 1700000000.000001"
    [call] = slack.calls
    assert (call.method, call.http, call.content_type) == (
        "chat.postMessage", "POST", "application/json",
    )  # fmt: skip
    assert call.args == {
        "channel": "general",
        "text": "hello",
        "attachments": attachments,
        "blocks": blocks,
        "username": "argo-bot",
        "icon_emoji": ":robot_face:",
    }


async def test_icon_url_and_blocks_without_text(slack: FakeSlack, context: TriggerContext) -> None:
    blocks = [{"type": "divider"}]
    template = spec(
        channel="C002",
        blocks=json.dumps(blocks),
        sender={"icon": "https://example.com/bot.png"},
    )
    await run(template, context)
    assert slack.posts() == [
        {"channel": "C002", "text": "", "blocks": blocks, "icon_url": "https://example.com/bot.png"}
    ]


async def test_aggregation_key_threads_later_messages(
    slack: FakeSlack, context: TriggerContext
) -> None:
    thread = {"messageAggregationKey": "build-42", "broadcastMessageToChannel": True}
    first = await run(spec(channel="general", message="started", thread=thread), context)
    second = await run(spec(channel="general", message="finished", thread=thread), context)
    other = {"messageAggregationKey": "build-43"}
    await run(spec(channel="general", message="another build", thread=other), context)
    await run(spec(channel="general", message="no thread"), context)

    root, reply, other_root, plain = slack.posts()
    assert "thread_ts" not in root and root["reply_broadcast"] is True
    assert reply["thread_ts"] == first.detail.rsplit(" ", 1)[-1]
    assert reply["reply_broadcast"] is True
    assert second.detail.endswith(f"in thread {reply['thread_ts']}: ts 1700000000.000002")
    assert "thread_ts" not in other_root and "reply_broadcast" not in other_root
    assert "thread_ts" not in plain


async def test_joins_a_channel_it_is_not_in_then_posts(
    slack: FakeSlack, context: TriggerContext
) -> None:
    outcome = await run(spec(channel="builds", message="hi"), context)
    assert outcome.detail.startswith("posted to slack channel builds")
    methods = [(c.method, c.args.get("channel") or c.args.get("cursor")) for c in slack.calls]
    assert methods == [
        ("chat.postMessage", "builds"),  # not_in_channel
        ("conversations.list", None),
        ("conversations.list", "2"),  # builds (C003) is on the second page
        ("conversations.join", "C003"),
        ("chat.postMessage", "C003"),
    ]
    assert slack.calls[1].args["exclude_archived"] == "true"
    assert slack.messages["C003"]  # posted
    await run(spec(channel="builds", message="again"), context)
    assert [c.method for c in slack.calls[5:]] == ["chat.postMessage"]  # a member now


async def test_parameters_rewrite_what_is_posted(slack: FakeSlack, context: TriggerContext) -> None:
    """Through the sensor's firing path: the type's parameters set the message from the event."""
    template = spec(
        channel="general",
        message="placeholder",
        parameters=[{"src": {"dependencyName": "dep", "dataKey": "body.text"}, "dest": "message"}],
    )
    trigger = Trigger.model_validate({"template": {"name": "t", **template}})
    firer = Firer(context, "default", "s", None)
    plan = TriggerPlan(trigger, parse_condition("dep"), False)
    result = await firer(plan, {"dep": firing().events["dep"]}, "key-1")
    assert result.outcome == FIRED, result
    assert slack.posts()[0]["text"] == "build 42 passed"


# ---- errors -----------------------------------------------------------------------------------
GENERAL = spec(channel="general", message="m")
BAD_TOKEN = {"slack": {**GENERAL["slack"], "slackToken": {"name": "slack-secret", "key": "wrong"}}}


@pytest.mark.parametrize(
    ("template", "fail", "message", "retryable"),
    [
        (spec(channel="nope", message="m"), None, "channel_not_found", False),
        (BAD_TOKEN, None, "invalid_auth", False),
        (GENERAL, (429, {"ok": False, "error": "ratelimited"}), "ratelimited", True),
        (GENERAL, (200, {"ok": False, "error": "internal_error"}), "internal_error", True),
        (GENERAL, (503, {"ok": False}), "HTTP 503", True),
        (GENERAL, (200, {"ok": False, "error": "invalid_blocks"}), "invalid_blocks", False),
    ],
    ids=["unknown-channel", "bad-token", "rate-limited", "internal", "503", "rejected-blocks"],
)
async def test_error_replies_become_trigger_errors(
    slack: FakeSlack,
    context: TriggerContext,
    template: dict[str, Any],
    fail: tuple[int, dict[str, Any]] | None,
    message: str,
    retryable: bool,
) -> None:
    if fail is not None:
        slack.fail_next.append(fail)
    with pytest.raises(TriggerError, match=message) as err:
        await run(template, context)
    assert err.value.retryable is retryable
    assert "slack channel" in str(err.value)


async def test_an_unreachable_api_is_retryable(
    context: TriggerContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with serve(web.Application()) as url:
        closed = url  # the port is free again once the server has stopped
    monkeypatch.setenv(API_URL_ENV, f"{closed}/api/")
    with pytest.raises(TriggerError) as err:
        await run(spec(channel="general", message="m"), context)
    assert err.value.retryable

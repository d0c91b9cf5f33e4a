"""The ``slack`` trigger: post a message to a Slack channel, as Argo's ``slack.go`` does through
argoproj/notifications-engine.

One ``chat.postMessage`` per firing, with slack_sdk's ``AsyncWebClient`` and the bot token from
the ``slackToken`` secret. ``channel`` is a name (a leading ``#`` is dropped) or an id.
``message`` is the text; ``attachments`` and ``blocks`` are JSON arrays written as strings in
the spec and sent parsed; at least one of the three is required. ``sender.username`` sets the
name shown; ``sender.icon`` is sent as ``icon_emoji`` when it reads ``:name:``, as ``icon_url``
when it is an http(s) URL, and otherwise ignored with a warning.

``thread.messageAggregationKey`` groups messages in a thread: the first message posted with a
key starts it, and its ``ts`` is remembered (in ``TriggerContext.memory``, per token, channel
and key) so later messages with the same key reply to it as ``thread_ts``;
``thread.broadcastMessageToChannel`` sets ``reply_broadcast`` so replies show in the channel
too. As in Argo the thread memory lasts as long as the process.

The API's base URL is ``https://slack.com/api/`` unless the environment variable
``SLUICE_SLACK_API_URL`` names another (a sluice setting, for tests and Slack-compatible
servers); the HTTP session is ``TriggerContext.http`` when there is one.

Deliberate differences from Argo:

* Argo's current trigger posts to the channel name and fails when the bot is not a member;
  its older one (and the scopes its docs still ask for: ``channels:read``, ``groups:read``,
  ``channels:join``) looked the channel up with ``conversations.list`` and joined it. sluice
  posts first and, only on ``not_in_channel``, looks the name up, joins and posts again.
* Argo's ``Execute`` reads the template, not the resource its parameters rewrote, so a
  parameter with ``dest: message`` is lost; here the parameters' result is what is posted.
* Retries are ``retryStrategy``'s alone (slack_sdk's own are turned off): ``ratelimited``,
  Slack's internal errors, 5xx and connection errors are retryable; ``invalid_auth``,
  ``channel_not_found`` and other answers are not. Argo's mention markers
  (``__SLACK_USER_EMAIL__x__``) are not expanded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pydantic import ValidationError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sensor.models.trigger_types import SlackTrigger as SlackSpec
from sensor.triggers.base import (
    Firing,
    Outcome,
    TriggerError,
    TriggerImpl,
    register,
)

log = logging.getLogger(__name__)

API_URL_ENV = "SLUICE_SLACK_API_URL"
DEFAULT_API_URL = "https://slack.com/api/"
TIMEOUT = 30  # seconds, slack_sdk's default
_THREADS = "slack.threads"  # TriggerContext.memory key
_EMOJI = re.compile(r"^:.+:$")
_RETRYABLE_ERRORS = frozenset({
    "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
})  # fmt: skip


def api_url() -> str:
    """The Slack Web API base URL: ``SLUICE_SLACK_API_URL`` or Slack's own."""
    return os.environ.get(API_URL_ENV) or DEFAULT_API_URL


def _json_array(text: str | None, field: str, where: str) -> list[Any]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise TriggerError(f"{where}: slack.{field} is not JSON: {exc}", retryable=False) from exc
    if not isinstance(value, list):
        raise TriggerError(f"{where}: slack.{field} must be a JSON array", retryable=False)
    return value


def _sender(spec: SlackSpec, where: str) -> dict[str, str]:
    sender = spec.sender
    if sender is None:
        return {}
    out = {"username": sender.username} if sender.username else {}
    icon = sender.icon or ""
    if _EMOJI.match(icon):
        out["icon_emoji"] = icon
    elif icon:
        parts = urlsplit(icon)
        if parts.scheme in ("http", "https") and parts.netloc:
            out["icon_url"] = icon
        else:
            log.warning("%s: slack.sender.icon %r is not an :emoji: or a URL", where, icon)
    return out


def message_arguments(spec: SlackSpec, where: str) -> dict[str, Any]:
    """The ``chat.postMessage`` arguments but ``channel`` and ``thread_ts``: what is posted."""
    message = spec.message or ""
    attachments = _json_array(spec.attachments, "attachments", where)
    blocks = _json_array(spec.blocks, "blocks", where)
    if not (message or spec.attachments or spec.blocks):
        raise TriggerError(
            f"{where}: no text to post: at least one of message, attachments or blocks"
            " should be provided",
            retryable=False,
        )
    out: dict[str, Any] = {"text": message, **_sender(spec, where)}
    if attachments:
        out["attachments"] = attachments
    if blocks:
        out["blocks"] = blocks
    return out


def slack_error(exc: Exception, what: str) -> TriggerError:
    """A slack_sdk or transport error as a ``TriggerError`` that says whether to retry."""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        data = exc.response.data
        error = data.get("error", "") if isinstance(data, dict) else ""
        retryable = status >= 500 or status == 429 or error in _RETRYABLE_ERRORS
        return TriggerError(f"{what}: {error or f'HTTP {status}'}", retryable=retryable)
    if isinstance(exc, TimeoutError):
        return TriggerError(f"{what}: timed out after {TIMEOUT}s", retryable=True)
    return TriggerError(f"{what}: {exc or type(exc).__name__}", retryable=True)


async def _channel_id(client: AsyncWebClient, name: str) -> str | None:
    """The id of the channel called ``name``, from ``conversations.list``; None if none."""
    cursor = ""
    while True:
        params: dict[str, Any] = {
            "types": "public_channel,private_channel",
            "exclude_archived": "true",
            "limit": 1000,
        }
        if cursor:
            params["cursor"] = cursor
        page = await client.api_call("conversations.list", http_verb="GET", params=params)
        for channel in page.get("channels") or []:
            if channel.get("name") == name:
                return str(channel["id"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor:
            return None


async def _post(client: AsyncWebClient, channel: str, arguments: dict[str, Any]) -> str:
    """``chat.postMessage``, joining the channel when the bot is not in it; the message's ts."""
    try:
        posted = await client.api_call("chat.postMessage", json={"channel": channel, **arguments})
    except SlackApiError as exc:
        data = exc.response.data
        if not isinstance(data, dict) or data.get("error") != "not_in_channel":
            raise
        channel_id = await _channel_id(client, channel) or channel
        log.info("joining slack channel %s (%s) to post to it", channel, channel_id)
        await client.api_call("conversations.join", json={"channel": channel_id})
        posted = await client.api_call(
            "chat.postMessage", json={"channel": channel_id, **arguments}
        )
    return str(posted.get("ts") or "")


@register("slack")
class SlackTrigger(TriggerImpl):
    async def resource(self) -> Any:
        spec = self.trigger.template.slack
        return spec.to_yaml_dict() if spec is not None else {}

    async def fire(self, firing: Firing, resource: Any, payload: bytes | None = None) -> Outcome:
        where = firing.where()
        try:
            spec = SlackSpec.model_validate(resource)
        except ValidationError as exc:
            raise TriggerError(f"{where}: slack: {exc}", retryable=False) from exc
        channel = (spec.channel or "").removeprefix("#")
        if not channel:
            raise TriggerError(f"{where}: no slack channel provided", retryable=False)
        if spec.slack_token is None:
            raise TriggerError(f"{where}: slack.slackToken is required", retryable=False)
        sel = spec.slack_token
        token = self.context.secret("secret", sel.name, sel.key, f"{where}: slack.slackToken")
        arguments = message_arguments(spec, where)

        thread = spec.thread
        group = thread.message_aggregation_key if thread else None
        threads: dict[tuple[str, str, str], str] = self.context.memory.setdefault(_THREADS, {})
        token_id = hashlib.sha256(token.encode()).hexdigest()[:16]
        thread_key = (token_id, channel, group or "")
        thread_ts = threads.get(thread_key) if group else None
        if thread_ts:
            arguments["thread_ts"] = thread_ts
        if thread is not None and thread.broadcast_message_to_channel:
            arguments["reply_broadcast"] = True

        client = AsyncWebClient(
            token=token,
            base_url=api_url(),
            timeout=TIMEOUT,
            session=self.context.http,
            retry_handlers=[],
        )
        what = f"{where}: slack channel {channel}"
        log.info("%s: posting a message", what)
        try:
            ts = await _post(client, channel, arguments)
        except (SlackApiError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise slack_error(exc, what) from exc
        if group and not thread_ts and ts:
            threads[thread_key] = ts
        where_in = f" in thread {thread_ts}" if thread_ts else ""
        return Outcome(f"posted to slack channel {channel}{where_in}: ts {ts}")

"""The ``slack`` event source: Slack's Events API, interactive payloads and slash commands.

As Argo's slack source, one endpoint takes all three kinds of Slack request:

* with ``signingSecret``, every request must carry Slack's v0 signature
  (``X-Slack-Signature`` over ``v0:{X-Slack-Request-Timestamp}:{body}``), checked by slack_sdk's
  ``SignatureVerifier``, and a timestamp at most five minutes away; otherwise it is a 401 with
  the reason, as Argo's failed ``SecretsVerifier`` is;
* a form post (``application/x-www-form-urlencoded``) with a ``payload`` field is an
  interactive payload: the event data is that JSON object; one with a ``command`` field is a
  slash command: the event data is its fields as slack-go's ``SlashCommand`` encodes them
  (every field, ``""`` when absent, ``is_enterprise_install`` a bool);
* any other body is an Events API request: with ``token``, its ``token`` must be the
  verification token; ``url_verification`` is answered with its ``challenge`` and dispatches
  nothing; ``event_callback`` dispatches the inner event as Argo does, encoded as slack-go's
  ``EventsAPIInnerEvent``: ``{"type": <event type>, "Data": <the event>}``; any other type is
  answered 200 and dropped.

Deliberate differences from Argo: Argo refuses a spec without ``signingSecret`` or ``token``;
sluice runs without them, unverified, with a warning at start (a local test setup has no Slack
app). A wrong verification token is a 401 and a malformed body or form a 400 (Argo: 500). The
challenge is answered alone (Argo appends ``success`` to it). Interactive payloads and inner
events are dispatched as Slack sent them, not re-encoded through slack-go's structs (which
drop fields they do not know and add empty ones), and an inner event type slack-go does not
know is dispatched instead of refused. A form post is answered with an empty 200, so Slack
shows the user nothing (Argo's ``success`` shows up as a reply to a slash command). As in
Argo, ``metadata`` is not added to the data: the event is Slack's own JSON.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from slack_sdk.signature import Clock as SlackClock
from slack_sdk.signature import SignatureVerifier

from eventsource.models.common import EventSourceModel, WebhookContext
from eventsource.models.http import SlackEventSource
from eventsource.registry import register
from eventsource.sources.hooks import FORM, Delivery, HookRoute, HookSource, Refused
from sluice.core.clock import Clock

log = logging.getLogger(__name__)

EVENT_TYPE = "slack"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
MAX_AGE = 5 * 60  # seconds, Slack's and slack-go's limit
# slack-go's SlashCommand fields, in its order; the two omitempty ones are left out when empty
SLASH_FIELDS = (
    "token",
    "team_id",
    "team_domain",
    "enterprise_id",
    "enterprise_name",
    "is_enterprise_install",
    "channel_id",
    "channel_name",
    "user_id",
    "user_name",
    "command",
    "text",
    "response_url",
    "trigger_id",
    "api_app_id",
)
_OMIT_EMPTY = {"enterprise_id", "enterprise_name"}


class _Clock(SlackClock):
    """slack_sdk's clock, reading sluice's injectable one."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def now(self) -> float:
        return self.clock.now().timestamp()


def check_signature(verifier: SignatureVerifier, body: bytes, headers: Any) -> None:
    """Raise ``ValueError(reason)`` unless the request is signed by Slack, recently."""
    timestamp, signature = headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER)
    if not timestamp or not signature:
        raise ValueError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    try:
        age = abs(verifier.clock.now() - int(timestamp))
    except ValueError as exc:
        raise ValueError(f"{TIMESTAMP_HEADER} is not a number: {timestamp!r}") from exc
    if age > MAX_AGE:
        raise ValueError(f"{TIMESTAMP_HEADER} is more than {MAX_AGE // 60} minutes away")
    if not verifier.is_valid(body=body, timestamp=timestamp, signature=signature):
        raise ValueError("signature mismatch")


def slash_command(form: dict[str, list[str]]) -> dict[str, Any]:
    """A slash command's form as slack-go's ``SlashCommand`` encodes it."""
    out: dict[str, Any] = {}
    for name in SLASH_FIELDS:
        value = form.get(name, [""])[0]
        if name == "is_enterprise_install":
            out[name] = value == "true"
        elif value or name not in _OMIT_EMPTY:
            out[name] = value
    return out


def events_api(body: Any, token: str | None) -> Delivery:
    """What one Events API request becomes."""
    if not isinstance(body, dict):
        raise Refused(400, "the Events API body is not a JSON object")
    if token is not None and body.get("token") != token:
        raise Refused(401, "invalid verification token")
    kind = body.get("type")
    if kind == "url_verification":
        challenge = body.get("challenge")
        if not isinstance(challenge, str):
            raise Refused(400, "url_verification without a challenge")
        return Delivery(reply=web.Response(text=challenge, content_type="text/plain"))
    if kind != "event_callback":
        return Delivery(dropped=f"{kind!r} is not an event callback; nothing dispatched")
    inner = body.get("event")
    if not isinstance(inner, dict) or not isinstance(inner.get("type"), str):
        raise Refused(400, "event_callback without an event type")
    return Delivery([{"type": inner["type"], "Data": inner}])


def form_post(raw: bytes) -> Delivery:
    """What one interactive payload or slash command becomes."""
    try:
        form = parse_qs(raw.decode(), keep_blank_values=True)
    except UnicodeDecodeError as exc:
        raise Refused(400, f"form body is not UTF-8: {exc}") from exc
    empty = web.Response(status=200)
    if form.get("payload", [""])[0]:
        try:
            payload = json.loads(form["payload"][0])
        except ValueError as exc:
            raise Refused(400, f"failed to parse interaction event: {exc}") from exc
        if not isinstance(payload, dict):
            raise Refused(400, "failed to parse interaction event: not a JSON object")
        return Delivery([payload], reply=empty)
    if form.get("command", [""])[0]:
        return Delivery([slash_command(form)], reply=empty)
    raise Refused(400, "could not determine slack type from form parameters")


class SlackRoute(HookRoute):
    slack: SlackEventSource
    clock: Clock

    def __init__(self, slack: SlackEventSource, clock: Clock, **route: Any) -> None:
        secrets = {"signingSecret": slack.signing_secret, "token": slack.token}
        super().__init__(
            kind=EVENT_TYPE, secret_names={k: v for k, v in secrets.items() if v}, **route
        )
        self.slack = slack
        self.clock = clock

    async def deliver(self, request: web.Request, raw: bytes) -> Delivery:
        signing_secret = self.secret("signingSecret")
        if signing_secret is not None:
            verifier = SignatureVerifier(signing_secret, clock=_Clock(self.clock))
            try:
                check_signature(verifier, raw, request.headers)
            except ValueError as exc:
                raise Refused(401, str(exc)) from exc
        if request.content_type == FORM:
            return form_post(raw)
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise Refused(400, f"request body is not valid JSON: {exc}") from exc
        return events_api(body, self.secret("token"))


@register("slack")
class SlackSource(HookSource):
    """Every ``spec.slack`` event of one EventSource."""

    yaml_key = "slack"

    def make_route(self, name: str, spec: EventSourceModel, webhook: WebhookContext) -> HookRoute:
        assert isinstance(spec, SlackEventSource)
        return SlackRoute(
            spec,
            self.context.clock,
            event_name=name,
            spec=webhook,
            adaptor=self.adaptor,
            secrets=self.secrets,
        )

    def announce(self) -> None:
        for _, route in self.routes:
            assert isinstance(route, SlackRoute)
            if route.slack.signing_secret is None:
                log.warning(
                    "%s: no signingSecret: requests are accepted without verifying that "
                    "Slack sent them",
                    route.where(),
                )


__all__ = ["EVENT_TYPE", "SlackSource", "check_signature", "events_api", "slash_command"]

"""The ``bitbucketserver`` event source: Bitbucket Server (Data Center) webhooks become events.

As Argo's bitbucketserver source: with ``webhookSecret`` the call's ``X-Hub-Signature`` header
must be ``sha256=<hex>`` of the HMAC-SHA256 of the raw body (400 ``missing signature header``
or ``hmac verification failed`` otherwise); the body must be JSON; the event data is
``{"headers": {name: [values]}, "body": ..., "metadata": {...}}``. With ``oneEventPerChange``
a ``repo:refs_changed`` call (``X-Event-Key``) becomes one event per entry of its ``changes``,
each a copy of the body with only that change. The caller gets 200 once every event is stored;
if the bus fails midway it gets a 500 and the events stored before stay, as in Argo.

Hook registration is not done here: Argo creates, updates (every ``checkInterval``) and deletes
the repository hooks through the Bitbucket REST API with ``accessToken``; sluice does not call
that API, so the user creates the hook, and a spec that asks for registration gets a warning.
For the same reason ``skipBranchRefsChangedOnOpenPR`` (which asks the API for open pull
requests) is not applied: a warning at start says so.

Deliberate differences from Argo: ``events`` is an allow-list on ``X-Event-Key`` (``*`` or
empty: all), since without registration it is not sent to Bitbucket; a call for another event
is answered 200 and dropped. ``webhookSecret`` is checked whenever it is set (Argo reads it only
when it manages hooks). A split change keeps every field Bitbucket sent (Argo's re-encoding
through its struct keeps only the fields it knows). ``repositories``/``projects`` and
``bitbucketserverBaseURL`` are not required.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from aiohttp import web

from eventsource.models.common import EventSourceModel, WebhookContext
from eventsource.models.http import BitbucketServerEventSource
from eventsource.registry import register
from eventsource.sources.hooks import (
    Delivery,
    HookRoute,
    HookSource,
    Refused,
    allowed,
    masked_headers,
    no_registration,
)

log = logging.getLogger(__name__)

EVENT_TYPE = "bitbucketserver"
SIGNATURE_HEADER = "X-Hub-Signature"
EVENT_HEADER = "X-Event-Key"
REFS_CHANGED = "repo:refs_changed"


def check_signature(body: bytes, secret: str | None, signature: str | None) -> None:
    """Raise ``ValueError(reason)`` unless ``signature`` is ``sha256=`` the body's HMAC."""
    if not secret:
        return
    if not signature:
        raise ValueError("missing signature header")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise ValueError("hmac verification failed")


def split_changes(body: Any) -> list[Any]:
    """A ``repo:refs_changed`` body as one body per change (itself if it has no list)."""
    changes = body.get("changes") if isinstance(body, dict) else None
    if not isinstance(changes, list):
        return [body]
    return [{**body, "changes": [change]} for change in changes]


class BitbucketServerRoute(HookRoute):
    bitbucket: BitbucketServerEventSource

    def __init__(self, bitbucket: BitbucketServerEventSource, **route: Any) -> None:
        secret = bitbucket.webhook_secret
        super().__init__(
            kind=EVENT_TYPE, secret_names={"webhookSecret": secret} if secret else {}, **route
        )
        self.bitbucket = bitbucket

    async def deliver(self, request: web.Request, raw: bytes) -> Delivery:
        try:
            check_signature(
                raw, self.secret("webhookSecret"), request.headers.get(SIGNATURE_HEADER)
            )
            body = json.loads(raw)
        except ValueError as exc:
            raise Refused(400, str(exc)) from exc
        event = request.headers.get(EVENT_HEADER, "")
        if not allowed(event, self.bitbucket.events):
            return Delivery(dropped=f"event {event!r} is not in events; dropped")
        bodies = [body]
        if event == REFS_CHANGED and self.bitbucket.one_event_per_change:
            bodies = split_changes(body)
        headers = masked_headers(request)
        events = []
        for one in bodies:
            data: dict[str, Any] = {"headers": headers, "body": one}
            if self.bitbucket.metadata:
                data["metadata"] = dict(self.bitbucket.metadata)
            events.append(data)
        return Delivery(events, dropped="no changes in the event")


@register("bitbucketserver")
class BitbucketServerSource(HookSource):
    """Every ``spec.bitbucketserver`` event of one EventSource."""

    yaml_key = "bitbucketserver"

    def make_route(self, name: str, spec: EventSourceModel, webhook: WebhookContext) -> HookRoute:
        assert isinstance(spec, BitbucketServerEventSource)
        return BitbucketServerRoute(
            spec, event_name=name, spec=webhook, adaptor=self.adaptor, secrets=self.secrets
        )

    def announce(self) -> None:
        for _, route in self.routes:
            assert isinstance(route, BitbucketServerRoute)
            spec = route.bitbucket
            targets = spec.repositories or spec.projects or spec.repository_slug
            no_registration(route, "Bitbucket Server", bool(targets and spec.access_token))
            if spec.skip_branch_refs_changed_on_open_pr:
                log.warning(
                    "%s: skipBranchRefsChangedOnOpenPR is not applied: sluice does not query "
                    "Bitbucket Server for open pull requests",
                    route.where(),
                )


__all__ = ["EVENT_TYPE", "BitbucketServerSource", "check_signature", "split_changes"]

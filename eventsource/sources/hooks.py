"""What the SaaS webhook sources (slack, github, gitlab, bitbucketserver) share.

Each of them is Argo's webhook route with its own request handling: it listens on the
``webhook`` context of its event (endpoint, port, method, TLS) on the same per-port servers as
``webhook`` events (:class:`~eventsource.sources.webhook.WebhookServers`), so one port can serve
a webhook and a GitHub endpoint together. This module holds the parts that do not depend on the
service: :class:`HookRoute` checks the method, reads the body up to ``maxPayloadSize``, lets the
subclass verify and parse it (:meth:`HookRoute.deliver`), dispatches what it returns and answers
(200 once the bus stored every event, 500 if it could not, 4xx with a reason for bad input);
:class:`HookSource` is the lifecycle every one of these source classes has.

Deliberate differences from Argo, for all four: the ``webhook`` context's ``authSecret`` and
``basicAuth`` are enforced as the ``webhook`` source enforces them (Argo ignores them here), the
secrets are read once at start (a missing or empty one fails the start, which is retried as
Argo's start is) and again on every request (so a rotated secret applies), and the settings
that only served Argo's hook registration (repositories, access tokens, base URLs) are not
required, since sluice does not register hooks: the user creates them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aiohttp import web

from eventbus.errors import BusError
from eventsource.adaptor import Adaptor
from eventsource.models import EventSource
from eventsource.models.common import EventSourceModel, SecretKeySelector, WebhookContext
from eventsource.registry import SourceContext, WebhookServerPool
from eventsource.secrets import LocalSecrets, SecretNotFound
from eventsource.sources.webhook import (
    MASKED_AUTH,
    WebhookServers,
    WebhookSource,
    _BodyTooLarge,
    _json_response,
    _read_limited,
    _Route,
    add_routes,
    header_map,
    remove_routes,
)
from sluice.core.errors import SpecError

log = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"


class Refused(Exception):
    """The request is answered ``status`` with ``reason`` and nothing is dispatched."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Delivery:
    """What one accepted request becomes: events to dispatch, in order, and how to answer."""

    events: list[dict[str, Any]] = field(default_factory=list)
    reply: web.StreamResponse | None = None  # answered instead of the JSON success
    dropped: str | None = None  # why a request with no events is still a 200


def masked_headers(request: web.Request, *secret: str) -> dict[str, list[str]]:
    """The request's headers as Argo puts them in the event, with secret-bearing ones masked."""
    headers = header_map(request.headers)
    for name in ("Authorization", *secret):
        if name in headers:
            headers[name] = [MASKED_AUTH]
    return headers


def allowed(event: str, events: Iterable[str] | None) -> bool:
    """An ``events`` allow-list: empty or ``*`` lets everything through."""
    listed = set(events or ())
    return not listed or "*" in listed or event in listed


@dataclass
class HookRoute(_Route):
    """One event of a SaaS source: a webhook route whose requests :meth:`deliver` handles."""

    kind: str = "webhook"
    secret_names: dict[str, SecretKeySelector] = field(default_factory=dict)  # what → selector

    def where(self) -> str:
        return f"eventsource/{self.adaptor.source_name}: {self.kind} {self.event_name}"

    def secret(self, what: str) -> str | None:
        """The named secret's value now (None when not configured); a 500 if unreadable."""
        selector = self.secret_names.get(what)
        if selector is None:
            return None
        try:
            return self.read_secret(what, selector)
        except SecretNotFound as exc:
            log.error("%s: cannot read %s: %s", self.where(), what, exc)
            raise Refused(500, f"cannot read {what}") from exc

    def read_secret(self, what: str, selector: SecretKeySelector) -> str:
        if self.secrets is None:
            raise SecretNotFound(f"{what}: no secret store is configured")
        value = self.secrets.selected(selector)
        if not value:
            raise SecretNotFound(f"{what}: secret {selector.name}/{selector.key} is empty")
        return value

    def check_secrets(self) -> None:
        """Read every configured secret once; raises ``SecretNotFound`` (retried) if one fails."""
        for what, selector in self.secret_names.items():
            self.read_secret(what, selector)

    async def deliver(self, request: web.Request, raw: bytes) -> Delivery:
        """Verify and parse one request; raise :class:`Refused` to answer it with an error."""
        raise NotImplementedError

    async def admit(self, request: web.Request) -> bytes | web.Response:
        """The request's body, or the answer refusing it: the route's auth, its method, and
        the size limit are checked as the webhook source checks them."""
        refused: web.Response | None = None
        if self.spec.auth_secret is not None:
            refused = self._check_auth(request)
        if refused is None and self.spec.basic_auth is not None:
            refused = self._check_basic_auth(request)
        if refused is not None:
            return refused
        if request.method != self.spec.method:
            return _json_response(400, error="http method does not match")
        try:
            return await _read_limited(request, self.max_payload)
        except _BodyTooLarge:
            return _json_response(
                413, error=f"request body too large (limit {self.max_payload} bytes)"
            )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await self.admit(request)
        if isinstance(raw, web.Response):
            return raw
        try:
            delivery = await self.deliver(request, raw)
        except Refused as exc:
            log.warning("%s: request refused (%d): %s", self.where(), exc.status, exc.reason)
            return _json_response(exc.status, error=exc.reason)
        ids: list[str] = []
        for data in delivery.events:
            try:
                event_id = await self.adaptor.dispatch(self.event_name, self.kind, data)
            except BusError as exc:
                log.error("%s: failed to record event: %s", self.where(), exc)
                return _json_response(500, error="failed to record event")
            if event_id is not None:
                ids.append(event_id)
        if delivery.reply is not None:
            return delivery.reply
        if not delivery.events:
            return _json_response(200, message=delivery.dropped or "nothing to dispatch")
        if not ids:
            return _json_response(200, message="filtered out by filter.expression")
        if len(delivery.events) == 1:
            return _json_response(200, message="success", eventId=ids[0])
        return _json_response(200, message="success", eventIds=ids)


class HookSource:
    """Every event of one SaaS type of one EventSource, served until ``stop()``.

    A subclass sets ``yaml_key`` and builds one :class:`HookRoute` per event in ``make_route``.
    """

    yaml_key: ClassVar[str]

    def __init__(
        self,
        event_source: EventSource,
        adaptor: Adaptor,
        *,
        secrets: LocalSecrets | None = None,
        servers: WebhookServerPool | None = None,
        host: str = "0.0.0.0",
        context: SourceContext | None = None,
    ) -> None:
        self.event_source = event_source
        self.adaptor = adaptor
        self.secrets = secrets
        self.context = context or SourceContext(secrets=secrets, host=host)
        self.servers = servers or WebhookServers(host)
        self._stopped = asyncio.Event()
        self.routes: list[tuple[int, HookRoute]] = []
        events: Mapping[str, EventSourceModel] = event_source.spec.events().get(self.yaml_key, {})
        for name, spec in sorted(events.items()):
            webhook = getattr(spec, "webhook", None)
            if not isinstance(webhook, WebhookContext):
                where = f"eventsource/{adaptor.source_name}: spec.{self.yaml_key}.{name}"
                raise SpecError([f"{where}.webhook is required"])
            route = self.make_route(name, spec, webhook)
            self.routes.append((WebhookSource._check(route), route))

    @classmethod
    def from_context(
        cls, event_source: EventSource, adaptor: Adaptor, context: SourceContext
    ) -> HookSource:
        return cls(
            event_source,
            adaptor,
            secrets=context.secrets,
            servers=context.webhook_servers,
            host=context.host,
            context=context,
        )

    def make_route(self, name: str, spec: EventSourceModel, webhook: WebhookContext) -> HookRoute:
        raise NotImplementedError

    def announce(self) -> None:
        """Log what the user should know once the routes start (a subclass may say more)."""

    async def start(self) -> None:
        """Check the secrets, then listen on every event's port; returns once each serves."""
        self._stopped.clear()
        for _, route in self.routes:
            route.check_secrets()
        self.announce()
        await add_routes(self.servers, self.routes)

    async def stop(self) -> None:
        """Stop accepting; a server closes when its last route is gone."""
        self._stopped.set()
        await remove_routes(self.servers, self.routes)

    async def wait(self) -> None:
        """Return once stopped: a listening server does not fail on its own."""
        await self._stopped.wait()


def no_registration(route: HookRoute, service: str, wants_hooks: bool) -> None:
    """Say once at start that sluice does not create the hook Argo would have created."""
    if wants_hooks:
        url = f"{(route.spec.url or '').rstrip('/')}{route.endpoint}"
        log.warning(
            "%s: sluice does not register %s webhooks; create the hook in %s yourself, "
            "pointing at %s",
            route.where(),
            service,
            service,
            url or route.endpoint,
        )


__all__ = [
    "FORM",
    "Delivery",
    "HookRoute",
    "HookSource",
    "Refused",
    "allowed",
    "masked_headers",
    "no_registration",
]

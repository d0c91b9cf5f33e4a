"""The ``webhook`` event source: HTTP requests on an endpoint become events.

As in Argo Events, every webhook event on one port shares one HTTP server; each event is a
route (``endpoint``) that accepts one ``method``, and every server answers ``GET /health``. The
event data is Argo's ``{"header": {name: [values]}, "body": ..., "metadata": {...}}``: for GET
the body is the query parameters, for a form POST the form fields, otherwise the JSON body (a
body that is not JSON is a 400, as Argo's failing ``json.Marshal`` of it is). The caller gets
200 only once the bus stored the event, and 500 if it could not be stored; an event that the
event's ``filter.expression`` left out is a 200 too, as in Argo, saying it was filtered.

Deliberate differences from Argo: an oversized body is a 413 (Argo: 400 "http: request body
too large"), the form content type is matched on its media type (``; charset=`` allowed), and
the 200 body is JSON with the event id instead of ``success``. TLS (``serverCertSecret``) and
``basicAuth`` are not supported yet: such an event is refused at start.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from eventbus.errors import BusError
from eventsource.adaptor import Adaptor
from eventsource.models import EventSource
from eventsource.models.http import WebhookEventSource
from eventsource.registry import SourceContext, WebhookServerPool, register
from eventsource.secrets import LocalSecrets, SecretNotFound
from sluice.core.errors import SpecError

log = logging.getLogger(__name__)

EVENT_TYPE = "webhook"
DEFAULT_MAX_PAYLOAD = 1_048_576  # Argo's DefaultMaxWebhookPayloadSize
MASKED_AUTH = "*** Masked Auth Secret ***"
_FORM = "application/x-www-form-urlencoded"


def canonical_header(name: str) -> str:
    """Go's ``CanonicalMIMEHeaderKey``: ``x-api-key`` → ``X-Api-Key``."""
    if not name or any(c in name for c in " \t\r\n:"):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def header_map(headers: Mapping[str, str] | Any) -> dict[str, list[str]]:
    """Headers as Go's ``http.Header`` marshals them: canonical names, lists of values."""
    out: dict[str, list[str]] = {}
    for name, value in headers.items():
        key = canonical_header(name)
        if key == "Host":  # Go moves it to Request.Host
            continue
        out.setdefault(key, []).append(value)
    return out


def _json_response(status: int, **fields: Any) -> web.Response:
    return web.json_response(fields, status=status)


class _BodyTooLarge(Exception):
    pass


async def _read_limited(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass
class _Route:
    """One webhook event: where it listens and how it dispatches."""

    event_name: str
    spec: WebhookEventSource
    adaptor: Adaptor
    secrets: LocalSecrets | None

    @property
    def endpoint(self) -> str:
        return self.spec.endpoint or ""

    @property
    def max_payload(self) -> int:
        size = self.spec.max_payload_size
        return size if size is not None and size > 0 else DEFAULT_MAX_PAYLOAD

    def where(self) -> str:
        return f"eventsource/{self.adaptor.source_name}: webhook {self.event_name}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        headers = header_map(request.headers)
        if self.spec.auth_secret is not None:
            refused = self._check_auth(request)
            if refused is not None:
                return refused
        if "Authorization" in headers:  # the secret stops here
            headers["Authorization"] = [MASKED_AUTH]
        if request.method != self.spec.method:
            return _json_response(400, error="http method does not match")
        try:
            body = await self._body(request)
        except _BodyTooLarge:
            return _json_response(
                413, error=f"request body too large (limit {self.max_payload} bytes)"
            )
        except ValueError as exc:
            return _json_response(400, error=str(exc))
        data: dict[str, Any] = {"header": headers, "body": body}
        if self.spec.metadata:
            data["metadata"] = dict(self.spec.metadata)
        try:
            event_id = await self.adaptor.dispatch(self.event_name, EVENT_TYPE, data)
        except BusError as exc:
            log.error("%s: failed to record event: %s", self.where(), exc)
            return _json_response(500, error="failed to record event")
        if event_id is None:
            return _json_response(200, message="filtered out by filter.expression")
        return _json_response(200, message="success", eventId=event_id)

    def _check_auth(self, request: web.Request) -> web.Response | None:
        assert self.spec.auth_secret is not None
        try:
            if self.secrets is None:
                raise SecretNotFound("no secret store is configured")
            token = self.secrets.selected(self.spec.auth_secret)
        except SecretNotFound as exc:
            log.error("%s: cannot read authSecret: %s", self.where(), exc)
            return _json_response(500, error="Error loading auth token")
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return _json_response(401, error="Invalid Authorization Header")
        if not hmac.compare_digest(auth.removeprefix("Bearer ").encode(), token.encode()):
            return _json_response(401, error="Invalid Auth token")
        return None

    async def _body(self, request: web.Request) -> Any:
        if request.method == "GET":
            return {k: list(v) for k, v in _multi(request.query).items()}
        if request.method != "POST":
            raise ValueError(f"unsupported method: {request.method}")
        raw = await _read_limited(request, self.max_payload)
        if request.content_type == _FORM:
            try:
                text = raw.decode()
            except UnicodeDecodeError as exc:
                raise ValueError(f"form body is not UTF-8: {exc}") from exc
            return parse_qs(text, keep_blank_values=True)
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"request body is not valid JSON: {exc}") from exc


def _multi(query: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in query.items():
        out.setdefault(key, []).append(value)
    return out


@dataclass
class _PortServer:
    runner: web.AppRunner
    routes: dict[str, _Route] = field(default_factory=dict)


class WebhookServers:
    """One aiohttp server per port, shared by every webhook route on that port."""

    def __init__(self, host: str = "0.0.0.0") -> None:
        self.host = host
        self._servers: dict[int, _PortServer] = {}
        self._lock = asyncio.Lock()

    async def add(self, port: int, route: _Route) -> None:
        async with self._lock:
            server = self._servers.get(port)
            if server is None:
                server = await self._start(port)
            existing = server.routes.get(route.endpoint)
            if existing is not None and existing is not route:
                raise SpecError(
                    [
                        f"{route.where()}: port {port} endpoint {route.endpoint} is already "
                        f"served by {existing.where()}"
                    ]
                )
            server.routes[route.endpoint] = route

    async def remove(self, port: int, route: _Route) -> None:
        async with self._lock:
            server = self._servers.get(port)
            if server is None or server.routes.get(route.endpoint) is not route:
                return
            del server.routes[route.endpoint]
            if not server.routes:
                del self._servers[port]
                await server.runner.cleanup()

    def ports(self) -> list[int]:
        return sorted(self._servers)

    async def _start(self, port: int) -> _PortServer:
        routes: dict[str, _Route] = {}

        async def handle(request: web.Request) -> web.StreamResponse:
            route = routes.get(request.path)
            if route is not None:
                return await route.handle(request)
            if request.path == "/health":
                return web.Response(text="OK")
            return _json_response(404, error=f"no route for {request.path}")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=10.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, port).start()
        except OSError:
            await runner.cleanup()
            raise
        server = _PortServer(runner, routes)
        self._servers[port] = server
        log.info("webhook server listening on %s:%d", self.host, port)
        return server


@register("webhook")
class WebhookSource:
    """Every ``spec.webhook`` event of one EventSource, served until ``stop()``."""

    def __init__(
        self,
        event_source: EventSource,
        adaptor: Adaptor,
        *,
        secrets: LocalSecrets | None = None,
        servers: WebhookServerPool | None = None,
        host: str = "0.0.0.0",
    ) -> None:
        self.event_source = event_source
        self.adaptor = adaptor
        self.secrets = secrets
        self.servers = servers or WebhookServers(host)
        self._stopped = asyncio.Event()
        self._routes: list[tuple[int, _Route]] = []
        for name, spec in sorted((event_source.spec.webhook or {}).items()):
            route = _Route(name, spec, adaptor, secrets)
            self._routes.append((self._check(route), route))

    @classmethod
    def from_context(
        cls, event_source: EventSource, adaptor: Adaptor, context: SourceContext
    ) -> WebhookSource:
        return cls(
            event_source,
            adaptor,
            secrets=context.secrets,
            servers=context.webhook_servers,
            host=context.host,
        )

    @staticmethod
    def _check(route: _Route) -> int:
        """The route's port, after checking its settings as Argo's validation does."""
        spec, where = route.spec, route.where()
        problems = []
        if not spec.endpoint or not spec.endpoint.startswith("/"):
            problems.append(f"{where}: endpoint must be a path starting with '/'")
        if not spec.method:
            problems.append(f"{where}: method is required")
        port = -1
        try:
            port = int(spec.port or "")
        except ValueError:
            problems.append(f"{where}: port {spec.port!r} is not a number")
        if not 0 < port < 65536 and port != -1:
            problems.append(f"{where}: port {port} is out of range")
        unsupported = [
            name
            for name, value in (
                ("serverCertSecret", spec.server_cert_secret),
                ("serverKeySecret", spec.server_key_secret),
                ("basicAuth", spec.basic_auth),
            )
            if value is not None
        ]
        problems += [f"{where}: {name} is not supported yet" for name in unsupported]
        if problems:
            raise SpecError(problems)
        return port

    async def start(self) -> None:
        """Listen on every event's port; returns once each route accepts requests."""
        self._stopped.clear()
        added: list[tuple[int, _Route]] = []
        try:
            for port, route in self._routes:
                await self.servers.add(port, route)
                added.append((port, route))
        except BaseException:
            for port, route in reversed(added):
                await self.servers.remove(port, route)
            raise

    async def stop(self) -> None:
        """Stop accepting; a server closes when its last route is gone, after in-flight calls."""
        self._stopped.set()
        for port, route in reversed(self._routes):
            await self.servers.remove(port, route)

    async def wait(self) -> None:
        """Return once stopped: a listening server does not fail on its own."""
        await self._stopped.wait()


__all__ = ["WebhookServers", "WebhookSource", "canonical_header", "header_map"]

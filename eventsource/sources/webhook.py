"""The ``webhook`` event source: HTTP requests on an endpoint become events.

As in Argo Events, every webhook event on one port shares one HTTP server; each event is a
route (``endpoint``) that accepts one ``method``, and every server answers ``GET /health``. The
event data is Argo's ``{"header": {name: [values]}, "body": ..., "metadata": {...}}``: for GET
the body is the query parameters, for a form POST the form fields, otherwise the JSON body (a
body that is not JSON is a 400, as Argo's failing ``json.Marshal`` of it is). The caller gets
200 only once the bus stored the event, and 500 if it could not be stored; an event that the
event's ``filter.expression`` left out is a 200 too, as in Argo, saying it was filtered.

With ``serverCertSecret`` and ``serverKeySecret`` the port serves HTTPS, as Argo's
``ListenAndServeTLS``: the first event on a port decides, and a later event on that port that
disagrees is refused at start rather than silently served without its TLS.

Deliberate differences from Argo: an oversized body is a 413 (Argo: 400 "http: request body
too large"), the form content type is matched on its media type (``; charset=`` allowed), the
200 body is JSON with the event id instead of ``success``, and ``basicAuth`` (which Argo's
webhook accepts but never checks) is enforced: HTTP Basic credentials equal to the two secrets,
401 otherwise, masked in the event like a Bearer token.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import os
import ssl
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from eventbus.errors import BusError
from eventsource.adaptor import Adaptor
from eventsource.models import EventSource
from eventsource.models.common import WebhookContext
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
    spec: WebhookContext  # a WebhookEventSource, or the ``webhook`` of a SaaS source
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

    @property
    def tls(self) -> bool:
        return self.spec.server_cert_secret is not None

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server's TLS context from the cert and key secrets, or None for plain HTTP."""
        cert, key = self.spec.server_cert_secret, self.spec.server_key_secret
        if cert is None or key is None:
            return None
        try:
            if self.secrets is None:
                raise SecretNotFound("no secret store is configured")
            cert_pem, key_pem = self.secrets.selected(cert), self.secrets.selected(key)
        except SecretNotFound as exc:
            raise SpecError([f"{self.where()}: cannot read the TLS secrets: {exc}"]) from exc
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        # load_cert_chain reads files only: a private folder that is gone once loaded
        with tempfile.TemporaryDirectory(prefix="sluice-tls-") as folder:
            cert_file, key_file = os.path.join(folder, "tls.crt"), os.path.join(folder, "tls.key")
            for path, text in ((cert_file, cert_pem), (key_file, key_pem)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as out:
                    out.write(text + "\n")
            try:
                context.load_cert_chain(cert_file, key_file)
            except (ssl.SSLError, ValueError) as exc:
                raise SpecError(
                    [f"{self.where()}: serverCertSecret/serverKeySecret are not a PEM pair: {exc}"]
                ) from exc
        return context

    async def handle(self, request: web.Request) -> web.StreamResponse:
        headers = header_map(request.headers)
        if self.spec.auth_secret is not None:
            refused = self._check_auth(request)
            if refused is not None:
                return refused
        if self.spec.basic_auth is not None:
            refused = self._check_basic_auth(request)
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

    def _check_basic_auth(self, request: web.Request) -> web.Response | None:
        basic = self.spec.basic_auth
        assert basic is not None
        try:
            if self.secrets is None:
                raise SecretNotFound("no secret store is configured")
            user = self.secrets.selected(basic.username) if basic.username else ""
            password = self.secrets.selected(basic.password) if basic.password else ""
        except SecretNotFound as exc:
            log.error("%s: cannot read basicAuth: %s", self.where(), exc)
            return _json_response(500, error="Error loading basic auth credentials")
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return _json_response(401, error="Invalid Authorization Header")
        try:
            given = base64.b64decode(auth.removeprefix("Basic "), validate=True)
        except (binascii.Error, ValueError):
            return _json_response(401, error="Invalid Authorization Header")
        expected = f"{user}:{password}".encode()
        if not hmac.compare_digest(given, expected):
            return _json_response(401, error="Invalid basic auth credentials")
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
    tls: bool = False


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
                server = await self._start(port, route.ssl_context())
            elif server.tls != route.tls:
                scheme = "HTTPS" if server.tls else "plain HTTP"
                raise SpecError(
                    [
                        f"{route.where()}: port {port} already serves {scheme} for "
                        f"{next(iter(server.routes.values())).where()}; events on one port "
                        "must agree on serverCertSecret/serverKeySecret"
                    ]
                )
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

    async def _start(self, port: int, ssl_context: ssl.SSLContext | None) -> _PortServer:
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
            await web.TCPSite(runner, self.host, port, ssl_context=ssl_context).start()
        except OSError:
            await runner.cleanup()
            raise
        server = _PortServer(runner, routes, tls=ssl_context is not None)
        self._servers[port] = server
        log.info(
            "webhook server listening on %s://%s:%d",
            "https" if ssl_context else "http",
            self.host,
            port,
        )
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
        if (spec.server_cert_secret is None) != (spec.server_key_secret is None):
            problems.append(f"{where}: serverCertSecret and serverKeySecret go together")
        basic = spec.basic_auth
        if basic is not None and (basic.username is None or basic.password is None):
            problems.append(f"{where}: basicAuth needs both username and password secrets")
        if problems:
            raise SpecError(problems)
        return port

    async def start(self) -> None:
        """Listen on every event's port; returns once each route accepts requests."""
        self._stopped.clear()
        await add_routes(self.servers, self._routes)

    async def stop(self) -> None:
        """Stop accepting; a server closes when its last route is gone, after in-flight calls."""
        self._stopped.set()
        await remove_routes(self.servers, self._routes)

    async def wait(self) -> None:
        """Return once stopped: a listening server does not fail on its own."""
        await self._stopped.wait()


async def add_routes(servers: WebhookServerPool, routes: Sequence[tuple[int, Any]]) -> None:
    """Serve each ``(port, route)``; if one cannot be served, those added are removed again."""
    added: list[tuple[int, Any]] = []
    try:
        for port, route in routes:
            await servers.add(port, route)
            added.append((port, route))
    except BaseException:
        await remove_routes(servers, added)
        raise


async def remove_routes(servers: WebhookServerPool, routes: Sequence[tuple[int, Any]]) -> None:
    """Stop serving each ``(port, route)``, last first."""
    for port, route in reversed(routes):
        await servers.remove(port, route)


__all__ = [
    "WebhookServers",
    "WebhookSource",
    "add_routes",
    "canonical_header",
    "header_map",
    "remove_routes",
]

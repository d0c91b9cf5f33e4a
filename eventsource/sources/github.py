"""The ``github`` event source: GitHub webhook deliveries become events.

As Argo's github source: the delivery's JSON (``application/json``, or the ``payload`` field
of an ``application/x-www-form-urlencoded`` delivery) must be an object; its
``X-GitHub-Event`` and ``X-GitHub-Delivery`` headers are copied into it under those names, and
the event data is ``{"headers": {name: [values]}, "body": ..., "metadata": {...}}`` (Argo's
plural ``headers``, names canonical as Go writes them: ``X-Github-Event``). With
``webhookSecret`` the delivery must carry a valid HMAC of the raw body in
``X-Hub-Signature-256`` (``sha256=<hex>``), or in the legacy ``X-Hub-Signature``
(``sha1=<hex>``) when only that one is sent, as go-github's ``ValidatePayload`` accepts; a
missing or wrong signature, an unsupported content type or a body that is not a JSON object is
a 400 with the reason, as in Argo. As in go-github, a signed delivery is refused when no
``webhookSecret`` is configured, rather than accepted unverified.

Hook registration is not done here: Argo creates (and with ``deleteHookOnFinish`` deletes)
the repository or organization hook through the GitHub API when ``apiToken`` or ``githubApp``
is set; sluice does not call the GitHub API, so the user creates the hook (URL, content type,
secret, events) in GitHub, and a spec that asks for registration gets a warning at start.

Deliberate differences from Argo: ``events`` is an allow-list on ``X-GitHub-Event`` (``*`` or
empty: all), since without registration it is not sent to GitHub; a delivery of another event
is answered 200 and dropped (Argo dispatches whatever the hook it registered sends). A
signature under ``X-Hub-Signature-256`` must be ``sha256=`` (go-github would also accept a
weaker ``sha1=`` there). ``repositories``/``organizations`` are not required.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from eventsource.models.common import EventSourceModel, WebhookContext
from eventsource.models.http import GithubEventSource
from eventsource.registry import register
from eventsource.sources.hooks import (
    FORM,
    Delivery,
    HookRoute,
    HookSource,
    Refused,
    allowed,
    masked_headers,
    no_registration,
)
from sluice.core.errors import SpecError

log = logging.getLogger(__name__)

EVENT_TYPE = "github"
EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"
SIGNATURE_256 = "X-Hub-Signature-256"
SIGNATURE_1 = "X-Hub-Signature"
_HASHES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def check_signature(body: bytes, secret: str | None, headers: Any) -> None:
    """Raise ``ValueError(reason)`` unless the body's signature headers match the secret."""
    header = SIGNATURE_256 if headers.get(SIGNATURE_256) else SIGNATURE_1
    signature = headers.get(header) or ""
    if not secret and not signature:
        return
    if not signature:
        raise ValueError("missing signature")
    if not secret:
        raise ValueError("the request is signed but no webhookSecret is configured")
    prefix, sep, digest = signature.partition("=")
    if not sep:
        raise ValueError(f"error parsing signature {signature!r}")
    if header == SIGNATURE_256 and prefix != "sha256":
        raise ValueError(f"{SIGNATURE_256} must be sha256=<hex>, not {prefix}=")
    hash_type = _HASHES.get(prefix)
    if hash_type is None:
        raise ValueError(f"unknown hash type prefix: {prefix!r}")
    try:
        given = bytes.fromhex(digest)
    except ValueError as exc:
        raise ValueError(f"error decoding signature {signature!r}") from exc
    if not hmac.compare_digest(given, hmac.new(secret.encode(), body, hash_type).digest()):
        raise ValueError("payload signature check failed")


def payload(content_type: str, raw: bytes) -> bytes:
    """The JSON GitHub delivered, as go-github's ``ValidatePayload`` finds it."""
    if content_type == "application/json":
        return raw
    if content_type == FORM:
        try:
            form = parse_qs(raw.decode(), keep_blank_values=True)
        except UnicodeDecodeError as exc:
            raise ValueError(f"form body is not UTF-8: {exc}") from exc
        return form.get("payload", [""])[0].encode()
    raise ValueError(f"webhook request has unsupported Content-Type {content_type!r}")


class GithubRoute(HookRoute):
    github: GithubEventSource

    def __init__(self, github: GithubEventSource, **route: Any) -> None:
        secrets = {"webhookSecret": github.webhook_secret} if github.webhook_secret else {}
        super().__init__(kind=EVENT_TYPE, secret_names=secrets, **route)
        self.github = github

    async def deliver(self, request: web.Request, raw: bytes) -> Delivery:
        try:
            delivered = payload(request.content_type, raw)
            check_signature(raw, self.secret("webhookSecret"), request.headers)
            body = json.loads(delivered)
        except ValueError as exc:
            raise Refused(400, str(exc)) from exc
        if not isinstance(body, dict):
            raise Refused(400, "the payload is not a JSON object")
        event = request.headers.get(EVENT_HEADER, "")
        if not allowed(event, self.github.events):
            return Delivery(dropped=f"event {event!r} is not in events; dropped")
        for name in (EVENT_HEADER, DELIVERY_HEADER):
            body[name] = request.headers.get(name, "")
        data: dict[str, Any] = {"headers": masked_headers(request), "body": body}
        if self.github.metadata:
            data["metadata"] = dict(self.github.metadata)
        return Delivery([data])


@register("github")
class GithubSource(HookSource):
    """Every ``spec.github`` event of one EventSource."""

    yaml_key = "github"

    def make_route(self, name: str, spec: EventSourceModel, webhook: WebhookContext) -> HookRoute:
        assert isinstance(spec, GithubEventSource)
        if spec.content_type not in (None, "", "json", "form"):
            raise SpecError(
                [
                    f"eventsource/{self.adaptor.source_name}: spec.github.{name}.contentType: "
                    'must be "json" or "form"'
                ]
            )
        return GithubRoute(
            spec, event_name=name, spec=webhook, adaptor=self.adaptor, secrets=self.secrets
        )

    def announce(self) -> None:
        for _, route in self.routes:
            assert isinstance(route, GithubRoute)
            spec = route.github
            targets = spec.repositories or spec.organizations or (spec.owner and spec.repository)
            no_registration(route, "GitHub", bool(targets and (spec.api_token or spec.github_app)))


__all__ = ["EVENT_TYPE", "GithubSource", "check_signature", "payload"]

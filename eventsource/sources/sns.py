"""The ``sns`` event source: AWS SNS HTTP(S) deliveries become events.

As Argo's awssns source: each event is a route on the shared webhook servers (the ``webhook``
context: endpoint, port, method, TLS); once it listens, the endpoint ``webhook.url`` +
``webhook.endpoint`` is subscribed to ``topicArn`` through the SNS API (boto3: ``region``,
``accessKey``/``secretKey`` secrets, else ``roleARN`` assumed through STS, else the default
credentials; ``endpoint`` overrides the API URL, for LocalStack or moto). SNS then posts:

* ``SubscriptionConfirmation``: confirmed with the SNS API's ``ConfirmSubscription`` (topic,
  ``Token``), as Argo does, and answered 200;
* ``Notification``: the event, with Argo's data ``{"header": {name: [values]}, "body": <the SNS
  message JSON>, "metadata": {...}}``; 200 once the bus stored it, 500 if it could not;
* anything else (``UnsubscribeConfirmation``): answered 200 and dropped.

With ``validateSignature`` every message must carry SNS's signature: ``SigningCertURL`` must be
``https://sns.<region>.amazonaws.com[.cn]/...``, the certificate is fetched from it, and the
``Signature`` must verify over SNS's canonical string for the message type. A body that is not
an SNS message, or a signature that is missing or wrong, is a 400 with the reason, as in Argo.
When the source stops, the subscription is removed (``Unsubscribe``), as in Argo.

Deliberate differences from Argo: ``SignatureVersion`` 2 is verified with SHA256withRSA (Argo
checks SHA1 whatever the version, so it rejects version-2 topics); the canonical string uses
the message's own ``Timestamp`` text, as SNS signs it; an ``UnsubscribeConfirmation`` is
verified with its own keys. ``SLUICE_SNS_CERT_HOSTS`` (comma-separated host names) lists further
hosts whose ``SigningCertURL`` is trusted, over http too: for tests and emulators only, never
an Amazon host's replacement in production. Fetched certificates are cached by URL. A failed
``ConfirmSubscription`` is a 500 (Argo: 400), since the fault is not the caller's.
``webhook.url`` is required (Argo would subscribe a bare path and fail at the API). The event id
is derived from the SNS ``MessageId`` (and the event), so a redelivered message is stored once.
With ``roleARN`` and ``endpoint`` both set, STS is called at ``endpoint`` too.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import boto3
from aiohttp import web
from botocore.exceptions import BotoCoreError, ClientError
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from eventbus.errors import BusError
from eventsource.adaptor import Adaptor
from eventsource.models import EventSource
from eventsource.models.common import EventSourceModel, SecretKeySelector, WebhookContext
from eventsource.models.http import SNSEventSource
from eventsource.registry import SourceContext, WebhookServerPool, register
from eventsource.secrets import LocalSecrets, SecretNotFound
from eventsource.sources.hooks import HookRoute, HookSource, masked_headers
from eventsource.sources.webhook import _json_response
from sluice.core.errors import SluiceError, SpecError

log = logging.getLogger(__name__)

EVENT_TYPE = "sns"
CERT_HOSTS_ENV = "SLUICE_SNS_CERT_HOSTS"
MAX_CERT_BYTES = 65 * 1024  # as Argo reads at most
_CERT_CACHE = 16
_SNS_CERT_HOST = re.compile(r"sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com(\.cn)?")
_CONFIRMATION_KEYS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn")
SIGNED_KEYS: Mapping[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (*_CONFIRMATION_KEYS, "Type"),
    "UnsubscribeConfirmation": (*_CONFIRMATION_KEYS, "Type"),
}
_HASHES: Mapping[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}


class SNSError(SluiceError):
    """The SNS API refused or failed a call; retried with the source's backoff."""


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """SNS's canonical string of a message: ``key\\nvalue\\n`` for each signed key it has."""
    keys = SIGNED_KEYS.get(str(message.get("Type")))
    if keys is None:
        raise ValueError(f"cannot verify a message of type {message.get('Type')!r}")
    lines = []
    for key in keys:
        value = message.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ValueError(f"{key} is not a string")
        lines.append(f"{key}\n{value}\n")
    return "".join(lines).encode()


def cert_hosts_from_env(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The extra trusted ``SigningCertURL`` hosts of ``SLUICE_SNS_CERT_HOSTS``."""
    raw = (os.environ if environ is None else environ).get(CERT_HOSTS_ENV, "")
    return frozenset(host.strip().lower() for host in raw.split(",") if host.strip())


def check_cert_url(url: str, extra_hosts: Iterable[str] = ()) -> None:
    """Raise ``ValueError`` unless ``url`` is an SNS signing-certificate URL we trust."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host and host in set(extra_hosts):
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"SigningCertURL scheme {parts.scheme!r} is not http(s)")
        return
    if not _SNS_CERT_HOST.fullmatch(host):
        raise ValueError(f"SigningCertURL hostname {host!r} is not an SNS host")
    if parts.scheme != "https":
        raise ValueError("SigningCertURL is not using https")


def verify_signature(message: Mapping[str, Any], cert_pem: bytes) -> None:
    """Raise ``ValueError`` unless the message's ``Signature`` verifies with the certificate."""
    encoded = message.get("Signature")
    if not encoded or not isinstance(encoded, str):
        raise ValueError("the message is not signed")
    version = str(message.get("SignatureVersion") or "")
    hash_type = _HASHES.get(version)
    if hash_type is None:
        raise ValueError(f"unsupported SignatureVersion {version!r}")
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"failed to base64 decode signature, {exc}") from exc
    try:
        key = x509.load_pem_x509_certificate(cert_pem).public_key()
    except ValueError as exc:
        raise ValueError(f"failed to parse signing cert, {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the signing cert's key is not RSA")
    try:
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), hash_type())
    except InvalidSignature as exc:
        raise ValueError("message signature check error") from exc


@dataclass
class SNSRoute(HookRoute):
    """One ``spec.sns`` event: its route, its subscription and its signature checks."""

    sns: SNSEventSource = field(default_factory=SNSEventSource)
    cert_hosts: frozenset[str] = frozenset()
    subscription_arn: str | None = None
    _certs: dict[str, bytes] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{(self.spec.url or '').rstrip('/')}{self.endpoint}"

    def _client(self) -> Any:
        """A fresh SNS client (blocking): the secrets and an assumed role are read anew."""
        spec, endpoint = self.sns, self.sns.endpoint or None
        if spec.role_arn:
            sts = boto3.session.Session(region_name=spec.region).client(
                "sts", endpoint_url=endpoint
            )
            try:
                role = sts.assume_role(
                    RoleArn=spec.role_arn, RoleSessionName=f"sluice-{int(time.time())}"
                )["Credentials"]
            finally:
                sts.close()
            session = boto3.session.Session(
                aws_access_key_id=role["AccessKeyId"],
                aws_secret_access_key=role["SecretAccessKey"],
                aws_session_token=role["SessionToken"],
            )
        elif spec.access_key is not None and spec.secret_key is not None:
            session = boto3.session.Session(
                aws_access_key_id=self.read_secret("accessKey", spec.access_key),
                aws_secret_access_key=self.read_secret("secretKey", spec.secret_key),
            )
        else:
            session = boto3.session.Session()
        return session.client("sns", region_name=spec.region, endpoint_url=endpoint)

    def _call(self, what: str, **kwargs: Any) -> dict[str, Any]:
        """One SNS API call (blocking); SDK errors become :class:`SNSError`."""
        try:
            client = self._client()
            try:
                return dict(getattr(client, what)(**kwargs))
            finally:
                client.close()
        except (BotoCoreError, ClientError, SecretNotFound) as exc:
            raise SNSError(f"{self.where()}: SNS {what} failed: {exc}") from exc

    async def subscribe(self) -> None:
        protocol = "https" if self.url.startswith("https://") else "http"
        reply = await asyncio.to_thread(
            self._call,
            "subscribe",
            TopicArn=self.sns.topic_arn,
            Endpoint=self.url,
            Protocol=protocol,
        )
        arn = str(reply.get("SubscriptionArn") or "")
        if arn.startswith("arn:"):  # not "pending confirmation"
            self.subscription_arn = arn
        log.info("%s: subscribed %s to %s", self.where(), self.url, self.sns.topic_arn)

    async def unsubscribe(self) -> None:
        arn, self.subscription_arn = self.subscription_arn, None
        if arn is None:
            return
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self._call, "unsubscribe", SubscriptionArn=arn), timeout=30
            )
            log.info("%s: unsubscribed %s", self.where(), arn)
        except (SNSError, TimeoutError) as exc:
            log.error("%s: unsubscribing %s failed: %s", self.where(), arn, exc)

    async def _signing_cert(self, url: str) -> bytes:
        cached = self._certs.get(url)
        if cached is not None:
            return cached
        timeout = aiohttp.ClientTimeout(total=10)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url) as resp,
            ):
                if resp.status != 200:
                    raise ValueError(f"failed to fetch signing cert: HTTP {resp.status}")
                pem = b""
                while len(pem) < MAX_CERT_BYTES:
                    chunk = await resp.content.read(MAX_CERT_BYTES - len(pem))
                    if not chunk:
                        break
                    pem += chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ValueError(f"failed to fetch signing cert, {exc}") from exc
        if len(self._certs) >= _CERT_CACHE:
            self._certs.clear()
        self._certs[url] = pem
        return pem

    async def _verify(self, message: Mapping[str, Any]) -> None:
        url = message.get("SigningCertURL")
        if not isinstance(url, str) or not url:
            raise ValueError("the message has no SigningCertURL")
        check_cert_url(url, self.cert_hosts)
        verify_signature(message, await self._signing_cert(url))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await self.admit(request)
        if isinstance(raw, web.Response):
            return raw
        try:
            message = json.loads(raw)
            if not isinstance(message, dict):
                raise ValueError("bad request, not a valid SNS notification")
            if self.sns.validate_signature:
                await self._verify(message)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            log.warning("%s: request refused: %s", self.where(), exc)
            return _json_response(400, error=str(exc))
        kind = message.get("Type")
        if kind == "SubscriptionConfirmation":
            return await self._confirm(message)
        if kind != "Notification":
            log.info("%s: %s message dropped", self.where(), kind)
            return _json_response(200, message=f"{kind} message dropped")
        return await self._dispatch(request, message)

    async def _confirm(self, message: Mapping[str, Any]) -> web.Response:
        token = message.get("Token")
        if not token or not isinstance(token, str):
            return _json_response(400, error="SubscriptionConfirmation without a Token")
        try:
            reply = await asyncio.to_thread(
                self._call, "confirm_subscription", TopicArn=self.sns.topic_arn, Token=token
            )
        except SNSError as exc:
            log.error("%s: %s", self.where(), exc)
            return _json_response(500, error="failed to confirm the subscription")
        self.subscription_arn = reply.get("SubscriptionArn") or self.subscription_arn
        log.info("%s: subscription %s confirmed", self.where(), self.subscription_arn)
        return _json_response(200, message="subscription confirmed")

    async def _dispatch(self, request: web.Request, message: Mapping[str, Any]) -> web.Response:
        data: dict[str, Any] = {"header": masked_headers(request), "body": message}
        if self.sns.metadata:
            data["metadata"] = dict(self.sns.metadata)
        event_id = None
        if isinstance(message.get("MessageId"), str):
            event_id = self.adaptor.upstream_id(self.event_name, message["MessageId"])
        try:
            stored = await self.adaptor.dispatch(
                self.event_name, EVENT_TYPE, data, event_id=event_id
            )
        except BusError as exc:
            log.error("%s: failed to record event: %s", self.where(), exc)
            return _json_response(500, error="failed to record event")
        if stored is None:
            return _json_response(200, message="filtered out by filter.expression")
        return _json_response(200, message="success", eventId=stored)


@register("sns")
class SNSSource(HookSource):
    """Every ``spec.sns`` event of one EventSource: routes served, endpoints subscribed."""

    yaml_key = "sns"
    routes: list[tuple[int, SNSRoute]]  # type: ignore[assignment]

    def __init__(
        self,
        event_source: EventSource,
        adaptor: Adaptor,
        *,
        secrets: LocalSecrets | None = None,
        servers: WebhookServerPool | None = None,
        host: str = "0.0.0.0",
        context: SourceContext | None = None,
        cert_hosts: Iterable[str] | None = None,
    ) -> None:
        hosts = cert_hosts_from_env() if cert_hosts is None else cert_hosts
        self.cert_hosts = frozenset(h.lower() for h in hosts)
        super().__init__(
            event_source, adaptor, secrets=secrets, servers=servers, host=host, context=context
        )

    def make_route(self, name: str, spec: EventSourceModel, webhook: WebhookContext) -> SNSRoute:
        assert isinstance(spec, SNSEventSource)
        where = f"eventsource/{self.adaptor.source_name}: spec.sns.{name}"
        problems = []
        if not spec.topic_arn:
            problems.append(f"{where}: must specify topic arn (topicArn)")
        if not spec.region:
            problems.append(f"{where}: must specify region")
        if not webhook.url:
            problems.append(f"{where}.webhook.url is required: SNS posts to url + endpoint")
        if (spec.access_key is None) != (spec.secret_key is None):
            problems.append(f"{where}: accessKey and secretKey go together")
        if problems:
            raise SpecError(problems)
        secret_names: dict[str, SecretKeySelector] = {}
        if spec.access_key is not None and spec.secret_key is not None and not spec.role_arn:
            secret_names = {"accessKey": spec.access_key, "secretKey": spec.secret_key}
        return SNSRoute(
            name,
            webhook,
            self.adaptor,
            self.secrets,
            kind=EVENT_TYPE,
            secret_names=secret_names,
            sns=spec,
            cert_hosts=self.cert_hosts,
        )

    async def start(self) -> None:
        """Serve every route, then subscribe each endpoint to its topic."""
        await super().start()
        try:
            for _, route in self.routes:
                await route.subscribe()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop serving, then remove the subscriptions this source made or confirmed."""
        await super().stop()
        for _, route in self.routes:
            await route.unsubscribe()


__all__ = [
    "CERT_HOSTS_ENV",
    "EVENT_TYPE",
    "SIGNED_KEYS",
    "SNSError",
    "SNSRoute",
    "SNSSource",
    "cert_hosts_from_env",
    "check_cert_url",
    "string_to_sign",
    "verify_signature",
]

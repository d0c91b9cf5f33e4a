"""The ``minio`` event source: a MinIO bucket's notifications become events.

As Argo's minio source, which uses minio-go's ``ListenBucketNotification``: each event holds one
long-poll ``GET /<bucket>?events=...&ping=10&prefix=...&suffix=...`` open on ``endpoint``
(``host[:port]``; https unless ``insecure``; ``caCertificate`` trusted when given), signed with
AWS Signature V4 from the ``accessKey``/``secretKey`` secrets. MinIO streams newline-delimited
JSON ``{"Records": [...]}`` objects, with keep-alives in between (``{"Records":null}`` lines, or
bare spaces from older servers), which are skipped. Each notification with records is one
event, whose data is Argo's ``{"notification": [records], "metadata": {...}}``; each record is
re-encoded as minio-go's ``notification.Event`` is (its fields only, in its order, with its
``omitempty`` rules), so the data is what Argo's sensors see. A line that does not decode as
minio-go decodes it is logged and skipped, as Argo skips an ``Info`` with an error.

Each event's listener is a supervised service: a stream that ends, fails, goes silent for 60
seconds (six missed pings), or is refused (a missing bucket, bad credentials) is reopened with
backoff, as minio-go's retry loop does. A bus failure after the adaptor's retries loses that
notification, as in Argo: the stream cannot be replayed.

Deliberate differences from Argo: the signing region is ``region``, else ``us-east-1``
(minio-go asks the server with ``GetBucketLocation``; a MinIO with another region needs
``region`` set). ``endpoint`` must not carry a scheme or path, as minio-go requires, but that is
a spec error at start rather than a failing listener.
"""

from __future__ import annotations

import functools
import json
import logging
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from yarl import URL

from eventbus.errors import BusError
from eventsource.adaptor import Adaptor
from eventsource.models import EventSource
from eventsource.models.cloud import S3Artifact
from eventsource.registry import SourceContext, register
from eventsource.secrets import LocalSecrets, SecretNotFound
from eventsource.sources.supervised import Ready, Run, ServiceSource
from sluice.core.clock import Clock
from sluice.core.errors import SluiceError, SpecError
from sluice.core.supervise import RestartPolicy, until

log = logging.getLogger(__name__)

EVENT_TYPE = "minio"
DEFAULT_REGION = "us-east-1"
PING_SECONDS = 10  # as minio-go asks
SILENCE_SECONDS = 60.0  # no byte for this long: the stream is dead
MAX_LINE = 4 * 1024 * 1024  # minio-go's scanner buffer


class MinioError(SluiceError):
    """The notification stream could not be opened or ended; it is reopened with backoff."""


def _field(obj: Mapping[str, Any], name: str) -> Any:
    """A JSON object's member as Go's decoder finds it: exact name first, then any case."""
    if name in obj:
        return obj[name]
    lowered = name.lower()
    return next((v for k, v in obj.items() if k.lower() == lowered), None)


def _string(obj: Mapping[str, Any], name: str) -> str:
    value = _field(obj, name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name}: {value!r} is not a string")
    return value


def _object(obj: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = _field(obj, name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{name}: {value!r} is not an object")
    return value


def _string_map(obj: Mapping[str, Any], name: str) -> dict[str, str] | None:
    value = _field(obj, name)
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError(f"{name}: {value!r} is not a map of strings")
    return dict(value)


def event_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """One record as minio-go's ``notification.Event`` decodes and Argo re-encodes it."""
    s3 = _object(record, "s3")
    bucket, obj, source = _object(s3, "bucket"), _object(s3, "object"), _object(record, "source")
    size = _field(obj, "size")
    if size is None:
        size = 0
    if not isinstance(size, int) or isinstance(size, bool):
        raise ValueError(f"size: {size!r} is not an integer")
    out_obj: dict[str, Any] = {"key": _string(obj, "key")}
    optional = {
        "size": size,
        "eTag": _string(obj, "eTag"),
        "contentType": _string(obj, "contentType"),
        "userMetadata": _string_map(obj, "userMetadata"),
        "versionId": _string(obj, "versionId"),
    }
    out_obj |= {k: v for k, v in optional.items() if v}  # Go's omitempty
    out_obj["sequencer"] = _string(obj, "sequencer")
    return {
        "eventVersion": _string(record, "eventVersion"),
        "eventSource": _string(record, "eventSource"),
        "awsRegion": _string(record, "awsRegion"),
        "eventTime": _string(record, "eventTime"),
        "eventName": _string(record, "eventName"),
        "userIdentity": {"principalId": _string(_object(record, "userIdentity"), "principalId")},
        "requestParameters": _string_map(record, "requestParameters"),
        "responseElements": _string_map(record, "responseElements"),
        "s3": {
            "s3SchemaVersion": _string(s3, "s3SchemaVersion"),
            "configurationId": _string(s3, "configurationId"),
            "bucket": {
                "name": _string(bucket, "name"),
                "ownerIdentity": {
                    "principalId": _string(_object(bucket, "ownerIdentity"), "principalId")
                },
                "arn": _string(bucket, "arn"),
            },
            "object": out_obj,
        },
        "source": {
            "host": _string(source, "host"),
            "port": _string(source, "port"),
            "userAgent": _string(source, "userAgent"),
        },
    }


def parse_line(line: bytes) -> list[dict[str, Any]]:
    """The records of one stream line (none for a keep-alive); ``ValueError`` if malformed."""
    if not line.strip():
        return []
    info = json.loads(line)
    if not isinstance(info, Mapping):
        raise ValueError(f"{info!r} is not a notification object")
    records = _field(info, "Records")
    if records is None:
        return []
    if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
        raise ValueError("Records is not a list of objects")
    return [event_record(record) for record in records]


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")  # SigV4's URI encoding


def listen_url(spec: S3Artifact, scheme: str) -> str:
    """The ListenBucketNotification URL, its query already in SigV4's canonical order."""
    prefix = (spec.filter.prefix or "") if spec.filter else ""
    suffix = (spec.filter.suffix or "") if spec.filter else ""
    pairs = [("events", e) for e in spec.events or []]
    pairs += [("ping", str(PING_SECONDS)), ("prefix", prefix), ("suffix", suffix)]
    query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(pairs))
    bucket = (spec.bucket.name or "") if spec.bucket else ""
    return f"{scheme}://{spec.endpoint}/{_encode(bucket)}?{query}"


class MinioBucket:
    """One ``spec.minio.<name>``: its stream of bucket notifications, and its events."""

    def __init__(
        self, name: str, spec: S3Artifact, adaptor: Adaptor, secrets: LocalSecrets | None
    ) -> None:
        self.name, self.spec, self.adaptor, self.secrets = name, spec, adaptor, secrets
        self.dispatched = 0
        self.skipped = 0
        self.check()

    def where(self) -> str:
        return f"eventsource/{self.adaptor.source_name}: spec.minio.{self.name}"

    def check(self) -> None:
        """Argo's validation, and minio-go's of the endpoint, as spec errors."""
        spec, problems = self.spec, []
        if spec.access_key is None:
            problems.append(f"{self.where()}: access key can't be empty")
        if spec.secret_key is None:
            problems.append(f"{self.where()}: secret key can't be empty")
        parts = urlsplit(f"//{spec.endpoint or ''}")
        if not spec.endpoint:
            problems.append(f"{self.where()}: endpoint url can't be empty")
        elif "://" in spec.endpoint or parts.path or parts.query or not parts.hostname:
            problems.append(
                f"{self.where()}: endpoint {spec.endpoint!r} must be host[:port], without a "
                "scheme or path (insecure: true selects http)"
            )
        if spec.bucket is None or not spec.bucket.name:
            problems.append(f"{self.where()}: bucket name can't be empty")
        if any(not event for event in spec.events or []):
            problems.append(f"{self.where()}: unknown event ''")
        if problems:
            raise SpecError(problems)

    def _secret(self, what: str, selector: Any) -> str:
        if self.secrets is None:
            raise SecretNotFound(f"{what}: no secret store is configured")
        value = self.secrets.selected(selector)
        if not value:
            raise SecretNotFound(f"{what}: secret {selector.name}/{selector.key} is empty")
        return value

    def signed_request(self) -> tuple[str, dict[str, str]]:
        """The URL and the SigV4 headers of one ListenBucketNotification request."""
        url = listen_url(self.spec, "http" if self.spec.insecure else "https")
        credentials = Credentials(
            self._secret("accessKey", self.spec.access_key),
            self._secret("secretKey", self.spec.secret_key),
        )
        request = AWSRequest(method="GET", url=url)
        S3SigV4Auth(credentials, "s3", self.spec.region or DEFAULT_REGION).add_auth(request)
        return url, {k: str(v) for k, v in request.headers.items()}

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.spec.insecure or self.spec.ca_certificate is None:
            return None
        try:
            pem = self._secret("caCertificate", self.spec.ca_certificate)
            return ssl.create_default_context(cadata=pem)
        except (ssl.SSLError, ValueError) as exc:
            raise SpecError([f"{self.where()}: caCertificate is not PEM: {exc}"]) from exc

    @property
    def bucket(self) -> str:
        return (self.spec.bucket.name or "") if self.spec.bucket else ""

    async def listen(self, on_open: Callable[[], None]) -> None:
        """Open the stream and dispatch its notifications until it ends (then raise)."""
        url, headers = self.signed_request()
        timeout = aiohttp.ClientTimeout(total=None, connect=30, sock_read=SILENCE_SECONDS)
        connector = aiohttp.TCPConnector(ssl=self.ssl_context() or True)
        async with (
            aiohttp.ClientSession(timeout=timeout, connector=connector) as session,
            session.get(URL(url, encoded=True), headers=headers) as resp,
        ):
            if resp.status != 200:
                body = (await resp.content.read(4096)).decode(errors="replace")
                raise MinioError(f"{self.where()}: listen refused: HTTP {resp.status}: {body}")
            log.info("%s: listening to bucket %s", self.where(), self.bucket)
            on_open()
            async for line in _lines(resp.content):
                await self.handle(line)
        raise MinioError(f"{self.where()}: the notification stream ended")

    async def handle(self, line: bytes) -> None:
        try:
            records = parse_line(line)
        except ValueError as exc:
            self.skipped += 1
            log.error("%s: invalid notification skipped: %s", self.where(), exc)
            return
        if not records:
            return
        data: dict[str, Any] = {"notification": records}
        if self.spec.metadata:
            data["metadata"] = dict(self.spec.metadata)
        try:
            await self.adaptor.dispatch(self.name, EVENT_TYPE, data)
        except BusError as exc:
            log.error("%s: notification lost, the bus did not store it: %s", self.where(), exc)
            return
        self.dispatched += 1


async def _lines(stream: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """The stream's newline-terminated lines, each at most ``MAX_LINE`` bytes."""
    buffer = b""
    async for chunk in stream.iter_any():
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            yield line
        if len(buffer) > MAX_LINE:
            raise MinioError(f"a notification line is longer than {MAX_LINE} bytes")
    if buffer.strip():
        yield buffer


@register("minio")
class MinioSource(ServiceSource):
    """Every ``spec.minio`` event of one EventSource, each listener a supervised service."""

    def __init__(
        self,
        event_source: EventSource,
        adaptor: Adaptor,
        *,
        secrets: LocalSecrets | None = None,
        clock: Clock | None = None,
        policy: RestartPolicy | None = None,
    ) -> None:
        super().__init__(adaptor, clock=clock, policy=policy, grace=5.0)
        self.buckets = [
            MinioBucket(name, spec, adaptor, secrets)
            for name, spec in sorted((event_source.spec.minio or {}).items())
        ]

    @classmethod
    def from_context(
        cls, event_source: EventSource, adaptor: Adaptor, context: SourceContext
    ) -> MinioSource:
        return cls(event_source, adaptor, secrets=context.secrets, clock=context.clock)

    def services(self) -> list[tuple[str, Run]]:
        return [
            (self.service_name("minio", bucket.name), functools.partial(self._listen, bucket))
            for bucket in self.buckets
        ]

    async def _listen(self, bucket: MinioBucket, ready: Ready) -> None:
        try:
            await until(self.stopping, bucket.listen(ready))
        except (aiohttp.ClientError, TimeoutError, SecretNotFound) as exc:
            raise MinioError(f"{bucket.where()}: {type(exc).__name__}: {exc}") from exc


__all__ = [
    "EVENT_TYPE",
    "MinioBucket",
    "MinioError",
    "MinioSource",
    "event_record",
    "listen_url",
    "parse_line",
]

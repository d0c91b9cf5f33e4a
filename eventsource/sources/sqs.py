"""The ``sqs`` event source: messages of an Amazon SQS queue become events.

This is how S3 uploads reach sluice: a bucket's event notification (``s3:ObjectCreated:*``) to
a queue arrives here with S3's ``{"Records": [...]}`` as the JSON body (object keys URL-encoded,
as S3 writes them); through an SNS topic, the body is SNS's envelope and the S3 event is the
JSON *string* in its ``Message`` (unless the subscription has raw message delivery).

As Argo Events' ``awssqs`` source:

* ``queue`` is a name, resolved to its URL with GetQueueUrl (``queueAccountId`` as the queue
  owner's account); ``endpoint`` replaces AWS's (a VPC endpoint, LocalStack, moto);
* credentials are ``accessKey``/``secretKey`` (+ ``sessionToken``) from secrets, else boto3's
  default chain; with ``roleARN`` that role is assumed through STS;
* long polling: ``waitTimeSeconds`` (3 when 0 or unset, as Argo), at most 10 messages a call,
  a visibility timeout of 120 s, every message attribute;
* the event data is ``{"messageId", "messageAttributes", "body", "metadata"}``:
  ``messageAttributes`` as Go marshals the SDK's ``MessageAttributeValue`` (its Go field names,
  nil as null, binary base64-encoded; no attributes is null), ``body`` the JSON itself with
  ``jsonBody``, else the text base64-encoded (Argo puts ``[]byte(body)`` in an ``interface{}``);
* a message is deleted only once the bus stored its event, or once the ``filter`` left it out;
  one the bus did not store stays, and SQS delivers it again after its visibility timeout. The
  event id comes from the SQS message id (``Adaptor.upstream_id``), so a redelivery is stored
  once;
* a message that is not JSON although ``jsonBody`` is set cannot become an event: it is logged
  and deleted, or, with ``dlq: true``, left in the queue so that the queue's redrive policy
  moves it to the dead-letter queue after ``maxReceiveCount`` receives.

Each event polls in a supervised service: an SQS or STS error (expired token, throttling, a
queue that does not exist yet) ends the attempt, which is restarted with backoff and reads the
secrets again, as Argo re-creates its client on ``ExpiredToken``.

Deliberate differences from Argo: with ``roleARN`` *and* keys, the keys are the ones that assume
the role (Argo ignores them and uses the default chain); STS is reached at its usual endpoint,
not ``endpoint`` (set ``AWS_ENDPOINT_URL_STS`` for an emulator). What Argo only finds at run
time is a spec error at start: ``waitTimeSeconds`` outside 0-20, ``accessKey`` without
``secretKey`` (or the reverse), ``sessionToken`` without both, a missing secret. A long poll in
flight when the source stops is abandoned at once; messages it still brings are made visible
again at once instead of after the visibility timeout.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from eventbus.errors import BusError
from eventsource.adaptor import Adaptor
from eventsource.models import EventSource
from eventsource.models.cloud import SQSEventSource
from eventsource.models.common import SecretKeySelector
from eventsource.registry import SourceContext, register
from eventsource.secrets import LocalSecrets, SecretNotFound
from eventsource.sources.payloads import message_body, with_metadata
from eventsource.sources.supervised import Ready, Run, ServiceSource
from sluice.core.clock import Clock
from sluice.core.errors import SluiceError, SpecError
from sluice.core.supervise import RestartPolicy, until

log = logging.getLogger(__name__)

EVENT_TYPE = "sqs"
DEFAULT_WAIT_SECONDS = 3  # Argo's fetchMessages when waitTimeSeconds is 0
MAX_MESSAGES = 10  # per ReceiveMessage, as Argo (and SQS's maximum)
VISIBILITY_TIMEOUT = 120  # seconds, as Argo: how long until a message not deleted comes back
RENEW_BEFORE = timedelta(minutes=5)  # assumed-role credentials are renewed this early
# Argo sleeps 2 s after a failed receive; sluice doubles that up to a minute.
RESTART = RestartPolicy(initial=2.0, factor=2.0, cap=60.0, healthy_after=60.0)
_SESSION_NAME = re.compile(r"[^\w+=,.@-]")
_QUEUE_MISSING = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})


class SQSError(SluiceError):
    """An SQS or STS call failed; the poll is restarted with backoff."""


class MalformedMessage(ValueError):
    """A message that cannot become an event (``jsonBody`` is set and the body is not JSON)."""


def _b64(raw: bytes | str) -> str:
    return base64.b64encode(raw.encode() if isinstance(raw, str) else raw).decode("ascii")


def message_attributes(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """boto3's ``MessageAttributes`` as Go marshals aws-sdk-go's ``MessageAttributeValue``."""
    if not raw:
        return None  # a nil map
    out: dict[str, Any] = {}
    for name, value in raw.items():
        binary = value.get("BinaryValue")
        binaries = value.get("BinaryListValues")
        strings = value.get("StringListValues")
        out[name] = {  # Go's field order; every field present, nil as null
            "BinaryListValues": [_b64(b) for b in binaries] if binaries else None,
            "BinaryValue": _b64(binary) if binary is not None else None,
            "DataType": value.get("DataType"),
            "StringListValues": list(strings) if strings else None,
            "StringValue": value.get("StringValue"),
        }
    return out


def event_data(message: Mapping[str, Any], spec: SQSEventSource) -> dict[str, Any]:
    """Argo's ``SQSEventData`` of a received message; ``MalformedMessage`` when ``jsonBody``
    is set and the body is not JSON."""
    text: str = message.get("Body", "")
    try:
        body = message_body(text.encode(), bool(spec.json_body))
    except ValueError as exc:
        raise MalformedMessage(f"jsonBody is set but the body is not JSON: {exc}") from exc
    data: dict[str, Any] = {
        "messageId": message["MessageId"],
        "messageAttributes": message_attributes(message.get("MessageAttributes")),
        "body": body,
    }
    return with_metadata(data, spec.metadata)


def wait_seconds(spec: SQSEventSource) -> int:
    return spec.wait_time_seconds or DEFAULT_WAIT_SECONDS


def spec_problems(where: str, spec: SQSEventSource) -> list[str]:
    """What is wrong with one ``spec.sqs.<name>``, each problem prefixed with ``where``."""
    problems = []
    if not spec.region:
        problems.append(f"{where}.region: must specify region")
    if not spec.queue:
        problems.append(f"{where}.queue: must specify queue name")
    if spec.wait_time_seconds is not None and not 0 <= spec.wait_time_seconds <= 20:
        problems.append(
            f"{where}.waitTimeSeconds: {spec.wait_time_seconds} is not between 0 and 20"
        )
    if (spec.access_key is None) != (spec.secret_key is None):
        problems.append(f"{where}: accessKey and secretKey go together")
    elif spec.session_token is not None and spec.access_key is None:
        problems.append(f"{where}.sessionToken: needs accessKey and secretKey")
    return problems


def session_name(source: str, event: str) -> str:
    """An STS RoleSessionName (2-64 of ``[\\w+=,.@-]``) naming the event."""
    return _SESSION_NAME.sub("-", f"sluice-{source}-{event}")[:64]


@dataclass
class Connection:
    """An SQS client, the queue's URL, and when its credentials must be renewed (or None)."""

    client: Any
    url: str
    renew_at: datetime | None = None
    abandoned: bool = False  # a poll still runs on its thread, which closes the client

    def close(self) -> None:
        self.client.close()  # closes its pooled connections; no request is made


class SQSQueue:
    """One ``spec.sqs.<name>``: its client, its poll loop, and its counts."""

    def __init__(
        self,
        name: str,
        spec: SQSEventSource,
        adaptor: Adaptor,
        secrets: LocalSecrets | None,
        *,
        visibility_timeout: int = VISIBILITY_TIMEOUT,
    ) -> None:
        self.name = name
        self.spec = spec
        self.adaptor = adaptor
        self.secrets = secrets
        self.visibility_timeout = visibility_timeout
        self.received = 0  # messages received, redeliveries included
        self.deleted = 0
        self.kept = 0  # not deleted: the bus did not store it, or dlq kept a malformed one
        self.released = 0  # received by a poll abandoned at stop, made visible again

    def where(self) -> str:
        return f"eventsource/{self.adaptor.source_name}: spec.sqs.{self.name}"

    def _secret(self, field: str, selector: SecretKeySelector) -> str:
        if self.secrets is None:
            raise SpecError([f"{self.where()}.{field}: reading secrets needs a data directory"])
        try:
            return self.secrets.selected(selector)
        except SecretNotFound as exc:
            raise SpecError([f"{self.where()}.{field}: {exc}"]) from exc

    def session_kwargs(self) -> dict[str, Any]:
        """``boto3.Session`` arguments: the region and the credentials from secrets, if any."""
        kwargs: dict[str, Any] = {"region_name": self.spec.region}
        if self.spec.access_key is not None and self.spec.secret_key is not None:
            kwargs["aws_access_key_id"] = self._secret("accessKey", self.spec.access_key)
            kwargs["aws_secret_access_key"] = self._secret("secretKey", self.spec.secret_key)
            if self.spec.session_token is not None:
                kwargs["aws_session_token"] = self._secret("sessionToken", self.spec.session_token)
        return kwargs

    def receive_params(self, url: str) -> dict[str, Any]:
        return {
            "QueueUrl": url,
            "MaxNumberOfMessages": MAX_MESSAGES,
            "WaitTimeSeconds": wait_seconds(self.spec),
            "VisibilityTimeout": self.visibility_timeout,
            "MessageAttributeNames": ["All"],
            "MessageSystemAttributeNames": ["ApproximateReceiveCount"],
        }

    def connect(self) -> Connection:
        """A client for the queue and its URL (blocking calls: run in a thread)."""
        session = boto3.Session(**self.session_kwargs())
        renew_at = None
        if self.spec.role_arn:
            sts = session.client("sts")
            try:
                credentials = sts.assume_role(
                    RoleArn=self.spec.role_arn,
                    RoleSessionName=session_name(self.adaptor.source_name, self.name),
                )["Credentials"]
            except botocore.exceptions.ClientError as exc:
                raise SQSError(f"{self.where()}: assuming {self.spec.role_arn}: {exc}") from exc
            finally:
                sts.close()
            session = boto3.Session(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                region_name=self.spec.region,
            )
            renew_at = credentials["Expiration"] - RENEW_BEFORE
        config = botocore.config.Config(
            connect_timeout=10, read_timeout=wait_seconds(self.spec) + 30
        )
        client = session.client("sqs", endpoint_url=self.spec.endpoint or None, config=config)
        request: dict[str, Any] = {"QueueName": self.spec.queue}
        if self.spec.queue_account_id:
            request["QueueOwnerAWSAccountId"] = self.spec.queue_account_id
        try:
            url = client.get_queue_url(**request)["QueueUrl"]
        except Exception as exc:
            client.close()
            if not isinstance(exc, botocore.exceptions.ClientError):
                raise
            if _code(exc) in _QUEUE_MISSING:
                raise SQSError(f"{self.where()}: queue {self.spec.queue!r} does not exist") from exc
            raise SQSError(f"{self.where()}: GetQueueUrl {self.spec.queue!r}: {exc}") from exc
        return Connection(client, url, renew_at)

    async def run(self, stopping: asyncio.Event, ready: Callable[[], None]) -> None:
        """Poll until ``stopping`` is set; raises ``SQSError`` (restart) or ``SpecError``."""
        try:
            while not stopping.is_set():
                conn = await asyncio.to_thread(self.connect)
                log.info("%s: receiving from %s", self.where(), conn.url)
                ready()
                try:
                    await self._poll(conn, stopping)
                finally:
                    if not conn.abandoned:
                        conn.close()
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise SQSError(f"{self.where()}: {exc}") from exc

    async def _poll(self, conn: Connection, stopping: asyncio.Event) -> None:
        """Receive and handle batches until stopped or the credentials need renewing."""
        while conn.renew_at is None or datetime.now(UTC) < conn.renew_at:
            stopped, messages = await self._receive(conn, stopping)
            if stopped:
                return
            for index, message in enumerate(messages):
                if stopping.is_set():  # the rest come back at once, not after the timeout
                    rest = messages[index:]
                    await asyncio.to_thread(self._release, conn, rest)
                    return
                await self.handle(conn, message)

    async def _receive(
        self, conn: Connection, stopping: asyncio.Event
    ) -> tuple[bool, list[dict[str, Any]]]:
        """One long poll: (stopped, messages). On its own daemon thread rather than
        ``to_thread``, so a stop abandons it at once and nothing waits for it at exit."""
        loop = asyncio.get_running_loop()
        result: asyncio.Future[list[dict[str, Any]]] = loop.create_future()
        params = self.receive_params(conn.url)

        def hand_over(messages: list[dict[str, Any]], error: BaseException | None) -> None:
            if result.cancelled():  # abandoned by a stop
                threading.Thread(
                    target=self._release, args=(conn, messages, True), daemon=True
                ).start()
            elif error is not None:
                result.set_exception(error)
            else:
                result.set_result(messages)

        def poll() -> None:
            messages: list[dict[str, Any]] = []
            error: BaseException | None = None
            try:
                messages = conn.client.receive_message(**params).get("Messages", [])
            except Exception as exc:
                error = exc
            try:
                loop.call_soon_threadsafe(hand_over, messages, error)
            except RuntimeError:  # the loop is closed
                self._release(conn, messages, True)

        name = f"sqs-poll:{self.adaptor.source_name}:{self.name}"
        conn.abandoned = True  # until it is handed over
        threading.Thread(target=poll, name=name, daemon=True).start()
        stopped = await until(stopping, result)
        if not result.cancelled():
            conn.abandoned = False
        if stopped:
            if not result.cancelled() and result.exception() is None:
                await asyncio.to_thread(self._release, conn, result.result())
            return True, []
        return False, result.result()

    async def handle(self, conn: Connection, message: Mapping[str, Any]) -> None:
        """Dispatch one message; delete it once stored (or filtered out, or malformed
        without ``dlq``), keep it otherwise."""
        self.received += 1
        message_id = message["MessageId"]
        try:
            data = event_data(message, self.spec)
        except MalformedMessage as exc:
            if self.spec.dlq:
                self.kept += 1
                log.error(
                    "%s: message %s: %s; left in the queue for its dead-letter queue (dlq)",
                    self.where(),
                    message_id,
                    exc,
                )
                return
            log.error("%s: message %s: %s; deleted", self.where(), message_id, exc)
            await self._delete(conn, message)
            return
        try:
            upstream = self.adaptor.upstream_id(self.name, message_id)
            event_id = await self.adaptor.dispatch(self.name, EVENT_TYPE, data, event_id=upstream)
        except BusError as exc:
            self.kept += 1
            receives = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
            log.error(
                "%s: message %s (receive %s) not stored (%s); SQS delivers it again in %ds",
                self.where(),
                message_id,
                receives,
                exc,
                self.visibility_timeout,
            )
            return
        if event_id is None:
            log.debug("%s: message %s filtered out; deleted", self.where(), message_id)
        await self._delete(conn, message)

    async def _delete(self, conn: Connection, message: Mapping[str, Any]) -> None:
        try:
            await asyncio.to_thread(
                conn.client.delete_message,
                QueueUrl=conn.url,
                ReceiptHandle=message["ReceiptHandle"],
            )
        except botocore.exceptions.ClientError as exc:
            # delivered again after the visibility timeout; the bus drops the duplicate
            log.error("%s: deleting message %s: %s", self.where(), message["MessageId"], exc)
            if _code(exc) == "ExpiredToken":
                raise SQSError(f"{self.where()}: credentials expired: {exc}") from exc
            return
        self.deleted += 1

    def _release(
        self, conn: Connection, messages: list[dict[str, Any]], close: bool = False
    ) -> None:
        """Make messages visible again now (blocking; best effort: else after the timeout)."""
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(messages)
        ]
        try:
            if entries:
                conn.client.change_message_visibility_batch(QueueUrl=conn.url, Entries=entries)
                self.released += len(entries)
        except Exception as exc:
            log.warning("%s: could not release %d messages: %s", self.where(), len(entries), exc)
        finally:
            if close:
                conn.close()


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@register("sqs")
class SQSSource(ServiceSource):
    """Every ``spec.sqs`` event of one EventSource, each polling in a supervised service."""

    def __init__(
        self,
        event_source: EventSource,
        adaptor: Adaptor,
        *,
        secrets: LocalSecrets | None = None,
        clock: Clock | None = None,
        restart: RestartPolicy = RESTART,
        visibility_timeout: int = VISIBILITY_TIMEOUT,
    ) -> None:
        super().__init__(adaptor, clock=clock, policy=restart, grace=5.0)
        problems: list[str] = []
        self.queues: list[SQSQueue] = []
        for name, spec in sorted((event_source.spec.sqs or {}).items()):
            problems += spec_problems(f"eventsource/{adaptor.source_name}: spec.sqs.{name}", spec)
            queue = SQSQueue(name, spec, adaptor, secrets, visibility_timeout=visibility_timeout)
            self.queues.append(queue)
        if problems:
            raise SpecError(problems)

    @classmethod
    def from_context(
        cls, event_source: EventSource, adaptor: Adaptor, context: SourceContext
    ) -> SQSSource:
        return cls(event_source, adaptor, secrets=context.secrets, clock=context.clock)

    def services(self) -> list[tuple[str, Run]]:
        return [
            (self.service_name("sqs", queue.name), functools.partial(self._poll, queue))
            for queue in self.queues
        ]

    async def _poll(self, queue: SQSQueue, ready: Ready) -> None:
        """Poll until stopped: a long poll in flight is abandoned, a dispatch finishes."""
        await queue.run(self.stopping, ready)

    def counts(self) -> Mapping[str, dict[str, int]]:
        """Received, deleted, kept and released messages, by event."""
        return {
            q.name: {
                "received": q.received,
                "deleted": q.deleted,
                "kept": q.kept,
                "released": q.released,
            }
            for q in self.queues
        }


__all__ = [
    "EVENT_TYPE",
    "MalformedMessage",
    "SQSError",
    "SQSQueue",
    "SQSSource",
    "event_data",
    "message_attributes",
    "spec_problems",
]

"""The bus on NATS JetStream, through nats-py.

One stream per namespace (``SLUICE_<NAMESPACE>`` over ``events.<ns>.>``); publishes carry
``Nats-Msg-Id`` so a retried publish is stored once; consumers are durable pull consumers with
explicit acks; key-value buckets hold sensor state. Every nats-py error is turned into a
``BusError`` (or ``BusUnavailable`` when the server cannot be reached) at this boundary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.kv import KeyValue as NatsKeyValue

from eventbus.acks import AckedPublisher
from eventbus.base import Bus, KVEntry, MessageMetadata, PublishAck
from eventbus.errors import BusError, BusUnavailable, KeyConflict
from eventbus.streams import StreamSettings
from eventbus.subjects import (
    DEFAULT_PREFIX,
    LOG_PREFIX,
    check_consumer_name,
    escape_token,
    log_stream_name,
    namespace_subjects,
    stream_name,
    subject,
    unescape_token,
)

log = logging.getLogger(__name__)

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoServersError,
    nats.errors.NoRespondersError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.js.errors.ServiceUnavailableError,
    TimeoutError,
    OSError,
)


@contextlib.contextmanager
def _wrapped(action: str) -> Iterator[None]:
    """Re-raise nats-py's errors as the bus's own, saying what was being done."""
    try:
        yield
    except BusError:
        raise
    except _UNAVAILABLE as exc:
        raise BusUnavailable(f"{action}: the bus is unavailable ({_describe(exc)})") from exc
    except nats.errors.Error as exc:
        raise BusError(f"{action}: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


_KEY = re.compile(r"^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$")  # a key-value key, as nats-py checks
_HEADER_ALLOWANCE = 4096  # more than the headers sluice sends take


def _headers_size(headers: Mapping[str, str]) -> int:
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return len(f"NATS/1.0\r\n{lines}\r\n".encode())


class JetStreamMessage:
    """A delivered message (implements ``eventbus.base.Message``)."""

    def __init__(self, msg: Msg) -> None:
        self._msg = msg

    @property
    def data(self) -> bytes:
        return self._msg.data

    @property
    def headers(self) -> Mapping[str, str]:
        return dict(self._msg.headers or {})

    @property
    def subject(self) -> str:
        return self._msg.subject

    @property
    def metadata(self) -> MessageMetadata:
        meta = self._msg.metadata
        return MessageMetadata(
            stream_seq=meta.sequence.stream,
            consumer_seq=meta.sequence.consumer,
            num_delivered=meta.num_delivered,
            num_pending=meta.num_pending,
        )

    async def ack(self, *, confirm: bool = False) -> None:
        """Acknowledge; with ``confirm``, wait for the server to confirm it.

        Unconfirmed acks are what nats-py and Argo use: a lost one means a redelivery, which
        consumers must handle anyway. Confirming costs a round trip per message.
        """
        with _wrapped(f"ack {self.subject}"):
            if confirm:
                await self._msg.ack_sync()
            else:
                await self._msg.ack()

    async def nak(self, delay: float | None = None) -> None:
        with _wrapped(f"nak {self.subject}"):
            await self._msg.nak(delay=delay)

    async def in_progress(self) -> None:
        with _wrapped(f"in-progress {self.subject}"):
            await self._msg.in_progress()

    async def term(self) -> None:
        with _wrapped(f"term {self.subject}"):
            await self._msg.term()


class JetStreamConsumer:
    """A durable pull consumer (implements ``eventbus.base.Consumer``)."""

    def __init__(self, sub: JetStreamContext.PullSubscription, durable: str, batch: int) -> None:
        self._sub = sub
        self.durable = durable
        self.batch = batch

    async def fetch(self, n: int | None = None, timeout: float = 5.0) -> list[JetStreamMessage]:
        """Up to ``n`` (default: the batch size) messages; ``[]`` when none came in time."""
        try:
            with _wrapped(f"fetch from {self.durable}"):
                msgs = await self._sub.fetch(batch=n or self.batch, timeout=timeout)
        except BusUnavailable as exc:
            if isinstance(exc.__cause__, TimeoutError):
                return []
            raise
        return [JetStreamMessage(m) for m in msgs]

    async def close(self) -> None:
        with _wrapped(f"close consumer {self.durable}"):
            await self._sub.unsubscribe()


class JetStreamKeyValue:
    """A key-value bucket (implements ``eventbus.base.KeyValue``)."""

    def __init__(self, kv: NatsKeyValue, bucket: str, acks: AckedPublisher) -> None:
        self._kv = kv
        self.bucket = bucket
        self._acks = acks

    async def entry(self, key: str) -> KVEntry | None:
        """The value and revision of ``key``, or None if it has none."""
        try:
            with _wrapped(f"get {self.bucket}/{key}"):
                found = await self._kv.get(key)
        except BusError as exc:
            if isinstance(exc.__cause__, nats.js.errors.NotFoundError):
                return None
            raise
        return KVEntry(value=found.value or b"", revision=found.revision or 0)

    async def get(self, key: str) -> bytes | None:
        found = await self.entry(key)
        return None if found is None else found.value

    async def put(self, key: str, value: bytes) -> int:
        if not _KEY.match(key):
            raise BusError(f"put {self.bucket}/{key}: not a valid key")
        with _wrapped(f"put {self.bucket}/{key}"):  # the lighter path: sensors put per event
            return (await self._acks.publish(f"$KV.{self.bucket}.{key}", value)).seq

    async def create(self, key: str, value: bytes) -> int:
        """Write ``key`` only if it has no value; else ``KeyConflict``."""
        try:
            with _wrapped(f"create {self.bucket}/{key}"):
                return await self._kv.create(key, value)
        except BusError as exc:
            if isinstance(exc.__cause__, nats.js.errors.KeyWrongLastSequenceError):
                raise KeyConflict(f"create {self.bucket}/{key}: the key exists") from exc
            raise

    async def update(self, key: str, value: bytes, last_revision: int) -> int:
        """Write ``key`` only if its revision is still ``last_revision``; else ``KeyConflict``."""
        try:
            with _wrapped(f"update {self.bucket}/{key}"):
                return await self._kv.update(key, value, last=last_revision)
        except BusError as exc:
            if isinstance(exc.__cause__, nats.js.errors.KeyWrongLastSequenceError):
                raise KeyConflict(
                    f"update {self.bucket}/{key}: changed since revision {last_revision}"
                ) from exc
            raise

    async def delete(self, key: str) -> None:
        with _wrapped(f"delete {self.bucket}/{key}"):
            await self._kv.delete(key)

    async def keys(self) -> list[str]:
        try:
            with _wrapped(f"list keys of {self.bucket}"):
                return list(await self._kv.keys())
        except BusError as exc:
            if isinstance(exc.__cause__, nats.js.errors.NoKeysError):
                return []
            raise


class JetStreamBus:
    """The event bus on a NATS JetStream server (implements ``eventbus.base.Bus``)."""

    def __init__(
        self,
        *,
        prefix: str = DEFAULT_PREFIX,
        publish_timeout: float = 5.0,
        connect_timeout: float = 10.0,
        reconnect_wait: float = 0.5,
        name: str = "sluice",
    ) -> None:
        self.prefix = prefix
        self.publish_timeout = publish_timeout
        self.connect_timeout = connect_timeout
        self.reconnect_wait = reconnect_wait
        self.name = name
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._acks: AckedPublisher | None = None

    async def connect(self, url: str) -> None:
        """Connect; reconnects after a lost connection happen by themselves, forever."""
        nc = Client()
        try:
            await asyncio.wait_for(
                nc.connect(
                    url,
                    name=self.name,
                    connect_timeout=2,
                    reconnect_time_wait=self.reconnect_wait,  # type: ignore[arg-type]
                    max_reconnect_attempts=-1,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                ),
                timeout=self.connect_timeout,
            )
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            await nc.close()
            raise BusUnavailable(f"cannot connect to the bus at {url}: {_describe(exc)}") from exc
        acks = AckedPublisher(nc, self.publish_timeout)
        with _wrapped("subscribe to publish acks"):
            await acks.start()
        self._nc, self._js, self._acks = nc, nc.jetstream(timeout=self.publish_timeout), acks

    async def close(self) -> None:
        """Close the connection; durable consumers and streams stay on the server."""
        nc, acks, self._nc, self._js, self._acks = self._nc, self._acks, None, None, None
        if acks is not None and nc is not None and not nc.is_closed:
            with _wrapped("stop waiting for publish acks"):
                await acks.close()
        if nc is not None and not nc.is_closed:
            with _wrapped("close the bus connection"):
                await nc.close()

    @property
    def max_payload(self) -> int:
        """The largest message (payload and headers) the server accepts, in bytes."""
        return self._client().max_payload

    def subject(self, namespace: str, event_source: str, event_name: str) -> str:
        """``<prefix>.<ns>.<src>.<event>``, each name escaped into one token."""
        return subject(namespace, event_source, event_name, prefix=self.prefix)

    async def ensure_stream(
        self, namespace: str, stream_config: dict[str, Any] | None = None
    ) -> None:
        """Create or update the namespace's stream with Argo's streamConfig settings."""
        settings = StreamSettings.from_config(stream_config)
        subjects = [namespace_subjects(namespace, prefix=self.prefix)]
        config = settings.stream_config(stream_name(namespace), subjects)
        js = self._jetstream()
        with _wrapped(f"create the stream {config.name}"):
            try:
                await js.add_stream(config)
            except nats.js.errors.BadRequestError:
                await js.update_stream(config)

    async def publish(
        self,
        subject: str,
        payload: bytes,
        msg_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> PublishAck:
        """Publish and return once JetStream has stored it (or found it a duplicate)."""
        all_headers = {**(headers or {}), "Nats-Msg-Id": msg_id}
        limit = self.max_payload
        # the exact size (header text encoded) only when the payload comes near the limit
        if len(payload) + _HEADER_ALLOWANCE > limit:
            size = len(payload) + _headers_size(all_headers)
            if size > limit:
                raise BusError(
                    f"event of {size} bytes exceeds the bus's max payload of {limit} bytes"
                )
        if self._acks is None:
            raise BusUnavailable("the bus is not connected")
        try:
            return await self._acks.publish(subject, payload, all_headers)
        except BusError as exc:
            raise type(exc)(f"publish to {subject}: {exc}") from exc
        except Exception as exc:  # the hot path: no context manager, same mapping
            with _wrapped(f"publish to {subject}"):
                raise exc from None

    async def subscribe(
        self,
        subject: str,
        durable: str,
        *,
        batch: int = 100,
        ack_wait: float = 30,
        deliver_new: bool = False,
        max_ack_pending: int = 1000,
    ) -> JetStreamConsumer:
        """Bind to (creating if needed) the durable pull consumer ``durable`` on ``subject``.

        A new consumer starts with the oldest stored message, or with ``deliver_new`` with the
        next one published (as a new Argo sensor does). The consumer's settings apply when it
        is created; an existing one keeps its own, and its position.
        """
        check_consumer_name(durable)
        stream = self._stream_of(subject)
        config = api.ConsumerConfig(
            durable_name=durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.NEW if deliver_new else api.DeliverPolicy.ALL,
            ack_wait=ack_wait,
            max_ack_pending=max_ack_pending,
            filter_subject=subject,
        )
        with _wrapped(f"subscribe {durable} to {subject}"):
            sub = await self._jetstream().pull_subscribe(
                subject, durable=durable, stream=stream, config=config
            )
        return JetStreamConsumer(sub, durable, batch)

    async def read(
        self, subject: str, *, follow: bool = False, batch: int = 256, wait: float = 1.0
    ) -> AsyncIterator[JetStreamMessage]:
        """The messages stored on ``subject`` (wildcards allowed), oldest first, unacked.

        An ephemeral consumer reads without acking, so durable consumers are not disturbed.
        Without ``follow`` it ends after the last stored message; with it, it goes on with new
        ones until the caller stops iterating.
        """
        stream = self._stream_of(subject)
        config = api.ConsumerConfig(
            ack_policy=api.AckPolicy.NONE,
            deliver_policy=api.DeliverPolicy.ALL,
            filter_subject=subject,
            inactive_threshold=60.0,
        )
        while True:
            try:
                with _wrapped(f"read {subject}"):
                    sub = await self._jetstream().pull_subscribe(
                        subject, stream=stream, config=config
                    )
                break
            except BusError as exc:
                if not isinstance(exc.__cause__, nats.js.errors.NotFoundError):
                    raise
                if not follow:
                    return  # no stream yet: nothing was ever published there
                await asyncio.sleep(wait)
        try:
            while True:
                try:
                    with _wrapped(f"read {subject}"):
                        msgs = await sub.fetch(batch=batch, timeout=wait)
                except BusUnavailable as exc:
                    if not isinstance(exc.__cause__, TimeoutError):
                        raise
                    msgs = []
                for msg in msgs:
                    yield JetStreamMessage(msg)
                if not follow and (not msgs or msgs[-1].metadata.num_pending == 0):
                    return
        finally:
            with contextlib.suppress(nats.errors.Error, BusError):
                await sub.unsubscribe()

    async def delete_consumer(self, subject: str, durable: str) -> None:
        """Delete a durable consumer (its position is lost); nothing if it does not exist."""
        check_consumer_name(durable)
        with (
            _wrapped(f"delete the consumer {durable}"),
            contextlib.suppress(nats.js.errors.NotFoundError),
        ):
            await self._jetstream().delete_consumer(self._stream_of(subject), durable)

    async def ensure_log(self, name: str, *, max_msgs: int, max_age: float) -> None:
        """A bounded stream of records (``log_subject(name, ...)``), oldest dropped first."""
        config = api.StreamConfig(
            name=log_stream_name(name),
            subjects=[f"{LOG_PREFIX}.{escape_token(name)}.>"],
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            max_msgs=max_msgs,
            max_age=max_age,
            discard=api.DiscardPolicy.OLD,
        )
        js = self._jetstream()
        with _wrapped(f"create the log {name}"):
            try:
                await js.add_stream(config)
            except nats.js.errors.BadRequestError:
                await js.update_stream(config)

    def log_subject(self, name: str, *tokens: str) -> str:
        """The subject of one record in the log ``name``; tokens are escaped, ``*`` kept."""
        escaped = (t if t in ("*", ">") else escape_token(t) for t in tokens)
        return ".".join((LOG_PREFIX, escape_token(name), *escaped))

    async def append_log(self, subject: str, payload: bytes) -> None:
        """Add a record without waiting for the server's ack: records are diagnostics."""
        with _wrapped(f"append to {subject}"):
            await self._client().publish(subject, payload)

    def _stream_of(self, subject: str) -> str:
        tokens = subject.split(".")
        if tokens[0] == LOG_PREFIX and len(tokens) >= 3:
            return log_stream_name(unescape_token(tokens[1]))
        if len(tokens) < 3 or tokens[0] != self.prefix or tokens[1] in ("*", ">"):
            raise BusError(f"{subject!r} names no namespace under {self.prefix!r}")
        return stream_name(unescape_token(tokens[1]))

    async def kv(self, bucket: str, *, ttl: float | None = None) -> JetStreamKeyValue:
        """The key-value bucket ``bucket``, created on first use; ``ttl`` expires old keys."""
        js = self._jetstream()
        with _wrapped(f"open the key-value bucket {bucket}"):
            try:
                found = await js.key_value(bucket)
            except nats.js.errors.BucketNotFoundError:
                found = await js.create_key_value(bucket=bucket, history=1, ttl=ttl)
        assert self._acks is not None  # connected, as _jetstream() checked
        return JetStreamKeyValue(found, bucket, self._acks)

    async def stream_message_count(self, namespace: str) -> int:
        """How many messages the namespace's stream holds."""
        with _wrapped(f"read the stream of {namespace}"):
            info = await self._jetstream().stream_info(stream_name(namespace))
        return int(info.state.messages)

    def _client(self) -> Client:
        if self._nc is None:
            raise BusUnavailable("the bus is not connected")
        return self._nc

    def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise BusUnavailable("the bus is not connected")
        return self._js

    async def _on_error(self, exc: Exception) -> None:
        log.warning("bus connection: %s", _describe(exc))

    async def _on_disconnected(self) -> None:
        if self._nc is not None:  # not when close() let go of the connection
            log.warning("bus disconnected; reconnecting")

    async def _on_reconnected(self) -> None:
        log.info("bus reconnected")


if TYPE_CHECKING:
    _bus_conforms: Bus = JetStreamBus()

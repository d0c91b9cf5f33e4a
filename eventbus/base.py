"""The bus as sources and sensors see it: publish with an ack, durable consumers, a KV store.

``JetStreamBus`` implements it on NATS JetStream; code above the bus depends on these
Protocols only, and on the errors in ``eventbus.errors``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class PublishAck:
    """The bus stored a message: its stream, its sequence, and whether it was a duplicate."""

    stream: str
    seq: int
    duplicate: bool


@dataclass(frozen=True)
class MessageMetadata:
    """Where a delivered message sits in its stream and how often it was delivered."""

    stream_seq: int
    consumer_seq: int
    num_delivered: int
    num_pending: int


class Message(Protocol):
    """One delivered message; it is redelivered until acked or terminated."""

    @property
    def data(self) -> bytes: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def subject(self) -> str: ...
    @property
    def metadata(self) -> MessageMetadata: ...

    async def ack(self, *, confirm: bool = False) -> None:
        """Done with it: never deliver it again. With ``confirm``, wait until the server
        recorded it; without, a lost ack means one more delivery."""

    async def nak(self, delay: float | None = None) -> None:
        """Not done: deliver it again, after ``delay`` seconds if given."""

    async def in_progress(self) -> None:
        """Still working on it: restart the ack wait."""

    async def term(self) -> None:
        """Never deliver it again, without it having been handled."""


class Consumer(Protocol):
    """A durable pull consumer: resumes after the last ack, across reconnects and restarts."""

    async def fetch(self, n: int | None = None, timeout: float = 5.0) -> Sequence[Message]:
        """Up to ``n`` (default: the batch size) messages within ``timeout`` seconds, or ``[]``."""

    async def close(self) -> None:
        """Stop receiving; the durable consumer stays on the server."""


@dataclass(frozen=True)
class KVEntry:
    """A key's value and the revision to pass to ``update`` for a compare-and-set."""

    value: bytes
    revision: int


class KeyValue(Protocol):
    """A key-value bucket with revisions, for state that must survive a restart."""

    async def get(self, key: str) -> bytes | None: ...
    async def entry(self, key: str) -> KVEntry | None: ...
    async def put(self, key: str, value: bytes) -> int: ...
    async def create(self, key: str, value: bytes) -> int: ...
    async def update(self, key: str, value: bytes, last_revision: int) -> int: ...
    async def delete(self, key: str) -> None: ...
    async def keys(self) -> list[str]: ...


class Bus(Protocol):
    """The event bus."""

    def subject(self, namespace: str, event_source: str, event_name: str) -> str: ...

    async def ensure_stream(
        self, namespace: str, stream_config: dict[str, Any] | None = None
    ) -> None: ...

    async def publish(
        self,
        subject: str,
        payload: bytes,
        msg_id: str,
        headers: Mapping[str, str] | None = None,
    ) -> PublishAck: ...

    async def subscribe(
        self,
        subject: str,
        durable: str,
        *,
        batch: int = 100,
        ack_wait: float = 30,
        deliver_new: bool = False,
        max_ack_pending: int = 1000,
    ) -> Consumer: ...

    async def delete_consumer(self, subject: str, durable: str) -> None: ...

    def read(
        self, subject: str, *, follow: bool = False, batch: int = 256, wait: float = 1.0
    ) -> AsyncIterator[Message]:
        """Stored messages on ``subject``, oldest first, unacked; then new ones if ``follow``."""
        ...

    async def kv(self, bucket: str, *, ttl: float | None = None) -> KeyValue: ...

    async def ensure_log(self, name: str, *, max_msgs: int, max_age: float) -> None: ...

    def log_subject(self, name: str, *tokens: str) -> str: ...

    async def append_log(self, subject: str, payload: bytes) -> None: ...

    async def close(self) -> None: ...

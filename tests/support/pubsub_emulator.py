"""An in-process Google Cloud Pub/Sub server, so tests can use the real client over real gRPC.

The ``pubSub`` event source must be tested against google-cloud-pubsub itself (its streaming pull
manager, lease extension, batching, retries), but Google's emulator is a Java program from the
gcloud SDK and cannot be installed here. This module serves the Publisher and Subscriber RPCs
that the client uses on a free loopback port; point the client at it with
``PUBSUB_EMULATOR_HOST``. Messages follow the service's at-least-once contract: a delivery that
is not acknowledged before its ack deadline, or that is nacked (deadline 0), is delivered again
with ``delivery_attempt`` incremented.

Served: CreateTopic, GetTopic, DeleteTopic, Publish; CreateSubscription, GetSubscription,
DeleteSubscription, Pull, StreamingPull, Acknowledge, ModifyAckDeadline. Every other RPC answers
UNIMPLEMENTED. Not modelled: exactly-once delivery, filters, dead-letter topics, push and export
subscriptions, retention, snapshots/Seek, schemas. ``ordering_key`` is passed through but not
enforced. ``delivery_attempt`` is always set, where the service sets it only with a dead-letter
policy.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import grpc
import pytest
from google.protobuf.empty_pb2 import Empty as _Empty
from google.pubsub_v1 import types
from grpc import ServicerContext as _Ctx

_TOPIC_NAME = re.compile(r"projects/[^/]+/topics/[^/]+")
_SUBSCRIPTION_NAME = re.compile(r"projects/[^/]+/subscriptions/[^/]+")
_DELETED_TOPIC = "_deleted-topic_"
# How long a waiting handler sleeps before it looks again for expired leases and shutdown.
_POLL = 0.05
_STREAM_BATCH = 1000


class _RpcError(Exception):
    """Raised by the handlers' logic; the wrappers turn it into a gRPC status."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


@dataclass
class _Subscription:
    spec: types.Subscription
    # Messages waiting for delivery, with how many times each was delivered before.
    backlog: deque[tuple[types.PubsubMessage, int]] = field(default_factory=deque)
    acked: list[str] = field(default_factory=list)


@dataclass
class _Lease:
    subscription: str
    message: types.PubsubMessage
    attempt: int
    expires: float
    stream: int | None


@dataclass
class _Stream:
    id: int
    subscription: str
    ack_deadline: float
    max_messages: int
    closed: threading.Event = field(default_factory=threading.Event)


class PubSubEmulator:
    """A Pub/Sub Publisher + Subscriber gRPC server on ``127.0.0.1`` and a free port.

    ``ack_deadline_cap`` shortens every ack deadline (subscription, stream, ModifyAckDeadline) to
    at most that many seconds, so redelivery can be tested without waiting the API's 10 s
    minimum. ``pull_wait`` is how long a Pull without messages waits before answering empty.
    """

    def __init__(
        self, *, ack_deadline_cap: float | None = None, pull_wait: float = 0.5, workers: int = 32
    ) -> None:
        self.ack_deadline_cap = ack_deadline_cap
        self.pull_wait = pull_wait
        self.host = ""
        # Every thread the emulator starts is named after it, so a test can tell them apart.
        self.name = f"pubsub-emulator-{id(self):x}"
        self._workers = workers
        self._cond = threading.Condition()
        self._topics: dict[str, types.Topic] = {}
        self._published: dict[str, list[types.PubsubMessage]] = {}
        self._subscriptions: dict[str, _Subscription] = {}
        self._leases: dict[str, _Lease] = {}
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._readers: list[threading.Thread] = []
        self._server: grpc.Server | None = None
        self._pool: ThreadPoolExecutor | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> str:
        """Start serving; return ``"127.0.0.1:PORT"`` for ``PUBSUB_EMULATOR_HOST``."""
        if self._server is not None:
            raise RuntimeError("the Pub/Sub emulator is already running")
        self._stopping.clear()
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix=self.name)
        self._server = grpc.server(self._pool, handlers=self._handlers())
        port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        self.host = f"127.0.0.1:{port}"
        return self.host

    def stop(self) -> None:
        """Cancel every open RPC and wait for the server's threads to end."""
        server, pool = self._server, self._pool
        if server is None or pool is None:
            return
        self._server = self._pool = None
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        server.stop(grace=None).wait(5)
        for reader in self._readers:
            reader.join(5)
        self._readers.clear()
        pool.shutdown(wait=True)

    def __enter__(self) -> PubSubEmulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- helpers for tests ---------------------------------------------------------------------

    def published(self, topic: str) -> list[types.PubsubMessage]:
        """Every message published to ``topic`` so far, in order, with ids and publish times."""
        with self._cond:
            return list(self._published.get(topic, []))

    def acked(self, subscription: str) -> list[str]:
        """The message ids acknowledged on ``subscription``, in the order the acks arrived."""
        with self._cond:
            sub = self._subscriptions.get(subscription)
            return list(sub.acked) if sub else []

    def backlog(self, subscription: str) -> int:
        """How many messages on ``subscription`` are not acknowledged (waiting or leased)."""
        with self._cond:
            sub = self._subscriptions.get(subscription)
            leased = sum(1 for lease in self._leases.values() if lease.subscription == subscription)
            return len(sub.backlog) + leased if sub else 0

    def reset(self) -> None:
        """Forget every topic, subscription, message and lease."""
        with self._cond:
            for store in (self._topics, self._published, self._subscriptions, self._leases):
                store.clear()
            self._cond.notify_all()

    # -- gRPC wiring ---------------------------------------------------------------------------

    def _handlers(self) -> list[grpc.GenericRpcHandler]:
        empty = _Empty.SerializeToString

        def unary(fn: Callable[[Any, _Ctx], Any], request: Any, reply: Any) -> Any:
            def handle(message: Any, context: _Ctx) -> Any:
                try:
                    return fn(message, context)
                except _RpcError as exc:
                    context.abort(exc.code, exc.details)

            reply_serializer = reply if reply is empty else reply.serialize
            return grpc.unary_unary_rpc_method_handler(
                handle,
                request_deserializer=request.deserialize,
                response_serializer=reply_serializer,
            )

        publisher = {
            "CreateTopic": unary(self._create_topic, types.Topic, types.Topic),
            "GetTopic": unary(self._get_topic, types.GetTopicRequest, types.Topic),
            "DeleteTopic": unary(self._delete_topic, types.DeleteTopicRequest, empty),
            "Publish": unary(self._publish, types.PublishRequest, types.PublishResponse),
        }
        subscriber = {
            "CreateSubscription": unary(
                self._create_subscription, types.Subscription, types.Subscription
            ),
            "GetSubscription": unary(
                self._get_subscription, types.GetSubscriptionRequest, types.Subscription
            ),
            "DeleteSubscription": unary(
                self._delete_subscription, types.DeleteSubscriptionRequest, empty
            ),
            "Pull": unary(self._pull, types.PullRequest, types.PullResponse),
            "Acknowledge": unary(self._acknowledge, types.AcknowledgeRequest, empty),
            "ModifyAckDeadline": unary(
                self._modify_ack_deadline, types.ModifyAckDeadlineRequest, empty
            ),
            "StreamingPull": grpc.stream_stream_rpc_method_handler(
                self._streaming_pull,
                request_deserializer=types.StreamingPullRequest.deserialize,
                response_serializer=types.StreamingPullResponse.serialize,
            ),
        }
        return [
            grpc.method_handlers_generic_handler("google.pubsub.v1.Publisher", publisher),
            grpc.method_handlers_generic_handler("google.pubsub.v1.Subscriber", subscriber),
        ]

    # -- Publisher -----------------------------------------------------------------------------

    def _create_topic(self, topic: types.Topic, _: _Ctx) -> types.Topic:
        _check_name(_TOPIC_NAME, topic.name, "topic")
        with self._cond:
            if topic.name in self._topics:
                raise _RpcError(grpc.StatusCode.ALREADY_EXISTS, "Topic already exists")
            self._topics[topic.name] = topic
            self._published.setdefault(topic.name, [])
        return topic

    def _get_topic(self, req: types.GetTopicRequest, _: _Ctx) -> types.Topic:
        with self._cond:
            return self._topic(req.topic)

    def _delete_topic(self, req: types.DeleteTopicRequest, _: _Ctx) -> _Empty:
        with self._cond:
            self._topic(req.topic)
            del self._topics[req.topic]
            # As in the service: the subscriptions live on, detached from any topic.
            for sub in self._subscriptions.values():
                if sub.spec.topic == req.topic:
                    sub.spec.topic = _DELETED_TOPIC
        return _Empty()

    def _publish(self, req: types.PublishRequest, _: _Ctx) -> types.PublishResponse:
        if not req.messages:
            raise _invalid("No messages to publish")
        if any(not m.data and not m.attributes for m in req.messages):
            raise _invalid("A message has no data or attributes")
        now = datetime.now(UTC)
        ids: list[str] = []
        with self._cond:
            self._topic(req.topic)
            targets = [s for s in self._subscriptions.values() if s.spec.topic == req.topic]
            for sent in req.messages:
                message = types.PubsubMessage(
                    data=sent.data,
                    attributes=dict(sent.attributes),
                    ordering_key=sent.ordering_key,
                    message_id=str(next(self._ids)),
                    publish_time=now,
                )
                self._published[req.topic].append(message)
                for sub in targets:
                    sub.backlog.append((message, 0))
                ids.append(message.message_id)
            self._cond.notify_all()
        return types.PublishResponse(message_ids=ids)

    # -- Subscriber ----------------------------------------------------------------------------

    def _create_subscription(self, spec: types.Subscription, _: _Ctx) -> types.Subscription:
        _check_name(_SUBSCRIPTION_NAME, spec.name, "subscription")
        spec.ack_deadline_seconds = spec.ack_deadline_seconds or 10
        if not 10 <= spec.ack_deadline_seconds <= 600:
            raise _invalid("ack_deadline_seconds must be in [10, 600]")
        with self._cond:
            if spec.name in self._subscriptions:
                raise _RpcError(grpc.StatusCode.ALREADY_EXISTS, "Subscription already exists")
            self._topic(spec.topic)
            self._subscriptions[spec.name] = _Subscription(spec)
        return spec

    def _get_subscription(self, req: types.GetSubscriptionRequest, _: _Ctx) -> types.Subscription:
        with self._cond:
            spec = self._subscription(req.subscription).spec
            # A copy: DeleteTopic may change the stored one while this answer is serialized.
            return types.Subscription.deserialize(types.Subscription.serialize(spec))

    def _delete_subscription(self, req: types.DeleteSubscriptionRequest, _: _Ctx) -> _Empty:
        with self._cond:
            self._subscription(req.subscription)
            del self._subscriptions[req.subscription]
            for ack_id, lease in list(self._leases.items()):
                if lease.subscription == req.subscription:
                    del self._leases[ack_id]
            self._cond.notify_all()
        return _Empty()

    def _pull(self, req: types.PullRequest, context: _Ctx) -> types.PullResponse:
        if req.max_messages <= 0:
            raise _invalid("max_messages must be positive")
        remaining = context.time_remaining()
        wait = 0.0 if req.return_immediately else self.pull_wait
        if remaining is not None:
            wait = max(0.0, min(wait, remaining - 0.1))
        received = self._take(req.subscription, None, req.max_messages, wait)
        return types.PullResponse(received_messages=received)

    def _acknowledge(self, req: types.AcknowledgeRequest, _: _Ctx) -> _Empty:
        with self._cond:
            self._subscription(req.subscription)
            self._settle(req.ack_ids, ())
        return _Empty()

    def _modify_ack_deadline(self, req: types.ModifyAckDeadlineRequest, _: _Ctx) -> _Empty:
        if not 0 <= req.ack_deadline_seconds <= 600:
            raise _invalid("ack_deadline_seconds must be in [0, 600]")
        with self._cond:
            self._subscription(req.subscription)
            seconds = req.ack_deadline_seconds
            self._settle((), ((ack_id, seconds) for ack_id in req.ack_ids))
        return _Empty()

    def _streaming_pull(
        self, requests: Iterator[types.StreamingPullRequest], context: _Ctx
    ) -> Iterator[types.StreamingPullResponse]:
        first = next(requests, None)
        if first is None:
            return
        try:
            if not 10 <= first.stream_ack_deadline_seconds <= 600:
                raise _invalid("stream_ack_deadline_seconds must be in [10, 600]")
            with self._cond:
                self._subscription(first.subscription)
            stream = _Stream(
                next(self._ids),
                first.subscription,
                first.stream_ack_deadline_seconds,
                first.max_outstanding_messages,
            )
            self._apply_stream_request(first, stream)
            context.add_callback(stream.closed.set)
            # The client's acks, modacks and heartbeats arrive while we send, so read them apart.
            reader = threading.Thread(
                target=self._read_stream,
                args=(requests, stream),
                name=f"{self.name}-stream-{stream.id}",
                daemon=True,
            )
            with self._cond:
                self._readers = [t for t in self._readers if t.is_alive()] + [reader]
            reader.start()
            while not stream.closed.is_set() and not self._stopping.is_set():
                received = self._take(stream.subscription, stream, _STREAM_BATCH, 4 * _POLL)
                if received:
                    yield types.StreamingPullResponse(received_messages=received)
        except _RpcError as exc:
            context.abort(exc.code, exc.details)

    def _read_stream(self, requests: Iterator[types.StreamingPullRequest], stream: _Stream) -> None:
        try:
            for req in requests:
                self._apply_stream_request(req, stream)
        except grpc.RpcError:
            pass  # the client cancelled the stream or the server is stopping
        finally:
            stream.closed.set()

    def _apply_stream_request(self, req: types.StreamingPullRequest, stream: _Stream) -> None:
        with self._cond:
            if req.stream_ack_deadline_seconds:
                stream.ack_deadline = req.stream_ack_deadline_seconds
            modacks = zip(req.modify_deadline_ack_ids, req.modify_deadline_seconds, strict=False)
            self._settle(req.ack_ids, modacks)

    # -- state (call with self._cond held) -----------------------------------------------------

    def _topic(self, name: str) -> types.Topic:
        topic = self._topics.get(name)
        if topic is None:
            raise _RpcError(grpc.StatusCode.NOT_FOUND, f"Topic not found: {name}")
        return topic

    def _subscription(self, name: str) -> _Subscription:
        sub = self._subscriptions.get(name)
        if sub is None:
            raise _RpcError(grpc.StatusCode.NOT_FOUND, f"Subscription does not exist: {name}")
        return sub

    def _take(
        self, name: str, stream: _Stream | None, limit: int, wait: float
    ) -> list[types.ReceivedMessage]:
        """Lease up to ``limit`` messages of ``name``, waiting up to ``wait`` s for the first."""
        until = time.monotonic() + wait
        with self._cond:
            while True:
                self._expire()
                sub = self._subscription(name)
                room = self._room(stream, limit)
                if sub.backlog and room > 0:
                    break
                left = until - time.monotonic()
                if left <= 0 or self._stopping.is_set() or (stream and stream.closed.is_set()):
                    return []
                self._cond.wait(min(left, _POLL))
            seconds = stream.ack_deadline if stream else sub.spec.ack_deadline_seconds
            expires = time.monotonic() + self._capped(seconds)
            received: list[types.ReceivedMessage] = []
            while sub.backlog and len(received) < room:
                message, deliveries = sub.backlog.popleft()
                ack_id = f"{name}/ack/{next(self._ids)}"
                owner = stream.id if stream else None
                lease = _Lease(name, message, deliveries + 1, expires, owner)
                self._leases[ack_id] = lease
                received.append(
                    types.ReceivedMessage(
                        ack_id=ack_id, message=message, delivery_attempt=lease.attempt
                    )
                )
            return received

    def _room(self, stream: _Stream | None, limit: int) -> int:
        if stream is None or stream.max_messages <= 0:
            return limit
        leased = sum(1 for lease in self._leases.values() if lease.stream == stream.id)
        return min(limit, stream.max_messages - leased)

    def _settle(self, acks: Iterable[str], modacks: Iterable[tuple[str, int]]) -> None:
        for ack_id in acks:
            lease = self._leases.pop(ack_id, None)
            sub = lease and self._subscriptions.get(lease.subscription)
            if lease and sub:
                sub.acked.append(lease.message.message_id)
        now = time.monotonic()
        for ack_id, seconds in modacks:
            lease = self._leases.get(ack_id)
            if lease is None:
                continue  # already acked, expired or redelivered: the service ignores it too
            lease.expires = now + self._capped(seconds) if seconds > 0 else now
        self._expire()

    def _expire(self) -> None:
        """Put every lease whose deadline passed back in its subscription's backlog."""
        now = time.monotonic()
        expired = [
            (ack_id, lease) for ack_id, lease in self._leases.items() if lease.expires <= now
        ]
        for ack_id, lease in expired:
            del self._leases[ack_id]
            sub = self._subscriptions.get(lease.subscription)
            if sub is not None:
                sub.backlog.append((lease.message, lease.attempt))
        if expired:
            self._cond.notify_all()

    def _capped(self, seconds: float) -> float:
        cap = self.ack_deadline_cap
        return seconds if cap is None else min(seconds, cap)


def _invalid(details: str) -> _RpcError:
    return _RpcError(grpc.StatusCode.INVALID_ARGUMENT, details)


def _check_name(pattern: re.Pattern[str], name: str, kind: str) -> None:
    if not pattern.fullmatch(name):
        raise _invalid(f"Invalid {kind} name: {name!r}")


@pytest.fixture(scope="session")
def pubsub_emulator() -> Iterator[PubSubEmulator]:
    """A running emulator; a test points the client at it with
    ``monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.host)``."""
    with PubSubEmulator() as emulator:
        yield emulator

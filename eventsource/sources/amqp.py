"""The ``amqp`` event source: messages of a RabbitMQ (AMQP 0-9-1) queue become events.

As Argo Events' ``amqp`` source:

* it connects to ``url`` (or the URL in ``urlSecret``), with ``auth`` (PLAIN user and password
  from secrets, in place of the URL's) and ``tls``; declares the exchange ``exchangeName`` of
  ``exchangeType`` (``exchangeDeclare``: durable by default), declares the queue
  (``queueDeclare``: default a server-named, exclusive, non-durable queue; ``arguments`` is a
  YAML table such as ``"x-queue-type: quorum"``), binds it with ``routingKey`` and consumes it
  (``consume.consumerTag``, ``consume.exclusive``);
* the event data is ``{contentType, contentEncoding, deliveryMode, priority, correlationId,
  replyTo, expiration, messageId, timestamp, type, appId, exchange, routingKey, body,
  metadata}``: absent properties are ``""`` or ``0``, ``timestamp`` is Go's
  ``time.Time.String()`` of the message timestamp in UTC (``0001-01-01 00:00:00 +0000 UTC``
  when there is none), ``body`` is base64, or the JSON itself with ``jsonBody``.

Deliberate differences: messages are always acknowledged by sluice, never by the broker on
delivery (Argo's default ``consume.autoAck: true`` loses a message the bus did not store): a
message is acked once the bus stored its event, nacked with requeue when the bus was
unavailable (so it is delivered again), and rejected without requeue (dead-lettered, if the
queue has a dead-letter exchange) when the bus refused it or when ``jsonBody`` is set and the
body is not JSON; ``autoAck`` is therefore ignored. At most ``PREFETCH`` messages are unacked at
a time (Argo sets no QoS). ``noWait`` and ``consume.noLocal`` are ignored (aio-pika waits for
every reply; RabbitMQ does not implement no-local). Argo's 10 s heartbeat is not forced; the
URL's ``heartbeat`` query parameter applies. A lost connection, or a consumer the broker
cancelled (its queue was deleted), ends the attempt and the supervisor reconnects, declaring
everything again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aio_pika
import aiormq
import yaml
from aio_pika.abc import AbstractIncomingMessage
from yarl import URL

from eventbus.errors import BusError, BusUnavailable
from eventsource.models.brokers import AMQPEventSource, AMQPQueueDeclareConfig
from eventsource.registry import register
from eventsource.sources.brokers import (
    BrokerError,
    BrokerListener,
    BrokerSource,
    Inbox,
)
from eventsource.sources.payloads import message_body, with_metadata
from sluice.core.errors import SpecError
from sluice.core.govalue import format_time

log = logging.getLogger(__name__)

EVENT_TYPE = "amqp"
_NO_QUEUE = AMQPQueueDeclareConfig.model_validate(
    {"exclusive": True}
)  # Argo's queueDeclare default
PREFETCH = 64
GO_TIME_STRING = "2006-01-02 15:04:05.999999999 -0700 MST"  # time.Time.String()
ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


def event_data(message: AbstractIncomingMessage, spec: AMQPEventSource) -> dict[str, Any]:
    """Argo's ``AMQPEventData``; ``ValueError`` if ``jsonBody`` is set and the body is not JSON."""
    stamp = message.timestamp or ZERO_TIME
    data = {
        "contentType": message.content_type or "",
        "contentEncoding": message.content_encoding or "",
        "deliveryMode": int(message.delivery_mode or 0),
        "priority": int(message.priority or 0),
        "correlationId": message.correlation_id or "",
        "replyTo": message.reply_to or "",
        "expiration": getattr(message.properties, "expiration", None) or "",  # raw milliseconds
        "messageId": message.message_id or "",
        "timestamp": format_time(stamp.astimezone(UTC), GO_TIME_STRING),
        "type": message.type or "",
        "appId": message.app_id or "",
        "exchange": message.exchange or "",
        "routingKey": message.routing_key or "",
        "body": message_body(message.body, bool(spec.json_body)),
    }
    return with_metadata(data, spec.metadata)


def queue_arguments(text: str | None, where: str) -> dict[str, Any] | None:
    """``queueDeclare.arguments``: a YAML table, as Argo's ``parseYamlTable`` reads it."""
    if not text:
        return None
    try:
        table = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError([f"{where}.queueDeclare.arguments: not a YAML table: {exc}"]) from exc
    if not isinstance(table, dict):
        raise SpecError([f"{where}.queueDeclare.arguments: not a YAML table: {text!r}"])
    return table


class AMQPListener(BrokerListener[AMQPEventSource]):
    """One ``spec.amqp.<name>``: its connection, queue and consumer."""

    yaml_key = "amqp"
    event_type = EVENT_TYPE

    def check(self) -> None:
        super().check()
        if not self.spec.url and self.spec.url_secret is None:
            raise SpecError([f"{self.where()}: url or urlSecret is required"])
        if not self.spec.exchange_name or not self.spec.exchange_type:
            raise SpecError([f"{self.where()}: exchangeName and exchangeType are required"])
        queue_arguments((self.spec.queue_declare or _NO_QUEUE).arguments, self.where())

    def url(self) -> str:
        url = self.spec.url or ""
        if self.spec.url_secret is not None:
            url = self.secret(self.spec.url_secret, "urlSecret")
        auth = self.spec.auth
        if auth is not None and auth.username is not None and auth.password is not None:
            user = self.secret(auth.username, "auth.username")
            password = self.secret(auth.password, "auth.password")
            url = str(URL(url).with_user(user).with_password(password))
        return url

    async def run(self, ready: Callable[[], None], stopping: asyncio.Event) -> None:
        ssl_context = None
        if self.spec.tls is not None:
            with self.tls() as files:
                ssl_context = files.context()
        try:
            connection = await aio_pika.connect(self.url(), ssl_context=ssl_context)
        except (OSError, aiormq.exceptions.AMQPError, ValueError) as exc:
            raise BrokerError(f"{self.where()}: cannot connect: {exc}") from exc
        try:
            await self._consume(connection, ready, stopping)
        except aiormq.exceptions.AMQPError as exc:
            raise BrokerError(f"{self.where()}: {exc!r}") from exc
        finally:
            if not connection.is_closed:
                await connection.close()

    async def _consume(
        self, connection: Any, ready: Callable[[], None], stopping: asyncio.Event
    ) -> None:
        spec = self.spec
        declare = spec.exchange_declare
        qdeclare = spec.queue_declare or _NO_QUEUE
        consume = spec.consume
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=PREFETCH)
        exchange = await channel.declare_exchange(
            spec.exchange_name or "",
            spec.exchange_type or "",
            durable=bool(declare.durable) if declare else True,
            auto_delete=bool(declare and declare.auto_delete),
            internal=bool(declare and declare.internal),
        )
        queue = await channel.declare_queue(
            qdeclare.name or "",
            durable=bool(qdeclare.durable),
            auto_delete=bool(qdeclare.auto_delete),
            exclusive=bool(qdeclare.exclusive),
            arguments=queue_arguments(qdeclare.arguments, self.where()),
        )
        await queue.bind(exchange, spec.routing_key or "")
        inbox: Inbox[AbstractIncomingMessage] = Inbox(PREFETCH)
        channel.close_callbacks.add(
            lambda _sender, exc: inbox.fail(BrokerError(f"{self.where()}: channel closed: {exc}"))
        )
        underlay = await channel.get_underlay_channel()

        def cancelled(frame: Any) -> None:  # the queue was deleted, for one
            inbox.fail(BrokerError(f"{self.where()}: the broker cancelled the consumer"))

        underlay.on_consumer_cancel_callbacks.add(cancelled)
        await queue.consume(
            inbox.put,
            no_ack=False,
            exclusive=bool(consume and consume.exclusive),
            consumer_tag=(consume.consumer_tag or None) if consume else None,
        )
        log.info("%s: consuming %s bound to %s", self.where(), queue.name, spec.exchange_name)
        ready()
        while (message := await inbox.get(stopping)) is not None:
            await self.handle(message)

    async def handle(self, message: AbstractIncomingMessage) -> None:
        """Ack once stored; nack (requeue) when the bus was unavailable; else reject."""
        self.received += 1
        try:
            data = event_data(message, self.spec)
        except ValueError as exc:
            self.unshaped(f"message {message.message_id or message.delivery_tag}", exc)
            await message.reject(requeue=False)
            return
        try:
            await self.adaptor.dispatch(self.name, EVENT_TYPE, data)
        except BusUnavailable as exc:
            self.failed += 1
            log.error("%s: bus unavailable (%s); message requeued", self.where(), exc)
            await message.nack(requeue=True)
            return
        except BusError as exc:  # refused: retrying the same message cannot help
            self.failed += 1
            log.error("%s: bus refused the event (%s); message rejected", self.where(), exc)
            await message.reject(requeue=False)
            return
        await message.ack()


@register("amqp")
class AMQPSource(BrokerSource[AMQPListener]):
    """Every ``spec.amqp`` event of one EventSource."""

    listener_class = AMQPListener


__all__ = ["EVENT_TYPE", "AMQPListener", "AMQPSource", "event_data", "queue_arguments"]

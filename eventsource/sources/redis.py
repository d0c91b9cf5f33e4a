"""The ``redis`` event source: messages published on Redis PUB/SUB channels become events.

As Argo Events' ``redis`` source (go-redis): it connects to ``hostAddress`` (``host:port``) and
``db`` with ``username`` and the ``password`` secret, over ``tls`` when that is set, pings, and
SUBSCRIBEs to ``channels``. The event data of each message is ``{"channel", "pattern", "body",
"metadata"}``: ``body`` is the payload as a string (go-redis gives a Go string, so it is text,
not base64; bytes that are not UTF-8 become U+FFFD as Go's encoder writes them), or the JSON
itself with ``jsonBody``. Channels are subscribed to by name, not as patterns, exactly as Argo
does, so ``pattern`` is always ``""`` and ``news.*`` only matches a channel of that very name.
PUB/SUB has no acknowledgement: a message that cannot become event data or that the bus did not
store is logged and lost, as in Argo, and messages published while the source is not
subscribed are not seen (use ``redisStream`` for that).

Deliberate differences: ``namespace`` (Argo's namespace of the password secret) is ignored,
secrets come from the data directory; a lost connection ends the attempt and the supervisor
reconnects and subscribes again.

:func:`redis_client` is shared with ``redisStream``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from eventsource.models.brokers import RedisEventSource, RedisStreamEventSource
from eventsource.registry import register
from eventsource.sources.brokers import (
    BrokerError,
    BrokerListener,
    BrokerSource,
    Inbox,
)
from eventsource.sources.payloads import message_body, with_metadata
from sluice.core.errors import SpecError

log = logging.getLogger(__name__)

EVENT_TYPE = "redis"
DEFAULT_PORT = 6379


def host_port(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:6379`` for IPv6); ``ValueError`` when it is not one."""
    host, sep, port = address.rpartition(":")
    if not sep:
        host, port = address, str(DEFAULT_PORT)
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit():
        raise ValueError(f"{address!r} is not host:port")
    return host, int(port)


def redis_client(
    listener: BrokerListener[Any], spec: RedisEventSource | RedisStreamEventSource, stack: ExitStack
) -> aioredis.Redis:
    """A client for the spec's ``hostAddress``, ``db``, ``username``, ``password`` and ``tls``;
    the TLS files stay on disk until ``stack`` closes (redis-py reads them on each connect)."""
    host, port = host_port(spec.host_address or "")
    password = listener.secret(spec.password, "password") if spec.password else None
    options: dict[str, Any] = {}
    if spec.tls is not None:
        files = stack.enter_context(listener.tls())
        options = {
            "ssl": True,
            "ssl_ca_certs": files.ca,
            "ssl_certfile": files.cert,
            "ssl_keyfile": files.key,
            "ssl_cert_reqs": "none" if files.insecure else "required",
            "ssl_check_hostname": not files.insecure,
        }
    return aioredis.Redis(
        host=host,
        port=port,
        db=spec.db or 0,
        username=spec.username or None,
        password=password,
        socket_timeout=None,  # reads block until a message arrives
        client_name=f"sluice:{listener.adaptor.source_name}:{listener.name}".replace(" ", "_"),
        **options,
    )


def check_host(listener: BrokerListener[Any], address: str | None) -> None:
    try:
        host_port(address or "")
    except ValueError as exc:
        raise SpecError([f"{listener.where()}.hostAddress: {exc}"]) from exc


def text(value: bytes | str | None) -> str:
    """A Redis bulk string as Go holds it in a ``string`` and JSON-encodes it."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value or ""


def event_data(message: dict[str, Any], spec: RedisEventSource) -> dict[str, Any]:
    """Argo's ``RedisEventData`` of a redis-py message; ``ValueError`` with ``jsonBody`` if
    the payload is not JSON."""
    payload = message.get("data")
    raw = payload if isinstance(payload, bytes) else str(payload or "").encode()
    data = {
        "channel": text(message.get("channel")),
        "pattern": text(message.get("pattern")),
        "body": message_body(raw, True) if spec.json_body else text(raw),
    }
    return with_metadata(data, spec.metadata)


class RedisListener(BrokerListener[RedisEventSource]):
    """One ``spec.redis.<name>``: its connection and subscription."""

    yaml_key = "redis"
    event_type = EVENT_TYPE

    def check(self) -> None:
        super().check()
        check_host(self, self.spec.host_address)
        if not self.spec.channels:
            raise SpecError([f"{self.where()}: channels must list at least one channel"])

    async def run(self, ready: Callable[[], None], stopping: asyncio.Event) -> None:
        with ExitStack() as stack:
            client = redis_client(self, self.spec, stack)
            try:
                await client.ping()
                pubsub = client.pubsub()
                try:
                    await pubsub.subscribe(*(self.spec.channels or []))
                    await self._receive(pubsub, ready, stopping)
                finally:
                    await pubsub.aclose()
            except (RedisError, OSError) as exc:
                raise BrokerError(f"{self.where()}: {exc}") from exc
            finally:
                await client.aclose()

    async def _receive(
        self, pubsub: Any, ready: Callable[[], None], stopping: asyncio.Event
    ) -> None:
        inbox: Inbox[dict[str, Any]] = Inbox()
        feeder = asyncio.create_task(self._feed(pubsub, inbox), name=f"{self.where()}:in")
        log.info("%s: subscribed to %s", self.where(), ", ".join(self.spec.channels or []))
        ready()
        try:
            while (message := await inbox.get(stopping)) is not None:
                await self.handle(message)
        finally:
            feeder.cancel()
            await asyncio.gather(feeder, return_exceptions=True)

    async def _feed(self, pubsub: Any, inbox: Inbox[dict[str, Any]]) -> None:
        try:
            async for message in pubsub.listen():
                if message.get("type") in ("message", "pmessage"):
                    await inbox.put(message)
        except (RedisError, OSError) as exc:
            inbox.fail(BrokerError(f"{self.where()}: connection lost: {exc}"))
            return
        inbox.fail(BrokerError(f"{self.where()}: the subscription ended"))

    async def handle(self, message: dict[str, Any]) -> None:
        self.received += 1
        try:
            data = event_data(message, self.spec)
        except ValueError as exc:
            self.unshaped(f"message on {text(message.get('channel'))}", exc)
            return
        await self.dispatch(data)


@register("redis")
class RedisSource(BrokerSource[RedisListener]):
    """Every ``spec.redis`` event of one EventSource."""

    listener_class = RedisListener


__all__ = [
    "EVENT_TYPE",
    "RedisListener",
    "RedisSource",
    "event_data",
    "host_port",
    "redis_client",
    "text",
]

"""The ``mqtt`` event source: messages published on an MQTT topic become events.

As Argo Events' ``mqtt`` source (paho): it connects to ``url`` (``tcp://``, ``mqtt://``,
``ssl://``, ``tls://``, ``mqtts://``, ``ws://``, ``wss://``) as ``clientId`` with a clean
session, with ``auth`` (user name and password from secrets) and ``tls``; subscribes to
``topic`` (wildcards ``+`` and ``#`` allowed) at QoS 0, and the event data of each message is
``{"topic", "messageId", "body", "metadata"}``: ``messageId`` is the packet id (0 at QoS 0),
``body`` base64, or the JSON itself with ``jsonBody``. A message that cannot become event data
(``jsonBody`` and not JSON) or that the bus did not store is logged and lost: at QoS 0 nothing
is acknowledged, so the broker does not deliver it again (the same as in Argo).

Deliberate differences: as paho does, ``tls`` applies only to the TLS schemes (``ssl``, ``tls``,
``mqtts``, ``wss``), which without a ``tls`` block use the system's CAs; user and password in
the URL are used when ``auth`` is not set. An empty ``clientId`` lets the client pick one (Argo
passes the empty id to the broker, which does the same for a clean session). A lost connection
ends the attempt and the supervisor reconnects and subscribes again.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import aiomqtt

from eventsource.models.brokers import MQTTEventSource
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

EVENT_TYPE = "mqtt"
_SCHEMES: dict[str, tuple[Literal["tcp", "websockets"], bool, int]] = {
    "tcp": ("tcp", False, 1883),
    "mqtt": ("tcp", False, 1883),
    "ssl": ("tcp", True, 8883),
    "tls": ("tcp", True, 8883),
    "tcps": ("tcp", True, 8883),
    "mqtts": ("tcp", True, 8883),
    "ws": ("websockets", False, 80),
    "wss": ("websockets", True, 443),
}


@dataclass(frozen=True)
class BrokerURL:
    """Where an MQTT ``url`` points, as paho reads it."""

    host: str
    port: int
    transport: Literal["tcp", "websockets"]
    tls: bool
    path: str | None = None
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerURL:
        """``ValueError`` for an unknown scheme or a missing host."""
        parts = urlsplit(url if "://" in url else f"tcp://{url}")
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r}; use one of {', '.join(_SCHEMES)}")
        transport, tls, default_port = _SCHEMES[scheme]
        if not parts.hostname:
            raise ValueError(f"{url!r} names no host")
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            transport=transport,
            tls=tls,
            path=(parts.path or "/") if transport == "websockets" else None,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def event_data(message: aiomqtt.Message, spec: MQTTEventSource) -> dict[str, Any]:
    """Argo's ``MQTTEventData``; ``ValueError`` if ``jsonBody`` is set and it is not JSON."""
    payload = message.payload
    raw = payload if isinstance(payload, bytes) else str(payload or "").encode()
    data = {
        "topic": message.topic.value,
        "messageId": message.mid,
        "body": message_body(raw, bool(spec.json_body)),
    }
    return with_metadata(data, spec.metadata)


class MQTTListener(BrokerListener[MQTTEventSource]):
    """One ``spec.mqtt.<name>``: its client and subscription."""

    yaml_key = "mqtt"
    event_type = EVENT_TYPE

    def check(self) -> None:
        super().check()
        if not self.spec.url or not self.spec.topic:
            raise SpecError([f"{self.where()}: url and topic are required"])
        try:
            BrokerURL.parse(self.spec.url)
        except ValueError as exc:
            raise SpecError([f"{self.where()}.url: {exc}"]) from exc

    def client(self) -> aiomqtt.Client:
        url = BrokerURL.parse(self.spec.url or "")
        username, password = url.username, url.password
        auth = self.spec.auth
        if auth is not None and auth.username is not None and auth.password is not None:
            username = self.secret(auth.username, "auth.username")
            password = self.secret(auth.password, "auth.password")
        tls_context = None
        if url.tls and self.spec.tls is not None:
            with self.tls() as files:
                tls_context = files.context()
        elif url.tls:
            tls_context = ssl.create_default_context()
        return aiomqtt.Client(
            url.host,
            url.port,
            username=username,
            password=password,
            identifier=self.spec.client_id or None,
            clean_session=True,
            transport=url.transport,
            websocket_path=url.path,
            tls_context=tls_context,
        )

    async def run(self, ready: Callable[[], None], stopping: asyncio.Event) -> None:
        client = self.client()
        inbox: Inbox[aiomqtt.Message] = Inbox()
        try:
            async with client:
                await client.subscribe(self.spec.topic or "", qos=0)
                feeder = asyncio.create_task(self._feed(client, inbox), name=f"{self.where()}:in")
                log.info("%s: subscribed to %s", self.where(), self.spec.topic)
                ready()
                try:
                    while (message := await inbox.get(stopping)) is not None:
                        await self.handle(message)
                finally:
                    feeder.cancel()
                    await asyncio.gather(feeder, return_exceptions=True)
        except aiomqtt.MqttError as exc:
            raise BrokerError(f"{self.where()}: {exc}") from exc

    async def _feed(self, client: aiomqtt.Client, inbox: Inbox[aiomqtt.Message]) -> None:
        try:
            async for message in client.messages:
                await inbox.put(message)
        except aiomqtt.MqttError as exc:
            inbox.fail(BrokerError(f"{self.where()}: connection lost: {exc}"))
            return
        inbox.fail(BrokerError(f"{self.where()}: the message stream ended"))

    async def handle(self, message: aiomqtt.Message) -> None:
        self.received += 1
        try:
            data = event_data(message, self.spec)
        except ValueError as exc:
            self.unshaped(f"message on {message.topic.value}", exc)
            return
        await self.dispatch(data)


@register("mqtt")
class MQTTSource(BrokerSource[MQTTListener]):
    """Every ``spec.mqtt`` event of one EventSource."""

    listener_class = MQTTListener


__all__ = ["EVENT_TYPE", "BrokerURL", "MQTTListener", "MQTTSource", "event_data"]

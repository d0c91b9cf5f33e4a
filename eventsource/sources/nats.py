"""The ``nats`` event source: messages published on a NATS subject become events.

This is a NATS server of the user's, not sluice's own event bus (which may be another server).
As Argo Events' ``nats`` source (nats.go): it connects to ``url`` (several servers separated by
commas), with ``tls`` and ``auth`` (one of ``basic``, ``token``, ``nkey`` (the seed) or
``credential`` (a ``.creds`` file's content), each a secret), subscribes to ``subject`` (NATS
wildcards allowed) in the queue group ``queue`` when that is set, so several sources share the
messages, and the event data of each message is ``{"subject", "body", "header", "metadata"}``:
``body`` base64, or the JSON itself with ``jsonBody``; ``header`` the message headers as Go's
``nats.Header`` (each name with a list of values), left out when there are none. Core NATS has
no acknowledgement: a message that cannot become event data or that the bus did not store is
logged and lost, as in Argo.

Deliberate differences: nats-py keeps one value per header name, so ``header`` lists one value
each (a repeated header keeps its last value); Argo's newest versions add a ``traceparent`` header
for OpenTelemetry, sluice adds none. ``nkey`` and ``credential`` need the ``nkeys`` package, as
nats-py does; without it the event fails at start with that reason. When nats-py gives up
reconnecting, the attempt ends and the supervisor connects again.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections.abc import Callable
from typing import Any

import nats
import nats.errors
from nats.aio.client import RawCredentials
from nats.aio.msg import Msg

from eventsource.models.brokers import NATSEventsSource
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

EVENT_TYPE = "nats"


def event_data(msg: Msg, spec: NATSEventsSource) -> dict[str, Any]:
    """Argo's ``NATSEventData``; ``ValueError`` if ``jsonBody`` is set and it is not JSON."""
    data: dict[str, Any] = {
        "subject": msg.subject,
        "body": message_body(msg.data, bool(spec.json_body)),
    }
    if msg.headers:
        data["header"] = {name: [value] for name, value in msg.headers.items()}
    return with_metadata(data, spec.metadata)


class NATSListener(BrokerListener[NATSEventsSource]):
    """One ``spec.nats.<name>``: its connection and subscription."""

    yaml_key = "nats"
    event_type = EVENT_TYPE

    def check(self) -> None:
        super().check()
        if not self.spec.url or not self.spec.subject:
            raise SpecError([f"{self.where()}: url and subject are required"])
        auth = self.spec.auth
        if auth is not None and (auth.nkey or auth.credential) and not _has_nkeys():
            kind = "nkey" if auth.nkey else "credential"
            raise SpecError(
                [f"{self.where()}.auth.{kind}: needs the nkeys package (pip install nkeys)"]
            )

    def options(self) -> dict[str, Any]:
        """nats-py's connect options for ``tls`` and ``auth`` (the first auth kind set)."""
        options: dict[str, Any] = {}
        if self.spec.tls is not None:
            with self.tls() as files:
                options["tls"] = files.context()
        auth = self.spec.auth
        if auth is None:
            return options
        if auth.basic is not None and auth.basic.username and auth.basic.password:
            options["user"] = self.secret(auth.basic.username, "auth.basic.username")
            options["password"] = self.secret(auth.basic.password, "auth.basic.password")
        elif auth.token is not None:
            options["token"] = self.secret(auth.token, "auth.token")
        elif auth.nkey is not None:
            options["nkeys_seed_str"] = self.secret(auth.nkey, "auth.nkey")
        elif auth.credential is not None:
            options["user_credentials"] = RawCredentials(
                self.secret(auth.credential, "auth.credential")
            )
        return options

    async def run(self, ready: Callable[[], None], stopping: asyncio.Event) -> None:
        inbox: Inbox[Msg] = Inbox()
        servers = [url.strip() for url in (self.spec.url or "").split(",") if url.strip()]

        async def closed() -> None:
            inbox.fail(BrokerError(f"{self.where()}: the connection to {servers} was closed"))

        async def error(exc: Exception) -> None:
            log.warning("%s: %s", self.where(), exc)

        try:
            nc = await nats.connect(
                servers,
                closed_cb=closed,
                error_cb=error,
                connect_timeout=5,
                allow_reconnect=True,
                **self.options(),
            )
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            raise BrokerError(f"{self.where()}: cannot connect to {servers}: {exc}") from exc
        try:
            await nc.subscribe(self.spec.subject or "", queue=self.spec.queue or "", cb=inbox.put)
            await nc.flush()
            log.info("%s: subscribed to %s", self.where(), self.spec.subject)
            ready()
            while (msg := await inbox.get(stopping)) is not None:
                await self.handle(msg)
        except nats.errors.Error as exc:
            raise BrokerError(f"{self.where()}: {exc}") from exc
        finally:
            if not nc.is_closed:
                await nc.close()

    async def handle(self, msg: Msg) -> None:
        self.received += 1
        try:
            data = event_data(msg, self.spec)
        except ValueError as exc:
            self.unshaped(f"message on {msg.subject}", exc)
            return
        await self.dispatch(data)


def _has_nkeys() -> bool:
    return importlib.util.find_spec("nkeys") is not None


@register("nats")
class NATSSource(BrokerSource[NATSListener]):
    """Every ``spec.nats`` event of one EventSource."""

    listener_class = NATSListener


__all__ = ["EVENT_TYPE", "NATSListener", "NATSSource", "event_data"]

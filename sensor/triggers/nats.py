"""The ``nats`` trigger: publish the payload on a core NATS subject, as Argo's ``nats.go``.

The payload (built from the ``payload`` parameters) is required, as in Argo ("payload
parameters are not specified"). ``auth.basic`` (username and password) and ``auth.token`` come
from local secrets; ``auth.nkey``, ``auth.credential`` and ``tls`` are not supported yet. The
subject is the resource's, so a parameter with ``dest: subject`` takes effect (Argo publishes on
the template's subject and ignores it). A publish is flushed, so success means the server
has it; a connection error or a flush timeout is retryable.

Argo keeps one connection per trigger; :class:`NatsConnections` keeps one per server URL and
credentials for the whole process, reconnecting when one has closed. Without one in the
``TriggerContext``, each firing connects and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from pydantic import ValidationError

from sensor.models.trigger_types import NATSTrigger as NATSSpec
from sensor.triggers.base import (
    Firing,
    Outcome,
    TriggerContext,
    TriggerError,
    TriggerImpl,
    register,
    unsupported,
)

CONNECT_TIMEOUT = 5.0
FLUSH_TIMEOUT = 5  # seconds (nats-py takes an int)


async def _connect(url: str, auth: Mapping[str, str] | None) -> Client:
    async def quiet(_: Exception) -> None:  # failures surface as exceptions, not log spam
        return None

    # A few quick attempts: nats-py's defaults would retry an unreachable server for minutes.
    return await nats.connect(
        url,
        connect_timeout=CONNECT_TIMEOUT,
        max_reconnect_attempts=3,
        reconnect_time_wait=0.5,
        error_cb=quiet,
        **dict(auth or {}),
    )


async def _publish(client: Client, subject: str, payload: bytes) -> None:
    await client.publish(subject, payload)
    await client.flush(timeout=FLUSH_TIMEOUT)


class NatsConnections:
    """Shared NATS connections by (URL, credentials); ``close()`` ends them all."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, tuple[tuple[str, str], ...]], Client] = {}
        self._lock = asyncio.Lock()

    async def publish(
        self, url: str, subject: str, payload: bytes, *, auth: Mapping[str, str] | None = None
    ) -> None:
        key = (url, tuple(sorted((auth or {}).items())))
        async with self._lock:
            client = self._clients.get(key)
            if client is None or client.is_closed:
                client = await _connect(url, auth)
                self._clients[key] = client
        await _publish(client, subject, payload)

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            with contextlib.suppress(NatsError, OSError):
                await client.close()


def _auth(spec: NATSSpec, context: TriggerContext, where: str) -> dict[str, str] | None:
    auth = spec.auth
    if auth is None:
        return None
    if auth.basic is not None:
        out = {}
        for field in ("username", "password"):
            sel = getattr(auth.basic, field)
            if sel is not None:
                key = "user" if field == "username" else "password"
                out[key] = context.secret("secret", sel.name, sel.key, f"{where}: auth.basic")
        return out
    if auth.token is not None:
        sel = auth.token
        return {"token": context.secret("secret", sel.name, sel.key, f"{where}: auth.token")}
    if auth.nkey is not None:
        raise unsupported(f"{where}: nats auth.nkey")
    if auth.credential is not None:
        raise unsupported(f"{where}: nats auth.credential")
    return None


@register("nats")
class NATSTrigger(TriggerImpl):
    async def resource(self) -> Any:
        spec = self.trigger.template.nats
        return spec.to_yaml_dict() if spec is not None else {}

    async def fire(self, firing: Firing, resource: Any, payload: bytes | None = None) -> Outcome:
        where = firing.where()
        try:
            spec = NATSSpec.model_validate(resource)
        except ValidationError as exc:
            raise TriggerError(f"{where}: nats: {exc}", retryable=False) from exc
        if spec.tls is not None:
            raise unsupported(f"{where}: nats.tls")
        if not spec.url or not spec.subject:
            raise TriggerError(f"{where}: nats.url and nats.subject are required", retryable=False)
        if payload is None:
            raise TriggerError(f"{where}: payload parameters are not specified", retryable=False)
        auth = _auth(spec, self.context, where)
        what = f"{where}: nats {spec.url} subject {spec.subject}"
        try:
            if self.context.nats is not None:
                await self.context.nats.publish(spec.url, spec.subject, payload, auth=auth)
            else:
                client = await _connect(spec.url, auth)
                try:
                    await _publish(client, spec.subject, payload)
                finally:
                    with contextlib.suppress(NatsError, OSError):
                        await client.close()
        except (nats.errors.BadSubjectError, nats.errors.AuthorizationError) as exc:
            raise TriggerError(f"{what}: {exc}", retryable=False) from exc
        except (NatsError, OSError, TimeoutError) as exc:
            raise TriggerError(f"{what}: {exc or type(exc).__name__}", retryable=True) from exc
        return Outcome(f"published {len(payload)} bytes on {spec.subject}")

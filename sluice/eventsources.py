"""The runtime of stored EventSources in ``sluice up``: one supervised runner per resource.

Applying a changed EventSource stops its runner and starts a new one; the others keep running,
and webhook routes of other EventSources on the same port keep being served. Before the first
source of a namespace starts, the namespace's stream is created (or updated) with the
``streamConfig`` of its EventBus.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eventbus.base import Bus
from eventsource.models import parse_event_source
from eventsource.registry import SourceContext
from eventsource.runner import EventSourceRunner
from eventsource.secrets import LocalSecrets
from eventsource.sources.webhook import WebhookServers
from sluice.core.clock import Clock, SystemClock
from sluice.core.resources import RawResource

log = logging.getLogger(__name__)

Key = tuple[str, str]  # namespace, name


class EventSourceRuntime:
    """Runs every applied EventSource (implements ``sluice.controller.Runtime``)."""

    def __init__(
        self,
        bus: Bus,
        data_dir: Path,
        *,
        webhook_host: str = "0.0.0.0",
        clock: Clock | None = None,
        stream_config: Callable[[str], dict[str, Any]] | None = None,
    ) -> None:
        self.bus = bus
        self.context = SourceContext(
            data_dir=data_dir,
            secrets=LocalSecrets(data_dir),
            webhook_servers=WebhookServers(webhook_host),
            clock=clock or SystemClock(),
            host=webhook_host,
        )
        self.stream_config: Callable[[str], dict[str, Any]] = stream_config or (lambda _ns: {})
        self.runners: dict[Key, EventSourceRunner] = {}
        self._streams: set[str] = set()
        self._lock = asyncio.Lock()

    async def apply(self, manifest: dict[str, Any]) -> None:
        meta = manifest.get("metadata") or {}
        key = (meta.get("namespace") or "default", meta.get("name") or "")
        where = f"eventsource/{key[1]} in {key[0]}"
        event_source = parse_event_source(RawResource(where, 1, manifest, label=where))
        async with self._lock:
            await self._stop(key)
            if key[0] not in self._streams:
                await self.bus.ensure_stream(key[0], self.stream_config(key[0]))
                self._streams.add(key[0])
            runner = EventSourceRunner(event_source, self.bus, self.context, namespace=key[0])
            self.runners[key] = runner
            await runner.start()
            log.info("eventsource/%s started in %s", key[1], key[0])

    async def remove(self, namespace: str, name: str) -> None:
        async with self._lock:
            await self._stop((namespace, name))

    async def _stop(self, key: Key) -> None:
        runner = self.runners.pop(key, None)
        if runner is not None:
            await runner.stop()
            log.info("eventsource/%s stopped in %s", key[1], key[0])

    def status(self, namespace: str, name: str) -> dict[str, Any] | None:
        runner = self.runners.get((namespace, name))
        return runner.status() if runner is not None else None

    async def close(self) -> None:
        async with self._lock:
            for key in list(self.runners):
                await self._stop(key)


__all__ = ["EventSourceRuntime"]

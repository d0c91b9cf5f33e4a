"""Runs one EventSource: every event type in its spec, each under supervision of its own.

Argo Events runs an EventSource as a pod whose adaptor starts each event's listener, skips one
that fails validation, and retries one that fails with backoff; an event type it has no code
for would not have passed its admission webhook. sluice runs many EventSources in one process
and knows only some types, so one resource's trouble stays in that resource, type by type:

* a type no source is registered for is logged and reported as unsupported
  (``eventsource/x: sftp is not supported yet``) while the other types start;
* a spec problem (a bad filter, endpoint or cron expression, a missing directory) fails that
  type for good with the problem's path in the message: retrying cannot fix it;
* any other failure, or a source that stops working on its own, restarts that type with
  backoff (``sluice.core.supervise``), with a fresh source object each time.

All types share one :class:`Adaptor`, so the resource's events are counted in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from eventbus.base import Bus
from eventsource.adaptor import Adaptor, EventOptions, event_options
from eventsource.models import EventSource
from eventsource.registry import SOURCES, SourceContext, unsupported_message
from sluice.core.clock import Clock
from sluice.core.errors import SpecError
from sluice.core.supervise import RestartPolicy, Supervisor, until

log = logging.getLogger(__name__)

UNSUPPORTED = "unsupported"


@dataclass
class _EventType:
    """One event type of the resource: its events and, if it cannot start, why."""

    key: str
    service: str  # the supervised task's name
    events: list[str]
    source_class: type[Any] | None = None
    state: str | None = None  # set only when it is not started: unsupported or failed
    problem: str | None = None
    options: dict[str, EventOptions] = field(default_factory=dict)


class EventSourceRunner:
    """Starts, watches and stops every event type of one EventSource resource."""

    def __init__(
        self,
        event_source: EventSource,
        bus: Bus,
        context: SourceContext,
        *,
        namespace: str | None = None,
        registry: Mapping[str, type[Any]] = SOURCES,
        clock: Clock | None = None,
        policy: RestartPolicy | None = None,
        stop_grace: float = 10.0,
    ) -> None:
        self.event_source = event_source
        self.name = event_source.name
        self.namespace = namespace or event_source.metadata.namespace or "default"
        self.context = context
        self.clock: Clock = clock or context.clock
        self.where = f"eventsource/{self.name}"
        self.supervisor = Supervisor(self.where, clock=self.clock, policy=policy, grace=stop_grace)
        self.types: dict[str, _EventType] = {}
        for key, events in event_source.spec.events().items():
            self.types[key] = self._prepare(key, events, registry)
        options = {name: o for t in self.types.values() for name, o in t.options.items()}
        self.adaptor = Adaptor(bus, self.namespace, self.name, clock=self.clock, options=options)
        self._started = False

    def _prepare(
        self, key: str, events: Mapping[str, Any], registry: Mapping[str, type[Any]]
    ) -> _EventType:
        entry = _EventType(key, f"{self.where}:{key}", sorted(events), registry.get(key))
        if entry.source_class is None:
            entry.state, entry.problem = UNSUPPORTED, unsupported_message(self.name, key)
            log.warning("%s", entry.problem)
            return entry
        try:
            entry.options = event_options(self.name, key, events)
        except SpecError as exc:
            entry.state, entry.problem = "failed", str(exc)
            log.error("%s will not start: %s", entry.service, exc)
        return entry

    async def start(self) -> None:
        """Start every startable type; returns once each serves (webhooks listen) or failed."""
        if self._started:
            raise RuntimeError(f"{self.where} is already started")
        self._started = True
        names = []
        for entry in self.types.values():
            if entry.state is None and entry.source_class is not None:
                serve = partial(self._serve, entry.service, entry.source_class)
                self.supervisor.add(entry.service, serve, wait_ready=True)
                names.append(entry.service)
        await self.supervisor.settled(names)

    async def stop(self) -> None:
        """Stop every type: each gets the supervisor's grace period, then it is cancelled."""
        await self.supervisor.stop()

    async def _serve(self, service: str, source_class: type[Any]) -> None:
        """One attempt of one type: build a fresh source, serve until it fails or we stop."""
        source = source_class.from_context(self.event_source, self.adaptor, self.context)
        try:
            await source.start()
            self.supervisor.ready(service)
            log.info("%s started", service)
            await until(self.supervisor.stopping, source.wait())
        finally:
            await source.stop()

    def status(self) -> dict[str, Any]:
        """Per type: its state, restarts and last error; per event: what the adaptor counted."""
        services = self.supervisor.status()
        metrics = self.adaptor.metrics
        types: dict[str, Any] = {}
        for key, entry in self.types.items():
            service = services.get(entry.service)
            if service is not None:
                summary = service.as_dict()
            else:
                summary = {"name": entry.service, "state": entry.state or "pending"}
                summary |= {"restarts": 0, "lastError": entry.problem, "since": None}
            summary["events"] = {
                event: {
                    "published": metrics.published[event],
                    "failed": metrics.failed[event],
                    "filtered": metrics.filtered[event],
                }
                for event in entry.events
            }
            types[key] = summary
        return {"name": self.name, "namespace": self.namespace, "types": types}


__all__ = ["UNSUPPORTED", "EventSourceRunner"]

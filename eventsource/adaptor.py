"""The one place that turns what a source received into a CloudEvent on the bus.

A source only builds its data (a dict, or JSON bytes) and awaits ``Adaptor.dispatch``; the
adaptor wraps it in a CloudEvent 1.0 envelope (structured mode: the JSON of the whole event is
the message), publishes it on ``events.<ns>.<source>.<event>`` with ``Nats-Msg-Id`` = the event
id, retries while the bus is unavailable, and returns only once JetStream has stored it. The
caller acknowledges upstream (HTTP 200, Pub/Sub ack) only after that, so nothing is lost
between the outside world and the bus; a retry reuses the id, so it is stored once.

An event's ``filter.expression`` is written in expr (github.com/expr-lang/expr), which Argo
evaluates over the event data before dispatching. sluice has no expr evaluator outside the
engine, which this package must not import, so filters are not supported yet: every event is
dispatched, and that is logged once per event when the adaptor is built.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventbus.base import Bus
from eventbus.errors import BusError, BusUnavailable
from eventbus.streams import parse_duration
from eventsource.models.common import Backoff
from sluice.core.clock import Clock, SystemClock

log = logging.getLogger(__name__)

SPEC_VERSION = "1.0"
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,20}$")
_RESERVED = frozenset(
    {"specversion", "id", "source", "subject", "type", "time", "datacontenttype", "data"}
    | {"data_base64", "dataschema"}
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a publish while the bus is unavailable.

    ``steps`` attempts in all; the n-th wait is ``duration * factor ** n`` seconds. The
    defaults are Argo Events' default backoff (5 steps of 1s, factor 1), without its jitter.
    """

    duration: float = 1.0
    factor: float = 1.0
    steps: int = 5

    @classmethod
    def from_backoff(cls, backoff: Backoff | None) -> RetryPolicy:
        """The policy of an event's ``connectionBackoff`` (``duration`` int ns or ``10s``)."""
        if backoff is None:
            return cls()
        default = cls()
        duration = default.duration
        if isinstance(backoff.duration, int):
            duration = backoff.duration / 1e9
        elif isinstance(backoff.duration, str):
            try:
                duration = parse_duration(backoff.duration, "duration")
            except BusError as exc:
                raise ValueError(
                    f"connectionBackoff.duration: {backoff.duration!r} is not a duration "
                    "like '10s' or '1m'"
                ) from exc
        factor = float(backoff.factor) if backoff.factor is not None else default.factor
        steps = backoff.steps if backoff.steps is not None else default.steps
        return cls(duration=duration, factor=factor, steps=max(1, steps))

    def delays(self) -> list[float]:
        """The waits between attempts (one fewer than ``steps``)."""
        return [self.duration * self.factor**n for n in range(max(0, self.steps - 1))]


class DispatchMetrics:
    """Events published and failed, per event name (exported to Prometheus later)."""

    def __init__(self) -> None:
        self.published: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.duplicates: Counter[str] = Counter()


def rfc3339(moment: datetime) -> str:
    """``2024-05-01T12:00:00.123456Z``: UTC, as CloudEvents and Go write it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def cloud_event(
    *,
    event_id: str,
    source: str,
    subject: str,
    event_type: str,
    time: datetime,
    data: Mapping[str, Any] | bytes,
    extensions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A CloudEvent 1.0 in its JSON form; bytes that are not JSON go in ``data_base64``."""
    event: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": event_id,
        "source": source,
        "subject": subject,
        "type": event_type,
        "time": rfc3339(time),
        "datacontenttype": "application/json",
    }
    for name, value in (extensions or {}).items():
        if not _EXTENSION_NAME.match(name) or name in _RESERVED:
            raise ValueError(
                f"{name!r} is not a CloudEvent extension name (1-20 lowercase letters or digits, "
                "not a core attribute)"
            )
        event[name] = str(value)
    if isinstance(data, bytes | bytearray):
        try:
            event["data"] = json.loads(data)
        except ValueError:
            event["datacontenttype"] = "application/octet-stream"
            event["data_base64"] = base64.b64encode(bytes(data)).decode("ascii")
    else:
        event["data"] = dict(data)
    return event


class Adaptor:
    """Publishes one EventSource's events as CloudEvents, acked by JetStream before returning."""

    def __init__(
        self,
        bus: Bus,
        namespace: str,
        source_name: str,
        *,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> None:
        self.bus = bus
        self.namespace = namespace
        self.source_name = source_name
        self.clock: Clock = clock or SystemClock()
        self.retry = retry or RetryPolicy()
        self.metrics = DispatchMetrics()
        for event_name, expression in (filters or {}).items():
            if expression:
                log.warning(
                    "eventsource/%s: event %s: filter.expression is not supported yet; "
                    "every event is dispatched (expression: %s)",
                    source_name,
                    event_name,
                    expression,
                )

    def subject(self, event_name: str) -> str:
        return self.bus.subject(self.namespace, self.source_name, event_name)

    async def dispatch(
        self,
        event_name: str,
        event_type: str,
        data: Mapping[str, Any] | bytes,
        *,
        metadata: Mapping[str, str] | None = None,
        event_id: str | None = None,
    ) -> str:
        """Publish one event and return its id once the bus has stored it.

        ``metadata`` becomes CloudEvent extension attributes. ``event_id`` (default: a new
        uuid4) lets a source map an upstream redelivery onto the same event. Raises
        ``BusUnavailable`` when the bus stayed down through every retry, ``BusError`` when it
        refused the event; either way the caller must not acknowledge upstream.
        """
        event_id = event_id or uuid.uuid4().hex
        event = cloud_event(
            event_id=event_id,
            source=self.source_name,
            subject=event_name,
            event_type=event_type,
            time=self.clock.now(),
            data=data,
            extensions=metadata,
        )
        payload = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
        subject = self.subject(event_name)
        headers = {"Content-Type": "application/cloudevents+json"}
        delays = self.retry.delays()
        attempt = 0
        while True:
            try:
                ack = await self.bus.publish(subject, payload, event_id, headers=headers)
            except BusUnavailable as exc:
                if attempt >= len(delays):
                    self.metrics.failed[event_name] += 1
                    log.error(
                        "eventsource/%s: event %s (%s) not published after %d attempts: %s",
                        self.source_name,
                        event_name,
                        event_id,
                        attempt + 1,
                        exc,
                    )
                    raise
                delay = delays[attempt]
                attempt += 1
                log.warning(
                    "eventsource/%s: publishing %s failed (%s); retry %d in %.2fs",
                    self.source_name,
                    event_name,
                    exc,
                    attempt,
                    delay,
                )
                await self.clock.sleep(delay)
            except BusError:
                self.metrics.failed[event_name] += 1
                raise
            else:
                self.metrics.published[event_name] += 1
                if ack.duplicate:
                    self.metrics.duplicates[event_name] += 1
                return event_id


__all__ = ["Adaptor", "DispatchMetrics", "RetryPolicy", "cloud_event"]

"""The one place that turns what a source received into a CloudEvent on the bus.

A source only builds its data (a dict, or JSON bytes) and awaits ``Adaptor.dispatch``; the
adaptor wraps it in a CloudEvent 1.0 envelope (structured mode: the JSON of the whole event is
the message), publishes it on ``events.<ns>.<source>.<event>`` with ``Nats-Msg-Id`` = the event
id, retries while the bus is unavailable, and returns only once JetStream has stored it. The
caller acknowledges upstream (HTTP 200, Pub/Sub ack) only after that, so nothing is lost
between the outside world and the bus; a retry reuses the id, so it is stored once.

Each event's options come from its spec (:func:`event_options`): ``connectionBackoff`` is its
publish retry, and ``filter.expression`` is evaluated before dispatching, as Argo's
``filterEvent`` does: the data is decoded into a map, ``-`` becomes ``_`` in its top-level keys,
and the expr-lang expression must give a bool. An event it rejects, or that it cannot evaluate
(logged), is not published and ``dispatch`` returns None; the source acknowledges it anyway, as
Argo does. Expressions are parsed when the options are built, so a syntax error is a spec error.
As in Argo, a top-level name the event lacks is nil. Unlike Argo (whose JSON numbers are all
float64), integers stay integers, so ``body.n % 2 == 0`` works; an empty expression filters
nothing.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from eventbus.base import Bus
from eventbus.errors import BusError, BusUnavailable
from eventbus.streams import parse_duration
from eventsource.models.common import Backoff, EventSourceFilter
from sluice.core import fastjson
from sluice.core.clock import Clock, SystemClock
from sluice.core.errors import SpecError
from sluice.core.exprlang import ExprError, evaluate, parse
from sluice.core.exprlang_parser import Call, Ident, Literal, Node

log = logging.getLogger(__name__)

SPEC_VERSION = "1.0"
_HEADERS = MappingProxyType({"Content-Type": "application/cloudevents+json"})
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


def _names(tree: Node) -> frozenset[str]:
    """The top-level names an expression reads (not the functions it calls)."""
    found: set[str] = set()
    todo: list[Any] = [tree]
    while todo:
        item = todo.pop()
        if isinstance(item, tuple):
            todo.extend(item)
        elif isinstance(item, Ident):
            found.add(item.name)
        elif isinstance(item, Call) and isinstance(item.callee, Ident):
            todo.extend(item.args)
        elif isinstance(item, Node) and not isinstance(item, Literal):
            todo.extend(getattr(item, f.name) for f in fields(item))
    return frozenset(found - {"sprig"})


@dataclass(frozen=True)
class EventFilter:
    """An event's ``filter.expression``, parsed once."""

    expression: str
    names: frozenset[str]

    @classmethod
    def parse(cls, expression: str, where: str) -> EventFilter:
        """Raises ``SpecError`` naming ``where`` when the expression does not parse."""
        try:
            tree = parse(expression)
        except ExprError as exc:
            raise SpecError([f"{where}: {exc}"]) from exc
        return cls(expression, _names(tree))

    def accepts(self, data: Mapping[str, Any] | bytes) -> bool:
        """Whether the event passes; ``ValueError`` when it cannot be evaluated."""
        if isinstance(data, bytes | bytearray):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise ValueError(f"failed to unmarshal data, {exc}") from exc
        if not isinstance(data, Mapping):
            raise ValueError(f"event data is a {type(data).__name__}, not a JSON object")
        env: dict[str, Any] = dict.fromkeys(self.names)  # Go's expr reads a missing key as nil
        env.update((str(key).replace("-", "_"), value) for key, value in data.items())
        result = evaluate(self.expression, env)
        if not isinstance(result, bool):
            raise ValueError(f"expression result {result!r} is not a bool")
        return result


@dataclass(frozen=True)
class EventOptions:
    """What the adaptor applies to one event: its filter and its publish retry."""

    filter: EventFilter | None = None
    retry: RetryPolicy | None = None


def event_options(
    source_name: str, yaml_key: str, events: Mapping[str, Any]
) -> dict[str, EventOptions]:
    """The options of one event type's events, from their ``filter`` and ``connectionBackoff``.

    Raises ``SpecError`` listing every problem as ``eventsource/<source>: spec.<type>.<event>...``.
    """
    options: dict[str, EventOptions] = {}
    problems: list[str] = []
    for name, spec in events.items():
        where = f"eventsource/{source_name}: spec.{yaml_key}.{name}"
        event_filter, retry = None, None
        spec_filter = getattr(spec, "filter", None)  # some types' filter is something else
        if isinstance(spec_filter, EventSourceFilter) and spec_filter.expression:
            try:
                event_filter = EventFilter.parse(
                    spec_filter.expression, f"{where}.filter.expression"
                )
            except SpecError as exc:
                problems += exc.problems
        backoff = getattr(spec, "connection_backoff", None)
        if isinstance(backoff, Backoff):
            try:
                retry = RetryPolicy.from_backoff(backoff)
            except ValueError as exc:
                problems.append(f"{where}.{exc}")
        options[name] = EventOptions(event_filter, retry)
    if problems:
        raise SpecError(problems)
    return options


class DispatchMetrics:
    """Events published, failed and filtered out, per event name (exported to Prometheus later)."""

    def __init__(self) -> None:
        self.published: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.duplicates: Counter[str] = Counter()
        self.filtered: Counter[str] = Counter()  # rejected by, or failing, filter.expression


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
        event["data"] = data if isinstance(data, dict) else dict(data)  # encoded at once
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
        options: Mapping[str, EventOptions] | None = None,
    ) -> None:
        """``retry`` is the default publish retry; ``options`` (by event name) override it."""
        self.bus = bus
        self.namespace = namespace
        self.source_name = source_name
        self.clock: Clock = clock or SystemClock()
        self.retry = retry or RetryPolicy()
        self.options: Mapping[str, EventOptions] = dict(options or {})
        self.metrics = DispatchMetrics()
        self._subjects: dict[str, str] = {}

    def subject(self, event_name: str) -> str:
        return self.bus.subject(self.namespace, self.source_name, event_name)

    def upstream_id(self, event_name: str, message_id: str) -> str:
        """The event id of an upstream message (a Pub/Sub, SQS or SNS message id): the same
        for a redelivery, so it is stored once, and different for every source and event, so
        two of them receiving one message on the same namespace's stream both keep it (the
        bus drops a repeated id as a duplicate)."""
        key = f"{self.source_name}/{event_name}/{message_id}"
        return uuid.uuid5(uuid.NAMESPACE_URL, key).hex

    def _subject(self, event_name: str) -> str:
        subject = self._subjects[event_name] = self.subject(event_name)
        return subject

    async def dispatch(
        self,
        event_name: str,
        event_type: str,
        data: Mapping[str, Any] | bytes,
        *,
        metadata: Mapping[str, str] | None = None,
        event_id: str | None = None,
    ) -> str | None:
        """Publish one event and return its id once the bus has stored it.

        Returns None when the event's filter left it out; the caller acknowledges it as usual.
        ``metadata`` becomes CloudEvent extension attributes. ``event_id`` (default: a new
        uuid4) lets a source map an upstream redelivery onto the same event. Raises
        ``BusUnavailable`` when the bus stayed down through every retry, ``BusError`` when it
        refused the event; either way the caller must not acknowledge upstream.
        """
        options = self.options.get(event_name, EventOptions())
        if options.filter is not None and not self._accepts(event_name, options.filter, data):
            self.metrics.filtered[event_name] += 1
            return None
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
        payload = fastjson.dumps(event)  # compact UTF-8, as json.dumps(ensure_ascii=False)
        subject = self._subjects.get(event_name) or self._subject(event_name)
        delays: list[float] | None = None  # worked out on the first failure only
        attempt = 0
        while True:
            try:
                ack = await self.bus.publish(subject, payload, event_id, headers=_HEADERS)
            except BusUnavailable as exc:
                if delays is None:
                    delays = (options.retry or self.retry).delays()
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

    def _accepts(self, event_name: str, event_filter: EventFilter, data: Any) -> bool:
        where = f"eventsource/{self.source_name}: event {event_name}"
        try:
            accepted = event_filter.accepts(data)
        except ValueError as exc:  # ExprError is one
            log.error("%s: filter.expression failed, event not published: %s", where, exc)
            return False
        if not accepted:
            log.debug("%s: filter.expression is false, event not published", where)
        return accepted


__all__ = [
    "Adaptor",
    "DispatchMetrics",
    "EventFilter",
    "EventOptions",
    "RetryPolicy",
    "cloud_event",
    "event_options",
]

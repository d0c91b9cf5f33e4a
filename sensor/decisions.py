"""Why a sensor did, or did not, fire: one record per (event, sensor dependency).

A record holds each filter's verdict with the value it extracted and the rule it compared
against, then per trigger the condition, the dependencies pending after the event, and what
happened: ``fired`` (with the workflow, if it submitted one), ``waiting`` for other
dependencies, ``duplicate`` (a redelivered event whose firing was already done), ``failed``,
``dead-lettered``, or ``would fire`` in an offline test. ``sluice sensor explain EVENT_ID``
prints them; ``sluice sensor test`` prints the same for events given as files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Decision", "FireResult", "TriggerDecision", "check_event", "event_summary", "json_kind"]

FIRED = "fired"
WAITING = "waiting"
DUPLICATE = "duplicate"
FAILED = "failed"
DEAD_LETTERED = "dead-lettered"
WOULD_FIRE = "would fire"
FIRING_OUTCOMES = (FIRED, DUPLICATE, WOULD_FIRE)


@dataclass
class FireResult:
    """What firing one trigger did."""

    outcome: str  # fired | duplicate | failed | dead-lettered | would fire
    detail: str = ""
    workflow: str | None = None
    resource: Any = None  # the rendered resource, in an offline test


@dataclass
class TriggerDecision:
    trigger: str
    condition: str
    pending: list[str]
    outcome: str
    detail: str = ""
    key: str | None = None
    workflow: str | None = None
    events: dict[str, str] = field(default_factory=dict)  # dependency -> event id
    resource: Any = None


@dataclass
class Decision:
    namespace: str
    sensor: str
    dependency: str
    event: dict[str, Any]
    at: str
    passed: bool
    filters: list[dict[str, Any]] = field(default_factory=list)
    triggers: list[TriggerDecision] = field(default_factory=list)
    error: str | None = None  # the event could not be read at all

    @property
    def fired(self) -> bool:
        return any(t.outcome in FIRING_OUTCOMES for t in self.triggers)

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON-ready dicts; they share the record's values, to encode at once
        (no deep copy: this runs for every event a sensor takes)."""
        out = dict(vars(self))
        out["triggers"] = [_trigger_dict(t) for t in self.triggers]
        return out

    def lines(self) -> list[str]:
        """The record as a person reads it."""
        ev = self.event
        out = [
            f"event {ev.get('id')} ({ev.get('source')}/{ev.get('subject')}, {ev.get('time')}) "
            f"-> sensor {self.namespace}/{self.sensor}, dependency {self.dependency}"
        ]
        if self.error:
            out.append(f"  rejected: {self.error}")
            return out
        if not self.filters:
            out.append("  filters: none")
        for verdict in self.filters:
            mark = "pass" if verdict.get("passed") else "FAIL"
            out.append(
                f"  {verdict.get('kind')}[{verdict.get('index')}] {mark}: {verdict.get('detail')}"
            )
        if not self.passed:
            out.append("  -> filtered out: no trigger considered")
        for t in self.triggers:
            line = f"  trigger {t.trigger} [{t.condition}]: {t.outcome}"
            if t.workflow:
                line += f" -> workflow {t.workflow}"
            if t.detail:
                line += f" ({t.detail})"
            out.append(line)
            if t.outcome == WAITING:
                out.append(f"    pending: {', '.join(t.pending) or 'none'}")
        return out


def _trigger_dict(trigger: TriggerDecision) -> dict[str, Any]:
    out = dict(vars(trigger))
    if out["resource"] is None:
        del out["resource"]
    return out


def event_summary(event: Mapping[str, Any]) -> dict[str, Any]:
    """The CloudEvent attributes a record keeps (not the data, which may be large)."""
    return {k: event.get(k) for k in ("id", "source", "subject", "type", "time") if k in event}


def check_event(value: Any) -> dict[str, Any]:
    """``value`` as an event a sensor can take: a JSON object with ``id``, ``source`` (the
    EventSource) and ``subject`` (the event name), as the bus carries them; ValueError says
    what is wrong."""
    if not isinstance(value, dict):
        raise ValueError(f"not a CloudEvent: a JSON {json_kind(value)}")
    missing = [k for k in ("id", "source", "subject") if not value.get(k)]
    if missing:
        raise ValueError(f"not a CloudEvent: no {', '.join(missing)}")
    return value


def json_kind(value: Any) -> str:
    """The JSON type of a decoded JSON value: object, array, string, number, boolean, null."""
    return _JSON_KINDS.get(type(value), "number")


_JSON_KINDS = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}

"""Event dependencies and the filters that decide whether an event counts.

A dependency names one event of one EventSource; its ``filters`` are checked on every event
before the event can satisfy a trigger's condition, in Argo's order: exprs, data, context, time.
Every field is optional at this level, as in Argo's Go types; which ones a filter really needs
(a data filter's ``path``, ``type`` and ``value``) is checked by :mod:`sensor.validation`, so
the message can say what is missing and why.
"""

from __future__ import annotations

from sensor.models.common import SensorModel


class TimeFilter(SensorModel):
    """Only events between ``start`` and ``stop`` (``hh:mm:ss``, UTC unless ``timezone``) pass.

    A ``stop`` before ``start`` means the window spans midnight.
    """

    start: str | None = None
    stop: str | None = None
    timezone: str | None = None


class EventContext(SensorModel):
    """A CloudEvent's context attributes; as a filter, each set attribute must match."""

    id: str | None = None
    source: str | None = None
    specversion: str | None = None
    type: str | None = None
    datacontenttype: str | None = None
    subject: str | None = None
    time: str | None = None


class DataFilter(SensorModel):
    """A constraint on one value of the event payload, found by its gjson ``path``.

    ``value`` is always a list of strings, parsed as ``type`` (string, number or bool) says;
    ``comparator`` is ``=`` (the default), ``!=``, ``>``, ``>=``, ``<`` or ``<=``.
    """

    path: str | None = None
    type: str | None = None
    value: list[str] | None = None
    comparator: str | None = None
    template: str | None = None


class PayloadField(SensorModel):
    """Binds the payload value at ``path`` to ``name``, a variable of an expr filter."""

    path: str | None = None
    name: str | None = None


class ExprFilter(SensorModel):
    """A govaluate expression over the payload values its ``fields`` bind."""

    expr: str | None = None
    fields: list[PayloadField] | None = None


class EventDependencyFilter(SensorModel):
    time: TimeFilter | None = None
    context: EventContext | None = None
    data: list[DataFilter] | None = None
    exprs: list[ExprFilter] | None = None
    data_logical_operator: str | None = None
    expr_logical_operator: str | None = None
    script: str | None = None  # Lua; sluice reports it as unsupported


class EventDependencyTransformer(SensorModel):
    """Rewrites the event before filters and triggers see it: a jq program or a Lua script."""

    jq: str | None = None
    script: str | None = None


class EventDependency(SensorModel):
    """``spec.dependencies[]``: one event the sensor waits for, under a name triggers use."""

    name: str
    event_source_name: str | None = None
    event_name: str | None = None
    filters: EventDependencyFilter | None = None
    transform: EventDependencyTransformer | None = None
    filters_logical_operator: str | None = None

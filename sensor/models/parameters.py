"""Trigger parameters: values taken from the events that fired, written into a trigger.

The same shape serves three places in Argo: a trigger's own ``parameters`` (applied to its
template), a trigger type's ``parameters`` (applied to the resource it sends) and a trigger
type's ``payload`` (the body it builds). ``dest`` is an sjson path; ``src`` says which
dependency's event to read and how.
"""

from __future__ import annotations

from sensor.models.common import SensorModel


class TriggerParameterSource(SensorModel):
    """Where a parameter's value comes from.

    A key (gjson path into the event's context or data) or a Go template over it; a template is
    tried first and falls back to the key. ``value`` is the default when neither resolves, and
    ``useRawData`` keeps the value's JSON type instead of turning it into a string.
    """

    dependency_name: str | None = None
    context_key: str | None = None
    context_template: str | None = None
    data_key: str | None = None
    data_template: str | None = None
    value: str | None = None
    use_raw_data: bool | None = None


class TriggerParameter(SensorModel):
    """``operation`` is ``overwrite`` (the default), ``append`` or ``prepend``."""

    src: TriggerParameterSource | None = None
    dest: str | None = None
    operation: str | None = None

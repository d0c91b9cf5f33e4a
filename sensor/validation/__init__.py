"""Loading a Sensor: the schema first, then the checks a schema cannot express.

Every problem names its file, document and YAML path, and all of them are reported at once::

    sensor.yaml: document 1 (Sensor webhook): spec.triggers[0].template.conditions:
    unknown dependency 'dep-3'; did you mean 'dep-2'?
"""

from __future__ import annotations

import re
from typing import Any

from sensor.models import KINDS, Sensor, Trigger
from sensor.validation.dependencies import check_dependencies
from sensor.validation.report import Problems
from sensor.validation.triggers import check_triggers
from sluice.core.errors import SpecError
from sluice.core.resources import RawResource, validate_kind

__all__ = ["parse_sensor", "sensor_problems"]

# A field of the trigger written inside its template, as Argo's own trigger-with-policy.yaml
# does with `policy` (Argo drops it silently).
_IN_TEMPLATE = re.compile(
    r"spec\.triggers\[\d+\](?:\.dlqTrigger)*\.template\.(?P<key>\w+): unknown field$"
)
_TRIGGER_KEYS = {f.alias or name for name, f in Trigger.model_fields.items()} - {"template"}


def _hint(problem: str) -> str:
    match = _IN_TEMPLATE.search(problem)
    if match is None or match["key"] not in _TRIGGER_KEYS:
        return problem
    return f"{problem}; '{match['key']}' belongs to the trigger: write it beside 'template'"


def sensor_problems(sensor: Sensor, where: str) -> list[str]:
    """Every problem of a schema-valid Sensor, each as ``WHERE: PATH: MESSAGE``."""
    problems = Problems()
    check_dependencies(sensor.spec.dependencies, problems)
    check_triggers(sensor.spec, problems)
    return problems.lines(where)


def parse_sensor(raw: RawResource | dict[str, Any]) -> Sensor:
    """Validate one Sensor document; a SpecError lists every problem with its path.

    Schema problems come first and alone (the checks need a model to run on). A plain dict is
    accepted too (an API request body); its problems are labelled with the kind and name it
    gives.
    """
    if not isinstance(raw, RawResource):
        unlabelled = RawResource(file="", index=1, data=raw)
        label = " ".join(p for p in (unlabelled.kind, unlabelled.name) if p) or "Sensor"
        raw = RawResource(file="", index=1, data=raw, label=label)
    try:
        sensor = validate_kind(raw, KINDS)
    except SpecError as exc:
        raise SpecError([_hint(p) for p in exc.problems]) from exc
    problems = sensor_problems(sensor, raw.where())
    if problems:
        raise SpecError(problems)
    return sensor

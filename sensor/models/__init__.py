"""The Sensor resource of Argo Events, so that any Argo Sensor YAML loads unchanged.

A Sensor waits for events (``spec.dependencies``, each with optional filters) and runs
``spec.triggers`` when a trigger's condition over those dependencies holds. The models mirror
Argo's ``pkg/apis/events/v1alpha1`` field for field; the checks a schema cannot express (a
condition naming an unknown dependency, a comparator Argo does not know) are in
:mod:`sensor.validation`, which also holds :func:`~sensor.validation.parse_sensor`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ConfigDict

from sensor.models.artifacts import ArtifactLocation, S3Artifact, URLArtifact
from sensor.models.common import (
    Backoff,
    BasicAuth,
    ConfigMapKeySelector,
    SecretKeySelector,
    SensorModel,
    Template,
    TLSConfig,
)
from sensor.models.filters import (
    DataFilter,
    EventContext,
    EventDependency,
    EventDependencyFilter,
    EventDependencyTransformer,
    ExprFilter,
    PayloadField,
    TimeFilter,
)
from sensor.models.parameters import TriggerParameter, TriggerParameterSource
from sensor.models.trigger_types import TriggerType, parameter_lists
from sensor.models.triggers import (
    ConditionsResetByTime,
    ConditionsResetCriteria,
    K8SResourcePolicy,
    RateLimit,
    StatusPolicy,
    Trigger,
    TriggerPolicy,
    TriggerTemplate,
    trigger_type_fields,
)
from sluice.core.model import ArgoResource


class SensorSpec(SensorModel):
    """``spec`` of a Sensor, field for field as in Argo Events' ``SensorSpec``."""

    dependencies: list[EventDependency]
    triggers: list[Trigger]
    template: Template | None = None
    error_on_failed_round: bool | None = None
    event_bus_name: str | None = None
    replicas: int | None = None
    revision_history_limit: int | None = None
    logging_fields: dict[str, str] | None = None

    def dependency_names(self) -> list[str]:
        return [dep.name for dep in self.dependencies]


class Sensor(ArgoResource):
    """An ``argoproj.io/v1alpha1`` Sensor."""

    model_config = ConfigDict(strict=True)  # as SensorModel: Go's decoder converts nothing

    KIND: ClassVar[str] = "Sensor"

    kind: str = "Sensor"
    spec: SensorSpec
    status: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.metadata.name or self.metadata.generate_name or ""


KINDS: dict[str, type[Sensor]] = {Sensor.KIND: Sensor}

__all__ = [
    "KINDS",
    "ArtifactLocation",
    "Backoff",
    "BasicAuth",
    "ConditionsResetByTime",
    "ConditionsResetCriteria",
    "ConfigMapKeySelector",
    "DataFilter",
    "EventContext",
    "EventDependency",
    "EventDependencyFilter",
    "EventDependencyTransformer",
    "ExprFilter",
    "K8SResourcePolicy",
    "PayloadField",
    "RateLimit",
    "S3Artifact",
    "SecretKeySelector",
    "Sensor",
    "SensorModel",
    "SensorSpec",
    "StatusPolicy",
    "TLSConfig",
    "Template",
    "TimeFilter",
    "Trigger",
    "TriggerParameter",
    "TriggerParameterSource",
    "TriggerPolicy",
    "TriggerTemplate",
    "TriggerType",
    "URLArtifact",
    "parameter_lists",
    "trigger_type_fields",
]

"""``spec.triggers[]``: what a sensor does once its dependencies are satisfied.

A trigger is a ``template`` (its name, its ``conditions`` and exactly one trigger type) plus
how it runs: template-level ``parameters``, a result ``policy``, ``retryStrategy``,
``rateLimit``, ``atLeastOnce`` delivery and a ``dlqTrigger`` for events it could not deliver.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from sensor.models.common import Backoff, SensorModel
from sensor.models.parameters import TriggerParameter
from sensor.models.trigger_types import (
    ArgoWorkflowTrigger,
    AWSLambdaTrigger,
    AzureEventHubsTrigger,
    AzureServiceBusTrigger,
    CustomTrigger,
    EmailTrigger,
    GCPCloudFunctionsTrigger,
    GRPCTrigger,
    HTTPTrigger,
    KafkaTrigger,
    LogTrigger,
    NATSTrigger,
    OpenWhiskTrigger,
    PulsarTrigger,
    SlackTrigger,
    StandardK8STrigger,
    TriggerType,
)


class ConditionsResetByTime(SensorModel):
    """Forget the dependencies seen so far on a five-field cron schedule (UTC by default)."""

    cron: str | None = None
    timezone: str | None = None


class ConditionsResetCriteria(SensorModel):
    by_time: ConditionsResetByTime | None = None


class TriggerTemplate(SensorModel):
    """``conditions`` is a boolean expression over dependency names, e.g. ``(a || b) && c``;
    empty means every dependency. See :mod:`sensor.conditions`.
    """

    name: str
    conditions: str | None = None
    conditions_reset: list[ConditionsResetCriteria] | None = None
    k8s: StandardK8STrigger | None = Field(default=None, alias="k8s")
    argo_workflow: ArgoWorkflowTrigger | None = None
    http: HTTPTrigger | None = None
    aws_lambda: AWSLambdaTrigger | None = None
    custom: CustomTrigger | None = None
    kafka: KafkaTrigger | None = None
    nats: NATSTrigger | None = None
    slack: SlackTrigger | None = None
    open_whisk: OpenWhiskTrigger | None = None
    log: LogTrigger | None = None
    azure_event_hubs: AzureEventHubsTrigger | None = None
    pulsar: PulsarTrigger | None = None
    azure_service_bus: AzureServiceBusTrigger | None = None
    email: EmailTrigger | None = None
    grpc: GRPCTrigger | None = None
    gcp_cloud_functions: GCPCloudFunctionsTrigger | None = None

    def trigger_types(self) -> dict[str, TriggerType]:
        """The trigger types this template sets, by YAML key; a valid template sets one."""
        out: dict[str, TriggerType] = {}
        for name, key in _TRIGGER_TYPE_FIELDS.items():
            value = getattr(self, name)
            if value is not None:
                out[key] = value
        return out


def _trigger_type_of(annotation: object) -> type[TriggerType] | None:
    for arg in getattr(annotation, "__args__", ()) or (annotation,):
        if isinstance(arg, type) and issubclass(arg, TriggerType):
            return arg
    return None


def _trigger_type_fields(model: type[BaseModel]) -> dict[str, str]:
    return {
        name: field.alias or name
        for name, field in model.model_fields.items()
        if _trigger_type_of(field.annotation) is not None
    }


_TRIGGER_TYPE_FIELDS = _trigger_type_fields(TriggerTemplate)


def trigger_type_fields() -> tuple[str, ...]:
    """The YAML key of every trigger type ``TriggerTemplate`` accepts, in declaration order."""
    return tuple(_TRIGGER_TYPE_FIELDS.values())


class K8SResourcePolicy(SensorModel):
    """Wait (with ``backoff``) until the created resource carries ``labels``."""

    labels: dict[str, str] | None = None
    backoff: Backoff | None = None
    error_on_backoff_timeout: bool | None = None


class StatusPolicy(SensorModel):
    """The response statuses (HTTP, or gRPC codes) that count as success."""

    allow: list[int] | None = None


class TriggerPolicy(SensorModel):
    k8s: K8SResourcePolicy | None = Field(default=None, alias="k8s")
    status: StatusPolicy | None = None


class RateLimit(SensorModel):
    """At most ``requestsPerUnit`` runs per ``unit`` (Second, the default, Minute or Hour)."""

    unit: str | None = None
    requests_per_unit: int | None = None


class Trigger(SensorModel):
    template: TriggerTemplate
    parameters: list[TriggerParameter] | None = None
    policy: TriggerPolicy | None = None
    retry_strategy: Backoff | None = None
    rate_limit: RateLimit | None = None
    at_least_once: bool | None = None
    dlq_trigger: Trigger | None = None
    weight: int | None = None  # Argo Events 1.10+: share of events among weighted triggers

    @property
    def name(self) -> str:
        return self.template.name

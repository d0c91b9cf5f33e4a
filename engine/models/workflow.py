"""The four ``argoproj.io/v1alpha1`` kinds the engine runs, and loading them from files.

Workflow, WorkflowTemplate and ClusterWorkflowTemplate share one spec; a CronWorkflow wraps it
with a schedule. ``KINDS`` maps each kind name to its model so callers dispatch on ``kind``
instead of chaining ifs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, cast

from pydantic import Field

from engine.models.k8s import PersistentVolumeClaim, Volume
from engine.models.params import Arguments
from engine.models.template import (
    ExecutorConfig,
    LifecycleHook,
    Metadata,
    RetryStrategy,
    Synchronization,
    Template,
)
from sluice.core.errors import SpecError
from sluice.core.model import ArgoResource, ObjectMeta, SpecModel
from sluice.core.resources import (
    RawResource,
    iter_resource_files,
    load_file,
    validate_kind,
)


class WorkflowTemplateRef(SpecModel):
    name: str | None = None
    cluster_scope: bool | None = None


class TTLStrategy(SpecModel):
    seconds_after_completion: int | None = None
    seconds_after_success: int | None = None
    seconds_after_failure: int | None = None


class PodGC(SpecModel):
    strategy: str | None = None
    label_selector: dict[str, Any] | None = None
    delete_delay_duration: str | None = None


class VolumeClaimGC(SpecModel):
    strategy: str | None = None


class ArtifactRepositoryRef(SpecModel):
    config_map: str | None = None
    key: str | None = None


class LabelValueFrom(SpecModel):
    expression: str


class WorkflowMetadata(SpecModel):
    """Labels and annotations put on the Workflow itself; ``labelsFrom`` are expressions."""

    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    labels_from: dict[str, LabelValueFrom] | None = None


class WorkflowSpec(SpecModel):
    """The spec shared by Workflow, WorkflowTemplate and ClusterWorkflowTemplate."""

    entrypoint: str | None = None
    arguments: Arguments | None = None
    templates: list[Template] | None = None
    template_defaults: Template | None = None
    workflow_template_ref: WorkflowTemplateRef | None = None
    on_exit: str | None = None
    hooks: dict[str, LifecycleHook] | None = None

    parallelism: int | None = None
    suspend: bool | None = None
    shutdown: str | None = None
    active_deadline_seconds: int | None = None
    retry_strategy: RetryStrategy | None = None
    synchronization: Synchronization | None = None
    priority: int | None = None
    ttl_strategy: TTLStrategy | None = None
    pod_gc: PodGC | None = Field(default=None, alias="podGC")
    volume_claim_gc: VolumeClaimGC | None = Field(default=None, alias="volumeClaimGC")
    artifact_gc: dict[str, Any] | None = Field(default=None, alias="artifactGC")
    archive_logs: bool | None = None
    artifact_repository_ref: ArtifactRepositoryRef | None = None
    workflow_metadata: WorkflowMetadata | None = None
    metrics: dict[str, Any] | None = None

    volumes: list[Volume] | None = None
    volume_claim_templates: list[PersistentVolumeClaim] | None = None
    service_account_name: str | None = None
    automount_service_account_token: bool | None = None
    executor: ExecutorConfig | None = None
    pod_metadata: Metadata | None = None
    pod_spec_patch: str | None = None
    pod_priority: int | None = None
    pod_priority_class_name: str | None = None
    pod_disruption_budget: dict[str, Any] | None = None
    node_selector: dict[str, str] | None = None
    tolerations: list[dict[str, Any]] | None = None
    affinity: dict[str, Any] | None = None
    security_context: dict[str, Any] | None = None
    image_pull_secrets: list[dict[str, Any]] | None = None
    host_network: bool | None = None
    host_aliases: list[dict[str, Any]] | None = None
    dns_policy: str | None = None
    dns_config: dict[str, Any] | None = None
    scheduler_name: str | None = None


class StopStrategy(SpecModel):
    expression: str


class CronWorkflowSpec(SpecModel):
    workflow_spec: WorkflowSpec
    schedule: str | None = None
    schedules: list[str] | None = None
    timezone: str | None = None
    concurrency_policy: str | None = None
    starting_deadline_seconds: int | None = None
    suspend: bool | None = None
    successful_jobs_history_limit: int | None = None
    failed_jobs_history_limit: int | None = None
    when: str | None = None
    stop_strategy: StopStrategy | None = None
    workflow_metadata: ObjectMeta | None = None


class Workflow(ArgoResource):
    KIND: ClassVar[str] = "Workflow"
    kind: str = "Workflow"
    spec: WorkflowSpec
    status: dict[str, Any] | None = None


class WorkflowTemplate(ArgoResource):
    KIND: ClassVar[str] = "WorkflowTemplate"
    kind: str = "WorkflowTemplate"
    spec: WorkflowSpec


class ClusterWorkflowTemplate(ArgoResource):
    KIND: ClassVar[str] = "ClusterWorkflowTemplate"
    kind: str = "ClusterWorkflowTemplate"
    spec: WorkflowSpec


class CronWorkflow(ArgoResource):
    KIND: ClassVar[str] = "CronWorkflow"
    kind: str = "CronWorkflow"
    spec: CronWorkflowSpec
    status: dict[str, Any] | None = None


WorkflowResource = Workflow | WorkflowTemplate | ClusterWorkflowTemplate | CronWorkflow

KINDS: dict[str, type[ArgoResource]] = {
    model.KIND: model
    for model in (Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow)
}


def parse_resource(raw: RawResource) -> WorkflowResource:
    """Validate one document against the model its ``kind`` names; SpecError lists every problem."""
    resource = validate_kind(raw, KINDS)
    return cast(WorkflowResource, resource)


def load_workflow_resources(path: str | Path) -> list[WorkflowResource]:
    """Every workflow resource in a file or folder; a SpecError lists the problems of all."""
    out: list[WorkflowResource] = []
    problems: list[str] = []
    for file in iter_resource_files([path]):
        try:
            raws = load_file(file)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        for raw in raws:
            try:
                out.append(parse_resource(raw))
            except SpecError as exc:
                problems.extend(exc.problems)
    if problems:
        raise SpecError(problems)
    return out

"""Argo's ``Template`` and everything a template can be: container, script, steps, dag, ...

A template is one unit of work. It defines exactly one kind of body (see ``TEMPLATE_KINDS``);
steps and DAG tasks call other templates by name, by ``templateRef`` or inline. The linter
checks those rules; these models only check shapes.
"""

from __future__ import annotations

from typing import Any

from pydantic import field_validator
from pydantic_core import PydanticCustomError

from engine.models.k8s import Container, KeySelector, UserContainer, Volume, VolumeMount
from engine.models.params import Arguments, Artifact, Inputs, Outputs
from engine.models.types import AnyString, IntOrString, NumberOrString
from sluice.core.model import SpecModel

# YAML key → attribute of every body a template may define; exactly one must be set.
TEMPLATE_KINDS: dict[str, str] = {
    "container": "container",
    "script": "script",
    "steps": "steps",
    "dag": "dag",
    "suspend": "suspend",
    "resource": "resource",
    "http": "http",
    "containerSet": "container_set",
    "data": "data",
    "plugin": "plugin",
}


class TemplateRef(SpecModel):
    """A template of a (Cluster)WorkflowTemplate: ``templateRef: {name, template}``."""

    name: str | None = None
    template: str | None = None
    cluster_scope: bool | None = None


class ContinueOn(SpecModel):
    failed: bool | None = None
    error: bool | None = None


class Sequence(SpecModel):
    """``withSequence``: numbers may be written as ints or strings; they are kept as strings."""

    count: AnyString | None = None
    start: AnyString | None = None
    end: AnyString | None = None
    format: str | None = None


class LifecycleHook(SpecModel):
    template: str | None = None
    template_ref: TemplateRef | None = None
    arguments: Arguments | None = None
    expression: str | None = None


class Backoff(SpecModel):
    duration: IntOrString | None = None
    factor: NumberOrString | None = None
    max_duration: IntOrString | None = None
    cap: IntOrString | None = None


class RetryStrategy(SpecModel):
    limit: IntOrString | None = None
    retry_policy: str | None = None
    backoff: Backoff | None = None
    expression: str | None = None
    affinity: dict[str, Any] | None = None


class Mutex(SpecModel):
    name: str | None = None
    namespace: str | None = None
    database: bool | None = None


class SemaphoreRef(SpecModel):
    config_map_key_ref: KeySelector | None = None
    namespace: str | None = None
    database: dict[str, Any] | None = None


class Synchronization(SpecModel):
    """Locks held while a workflow or template runs (singular forms are Argo's older spelling)."""

    mutex: Mutex | None = None
    mutexes: list[Mutex] | None = None
    semaphore: SemaphoreRef | None = None
    semaphores: list[SemaphoreRef] | None = None


class Cache(SpecModel):
    config_map: KeySelector


class Memoize(SpecModel):
    key: str
    cache: Cache
    max_age: str | None = None


class Metadata(SpecModel):
    """Labels and annotations put on a template's pod."""

    annotations: dict[str, str] | None = None
    labels: dict[str, str] | None = None


class ExecutorConfig(SpecModel):
    service_account_name: str | None = None


class SuspendTemplate(SpecModel):
    duration: AnyString | None = None


class ScriptTemplate(Container):
    """A container whose ``source`` is written to a file and run by ``command``."""

    source: str


class ContainerNode(Container):
    """A container of a ``containerSet``; it starts after its ``dependencies``."""

    dependencies: list[str] | None = None


class ContainerSetRetryStrategy(SpecModel):
    duration: IntOrString | None = None
    retries: IntOrString


class ContainerSetTemplate(SpecModel):
    containers: list[ContainerNode]
    volume_mounts: list[VolumeMount] | None = None
    retry_strategy: ContainerSetRetryStrategy | None = None


class ManifestFrom(SpecModel):
    artifact: Artifact


class ResourceTemplate(SpecModel):
    action: str
    manifest: str | None = None
    manifest_from: ManifestFrom | None = None
    success_condition: str | None = None
    failure_condition: str | None = None
    set_owner_reference: bool | None = None
    merge_strategy: str | None = None
    flags: list[str] | None = None


class HTTPHeaderSource(SpecModel):
    secret_key_ref: KeySelector | None = None


class HTTPHeader(SpecModel):
    name: str
    value: str | None = None
    value_from: HTTPHeaderSource | None = None


class HTTPBodySource(SpecModel):
    bytes: str | None = None


class HTTP(SpecModel):
    """The ``http`` template: one request, judged by ``successCondition``."""

    method: str | None = None
    url: str
    headers: list[HTTPHeader] | None = None
    body: str | None = None
    body_from: HTTPBodySource | None = None
    timeout_seconds: int | None = None
    success_condition: str | None = None
    insecure_skip_verify: bool | None = None


class DataSource(SpecModel):
    artifact_paths: Artifact | None = None


class TransformationStep(SpecModel):
    expression: str


class Data(SpecModel):
    source: DataSource
    transformation: list[TransformationStep]


class _Call(SpecModel):
    """What steps and DAG tasks share: which template to run, with what, how often, and when."""

    name: str
    template: str | None = None
    template_ref: TemplateRef | None = None
    inline: Template | None = None
    arguments: Arguments | None = None
    when: str | None = None
    with_items: list[Any] | None = None
    with_param: str | None = None
    with_sequence: Sequence | None = None
    continue_on: ContinueOn | None = None
    on_exit: str | None = None
    hooks: dict[str, LifecycleHook] | None = None


class WorkflowStep(_Call):
    """One step of a step group; the groups of a ``steps`` template run one after another."""


class DAGTask(_Call):
    dependencies: list[str] | None = None
    depends: str | None = None


class DAGTemplate(SpecModel):
    tasks: list[DAGTask]
    target: str | None = None
    fail_fast: bool | None = None


class Template(SpecModel):
    """A reusable unit of work in a workflow."""

    name: str | None = None
    inputs: Inputs | None = None
    outputs: Outputs | None = None

    container: Container | None = None
    script: ScriptTemplate | None = None
    steps: list[list[WorkflowStep]] | None = None
    dag: DAGTemplate | None = None
    suspend: SuspendTemplate | None = None
    resource: ResourceTemplate | None = None
    http: HTTP | None = None
    container_set: ContainerSetTemplate | None = None
    data: Data | None = None
    plugin: dict[str, Any] | None = None

    sidecars: list[UserContainer] | None = None
    init_containers: list[UserContainer] | None = None
    volumes: list[Volume] | None = None
    daemon: bool | None = None
    retry_strategy: RetryStrategy | None = None
    timeout: str | None = None
    active_deadline_seconds: IntOrString | None = None
    parallelism: int | None = None
    fail_fast: bool | None = None
    synchronization: Synchronization | None = None
    memoize: Memoize | None = None
    # Not in Argo's Template (hooks belong to steps and tasks); accepted for sluice's engine.
    hooks: dict[str, LifecycleHook] | None = None
    metadata: Metadata | None = None
    annotations: dict[str, str] | None = None
    metrics: dict[str, Any] | None = None
    executor: ExecutorConfig | None = None
    archive_location: dict[str, Any] | None = None

    node_selector: dict[str, str] | None = None
    tolerations: list[dict[str, Any]] | None = None
    affinity: dict[str, Any] | None = None
    security_context: dict[str, Any] | None = None
    pod_spec_patch: str | None = None
    service_account_name: str | None = None
    automount_service_account_token: bool | None = None
    priority_class_name: str | None = None
    priority: int | None = None
    scheduler_name: str | None = None
    host_aliases: list[dict[str, Any]] | None = None

    @field_validator("steps", mode="before")
    @classmethod
    def _steps_are_groups(cls, value: Any) -> Any:
        # Argo's steps are a list of parallel groups; a flat list is a common slip.
        if isinstance(value, list) and any(isinstance(group, dict) for group in value):
            raise PydanticCustomError(
                "steps_groups",
                "steps must be a list of step groups, each a list of steps: write '- - name: ...'",
            )
        return value

    def kinds(self) -> list[str]:
        """The YAML keys of the bodies this template defines (exactly one when valid)."""
        return [key for key, attr in TEMPLATE_KINDS.items() if getattr(self, attr) is not None]


WorkflowStep.model_rebuild()
DAGTask.model_rebuild()

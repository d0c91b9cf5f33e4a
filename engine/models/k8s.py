"""The Kubernetes structures a workflow embeds: containers, env, volumes and their mounts.

What sluice's executors act on (command, args, env, resources, volume mounts) is typed and
strict, so a typo names its path. What sluice only carries to a pod (probes, security
contexts, lifecycle handlers, volume sources) is kept as plain data and never rejected.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from engine.models.types import NumberOrString
from sluice.core.model import ObjectMeta, OpenModel, SpecModel


class KeySelector(SpecModel):
    """A key of a ConfigMap or Secret (``configMapKeyRef`` / ``secretKeyRef``)."""

    name: str | None = None
    key: str
    optional: bool | None = None


class ObjectFieldSelector(SpecModel):
    api_version: str | None = None
    field_path: str


class ResourceFieldSelector(SpecModel):
    container_name: str | None = None
    resource: str
    divisor: NumberOrString | None = None


class EnvVarSource(SpecModel):
    secret_key_ref: KeySelector | None = None
    config_map_key_ref: KeySelector | None = None
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    file_key_ref: dict[str, Any] | None = None


class EnvVar(SpecModel):
    name: str
    value: str | None = None
    value_from: EnvVarSource | None = None


class LocalRef(SpecModel):
    """A whole ConfigMap or Secret by name (``envFrom``)."""

    name: str | None = None
    optional: bool | None = None


class EnvFromSource(SpecModel):
    prefix: str | None = None
    config_map_ref: LocalRef | None = None
    secret_ref: LocalRef | None = None


class ContainerPort(SpecModel):
    name: str | None = None
    container_port: int
    host_port: int | None = None
    host_ip: str | None = Field(default=None, alias="hostIP")
    protocol: str | None = None


class ResourceRequirements(SpecModel):
    limits: dict[str, NumberOrString] | None = None
    requests: dict[str, NumberOrString] | None = None
    claims: list[dict[str, Any]] | None = None


class VolumeMount(SpecModel):
    name: str
    mount_path: str
    read_only: bool | None = None
    recursive_read_only: str | None = None
    sub_path: str | None = None
    sub_path_expr: str | None = None
    mount_propagation: str | None = None


class Container(SpecModel):
    """A Kubernetes container, every field of ``core/v1 Container``."""

    name: str | None = None
    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    working_dir: str | None = None
    ports: list[ContainerPort] | None = None
    env_from: list[EnvFromSource] | None = None
    env: list[EnvVar] | None = None
    resources: ResourceRequirements | None = None
    resize_policy: list[dict[str, Any]] | None = None
    restart_policy: str | None = None
    restart_policy_rules: list[dict[str, Any]] | None = None
    volume_mounts: list[VolumeMount] | None = None
    volume_devices: list[dict[str, Any]] | None = None
    liveness_probe: dict[str, Any] | None = None
    readiness_probe: dict[str, Any] | None = None
    startup_probe: dict[str, Any] | None = None
    lifecycle: dict[str, Any] | None = None
    termination_message_path: str | None = None
    termination_message_policy: str | None = None
    image_pull_policy: str | None = None
    security_context: dict[str, Any] | None = None
    stdin: bool | None = None
    stdin_once: bool | None = None
    tty: bool | None = None


class UserContainer(Container):
    """A sidecar or init container: a Container that may mirror the main one's mounts."""

    mirror_volume_mounts: bool | None = None


class Volume(OpenModel):
    """A pod volume. The source (``emptyDir``, ``persistentVolumeClaim``, ...) is kept as is."""

    name: str
    empty_dir: dict[str, Any] | None = None
    host_path: dict[str, Any] | None = None
    persistent_volume_claim: dict[str, Any] | None = None
    config_map: dict[str, Any] | None = None
    secret: dict[str, Any] | None = None


class PersistentVolumeClaim(OpenModel):
    """An entry of ``volumeClaimTemplates``: the claim's spec is carried, not interpreted."""

    api_version: str | None = None
    kind: str | None = None
    metadata: ObjectMeta | None = None
    spec: dict[str, Any] | None = None

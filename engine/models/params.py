"""What flows between templates: parameters, artifacts, and the inputs/outputs/arguments lists.

Parameter values are Argo's AnyString, so ``value: 3`` in YAML reads as the string ``"3"``.
Artifacts carry many storage back-ends sluice may not drive, so their model keeps unknown keys.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from engine.models.k8s import KeySelector
from engine.models.types import AnyString
from sluice.core.model import OpenModel, SpecModel


class ValueFrom(SpecModel):
    """Where a parameter's value comes from when it is not given literally."""

    path: str | None = None
    json_path: str | None = None
    jq_filter: str | None = None
    event: str | None = None
    parameter: str | None = None
    supplied: dict[str, Any] | None = None
    config_map_key_ref: KeySelector | None = None
    default: AnyString | None = None
    expression: str | None = None


class Parameter(SpecModel):
    name: str
    value: AnyString | None = None
    default: AnyString | None = None
    enum: list[AnyString] | None = None
    description: AnyString | None = None
    global_name: str | None = None
    value_from: ValueFrom | None = None


class Artifact(OpenModel):
    """An input or output artifact. Storage locations (s3, gcs, git, ...) are kept as given."""

    name: str
    path: str | None = None
    from_: str | None = Field(default=None, alias="from")
    from_expression: str | None = None
    mode: int | None = None
    global_name: str | None = None
    optional: bool | None = None
    sub_path: str | None = None
    recurse_mode: bool | None = None
    archive: dict[str, Any] | None = None
    archive_logs: bool | None = None
    artifact_gc: dict[str, Any] | None = Field(default=None, alias="artifactGC")
    deleted: bool | None = None
    raw: dict[str, Any] | None = None
    http: dict[str, Any] | None = None
    s3: dict[str, Any] | None = None
    gcs: dict[str, Any] | None = None
    git: dict[str, Any] | None = None
    oss: dict[str, Any] | None = None
    hdfs: dict[str, Any] | None = None
    azure: dict[str, Any] | None = None
    artifactory: dict[str, Any] | None = None
    plugin: dict[str, Any] | None = None


class Arguments(SpecModel):
    """What a caller passes to a template (or a submitter to a workflow)."""

    parameters: list[Parameter] | None = None
    artifacts: list[Artifact] | None = None


class Inputs(SpecModel):
    parameters: list[Parameter] | None = None
    artifacts: list[Artifact] | None = None


class Outputs(SpecModel):
    parameters: list[Parameter] | None = None
    artifacts: list[Artifact] | None = None
    result: str | None = None
    exit_code: str | None = None

"""The base model every resource spec derives from.

Specs mirror Argo's YAML: snake_case attributes, camelCase aliases, unknown keys are errors.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class SpecModel(BaseModel):
    """Strict model: unknown fields are rejected, fields are addressed by their YAML names."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_default=False,
    )

    def to_yaml_dict(self) -> dict[str, Any]:
        """The resource as Argo writes it: camelCase keys, unset fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class OpenModel(SpecModel):
    """A model for Kubernetes structures sluice carries but does not interpret: extra keys kept."""

    model_config = ConfigDict(extra="allow")


class ObjectMeta(OpenModel):
    """Kubernetes object metadata, as much of it as sluice reads; the rest is kept."""

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    creation_timestamp: str | None = None
    resource_version: str | None = None

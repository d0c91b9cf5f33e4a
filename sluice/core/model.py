"""The base model every resource spec derives from.

Specs mirror Argo's YAML: snake_case attributes, camelCase aliases, unknown keys are errors.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

API_VERSION = "argoproj.io/v1alpha1"


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


class ArgoResource(SpecModel):
    """What every kind has: ``apiVersion`` (always argoproj.io/v1alpha1), ``kind``, metadata.

    A subclass names its kind in ``KIND``; any other ``kind`` or ``apiVersion`` is an error.
    """

    KIND: ClassVar[str] = ""

    api_version: str = API_VERSION
    kind: str = ""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)

    @field_validator("api_version")
    @classmethod
    def _check_api_version(cls, value: str) -> str:
        if value != API_VERSION:
            raise PydanticCustomError(
                "api_version",
                "must be '{expected}', got '{got}'",
                {"expected": API_VERSION, "got": value},
            )
        return value

    @field_validator("kind")
    @classmethod
    def _check_kind(cls, value: str) -> str:
        if value != cls.KIND:
            raise PydanticCustomError(
                "kind", "must be '{expected}', got '{got}'", {"expected": cls.KIND, "got": value}
            )
        return value

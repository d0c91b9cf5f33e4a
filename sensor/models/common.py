"""Building blocks the Sensor models share: secrets, TLS, backoff, auth, the pod template.

Argo Events defines these once for its whole API group (``pkg/apis/events/v1alpha1``). The ones
EventSources share (selectors, basic auth, TLS, backoff) live in ``sluice.core.selectors`` and are
re-exported here; the import-linter contract keeps ``eventsource`` and ``sensor`` apart.
Scalars are validated strictly, as Go's JSON decoder does: ``replicas: "2"`` is an error, and a
quoted number is never silently turned into an int.
"""

from __future__ import annotations

from typing import Any

from sluice.core.model import OpenModel
from sluice.core.selectors import (
    Backoff,
    BasicAuth,
    ConfigMapKeySelector,
    SecretKeySelector,
    StrictModel,
    TLSConfig,
)

__all__ = [
    "Backoff",
    "BasicAuth",
    "ConfigMapKeySelector",
    "SecretKeySelector",
    "SensorModel",
    "TLSConfig",
]

SensorModel = StrictModel  # strict scalars, unknown fields are errors


class SASLConfig(SensorModel):
    mechanism: str | None = None
    user_secret: SecretKeySelector | None = None
    password_secret: SecretKeySelector | None = None


class SchemaRegistryConfig(SensorModel):
    url: str | None = None
    schema_id: int | None = None
    auth: BasicAuth | None = None


class NATSAuth(SensorModel):
    basic: BasicAuth | None = None
    token: SecretKeySelector | None = None
    nkey: SecretKeySelector | None = None
    credential: SecretKeySelector | None = None


class ValueFromSource(SensorModel):
    """Where a secure header's value comes from: a Secret key or a ConfigMap key."""

    secret_key_ref: SecretKeySelector | None = None
    config_map_key_ref: ConfigMapKeySelector | None = None


class SecureHeader(SensorModel):
    """An HTTP or Kafka header whose value is read from a Secret or ConfigMap."""

    name: str | None = None
    value_from: ValueFromSource | None = None


class Template(OpenModel):
    """The Sensor pod template. sluice runs no pod, so it is accepted and kept, not interpreted.

    The fields Argo documents are named so they round-trip under their YAML names; anything else
    (older Argo releases wrote a whole ``spec:`` here) is kept as written.
    """

    metadata: dict[str, Any] | None = None
    service_account_name: str | None = None
    container: dict[str, Any] | None = None
    volumes: list[dict[str, Any]] | None = None
    security_context: dict[str, Any] | None = None
    node_selector: dict[str, str] | None = None
    tolerations: list[dict[str, Any]] | None = None
    image_pull_secrets: list[dict[str, Any]] | None = None
    priority_class_name: str | None = None
    priority: int | None = None
    affinity: dict[str, Any] | None = None

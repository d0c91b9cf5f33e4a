"""Building blocks the Sensor models share: secrets, TLS, backoff, auth, the pod template.

Argo Events defines these once for its whole API group (``pkg/apis/events/v1alpha1``). sluice's
``eventsource`` package has its own copies, and the import-linter contract keeps ``eventsource``
and ``sensor`` apart, so the Sensor side declares the few it needs here rather than reaching
across. Scalars are validated strictly, as Go's JSON decoder does: ``replicas: "2"`` is an
error, and a quoted number is never silently turned into an int.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from sluice.core.model import OpenModel, SpecModel


class SensorModel(SpecModel):
    """Base of the Sensor models: strict scalars, unknown fields are errors."""

    model_config = ConfigDict(strict=True)


class SecretKeySelector(SensorModel):
    """A key of a Kubernetes Secret (``corev1.SecretKeySelector``)."""

    name: str | None = None
    key: str
    optional: bool | None = None


class ConfigMapKeySelector(SensorModel):
    """A key of a Kubernetes ConfigMap (``corev1.ConfigMapKeySelector``)."""

    name: str | None = None
    key: str
    optional: bool | None = None


class BasicAuth(SensorModel):
    username: SecretKeySelector | None = None
    password: SecretKeySelector | None = None


class TLSConfig(SensorModel):
    ca_cert_secret: SecretKeySelector | None = None
    client_cert_secret: SecretKeySelector | None = None
    client_key_secret: SecretKeySelector | None = None
    insecure_skip_verify: bool | None = None
    enabled: bool | None = None


class Backoff(SensorModel):
    """Retry timing: ``duration`` is nanoseconds or a Go duration such as ``3s``.

    ``factor`` and ``jitter`` are Argo's ``Amount``, which only decodes from a JSON number.
    """

    duration: int | str | None = None
    factor: int | float | None = None
    jitter: int | float | None = None
    steps: int | None = None


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

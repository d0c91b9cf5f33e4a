"""The small Kubernetes and Argo types that EventSources and Sensors both embed.

Secret and ConfigMap key selectors, basic auth, TLS settings and the retry ``Backoff`` have the
same fields in Argo Events' EventSource and Sensor types; they are defined once here, strict
like the models around them (Go's decoder converts nothing), and re-exported by
``eventsource.models.common`` and ``sensor.models.common``.
"""

from __future__ import annotations

from pydantic import ConfigDict

from sluice.core.model import SpecModel

__all__ = [
    "Backoff",
    "BasicAuth",
    "ConfigMapKeySelector",
    "SecretKeySelector",
    "StrictModel",
    "TLSConfig",
]


class StrictModel(SpecModel):
    """Base of the Argo Events models: strict scalars, unknown fields are errors."""

    model_config = ConfigDict(strict=True)


class SecretKeySelector(StrictModel):
    """A key of a Kubernetes Secret (``corev1.SecretKeySelector``)."""

    name: str | None = None
    key: str
    optional: bool | None = None


class ConfigMapKeySelector(StrictModel):
    """A key of a Kubernetes ConfigMap (``corev1.ConfigMapKeySelector``)."""

    name: str | None = None
    key: str
    optional: bool | None = None


class BasicAuth(StrictModel):
    username: SecretKeySelector | None = None
    password: SecretKeySelector | None = None


class TLSConfig(StrictModel):
    ca_cert_secret: SecretKeySelector | None = None
    client_cert_secret: SecretKeySelector | None = None
    client_key_secret: SecretKeySelector | None = None
    insecure_skip_verify: bool | None = None
    enabled: bool | None = None


class Backoff(StrictModel):
    """Retry timing: ``duration`` is nanoseconds or a Go duration such as ``3s``.

    ``factor`` and ``jitter`` are Argo's ``Amount``, which only decodes from a JSON number.
    """

    duration: int | str | None = None
    factor: int | float | None = None
    jitter: int | float | None = None
    steps: int | None = None

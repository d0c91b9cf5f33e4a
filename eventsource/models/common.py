"""Building blocks shared by every event type: secrets, TLS, backoff, filters, the webhook context.

The selectors, basic auth, TLS and backoff are Sensors' too: they live in ``sluice.core.selectors``
and are re-exported here.

Field names are Argo Events' (``pkg/apis/events/v1alpha1``). Scalars are validated strictly, as
Go's JSON decoder does: ``port: 12000`` is an error because Argo's webhook port is a string, and a
quoted number is not silently turned into an int.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

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
    "EventSourceModel",
    "SecretKeySelector",
    "TLSConfig",
]

EventSourceModel = StrictModel  # strict scalars, unknown fields are errors


class EventSourceFilter(EventSourceModel):
    """An expr expression evaluated over the event before it is dispatched."""

    expression: str | None = None


class Metadata(EventSourceModel):
    """Labels and annotations put on a generated pod or service."""

    annotations: dict[str, str] | None = None
    labels: dict[str, str] | None = None


class WatchPathConfig(EventSourceModel):
    directory: str | None = None
    path: str | None = None
    path_regexp: str | None = None


class WebhookContext(EventSourceModel):
    """The HTTP server an HTTP-driven source listens with (webhook, github, sns, slack, ...)."""

    endpoint: str | None = None
    method: str | None = None
    port: str | None = None
    url: str | None = None
    server_cert_secret: SecretKeySelector | None = None
    server_key_secret: SecretKeySelector | None = None
    metadata: dict[str, str] | None = None
    auth_secret: SecretKeySelector | None = None
    max_payload_size: int | None = None
    basic_auth: BasicAuth | None = None


class Template(EventSourceModel):
    """The EventSource pod template; Kubernetes structures are kept as they are written."""

    metadata: Metadata | None = None
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


class Service(EventSourceModel):
    """The Kubernetes Service put in front of an HTTP-driven source."""

    metadata: Metadata | None = None
    ports: list[dict[str, Any]] | None = None
    cluster_ip: str | None = Field(default=None, alias="clusterIP")

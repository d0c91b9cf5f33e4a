"""The EventBus resource, as Argo Events writes it (``argoproj.io/v1alpha1``, kind EventBus).

Argo's YAML loads unchanged. Of the Kubernetes-facing fields (pod templates, affinity,
persistence volumes) the local bus uses none, so they are kept as loose mappings; what sluice
acts on is which bus to use — the embedded nats-server (``jetstream`` or ``nats.native``) or an
existing server (``jetstreamExotic.url`` or ``nats.exotic.url``) — and the stream settings.
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from eventbus.errors import BusError
from sluice.core.model import ObjectMeta, SpecModel
from sluice.core.resources import RawResource, validate

Loose = dict[str, Any]


class SecretKeySelector(SpecModel):
    """A key of a Kubernetes Secret."""

    name: str
    key: str
    optional: bool | None = None


class PersistenceStrategy(SpecModel):
    """Where a cluster bus keeps its data; the embedded server always uses the data dir."""

    storage_class_name: str | None = None
    access_mode: str | None = None
    volume_size: str | int | None = None


class _PodFields(SpecModel):
    """The pod-shaping fields Argo's bus StatefulSets take; accepted, unused locally."""

    container_template: Loose | None = None
    metrics_container_template: Loose | None = None
    metadata: Loose | None = None
    node_selector: dict[str, str] | None = None
    tolerations: list[Loose] | None = None
    security_context: Loose | None = None
    image_pull_secrets: list[Loose] | None = None
    priority_class_name: str | None = None
    priority: int | None = None
    affinity: Loose | None = None
    service_account_name: str | None = None
    persistence: PersistenceStrategy | None = None


class JetStreamBus(_PodFields):
    """``spec.jetstream``: a JetStream bus sluice runs itself (the embedded nats-server)."""

    version: str | None = None
    replicas: int | None = None
    reloader_container_template: Loose | None = None
    settings: str | None = None
    start_args: list[str] | None = None
    stream_config: str | None = None
    max_payload: str | int | None = None


class JetStreamConfig(SpecModel):
    """``spec.jetstreamExotic``: an existing JetStream server."""

    url: str | None = None
    access_secret: SecretKeySelector | None = None
    stream_config: str | None = None


class NativeStrategy(_PodFields):
    """``spec.nats.native``: Argo's NATS Streaming bus; sluice runs the embedded server."""

    replicas: int | None = None
    auth: str | None = None
    anti_affinity: bool | None = None
    max_age: str | None = None
    max_msgs: int | None = None
    max_bytes: str | int | None = None
    max_subs: int | None = None
    max_payload: str | int | None = None
    raft_heartbeat_timeout: str | None = None
    raft_election_timeout: str | None = None
    raft_lease_timeout: str | None = None
    raft_commit_timeout: str | None = None


class NATSConfig(SpecModel):
    """``spec.nats.exotic``: an existing NATS server."""

    url: str | None = None
    cluster_id: str | None = Field(default=None, alias="clusterID")
    auth: str | None = None
    access_secret: SecretKeySelector | None = None


class NATSBus(SpecModel):
    """``spec.nats``: exactly one of ``native`` and ``exotic``."""

    native: NativeStrategy | None = None
    exotic: NATSConfig | None = None
    metadata: Loose | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> NATSBus:
        if (self.native is None) == (self.exotic is None):
            raise PydanticCustomError("bus_choice", "give exactly one of 'native' and 'exotic'")
        return self


class EventBusSpec(SpecModel):
    """Exactly one of ``jetstream``, ``jetstreamExotic``, ``nats`` and ``kafka``."""

    nats: NATSBus | None = None
    jetstream: JetStreamBus | None = None
    jetstream_exotic: JetStreamConfig | None = None
    kafka: Loose | None = None

    @model_validator(mode="after")
    def _one_bus(self) -> EventBusSpec:
        buses = (self.nats, self.jetstream, self.jetstream_exotic, self.kafka)
        if sum(bus is not None for bus in buses) != 1:
            raise PydanticCustomError(
                "bus_choice",
                "give exactly one of 'jetstream', 'jetstreamExotic', 'nats' and 'kafka'",
            )
        return self


class EventBus(SpecModel):
    """An Argo Events EventBus."""

    api_version: Literal["argoproj.io/v1alpha1"]
    kind: Literal["EventBus"]
    metadata: ObjectMeta
    spec: EventBusSpec
    status: Loose | None = None

    @property
    def url(self) -> str | None:
        """The existing server to use, or None for the embedded one."""
        spec = self.spec
        if spec.jetstream_exotic is not None:
            return spec.jetstream_exotic.url
        if spec.nats is not None and spec.nats.exotic is not None:
            return spec.nats.exotic.url
        return None

    def stream_config(self) -> dict[str, Any]:
        """The ``streamConfig`` YAML as a mapping (``{}`` when there is none)."""
        spec = self.spec
        if spec.kafka is not None:
            raise BusError("a kafka EventBus is not supported; use jetstream")
        text = None
        if spec.jetstream is not None:
            text = spec.jetstream.stream_config
        elif spec.jetstream_exotic is not None:
            text = spec.jetstream_exotic.stream_config
        elif spec.nats is not None and spec.nats.native is not None:
            native = spec.nats.native
            legacy = {"maxAge": native.max_age, "maxMsgs": native.max_msgs}
            legacy["maxBytes"] = native.max_bytes
            return {k: v for k, v in legacy.items() if v is not None}
        if not text:
            return {}
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise BusError(f"streamConfig is not valid YAML: {exc}") from exc
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise BusError(f"streamConfig must be a mapping, not {type(data).__name__}")
        return data

    @property
    def max_payload(self) -> str | int | None:
        """``maxPayload`` for the embedded server, as written (``"1MB"``, ``1048576``)."""
        if self.spec.jetstream is not None:
            return self.spec.jetstream.max_payload
        if self.spec.nats is not None and self.spec.nats.native is not None:
            return self.spec.nats.native.max_payload
        return None


def load_eventbus(raw: RawResource) -> EventBus:
    """Validate one EventBus document; a SpecError names every bad path."""
    return validate(EventBus, raw)

"""The EventSource resource of Argo Events, so that any Argo EventSource YAML loads.

``EventSourceSpec`` has the deployment fields (``eventBusName``, ``template``, ``service``,
``replicas``) and one field per event type, each a map of event name to that type's settings
(``spec.webhook.example``, ``spec.pubSub.json-generation``). Which event types exist is read off
the spec's fields by :func:`event_type_fields`, so the registry never keeps its own list.
"""

from __future__ import annotations

import types
import typing
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from eventsource.models.brokers import (
    AMQPEventSource,
    EmitterEventSource,
    KafkaEventSource,
    MQTTEventSource,
    NATSEventsSource,
    NSQEventSource,
    PulsarEventSource,
    RedisEventSource,
    RedisStreamEventSource,
)
from eventsource.models.cloud import (
    AzureEventsHubEventSource,
    AzureQueueStorageEventSource,
    AzureServiceBusEventSource,
    MNSEventSource,
    PubSubEventSource,
    S3Artifact,
    SQSEventSource,
)
from eventsource.models.common import EventSourceModel, SecretKeySelector, Service, Template
from eventsource.models.http import (
    BitbucketEventSource,
    BitbucketServerEventSource,
    GenericEventSource,
    GithubEventSource,
    GitlabEventSource,
    SlackEventSource,
    SNSEventSource,
    StorageGridEventSource,
    StripeEventSource,
    WebhookEventSource,
)
from eventsource.models.other import (
    CalendarEventSource,
    FileEventSource,
    GerritEventSource,
    HDFSEventSource,
    ResourceEventSource,
    SFTPEventSource,
)
from sluice.core.model import ArgoResource
from sluice.core.resources import RawResource, validate_kind


class EventSourceSpec(EventSourceModel):
    """``spec`` of an EventSource, field for field as in Argo Events' ``EventSourceSpec``."""

    event_bus_name: str | None = None
    template: Template | None = None
    service: Service | None = None
    replicas: int | None = None

    minio: dict[str, S3Artifact] | None = None
    calendar: dict[str, CalendarEventSource] | None = None
    file: dict[str, FileEventSource] | None = None
    resource: dict[str, ResourceEventSource] | None = None
    webhook: dict[str, WebhookEventSource] | None = None
    amqp: dict[str, AMQPEventSource] | None = None
    kafka: dict[str, KafkaEventSource] | None = None
    mqtt: dict[str, MQTTEventSource] | None = None
    nats: dict[str, NATSEventsSource] | None = None
    sns: dict[str, SNSEventSource] | None = None
    sqs: dict[str, SQSEventSource] | None = None
    pub_sub: dict[str, PubSubEventSource] | None = None
    github: dict[str, GithubEventSource] | None = None
    gitlab: dict[str, GitlabEventSource] | None = None
    hdfs: dict[str, HDFSEventSource] | None = None
    slack: dict[str, SlackEventSource] | None = None
    storage_grid: dict[str, StorageGridEventSource] | None = None
    azure_events_hub: dict[str, AzureEventsHubEventSource] | None = None
    stripe: dict[str, StripeEventSource] | None = None
    emitter: dict[str, EmitterEventSource] | None = None
    redis: dict[str, RedisEventSource] | None = None
    nsq: dict[str, NSQEventSource] | None = None
    pulsar: dict[str, PulsarEventSource] | None = None
    generic: dict[str, GenericEventSource] | None = None
    bitbucketserver: dict[str, BitbucketServerEventSource] | None = None
    bitbucket: dict[str, BitbucketEventSource] | None = None
    redis_stream: dict[str, RedisStreamEventSource] | None = None
    azure_service_bus: dict[str, AzureServiceBusEventSource] | None = None
    azure_queue_storage: dict[str, AzureQueueStorageEventSource] | None = None
    sftp: dict[str, SFTPEventSource] | None = None
    gerrit: dict[str, GerritEventSource] | None = None
    mns: dict[str, MNSEventSource] | None = None

    def events(self) -> dict[str, dict[str, EventSourceModel]]:
        """The event types this spec configures, by YAML key, each with its events by name."""
        out: dict[str, dict[str, EventSourceModel]] = {}
        for name, key in _EVENT_TYPE_FIELDS.items():
            configured = getattr(self, name)
            if configured:
                out[key] = dict(configured)
        return out


def _is_event_map(annotation: Any) -> bool:
    """True for ``dict[str, <model>] | None``: the shape of every event-type field."""
    args = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else ()
    for arg in args or (annotation,):
        if typing.get_origin(arg) is dict:
            value = typing.get_args(arg)[1]
            return isinstance(value, type) and issubclass(value, BaseModel)
    return False


def _event_type_fields(model: type[BaseModel]) -> dict[str, str]:
    return {
        name: field.alias or name
        for name, field in model.model_fields.items()
        if _is_event_map(field.annotation)
    }


_EVENT_TYPE_FIELDS = _event_type_fields(EventSourceSpec)


def event_type_fields() -> tuple[str, ...]:
    """The YAML key of every event type ``EventSourceSpec`` accepts, in declaration order."""
    return tuple(_EVENT_TYPE_FIELDS.values())


class EventSource(ArgoResource):
    """An ``argoproj.io/v1alpha1`` EventSource."""

    model_config = ConfigDict(strict=True)  # as EventSourceModel: Go's decoder converts nothing

    KIND: ClassVar[str] = "EventSource"

    kind: str = "EventSource"
    spec: EventSourceSpec
    status: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.metadata.name or self.metadata.generate_name or ""


KINDS: dict[str, type[EventSource]] = {EventSource.KIND: EventSource}


def parse_event_source(raw: RawResource | dict[str, Any]) -> EventSource:
    """Validate one EventSource document; a SpecError lists every problem with its path.

    A plain dict is accepted too (an API request body); its problems are labelled with the
    kind and name it gives.
    """
    if not isinstance(raw, RawResource):
        unlabelled = RawResource(file="", index=1, data=raw)
        raw = RawResource(file="", index=1, data=raw, label=_label(unlabelled))
    resource = validate_kind(raw, KINDS)
    return resource


def _label(raw: RawResource) -> str:
    return " ".join(p for p in (raw.kind, raw.name) if p) or "EventSource"


__all__ = [
    "KINDS",
    "EventSource",
    "EventSourceSpec",
    "SecretKeySelector",
    "event_type_fields",
    "parse_event_source",
]

"""Event types that poll or subscribe to a cloud service: SQS, Pub/Sub, Minio/S3, Azure, MNS."""

from __future__ import annotations

from pydantic import Field

from eventsource.models.common import (
    EventSourceFilter,
    EventSourceModel,
    SecretKeySelector,
    TLSConfig,
)


class SQSEventSource(EventSourceModel):
    access_key: SecretKeySelector | None = None
    secret_key: SecretKeySelector | None = None
    region: str | None = None
    queue: str | None = None
    wait_time_seconds: int | None = None
    role_arn: str | None = Field(default=None, alias="roleARN")
    json_body: bool | None = None
    queue_account_id: str | None = None
    metadata: dict[str, str] | None = None
    dlq: bool | None = None
    filter: EventSourceFilter | None = None
    endpoint: str | None = None
    session_token: SecretKeySelector | None = None


class PubSubEventSource(EventSourceModel):
    project_id: str | None = Field(default=None, alias="projectID")
    topic_project_id: str | None = Field(default=None, alias="topicProjectID")
    topic: str | None = None
    subscription_id: str | None = Field(default=None, alias="subscriptionID")
    credential_secret: SecretKeySelector | None = None
    credentials_file: str | None = None  # deprecated in Argo: a path to the JSON key
    delete_subscription_on_finish: bool | None = None
    json_body: bool | None = None
    metadata: dict[str, str] | None = None
    filter: EventSourceFilter | None = None


class S3Bucket(EventSourceModel):
    key: str | None = None
    name: str | None = None


class S3Filter(EventSourceModel):
    prefix: str | None = None
    suffix: str | None = None


class S3Artifact(EventSourceModel):
    """``spec.minio.<name>``: a bucket's notifications on an S3-compatible server."""

    endpoint: str | None = None
    bucket: S3Bucket | None = None
    region: str | None = None
    insecure: bool | None = None
    access_key: SecretKeySelector | None = None
    secret_key: SecretKeySelector | None = None
    events: list[str] | None = None
    filter: S3Filter | None = None
    metadata: dict[str, str] | None = None
    ca_certificate: SecretKeySelector | None = None


class AzureEventsHubEventSource(EventSourceModel):
    fqdn: str | None = None
    shared_access_key_name: SecretKeySelector | None = None
    shared_access_key: SecretKeySelector | None = None
    hub_name: str | None = None
    metadata: dict[str, str] | None = None
    filter: EventSourceFilter | None = None


class AzureServiceBusEventSource(EventSourceModel):
    connection_string: SecretKeySelector | None = None
    queue_name: str | None = None
    topic_name: str | None = None
    subscription_name: str | None = None
    tls: TLSConfig | None = None
    json_body: bool | None = None
    metadata: dict[str, str] | None = None
    filter: EventSourceFilter | None = None
    fully_qualified_namespace: str | None = None
    defer_delete: bool | None = None


class AzureQueueStorageEventSource(EventSourceModel):
    storage_account_name: str | None = None
    connection_string: SecretKeySelector | None = None
    queue_name: str | None = None
    json_body: bool | None = None
    dlq: bool | None = None
    metadata: dict[str, str] | None = None
    filter: EventSourceFilter | None = None
    decode_message: bool | None = None
    wait_time_in_seconds: int | None = None


class MNSEventSource(EventSourceModel):
    """AlibabaCloud Message Service queue."""

    access_key: SecretKeySelector | None = None
    secret_key: SecretKeySelector | None = None
    queue: str | None = None
    json_body: bool | None = None
    endpoint: str | None = None
    filter: EventSourceFilter | None = None

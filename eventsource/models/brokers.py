"""Event types that consume from a message broker: Kafka, NATS, AMQP, MQTT, Redis, NSQ, ..."""

from __future__ import annotations

from eventsource.models.common import (
    Backoff,
    BasicAuth,
    EventSourceFilter,
    EventSourceModel,
    SecretKeySelector,
    TLSConfig,
)


class KafkaConsumerGroup(EventSourceModel):
    group_name: str | None = None
    oldest: bool | None = None
    rebalance_strategy: str | None = None


class SASLConfig(EventSourceModel):
    mechanism: str | None = None
    user_secret: SecretKeySelector | None = None
    password_secret: SecretKeySelector | None = None


class SchemaRegistryConfig(EventSourceModel):
    url: str | None = None
    schema_id: int | None = None
    auth: BasicAuth | None = None


class AWSMSKIAMConfig(EventSourceModel):
    region: str | None = None


class KafkaEventSource(EventSourceModel):
    url: str | None = None
    partition: str | None = None
    topic: str | None = None
    connection_backoff: Backoff | None = None
    tls: TLSConfig | None = None
    json_body: bool | None = None
    metadata: dict[str, str] | None = None
    consumer_group: KafkaConsumerGroup | None = None
    limit_events_per_second: int | None = None
    version: str | None = None
    sasl: SASLConfig | None = None
    filter: EventSourceFilter | None = None
    config: str | None = None
    schema_registry: SchemaRegistryConfig | None = None
    aws_msk_iam_auth: AWSMSKIAMConfig | None = None


class NATSAuth(EventSourceModel):
    basic: BasicAuth | None = None
    token: SecretKeySelector | None = None
    nkey: SecretKeySelector | None = None
    credential: SecretKeySelector | None = None


class NATSEventsSource(EventSourceModel):
    url: str | None = None
    subject: str | None = None
    connection_backoff: Backoff | None = None
    json_body: bool | None = None
    tls: TLSConfig | None = None
    metadata: dict[str, str] | None = None
    auth: NATSAuth | None = None
    filter: EventSourceFilter | None = None
    queue: str | None = None


class AMQPExchangeDeclareConfig(EventSourceModel):
    durable: bool | None = None
    auto_delete: bool | None = None
    internal: bool | None = None
    no_wait: bool | None = None


class AMQPQueueDeclareConfig(EventSourceModel):
    name: str | None = None
    durable: bool | None = None
    auto_delete: bool | None = None
    exclusive: bool | None = None
    no_wait: bool | None = None
    arguments: str | None = None


class AMQPQueueBindConfig(EventSourceModel):
    no_wait: bool | None = None


class AMQPConsumeConfig(EventSourceModel):
    consumer_tag: str | None = None
    auto_ack: bool | None = None
    exclusive: bool | None = None
    no_local: bool | None = None
    no_wait: bool | None = None


class AMQPEventSource(EventSourceModel):
    url: str | None = None
    exchange_name: str | None = None
    exchange_type: str | None = None
    routing_key: str | None = None
    connection_backoff: Backoff | None = None
    json_body: bool | None = None
    tls: TLSConfig | None = None
    metadata: dict[str, str] | None = None
    exchange_declare: AMQPExchangeDeclareConfig | None = None
    queue_declare: AMQPQueueDeclareConfig | None = None
    queue_bind: AMQPQueueBindConfig | None = None
    consume: AMQPConsumeConfig | None = None
    auth: BasicAuth | None = None
    url_secret: SecretKeySelector | None = None
    filter: EventSourceFilter | None = None


class MQTTEventSource(EventSourceModel):
    url: str | None = None
    topic: str | None = None
    client_id: str | None = None
    connection_backoff: Backoff | None = None
    json_body: bool | None = None
    tls: TLSConfig | None = None
    metadata: dict[str, str] | None = None
    filter: EventSourceFilter | None = None
    auth: BasicAuth | None = None


class RedisEventSource(EventSourceModel):
    """Redis PUB/SUB channels."""

    host_address: str | None = None
    password: SecretKeySelector | None = None
    namespace: str | None = None
    db: int | None = None
    channels: list[str] | None = None
    tls: TLSConfig | None = None
    metadata: dict[str, str] | None = None
    filter: EventSourceFilter | None = None
    json_body: bool | None = None
    username: str | None = None


class RedisStreamEventSource(EventSourceModel):
    """Redis streams, read with XREADGROUP through one consumer group."""

    host_address: str | None = None
    password: SecretKeySelector | None = None
    db: int | None = None
    streams: list[str] | None = None
    max_msg_count_per_read: int | None = None
    consumer_group: str | None = None
    tls: TLSConfig | None = None
    metadata: dict[str, str] | None = None
    filter: EventSourceFilter | None = None
    username: str | None = None


class NSQEventSource(EventSourceModel):
    host_address: str | None = None
    topic: str | None = None
    channel: str | None = None
    connection_backoff: Backoff | None = None
    json_body: bool | None = None
    tls: TLSConfig | None = None
    metadata: dict[str, str] | None = None
    filter: EventSourceFilter | None = None


class PulsarEventSource(EventSourceModel):
    topics: list[str] | None = None
    type: str | None = None
    url: str | None = None
    tls_trust_certs_secret: SecretKeySelector | None = None
    tls_allow_insecure_connection: bool | None = None
    tls_validate_hostname: bool | None = None
    tls: TLSConfig | None = None
    connection_backoff: Backoff | None = None
    json_body: bool | None = None
    metadata: dict[str, str] | None = None
    auth_token_secret: SecretKeySelector | None = None
    filter: EventSourceFilter | None = None
    auth_athenz_params: dict[str, str] | None = None
    auth_athenz_secret: SecretKeySelector | None = None


class EmitterEventSource(EventSourceModel):
    broker: str | None = None
    channel_key: str | None = None
    channel_name: str | None = None
    username: SecretKeySelector | None = None
    password: SecretKeySelector | None = None
    connection_backoff: Backoff | None = None
    json_body: bool | None = None
    tls: TLSConfig | None = None
    metadata: dict[str, str] | None = None
    filter: EventSourceFilter | None = None

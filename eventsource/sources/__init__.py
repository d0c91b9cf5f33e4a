"""The source types sluice runs; importing this package registers each one in the registry."""

from eventsource.sources import (
    amqp,
    bitbucketserver,
    calendar,
    file,
    github,
    gitlab,
    minio,
    mqtt,
    nats,
    pubsub,
    redis,
    redis_stream,
    slack,
    sns,
    sqs,
    webhook,
)

__all__ = [
    "amqp",
    "bitbucketserver",
    "calendar",
    "file",
    "github",
    "gitlab",
    "minio",
    "mqtt",
    "nats",
    "pubsub",
    "redis",
    "redis_stream",
    "slack",
    "sns",
    "sqs",
    "webhook",
]

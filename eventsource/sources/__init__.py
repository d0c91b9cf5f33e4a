"""The source types sluice runs; importing this package registers each one in the registry."""

from eventsource.sources import (
    bitbucketserver,
    calendar,
    file,
    github,
    gitlab,
    pubsub,
    slack,
    webhook,
)

__all__ = ["bitbucketserver", "calendar", "file", "github", "gitlab", "pubsub", "slack", "webhook"]

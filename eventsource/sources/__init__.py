"""The source types sluice runs; importing this package registers each one in the registry."""

from eventsource.sources import calendar, file, pubsub, webhook

__all__ = ["calendar", "file", "pubsub", "webhook"]

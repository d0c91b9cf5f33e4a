"""The source types sluice runs; importing this package registers each one in the registry."""

from eventsource.sources import calendar, file, webhook

__all__ = ["calendar", "file", "webhook"]

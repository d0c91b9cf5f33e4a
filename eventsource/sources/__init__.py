"""The source types sluice runs; importing this package registers each one in the registry."""

from eventsource.sources import webhook

__all__ = ["webhook"]

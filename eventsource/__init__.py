"""eventsource package."""

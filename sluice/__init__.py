"""sluice: an event-driven trigger service with an Argo-Workflows-compatible engine."""

__version__ = "0.1.0"

"""The bus fixtures of the eventbus tests (a real nats-server per session), reused here."""

from __future__ import annotations

from tests.integration.eventbus.conftest import bus, namespace, nats_url

__all__ = ["bus", "namespace", "nats_url"]

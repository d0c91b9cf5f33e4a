"""The bus fixtures of the eventbus tests (a real nats-server per session), reused here."""

from __future__ import annotations

from tests.integration.eventbus.conftest import nats_url

__all__ = ["nats_url"]

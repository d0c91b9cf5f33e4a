"""Skip-or-fail for tests that need a local service (PostgreSQL, Redis, NATS, ...).

On a developer's machine a missing service skips the test with the reason; CI sets
``SLUICE_REQUIRE_SERVICES=1`` so the same absence fails the run instead of passing it quietly.
"""

from __future__ import annotations

import os
import socket

import pytest


def require_service(name: str, host: str, port: int) -> None:
    """Skip the calling test unless ``name`` answers on ``host:port``; fail instead if required."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as exc:
        reason = f"{name} does not answer on {host}:{port}: {exc}"
    if os.environ.get("SLUICE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (SLUICE_REQUIRE_SERVICES=1)")
    pytest.skip(reason)

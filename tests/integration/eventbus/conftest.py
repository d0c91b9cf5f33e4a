"""A real nats-server for the bus tests: one per session on a free loopback port."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from eventbus.embedded import EmbeddedNats
from eventbus.jetstream import JetStreamBus


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def nats_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    server = EmbeddedNats(Path(tmp_path_factory.mktemp("nats")))
    await server.start()
    yield server.url
    await server.stop()


@pytest.fixture
def namespace() -> str:
    """A namespace (so a stream) of its own for each test."""
    return f"ns-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def bus(nats_url: str, namespace: str) -> AsyncIterator[JetStreamBus]:
    b = JetStreamBus()
    await b.connect(nats_url)
    await b.ensure_stream(namespace)
    yield b
    await b.close()

"""Shared fixtures: an engine on a fresh data directory, with the real local executor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.executors.local import LocalExecutor
from engine.service import Engine, EngineConfig
from engine.store.sqlite import SQLiteStore


def make_engine(data_dir: Path, **config: object) -> Engine:
    store = SQLiteStore(data_dir / "sluice.db")
    return Engine(
        store, LocalExecutor(data_dir / "pods"), EngineConfig(data_dir=data_dir, **config)
    )  # type: ignore[arg-type]


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    eng = make_engine(tmp_path)
    await eng.start()
    yield eng
    await eng.close()
    eng.store.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

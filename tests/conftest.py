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


class FakeClock:
    """A clock whose sleeps return at once and move time forward; records what was slept."""

    def __init__(self) -> None:
        from datetime import UTC, datetime

        self.t = datetime.now(UTC).replace(microsecond=0)
        self.sleeps: list[float] = []

    def now(self):  # type: ignore[no-untyped-def]
        return self.t

    async def sleep(self, seconds: float) -> None:
        import asyncio
        from datetime import timedelta

        self.sleeps.append(seconds)
        self.t += timedelta(seconds=seconds)
        await asyncio.sleep(0)

"""CronWorkflows stored in the registry, fired by the engine's scheduler on an injected clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from engine.cron import LABEL_CRON
from engine.cron_runtime import CronController
from engine.executors.local import LocalExecutor
from engine.service import Engine, EngineConfig
from engine.store.sqlite import SQLiteStore
from tests.conftest import FakeClock

EXAMPLE = Path(__file__).resolve().parents[2] / "examples/workflows/cron-workflow.yaml"


async def test_cron_fires_on_schedule_and_records_status(tmp_path: Path) -> None:
    clock = FakeClock()
    clock.t = datetime(2026, 11, 22, 10, 0, 30, tzinfo=UTC)
    engine = Engine(SQLiteStore(tmp_path / "s.db"), LocalExecutor(tmp_path / "pods"),
                    EngineConfig(data_dir=tmp_path), clock=clock)  # fmt: skip
    await engine.start()
    try:
        engine.templates.create(yaml.safe_load(EXAMPLE.read_text()), "cron-workflow.yaml")
        controller = CronController(engine)
        controller.sync()
        assert await controller.scheduler.tick(clock.t) == []  # nothing due at 10:00:30
        clock.t += timedelta(seconds=30)
        fired = await controller.scheduler.tick(clock.t)
        assert fired == [f"hello-world-{int(clock.t.timestamp())}"]
        wf = await asyncio.wait_for(engine.wait("default", fired[0]), 30)
        assert wf["status"]["phase"] == "Succeeded"
        assert wf["metadata"]["labels"][LABEL_CRON] == "hello-world"
        # the same minute again: the deterministic name means no second run
        assert await controller.scheduler.tick(clock.t) == []
        cron = engine.templates.get("CronWorkflow", "default", "hello-world")
        assert cron["status"]["lastScheduledTime"].startswith("2026-11-22T10:01:00")
        # suspending through the registry stops it firing
        engine.templates.set_suspend("default", "hello-world", True)
        controller.sync()
        clock.t += timedelta(minutes=1)
        assert await controller.scheduler.tick(clock.t) == []
    finally:
        await engine.close()
        engine.store.close()

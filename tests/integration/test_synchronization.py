"""Workflow-level mutexes hold whole workflows apart; waiting shows Argo's message."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from engine.service import Engine

EXAMPLE = (
    Path(__file__).resolve().parents[2] / "examples/workflows/synchronization-mutex-wf-level.yaml"
)


async def test_mutex_runs_instances_one_at_a_time(engine: Engine, tmp_path: Path) -> None:
    lock_dir = tmp_path / "shared"
    lock_dir.mkdir()
    manifest = yaml.safe_load(EXAMPLE.read_text())
    container = manifest["spec"]["templates"][0]["container"]
    # fails if two instances ever overlap: mkdir of an existing directory fails
    container.update(
        command=["sh", "-c"],
        args=["mkdir /shared/held && sleep 0.3 && rmdir /shared/held"],
        volumeMounts=[{"name": "shared", "mountPath": "/shared"}],
    )
    manifest["spec"]["volumes"] = [{"name": "shared", "hostPath": {"path": str(lock_dir)}}]
    records = [await engine.submit(manifest) for _ in range(3)]
    messages: set[str] = set()
    while not all(engine.get("default", r.name)["status"].get("finishedAt") for r in records):
        for r in records:
            messages.add(engine.get("default", r.name)["status"].get("message", ""))
        await asyncio.sleep(0.05)
    phases = [engine.get("default", r.name)["status"]["phase"] for r in records]
    assert phases == ["Succeeded"] * 3
    assert "Waiting for default/Mutex/test lock. Lock status: 0/1" in messages

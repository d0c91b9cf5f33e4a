"""The archive, ttlStrategy, podGC, retry and resubmit, on the real engine."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from engine.service import Engine
from sluice.core.errors import ConflictError


def pod(*command: str) -> dict[str, Any]:
    mounts = [{"name": "m", "mountPath": "/m"}]
    return {"container": {"image": "a", "command": list(command), "volumeMounts": mounts}}


def flaky(marker_dir: Path, **spec: Any) -> dict[str, Any]:
    """step1 appends to a counter; step2 fails until the file `ok` exists."""
    steps = [[{"name": "step1", "template": "count"}], [{"name": "step2", "template": "check"}]]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "flaky-"},
        "spec": {
            "entrypoint": "main",
            "volumes": [{"name": "m", "hostPath": {"path": str(marker_dir)}}],
            "templates": [
                {"name": "main", "steps": steps},
                {"name": "count", **pod("sh", "-c", "echo x >> /m/count")},
                {"name": "check", **pod("test", "-e", "/m/ok")},
            ],
            **spec,
        },
    }


async def run(engine: Engine, manifest: dict[str, Any]) -> dict[str, Any]:
    record = await engine.submit(manifest)
    return await asyncio.wait_for(engine.wait("default", record.name), 30)


def count(marker_dir: Path) -> int:
    return len((marker_dir / "count").read_text().splitlines())


async def test_retry_reruns_only_what_failed(engine: Engine, tmp_path: Path) -> None:
    wf = await run(engine, flaky(tmp_path))
    name = wf["metadata"]["name"]
    assert wf["status"]["phase"] == "Failed" and count(tmp_path) == 1
    (tmp_path / "ok").touch()
    await engine.retry("default", name)
    again = await asyncio.wait_for(engine.wait("default", name), 30)
    assert again["status"]["phase"] == "Succeeded"
    assert count(tmp_path) == 1  # step1 kept its success
    with pytest.raises(ConflictError, match="only a Failed or Error workflow"):
        await engine.retry("default", name)
    await engine.retry(
        "default", name, restart_successful=True, node_field_selector="displayName=step1"
    )
    third = await asyncio.wait_for(engine.wait("default", name), 30)
    assert third["status"]["phase"] == "Succeeded" and count(tmp_path) == 2


@pytest.mark.parametrize(("memoized", "runs"), [(False, 2), (True, 1)], ids=["plain", "memoized"])
async def test_resubmit(engine: Engine, tmp_path: Path, memoized: bool, runs: int) -> None:
    wf = await run(engine, flaky(tmp_path))
    (tmp_path / "ok").touch()
    new = await engine.resubmit("default", wf["metadata"]["name"], memoized=memoized)
    assert new["metadata"]["name"] != wf["metadata"]["name"]
    done = await asyncio.wait_for(engine.wait("default", new["metadata"]["name"]), 30)
    assert done["status"]["phase"] == "Succeeded"
    assert count(tmp_path) == runs


async def test_archive_ttl_and_pod_gc(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "ok").touch()
    wf = await run(
        engine,
        flaky(
            tmp_path, ttlStrategy={"secondsAfterSuccess": 0}, podGC={"strategy": "OnPodCompletion"}
        ),
    )
    name, uid = wf["metadata"]["name"], wf["metadata"]["uid"]
    for _ in range(100):  # the TTL deletes the live workflow
        if not any(w["metadata"]["name"] == name for w in engine.list_workflows("default")):
            break
        await asyncio.sleep(0.05)
    assert not any(w["metadata"]["name"] == name for w in engine.list_workflows("default"))
    archived = engine.get_archived(uid)
    assert archived["status"]["phase"] == "Succeeded"
    assert [w["metadata"]["uid"] for w in engine.list_archived("default")] == [uid]
    pods_dir = engine.config.data_dir / "pods" / uid
    assert not pods_dir.exists() or not any(pods_dir.iterdir())
    engine.delete_archived(uid)
    assert engine.list_archived() == []


async def test_watch_ends_with_the_archived_copy_when_ttl_removes_it(engine: Engine) -> None:
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "ttl-"},
        "spec": {
            "entrypoint": "main",
            "ttlStrategy": {"secondsAfterCompletion": 0},
            "templates": [{"name": "main", "container": {"image": "a", "command": ["true"]}}],
        },
    }
    record = await engine.submit(manifest)
    seen = [wf async for wf in engine.watch("default", record.name)]
    assert seen[-1]["status"]["phase"] == "Succeeded"

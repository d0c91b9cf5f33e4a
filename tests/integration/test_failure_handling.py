"""Retries with backoff on an injected clock, exit handlers, stop versus terminate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.executors.local import LocalExecutor
from engine.service import Engine, EngineConfig
from engine.store.sqlite import SQLiteStore
from engine.submit import SubmitOptions
from tests.conftest import FakeClock

SEED = Path(__file__).resolve().parents[2] / "examples/workflows/retry-notify-on-failure.yaml"


@pytest.fixture
async def clocked(tmp_path: Path) -> AsyncIterator[tuple[Engine, FakeClock]]:
    clock = FakeClock()
    engine = Engine(
        SQLiteStore(tmp_path / "s.db"),
        LocalExecutor(tmp_path / "pods"),
        EngineConfig(data_dir=tmp_path),
        clock=clock,
    )
    await engine.start()
    yield engine, clock
    await engine.close()
    engine.store.close()


def by_display(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["displayName"]: n for n in wf["status"]["nodes"].values()}


async def submit_wait(engine: Engine, manifest: dict[str, Any], **params: str) -> dict[str, Any]:
    record = await engine.submit(manifest, SubmitOptions(parameters=params))
    return await asyncio.wait_for(engine.wait("default", record.name), 30)


async def test_seed_fails_twice_then_succeeds_without_waiting(
    clocked: tuple[Engine, FakeClock],
) -> None:
    engine, clock = clocked
    wf = await submit_wait(engine, yaml.safe_load(SEED.read_text()), **{"fail-times": "2"})
    nodes = by_display(wf)
    assert wf["status"]["phase"] == "Succeeded"
    assert clock.sleeps == [3.0, 6.0]  # backoff 3s, factor 2: no real 9 seconds slept
    assert nodes["load"]["type"] == "Retry" and nodes["load"]["phase"] == "Succeeded"
    assert [nodes[f"load({i})"]["phase"] for i in range(3)] == ["Failed", "Failed", "Succeeded"]
    assert nodes["load(2)"]["inputs"]["parameters"][0] == {
        "name": "object-id",
        "value": "data/example.json",
    }
    assert nodes["notify-failure"]["phase"] == "Skipped"
    assert nodes["notify-failure"]["message"] == "when 'Succeeded != Succeeded' evaluated false"
    assert wf["metadata"]["name"] + ".onExit" in nodes


async def test_seed_exhausts_retries_and_notifies(clocked: tuple[Engine, FakeClock]) -> None:
    engine, clock = clocked
    wf = await submit_wait(engine, yaml.safe_load(SEED.read_text()), **{"fail-times": "5"})
    nodes = by_display(wf)
    assert wf["status"]["phase"] == "Failed"
    assert nodes["load"]["message"] == "No more retries left"
    assert "load(3)" not in nodes
    assert nodes["notify-failure"]["phase"] == "Succeeded"
    log = Path(engine.pod_logs("default", wf["metadata"]["name"], "notify-failure")[0][1])
    text = log.read_text()
    assert f"workflow {wf['metadata']['name']} Failed:" in text
    # the shell ate the JSON's quotes, as it would in Argo
    for attempt in ("load(0)", "load(1)", "load(2)"):
        assert f"displayName:{attempt}" in text
    assert clock.sleeps == [3.0, 6.0]


@pytest.mark.parametrize(
    ("policy", "exit_code", "attempts"),
    [("OnFailure", 1, 3), ("OnError", 1, 1), ("Always", 1, 3)],
    ids=["on-failure-retries-failed", "on-error-skips-failed", "always"],
)
async def test_retry_policy(
    clocked: tuple[Engine, FakeClock], policy: str, exit_code: int, attempts: int
) -> None:
    engine, _ = clocked
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "policy-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "steps": [[{"name": "s", "template": "fail"}]]},
                {
                    "name": "fail",
                    "retryStrategy": {"limit": "2", "retryPolicy": policy},
                    "container": {"image": "a", "command": ["sh", "-c", f"exit {exit_code}"]},
                },
            ],
        },
    }
    wf = await submit_wait(engine, manifest)
    nodes = by_display(wf)
    assert sum(1 for name in nodes if name.startswith("s(")) == attempts
    assert wf["status"]["phase"] == "Failed"


async def test_retry_expression_and_exit_handler_failure_fails_workflow(
    clocked: tuple[Engine, FakeClock],
) -> None:
    engine, _ = clocked
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "expr-"},
        "spec": {
            "entrypoint": "main",
            "onExit": "bad-exit",
            "templates": [
                {
                    "name": "main",
                    "retryStrategy": {"limit": 5, "expression": "lastRetry.exitCode == 3"},
                    "container": {
                        "image": "a",
                        "command": ["sh", "-c", "exit $(( {{retries}} + 3 ))"],
                    },
                },
                {"name": "bad-exit", "container": {"image": "a", "command": ["false"]}},
            ],
        },
    }
    wf = await submit_wait(engine, manifest)
    nodes = wf["status"]["nodes"]
    root = nodes[wf["metadata"]["name"]]
    # exit code 3 retries, exit code 4 stops: two attempts
    assert len(root["children"]) == 2 and root["phase"] == "Failed"
    assert wf["status"]["phase"] == "Failed"


LONG = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"name": "long"},
    "spec": {
        "entrypoint": "main",
        "onExit": "handler",
        "templates": [
            {"name": "main", "container": {"image": "a", "command": ["sleep", "30"]}},
            {"name": "handler", "container": {"image": "a", "command": ["echo", "handled"]}},
        ],
    },
}


@pytest.mark.parametrize(("verb", "handler_runs"), [("stop", True), ("terminate", False)])
async def test_stop_runs_exit_handlers_terminate_does_not(
    engine: Engine, verb: str, handler_runs: bool
) -> None:
    record = await engine.submit(LONG)
    while (
        engine.get("default", "long")["status"].get("nodes", {}).get("long", {}).get("phase")
        != "Running"
    ):
        await asyncio.sleep(0.05)
    await getattr(engine, verb)("default", "long")
    wf = await asyncio.wait_for(engine.wait("default", record.name), 15)
    strategy = verb.capitalize()
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"] == f"Stopped with strategy '{strategy}'"
    assert wf["status"]["nodes"]["long"]["phase"] == "Failed"
    assert ("long.onExit" in by_display(wf)) is handler_runs

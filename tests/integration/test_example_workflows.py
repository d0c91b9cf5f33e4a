"""Every example under examples/workflows/ runs on the local executor and does what it shows."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from engine.service import Engine
from engine.submit import SubmitOptions
from tests.integration.workflow_expectations import EXAMPLES_DIR, EXPECTATIONS, Expect


def _logs(engine: Engine, wf: dict[str, Any]) -> str:
    name = wf["metadata"]["name"]
    return "".join(Path(p).read_text() for _, p in engine.pod_logs("default", name))


async def _resume_when_suspended(engine: Engine, name: str) -> None:
    while True:
        wf = engine.get("default", name)
        nodes = wf["status"].get("nodes", {}).values()
        if any(n["type"] == "Suspend" and n["phase"] == "Running" for n in nodes):
            await engine.resume("default", name)
            return
        if wf["status"].get("finishedAt"):
            return
        await asyncio.sleep(0.05)


def test_every_example_has_expectations() -> None:
    files = sorted(
        p.name
        for p in EXAMPLES_DIR.glob("*.yaml")
        if yaml.safe_load(p.read_text()).get("kind") == "Workflow"
    )
    assert files == sorted(EXPECTATIONS)


@pytest.mark.parametrize("filename", sorted(EXPECTATIONS), ids=lambda f: f.removesuffix(".yaml"))
async def test_example(engine: Engine, filename: str) -> None:
    expect: Expect = EXPECTATIONS[filename]
    manifest = yaml.safe_load((EXAMPLES_DIR / filename).read_text())
    parameters = dict(expect.parameters)
    for name, data in expect.configmaps.items():
        folder = engine.config.data_dir / "configmaps" / name
        folder.mkdir(parents=True, exist_ok=True)
        for key, value in data.items():
            (folder / key).write_text(value)
    runner = None
    if expect.http_server:
        runner, url = await _serve_hello()
        parameters["url"] = url
    try:
        await _run_example(engine, filename, expect, manifest, parameters)
    finally:
        if runner is not None:
            await runner.cleanup()


async def _serve_hello() -> tuple[web.AppRunner, str]:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"hello {request.headers.get('x-header-name', '')}")

    app = web.Application()
    app.router.add_get("/get", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/get"


async def _run_example(
    engine: Engine,
    filename: str,
    expect: Expect,
    manifest: dict[str, Any],
    parameters: dict[str, str],
) -> None:
    record = await engine.submit(manifest, SubmitOptions(parameters=parameters), where=filename)
    if expect.resume:
        await _resume_when_suspended(engine, record.name)
    wf = await asyncio.wait_for(engine.wait("default", record.name), 60)
    status = wf["status"]
    nodes = list(status.get("nodes", {}).values())
    by_name: dict[str, dict[str, Any]] = {}
    for n in nodes:
        by_name.setdefault(n["displayName"], n)
    summary = {n["displayName"]: (n["phase"], n.get("message")) for n in nodes}
    assert status["phase"] == expect.phase, (status.get("message"), summary)
    logs = _logs(engine, wf)
    for line in expect.logs:
        assert line in logs, f"{line!r} not in logs:\n{logs}"
    for line in expect.forbid_logs:
        assert line not in logs, f"{line!r} in logs:\n{logs}"
    for display, result in expect.results.items():
        assert by_name[display].get("outputs", {}).get("result") == result, display
    for display, phase in expect.node_phases.items():
        assert display in by_name, (display, sorted(by_name))
        assert by_name[display]["phase"] == phase, (display, by_name[display])
    globals_ = {p["name"]: p["value"] for p in (status.get("outputs") or {}).get("parameters", [])}
    for key, value in expect.global_outputs.items():
        assert globals_.get(key) == value
    if expect.one_of:
        succeeded = {n["displayName"] for n in nodes if n["phase"] == "Succeeded"}
        assert any(all(name in succeeded for name in group) for group in expect.one_of), summary

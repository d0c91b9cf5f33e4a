"""``sluice server`` as a real process, and the CLI talking to it over argo-server's REST API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import free_port
from tests.integration.test_cli import EXAMPLES, sluice


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict[str, str]]:
    port = free_port()
    env = dict(os.environ)
    env["SLUICE_DATA_DIR"] = str(tmp_path / "data")
    env["SLUICE_SERVER"] = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    sink = log.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sluice", "server", "--port", str(port)],
        env=env, stdout=sink, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    import urllib.request

    while True:
        try:
            with urllib.request.urlopen(env["SLUICE_SERVER"] + "/api/v1/version", timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                sink.close()
                raise RuntimeError(f"server did not start: {log.read_text()}") from None
            time.sleep(0.1)
    yield env
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    sink.close()


def _get(env: dict[str, str], name: str) -> dict[str, Any]:
    proc = sluice(env, "get", name, "-o", "json")
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _wait_for(env: dict[str, str], name: str, pred: Any, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        wf = _get(env, name)
        if pred(wf):
            return wf
        assert time.monotonic() < deadline, wf["status"]
        time.sleep(0.2)


def _suspended(wf: dict[str, Any]) -> bool:
    nodes = wf["status"].get("nodes", {}).values()
    return any(n["type"] == "Suspend" and n["phase"] == "Running" for n in nodes)


def test_submit_returns_at_once_then_resume_and_watch(server: dict[str, str]) -> None:
    proc = sluice(server, "submit", str(EXAMPLES / "suspend-template.yaml"), "-o", "name")
    assert proc.returncode == 0, proc.stderr
    name = proc.stdout.strip()
    _wait_for(server, name, _suspended)
    assert sluice(server, "resume", name).stdout.strip() == f"workflow {name} resumed"
    watched = sluice(server, "watch", name)
    assert watched.returncode == 0, watched.stdout
    assert "Status:              Succeeded" in watched.stdout
    listed = sluice(server, "list")
    assert name in listed.stdout


def test_terminate_kills_running_pods(server: dict[str, str], tmp_path: Path) -> None:
    wf = tmp_path / "slow.yaml"
    wf.write_text(
        """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: slow}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, command: [sh, -c, "echo started; sleep 30"]}
"""
    )
    assert sluice(server, "submit", str(wf)).returncode == 0
    _wait_for(
        server,
        "slow",
        lambda w: w["status"].get("nodes", {}).get("slow", {}).get("phase") == "Running",
    )
    assert sluice(server, "terminate", "slow").returncode == 0
    final = _wait_for(server, "slow", lambda w: bool(w["status"].get("finishedAt")), timeout=15)
    assert final["status"]["phase"] == "Failed"
    assert final["status"]["message"] == "Stopped with strategy 'Terminate'"
    assert "started" in sluice(server, "logs", "slow").stdout


async def test_events_stream_and_rest_shape(server: dict[str, str]) -> None:
    base = server["SLUICE_SERVER"]
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "sse-"},
        "spec": {
            "entrypoint": "main",
            "templates": [{"name": "main", "container": {"image": "a", "command": ["echo", "hi"]}}],
        },
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/api/v1/workflows/default", json={"workflow": manifest}) as r:
            assert r.status == 200
            name = (await r.json())["metadata"]["name"]
        phases = []
        url = f"{base}/api/v1/workflow-events/default"
        params = {"listOptions.fieldSelector": f"metadata.name={name}"}
        async with http.get(url, params=params) as r:
            assert r.headers["Content-Type"].startswith("text/event-stream")
            async for line in r.content:
                if line.startswith(b"data:"):
                    event = json.loads(line[5:])["result"]
                    assert event["type"] == "MODIFIED"
                    phases.append(event["object"]["status"]["phase"])
        assert phases[-1] == "Succeeded"
        async with http.get(f"{base}/api/v1/workflows/default/{name}/log") as r:
            lines = [json.loads(x) for x in (await r.text()).splitlines()]
            assert lines[0]["result"]["content"] == "hi"
        async with http.get(f"{base}/api/v1/workflows/default/nope") as r:
            assert r.status == 404 and "not found" in (await r.json())["message"]
        bad = {"workflow": {**manifest, "spec": {"entrypoint": "x", "templates": []}}}
        async with http.post(f"{base}/api/v1/workflows/default", json=bad) as r:
            assert r.status == 400

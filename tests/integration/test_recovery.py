"""A process killed mid-run: its pods die with it, and the next engine carries the workflow on."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from engine.store.sqlite import SQLiteStore
from tests.conftest import free_port, make_engine

WORKFLOW = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: crashy}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: first
        template: first
    - - name: long
        template: long
        continueOn: {error: true}
    - - name: after
        template: after
  - name: first
    container: {image: a, command: [sh, -c, "echo first"]}
  - name: long
    container: {image: a, command: [sh, -c, "sleep 20; touch {{workflow.parameters.marker}}"]}
  - name: after
    container: {image: a, command: [sh, -c, "echo after the crash"]}
  arguments:
    parameters: [{name: marker, value: MARKER}]
"""


def _node_phase(store: SQLiteStore, display: str) -> str | None:
    record = store.get("default", "crashy")
    if record is None:
        return None
    for node in record.nodes.values():
        if node.display_name == display:
            return str(node.phase)
    return None


async def test_killed_process_resumes_where_it_stopped(tmp_path: Path) -> None:
    data = tmp_path / "data"
    marker = tmp_path / "marker"
    wf = tmp_path / "wf.yaml"
    wf.write_text(WORKFLOW.replace("MARKER", str(marker)))
    env = dict(
        os.environ, SLUICE_DATA_DIR=str(data), SLUICE_SERVER=f"http://127.0.0.1:{free_port()}"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "sluice", "submit", str(wf), "--wait"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    store = None
    while True:
        if (data / "sluice.db").exists():
            store = store or SQLiteStore(data / "sluice.db")
            if _node_phase(store, "long") == "Running":
                break
        assert time.monotonic() < deadline and proc.poll() is None
        await asyncio.sleep(0.1)
    assert store is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _node_phase(store, "first") == "Succeeded"
    store.close()

    engine = make_engine(data)
    await engine.start()
    try:
        final = await asyncio.wait_for(engine.wait("default", "crashy"), 30)
    finally:
        await engine.close()
        engine.store.close()
    nodes = {n["displayName"]: n for n in final["status"]["nodes"].values()}
    assert nodes["long"]["phase"] == "Error" and nodes["long"]["message"] == "pod deleted"
    assert nodes["first"]["phase"] == "Succeeded"
    assert nodes["after"]["phase"] == "Succeeded"
    assert final["status"]["phase"] == "Succeeded"
    await asyncio.sleep(0.5)
    assert not marker.exists(), "the pod outlived the process that ran it"

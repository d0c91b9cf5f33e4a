"""The ``sluice`` CLI as a user runs it: a real process, no server, state in a temp data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "workflows"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = dict(os.environ)
    e["SLUICE_DATA_DIR"] = str(tmp_path / "data")
    e["SLUICE_SERVER"] = f"http://127.0.0.1:{free_port()}"  # nothing answers: in-process
    e.pop("SLUICE_CONFIG", None)
    return e


def sluice(
    env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sluice", *args],
        env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def test_submit_wait_json_has_argo_shape(env: dict[str, str]) -> None:
    proc = sluice(env, "submit", str(EXAMPLES / "steps.yaml"), "--wait", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    wf = json.loads(proc.stdout)
    assert wf["apiVersion"] == "argoproj.io/v1alpha1" and wf["kind"] == "Workflow"
    status = wf["status"]
    assert status["phase"] == "Succeeded"
    for key in ("startedAt", "finishedAt", "progress", "nodes"):
        assert key in status
    root = status["nodes"][wf["metadata"]["name"]]
    assert root["type"] == "Steps" and root["children"]
    pods = [n for n in status["nodes"].values() if n["type"] == "Pod"]
    assert {n["displayName"] for n in pods} == {"hello1", "hello2a", "hello2b"}
    for n in pods:
        for key in ("id", "name", "templateName", "phase", "startedAt", "finishedAt", "boundaryID"):
            assert key in n, key
        assert n["outputs"]["exitCode"] == "0"


def test_list_get_logs_delete(env: dict[str, str]) -> None:
    name = sluice(env, "submit", str(EXAMPLES / "hello-world.yaml"), "--wait", "-o", "name")
    name_ = name.stdout.strip()
    assert name.returncode == 0 and name_.startswith("hello-world-")
    listed = sluice(env, "list")
    header, row = listed.stdout.splitlines()[:2]
    assert header.split() == ["NAME", "STATUS", "AGE", "DURATION", "PRIORITY", "MESSAGE"]
    assert row.split()[:2] == [name_, "Succeeded"]
    got = sluice(env, "get", name_)
    assert "Status:              Succeeded" in got.stdout
    assert "✔ " + name_ in got.stdout
    assert json.loads(sluice(env, "get", name_, "-o", "json").stdout)["metadata"]["name"] == name_
    logs = sluice(env, "logs", name_)
    assert "hello world" in logs.stdout
    assert logs.stdout.startswith(name_)  # lines are prefixed with the pod name
    assert sluice(env, "delete", name_).returncode == 0
    missing = sluice(env, "get", name_)
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_parameters_and_exit_code(env: dict[str, str], tmp_path: Path) -> None:
    wf = tmp_path / "wf.yaml"
    wf.write_text(
        """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: exit-}
spec:
  entrypoint: main
  arguments:
    parameters: [{name: code, value: "0", enum: ["0", "3"]}]
  templates:
  - name: main
    container: {image: alpine, command: [sh, -c, "exit {{workflow.parameters.code}}"]}
"""
    )
    ok = sluice(env, "submit", str(wf), "--wait")
    assert ok.returncode == 0, ok.stderr
    failed = sluice(env, "submit", str(wf), "--wait", "-p", "code=3", "-o", "json")
    assert failed.returncode == 1
    status = json.loads(failed.stdout)["status"]
    assert status["phase"] == "Failed" and status["message"] == "Error (exit code 3)"
    bad = sluice(env, "submit", str(wf), "-p", "code=7")
    assert bad.returncode == 1
    assert "spec.arguments.parameters[0].value: '7' is not one of the allowed values" in bad.stderr
    assert "['0', '3']" in bad.stderr


def test_submit_reports_every_spec_problem(env: dict[str, str], tmp_path: Path) -> None:
    wf = tmp_path / "bad.yaml"
    wf.write_text(
        """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: bad-}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, comand: [echo]}
  - name: other
    steps: [[{name: a, template: nope}]]
"""
    )
    proc = sluice(env, "submit", str(wf))
    assert proc.returncode == 1
    assert (
        f"{wf}: document 1 (Workflow bad-): spec.templates[0].container.comand:"
        " unknown field; did you mean 'command'?" in proc.stderr
    )
    lint = sluice(env, "lint", str(wf), str(EXAMPLES / "hello-world.yaml"))
    assert lint.returncode == 1 and "comand" in lint.stdout
    clean = sluice(env, "lint", *[str(p) for p in sorted(EXAMPLES.glob("*.yaml"))])
    assert clean.returncode == 0, clean.stdout


def test_missing_executable_fails_the_node_clearly(env: dict[str, str], tmp_path: Path) -> None:
    wf = tmp_path / "wf.yaml"
    wf.write_text(
        """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: noexe}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: alpine, command: [no-such-binary-here]}
"""
    )
    proc = sluice(env, "submit", str(wf), "--wait", "-o", "json")
    assert proc.returncode == 1
    node = json.loads(proc.stdout)["status"]["nodes"]["noexe"]
    assert node["phase"] == "Error"
    assert 'exec: "no-such-binary-here": executable file not found in $PATH' in node["message"]

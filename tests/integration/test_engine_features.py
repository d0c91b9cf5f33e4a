"""Engine behaviours beyond the walk-through: config images, secrets, errors named at the node."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.service import Engine
from sluice.config import load_settings
from sluice.core.errors import SpecError
from tests.conftest import make_engine

ROOT = Path(__file__).resolve().parents[2]


async def run(engine: Engine, manifest: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(manifest, str):
        manifest = yaml.safe_load(manifest)
    record = await engine.submit(manifest)
    return await asyncio.wait_for(engine.wait("default", record.name), 30)


def nodes(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["displayName"]: n for n in wf["status"]["nodes"].values()}


async def test_config_images_give_the_default_command(tmp_path: Path) -> None:
    settings = load_settings(str(tmp_path), str(ROOT / "examples/config/config.yaml"))
    assert settings.parallelism == 8
    engine = make_engine(tmp_path, images=settings.images, parallelism=settings.parallelism)
    await engine.start()
    try:
        wf = await run(engine, (ROOT / "examples/config/images-default-command.yaml").read_text())
    finally:
        await engine.close()
    assert wf["status"]["phase"] == "Succeeded", nodes(wf)
    assert nodes(wf)["shell"]["outputs"]["result"] == "hello from the default command of the image"
    assert nodes(wf)["python"]["outputs"]["result"] == "42"


def test_config_accepts_argo_configmap_and_rejects_unknown_keys(tmp_path: Path) -> None:
    cm = tmp_path / "cm.yaml"
    cm.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: workflow-controller-configmap}\n"
        "data:\n  config: |\n    parallelism: 3\n"
    )
    assert load_settings(str(tmp_path), str(cm)).parallelism == 3
    bad = tmp_path / "bad.yaml"
    bad.write_text("paralelism: 3\n")
    with pytest.raises(SpecError, match="paralelism: unknown config key"):
        load_settings(str(tmp_path), str(bad))


async def test_env_from_local_secrets_and_config_maps(engine: Engine) -> None:
    data = engine.config.data_dir
    (data / "secrets").mkdir(parents=True)
    (data / "secrets" / "db.yaml").write_text(
        yaml.safe_dump(
            {"kind": "Secret", "data": {"password": base64.b64encode(b"s3cret").decode()}}
        )
    )
    (data / "configmaps" / "settings").mkdir(parents=True)
    (data / "configmaps" / "settings" / "mode").write_text("fast")
    wf = await run(
        engine,
        """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: env-}
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: a
      command: [sh, -c, 'echo "$PASSWORD/$MODE/$PLAIN"']
      env:
      - {name: PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}
      - {name: MODE, valueFrom: {configMapKeyRef: {name: settings, key: mode}}}
      - {name: PLAIN, value: "x"}
""",
    )
    assert wf["status"]["phase"] == "Succeeded"
    root = wf["status"]["nodes"][wf["metadata"]["name"]]
    assert root["outputs"]["result"] == "s3cret/fast/x"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            {"container": {"image": "a", "command": ["echo", "{{inputs.parameters.nope}}"]}},
            "failed to resolve {{inputs.parameters.nope}}",
        ),
        (
            {
                "container": {
                    "image": "a",
                    "command": ["echo"],
                    "env": [
                        {
                            "name": "X",
                            "valueFrom": {"secretKeyRef": {"name": "missing", "key": "k"}},
                        }
                    ],
                }
            },
            'env X: secret "missing" not found',
        ),
        (
            {"steps": [[{"name": "s", "template": "echo", "withParam": "not a list"}]]},
            "withParam value could not be parsed as a JSON list: not a list",
        ),
        (
            {
                "steps": [
                    [{"name": "s", "template": "echo", "when": "{{workflow.parameters.x}} == y"}]
                ]
            },
            "failed to resolve {{workflow.parameters.x}}",
        ),
    ],
    ids=["undefined-input", "missing-secret", "bad-withparam", "undefined-in-when"],
)
async def test_errors_name_the_problem_at_the_node(
    engine: Engine, template: dict[str, Any], message: str
) -> None:
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "err-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", **template},
                {"name": "echo", "container": {"image": "a", "command": ["true"]}},
            ],
        },
    }
    try:
        wf = await run(engine, manifest)
    except SpecError as exc:  # the linter may catch it at submit already
        assert any(message.split("{{")[-1].rstrip("}") in p for p in exc.problems), exc.problems
        return
    assert wf["status"]["phase"] in ("Error", "Failed")
    messages = [n.get("message", "") for n in wf["status"]["nodes"].values()]
    assert any(message in m for m in messages), messages


async def test_suspend_duration_uses_the_clock(engine: Engine) -> None:
    wf = await run(
        engine,
        """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: delay-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: wait, template: wait}
    - - {name: after, template: echo}
  - name: wait
    suspend: {duration: "1s"}
  - name: echo
    container: {image: a, command: [echo, done]}
""",
    )
    assert wf["status"]["phase"] == "Succeeded"
    assert nodes(wf)["wait"]["type"] == "Suspend" and nodes(wf)["wait"]["phase"] == "Succeeded"


async def test_pod_that_can_never_fit_fails_with_a_clear_message(tmp_path: Path) -> None:
    engine = make_engine(tmp_path, capacity={"cpu": "1", "memory": "1Gi"})
    await engine.start()
    try:
        wf = await run(
            engine,
            """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: big-}
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: a
      command: ["true"]
      resources: {requests: {cpu: "4", memory: 64Mi}}
""",
        )
    finally:
        await engine.close()
    node = wf["status"]["nodes"][wf["metadata"]["name"]]
    assert node["phase"] == "Failed"
    assert "cpu 4000m" in node["message"] and "1000m" in node["message"]


async def test_steps_template_deadline_stops_what_runs_under_it(engine: Engine) -> None:
    wf = await run(
        engine,
        """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: steps-deadline-}
spec:
  entrypoint: main
  templates:
  - name: main
    timeout: 1s
    steps:
    - - {name: slow, template: slow}
  - name: slow
    container: {image: a, command: [sleep, "30"]}
""",
    )
    root = wf["status"]["nodes"][wf["metadata"]["name"]]
    assert root["phase"] == "Failed" and root["message"] == "Step exceeded its deadline"
    assert nodes(wf)["slow"]["phase"] == "Failed"

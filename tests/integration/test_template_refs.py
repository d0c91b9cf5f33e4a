"""templateRef and workflowTemplateRef against stored WorkflowTemplates, and workflowDefaults."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml

from engine.service import Engine
from tests.conftest import make_engine

ROOT = Path(__file__).resolve().parents[2]


class Templates:
    """A minimal template source: what the engine asks of the stored templates."""

    def __init__(self, *manifests: dict[str, Any]) -> None:
        self.items = {}
        for m in manifests:
            cluster = m["kind"].startswith("Cluster")
            namespace = "" if cluster else m["metadata"].get("namespace", "default")
            self.items[(m["kind"], namespace, m["metadata"]["name"])] = m

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        from sluice.core.errors import NotFoundError

        try:
            return self.items[(kind, namespace, name)]
        except KeyError:
            raise NotFoundError(f'workflowtemplates.argoproj.io "{name}" not found') from None


WT = yaml.safe_load("""
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: lib}
spec:
  entrypoint: main
  arguments: {parameters: [{name: message, value: default}]}
  templates:
  - name: main
    steps:
    - - name: say
        template: print
        arguments: {parameters: [{name: m, value: "{{workflow.parameters.message}}"}]}
  - name: print
    inputs: {parameters: [{name: m}]}
    container: {image: a, command: [echo, "{{inputs.parameters.m}}"]}
  - name: nested
    steps:
    - - {name: inner, template: print, arguments: {parameters: [{name: m, value: nested}]}}
""")
CWT = {**WT, "kind": "ClusterWorkflowTemplate", "metadata": {"name": "cluster-lib"}}


async def run(engine: Engine, manifest: dict[str, Any]) -> dict[str, Any]:
    record = await engine.submit(manifest)
    return await asyncio.wait_for(engine.wait("default", record.name), 30)


def results(wf: dict[str, Any]) -> dict[str, str]:
    return {
        n["displayName"]: n.get("outputs", {}).get("result", "")
        for n in wf["status"]["nodes"].values()
    }


async def test_template_ref_from_steps_and_nested_names(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    engine.templates = engine.ctx.templates = Templates(WT, CWT)
    await engine.start()
    try:
        wf = await run(
            engine,
            yaml.safe_load("""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: ref-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: direct
        templateRef: {name: lib, template: print}
        arguments: {parameters: [{name: m, value: direct}]}
      - name: nested
        templateRef: {name: lib, template: nested}
      - name: cluster
        templateRef: {name: cluster-lib, template: print, clusterScope: true}
        arguments: {parameters: [{name: m, value: cluster}]}
      - name: missing
        templateRef: {name: nope, template: print}
        continueOn: {error: true}
"""),
        )
    finally:
        await engine.close()
    r = results(wf)
    assert r["direct"] == "direct" and r["inner"] == "nested" and r["cluster"] == "cluster"
    missing = next(n for n in wf["status"]["nodes"].values() if n["displayName"] == "missing")
    assert missing["phase"] == "Error" and "not found" in missing["message"]


async def test_workflow_template_ref_and_argument_override(tmp_path: Path) -> None:
    engine = make_engine(tmp_path)
    engine.templates = engine.ctx.templates = Templates(WT)
    await engine.start()
    try:
        wf = await run(engine, {
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"generateName": "wtr-"},
            "spec": {"workflowTemplateRef": {"name": "lib"},
                     "arguments": {"parameters": [{"name": "message", "value": "from ref"}]}},
        })  # fmt: skip
    finally:
        await engine.close()
    assert wf["status"]["phase"] == "Succeeded"
    assert results(wf)["say"] == "from ref"


async def test_workflow_defaults_add_an_exit_handler(tmp_path: Path) -> None:
    defaults = yaml.safe_load((ROOT / "examples/config/workflow-defaults.yaml").read_text())
    engine = make_engine(tmp_path, workflow_defaults=defaults["workflowDefaults"])
    await engine.start()
    try:
        wf = await run(
            engine, yaml.safe_load((ROOT / "examples/workflows/hello-world.yaml").read_text())
        )
    finally:
        await engine.close()
    assert wf["status"]["phase"] == "Succeeded"
    assert wf["metadata"]["labels"]["workflows.argoproj.io/defaults"] == "applied"
    names = {n["displayName"]: n for n in wf["status"]["nodes"].values()}
    assert names[wf["metadata"]["name"] + ".onExit"]["outputs"]["result"].startswith(
        "exit handler: Succeeded"
    )

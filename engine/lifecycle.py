"""After a workflow ends: the archive, ``ttlStrategy`` and ``podGC``; and running it again:
``retry`` (rerun what failed, keep what succeeded) and ``resubmit`` (a new workflow).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.status import Node, NodeType, Phase, node_id, parse_time
from engine.submit import random_suffix
from sluice.core.errors import ConflictError, NotFoundError, SpecError

if TYPE_CHECKING:
    from engine.service import Engine
    from engine.store.base import WorkflowRecord

log = logging.getLogger(__name__)
ARCHIVE_KIND = "ArchivedWorkflow"


# ---- archive ------------------------------------------------------------------------------
def archive(engine: Engine, record: WorkflowRecord) -> None:
    """Keep a copy of a completed workflow (Argo's workflow archive), keyed by its uid."""
    engine.store.put_resource(ARCHIVE_KIND, record.namespace, record.uid, record.to_argo())


def list_archived(engine: Engine, namespace: str | None = None) -> list[dict[str, Any]]:
    items = engine.store.list_resources(ARCHIVE_KIND, namespace)
    for item in items:
        item["metadata"].pop("generation", None)
    return sorted(items, key=lambda w: w["metadata"].get("creationTimestamp", ""), reverse=True)


def get_archived(engine: Engine, uid: str) -> dict[str, Any]:
    for item in engine.store.list_resources(ARCHIVE_KIND):
        if item["metadata"].get("uid") == uid:
            item["metadata"].pop("generation", None)
            return item
    raise NotFoundError(f'archived workflow "{uid}" not found')


def delete_archived(engine: Engine, uid: str) -> None:
    item = get_archived(engine, uid)
    engine.store.delete_resource(ARCHIVE_KIND, item["metadata"].get("namespace", ""), uid)


# ---- ttlStrategy and podGC ----------------------------------------------------------------
def ttl_seconds(spec: dict[str, Any], phase: str) -> float | None:
    ttl = spec.get("ttlStrategy") or {}
    key = "secondsAfterSuccess" if phase == "Succeeded" else "secondsAfterFailure"
    value = ttl.get(key, ttl.get("secondsAfterCompletion"))
    return None if value is None else float(value)


async def expire(engine: Engine, record: WorkflowRecord) -> None:
    """Delete a completed workflow once its ttlStrategy says so (the archive keeps it)."""
    seconds = ttl_seconds(record.manifest["spec"], str(record.status.get("phase")))
    if seconds is None:
        return
    finished = parse_time(record.status.get("finishedAt")) or engine.clock.now()
    left = seconds - (engine.clock.now() - finished).total_seconds()
    if left > 0:
        await engine.clock.sleep(left)
    with contextlib.suppress(NotFoundError):
        await engine.delete(record.namespace, record.name)


def collect_pods(data_dir: Path, record: WorkflowRecord, nodes: list[Node], when: str) -> None:
    """``podGC``: remove the pods' local directories (their /tmp, scripts, emptyDir volumes);
    logs are kept. ``when`` is the moment: ``pod`` (one pod ended) or ``workflow``."""
    gc = record.manifest["spec"].get("podGC") or {}
    strategy = gc.get("strategy") or ""
    phase = str(record.status.get("phase"))
    wanted = {
        "OnPodCompletion": when == "pod",
        "OnPodSuccess": when == "pod",
        "OnWorkflowCompletion": when == "workflow",
        "OnWorkflowSuccess": when == "workflow" and phase == "Succeeded",
    }.get(strategy, False)
    if not wanted:
        return
    for node in nodes:
        if node.type != NodeType.POD or not node.pod_name or not node.fulfilled:
            continue
        if strategy == "OnPodSuccess" and node.phase != Phase.SUCCEEDED:
            continue
        shutil.rmtree(data_dir / "pods" / record.uid / node.pod_name, True)
        node.extra["podGC"] = "deleted"


# ---- retry --------------------------------------------------------------------------------
def _selector(text: str) -> list[tuple[str, str, bool]]:
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.fullmatch(r"([\w.]+)\s*(!=|==|=)\s*(.*)", part)
        if not m:
            raise SpecError([f"node-field-selector: cannot parse '{part}'"])
        out.append((m.group(1), m.group(3), m.group(2) != "!="))
    return out


def _matches(node: Node, selector: list[tuple[str, str, bool]]) -> bool:
    fields = {
        "displayName": node.display_name,
        "name": node.name,
        "id": node.id,
        "templateName": node.template_name,
        "phase": str(node.phase),
        "type": str(node.type),
    }
    return all((fields.get(key) == value) is want for key, value, want in selector)


def nodes_to_rerun(
    record: WorkflowRecord, restart_successful: bool, node_field_selector: str | None
) -> list[str]:
    """Argo's retry: every node that did not succeed, the exit handler, and (with
    ``--restart-successful``) the selected succeeded nodes with everything under them."""
    reset = {
        n.id for n in record.nodes.values()
        if n.phase not in (Phase.SUCCEEDED, Phase.SKIPPED)
        or n.name.startswith(f"{record.name}.onExit")
    }  # fmt: skip
    if restart_successful and node_field_selector:
        chosen = [n for n in record.nodes.values() if _matches(n, _selector(node_field_selector))]
        for c in chosen:
            for n in record.nodes.values():
                if n.id == c.id or n.name.startswith((c.name + ".", c.name + "(", c.name + "[")):
                    reset.add(n.id)
            # the groups and templates that contain it run again too
            for n in record.nodes.values():
                if c.name.startswith((n.name + ".", n.name + "(", n.name + "[")):
                    reset.add(n.id)
    return sorted(reset)


async def retry(
    engine: Engine,
    namespace: str,
    name: str,
    restart_successful: bool = False,
    node_field_selector: str | None = None,
) -> dict[str, Any]:
    record = engine._get(namespace, name)
    if record.uid in engine.tasks or not record.status.get("finishedAt"):
        raise ConflictError(f"workflow {name} is still running; it can be retried once it ends")
    if record.status.get("phase") not in ("Failed", "Error") and not restart_successful:
        raise ConflictError(
            f"workflow {name} {record.status.get('phase')}: only a Failed or Error workflow"
            " can be retried"
        )
    reset = nodes_to_rerun(record, restart_successful, node_field_selector)
    engine.store.delete_nodes(record.uid, reset)
    for nid in reset:
        record.nodes.pop(nid, None)
    for n in record.nodes.values():  # unlink what is gone
        n.children = [c for c in n.children if c not in reset]
        engine.store.save_node(record.uid, n)
    for key in ("finishedAt", "message", "outputs"):
        record.status.pop(key, None)
    record.status["phase"] = "Running"
    spec = record.manifest["spec"]
    spec.pop("shutdown", None)
    labels = record.manifest["metadata"].setdefault("labels", {})
    labels["workflows.argoproj.io/completed"] = "false"
    labels.pop("workflows.argoproj.io/phase", None)
    engine.store.save_manifest(record.uid, record.manifest)
    engine.store.save_status(record.uid, record.status)
    if not engine._lock(record.uid):
        raise ConflictError(f"workflow {name} is being run by another process")
    engine._launch(record)
    await asyncio.sleep(0)
    return engine.get(namespace, name)


# ---- resubmit -----------------------------------------------------------------------------
async def resubmit(
    engine: Engine, namespace: str, name: str, memoized: bool = False
) -> dict[str, Any]:
    """A new workflow from this one's spec; ``memoized`` carries its succeeded pods over."""
    old = engine._get(namespace, name)
    if memoized and old.status.get("phase") not in ("Failed", "Error"):
        raise ConflictError(
            f"workflow {name} {old.status.get('phase')}: --memoized needs a Failed or Error one"
        )
    meta = old.manifest["metadata"]
    manifest: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "namespace": namespace,
            "generateName": meta.get("generateName") or f"{name}-",
            "labels": {
                k: v
                for k, v in (meta.get("labels") or {}).items()
                if not k.startswith("workflows.argoproj.io/")
            },
            "annotations": dict(meta.get("annotations") or {}),
        },
        "spec": {k: v for k, v in copy.deepcopy(old.manifest["spec"]).items() if k != "shutdown"},
    }
    manifest["metadata"]["labels"]["workflows.argoproj.io/resubmitted-from-workflow"] = name
    if not memoized:
        new = await engine.submit(manifest, where=f"resubmit of {name}")
        return new.to_argo()
    manifest["metadata"]["name"] = f"{meta.get('generateName') or name + '-'}{random_suffix()}"
    carried = {}
    for n in old.nodes.values():
        if n.type == NodeType.POD and n.phase == Phase.SUCCEEDED and n.name != old.name:
            new_name = manifest["metadata"]["name"] + n.name[len(old.name) :]
            copy_node = copy.deepcopy(n)
            copy_node.name = new_name
            copy_node.id = node_id(manifest["metadata"]["name"], new_name)
            copy_node.children = []
            copy_node.boundary_id = ""
            carried[copy_node.id] = copy_node
    new = await engine.submit(manifest, where=f"resubmit of {name}", carried_nodes=carried)
    return new.to_argo()

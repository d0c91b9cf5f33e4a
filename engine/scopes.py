"""What a template sees: the workflow's global variables, the runtime ones (status,
duration, failures), and the inputs a call binds from its arguments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.status import NodeType, Phase, fmt_time, parse_time
from engine.templating import Lazy, Scope, resolve, to_text
from engine.values import _json

if TYPE_CHECKING:
    from engine.operator import WorkflowRun


class NodeError(Exception):
    """The node cannot run: it ends in phase Error with this message."""


def global_scope(run: WorkflowRun) -> Scope:
    meta = run.record.manifest.get("metadata") or {}
    values: dict[str, Any] = {
        "workflow.name": run.name,
        "workflow.namespace": run.record.namespace,
        "workflow.uid": run.record.uid,
        "workflow.creationTimestamp": meta.get("creationTimestamp", ""),
        "workflow.serviceAccountName": run.spec.get("serviceAccountName", ""),
        "workflow.priority": str(run.spec.get("priority", 0)),
        "workflow.mainEntrypoint": run.spec.get("entrypoint", ""),
    }
    for p in (run.spec.get("arguments") or {}).get("parameters") or []:
        if "value" in p:
            values[f"workflow.parameters.{p['name']}"] = p["value"]
    # Argo: all workflow parameters as one JSON list of {name, value}
    values["workflow.parameters.json"] = _json(
        [
            {"name": p["name"], "value": to_text(p["value"])}
            for p in (run.spec.get("arguments") or {}).get("parameters") or []
            if "value" in p
        ]
    )
    for key in ("labels", "annotations"):
        for k, v in (meta.get(key) or {}).items():
            values[f"workflow.{key}.{k}"] = v
    for k, v in run.global_outputs.items():
        values[f"workflow.outputs.parameters.{k}"] = v
    for k, a in run.global_artifacts.items():
        values[f"workflow.outputs.artifacts.{k}"] = a["key"]
    return Scope(values)


def runtime_scope(run: WorkflowRun, scope: Scope) -> Scope:
    return scope.child(
        {
            "workflow.status": run.exit_status or run.record.status.get("phase", "Running"),
            "workflow.duration": Lazy(lambda: _duration(run)),
            "workflow.failures": Lazy(lambda: _failures(run)),
        }
    )


def _duration(run: WorkflowRun) -> str:
    t0 = parse_time(run.record.status.get("startedAt"))
    duration = (run.ctx.clock.now() - t0).total_seconds() if t0 else 0.0
    return f"{duration:.6f}"


def _failures(run: WorkflowRun) -> str:
    failures = [
        {
            "displayName": n.display_name,
            "message": n.message,
            "templateName": n.template_name,
            "phase": str(n.phase),
            "podName": n.pod_name,
            "finishedAt": fmt_time(n.finished_at),
        }
        for n in run.nodes.values()
        if n.type == NodeType.POD and n.phase in (Phase.FAILED, Phase.ERROR)
    ]
    return _json(failures)


def bind_inputs(
    run: WorkflowRun, tmpl: dict[str, Any], arguments: dict[str, Any]
) -> tuple[dict[str, Any], Scope]:
    """The template's inputs from the caller's arguments, and the scope they make."""
    args = {p["name"]: p for p in (arguments.get("parameters") or [])}
    params = []
    values: dict[str, Any] = {}
    for p in (tmpl.get("inputs") or {}).get("parameters") or []:
        arg = args.get(p["name"])
        if arg is not None and "value" in arg:
            value = arg["value"]
        elif "value" in p or "default" in p:
            # a template's own value or default may use workflow variables
            raw_value = p["value"] if "value" in p else p["default"]
            value = resolve(to_text(raw_value), runtime_scope(run, run.scope))
        else:
            raise NodeError(f"inputs.parameters.{p['name']} was not supplied")
        value = to_text(value)
        if p.get("enum") and value not in [to_text(e) for e in p["enum"]]:
            raise NodeError(
                f"inputs.parameters.{p['name']} value '{value}' is not in enum"
                f" {[to_text(e) for e in p['enum']]}"
            )
        params.append(
            {k: v for k, v in p.items() if k not in ("value", "default")} | {"value": value}
        )
        values[f"inputs.parameters.{p['name']}"] = value
    values["inputs.parameters"] = _json([{"name": p["name"], "value": p["value"]} for p in params])
    arts = {a["name"]: a for a in (arguments.get("artifacts") or [])}
    artifacts = []
    for a in (tmpl.get("inputs") or {}).get("artifacts") or []:
        if a.get("path"):
            values[f"inputs.artifacts.{a['name']}.path"] = a["path"]
        artifacts.append({**a, **arts.get(a["name"], {})} | {"path": a.get("path")})
    for p in (tmpl.get("outputs") or {}).get("parameters") or []:
        if (p.get("valueFrom") or {}).get("path"):
            values[f"outputs.parameters.{p['name']}.path"] = p["valueFrom"]["path"]
    for a in (tmpl.get("outputs") or {}).get("artifacts") or []:
        if a.get("path"):
            values[f"outputs.artifacts.{a['name']}.path"] = a["path"]
    inputs: dict[str, Any] = {}
    if params:
        inputs["parameters"] = params
    if artifacts:
        inputs["artifacts"] = artifacts
    return inputs, run.scope.child(values)

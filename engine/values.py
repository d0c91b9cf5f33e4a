"""Values a workflow's templates see and produce: the ``steps.X`` / ``tasks.X`` scope of a
finished node (aggregated over loops), Argo's durations and deadlines, JSON as Go writes it."""

from __future__ import annotations

import json
import re
from typing import Any

from engine.status import Node, fmt_time


def template_deadline(tmpl: dict[str, Any]) -> float | None:
    """Seconds a template may run: ``activeDeadlineSeconds`` or ``timeout``, the smaller."""
    limits = []
    if tmpl.get("activeDeadlineSeconds") not in (None, ""):
        limits.append(float(tmpl["activeDeadlineSeconds"]))
    if tmpl.get("timeout") not in (None, ""):
        limits.append(parse_duration(str(tmpl["timeout"])))
    return min(limits) if limits else None


def parse_duration(text: str) -> float:
    """Argo's durations: a bare number is seconds; else Go's ``1h2m3s``-style units."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    total = 0.0
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}
    matches = list(re.finditer(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)", text))
    if not matches or "".join(m.group(0) for m in matches) != text:
        raise ValueError(f"invalid duration '{text}'")
    for m in matches:
        total += float(m.group(1)) * units[m.group(2)]
    return total


def step_scope_values(prefix: str, name: str, node: Node, nodes: dict[str, Node]) -> dict[str, Any]:
    """``steps.NAME.*`` / ``tasks.NAME.*`` for a finished step or task (aggregated for loops)."""
    key = f"{prefix}.{name}"
    values: dict[str, Any] = {
        f"{key}.id": node.id,
        f"{key}.status": str(node.phase),
        f"{key}.startedAt": fmt_time(node.started_at) or "",
        f"{key}.finishedAt": fmt_time(node.finished_at) or "",
        f"{key}.ip": "127.0.0.1",
    }
    outputs = node.outputs or {}
    if "result" in outputs:
        values[f"{key}.outputs.result"] = outputs["result"]
    if "exitCode" in outputs:
        values[f"{key}.exitCode"] = outputs["exitCode"]
    for p in outputs.get("parameters") or []:
        values[f"{key}.outputs.parameters.{p['name']}"] = p["value"]
    for a in outputs.get("artifacts") or []:
        values[f"{key}.outputs.artifacts.{a['name']}"] = a["key"]
    values[f"{key}.outputs.parameters"] = _json(
        {p["name"]: p["value"] for p in outputs.get("parameters") or []}
    )
    return values


def aggregate_scope_values(prefix: str, name: str, children: list[Node]) -> dict[str, Any]:
    """Outputs of an expanded step or task: each output as a JSON list over its children."""
    key = f"{prefix}.{name}"
    values: dict[str, Any] = {}
    results = [str(c.outputs["result"]) for c in children if c.outputs and "result" in c.outputs]
    if results:
        values[f"{key}.outputs.result"] = _json([_json_or_text(r) for r in results])
    # the whole outputs.parameters of a loop: one {name: value} map per child
    values[f"{key}.outputs.parameters"] = _json(
        [
            {p["name"]: p["value"] for p in (c.outputs or {}).get("parameters") or []}
            for c in children
        ]
    )
    names: list[str] = []
    for c in children:
        for p in (c.outputs or {}).get("parameters") or []:
            if p["name"] not in names:
                names.append(p["name"])
    for pname in names:
        vals = [
            p["value"]
            for c in children
            for p in (c.outputs or {}).get("parameters") or []
            if p["name"] == pname
        ]
        values[f"{key}.outputs.parameters.{pname}"] = _json(vals)
    return values


def _json(value: Any) -> str:
    """JSON as Go's encoder writes it (no spaces), which is what Argo puts into templates."""
    return json.dumps(value, separators=(",", ":"))


def _json_or_text(text: str) -> Any:
    # Argo keeps a result that is a JSON object as an object, anything else as its text.
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text
    return value if isinstance(value, dict) else text

"""Workflow and node status in Argo's shape, and the naming rules Argo uses for nodes and pods.

Node ids and pod names are derived from node names exactly as Argo derives them, so a restarted
engine that walks the same workflow again finds the same nodes in its store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Phase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERROR = "Error"
    SKIPPED = "Skipped"
    OMITTED = "Omitted"

    @property
    def fulfilled(self) -> bool:
        return self in _FULFILLED


_FULFILLED = {Phase.SUCCEEDED, Phase.FAILED, Phase.ERROR, Phase.SKIPPED, Phase.OMITTED}


class NodeType(StrEnum):
    POD = "Pod"
    STEPS = "Steps"
    STEP_GROUP = "StepGroup"
    DAG = "DAG"
    TASK_GROUP = "TaskGroup"
    RETRY = "Retry"
    SKIPPED = "Skipped"
    SUSPEND = "Suspend"
    HTTP = "HTTP"
    CONTAINER = "Container"


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def fmt_time(t: datetime | None) -> str | None:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


def parse_time(s: str | None) -> datetime | None:
    if not s:
        return None
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def fnv32a(text: str) -> int:
    h = 0x811C9DC5
    for b in text.encode():
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def node_id(workflow_name: str, node_name: str) -> str:
    """Argo's node id: the workflow's own node is named after it, every other is hashed."""
    if node_name == workflow_name:
        return workflow_name
    return f"{workflow_name}-{fnv32a(node_name)}"


def pod_name(workflow_name: str, node_name: str, template_name: str) -> str:
    """Argo's v2 pod name: ``<workflow>-<template>-<fnv32a(node name)>``, kept under 63 chars."""
    if workflow_name == node_name:
        return workflow_name
    prefix = f"{workflow_name}-{template_name}" if template_name else workflow_name
    if len(prefix) > 63 - 11:
        prefix = prefix[: 63 - 11]
    return f"{prefix}-{fnv32a(node_name)}"


@dataclass
class Node:
    """One node of a workflow's graph, as Argo's NodeStatus."""

    id: str
    name: str
    display_name: str
    type: NodeType
    template_name: str = ""
    phase: Phase = Phase.PENDING
    boundary_id: str = ""
    message: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    children: list[str] = field(default_factory=list)
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    pod_name: str = ""
    host_node_name: str = ""
    log_path: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fulfilled(self) -> bool:
        return self.phase.fulfilled

    def to_argo(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "displayName": self.display_name,
            "type": str(self.type),
            "templateName": self.template_name,
            "phase": str(self.phase),
            "startedAt": fmt_time(self.started_at),
            "finishedAt": fmt_time(self.finished_at),
        }
        if self.boundary_id:
            out["boundaryID"] = self.boundary_id
        if self.message:
            out["message"] = self.message
        if self.children:
            out["children"] = list(self.children)
        if self.inputs:
            out["inputs"] = self.inputs
        if self.outputs:
            out["outputs"] = self.outputs
        if self.pod_name:
            out["podName"] = self.pod_name
        if self.host_node_name:
            out["hostNodeName"] = self.host_node_name
        out.update(self.extra)
        return out

    @classmethod
    def from_argo(cls, data: dict[str, Any], log_path: str = "") -> Node:
        known = {
            "id", "name", "displayName", "type", "templateName", "phase", "boundaryID",
            "message", "startedAt", "finishedAt", "children", "inputs", "outputs", "podName",
            "hostNodeName",
        }  # fmt: skip
        return cls(
            id=data["id"],
            name=data["name"],
            display_name=data.get("displayName", data["name"]),
            type=NodeType(data["type"]),
            template_name=data.get("templateName", ""),
            phase=Phase(data.get("phase", "Pending")),
            boundary_id=data.get("boundaryID", ""),
            message=data.get("message", ""),
            started_at=parse_time(data.get("startedAt")),
            finished_at=parse_time(data.get("finishedAt")),
            children=list(data.get("children", [])),
            inputs=data.get("inputs"),
            outputs=data.get("outputs"),
            pod_name=data.get("podName", ""),
            host_node_name=data.get("hostNodeName", ""),
            log_path=log_path,
            extra={k: v for k, v in data.items() if k not in known},
        )

"""The WorkflowStore interface: where every workflow and node transition is written first.

The engine writes a node's new state here before it acts on it, so a restarted engine can walk
its running workflows again and pick up where the old process stopped. The same store keeps the
resources users create by name (WorkflowTemplates, CronWorkflows, later EventSources and
Sensors) in one kind-agnostic table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.status import Node


@dataclass
class WorkflowRecord:
    """A stored workflow: its manifest (metadata + spec) and status, nodes held apart."""

    uid: str
    namespace: str
    name: str
    manifest: dict[str, Any]
    status: dict[str, Any] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    idempotency_key: str | None = None

    @property
    def phase(self) -> str:
        return str(self.status.get("phase") or "Pending")

    def to_argo(self) -> dict[str, Any]:
        """The Workflow object exactly as Argo's API returns it."""
        out = dict(self.manifest)
        out.setdefault("apiVersion", "argoproj.io/v1alpha1")
        out.setdefault("kind", "Workflow")
        status = dict(self.status)
        if self.nodes:
            status["nodes"] = {nid: n.to_argo() for nid, n in self.nodes.items()}
        out["status"] = status
        return out


class ResourceStore(Protocol):
    """Stored resources of any kind (WorkflowTemplates, CronWorkflows, EventSources, ...).

    A resource is its manifest, keyed by ``(kind, namespace, name)``; cluster-scoped kinds use
    namespace ``""``. Each put bumps the resource's generation, which reads return as
    ``metadata.generation`` (1 after the first put), so a watcher can tell a changed resource.
    """

    def put_resource(self, kind: str, namespace: str, name: str, manifest: dict[str, Any]) -> None:
        """Insert the resource, or replace the manifest of the one stored under that key."""
        ...

    def get_resource(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None: ...

    def list_resources(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Resources of ``kind`` (in ``namespace``, or all when None), ordered by name."""
        ...

    def delete_resource(self, kind: str, namespace: str, name: str) -> bool:
        """Delete the resource; False when there was none."""
        ...


class WorkflowStore(ResourceStore, Protocol):
    """Persistence for workflows and stored resources; SQLite (default) or PostgreSQL."""

    def create(self, record: WorkflowRecord) -> None: ...

    def save_manifest(self, uid: str, manifest: dict[str, Any]) -> None: ...

    def generation(self, uid: str) -> int: ...

    def save_status(self, uid: str, status: dict[str, Any]) -> None: ...

    def save_node(self, uid: str, node: Node) -> None: ...

    def delete_nodes(self, uid: str, node_ids: list[str]) -> None: ...

    def get(self, namespace: str, name: str) -> WorkflowRecord | None: ...

    def get_by_uid(self, uid: str) -> WorkflowRecord | None: ...

    def find_by_key(self, key: str) -> WorkflowRecord | None: ...

    def list_workflows(self, namespace: str | None = None) -> list[WorkflowRecord]: ...

    def list_unfinished(self) -> list[WorkflowRecord]: ...

    def delete(self, uid: str) -> None: ...

    def close(self) -> None: ...


def with_generation(manifest: dict[str, Any], generation: int) -> dict[str, Any]:
    """A stored resource's manifest as reads return it: ``metadata.generation`` from the store."""
    meta = manifest.get("metadata")
    manifest["metadata"] = {**(meta if isinstance(meta, dict) else {}), "generation": generation}
    return manifest

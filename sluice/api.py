"""argo-server's REST paths for stored resources and the archive, shared by the server and its
client.

One row per kind: where its routes live under ``/api/v1/`` and the key a create request wraps
the manifest in (``{"template": {...}}``, ``{"cronWorkflow": {...}}``), as argo-server has them.
Cluster-scoped kinds have no ``{namespace}`` segment.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.templates import STORED_KINDS


@dataclass(frozen=True)
class ResourceApi:
    kind: str
    path: str
    body_key: str

    @property
    def namespaced(self) -> bool:
        return STORED_KINDS[self.kind].namespaced

    def url(self, namespace: str = "", name: str = "", action: str = "") -> str:
        """The path for a list/create (no name), one resource, or an action on it."""
        parts = ["/api/v1", self.path]
        if self.namespaced:
            parts.append(namespace or "default")
        parts.extend(p for p in (name, action) if p)
        return "/".join(parts)


RESOURCE_APIS: dict[str, ResourceApi] = {
    api.kind: api
    for api in (
        ResourceApi("WorkflowTemplate", "workflow-templates", "template"),
        ResourceApi("ClusterWorkflowTemplate", "cluster-workflow-templates", "template"),
        ResourceApi("CronWorkflow", "cron-workflows", "cronWorkflow"),
    )
}

# argo-server's ArchivedWorkflowService: archived workflows are addressed by uid alone
ARCHIVE_PATH = "/api/v1/archived-workflows"

# sluice's own routes: apply/get/delete of every kind, and the event stream (`sluice up`)
SLUICE_PATH = "/api/v1/sluice"

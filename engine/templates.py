"""Stored WorkflowTemplates, ClusterWorkflowTemplates and CronWorkflows, as argo-server has them.

Users create these once by name and use them later: a Workflow's ``templateRef`` and
``workflowTemplateRef`` resolve against them, ``submit --from`` turns one into a Workflow, and the
cron scheduler runs the CronWorkflows. The registry checks a manifest as ``sluice lint`` does
before storing it (templateRefs against the templates already stored), fills in the metadata the
Kubernetes API would (namespace, uid, creationTimestamp), and words its errors as that API and
Argo do (``workflowtemplates.argoproj.io "x" not found``), because scripts match on them.
"""

from __future__ import annotations

import builtins
import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.cron import validate as validate_cron
from engine.lint import lint_resource
from engine.models import (
    ClusterWorkflowTemplate,
    WorkflowResource,
    WorkflowTemplate,
    parse_resource,
)
from engine.status import fmt_time
from engine.store.base import ResourceStore
from engine.submit import random_suffix
from sluice.core.clock import Clock, SystemClock
from sluice.core.errors import ConflictError, NotFoundError, SpecError
from sluice.core.model import API_VERSION
from sluice.core.resources import RawResource
from sluice.core.stored import same_content, stamp

DEFAULT_NAMESPACE = "default"
LABEL_WORKFLOW_TEMPLATE = "workflows.argoproj.io/workflow-template"
LABEL_CLUSTER_WORKFLOW_TEMPLATE = "workflows.argoproj.io/cluster-workflow-template"
LABEL_CRON_WORKFLOW = "workflows.argoproj.io/cron-workflow"
ANNOTATION_SCHEDULED_TIME = "workflows.argoproj.io/scheduled-time"


@dataclass(frozen=True)
class StoredKind:
    """A kind the registry keeps: its resource plural (for errors) and the names CLIs accept."""

    name: str
    plural: str
    namespaced: bool
    aliases: tuple[str, ...]


STORED_KINDS: dict[str, StoredKind] = {
    k.name: k
    for k in (
        StoredKind("WorkflowTemplate", "workflowtemplates", True, ("wftmpl",)),
        StoredKind(
            "ClusterWorkflowTemplate", "clusterworkflowtemplates", False, ("cwftmpl", "cwft")
        ),
        StoredKind("CronWorkflow", "cronworkflows", True, ("cwf", "cronwf")),
    )
}


def stored_kind(kind: str) -> StoredKind | None:
    """The kind named as argo's ``submit --from`` accepts it: ``CronWorkflow``,
    ``cronworkflow``, ``cronworkflows`` or a short name (``cwf``, ``wftmpl``, ``cwftmpl``)."""
    for k in STORED_KINDS.values():
        if kind in (k.name, k.name.lower(), k.plural, *k.aliases):
            return k
    return None


class TemplateRegistry:
    """WorkflowTemplates, ClusterWorkflowTemplates and CronWorkflows over a ResourceStore.

    Cluster-scoped kinds ignore the namespace they are given and are stored under ``""``.
    """

    def __init__(self, store: ResourceStore, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or SystemClock()

    def create(
        self,
        manifest: dict[str, Any],
        where: str = "<input>",
        *,
        kind: str | None = None,
        upsert: bool = False,
    ) -> dict[str, Any]:
        """Validate and store ``manifest``; the stored resource is returned.

        ``kind`` is the kind a caller expects (a route's, a CLI verb's): a manifest without
        ``kind``/``apiVersion`` gets it, one of another kind is a SpecError. An existing
        resource is a ConflictError unless ``upsert``, which replaces it and keeps its uid,
        creation time and (when the new manifest has none) its status.
        """
        data = copy.deepcopy(manifest)
        if kind is not None:
            data.setdefault("kind", kind)
            data.setdefault("apiVersion", API_VERSION)
        raw = RawResource(file=where, index=1, data=data, label=where)
        wanted = kind or " or ".join(STORED_KINDS)
        if raw.kind not in STORED_KINDS or raw.kind != (kind or raw.kind):
            got = f"got '{raw.kind}'" if raw.kind else "the field is missing"
            raise SpecError([f"{where}: kind: expected {wanted}, {got}"])
        obj = parse_resource(raw)
        spec = STORED_KINDS[raw.kind]
        meta = data.setdefault("metadata", {})
        meta.pop("generation", None)  # the store counts generations
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise SpecError([f"{where}: metadata.name: required field is missing"])
            meta["name"] = meta["generateName"] + random_suffix()
        name = str(meta["name"])
        namespace = self._namespace(spec, meta.get("namespace"))
        if spec.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        problems = lint_resource(obj, where, self._known(namespace, obj))
        if spec.name == "CronWorkflow":
            problems += _cron_problems(data, where)
        if problems:
            raise SpecError(problems)
        existing = self.store.get_resource(spec.name, namespace, name)
        if existing is not None and not upsert:
            raise ConflictError(f'{spec.plural}.argoproj.io "{name}" already exists')
        if existing is not None and same_content(existing, data):
            return existing  # re-applied unchanged: no new generation
        stamp(data, existing, fmt_time(self.clock.now()) or "")
        self.store.put_resource(spec.name, namespace, name, data)
        return self.get(spec.name, namespace, name)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        spec = self._kind(kind)
        found = self.store.get_resource(spec.name, self._namespace(spec, namespace), name)
        if found is None:
            raise NotFoundError(f'{spec.plural}.argoproj.io "{name}" not found')
        return found

    def list(self, kind: str, namespace: str | None = None) -> builtins.list[dict[str, Any]]:
        """Resources of ``kind`` by name, in ``namespace`` (every namespace when None)."""
        spec = self._kind(kind)
        return self.store.list_resources(spec.name, namespace if spec.namespaced else "")

    def delete(self, kind: str, namespace: str, name: str) -> None:
        spec = self._kind(kind)
        if not self.store.delete_resource(spec.name, self._namespace(spec, namespace), name):
            raise NotFoundError(f'{spec.plural}.argoproj.io "{name}" not found')

    def set_suspend(self, namespace: str, name: str, suspend: bool) -> dict[str, Any]:
        """Suspend or resume a CronWorkflow: ``spec.suspend`` is stored as given."""
        cron = self.get("CronWorkflow", namespace, name)
        cron["metadata"].pop("generation", None)
        cron.setdefault("spec", {})["suspend"] = suspend
        self.store.put_resource("CronWorkflow", namespace, name, cron)
        return self.get("CronWorkflow", namespace, name)

    def lookup_template(
        self, ref_name: str, template: str, cluster_scope: bool, namespace: str
    ) -> dict[str, Any]:
        """The template a ``templateRef`` names, as YAML writes it; Argo's errors otherwise."""
        kind = "ClusterWorkflowTemplate" if cluster_scope else "WorkflowTemplate"
        owner = self.store.get_resource(kind, "" if cluster_scope else namespace, ref_name)
        if owner is None:
            raise NotFoundError(f"workflow template {ref_name} not found")
        for tmpl in (owner.get("spec") or {}).get("templates") or []:
            if isinstance(tmpl, dict) and tmpl.get("name") == template:
                return copy.deepcopy(tmpl)
        raise NotFoundError(f"template {template} not found in workflow template {ref_name}")

    # ---- helpers ----------------------------------------------------------------------------
    def _kind(self, kind: str) -> StoredKind:
        spec = STORED_KINDS.get(kind)
        if spec is None:
            raise NotFoundError(f'the server doesn\'t have a resource type "{kind}"')
        return spec

    @staticmethod
    def _namespace(spec: StoredKind, namespace: str | None) -> str:
        return (namespace or DEFAULT_NAMESPACE) if spec.namespaced else ""

    def _known(
        self, namespace: str, obj: WorkflowResource
    ) -> dict[str, WorkflowTemplate | ClusterWorkflowTemplate]:
        """The stored templates a templateRef in ``obj`` may name, ``obj`` itself included."""
        known: dict[str, WorkflowTemplate | ClusterWorkflowTemplate] = {}
        for kind, ns in (("ClusterWorkflowTemplate", ""), ("WorkflowTemplate", namespace)):
            for stored in self.store.list_resources(kind, ns):
                raw = RawResource(file="<stored>", index=1, data=stored)
                try:
                    parsed = parse_resource(raw)
                except SpecError:  # stored by an older, laxer sluice: nothing to check against
                    continue
                if isinstance(parsed, WorkflowTemplate | ClusterWorkflowTemplate):
                    known[raw.name] = parsed
        if isinstance(obj, WorkflowTemplate | ClusterWorkflowTemplate) and obj.metadata.name:
            known[obj.metadata.name] = obj
        return known


def _cron_problems(cron: dict[str, Any], where: str) -> list[str]:
    """What the scheduler would reject: schedules, timezone, concurrencyPolicy, name length."""
    try:
        validate_cron(cron)
    except SpecError as exc:
        return [f"{where}: {problem}" for problem in exc.problems]
    return []


def workflow_from_template(name: str, cluster_scope: bool) -> dict[str, Any]:
    """The Workflow ``argo submit --from workflowtemplate/NAME`` creates: a workflowTemplateRef
    that the engine resolves when it runs."""
    label = LABEL_CLUSTER_WORKFLOW_TEMPLATE if cluster_scope else LABEL_WORKFLOW_TEMPLATE
    ref: dict[str, Any] = {"name": name}
    if cluster_scope:
        ref["clusterScope"] = True
    return {
        "apiVersion": API_VERSION,
        "kind": "Workflow",
        "metadata": {"generateName": f"{name}-", "labels": {label: name}},
        "spec": {"workflowTemplateRef": ref},
    }


def workflow_from_cron(cron: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The Workflow ``argo submit --from cronworkflow/NAME`` creates: the cron's workflowSpec
    and workflowMetadata, named after the cron, scheduled ``now``."""
    name = str((cron.get("metadata") or {}).get("name") or "")
    spec = cron.get("spec") or {}
    extra = spec.get("workflowMetadata") or {}
    labels = {**(extra.get("labels") or {}), LABEL_CRON_WORKFLOW: name}
    annotations = {**(extra.get("annotations") or {}), ANNOTATION_SCHEDULED_TIME: fmt_time(now)}
    return {
        "apiVersion": API_VERSION,
        "kind": "Workflow",
        "metadata": {"generateName": f"{name}-", "labels": labels, "annotations": annotations},
        "spec": copy.deepcopy(spec.get("workflowSpec") or {}),
    }

"""The ``k8s`` trigger: create the Kubernetes object its ``source`` holds.

sluice runs no Kubernetes API of its own for sensors, so the one object it can create is the
one it has an engine for: an ``argoproj.io`` Workflow (resource ``workflows``) with operation
``create`` (the default), submitted through the :class:`~sensor.triggers.workflow.WorkflowSubmitter`
with the firing's idempotency key. Any other object, or ``update``/``patch``/``delete``, is a
non-retryable "not supported yet".

As Argo's ``standard-k8s.go``: the object's group comes from its ``apiVersion`` and its resource
is its kind in lowercase plural (the template's ``group``/``version``/``resource`` are ignored);
the namespace defaults to the sensor's; ``create`` adds the ``events.argoproj.io`` labels.
"""

from __future__ import annotations

from typing import Any

from sensor.triggers.base import Firing, Outcome, TriggerError, TriggerImpl, register, unsupported
from sensor.triggers.fetch import fetch_resource
from sensor.triggers.workflow import argo_labels, event_annotations, submitter_error

WORKFLOWS = ("argoproj.io", "workflows")


def resource_plural(kind: str) -> str:
    """A kind's resource name, as Kubernetes' lowercase plural namer makes it."""
    lower = kind.lower()
    if lower == "eventbus":  # Argo's one exception
        return lower
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return lower + "es"
    if lower.endswith("y") and lower[-2:-1] not in ("a", "e", "i", "o", "u", ""):
        return lower[:-1] + "ies"
    return lower + "s"


def group_resource(obj: dict[str, Any]) -> tuple[str, str]:
    """``(group, resource)`` of an object: ``("argoproj.io", "workflows")``, ``("", "pods")``."""
    api_version = str(obj.get("apiVersion") or "")
    group = api_version.rpartition("/")[0]
    return group, resource_plural(str(obj.get("kind") or ""))


@register("k8s")
class K8sTrigger(TriggerImpl):
    async def resource(self) -> Any:
        spec = self.trigger.template.k8s
        where = f"trigger {self.name}"
        return await fetch_resource(spec.source if spec else None, self.context, where)

    async def fire(self, firing: Firing, resource: Any, payload: bytes | None = None) -> Outcome:
        where = firing.where()
        if not isinstance(resource, dict):
            raise TriggerError(f"{where}: the resource is not an object", retryable=False)
        group, plural = group_resource(resource)
        if (group, plural) != WORKFLOWS:
            raise unsupported(f"{where}: k8s trigger for {group or 'core'}/{plural}")
        spec = self.trigger.template.k8s
        operation = (spec.operation if spec else None) or "create"
        if operation != "create":
            raise unsupported(
                f"{where}: k8s trigger operation {operation} on {'/'.join(WORKFLOWS)}"
            )
        submitter = self.context.submitter
        if submitter is None:
            raise TriggerError(f"{where}: no workflow engine to submit to", retryable=False)
        meta = resource.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise TriggerError(f"{where}: metadata is not a mapping", retryable=False)
        meta["namespace"] = meta.get("namespace") or firing.namespace
        labels = {**firing.labels, **argo_labels(firing, self.context.clock.now())}
        try:
            name, duplicate = await submitter.submit(
                resource,
                idempotency_key=firing.idempotency_key,
                labels=labels,
                annotations=event_annotations(firing),
            )
        except Exception as exc:
            raise submitter_error(exc, where) from exc
        done = "already created" if duplicate else "created"
        return Outcome(f"{done} workflow {meta['namespace']}/{name}", name, duplicate)

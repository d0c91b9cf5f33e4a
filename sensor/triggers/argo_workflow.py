"""The ``argoWorkflow`` trigger: submit a workflow, or act on one, as the ``argo`` CLI would.

Argo Events runs ``argo -n NAMESPACE <operation> ...`` (``argo-workflow.go``); here the same
operations go through the :class:`~sensor.triggers.workflow.WorkflowSubmitter`:

* ``submit`` (the default): the ``source`` object is the Workflow, labelled as Argo labels it;
  it needs ``metadata.name`` or ``generateName``;
* ``submit-from``: the ``source`` object names a ``CronWorkflow`` or ``WorkflowTemplate``
  (``kind`` and ``metadata.name``; any other kind is Argo's "invalid kind");
* ``resubmit``, ``resume``, ``retry``, ``suspend``, ``terminate``, ``stop``: on the workflow
  named by the ``source`` object's ``metadata.name``.

The namespace is the object's, else the sensor's. ``args`` are the CLI's extra arguments: for
``submit`` and ``submit-from``, the ``argo submit`` options that
:func:`~sensor.triggers.workflow.parse_args` knows; the other operations take none yet.
``submit`` and ``submit-from`` carry the firing's idempotency key; the other operations are
not deduplicated (a resume twice is harmless, a resubmit twice is two workflows).
"""

from __future__ import annotations

from typing import Any

from sensor.triggers.base import Firing, Outcome, TriggerError, TriggerImpl, register, unsupported
from sensor.triggers.fetch import fetch_resource
from sensor.triggers.workflow import (
    ACTIONS,
    argo_labels,
    event_annotations,
    parse_args,
    submitter_error,
)

SUBMIT_FROM_KINDS = {"cronworkflow": "CronWorkflow", "workflowtemplate": "WorkflowTemplate"}


@register("argoWorkflow")
class ArgoWorkflowTrigger(TriggerImpl):
    async def resource(self) -> Any:
        spec = self.trigger.template.argo_workflow
        where = f"trigger {self.name}"
        return await fetch_resource(spec.source if spec else None, self.context, where)

    async def fire(self, firing: Firing, resource: Any, payload: bytes | None = None) -> Outcome:
        where = firing.where()
        spec = self.trigger.template.argo_workflow
        operation = (spec.operation if spec else None) or "submit"
        args = list(spec.args or []) if spec else []
        if not isinstance(resource, dict):
            raise TriggerError(f"{where}: the resource is not an object", retryable=False)
        meta = resource.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise TriggerError(f"{where}: metadata is not a mapping", retryable=False)
        name = str(meta.get("name") or "")
        if not name and operation != "submit":
            raise TriggerError(
                f"{where}: failed to execute the workflow {operation} operation, no name is given",
                retryable=False,
            )
        if not name and not meta.get("generateName"):
            raise TriggerError(
                f"{where}: failed to trigger the workflow, neither name nor generateName is given",
                retryable=False,
            )
        namespace = str(meta.get("namespace") or firing.namespace)
        submitter = self.context.submitter
        if submitter is None:
            raise TriggerError(f"{where}: no workflow engine to submit to", retryable=False)
        try:
            if operation == "submit":
                options, arg_labels = parse_args(args, where)
                meta["namespace"] = namespace
                now = self.context.clock.now()
                wf, duplicate = await submitter.submit(
                    resource,
                    idempotency_key=firing.idempotency_key,
                    labels={**firing.labels, **arg_labels, **argo_labels(firing, now)},
                    annotations=event_annotations(firing),
                    args=options,
                )
            elif operation == "submit-from":
                kind = SUBMIT_FROM_KINDS.get(str(resource.get("kind") or "").lower())
                if kind is None:
                    raise TriggerError(
                        f"{where}: invalid kind {resource.get('kind') or ''}", retryable=False
                    )
                options, arg_labels = parse_args(args, where)
                wf, duplicate = await submitter.submit_from(
                    kind,
                    namespace,
                    name,
                    idempotency_key=firing.idempotency_key,
                    labels={**firing.labels, **arg_labels},
                    annotations=event_annotations(firing),
                    args=options,
                )
            elif operation in ACTIONS:
                if args:
                    raise unsupported(f"{where}: argoWorkflow.args with operation {operation}")
                wf, duplicate = await submitter.act(operation, namespace, name), False
            else:
                raise TriggerError(f"{where}: unknown operation type {operation}", retryable=False)
        except Exception as exc:
            raise submitter_error(exc, where) from exc
        if duplicate:
            return Outcome(f"{operation}: already done as workflow {namespace}/{wf}", wf, True)
        return Outcome(f"{operation}: workflow {namespace}/{wf}", wf)

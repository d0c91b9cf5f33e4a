"""How a sensor reaches the workflow engine: the small submit interface, and what goes with it.

The sensor package does not import the engine (import-linter keeps them apart), so the ``k8s``
and ``argoWorkflow`` triggers talk to a :class:`WorkflowSubmitter` that the app supplies:
``sluice.submitter.EngineSubmitter`` (an engine in this process) or ``RestSubmitter`` (a sluice
server's argo-server-shaped API).

What a submitted workflow carries, as Argo Events sets it on ``submit``/``create``:

* labels ``events.argoproj.io/sensor`` (the sensor's name), ``events.argoproj.io/trigger`` (the
  trigger's name) and ``events.argoproj.io/action-timestamp`` (milliseconds since the epoch, as
  Argo's ``strconv.Itoa(int(time.Now().UnixNano() / int64(time.Millisecond)))``);
* annotation ``sluice/event-ids``: the ids of the events that fired it, comma-separated, in
  dependency-name order. An annotation, not a label: two CloudEvent ids (UUIDs) already exceed
  a label value's 63 characters, and ids may hold characters labels do not allow.

Argo adds its labels only on ``submit`` (not ``submit-from``); sluice does the same, and adds
its annotation to every workflow a trigger creates.

A submitter raises sluice's own errors: :class:`~sluice.core.errors.SpecError`,
``NotFoundError``, ``ConflictError`` and ``PermanentError`` are permanent; anything else (a
``TemporaryError``, a connection error) may pass on a retry. :func:`submitter_error` turns
them into :class:`TriggerError` accordingly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sensor.triggers.base import Firing, TriggerError, unsupported
from sluice.core.errors import ConflictError, NotFoundError, PermanentError, SpecError

LABEL_SENSOR = "events.argoproj.io/sensor"
LABEL_TRIGGER = "events.argoproj.io/trigger"
LABEL_ACTION_TIMESTAMP = "events.argoproj.io/action-timestamp"
ANNOTATION_EVENT_IDS = "sluice/event-ids"

# argoWorkflow operations other than submit and submit-from, acting on one named workflow
ACTIONS = ("resubmit", "resume", "retry", "suspend", "terminate", "stop")


@dataclass(frozen=True)
class SubmitArgs:
    """The ``argo submit`` options an ``argoWorkflow`` trigger's ``args`` may give."""

    parameters: Mapping[str, str] = field(default_factory=dict)
    entrypoint: str | None = None
    service_account: str | None = None
    name: str | None = None
    generate_name: str | None = None


class WorkflowSubmitter(Protocol):
    """Submits and controls workflows for the workflow triggers.

    ``submit`` and ``submit_from`` answer ``(workflow name, duplicate)``: a second call with
    the same ``idempotency_key`` submits nothing and answers the first workflow's name with
    ``duplicate=True``. ``labels`` and ``annotations`` are added to the workflow's metadata.
    """

    async def submit(
        self,
        manifest: dict[str, Any],
        *,
        idempotency_key: str,
        labels: dict[str, str],
        annotations: Mapping[str, str] | None = None,
        args: SubmitArgs | None = None,
    ) -> tuple[str, bool]: ...

    async def submit_from(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        idempotency_key: str,
        labels: dict[str, str],
        annotations: Mapping[str, str] | None = None,
        args: SubmitArgs | None = None,
    ) -> tuple[str, bool]:
        """Submit a workflow from a stored ``WorkflowTemplate`` or ``CronWorkflow``."""
        ...

    async def act(self, operation: str, namespace: str, name: str) -> str:
        """One of :data:`ACTIONS` on a workflow; answers the workflow's name (for
        ``resubmit``, the new workflow's)."""
        ...


def argo_labels(firing: Firing, now: datetime) -> dict[str, str]:
    """The labels Argo Events puts on what a trigger creates."""
    return {
        LABEL_SENSOR: firing.sensor,
        LABEL_TRIGGER: firing.trigger,
        LABEL_ACTION_TIMESTAMP: str(int(now.timestamp() * 1000)),
    }


def event_annotations(firing: Firing) -> dict[str, str]:
    return {ANNOTATION_EVENT_IDS: ",".join(firing.event_ids())}


def submitter_error(exc: Exception, where: str) -> TriggerError:
    """A submitter's error as a TriggerError, retryable unless it is a permanent one."""
    if isinstance(exc, TriggerError):
        return exc
    permanent = isinstance(exc, SpecError | NotFoundError | ConflictError | PermanentError)
    return TriggerError(f"{where}: {exc}", retryable=not permanent)


_FLAGS = {
    "-p": "parameter",
    "--parameter": "parameter",
    "-e": "entrypoint",
    "--entrypoint": "entrypoint",
    "--serviceaccount": "serviceaccount",
    "--name": "name",
    "--generate-name": "generate-name",
    "-l": "labels",
    "--labels": "labels",
}


def parse_args(args: list[str] | None, where: str) -> tuple[SubmitArgs, dict[str, str]]:
    """``argoWorkflow.args`` as ``argo submit`` reads them: options and the labels they add.

    ``-p/--parameter NAME=VALUE`` (repeatable), ``-e/--entrypoint``, ``--serviceaccount``,
    ``--name``, ``--generate-name`` and ``-l/--labels K=V[,K=V]``, each as ``--flag value`` or
    ``--flag=value``. Any other argument is a non-retryable "not supported yet".
    """
    values: dict[str, Any] = {"parameter": {}, "labels": {}}
    items = list(args or [])
    i = 0
    while i < len(items):
        item = items[i]
        i += 1
        flag, eq, value = item.partition("=") if item.startswith("--") else (item, "", "")
        option = _FLAGS.get(flag)
        if option is None:
            raise unsupported(f"{where}: argoWorkflow.args: {item!r}")
        if not eq:
            if i >= len(items):
                raise TriggerError(
                    f"{where}: argoWorkflow.args: {flag} needs a value", retryable=False
                )
            value = items[i]
            i += 1
        if option in ("parameter", "labels"):
            for pair in value.split(",") if option == "labels" else [value]:
                key, eq, val = pair.partition("=")
                if not eq or not key:
                    raise TriggerError(
                        f"{where}: argoWorkflow.args: {flag} {value!r}: expected NAME=VALUE",
                        retryable=False,
                    )
                values[option][key] = val
        else:
            values[option] = value
    options = SubmitArgs(
        parameters=values["parameter"],
        entrypoint=values.get("entrypoint"),
        service_account=values.get("serviceaccount"),
        name=values.get("name"),
        generate_name=values.get("generate-name"),
    )
    return options, values["labels"]

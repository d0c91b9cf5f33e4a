"""Walks one workflow's templates and runs them: the engine's operator.

Each node is executed by a coroutine that returns the node once it is fulfilled; steps await
their step groups in order, a DAG starts each task when its dependencies are done. Node ids are
derived from node names as Argo derives them, and a node already fulfilled in the store is
returned as it is, so walking a workflow again after a restart resumes it where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from engine import govaluate, loops
from engine.clock import Clock
from engine.executors.base import Executor
from engine.objects import LocalObjects
from engine.scheduler import PodRequest, Scheduler, parse_cpu, parse_memory
from engine.status import Node, NodeType, Phase, fmt_time, node_id, parse_time, pod_name
from engine.store.base import WorkflowRecord, WorkflowStore
from engine.sync import SyncManager
from engine.templating import Lazy, Scope, UnresolvedError, resolve, to_text, unresolved
from sluice.core.errors import NotFoundError

log = logging.getLogger(__name__)

TEMPLATE_TYPES = ("container", "script", "steps", "dag", "suspend", "resource", "http",
                  "containerSet", "data", "plugin")  # fmt: skip


class NodeError(Exception):
    """The node cannot run: it ends in phase Error with this message."""


class TemplateSource(Protocol):
    """Stored WorkflowTemplates and ClusterWorkflowTemplates, by kind, namespace and name."""

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]: ...


# The parallelism limits of the steps/dag templates a pod runs under, outermost first.
POD_LIMITS: contextvars.ContextVar[tuple[asyncio.Semaphore, ...]] = contextvars.ContextVar(
    "pod_limits", default=()
)

# The templates that names resolve in while a templateRef'd template runs (its owner's).
TEMPLATE_SCOPE: contextvars.ContextVar[dict[str, dict[str, Any]] | None] = contextvars.ContextVar(
    "template_scope", default=None
)


@dataclass
class OperatorContext:
    store: WorkflowStore
    executor: Executor
    clock: Clock
    data_dir: Path
    images: dict[str, Any] = field(default_factory=dict)
    scheduler: Scheduler = field(default_factory=Scheduler)
    templates: TemplateSource | None = None
    sync: SyncManager | None = None


@dataclass
class _Call:
    """A template called as a node, with its inputs bound: what every retry attempt reruns."""

    name: str
    display_name: str
    template_name: str
    raw: dict[str, Any]
    inputs: dict[str, Any]
    scope: Scope
    boundary_id: str


class WorkflowRun:
    """The live state of one running workflow."""

    def __init__(
        self, ctx: OperatorContext, record: WorkflowRecord, on_change: Callable[[], None]
    ) -> None:
        self.ctx = ctx
        self.record = record
        self.nodes = record.nodes
        self.by_name = {n.name: n for n in self.nodes.values()}
        self.spec: dict[str, Any] = record.manifest["spec"]
        self.name = record.name
        self.templates = {t["name"]: t for t in self.spec.get("templates") or []}
        self.on_change = on_change
        self.objects = LocalObjects(ctx.data_dir)
        self._resumed = asyncio.Event()
        self._unsuspended = asyncio.Event()
        if not self.spec.get("suspend"):
            self._unsuspended.set()
        self.main_task: asyncio.Future[Node] | None = None
        self.exit_status: str | None = None  # workflow.status as the exit handler sees it
        self.hooks_fired: set[str] = set()
        self.global_outputs: dict[str, str] = {}
        self.global_artifacts: dict[str, dict[str, Any]] = {}
        for p in (record.status.get("outputs") or {}).get("parameters") or []:
            self.global_outputs[p["name"]] = p["value"]
        for a in (record.status.get("outputs") or {}).get("artifacts") or []:
            self.global_artifacts[a["name"]] = a
        self.scope = self._global_scope()

    # ---- scope -------------------------------------------------------------------------------
    def _global_scope(self) -> Scope:
        meta = self.record.manifest.get("metadata") or {}
        values: dict[str, Any] = {
            "workflow.name": self.name,
            "workflow.namespace": self.record.namespace,
            "workflow.uid": self.record.uid,
            "workflow.creationTimestamp": meta.get("creationTimestamp", ""),
            "workflow.serviceAccountName": self.spec.get("serviceAccountName", ""),
            "workflow.priority": str(self.spec.get("priority", 0)),
            "workflow.mainEntrypoint": self.spec.get("entrypoint", ""),
        }
        for p in (self.spec.get("arguments") or {}).get("parameters") or []:
            if "value" in p:
                values[f"workflow.parameters.{p['name']}"] = p["value"]
        # Argo: all workflow parameters as one JSON list of {name, value}
        values["workflow.parameters.json"] = _json(
            [
                {"name": p["name"], "value": to_text(p["value"])}
                for p in (self.spec.get("arguments") or {}).get("parameters") or []
                if "value" in p
            ]
        )
        for key in ("labels", "annotations"):
            for k, v in (meta.get(key) or {}).items():
                values[f"workflow.{key}.{k}"] = v
        for k, v in self.global_outputs.items():
            values[f"workflow.outputs.parameters.{k}"] = v
        for k, a in self.global_artifacts.items():
            values[f"workflow.outputs.artifacts.{k}"] = a["key"]
        return Scope(values)

    def _runtime_scope(self, scope: Scope) -> Scope:
        return scope.child(
            {
                "workflow.status": self.exit_status or self.record.status.get("phase", "Running"),
                "workflow.duration": Lazy(self._duration),
                "workflow.failures": Lazy(self._failures),
            }
        )

    def _duration(self) -> str:
        t0 = parse_time(self.record.status.get("startedAt"))
        duration = (self.ctx.clock.now() - t0).total_seconds() if t0 else 0.0
        return f"{duration:.6f}"

    def _failures(self) -> str:
        failures = [
            {
                "displayName": n.display_name,
                "message": n.message,
                "templateName": n.template_name,
                "phase": str(n.phase),
                "podName": n.pod_name,
                "finishedAt": fmt_time(n.finished_at),
            }
            for n in self.nodes.values()
            if n.type == NodeType.POD and n.phase in (Phase.FAILED, Phase.ERROR)
        ]
        return _json(failures)

    # ---- node bookkeeping --------------------------------------------------------------------
    def save(self, node: Node) -> None:
        self.ctx.store.save_node(self.record.uid, node)
        self.on_change()

    def ensure_node(
        self,
        name: str,
        display_name: str,
        type_: NodeType,
        template_name: str,
        boundary_id: str,
        parents: list[str],
        phase: Phase = Phase.PENDING,
        message: str = "",
    ) -> Node:
        nid = node_id(self.name, name)
        node = self.nodes.get(nid)
        if node is None:
            node = Node(
                id=nid,
                name=name,
                display_name=display_name,
                type=type_,
                template_name=template_name,
                phase=phase,
                boundary_id=boundary_id,
                message=message,
                started_at=self.ctx.clock.now().replace(microsecond=0),
            )
            if phase.fulfilled:
                node.finished_at = node.started_at
            self.nodes[nid] = node
            self.by_name[name] = node
            self.save(node)
        for parent_id in parents:
            parent = self.nodes.get(parent_id)
            if parent is not None and nid not in parent.children:
                parent.children.append(nid)
                self.save(parent)
        return node

    def finish(self, node: Node, phase: Phase, message: str = "") -> Node:
        node.phase = phase
        if message:
            node.message = message
        node.finished_at = self.ctx.clock.now().replace(microsecond=0)
        self.save(node)
        return node

    def outbound(self, nid: str) -> list[str]:
        node = self.nodes[nid]
        if node.type in (NodeType.POD, NodeType.SKIPPED, NodeType.SUSPEND, NodeType.HTTP):
            return [nid]
        if node.type == NodeType.TASK_GROUP and not node.children:
            return [nid]
        if node.type == NodeType.RETRY and node.children:
            return [node.children[-1]]
        out: list[str] = []
        for child in node.extra.get("outboundNodes", []):
            out.extend(self.outbound(child))
        return out or [nid]

    # ---- suspension --------------------------------------------------------------------------
    def suspend(self) -> None:
        self.spec["suspend"] = True
        self._unsuspended.clear()

    def resume(self) -> None:
        self.spec.pop("suspend", None)
        self._unsuspended.set()
        for node in self.nodes.values():
            if node.type == NodeType.SUSPEND and node.phase == Phase.RUNNING:
                self.finish(node, Phase.SUCCEEDED)
        self._resumed.set()
        self._resumed = asyncio.Event()

    # ---- templates ---------------------------------------------------------------------------
    def template(self, name: str) -> dict[str, Any]:
        """A template by name, in the scope of the template being run (a WorkflowTemplate's own
        templates when it was reached through templateRef, else the workflow's)."""
        scope = TEMPLATE_SCOPE.get()
        tmpl = (scope if scope is not None else self.templates).get(name)
        if tmpl is None:
            raise NodeError(f"template '{name}' not found")
        return tmpl

    def ref_template(self, ref: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """The template a ``templateRef`` names, and the templates of its WorkflowTemplate."""
        if self.ctx.templates is None:
            raise NodeError("templateRef needs stored WorkflowTemplates, and none are available")
        cluster = bool(ref.get("clusterScope"))
        kind = "ClusterWorkflowTemplate" if cluster else "WorkflowTemplate"
        namespace = "" if cluster else self.record.namespace
        try:
            owner = self.ctx.templates.get(kind, namespace, str(ref.get("name", "")))
        except NotFoundError as exc:
            raise NodeError(str(exc)) from exc
        templates = {t["name"]: t for t in (owner.get("spec") or {}).get("templates") or []}
        tmpl = templates.get(str(ref.get("template", "")))
        if tmpl is None:
            raise NodeError(
                f"template {ref.get('template')} not found in {kind.lower()} {ref.get('name')}"
            )
        return tmpl, templates

    def bind_inputs(
        self, tmpl: dict[str, Any], arguments: dict[str, Any]
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
                value = resolve(to_text(raw_value), self._runtime_scope(self.scope))
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
        values["inputs.parameters"] = _json(
            [{"name": p["name"], "value": p["value"]} for p in params]
        )
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
        return inputs, self.scope.child(values)

    async def execute(
        self,
        name: str,
        display_name: str,
        template_name: str,
        arguments: dict[str, Any],
        boundary_id: str,
        parents: list[str],
        inline: dict[str, Any] | None = None,
    ) -> Node:
        """Run the template called ``template_name`` as the node ``name``; returns it fulfilled."""
        existing = self._memo(name, parents)
        if existing is not None:
            return existing
        try:
            raw = inline if inline is not None else self.template(template_name)
            inputs, scope = self.bind_inputs(raw, arguments)
        except (NodeError, UnresolvedError) as exc:
            node = self.ensure_node(
                name, display_name, NodeType.POD, template_name, boundary_id, parents
            )
            return self.finish(node, Phase.ERROR, str(exc))
        call = _Call(name, display_name, template_name, raw, inputs, scope, boundary_id)
        strategy = raw.get("retryStrategy") or self.spec.get("retryStrategy")
        if strategy:
            from engine.retries import run_retries

            return await run_retries(self, call, strategy, parents)
        return await self.attempt(call, name, display_name, parents, 0)

    def _memo(self, name: str, parents: list[str]) -> Node | None:
        """The node if it already ran to the end (a restarted walk), linked under ``parents``."""
        existing = self.by_name.get(name)
        if existing is None or not existing.fulfilled:
            return None
        for parent_id in parents:
            parent = self.nodes.get(parent_id)
            if parent is not None and existing.id not in parent.children:
                parent.children.append(existing.id)
                self.save(parent)
        return existing

    async def attempt(
        self, call: _Call, name: str, display_name: str, parents: list[str], retries: int
    ) -> Node:
        """One run of a called template as the node ``name`` (a retry attempt or the call)."""
        existing = self._memo(name, parents)
        if existing is not None:
            return existing
        raw = call.raw
        kinds = [k for k in TEMPLATE_TYPES if raw.get(k) is not None]
        scope = call.scope.child()
        scope.set("node.name", name)
        pod = pod_name(self.name, name, call.template_name)
        scope.set("pod.name", pod)
        scope.set("retries", str(retries))
        deferred = ("steps", "tasks", "item") if kinds[:1] in (["steps"], ["dag"]) else ()
        try:
            tmpl = resolve(copy.deepcopy(raw), self._runtime_scope(scope), deferred)
            tmpl["inputs"] = call.inputs
            if not deferred:
                left = unresolved(tmpl)
                if left:
                    raise UnresolvedError(left[0])
        except UnresolvedError as exc:
            node = self.ensure_node(
                name, display_name, NodeType.POD, call.template_name, call.boundary_id, parents
            )
            return self.finish(node, Phase.ERROR, str(exc))
        kind = kinds[0] if kinds else ""
        type_ = {
            "steps": NodeType.STEPS,
            "dag": NodeType.DAG,
            "suspend": NodeType.SUSPEND,
            "http": NodeType.HTTP,
        }.get(kind, NodeType.POD)
        node = self.ensure_node(
            name, display_name, type_, call.template_name, call.boundary_id, parents
        )
        if call.inputs and node.inputs != call.inputs:
            node.inputs = call.inputs
            self.save(node)
        sync = tmpl.get("synchronization")
        if sync and self.ctx.sync is not None and not node.fulfilled:
            return await self._synchronized(node, sync, kind, tmpl, scope, pod)
        return await self._dispatch(node, kind, type_, tmpl, scope, pod)

    async def _synchronized(
        self,
        node: Node,
        sync: dict[str, Any],
        kind: str,
        tmpl: dict[str, Any],
        scope: Scope,
        pod: str,
    ) -> Node:
        """Hold the template's mutexes/semaphores while its node runs (Argo's messages while
        it waits)."""
        assert self.ctx.sync is not None

        def waiting(message: str) -> None:
            node.message = message
            self.save(node)

        try:
            lease = await self.ctx.sync.acquire(
                f"{self.record.namespace}/{self.name}/{node.id}",
                self.record.namespace,
                sync,
                priority=int(self.spec.get("priority") or 0),
                on_wait=waiting,
            )
        except ValueError as exc:
            return self.finish(node, Phase.ERROR, str(exc))
        try:
            if node.message.startswith("Waiting for"):
                node.message = ""
                self.save(node)
            type_ = node.type
            return await self._dispatch(node, kind, type_, tmpl, scope, pod)
        finally:
            self.ctx.sync.release(lease)

    async def _dispatch(
        self,
        node: Node,
        kind: str,
        type_: NodeType,
        tmpl: dict[str, Any],
        scope: Scope,
        pod: str,
    ) -> Node:
        if type_ == NodeType.POD and kind in ("container", "script", "containerSet"):
            node.pod_name = pod
            return await self.run_pod(node, tmpl)
        if kind in ("steps", "dag"):
            from engine.dag import run_dag
            from engine.podrun import DAEMONS, stop_daemons
            from engine.steps import run_steps

            token = None
            if tmpl.get("parallelism"):
                limit = asyncio.Semaphore(int(tmpl["parallelism"]))
                token = POD_LIMITS.set((*POD_LIMITS.get(), limit))
            daemons: list[Any] = []
            daemons_token = DAEMONS.set(daemons)
            try:
                runner = run_steps if kind == "steps" else run_dag
                deadline = template_deadline(tmpl)
                if deadline is None:
                    return await runner(self, node, tmpl, scope)
                return await self._bounded(node, runner(self, node, tmpl, scope), deadline)
            finally:
                await stop_daemons(self, daemons)
                DAEMONS.reset(daemons_token)
                if token is not None:
                    POD_LIMITS.reset(token)
        if kind == "suspend":
            return await self.run_suspend(node, tmpl)
        if kind == "http":
            return await self.run_http(node, tmpl)
        return self.finish(
            node, Phase.ERROR, f"template type '{kind or 'unknown'}' is not supported"
        )

    # ---- leaves ------------------------------------------------------------------------------
    async def run_pod(self, node: Node, tmpl: dict[str, Any]) -> Node:
        from engine.podrun import run_pod

        return await run_pod(self, node, tmpl)

    async def _bounded(self, node: Node, work: Any, limit: float) -> Node:
        """A steps/dag node that must end within ``limit`` seconds: past it, what still runs
        under it is stopped and fails, and so does the node."""
        task = asyncio.ensure_future(work)
        timer = asyncio.ensure_future(self.ctx.clock.sleep(limit))
        try:
            await asyncio.wait([task, timer], return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        if task.done():
            result: Node = task.result()
            return result
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        message = "Step exceeded its deadline"
        for other in self.nodes.values():
            inside = other.name.startswith((node.name + ".", node.name + "[", node.name + "("))
            if inside and not other.fulfilled:
                self.finish(other, Phase.FAILED, message)
        return self.finish(node, Phase.FAILED, message)

    @property
    def artifacts_root(self) -> Path:
        return self.ctx.data_dir / "artifacts"

    def artifact_key(self, node: Node) -> str:
        return f"{self.record.uid}/{node.pod_name or node.id}"

    def record_globals(self, outputs: dict[str, Any]) -> None:
        for p in outputs.get("parameters") or []:
            if p.get("globalName"):
                self.global_outputs[p["globalName"]] = p["value"]
                self.scope.set(f"workflow.outputs.parameters.{p['globalName']}", p["value"])
        for a in outputs.get("artifacts") or []:
            if a.get("globalName"):
                self.global_artifacts[a["globalName"]] = a
                self.scope.set(f"workflow.outputs.artifacts.{a['globalName']}", a["key"])

    async def run_http(self, node: Node, tmpl: dict[str, Any]) -> Node:
        """An ``http`` template: the engine makes the request itself, no pod."""
        from engine.http_template import run_http

        await self._unsuspended.wait()
        node.phase = Phase.RUNNING
        self.save(node)
        outcome = await run_http(
            tmpl["http"], secrets=lambda name, key: self.objects.get("secret", name, key)
        )
        if outcome.result is not None:
            node.outputs = {"result": outcome.result}
        return self.finish(node, Phase(outcome.phase), outcome.message)

    async def run_suspend(self, node: Node, tmpl: dict[str, Any]) -> Node:
        if node.phase == Phase.PENDING:
            node.phase = Phase.RUNNING
            self.save(node)
        duration = (tmpl.get("suspend") or {}).get("duration")
        while node.phase == Phase.RUNNING:
            waiter = asyncio.ensure_future(self._resumed.wait())
            timers = []
            if duration not in (None, ""):
                seconds = parse_duration(str(duration))
                started = node.started_at or self.ctx.clock.now()
                left = seconds - (self.ctx.clock.now() - started).total_seconds()
                if left <= 0:
                    waiter.cancel()
                    return self.finish(node, Phase.SUCCEEDED)
                timers.append(asyncio.ensure_future(self.ctx.clock.sleep(left)))
            try:
                await asyncio.wait([waiter, *timers], return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in (waiter, *timers):
                    t.cancel()
        return node

    # ---- helpers for steps and dags ----------------------------------------------------------
    def evaluate_when(self, expression: str) -> bool:
        try:
            return govaluate.evaluate_when(expression)
        except govaluate.ExpressionError as exc:
            raise NodeError(str(exc)) from exc

    def expand_items(self, spec: dict[str, Any]) -> list[Any] | None:
        """The items a step or task loops over, or None when it does not loop."""
        if spec.get("withItems") is not None:
            return list(spec["withItems"])
        if spec.get("withParam") is not None:
            try:
                return loops.from_param(str(spec["withParam"]))
            except loops.LoopError as exc:
                raise NodeError(str(exc)) from exc
        seq = spec.get("withSequence")
        if seq is not None:
            try:
                return loops.from_sequence(
                    seq.get("count"), seq.get("start"), seq.get("end"), seq.get("format")
                )
            except loops.LoopError as exc:
                raise NodeError(str(exc)) from exc
        return None

    def depends_result(self, node: Node | None, check: str | None) -> bool:
        if node is None:
            return False
        phase = node.phase
        daemoned = bool(node.extra.get("daemoned"))
        if check is None:
            return phase in (Phase.SUCCEEDED, Phase.SKIPPED) or daemoned
        if check in ("AnySucceeded", "AllFailed"):
            kids = [self.nodes[c] for c in node.children if c in self.nodes]
            if check == "AnySucceeded":
                return any(k.phase == Phase.SUCCEEDED for k in kids)
            return bool(kids) and all(k.phase in (Phase.FAILED, Phase.ERROR) for k in kids)
        return {
            "Succeeded": phase == Phase.SUCCEEDED,
            "Failed": phase == Phase.FAILED,
            "Errored": phase == Phase.ERROR,
            "Skipped": phase == Phase.SKIPPED,
            "Omitted": phase == Phase.OMITTED,
            "Daemoned": daemoned,
            "Completed": phase in (Phase.SUCCEEDED, Phase.FAILED, Phase.ERROR),
        }[check]


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
    import re

    total = 0.0
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}
    matches = list(re.finditer(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)", text))
    if not matches or "".join(m.group(0) for m in matches) != text:
        raise ValueError(f"invalid duration '{text}'")
    for m in matches:
        total += float(m.group(1)) * units[m.group(2)]
    return total


class _Slots:
    """Holds the template-level parallelism limits a pod runs under."""

    def __init__(self, *sems: asyncio.Semaphore) -> None:
        self.sems = sems

    async def __aenter__(self) -> None:
        for s in self.sems:
            await s.acquire()

    async def __aexit__(self, *exc: object) -> None:
        for s in reversed(self.sems):
            s.release()

    def pod_request(self, run: WorkflowRun, tmpl: dict[str, Any]) -> PodRequest:
        """What the scheduler weighs for a pod: its workflow, priority and resource requests
        (main container and sidecars together)."""
        cpu = memory = 0
        members = [tmpl.get("container") or tmpl.get("script") or {}, *(tmpl.get("sidecars") or [])]
        members += list((tmpl.get("containerSet") or {}).get("containers") or [])
        for c in members:
            requests = (c.get("resources") or {}).get("requests") or {}
            if "cpu" in requests:
                cpu += parse_cpu(requests["cpu"])
            if "memory" in requests:
                memory += parse_memory(requests["memory"])
        created = parse_time((run.record.manifest.get("metadata") or {}).get("creationTimestamp"))
        return PodRequest(
            workflow_uid=run.record.uid,
            namespace=run.record.namespace,
            priority=int(run.spec.get("priority") or 0),
            created=created.timestamp() if created else 0.0,
            cpu_millis=cpu,
            memory_bytes=memory,
        )


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

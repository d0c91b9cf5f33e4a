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
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from engine import loops, scopes
from engine.executors.base import Executor
from engine.scheduler import PodRequest, Scheduler, parse_cpu, parse_memory
from engine.scopes import NodeError
from engine.status import Node, NodeType, Phase, node_id, parse_time, pod_name
from engine.store.base import WorkflowRecord, WorkflowStore
from engine.sync import SyncManager
from engine.templating import Scope, UnresolvedError, resolve, unresolved
from engine.values import template_deadline
from sluice.core import govaluate
from sluice.core.clock import Clock
from sluice.core.errors import NotFoundError
from sluice.core.objects import LocalObjects

log = logging.getLogger(__name__)

TEMPLATE_TYPES = ("container", "script", "steps", "dag", "suspend", "resource", "http",
                  "containerSet", "data", "plugin")  # fmt: skip


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
        return scopes.global_scope(self)

    def _runtime_scope(self, scope: Scope) -> Scope:
        return scopes.runtime_scope(self, scope)

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
        return scopes.bind_inputs(self, tmpl, arguments)

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
        from engine.leaves import run_http

        return await run_http(self, node, tmpl)

    async def run_suspend(self, node: Node, tmpl: dict[str, Any]) -> Node:
        from engine.leaves import run_suspend

        return await run_suspend(self, node, tmpl)

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

"""The engine's facade: submit, inspect and control workflows; run them; recover after a crash.

Every workflow is run by the engine that holds its lock file (``<data>/locks/<uid>.lock``), so
several local processes (a server, a CLI running a workflow in-process) can share one store:
a workflow whose lock is free when an engine starts was left by a process that died, and that
engine takes it over, marking the pods that died with the old process as Error.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from engine import lifecycle, runner
from engine.cron_runtime import CronController
from engine.executors.base import Executor
from engine.merge import apply_defaults, apply_template_ref
from engine.operator import OperatorContext, WorkflowRun
from engine.scheduler import Scheduler, parse_cpu, parse_memory
from engine.status import Node, NodeType, Phase, fmt_time
from engine.store.base import WorkflowRecord, WorkflowStore
from engine.submit import SubmitOptions, apply_options, assign_name
from engine.sync import SyncManager
from engine.templates import TemplateRegistry
from sluice.core.clock import Clock, SystemClock
from sluice.core.errors import ConflictError, NotFoundError, SpecError
from sluice.core.objects import LocalObjects, ObjectError
from sluice.core.resources import RawResource

log = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "default"
POLL_SECONDS = 0.5


@dataclass
class EngineConfig:
    data_dir: Path
    images: dict[str, Any] = field(default_factory=dict)
    parallelism: int | None = None
    namespace: str = DEFAULT_NAMESPACE
    workflow_defaults: dict[str, Any] | None = None
    namespace_parallelism: int | None = None
    resource_rate_limit: dict[str, Any] | None = None  # {limit: pods per second, burst}
    capacity: dict[str, Any] = field(default_factory=dict)  # local executor's {cpu, memory}
    # semaphore limits by ConfigMap name and key, before the local ConfigMap files
    semaphores: dict[str, dict[str, int]] = field(default_factory=dict)


def validate_workflow(manifest: dict[str, Any], where: str) -> None:
    """Schema and reference checks; raises SpecError listing every problem."""
    from engine.lint import lint_resource
    from engine.models import parse_resource

    raw = RawResource(file=where, index=1, data=manifest, label=where)
    obj = parse_resource(raw)
    problems = lint_resource(obj, raw.where())
    if problems:
        raise SpecError(problems)


class Engine:
    """Runs workflows from a WorkflowStore on an Executor."""

    def __init__(
        self,
        store: WorkflowStore,
        executor: Executor,
        config: EngineConfig,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.executor = executor
        self.config = config
        self.clock = clock or SystemClock()
        limits = config.resource_rate_limit or {}
        self.scheduler = Scheduler(
            parallelism=config.parallelism,
            namespace_parallelism=config.namespace_parallelism,
            cpu_millis=parse_cpu(config.capacity["cpu"]) if "cpu" in config.capacity else None,
            memory_bytes=(
                parse_memory(config.capacity["memory"]) if "memory" in config.capacity else None
            ),
            rate_limit=(float(limits["limit"]), int(limits.get("burst") or 1))
            if limits.get("limit")
            else None,
            clock=self.clock,
        )
        self.ctx = OperatorContext(
            store=store,
            executor=executor,
            clock=self.clock,
            data_dir=config.data_dir,
            images=config.images,
            scheduler=self.scheduler,
        )
        self.templates: TemplateRegistry = TemplateRegistry(store, self.clock)
        self.ctx.templates = self.templates
        self.sync = SyncManager(self._semaphore_limit)
        self.ctx.sync = self.sync
        self.runs: dict[str, WorkflowRun] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._locks: dict[str, IO[str]] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._poller: asyncio.Task[None] | None = None
        self.cron: CronController | None = None
        self._expiries: set[asyncio.Future[None]] = set()
        self._cron_task: asyncio.Task[None] | None = None

    def _semaphore_limit(self, namespace: str, config_map: str, key: str) -> int:
        """A semaphore's limit: the config's ``semaphores`` map, else the local ConfigMap."""
        configured = (self.config.semaphores.get(config_map) or {}).get(key)
        if configured is not None:
            return int(configured)
        try:
            return int(LocalObjects(self.config.data_dir).get("configmap", config_map, key))
        except ObjectError as exc:
            raise ValueError(f"semaphore limit: {exc}") from exc

    # ---- lifecycle ---------------------------------------------------------------------------
    async def start(self, *, cron: bool = False) -> None:
        """Take over the unfinished workflows no live process owns, then watch for requests.

        With ``cron``, also run the stored CronWorkflows (the server does; a CLI running
        workflows in-process does not).
        """
        for record in self.store.list_unfinished():
            if self._lock(record.uid):
                self._recover(record)
                self._launch(record)
        for record in self.store.list_workflows():  # ttlStrategy deadlines that came while down
            if (
                record.status.get("finishedAt")
                and lifecycle.ttl_seconds(record.manifest["spec"], str(record.status.get("phase")))
                is not None
            ):
                self._expiries.add(asyncio.ensure_future(lifecycle.expire(self, record)))
        self._poller = asyncio.create_task(self._poll(), name="engine-control-poller")
        if cron:
            from engine.cron_runtime import CronController

            self.cron = CronController(self)
            self.cron.sync()
            self._cron_task = asyncio.create_task(self.cron.scheduler.run(), name="engine-cron")

    async def close(self) -> None:
        for background in (self._poller, self._cron_task, *self._expiries):
            if background is not None:
                background.cancel()
        for task in list(self.tasks.values()):
            task.cancel()
        for task in list(self.tasks.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for uid in list(self._locks):
            self._unlock(uid)

    def _lock(self, uid: str) -> bool:
        path = self.config.data_dir / "locks" / f"{uid}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = path.open("a")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        self._locks[uid] = fh
        return True

    def _unlock(self, uid: str) -> None:
        fh = self._locks.pop(uid, None)
        if fh is not None:
            fh.close()
            with contextlib.suppress(OSError):
                os.unlink(self.config.data_dir / "locks" / f"{uid}.lock")

    def _recover(self, record: WorkflowRecord) -> None:
        for node in record.nodes.values():
            if node.type == NodeType.POD and node.phase == Phase.RUNNING:
                node.phase = Phase.ERROR
                node.message = "pod deleted"
                node.finished_at = self.clock.now().replace(microsecond=0)
                self.store.save_node(record.uid, node)

    # ---- submit ------------------------------------------------------------------------------
    def prepare(
        self, manifest: dict[str, Any], opts: SubmitOptions | None = None, where: str = "<input>"
    ) -> dict[str, Any]:
        """The workflow as it will run: controller defaults, its workflowTemplateRef filled in,
        the submit options applied, then validated."""
        wf = apply_defaults(manifest, self.config.workflow_defaults)
        ref = (wf.get("spec") or {}).get("workflowTemplateRef")
        if ref:
            cluster = bool(ref.get("clusterScope"))
            kind = "ClusterWorkflowTemplate" if cluster else "WorkflowTemplate"
            meta = wf.get("metadata") or {}
            namespace = "" if cluster else (meta.get("namespace") or self.config.namespace)
            try:
                owner = self.templates.get(kind, namespace, str(ref.get("name", "")))
            except NotFoundError as exc:
                raise SpecError([f"{where}: spec.workflowTemplateRef: {exc}"]) from exc
            wf = apply_template_ref(wf, owner)
        wf = apply_options(wf, opts or SubmitOptions(), where)
        validate_workflow(wf, where)
        return wf

    async def submit(
        self,
        manifest: dict[str, Any],
        opts: SubmitOptions | None = None,
        *,
        where: str = "<input>",
        idempotency_key: str | None = None,
        carried_nodes: dict[str, Node] | None = None,
    ) -> WorkflowRecord:
        if idempotency_key:
            existing = self.store.find_by_key(idempotency_key)
            if existing is not None:
                return existing
        wf = self.prepare(manifest, opts, where)
        meta = wf["metadata"]
        namespace = meta.get("namespace") or self.config.namespace
        meta["namespace"] = namespace
        for _ in range(5):
            name = assign_name(wf)
            if self.store.get(namespace, name) is None:
                break
            if not meta.get("generateName") or (
                meta.get("name") == name and "generateName" not in meta
            ):
                raise ConflictError(f'workflows.argoproj.io "{name}" already exists')
            meta.pop("name", None)
        uid = str(uuid.uuid4())
        meta["uid"] = uid
        meta["creationTimestamp"] = fmt_time(self.clock.now())
        meta.setdefault("labels", {}).update({"workflows.argoproj.io/completed": "false"})
        wf.setdefault("apiVersion", "argoproj.io/v1alpha1")
        wf.setdefault("kind", "Workflow")
        record = WorkflowRecord(
            uid=uid,
            namespace=namespace,
            name=meta["name"],
            manifest=wf,
            status={"phase": "Pending"},
            nodes=dict(carried_nodes or {}),
            idempotency_key=idempotency_key,
        )
        self.store.create(record)
        if not self._lock(uid):  # pragma: no cover - a fresh uid is never locked
            raise ConflictError(f"workflow {uid} is locked")
        self._launch(record)
        return record

    def _launch(self, record: WorkflowRecord) -> None:
        task = asyncio.create_task(self._run(record), name=f"workflow:{record.name}")
        self.tasks[record.uid] = task

    async def _run(self, record: WorkflowRecord) -> None:
        await runner.run_workflow(self, record)

    def _save_status(self, record: WorkflowRecord, run: WorkflowRun) -> None:
        status = record.status
        pods = [n for n in run.nodes.values() if n.type == NodeType.POD]
        status["progress"] = f"{sum(1 for n in pods if n.fulfilled)}/{len(pods)}"
        outputs: dict[str, Any] = {}
        if run.global_outputs:
            outputs["parameters"] = [{"name": k, "value": v} for k, v in run.global_outputs.items()]
        if run.global_artifacts:
            outputs["artifacts"] = [a | {"name": k} for k, a in run.global_artifacts.items()]
        if outputs:
            status["outputs"] = outputs
        self.store.save_status(record.uid, status)
        self._notify(record.uid)

    # ---- watching ----------------------------------------------------------------------------
    def _notify(self, uid: str) -> None:
        event = self._changed.get(uid)
        if event is not None:
            event.set()

    async def wait_changed(self, uid: str, timeout: float) -> None:
        event = self._changed.setdefault(uid, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        event.clear()

    async def watch(self, namespace: str, name: str) -> AsyncIterator[dict[str, Any]]:
        """Yields the workflow each time it changes, ending after it completes.

        A snapshot costs time in proportion to the workflow's size, so snapshots are spaced by
        at least ten times what the last one took: watching a huge workflow stays linear.
        """
        record = self._get(namespace, name)
        last = None
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            live = self.store.get(namespace, name)
            if live is None or live.uid != record.uid:  # its ttlStrategy removed it
                with contextlib.suppress(NotFoundError):
                    yield self.get_archived(record.uid)
                return
            current = live.to_argo()
            cost = loop.time() - t0
            if current != last:
                yield current
                last = current
            if current["status"].get("finishedAt") and record.uid not in self.tasks:
                return
            await self.wait_changed(record.uid, POLL_SECONDS)
            await asyncio.sleep(min(1.0, cost * 10))

    async def wait(self, namespace: str, name: str) -> dict[str, Any]:
        """The workflow once it has completed (run here, or by another process)."""
        uid = self._get(namespace, name).uid
        while True:
            task = self.tasks.get(uid)
            if task is not None:
                await asyncio.shield(task)
                break
            record = self.store.get_by_uid(uid)
            if record is None:
                raise NotFoundError(f'workflows.argoproj.io "{name}" not found')
            if record.status.get("finishedAt"):
                break
            await self.wait_changed(uid, POLL_SECONDS)
        try:
            return self.get(namespace, name)
        except NotFoundError:  # its ttlStrategy already removed it; the archive has it
            return self.get_archived(uid)

    # ---- control -----------------------------------------------------------------------------
    def _get(self, namespace: str, name: str) -> WorkflowRecord:
        record = self.store.get(namespace, name)
        if record is None:
            raise NotFoundError(f'workflows.argoproj.io "{name}" not found')
        return record

    def get(self, namespace: str, name: str) -> dict[str, Any]:
        return self._get(namespace, name).to_argo()

    def list_workflows(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return [r.to_argo() for r in self.store.list_workflows(namespace)]

    async def delete(self, namespace: str, name: str) -> None:
        record = self._get(namespace, name)
        await self._request(record, {"shutdown": "Terminate"})
        task = self.tasks.get(record.uid)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.store.delete(record.uid)

    async def _request(self, record: WorkflowRecord, changes: dict[str, Any]) -> None:
        """Record a change to a workflow's spec; its owner (maybe another process) acts on it."""
        spec = record.manifest["spec"]
        for key, value in changes.items():
            if value is None:
                spec.pop(key, None)
            else:
                spec[key] = value
        self.store.save_manifest(record.uid, record.manifest)
        run = self.runs.get(record.uid)
        if run is not None:
            self._apply(record.uid, record.manifest["spec"])

    def _apply(self, uid: str, spec: dict[str, Any]) -> None:
        run = self.runs.get(uid)
        if run is None:
            return
        if spec.get("shutdown"):
            run.spec["shutdown"] = spec["shutdown"]
            run.record.manifest["spec"]["shutdown"] = spec["shutdown"]
            if run.main_task is not None and not run.main_task.done():
                run.main_task.cancel()
            return
        if spec.get("suspend") and not run.spec.get("suspend"):
            run.suspend()
        if spec.get("_resume"):
            run.resume()
            spec.pop("_resume", None)
            run.record.manifest["spec"].pop("_resume", None)
            self.store.save_manifest(uid, run.record.manifest)
        self._notify(uid)

    async def _poll(self) -> None:
        seen: dict[str, int] = {}
        while True:
            await asyncio.sleep(POLL_SECONDS)
            if self.cron is not None:
                self.cron.sync()
            for uid in list(self.runs):
                gen = self.store.generation(uid)
                if seen.get(uid, gen) != gen:
                    record = self.store.get_by_uid(uid)
                    if record is not None:
                        self._apply(uid, record.manifest["spec"])
                seen[uid] = gen

    def _unfinished(self, namespace: str, name: str) -> WorkflowRecord:
        record = self._get(namespace, name)
        if record.status.get("finishedAt"):
            raise ConflictError(f"workflow {name} has already completed")
        return record

    async def suspend(self, namespace: str, name: str) -> None:
        await self._request(self._unfinished(namespace, name), {"suspend": True})

    async def resume(self, namespace: str, name: str) -> None:
        await self._request(self._unfinished(namespace, name), {"suspend": None, "_resume": True})

    async def stop(self, namespace: str, name: str) -> None:
        await self._request(self._unfinished(namespace, name), {"shutdown": "Stop"})

    async def terminate(self, namespace: str, name: str) -> None:
        await self._request(self._unfinished(namespace, name), {"shutdown": "Terminate"})

    # ---- archive, retry, resubmit ---------------------------------------------------------
    def list_archived(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return lifecycle.list_archived(self, namespace)

    def get_archived(self, uid: str) -> dict[str, Any]:
        return lifecycle.get_archived(self, uid)

    def delete_archived(self, uid: str) -> None:
        lifecycle.delete_archived(self, uid)

    async def retry(
        self,
        namespace: str,
        name: str,
        *,
        restart_successful: bool = False,
        node_field_selector: str | None = None,
    ) -> dict[str, Any]:
        return await lifecycle.retry(self, namespace, name, restart_successful, node_field_selector)

    async def resubmit(
        self, namespace: str, name: str, *, memoized: bool = False
    ) -> dict[str, Any]:
        return await lifecycle.resubmit(self, namespace, name, memoized)

    # ---- logs --------------------------------------------------------------------------------
    def pod_logs(self, namespace: str, name: str, pod: str | None = None) -> list[tuple[str, str]]:
        """(pod name, log path) of the workflow's pods, in start order, optionally one pod."""
        record = self._get(namespace, name)
        out = []
        for node in sorted(
            record.nodes.values(), key=lambda n: (fmt_time(n.started_at) or "", n.name)
        ):
            if node.type != NodeType.POD or not node.log_path:
                continue
            if pod and pod not in (node.pod_name, node.id, node.display_name):
                continue
            out.append((node.pod_name or node.id, node.log_path))
        return out

"""Running one workflow from start to end: its workflow-level locks, the entrypoint bounded by
``activeDeadlineSeconds``, shutdown requests, the exit handler, then archive and clean-up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from engine import lifecycle
from engine.hooks import run_hooks
from engine.operator import WorkflowRun
from engine.status import NodeType, Phase, fmt_time, parse_time
from engine.sync import Lease

if TYPE_CHECKING:
    from engine.service import Engine
    from engine.store.base import WorkflowRecord

log = logging.getLogger(__name__)
DEADLINE_POD = "Pod was active on the node longer than the specified deadline"
DEADLINE_STEP = "Step exceeded its deadline"
TERMINATED = "workflow shutdown with strategy: Terminate"


async def run_workflow(engine: Engine, record: WorkflowRecord) -> None:
    """Run one workflow to its end: its locks, entrypoint, exit handler, then the archive."""
    run = WorkflowRun(engine.ctx, record, lambda: engine._notify(record.uid))
    engine.runs[record.uid] = run
    par = record.manifest["spec"].get("parallelism")
    engine.scheduler.set_workflow_parallelism(record.uid, int(par) if par else None)
    status = record.status
    try:
        if status.get("phase") in (None, "Pending"):
            status["phase"] = "Running"
        status.setdefault("startedAt", fmt_time(engine.clock.now()))
        engine._save_status(record, run)
        lease = await _workflow_lock(engine, record, run)
        try:
            await run_hooks(run, "Running")
            phase, message = await _main(engine, record, run)
        finally:
            if lease is not None:
                engine.sync.release(lease)
        phase, message = await _exit_handler(engine, record, run, phase, message)
        await run_hooks(run, phase)
        status["phase"] = phase
        if message:
            status["message"] = message
    except Exception as exc:  # a bug must fail the workflow, not hang it
        log.exception("workflow %s failed unexpectedly", record.name)
        status["phase"] = "Error"
        status["message"] = f"{type(exc).__name__}: {exc}"
    finally:
        engine.runs.pop(record.uid, None)
        engine.tasks.pop(record.uid, None)
        engine.scheduler.forget(record.uid)
    status["finishedAt"] = fmt_time(engine.clock.now())
    labels = record.manifest["metadata"].setdefault("labels", {})
    labels["workflows.argoproj.io/completed"] = "true"
    labels["workflows.argoproj.io/phase"] = status["phase"]
    engine.store.save_manifest(record.uid, record.manifest)
    lifecycle.collect_pods(engine.config.data_dir, record, list(run.nodes.values()), "workflow")
    engine._save_status(record, run)
    lifecycle.archive(engine, record)
    engine._unlock(record.uid)
    if lifecycle.ttl_seconds(record.manifest["spec"], status["phase"]) is not None:
        engine._expiries.add(asyncio.ensure_future(lifecycle.expire(engine, record)))


async def _workflow_lock(engine: Engine, record: WorkflowRecord, run: WorkflowRun) -> Lease | None:
    """Workflow-level ``synchronization``: wait (Pending, with Argo's message) for its locks."""
    sync = record.manifest["spec"].get("synchronization")
    if not sync:
        return None
    status = record.status

    def waiting(message: str) -> None:
        status["phase"] = "Pending"
        status["message"] = message
        engine._save_status(record, run)

    lease = await engine.sync.acquire(
        f"{record.namespace}/{record.name}", record.namespace, sync,
        priority=int(record.manifest["spec"].get("priority") or 0),
        created=(parse_time(record.manifest["metadata"].get("creationTimestamp"))
                 or engine.clock.now()).timestamp(),
        on_wait=waiting,
    )  # fmt: skip
    if status.get("phase") == "Pending":
        status["phase"] = "Running"
        status.pop("message", None)
        engine._save_status(record, run)
    return lease


async def _main(engine: Engine, record: WorkflowRecord, run: WorkflowRun) -> tuple[str, str]:
    """Run the entrypoint, bounded by ``activeDeadlineSeconds``; (phase, message)."""
    spec = record.manifest["spec"]
    main = asyncio.ensure_future(
        run.execute(
            record.name,
            record.name,
            spec.get("entrypoint", ""),
            spec.get("arguments") or {},
            "",
            [],
        )
    )
    run.main_task = main
    waiters: list[asyncio.Future[Any]] = [main]
    deadline = spec.get("activeDeadlineSeconds")
    if deadline not in (None, ""):
        started = parse_time(record.status.get("startedAt")) or engine.clock.now()
        left = float(deadline) - (engine.clock.now() - started).total_seconds()
        waiters.append(asyncio.ensure_future(engine.clock.sleep(max(0.0, left))))
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        for w in waiters:
            w.cancel()
        raise  # the engine is closing; the workflow resumes on the next start
    for w in waiters[1:]:
        w.cancel()
    shutdown = str(spec.get("shutdown") or "")
    if not main.done():  # the deadline passed
        main.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await main
        _fail_unfinished(engine, record, run, DEADLINE_POD, DEADLINE_STEP)
        return "Failed", DEADLINE_STEP
    if main.cancelled():
        if not shutdown:
            raise asyncio.CancelledError
        message = f"workflow shutdown with strategy: {shutdown}"
        _fail_unfinished(engine, record, run, message, message)
        return "Failed", f"Stopped with strategy '{shutdown}'"
    root = main.result()
    phase = {Phase.SKIPPED: "Succeeded", Phase.OMITTED: "Succeeded"}.get(
        root.phase, str(root.phase)
    )
    return phase, "" if root.phase == Phase.SUCCEEDED else root.message


async def _exit_handler(
    engine: Engine, record: WorkflowRecord, run: WorkflowRun, phase: str, message: str
) -> tuple[str, str]:
    """Run ``spec.onExit`` (or ``hooks.exit``) with ``workflow.status`` set, as Argo does."""
    spec = record.manifest["spec"]
    hook = (spec.get("hooks") or {}).get("exit") or {}
    template = spec.get("onExit") or hook.get("template")
    if not template or spec.get("shutdown") == "Terminate":
        return phase, message
    run.exit_status = phase
    arguments = hook.get("arguments") or spec.get("arguments") or {}
    name = f"{record.name}.onExit"
    task = asyncio.ensure_future(run.execute(name, name, template, arguments, "", []))
    run.main_task = task
    try:
        node = await task
    except asyncio.CancelledError:
        if spec.get("shutdown") != "Terminate":
            raise
        _fail_unfinished(engine, record, run, TERMINATED, TERMINATED)
        return "Failed", "Stopped with strategy 'Terminate'"
    if phase == "Succeeded" and node.phase in (Phase.FAILED, Phase.ERROR):
        return str(node.phase), node.message
    return phase, message


def _fail_unfinished(
    engine: Engine, record: WorkflowRecord, run: WorkflowRun, pod_message: str, message: str
) -> None:
    now = engine.clock.now().replace(microsecond=0)
    for node in run.nodes.values():
        if not node.fulfilled:
            node.phase = Phase.FAILED
            node.message = pod_message if node.type == NodeType.POD else message
            node.finished_at = now
            engine.store.save_node(record.uid, node)

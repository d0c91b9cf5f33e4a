"""Running a pod node: init containers, sidecars, the main container or a container set, and
daemons that outlive their step until the template that started them ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.executors.base import PodResult, PodSpec
from engine.lifecycle import collect_pods
from engine.pods import (
    PodBuildError,
    bind_volumes,
    collect_outputs,
    input_artifacts,
    make_pod,
    output_artifacts,
    output_paths,
    resolve_env,
)
from engine.scheduler import Unschedulable
from engine.status import Node, NodeType, Phase

if TYPE_CHECKING:
    from engine.operator import WorkflowRun

DEADLINE_EXCEEDED = "Pod was active on the node longer than the specified deadline"


@dataclass
class Daemon:
    node: Node
    task: asyncio.Future[Node]
    stopping: bool = False


# Daemons started under the steps/dag invocation being run; killed when it ends.
DAEMONS: contextvars.ContextVar[list[Daemon] | None] = contextvars.ContextVar(
    "daemons", default=None
)


class _Pod:
    """The PodSpecs of one pod node, built from its resolved template."""

    def __init__(self, run: WorkflowRun, node: Node, tmpl: dict[str, Any]) -> None:
        self.run = run
        self.node = node
        self.tmpl = tmpl
        data = run.ctx.data_dir
        self.pod_dir = data / "pods" / run.record.uid / node.pod_name
        self.log_dir = data / "logs" / run.record.uid
        node.log_path = str(self.log_dir / f"{node.pod_name}.log")
        self.volumes = {v["name"]: v for v in run.spec.get("volumes") or []}
        self.volumes.update({v["name"]: v for v in tmpl.get("volumes") or []})
        for claim in run.spec.get("volumeClaimTemplates") or []:
            cname = (claim.get("metadata") or {}).get("name")
            if cname:
                self.volumes[cname] = {"name": cname, "claimTemplate": True}

    def spec(
        self, container: dict[str, Any] | None, extra_mounts: list[Any] | None = None
    ) -> PodSpec:
        main = container is None
        body = dict(container if container is not None else (
            self.tmpl.get("container") or self.tmpl.get("script") or {}))  # fmt: skip
        if extra_mounts:
            body["volumeMounts"] = [*(body.get("volumeMounts") or []), *extra_mounts]
        run = self.run
        bindings = bind_volumes(
            body,
            self.volumes,
            shared_dir=run.ctx.data_dir / "volumes" / run.record.uid,
            pod_dir=self.pod_dir,
            claims_dir=run.ctx.data_dir / "volumes" / "claims",
            objects=run.objects,
        )
        bindings += input_artifacts(self.tmpl, run.artifacts_root, self.pod_dir)
        name = "main" if main else str(body.get("name", "main"))
        log = self.node.log_path if main or name == "main" else str(
            self.log_dir / f"{self.node.pod_name}.{name}.log")  # fmt: skip
        return make_pod(
            self.tmpl,
            name=self.node.pod_name,
            workflow_uid=run.record.uid,
            namespace=run.record.namespace,
            images=run.ctx.images,
            env=resolve_env(body, run.objects),
            volumes=bindings,
            log_path=log,
            artifact_dir=str(run.artifacts_root / run.artifact_key(self.node)),
            container=None if main else body,
        )


async def run_pod(run: WorkflowRun, node: Node, tmpl: dict[str, Any]) -> Node:
    from engine.operator import POD_LIMITS, _Slots

    pod = _Pod(run, node, tmpl)
    try:
        inits = [pod.spec(c) for c in tmpl.get("initContainers") or []]
        sidecars = [pod.spec(c) for c in tmpl.get("sidecars") or []]
        main = None if tmpl.get("containerSet") else pod.spec(None)
    except PodBuildError as exc:
        return run.finish(node, Phase.ERROR, str(exc))
    await run._unsuspended.wait()
    if tmpl.get("daemon"):
        return await _start_daemon(run, node, tmpl, pod, inits, sidecars, main)
    slots = _Slots(*POD_LIMITS.get())
    try:
        request = slots.pod_request(run, tmpl)
    except ValueError as exc:
        return run.finish(node, Phase.ERROR, str(exc))
    try:
        async with slots, run.ctx.scheduler.hold(request):
            node.phase = Phase.RUNNING
            node.started_at = run.ctx.clock.now().replace(microsecond=0)
            run.save(node)
            result = await _containers(run, node, tmpl, pod, inits, sidecars, main)
    except Unschedulable as exc:
        return run.finish(node, Phase.FAILED, str(exc))
    return _conclude(run, node, tmpl, result)


async def _containers(
    run: WorkflowRun,
    node: Node,
    tmpl: dict[str, Any],
    pod: _Pod,
    inits: list[PodSpec],
    sidecars: list[PodSpec],
    main: PodSpec | None,
) -> PodResult:
    executor = run.ctx.executor
    for init in inits:
        r = await executor.run(init)
        if r.error is not None or r.exit_code != 0:
            detail = r.error or f"Error (exit code {r.exit_code})"
            return PodResult(
                exit_code=r.exit_code, error=f"init container {init.container}: {detail}"
            )
    side = [asyncio.ensure_future(executor.run(s)) for s in sidecars]
    try:
        if main is None:
            return await _container_set(run, node, tmpl, pod)
        return await _bounded(run, main, tmpl)
    finally:
        for s in sidecars:
            await executor.kill(s.name, s.container)
        await asyncio.gather(*side, return_exceptions=True)


async def _bounded(run: WorkflowRun, spec: PodSpec, tmpl: dict[str, Any]) -> PodResult:
    """Run the container, killing it when its ``activeDeadlineSeconds``/``timeout`` passes."""
    from engine.values import template_deadline

    limit = template_deadline(tmpl)
    if limit is None:
        return await run.ctx.executor.run(spec)
    task = asyncio.ensure_future(run.ctx.executor.run(spec))
    timer = asyncio.ensure_future(run.ctx.clock.sleep(limit))
    try:
        await asyncio.wait([task, timer], return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
        if not task.done():
            task.cancel()
    if task.cancelled() or not task.done():
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return PodResult(exit_code=None, error=DEADLINE_EXCEEDED, deadline=True)
    return task.result()


async def _container_set(
    run: WorkflowRun, node: Node, tmpl: dict[str, Any], pod: _Pod
) -> PodResult:
    """A ``containerSet``: its containers in one pod, each once its dependencies succeeded."""
    cs = tmpl["containerSet"]
    members = {c["name"]: c for c in cs.get("containers") or []}
    shared_mounts = cs.get("volumeMounts") or []
    nodes: dict[str, Node] = {}
    results: dict[str, PodResult] = {}
    for name in members:
        nodes[name] = run.ensure_node(
            f"{node.name}.{name}", name, NodeType.CONTAINER, node.template_name, node.boundary_id,
            [node.id],
        )  # fmt: skip
    done: dict[str, asyncio.Event] = {name: asyncio.Event() for name in members}

    async def one(name: str) -> None:
        member = members[name]
        for dep in member.get("dependencies") or []:
            if dep in done:
                await done[dep].wait()
        child = nodes[name]
        try:
            if any(nodes[d].phase != Phase.SUCCEEDED for d in member.get("dependencies") or []):
                run.finish(child, Phase.OMITTED, "omitted: depends condition not met")
                return
            spec = pod.spec(member, shared_mounts)
            if name == "main":  # the template's outputs are read from the main container
                spec.output_paths = output_paths(tmpl)
                spec.output_artifacts = output_artifacts(tmpl)
            child.phase = Phase.RUNNING
            run.save(child)
            result = await _bounded(run, spec, tmpl)
            results[name] = result
            if result.error is not None:
                run.finish(child, Phase.ERROR, result.error)
            elif result.exit_code != 0:
                run.finish(child, Phase.FAILED, f"Error (exit code {result.exit_code})")
            else:
                run.finish(child, Phase.SUCCEEDED)
        except PodBuildError as exc:
            run.finish(child, Phase.ERROR, str(exc))
        finally:
            done[name].set()

    await asyncio.gather(*(one(name) for name in members))
    bad = [n for n in nodes.values() if n.phase in (Phase.FAILED, Phase.ERROR)]
    main = results.get("main") or next(iter(results.values()), PodResult(exit_code=0))
    if bad:
        code = main.exit_code if main.exit_code not in (0, None) else 1
        error = None if bad[0].phase == Phase.FAILED else bad[0].message
        return PodResult(exit_code=code, stdout=main.stdout, files=main.files, error=error)
    return main


def _conclude(run: WorkflowRun, node: Node, tmpl: dict[str, Any], result: PodResult) -> Node:
    node = _concluded(run, node, tmpl, result)
    collect_pods(run.ctx.data_dir, run.record, [node], "pod")
    return node


def _concluded(run: WorkflowRun, node: Node, tmpl: dict[str, Any], result: PodResult) -> Node:
    outputs, error = collect_outputs(tmpl, result, run.artifact_key(node))
    node.outputs = outputs or None
    if result.deadline:
        return run.finish(node, Phase.FAILED, result.error or DEADLINE_EXCEEDED)
    if result.error is not None:
        return run.finish(node, Phase.ERROR, result.error)
    if result.exit_code != 0:
        return run.finish(node, Phase.FAILED, f"Error (exit code {result.exit_code})")
    if error:
        return run.finish(node, Phase.ERROR, error)
    run.record_globals(outputs)
    return run.finish(node, Phase.SUCCEEDED)


async def _start_daemon(
    run: WorkflowRun,
    node: Node,
    tmpl: dict[str, Any],
    pod: _Pod,
    inits: list[PodSpec],
    sidecars: list[PodSpec],
    main: PodSpec | None,
) -> Node:
    """Start a ``daemon: true`` pod and return once it runs; it is stopped (and Succeeds) when
    the template that started it ends, or ends on its own before that."""
    from engine.operator import POD_LIMITS, _Slots

    started = asyncio.Event()
    daemon: Daemon | None = None

    async def body() -> Node:
        slots = _Slots(*POD_LIMITS.get())
        async with slots, run.ctx.scheduler.hold(slots.pod_request(run, tmpl)):
            node.phase = Phase.RUNNING
            node.started_at = run.ctx.clock.now().replace(microsecond=0)
            node.extra["daemoned"] = True
            run.save(node)
            started.set()
            result = await _containers(run, node, tmpl, pod, inits, sidecars, main)
        node.extra.pop("daemoned", None)
        if daemon is not None and daemon.stopping:
            node.outputs = collect_outputs(tmpl, result, run.artifact_key(node))[0] or None
            return run.finish(node, Phase.SUCCEEDED)
        return _conclude(run, node, tmpl, result)

    task = asyncio.ensure_future(body())
    daemon = Daemon(node, task)
    scope = DAEMONS.get()
    if scope is not None:
        scope.append(daemon)
    waiter = asyncio.ensure_future(started.wait())
    await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task.done():
        return task.result()
    probe = (tmpl.get("container") or tmpl.get("script") or {}).get("readinessProbe")
    ready = asyncio.ensure_future(wait_ready(probe))
    await asyncio.wait([task, ready], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        return task.result()
    if not ready.result():
        d = daemon
        d.stopping = False
        await run.ctx.executor.kill(node.pod_name)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        return run.finish(node, Phase.FAILED, "Readiness probe failed")
    return node


async def wait_ready(probe: dict[str, Any] | None) -> bool:
    """Poll a readinessProbe (httpGet or tcpSocket on 127.0.0.1) as the kubelet would."""
    if not probe:
        await asyncio.sleep(0.2)  # no probe: give the daemon a moment before dependents start
        return True
    await asyncio.sleep(float(probe.get("initialDelaySeconds") or 0))
    period = float(probe.get("periodSeconds") or 1) / 5  # poll faster than Kubernetes does
    attempts = int(probe.get("failureThreshold") or 3) * 25
    timeout = float(probe.get("timeoutSeconds") or 1)
    for _ in range(attempts):
        if await _probe_once(probe, timeout):
            return True
        await asyncio.sleep(period)
    return False


async def _probe_once(probe: dict[str, Any], timeout: float) -> bool:
    import aiohttp

    if probe.get("httpGet"):
        get = probe["httpGet"]
        scheme = str(get.get("scheme") or "HTTP").lower()
        url = f"{scheme}://127.0.0.1:{get.get('port')}{get.get('path') or '/'}"
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
                http.get(url) as resp,
            ):
                return 200 <= resp.status < 400
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False
    if probe.get("tcpSocket"):
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", int(probe["tcpSocket"]["port"])), timeout
            )
        except (TimeoutError, OSError):
            return False
        writer.close()
        return True
    return True  # exec probes are not run locally


async def stop_daemons(run: WorkflowRun, daemons: list[Daemon]) -> None:
    """End the daemons of a finished steps/dag invocation."""
    for d in daemons:
        if not d.task.done():
            d.stopping = True
            await run.ctx.executor.kill(d.node.pod_name)
    for d in daemons:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await d.task

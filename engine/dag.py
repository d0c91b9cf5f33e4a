"""DAG templates: each task starts when its dependencies are done and its ``depends`` holds."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from engine import depends as depends_logic
from engine.status import Node, NodeType, Phase
from engine.steps import continues_on, expand, finish_outputs
from engine.templating import Scope

if TYPE_CHECKING:
    from engine.operator import WorkflowRun

_FAILED = (Phase.FAILED, Phase.ERROR)


def task_logic(task: dict[str, Any], tasks: dict[str, dict[str, Any]]) -> tuple[list[str], str]:
    """A task's dependencies and its depends expression (legacy ``dependencies`` converted)."""
    if task.get("depends"):
        expr = str(task["depends"])
        return depends_logic.task_names(expr), expr
    deps = [str(d) for d in task.get("dependencies") or []]
    parts = []
    for dep in deps:
        alts = [f"{dep}.Succeeded", f"{dep}.Skipped", f"{dep}.Daemoned"]
        cont = (tasks.get(dep) or {}).get("continueOn") or {}
        if cont.get("failed"):
            alts.append(f"{dep}.Failed")
        if cont.get("error"):
            alts.append(f"{dep}.Errored")
        parts.append("(" + " || ".join(alts) + ")")
    return deps, " && ".join(parts)


async def run_dag(run: WorkflowRun, node: Node, tmpl: dict[str, Any], scope: Scope) -> Node:
    from engine.operator import NodeError
    from engine.values import aggregate_scope_values, step_scope_values

    if node.phase == Phase.PENDING:
        node.phase = Phase.RUNNING
        run.save(node)
    dag = tmpl.get("dag") or {}
    tasks = {t["name"]: t for t in dag.get("tasks") or []}
    logic = {name: task_logic(t, tasks) for name, t in tasks.items()}
    depended = {d for deps, _ in logic.values() for d in deps}
    if dag.get("target"):
        targets = str(dag["target"]).replace(",", " ").split()
    else:
        targets = [name for name in tasks if name not in depended]
    fail_fast = dag.get("failFast", True) is not False
    scope = scope.child()
    done: dict[str, Node] = {}
    stopping = False

    def parents_of(name: str) -> list[str]:
        deps = logic[name][0]
        if not deps:
            return [node.id]
        return [o for d in deps if d in done for o in run.outbound(done[d].id)]

    async def run_task(name: str) -> Node:
        task = tasks[name]
        parents = parents_of(name)
        if any(k in task for k in ("withItems", "withParam", "withSequence")):
            group = run.ensure_node(f"{node.name}.{name}", name, NodeType.TASK_GROUP,
                                    task.get("template", ""), node.id, parents,
                                    phase=Phase.RUNNING)  # fmt: skip
            if group.fulfilled:
                return group
            children, _ = await expand(run, task, scope, node.name, node.id, [group.id], "tasks")
            scope.values.update(aggregate_scope_values("tasks", name, children))
            bad = [c for c in children if c.phase in _FAILED and not continues_on(task, c.phase)]
            if not children:
                return run.finish(group, Phase.SKIPPED, "Skipped, empty params")
            if bad:
                return run.finish(group, bad[0].phase, f"child '{bad[0].id}' failed")
            return run.finish(group, Phase.SUCCEEDED)
        children, _ = await expand(run, task, scope, node.name, node.id, parents, "tasks")
        scope.values.update(step_scope_values("tasks", name, children[0], run.nodes))
        return children[0]

    # Each task is looked at when its last dependency finishes, not on every completion: a
    # 5,000-task fan-out stays linear.
    dependents: dict[str, list[str]] = {name: [] for name in tasks}
    waiting_on: dict[str, int] = {}
    for name in tasks:
        deps = [d for d in dict.fromkeys(logic[name][0]) if d in tasks]
        waiting_on[name] = len(deps)
        for d in deps:
            dependents[d].append(name)
    finished: asyncio.Queue[tuple[str, Node]] = asyncio.Queue()
    running: set[str] = set()
    ready = [name for name in tasks if waiting_on[name] == 0]

    def settle(name: str, result: Node) -> None:
        done[name] = result
        for child in dependents[name]:
            waiting_on[child] -= 1
            if waiting_on[child] == 0:
                ready.append(child)

    def started(name: str, fut: asyncio.Future[Node]) -> None:
        fut.add_done_callback(lambda f: finished.put_nowait((name, f.result())))

    failures = 0
    while True:
        if fail_fast and failures and not stopping:
            # only after a failure can failFast stop the DAG; omitted branches count too
            stopping = _assess(done, tasks, targets, logic, fail_fast=True)[0] in _FAILED
        while ready and not stopping:
            name = ready.pop(0)
            if name in done or name in running:
                continue
            expr = logic[name][1]
            try:
                go = not expr or depends_logic.evaluate(
                    expr, lambda t, c: run.depends_result(done.get(t), c)
                )
            except depends_logic.DependsError as exc:
                raise NodeError(str(exc)) from exc
            if not go:
                settle(name, run.ensure_node(
                    f"{node.name}.{name}", name, NodeType.SKIPPED,
                    tasks[name].get("template", ""), node.id, parents_of(name),
                    phase=Phase.OMITTED, message="omitted: depends condition not met",
                ))  # fmt: skip
                continue
            running.add(name)
            started(name, asyncio.ensure_future(run_task(name)))
        if not running:
            if stopping or all(n in done for n in tasks):
                break
            # tasks whose dependencies can never be met (unknown names) are omitted
            for name in tasks:
                if name not in done:
                    done[name] = run.ensure_node(
                        f"{node.name}.{name}", name, NodeType.SKIPPED,
                        tasks[name].get("template", ""), node.id, [node.id],
                        phase=Phase.OMITTED, message="omitted: depends condition not met",
                    )  # fmt: skip
            break
        name, result = await finished.get()
        running.discard(name)
        settle(name, result)
        failures += result.phase in _FAILED

    phase, culprit = _assess(done, tasks, targets, logic, fail_fast=fail_fast)
    node.extra["outboundNodes"] = [
        o for t in targets if t in done for o in run.outbound(done[t].id)
    ]
    message = f"child '{culprit.id}' failed" if culprit is not None else ""
    return finish_outputs(run, node, tmpl, scope, phase, message, None)


def _assess(
    done: dict[str, Node],
    tasks: dict[str, dict[str, Any]],
    targets: list[str],
    logic: dict[str, tuple[list[str], str]],
    *,
    fail_fast: bool,
) -> tuple[Phase, Node | None]:
    """The DAG's phase from its target tasks, as Argo assesses it.

    An omitted or skipped task takes the phase of the branch that led to it (the worst
    completed phase among its dependencies), so an omitted leaf after a failure fails the DAG.
    """
    memo: dict[str, tuple[Phase, Node | None]] = {}

    def branch(name: str) -> tuple[Phase, Node | None]:
        if name in memo:
            return memo[name]
        memo[name] = (Phase.SUCCEEDED, None)
        node = done[name]
        if node.phase in (Phase.SUCCEEDED, *_FAILED):
            result: tuple[Phase, Node | None] = (node.phase, node)
        else:
            result = (Phase.SUCCEEDED, None)
            for dep in logic[name][0]:
                if dep in done:
                    p, culprit = branch(dep)
                    if p in _FAILED:
                        result = (p, culprit)
                        break
        memo[name] = result
        return result

    outcome: tuple[Phase, Node | None] = (Phase.SUCCEEDED, None)
    for target in targets:
        if target not in done:
            outcome = (Phase.RUNNING, None) if outcome[0] not in _FAILED else outcome
            continue
        phase, culprit = branch(target)
        if phase in _FAILED and not continues_on(tasks.get(target, {}), phase):
            if outcome[0] not in _FAILED:
                outcome = (phase, culprit)
            if fail_fast:
                break
    return outcome

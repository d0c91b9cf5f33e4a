"""Lifecycle hooks: ``hooks: {name: {expression, template}}`` on a workflow, step or task.

A hook fires once, when its expression first holds at one of the moments sluice checks: the
workflow's start and end, and each step's or task's start and end. The ``exit`` hook is the
exit handler and runs after its owner completes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.status import Node
from engine.templating import Scope, UnresolvedError, resolve
from sluice.core import exprlang

if TYPE_CHECKING:
    from engine.operator import WorkflowRun


def _holds(expression: str, scope: Scope) -> bool:
    try:
        return bool(exprlang.evaluate(expression, scope.env()))
    except exprlang.ExprError:
        return False


async def fire(
    run: WorkflowRun,
    owner_name: str,
    hooks: dict[str, Any],
    scope: Scope,
    boundary_id: str,
    parents: list[str],
) -> list[Node]:
    """Run every expression hook that holds now and has not fired yet."""
    fired = []
    for hook_name, hook in sorted(hooks.items()):
        if hook_name == "exit" or not isinstance(hook, dict) or not hook.get("expression"):
            continue
        node_name = f"{owner_name}.hooks.{hook_name}"
        if node_name in run.hooks_fired or node_name in run.by_name:
            continue
        if not _holds(str(hook["expression"]), scope):
            continue
        run.hooks_fired.add(node_name)
        try:
            arguments = resolve(hook.get("arguments") or {}, scope)
        except UnresolvedError:
            arguments = hook.get("arguments") or {}
        fired.append(
            await run.execute(
                node_name, node_name, str(hook.get("template", "")), arguments, boundary_id, parents
            )
        )
    return fired


async def run_hooks(run: WorkflowRun, phase: str) -> None:
    """The workflow's own expression hooks, checked at its start and its end."""
    hooks = run.spec.get("hooks") or {}
    if hooks:
        scope = run._runtime_scope(run.scope).child({"workflow.status": phase})
        await fire(run, run.name, hooks, scope, "", [])


async def run_exit_hook(
    run: WorkflowRun,
    spec: dict[str, Any],
    node: Node,
    display: str,
    scope: Scope,
    boundary_id: str,
) -> Node | None:
    """A step's or task's ``onExit`` / ``hooks.exit`` after it completed."""
    hook = (spec.get("hooks") or {}).get("exit") or {}
    template = spec.get("onExit") or hook.get("template")
    if not template:
        return None
    try:
        arguments = resolve(hook.get("arguments") or {}, scope)
    except UnresolvedError:
        arguments = hook.get("arguments") or {}
    return await run.execute(f"{node.name}.onExit", f"{display}.onExit", str(template), arguments,
                             boundary_id, [node.id])  # fmt: skip

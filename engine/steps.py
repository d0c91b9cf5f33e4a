"""Steps templates: step groups in order, the steps of one group in parallel."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from engine.hooks import fire, run_exit_hook
from engine.loops import expanded_name
from engine.status import Node, NodeType, Phase
from engine.templating import Scope, UnresolvedError, resolve, unresolved

if TYPE_CHECKING:
    from engine.operator import WorkflowRun


def continues_on(step: dict[str, Any], phase: Phase) -> bool:
    cont = step.get("continueOn") or {}
    return bool(
        (phase == Phase.FAILED and cont.get("failed"))
        or (phase == Phase.ERROR and cont.get("error"))
    )


def resolve_call(step: dict[str, Any], scope: Scope, deferred: tuple[str, ...]) -> dict[str, Any]:
    """A step or task with its variables substituted; an inline template is left to its node."""
    later = ("inline", "hooks", "onExit")  # resolved by their own node, or after the step
    body = {k: v for k, v in step.items() if k not in later}
    out: dict[str, Any] = resolve(body, scope, deferred)
    if not deferred:
        left = unresolved(out)
        if left:
            raise UnresolvedError(left[0])
    out.update({k: step[k] for k in later if k in step})
    return out


async def call(
    run: WorkflowRun,
    spec: dict[str, Any],
    name: str,
    display: str,
    boundary_id: str,
    parents: list[str],
    scope: Scope | None = None,
    prefix: str = "steps",
) -> Node:
    """Run one (already expanded and resolved) step or task: its ``when``, its template, then
    its lifecycle hooks (expression hooks at its start and end, the exit hook last)."""
    node = await _call(run, spec, name, display, boundary_id, parents, scope, prefix)
    if scope is not None and (spec.get("hooks") or spec.get("onExit")):
        from engine.values import step_scope_values

        own = scope.child(step_scope_values(prefix, spec["name"], node, run.nodes))
        await fire(run, node.name, spec.get("hooks") or {}, own, boundary_id, [node.id])
        await run_exit_hook(run, spec, node, display, own, boundary_id)
    return node


async def _call(
    run: WorkflowRun,
    spec: dict[str, Any],
    name: str,
    display: str,
    boundary_id: str,
    parents: list[str],
    scope: Scope | None,
    prefix: str,
) -> Node:
    from engine.operator import TEMPLATE_SCOPE, NodeError

    template = spec.get("template") or (spec.get("inline") or {}).get("name", "") or ""
    when = spec.get("when")
    try:
        if when and not run.evaluate_when(str(when)):
            node = run.ensure_node(
                name, display, NodeType.SKIPPED, template, boundary_id, parents,
                phase=Phase.SKIPPED, message=f"when '{when}' evaluated false",
            )  # fmt: skip
            return node
    except NodeError as exc:
        node = run.ensure_node(name, display, NodeType.SKIPPED, template, boundary_id, parents)
        return run.finish(node, Phase.ERROR, str(exc))
    inline = spec.get("inline")
    token = None
    if spec.get("templateRef"):
        ref = spec["templateRef"]
        template = str(ref.get("template", ""))
        try:
            inline, owner_templates = run.ref_template(ref)
        except NodeError as exc:
            node = run.ensure_node(name, display, NodeType.POD, template, boundary_id, parents)
            return run.finish(node, Phase.ERROR, str(exc))
        token = TEMPLATE_SCOPE.set(owner_templates)
    try:
        execution = asyncio.ensure_future(
            run.execute(
                name,
                display,
                template,
                spec.get("arguments") or {},
                boundary_id,
                parents,
                inline=inline,
            )
        )  # the task keeps the template scope it was created in
    finally:
        if token is not None:
            TEMPLATE_SCOPE.reset(token)
    hooks = spec.get("hooks") or {}
    if scope is not None and any(k != "exit" for k in hooks):
        running = scope.child({f"{prefix}.{spec['name']}.status": "Running"})
        await asyncio.sleep(0)  # let the step's node exist before its hooks hang under it
        node_id = run.by_name[name].id if name in run.by_name else boundary_id
        await fire(run, name, hooks, running, boundary_id, [node_id])
    return await execution


async def expand(
    run: WorkflowRun,
    step: dict[str, Any],
    scope: Scope,
    base_name: str,
    boundary_id: str,
    parents: list[str],
    prefix: str = "steps",
) -> tuple[list[Node], bool]:
    """Run a step (or task) with its loop expanded; returns its nodes and whether it looped."""
    from engine.operator import NodeError

    display = step["name"]
    try:
        head = resolve_call(step, scope, ("item",))
        items = run.expand_items(head)
    except (NodeError, UnresolvedError) as exc:
        node = run.ensure_node(f"{base_name}.{display}", display, NodeType.POD,
                               step.get("template", ""), boundary_id, parents)  # fmt: skip
        return [run.finish(node, Phase.ERROR, str(exc))], False
    if items is None:
        try:
            spec = resolve_call(step, scope, ())
        except UnresolvedError as exc:
            node = run.ensure_node(f"{base_name}.{display}", display, NodeType.POD,
                                   step.get("template", ""), boundary_id, parents)  # fmt: skip
            return [run.finish(node, Phase.ERROR, str(exc))], False
        return [
            await call(
                run, spec, f"{base_name}.{display}", display, boundary_id, parents, scope, prefix
            )
        ], False

    async def one(i: int, item: Any) -> Node:
        child_display = expanded_name(display, i, item)
        child_name = f"{base_name}.{child_display}"
        try:
            spec = resolve_call(step, scope.child({"item": item}), ())
        except UnresolvedError as exc:
            node = run.ensure_node(child_name, child_display, NodeType.POD,
                                   step.get("template", ""), boundary_id, parents)  # fmt: skip
            return run.finish(node, Phase.ERROR, str(exc))
        item_scope = scope.child({"item": item})
        return await call(
            run, spec, child_name, child_display, boundary_id, parents, item_scope, prefix
        )

    nodes = list(await asyncio.gather(*(one(i, item) for i, item in enumerate(items))))
    return nodes, True


async def run_steps(run: WorkflowRun, node: Node, tmpl: dict[str, Any], scope: Scope) -> Node:
    from engine.values import aggregate_scope_values, step_scope_values

    if node.phase == Phase.PENDING:
        node.phase = Phase.RUNNING
        run.save(node)
    scope = scope.child()
    prev: Node | None = None
    for i, group in enumerate(tmpl.get("steps") or []):
        if prev is None:
            parents = [node.id]
        elif not prev.children:
            parents = [prev.id]
        else:
            parents = [o for child in prev.children for o in run.outbound(child)]
        sg = run.ensure_node(f"{node.name}[{i}]", f"[{i}]", NodeType.STEP_GROUP, "",
                             node.id, parents, phase=Phase.RUNNING)  # fmt: skip
        results = await asyncio.gather(
            *(expand(run, step, scope, sg.name, node.id, [sg.id]) for step in group)
        )
        failed: Node | None = None
        for step, (children, looped) in zip(group, results, strict=True):
            if looped:
                scope.values.update(aggregate_scope_values("steps", step["name"], children))
            else:
                scope.values.update(
                    step_scope_values("steps", step["name"], children[0], run.nodes)
                )
            for child in children:
                if child.phase in (Phase.FAILED, Phase.ERROR) and not continues_on(
                    step, child.phase
                ):
                    failed = failed or child
        if failed is not None:
            msg = f"child '{failed.id}' failed"
            if sg.phase == Phase.RUNNING:
                run.finish(sg, Phase.FAILED, msg)
            return finish_outputs(run, node, tmpl, scope, Phase.FAILED, msg, sg)
        if sg.phase == Phase.RUNNING:
            run.finish(sg, Phase.SUCCEEDED)
        prev = sg
    return finish_outputs(run, node, tmpl, scope, Phase.SUCCEEDED, "", prev)


def finish_outputs(
    run: WorkflowRun,
    node: Node,
    tmpl: dict[str, Any],
    scope: Scope,
    phase: Phase,
    message: str,
    last_group: Node | None,
) -> Node:
    """Close a steps or dag node: its outputs from ``valueFrom.parameter``/``expression``."""
    if last_group is not None:
        node.extra["outboundNodes"] = [
            o for child in (last_group.children or [last_group.id]) for o in run.outbound(child)
        ] if last_group.type == NodeType.STEP_GROUP else [last_group.id]  # fmt: skip
    if phase == Phase.SUCCEEDED:
        params = []
        for p in (tmpl.get("outputs") or {}).get("parameters") or []:
            vf = p.get("valueFrom") or {}
            try:
                if "parameter" in vf:
                    value = resolve(str(vf["parameter"]), scope)
                elif "expression" in vf:
                    value = resolve("{{=" + str(vf["expression"]) + "}}", scope)
                else:
                    value = p.get("value")
                if isinstance(value, str) and unresolved(value):
                    raise UnresolvedError(unresolved(value)[0])
            except UnresolvedError as exc:
                if "default" in vf:
                    value = str(vf["default"])
                else:
                    return run.finish(node, Phase.ERROR, str(exc))
            if value is None:
                continue
            param = {"name": p["name"], "value": value}
            if p.get("globalName"):
                param["globalName"] = p["globalName"]
            params.append(param)
        if params:
            node.outputs = {"parameters": params}
            run.record_globals(node.outputs)
    return run.finish(node, phase, message)

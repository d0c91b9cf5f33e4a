"""Nodes that run no pod: ``suspend`` (until resumed or its duration passes) and ``http``
(the engine makes the request itself)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from engine.http_template import run_http as request
from engine.status import Node, Phase
from engine.values import parse_duration

if TYPE_CHECKING:
    from engine.operator import WorkflowRun


async def run_http(run: WorkflowRun, node: Node, tmpl: dict[str, Any]) -> Node:
    """An ``http`` template: the engine makes the request itself, no pod."""
    await run._unsuspended.wait()
    node.phase = Phase.RUNNING
    run.save(node)
    outcome = await request(
        tmpl["http"], secrets=lambda name, key: run.objects.get("secret", name, key)
    )
    if outcome.result is not None:
        node.outputs = {"result": outcome.result}
    return run.finish(node, Phase(outcome.phase), outcome.message)


async def run_suspend(run: WorkflowRun, node: Node, tmpl: dict[str, Any]) -> Node:
    if node.phase == Phase.PENDING:
        node.phase = Phase.RUNNING
        run.save(node)
    duration = (tmpl.get("suspend") or {}).get("duration")
    while node.phase == Phase.RUNNING:
        waiter = asyncio.ensure_future(run._resumed.wait())
        timers = []
        if duration not in (None, ""):
            seconds = parse_duration(str(duration))
            started = node.started_at or run.ctx.clock.now()
            left = seconds - (run.ctx.clock.now() - started).total_seconds()
            if left <= 0:
                waiter.cancel()
                return run.finish(node, Phase.SUCCEEDED)
            timers.append(asyncio.ensure_future(run.ctx.clock.sleep(left)))
        try:
            await asyncio.wait([waiter, *timers], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (waiter, *timers):
                t.cancel()
    return node

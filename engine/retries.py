"""``retryStrategy``: a Retry node whose children ``name(0)``, ``name(1)``... are the attempts.

Backoff waits on the engine's clock and is measured from the last attempt's end, so a restarted
engine waits only for what is left of it.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from engine.status import Node, NodeType, Phase
from engine.templating import UnresolvedError, resolve_text
from sluice.core import exprlang

if TYPE_CHECKING:
    from engine.operator import WorkflowRun, _Call

POLICIES = ("Always", "OnFailure", "OnError", "OnTransientError")
_TRANSIENT = re.compile(r"pod deleted|connection refused|i/o timeout|TLS handshake timeout")


def humanize(seconds: float) -> str:
    """Argo's long duration form: ``3 seconds``, ``1 minute 30 seconds``."""
    total = round(seconds)
    parts = []
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        n, total = divmod(total, size)
        if n:
            parts.append(f"{n} {unit}" + ("s" if n != 1 else ""))
    return " ".join(parts) or "0 seconds"


def _transient(message: str) -> bool:
    pattern = os.environ.get("TRANSIENT_ERROR_PATTERN")
    return bool(_TRANSIENT.search(message) or (pattern and re.search(pattern, message)))


def policy_allows(policy: str, node: Node) -> bool:
    if policy == "Always":
        return node.phase in (Phase.FAILED, Phase.ERROR)
    if policy == "OnError":
        return node.phase == Phase.ERROR
    if policy == "OnTransientError":
        return node.phase == Phase.ERROR and _transient(node.message)
    return node.phase == Phase.FAILED  # OnFailure, Argo's default


async def run_retries(
    run: WorkflowRun, call: _Call, strategy: dict[str, Any], parents: list[str]
) -> Node:
    from engine.values import parse_duration

    node = run.ensure_node(call.name, call.display_name, NodeType.RETRY, call.template_name,
                           call.boundary_id, parents, phase=Phase.RUNNING)  # fmt: skip
    if call.inputs and node.inputs != call.inputs:
        node.inputs = call.inputs
        run.save(node)
    try:
        limit = _limit(strategy.get("limit"), run, call)
        policy = str(strategy.get("retryPolicy") or "OnFailure")
        if policy not in POLICIES:
            raise ValueError(f"retryPolicy '{policy}' is not one of {list(POLICIES)}")
        backoff = strategy.get("backoff") or {}
        base = parse_duration(str(backoff["duration"])) if backoff.get("duration") else 0.0
        factor = (
            float(backoff.get("factor") or 1) if backoff.get("factor") not in (None, "") else 1.0
        )
        max_duration = (
            parse_duration(str(backoff["maxDuration"])) if backoff.get("maxDuration") else None
        )
    except (ValueError, UnresolvedError) as exc:
        return run.finish(node, Phase.ERROR, f"invalid retryStrategy: {exc}")
    attempt = 0
    while True:
        child = await run.attempt(
            call, f"{call.name}({attempt})", f"{call.display_name}({attempt})", [node.id], attempt
        )
        node.outputs = child.outputs
        if child.phase in (Phase.SUCCEEDED, Phase.SKIPPED, Phase.OMITTED):
            return run.finish(node, child.phase)
        if not policy_allows(policy, child) or not _expression_allows(strategy, child):
            return run.finish(node, child.phase, child.message)
        if limit is not None and attempt >= limit:
            return run.finish(node, child.phase, "No more retries left")
        started = node.started_at or run.ctx.clock.now()
        if (
            max_duration is not None
            and (run.ctx.clock.now() - started).total_seconds() >= max_duration
        ):
            return run.finish(node, Phase.FAILED, "Max duration limit exceeded")
        delay = base * factor**attempt
        if delay > 0:
            ended = child.finished_at or run.ctx.clock.now()
            left = delay - (run.ctx.clock.now() - ended).total_seconds()
            if left > 0:
                node.message = f"Backoff for {humanize(delay)}"
                run.save(node)
                await run.ctx.clock.sleep(left)
                node.message = ""
                run.save(node)
        attempt += 1


def _limit(value: Any, run: WorkflowRun, call: _Call) -> int | None:
    if value in (None, ""):
        return None
    text = resolve_text(str(value), run._runtime_scope(call.scope))
    try:
        return int(float(text))
    except ValueError:
        raise ValueError(f"limit '{value}' is not a number") from None


def _expression_allows(strategy: dict[str, Any], child: Node) -> bool:
    expression = strategy.get("expression")
    if not expression:
        return True
    duration = 0.0
    if child.started_at and child.finished_at:
        duration = (child.finished_at - child.started_at).total_seconds()
    env = {
        "lastRetry": {
            "exitCode": int((child.outputs or {}).get("exitCode", -1)),
            "status": str(child.phase),
            "duration": duration,
            "message": child.message,
        }
    }
    try:
        return bool(exprlang.evaluate(str(expression), env))
    except exprlang.ExprError:
        return False

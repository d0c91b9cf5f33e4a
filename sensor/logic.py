"""What a Sensor does with one event, apart from where events come from and how triggers act.

``SensorLogic.handle(dependency, event)`` applies the dependency's jq ``transform`` (see
:mod:`sensor.transform`), filters the transformed event, updates each trigger's pending
dependencies, evaluates the trigger's condition, and when it holds calls ``fire`` with the
events and an idempotency key, then returns the ``Decision``. The live runner
(:mod:`sensor.runner`) feeds it from durable consumers with a bus-backed state and real
triggers; ``sluice sensor test`` feeds it events from files with an in-memory state and a
``fire`` that only renders. Both therefore decide the same way.

Argo's semantics: without ``&&`` in a trigger's condition (one dependency, or only ``||``),
each passing event fires alone and nothing is kept. With ``&&``, the latest event of each
dependency is kept until the condition holds; the trigger then fires with those events and
forgets them. The firing's key is derived from the sensor, the trigger and the events' ids,
so a redelivered event maps onto the same firing, and an event a firing already consumed is
not kept again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sensor.conditions import And, Condition, Or, all_of, parse_condition
from sensor.decisions import (
    DUPLICATE,
    WAITING,
    WOULD_FIRE,
    Decision,
    FireResult,
    TriggerDecision,
    event_summary,
)
from sensor.filters import DependencyFilter
from sensor.models import EventDependency, Sensor, Trigger
from sensor.state import DependencyState
from sensor.transform import DependencyTransform
from sluice.core.clock import Clock, SystemClock

__all__ = ["FireFn", "SensorLogic", "TriggerPlan", "firing_key", "spec_hash"]

log = logging.getLogger(__name__)

Event = Mapping[str, Any]
FireFn = Callable[["TriggerPlan", dict[str, Event], str], Awaitable[FireResult]]


def spec_hash(dependency: EventDependency) -> str:
    """A hash of what decides which events a dependency takes."""
    text = json.dumps(dependency.model_dump(by_alias=True, exclude_none=True), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def firing_key(namespace: str, sensor: str, trigger: str, events: Mapping[str, str]) -> str:
    """The idempotency key of one firing, from its events' ids by dependency: the same events
    always give the same key, and one event firing for two dependencies gives two keys."""
    pairs = sorted(f"{dependency}={event_id}" for dependency, event_id in events.items())
    text = "\n".join([namespace, sensor, trigger, *pairs])
    return "sensor-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _needs_all(condition: Condition) -> bool:
    """Whether the condition has an ``&&``, so events must wait for each other."""
    if isinstance(condition, And):
        return True
    if isinstance(condition, Or):
        return any(_needs_all(op) for op in condition.operands)
    return False


@dataclass
class TriggerPlan:
    """One trigger of the sensor, with its condition parsed once."""

    trigger: Trigger
    condition: Condition
    waits: bool  # the condition has "&&": keep events until it holds
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one event at a time updates it

    @property
    def name(self) -> str:
        return self.trigger.template.name


@dataclass
class _Dependency:
    spec: EventDependency
    filter: DependencyFilter
    hash: str
    transform: DependencyTransform


class SensorLogic:
    """The decisions of one Sensor (validated by ``sensor.parse_sensor``)."""

    def __init__(
        self,
        sensor: Sensor,
        state: DependencyState,
        fire: FireFn,
        *,
        namespace: str | None = None,
        clock: Clock | None = None,
        exhaustive: bool = False,
    ) -> None:
        """``exhaustive``: run every filter rule, even past the one that decides, so each is
        explained (``sluice sensor test``); the live sensor stops at the deciding one."""
        self.sensor = sensor
        self.exhaustive = exhaustive
        self.namespace = namespace or sensor.metadata.namespace or "default"
        self.name = sensor.name
        self.state = state
        self.fire = fire
        self.clock: Clock = clock or SystemClock()
        self.dependencies: dict[str, _Dependency] = {}
        for dep in sensor.spec.dependencies:
            self.dependencies[dep.name] = _Dependency(
                dep,
                DependencyFilter(dep.filters, dep.filters_logical_operator, clock=self.clock.now),
                spec_hash(dep),
                DependencyTransform(dep.transform),
            )
        self.triggers: list[TriggerPlan] = []
        for trigger in sensor.spec.triggers:
            text = trigger.template.conditions
            condition = parse_condition(text) if text else all_of(self.dependencies)
            self.triggers.append(TriggerPlan(trigger, condition, _needs_all(condition)))

    def spec_hashes(self) -> dict[tuple[str, str], str]:
        """(trigger, dependency) -> the dependency's spec hash, for the kept state."""
        return {
            (plan.name, dep): self.dependencies[dep].hash
            for plan in self.triggers
            for dep in plan.condition.names()
            if dep in self.dependencies
        }

    def dependencies_of(self, event_source: str, event_name: str) -> list[str]:
        """The dependencies an event of ``event_source``/``event_name`` goes to."""
        return [
            name
            for name, dep in self.dependencies.items()
            if dep.spec.event_source_name == event_source and dep.spec.event_name == event_name
        ]

    async def handle(self, dependency: str, event: Event, *, redelivered: bool = False) -> Decision:
        """Decide on one event of ``dependency``; the state is updated before returning.

        ``redelivered`` says the event may have been handled before (a crash before its ack):
        only then are the firing records consulted. With a ``transform``, the filters, the
        kept state and the triggers see the transformed event; an event the transform rejects
        does not pass (Argo discards it with an error).
        """
        dep = self.dependencies[dependency]
        transformed = dep.transform.apply(event)
        verdicts = list(transformed.verdicts)
        passed = transformed.passed
        if passed:
            event = transformed.event
            result = dep.filter.evaluate(event, exhaustive=self.exhaustive)
            verdicts += result.verdicts
            passed = result.passed
        else:
            log.warning(
                "sensor %s/%s: dependency %s: event %s discarded: transform failed: %s",
                self.namespace,
                self.name,
                dependency,
                event.get("id"),
                transformed.verdicts[0].detail,
            )
        decision = Decision(
            namespace=self.namespace,
            sensor=self.name,
            dependency=dependency,
            event=event_summary(event),
            at=self.clock.now().isoformat(),
            passed=passed,
            filters=[_verdict(v) for v in verdicts],
        )
        if not passed:
            return decision
        for plan in self.triggers:
            if dependency in plan.condition.names():
                decision.triggers.append(
                    await self._consider(plan, dependency, dep, event, redelivered)
                )
        return decision

    async def _consider(
        self, plan: TriggerPlan, name: str, dep: _Dependency, event: Event, redelivered: bool
    ) -> TriggerDecision:
        event_id = str(event.get("id", ""))
        if not plan.waits:
            return await self._fire(plan, {name: event}, redelivered)
        async with plan.lock:
            return await self._keep(plan, name, dep, event, event_id, redelivered)

    async def _keep(
        self,
        plan: TriggerPlan,
        name: str,
        dep: _Dependency,
        event: Event,
        event_id: str,
        redelivered: bool,
    ) -> TriggerDecision:
        if redelivered and await self.state.used(plan.name, name, event_id):
            await self._forget_used(plan)  # a crash may have come between firing and clearing
            return TriggerDecision(
                plan.name,
                str(plan.condition),
                sorted(self.state.pending(plan.name)),
                DUPLICATE,
                "this event was already consumed by a firing",
            )
        await self.state.put(plan.name, name, event, dep.hash)
        pending = self.state.pending(plan.name)
        # a firing whose clear failed may have left its events: never fire them twice
        ready = plan.condition.evaluate(pending.keys()) and len(pending) > 1
        if ready and await self._forget_used(plan, keep=name):
            pending = self.state.pending(plan.name)
        if not plan.condition.evaluate(pending.keys()):
            missing = [n for n in plan.condition.names() if n not in pending]
            return TriggerDecision(
                plan.name,
                str(plan.condition),
                sorted(pending),
                WAITING,
                f"waiting for {', '.join(missing)}",
                events={d: str(e.get("id", "")) for d, e in pending.items()},
            )
        decision = await self._fire(plan, pending, redelivered)
        await self.state.clear(plan.name)
        return decision

    async def _fire(
        self, plan: TriggerPlan, events: dict[str, Event], redelivered: bool
    ) -> TriggerDecision:
        ids = {d: str(e.get("id", "")) for d, e in events.items()}
        key = firing_key(self.namespace, self.name, plan.name, ids)
        condition = str(plan.condition)
        if redelivered:
            done = await self.state.fired(key)
            if done is not None:
                return TriggerDecision(
                    plan.name,
                    condition,
                    [],
                    DUPLICATE,
                    "already fired for these events",
                    key=key,
                    workflow=done.get("workflow"),
                    events=ids,
                )
        result = await self.fire(plan, events, key)
        if result.outcome != WOULD_FIRE:  # a redelivery must not fire or dead-letter again
            record = {"workflow": result.workflow, "at": self.clock.now().isoformat()}
            # a waiting trigger's events are marked used, so a redelivery is not kept again
            await self.state.record_firing(key, plan.name, ids if plan.waits else {}, record)
        return TriggerDecision(
            plan.name,
            condition,
            [],
            result.outcome,
            result.detail,
            key=key,
            workflow=result.workflow,
            events=ids,
            resource=result.resource,
        )

    async def _forget_used(self, plan: TriggerPlan, keep: str | None = None) -> bool:
        """Drop the pending events (but ``keep``'s) that a firing already consumed; whether
        there were any."""
        pending = self.state.pending(plan.name)
        consumed = [
            dep
            for dep, event in pending.items()
            if dep != keep and await self.state.used(plan.name, dep, str(event.get("id", "")))
        ]
        if consumed:
            await self.state.clear(plan.name, consumed)
        return bool(consumed)

    async def reset(self, trigger: str) -> None:
        """``conditionsReset``: forget the trigger's pending events."""
        await self.state.clear(trigger)


def _verdict(verdict: Any) -> dict[str, Any]:
    return {
        "kind": verdict.kind,
        "index": verdict.index,
        "passed": verdict.passed,
        "detail": verdict.detail,
        "value": verdict.value,  # encoded with the record (repr when not JSON)
        "rule": verdict.rule,
    }

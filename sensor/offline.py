"""``sluice sensor test``: Sensors decide on events read from files, with no bus and no engine.

The decisions are the live ones (:class:`sensor.logic.SensorLogic`, the same filters,
conditions and parameters); only the surroundings differ. Pending events live in memory for
the run, and a firing renders its trigger's resource and payload instead of executing it
(:class:`sensor.firing.Firer` in dry run), and every filter rule runs, so each is explained
even past the one that decides. Events are taken in the order given and go to every
dependency of every Sensor whose ``eventSourceName``/``eventName`` are the event's
``source``/``subject``, as on the bus.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sensor.decisions import FAILED, WOULD_FIRE, Decision, check_event
from sensor.firing import Firer
from sensor.logic import SensorLogic
from sensor.models import Sensor
from sensor.state import MemoryState
from sensor.triggers import TriggerContext
from sluice.core.clock import Clock, SystemClock

__all__ = ["EventResult", "evaluate", "would_fire"]


@dataclass
class EventResult:
    """What became of one event: rejected, taken by no dependency, or the decisions."""

    where: str  # the file (and index) the event came from
    event: Mapping[str, Any]
    error: str | None = None
    decisions: list[Decision] = field(default_factory=list)

    def lines(self) -> list[str]:
        if self.error:
            return [f"{self.where}: rejected: {self.error}"]
        if not self.decisions:
            ev = self.event
            return [
                f"event {ev.get('id')} ({ev.get('source')}/{ev.get('subject')}) from "
                f"{self.where}: no dependency takes it"
            ]
        return [line for decision in self.decisions for line in decision.lines()]


async def evaluate(
    sensors: Iterable[Sensor],
    events: Iterable[tuple[str, Any]],
    context: TriggerContext | None = None,
    *,
    clock: Clock | None = None,
) -> list[EventResult]:
    """Each ``(where, event)`` through every sensor, in order; nothing is executed."""
    clock = clock or SystemClock()
    context = context or TriggerContext(clock=clock)
    logics = []
    for sensor in sensors:
        namespace = sensor.metadata.namespace or "default"
        firer = Firer(context, namespace, sensor.name, None, clock=clock, dry_run=True)
        logic = SensorLogic(
            sensor, MemoryState(), firer, namespace=namespace, clock=clock, exhaustive=True
        )
        logics.append(logic)
    results = []
    for where, value in events:
        try:
            event = check_event(value)
        except ValueError as exc:
            results.append(EventResult(where, {}, str(exc)))
            continue
        result = EventResult(where, event)
        for logic in logics:
            for dependency in logic.dependencies_of(str(event["source"]), str(event["subject"])):
                result.decisions.append(await logic.handle(dependency, event))
        results.append(result)
    return results


def would_fire(results: Iterable[EventResult]) -> bool:
    """Whether some trigger would fire and none failed to render."""
    outcomes = [t.outcome for r in results for d in r.decisions for t in d.triggers]
    return WOULD_FIRE in outcomes and FAILED not in outcomes

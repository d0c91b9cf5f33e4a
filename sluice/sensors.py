"""The runtime of stored Sensors in ``sluice up``: one runner per Sensor, and what they record.

Applying a changed Sensor stops its runner and starts a new one; the new one keeps the pending
events of the dependencies whose spec did not change, and resumes each unchanged
dependency's durable consumer where it stopped. Deleting a Sensor deletes its consumers.
Triggers reach the engine in-process, through ``sluice.submitter.EngineSubmitter``.

It also answers the questions about sensors: ``explain`` (the decisions recorded for an
event) and the dead letters (``dlq list|show|redrive``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from eventbus.base import Bus
from sensor import parse_sensor
from sensor.deadletters import DeadLetter, DeadLetters
from sensor.firing import Firer, TriggerContext
from sensor.runner import DECISIONS_LOG, SensorRunner
from sluice.core.clock import Clock, SystemClock
from sluice.core.errors import NotFoundError
from sluice.core.resources import RawResource

log = logging.getLogger(__name__)

Key = tuple[str, str]  # namespace, name
DECISIONS_MAX = 100_000
DECISIONS_MAX_AGE = 7 * 24 * 3600.0


class SensorRuntime:
    """Runs every applied Sensor (implements ``sluice.controller.Runtime``)."""

    def __init__(
        self,
        bus: Bus,
        context: TriggerContext,
        *,
        clock: Clock | None = None,
        stream_config: Callable[[str], dict[str, Any]] | None = None,
    ) -> None:
        self.bus = bus
        self.context = context
        self.clock: Clock = clock or SystemClock()
        self.stream_config: Callable[[str], dict[str, Any]] = stream_config or (lambda _ns: {})
        self.runners: dict[Key, SensorRunner] = {}
        self.firers: dict[Key, Firer] = {}
        self._dead_letters: DeadLetters | None = None
        self._streams: set[str] = set()
        self._lock = asyncio.Lock()

    async def dead_letters(self) -> DeadLetters:
        if self._dead_letters is None:
            self._dead_letters = await DeadLetters.open(self.bus)
            await self.bus.ensure_log(
                DECISIONS_LOG, max_msgs=DECISIONS_MAX, max_age=DECISIONS_MAX_AGE
            )
        return self._dead_letters

    async def apply(self, manifest: dict[str, Any]) -> None:
        meta = manifest.get("metadata") or {}
        key = (meta.get("namespace") or "default", meta.get("name") or "")
        where = f"sensor/{key[1]} in {key[0]}"
        sensor = parse_sensor(RawResource(where, 1, manifest, label=where))
        letters = await self.dead_letters()
        async with self._lock:
            await self._stop(key)
            if key[0] not in self._streams:
                await self.bus.ensure_stream(key[0], self.stream_config(key[0]))
                self._streams.add(key[0])
            firer = Firer(self.context, key[0], key[1], letters, clock=self.clock)
            runner = SensorRunner(
                sensor, self.bus, firer, letters, namespace=key[0], clock=self.clock
            )
            await runner.start()
            self.runners[key] = runner
            self.firers[key] = firer
            log.info("sensor/%s started in %s", key[1], key[0])

    async def remove(self, namespace: str, name: str) -> None:
        async with self._lock:
            await self._stop((namespace, name), forget=True)

    async def _stop(self, key: Key, *, forget: bool = False) -> None:
        runner = self.runners.pop(key, None)
        self.firers.pop(key, None)
        if runner is not None:
            await runner.stop(forget=forget)
            log.info("sensor/%s stopped in %s", key[1], key[0])

    def status(self, namespace: str, name: str) -> dict[str, Any] | None:
        runner = self.runners.get((namespace, name))
        return runner.status() if runner is not None else None

    async def close(self) -> None:
        async with self._lock:
            for key in list(self.runners):
                await self._stop(key)

    async def explain(self, event_id: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Every decision recorded for the event ``event_id``, oldest first."""
        await self.dead_letters()
        subject = self.bus.log_subject(DECISIONS_LOG, namespace or "*", "*", event_id)
        return [json.loads(m.data) async for m in self.bus.read(subject)]

    async def dlq_list(self, namespace: str | None = None) -> list[DeadLetter]:
        return await (await self.dead_letters()).list(namespace)

    async def dlq_get(self, namespace: str, letter_id: str) -> DeadLetter:
        letter = await (await self.dead_letters()).get(namespace, letter_id)
        if letter is None:
            raise NotFoundError(f'dead letter "{letter_id}" not found in {namespace}')
        return letter

    async def redrive(self, namespace: str, letter_id: str) -> dict[str, Any]:
        """Fire a dead letter's trigger again with its events; the record goes when it works."""
        letters = await self.dead_letters()
        letter = await self.dlq_get(namespace, letter_id)
        if letter.kind != "trigger" or letter.trigger is None:
            raise NotFoundError(f"dead letter {letter_id} is an unreadable event: nothing to redo")
        runner = self.runners.get((namespace, letter.sensor))
        firer = self.firers.get((namespace, letter.sensor))
        if runner is None or runner.logic is None or firer is None:
            raise NotFoundError(f'sensor "{letter.sensor}" is not running in {namespace}')
        plan = next((p for p in runner.logic.triggers if p.name == letter.trigger), None)
        if plan is None:
            raise NotFoundError(f'sensor "{letter.sensor}" has no trigger "{letter.trigger}" now')
        result = await firer(plan, dict(letter.events), letter.key or "", redrive=True)
        if result.outcome in ("fired", "duplicate"):
            await letters.delete(namespace, letter_id)
        return {
            "id": letter_id,
            "outcome": result.outcome,
            "detail": result.detail,
            "workflow": result.workflow,
        }


__all__ = ["SensorRuntime"]

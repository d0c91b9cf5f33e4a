"""One running Sensor: a durable consumer per dependency feeding ``SensorLogic``.

Each dependency consumes its event's subject with a durable JetStream consumer (new ones start
at the next event, as a new Argo sensor does), fetches in batches and handles a batch's
messages concurrently, up to ``concurrency`` at a time (annotation ``sluice/concurrency``; 1
handles them in order). A message is acked only once it is fully handled: filtered out, kept
as pending, or its triggers fired and recorded. A crash anywhere before the ack redelivers it,
and the firing's idempotency key keeps the redelivery from firing twice. A message that is not
a CloudEvent is dead-lettered with the reason and terminated; it never stops the consumer.

Every decision is appended to the bounded ``decisions`` log on the bus for ``sluice sensor
explain``. ``conditionsReset.byTime`` clears a trigger's pending events on its cron schedule.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import re
from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

from eventbus.base import Bus, Consumer, Message
from eventbus.errors import BusError
from sensor.deadletters import DeadLetter, DeadLetters
from sensor.decisions import Decision, check_event
from sensor.logic import FireFn, SensorLogic
from sensor.models import Sensor
from sensor.state import KVState, MemoryState
from sluice.core import fastjson
from sluice.core.clock import Clock, SystemClock
from sluice.core.supervise import Supervisor, until

log = logging.getLogger(__name__)

__all__ = ["DECISIONS_LOG", "SensorRunner", "consumer_name"]

DECISIONS_LOG = "decisions"
CONCURRENCY_ANNOTATION = "sluice/concurrency"
DEFAULT_CONCURRENCY = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def consumer_name(namespace: str, sensor: str, dependency: str, subject: str) -> str:
    """The durable consumer of one dependency: readable, and new when its subject changes."""
    digest = hashlib.sha256("\n".join((namespace, sensor, dependency, subject)).encode())
    readable = _UNSAFE.sub("_", f"{sensor}-{dependency}")[:40]
    return f"sensor-{readable}-{digest.hexdigest()[:12]}"


class SensorRunner:
    """Consumes, decides and fires for one Sensor until ``stop()``."""

    def __init__(
        self,
        sensor: Sensor,
        bus: Bus,
        fire: FireFn,
        dead_letters: DeadLetters,
        *,
        namespace: str,
        clock: Clock | None = None,
        batch: int = 100,
    ) -> None:
        self.sensor = sensor
        self.bus = bus
        self.fire = fire
        self.dead_letters = dead_letters
        self.namespace = namespace
        self.clock: Clock = clock or SystemClock()
        self.batch = batch
        annotations = sensor.metadata.annotations or {}
        self.concurrency = max(1, int(annotations.get(CONCURRENCY_ANNOTATION, DEFAULT_CONCURRENCY)))
        self.logic: SensorLogic | None = None
        self.supervisor = Supervisor(f"sensor/{sensor.name}", clock=self.clock, grace=5.0)
        self.counts: Counter[str] = Counter()
        self._consumers: dict[
            str, tuple[str, str, Consumer]
        ] = {}  # dep -> subject, durable, consumer

    @property
    def name(self) -> str:
        return self.sensor.name

    def where(self) -> str:
        return f"sensor/{self.name}"

    async def start(self) -> None:
        """Open the state, bind every dependency's consumer, and start consuming."""
        logic = SensorLogic(
            self.sensor, MemoryState(), self.fire, namespace=self.namespace, clock=self.clock
        )  # the state that applies depends on the parsed triggers: opened next
        logic.state = await KVState.open(self.bus, self.namespace, self.name, logic.spec_hashes())
        self.logic = logic
        for name, dep in logic.dependencies.items():
            subject = self.bus.subject(
                self.namespace, dep.spec.event_source_name or "", dep.spec.event_name or ""
            )
            durable = consumer_name(self.namespace, self.name, name, subject)
            consumer = await self.bus.subscribe(
                subject,
                durable,
                batch=self.batch,
                deliver_new=True,
                max_ack_pending=max(1000, self.batch * 4),
            )
            self._consumers[name] = (subject, durable, consumer)
        for name in self._consumers:
            self.supervisor.add(f"dependency {name}", functools.partial(self._consume, name))
        for plan in logic.triggers:
            for i, reset in enumerate(plan.trigger.template.conditions_reset or []):
                if reset.by_time is not None and reset.by_time.cron:
                    self.supervisor.add(
                        f"trigger {plan.name} reset {i}",
                        functools.partial(
                            self._reset_on_schedule,
                            plan.name,
                            reset.by_time.cron,
                            reset.by_time.timezone,
                        ),
                    )

    async def stop(self, *, forget: bool = False) -> None:
        """Stop consuming; messages in hand are redelivered later. ``forget`` also deletes the
        durable consumers (the Sensor was deleted)."""
        await self.supervisor.stop()
        for subject, durable, consumer in self._consumers.values():
            try:
                await consumer.close()
                if forget:
                    await self.bus.delete_consumer(subject, durable)
            except BusError as exc:
                log.warning("%s: closing consumer %s: %s", self.where(), durable, exc)
        self._consumers.clear()

    def status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "dependencies": sorted(self._consumers),
            "tasks": {k: v.as_dict() for k, v in self.supervisor.status().items()},
            "events": dict(self.counts),
        }

    async def _consume(self, dependency: str) -> None:
        _, _, consumer = self._consumers[dependency]
        if self.concurrency == 1:
            while not self.supervisor.stopping.is_set():
                for message in await consumer.fetch(self.batch, timeout=1.0):
                    await self._handle(dependency, message)
            return
        # Up to ``concurrency`` messages are handled at a time, and the next batch is fetched
        # as soon as the last of this one has started: the bus round trip overlaps the work.
        gate = asyncio.Semaphore(self.concurrency)
        running: set[asyncio.Task[None]] = set()
        failed: list[BaseException] = []

        def done(task: asyncio.Task[None]) -> None:
            running.discard(task)
            gate.release()
            if not task.cancelled() and task.exception() is not None:
                failed.append(task.exception())  # type: ignore[arg-type]

        try:
            while not self.supervisor.stopping.is_set() and not failed:
                for message in await consumer.fetch(self.batch, timeout=1.0):
                    await gate.acquire()
                    task = asyncio.create_task(self._handle(dependency, message))
                    running.add(task)
                    task.add_done_callback(done)
            if running:  # messages in hand are finished first
                await asyncio.wait(set(running))
        finally:
            for task in running:  # cancelled: what is unfinished is redelivered
                task.cancel()
        if failed:
            raise failed[0]

    async def _handle(self, dependency: str, message: Message) -> None:
        assert self.logic is not None
        try:
            event = _cloud_event(message.data)
        except ValueError as exc:
            await self._reject(dependency, message, str(exc))
            return
        try:
            decision = await self.logic.handle(
                dependency, event, redelivered=message.metadata.num_delivered > 1
            )
        except Exception:  # an event's failure must not stop the consumer: redeliver it
            self.counts["errors"] += 1
            log.exception(
                "%s: handling event %s failed; redelivering", self.where(), event.get("id")
            )
            await _quietly(message.nak(delay=min(60.0, 2.0 * message.metadata.num_delivered)))
            return
        await self._record(decision)
        self.counts["passed" if decision.passed else "filtered"] += 1
        await message.ack()

    async def _reject(self, dependency: str, message: Message, reason: str) -> None:
        self.counts["rejected"] += 1
        log.error("%s: dependency %s: rejected a message: %s", self.where(), dependency, reason)
        letter = DeadLetter(
            namespace=self.namespace,
            sensor=self.name,
            kind="event",
            reason=reason,
            at=self.clock.now().isoformat(),
            message=message.data[:65536].decode("utf-8", "replace"),
        )
        await self.dead_letters.add(letter)
        await self._record(
            Decision(self.namespace, self.name, dependency, {}, letter.at, False, error=reason)
        )
        await message.term()

    async def _record(self, decision: Decision) -> None:
        event_id = str(decision.event.get("id") or "-")
        subject = self.bus.log_subject(DECISIONS_LOG, self.namespace, self.name, event_id)
        try:
            await self.bus.append_log(subject, fastjson.dumps(decision.as_dict(), default=repr))
        except BusError as exc:  # a record is diagnostics: it does not hold the event back
            log.warning("%s: decision of %s not recorded: %s", self.where(), event_id, exc)

    async def _reset_on_schedule(self, trigger: str, cron: str, timezone: str | None) -> None:
        assert self.logic is not None
        zone = ZoneInfo(timezone) if timezone else None
        stopping = self.supervisor.stopping
        while not stopping.is_set():
            now = self.clock.now()
            base = now.astimezone(zone) if zone else now
            next_at: datetime = croniter(cron, base).get_next(datetime)
            delay = max(0.0, (next_at - base).total_seconds())
            if await until(stopping, self.clock.sleep(delay)):
                return
            await self.logic.reset(trigger)
            log.info("%s: trigger %s: pending dependencies reset (%s)", self.where(), trigger, cron)


def _cloud_event(data: bytes) -> dict[str, Any]:
    try:
        event = fastjson.loads(data)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    return check_event(event)


async def _quietly(call: Any) -> None:
    try:
        await call
    except BusError as exc:
        log.warning("bus: %s", exc)

"""Dead letters: firings that failed every retry, and events no sensor could read.

A trigger that fails after its ``retryStrategy`` goes to its ``dlqTrigger`` when it has one
(as in Argo); otherwise, and when the ``dlqTrigger`` fails too, a record lands here with the
events, the error and the firing's idempotency key, so ``sluice dlq redrive ID`` can fire the
same trigger with the same events later (the key keeps a workflow from running twice). A
message that is not a CloudEvent is recorded here too, with the reason, and terminated on the
bus. Records live in the JetStream key-value bucket ``sluice_deadletters``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from eventbus.base import Bus, KeyValue

__all__ = ["BUCKET", "DeadLetter", "DeadLetters"]

BUCKET = "sluice_deadletters"


@dataclass
class DeadLetter:
    namespace: str
    sensor: str
    kind: str  # "trigger": a failed firing; "event": a message that could not be read
    reason: str
    at: str
    trigger: str | None = None
    key: str | None = None
    events: dict[str, Any] = field(default_factory=dict)  # dependency -> CloudEvent
    message: str | None = None  # an unreadable message's bytes, as text
    attempts: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        what = f"trigger {self.trigger}" if self.kind == "trigger" else "unreadable event"
        return f"{self.id}  {self.namespace}/{self.sensor}  {what}  {self.at}  {self.reason}"


class DeadLetters:
    """The dead-letter records of every sensor, in one bucket keyed ``<namespace>.<id>``."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    @classmethod
    async def open(cls, bus: Bus) -> DeadLetters:
        return cls(await bus.kv(BUCKET))

    async def add(self, letter: DeadLetter) -> str:
        await self.kv.put(f"{letter.namespace}.{letter.id}", json.dumps(letter.as_dict()).encode())
        return letter.id

    async def list(
        self, namespace: str | None = None, sensor: str | None = None
    ) -> list[DeadLetter]:
        out = []
        for key in await self.kv.keys():
            if namespace is not None and not key.startswith(namespace + "."):
                continue
            letter = await self._load(key)
            if letter is not None and (sensor is None or letter.sensor == sensor):
                out.append(letter)
        return sorted(out, key=lambda d: d.at)

    async def get(self, namespace: str, letter_id: str) -> DeadLetter | None:
        return await self._load(f"{namespace}.{letter_id}")

    async def delete(self, namespace: str, letter_id: str) -> None:
        await self.kv.delete(f"{namespace}.{letter_id}")

    async def _load(self, key: str) -> DeadLetter | None:
        value = await self.kv.get(key)
        if not value:
            return None
        return DeadLetter(**json.loads(value))

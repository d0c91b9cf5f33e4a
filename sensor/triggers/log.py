"""The ``log`` trigger: write the events that fired it to the sensor's log.

As Argo's ``log.go``: each event is logged at INFO with its data as the message, its dependency
name and its context (the CloudEvent without ``data``). With ``intervalSeconds`` the trigger
logs at most once per interval and skips firings in between. (Argo builds a new trigger for
each firing, which resets its last-log time, so there the interval never applies; here it is
kept per sensor and trigger in ``TriggerContext.memory``, as the field intends.)
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sensor.triggers.base import Firing, Outcome, TriggerImpl, register
from sluice.core import fastjson

log = logging.getLogger(__name__)


def data_string(event: Any) -> str:
    """An event's data as text, as Argo's ``Event.DataString()``."""
    data = event.get("data") if isinstance(event, dict) else None
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    return fastjson.dumps_text(data)


@register("log")
class LogTrigger(TriggerImpl):
    async def resource(self) -> Any:
        spec = self.trigger.template.log
        return spec.to_yaml_dict() if spec is not None else {}

    async def fire(self, firing: Firing, resource: Any, payload: bytes | None = None) -> Outcome:
        interval = int((resource or {}).get("intervalSeconds") or 0)
        memory_key = f"log:{firing.namespace}/{firing.sensor}/{firing.trigger}"
        now = self.context.clock.now()
        last: datetime | None = self.context.memory.get(memory_key)
        if interval > 0 and last is not None and now <= last + timedelta(seconds=interval):
            return Outcome(f"not logged: logged less than {interval}s ago")
        for dependency in sorted(firing.events) if log.isEnabledFor(logging.INFO) else ():
            event = dict(firing.events[dependency])
            context = {k: v for k, v in event.items() if k not in ("data", "data_base64")}
            # built here rather than by log.info, which would walk the stack for the caller
            record = log.makeRecord(
                log.name,
                logging.INFO,
                __file__,
                0,  # no line number: that would take the stack walk this avoids
                "%s: dependency %s: event %s: %s",
                (firing.where(), dependency, event.get("id", ""), data_string(event)),
                None,
                "fire",
                {
                    "sensor": firing.sensor,
                    "trigger": firing.trigger,
                    "dependencyName": dependency,
                    "eventContext": context,
                },
            )
            log.handle(record)
        self.context.memory[memory_key] = now
        return Outcome(f"logged {len(firing.events)} event(s)")

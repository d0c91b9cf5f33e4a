"""The engine as the CronWorkflow scheduler's runtime, and keeping its crons in step with the
stored CronWorkflow resources (created, changed, suspended or deleted by any process)."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.cron import LABEL_CRON, CronScheduler
from engine.status import parse_time
from sluice.core.errors import NotFoundError, SluiceError

if TYPE_CHECKING:
    from engine.service import Engine

log = logging.getLogger(__name__)
STATE_KIND = "CronWorkflowState"


class EngineCronRuntime:
    """What CronScheduler needs, done by the engine and its store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def submit(self, manifest: dict[str, Any], *, labels: dict[str, str]) -> str:
        manifest.setdefault("metadata", {}).setdefault("labels", {}).update(labels)
        record = await self.engine.submit(manifest, where=f"cronworkflow {labels[LABEL_CRON]}")
        return record.name

    def _started(self, cron_name: str, namespace: str) -> list[dict[str, Any]]:
        return [
            wf
            for wf in self.engine.list_workflows(namespace)
            if (wf["metadata"].get("labels") or {}).get(LABEL_CRON) == cron_name
        ]

    def active(self, cron_name: str, namespace: str) -> list[str]:
        return [
            wf["metadata"]["name"]
            for wf in self._started(cron_name, namespace)
            if not wf["status"].get("finishedAt")
        ]

    async def stop(self, namespace: str, name: str) -> None:
        # concurrencyPolicy Replace: the running workflow is terminated
        with contextlib.suppress(SluiceError):
            await self.engine.terminate(namespace, name)

    def history(self, cron_name: str, namespace: str) -> list[tuple[str, str, datetime]]:
        out = []
        for wf in self._started(cron_name, namespace):
            finished = parse_time(wf["status"].get("finishedAt"))
            if finished is not None:
                out.append((wf["metadata"]["name"], str(wf["status"].get("phase")), finished))
        return out

    async def delete(self, namespace: str, name: str) -> None:
        with contextlib.suppress(NotFoundError):
            await self.engine.delete(namespace, name)

    def load_state(self, key: str) -> dict[str, Any] | None:
        namespace, _, name = key.partition("/")
        return self.engine.store.get_resource(STATE_KIND, namespace, name)

    def save_state(self, key: str, state: dict[str, Any]) -> None:
        namespace, _, name = key.partition("/")
        self.engine.store.put_resource(STATE_KIND, namespace, name, state)
        cron = self.engine.store.get_resource("CronWorkflow", namespace, name)
        if cron is not None:  # what `sluice cron get` shows, in Argo's status shape
            keys = ("active", "lastScheduledTime", "conditions", "succeeded", "failed", "phase")
            status = {k: state[k] for k in keys if k in state}
            if cron.get("status") != status:
                cron["status"] = status
                self.engine.store.put_resource("CronWorkflow", namespace, name, cron)


class CronController:
    """Runs the engine's CronWorkflows and follows changes to the stored resources."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.scheduler = CronScheduler(EngineCronRuntime(engine), engine.clock)
        self._seen: dict[tuple[str, str], Any] = {}

    def sync(self) -> None:
        """Add, update or remove crons to match the stored CronWorkflows."""
        current: dict[tuple[str, str], dict[str, Any]] = {}
        for cron in self.engine.templates.list("CronWorkflow"):
            meta = cron["metadata"]
            current[(meta.get("namespace", "default"), meta["name"])] = cron
        for key, cron in current.items():
            fingerprint = cron.get("spec")  # status writes do not count as changes
            if self._seen.get(key) == fingerprint:
                continue
            try:
                if key in self._seen:
                    self.scheduler.update(cron)
                else:
                    self.scheduler.add(cron)
            except SluiceError as exc:
                log.error("cronworkflow %s/%s: %s", key[0], key[1], exc)
                continue
            self._seen[key] = fingerprint
        for key in list(self._seen):
            if key not in current:
                self.scheduler.remove(*key)
                del self._seen[key]

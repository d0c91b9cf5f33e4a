"""Resources by kind, kept in the store and kept running: what ``apply``, ``get`` and ``delete`` do.

Every applied resource is checked by its component (``sluice.catalog``), stored in the
engine's resource table (so a restarted ``sluice up`` brings it back) and handed to the runtime
that runs its kind: EventSources to their supervised sources, CronWorkflows to the engine's
cron controller (which follows the store by itself). Applying an unchanged manifest changes
nothing and restarts nothing; a changed one restarts only that resource.

Workflows are runs, not configuration: applying one submits it. A Workflow that came from a
watched file is submitted once per content of its document (the engine's idempotency key), so
restarting ``sluice up`` over the same folder does not run it again.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from engine.service import Engine
from engine.status import fmt_time
from engine.templates import STORED_KINDS
from sluice.catalog import KINDS, Kind, check, find_kind, unknown_kind
from sluice.core.errors import NotFoundError, SpecError
from sluice.core.resources import RawResource
from sluice.core.stored import same_content, stamp

log = logging.getLogger(__name__)

DEFAULT_NAMESPACE = "default"
# which file a resource was loaded from by `sluice up`, so deleting the file deletes it
SOURCE_FILE = "sluice/source-file"


class Runtime(Protocol):
    """What runs the stored resources of one kind (EventSources, later Sensors)."""

    async def apply(self, manifest: dict[str, Any]) -> None:
        """Start the resource, or restart it with a changed manifest."""

    async def remove(self, namespace: str, name: str) -> None:
        """Stop the resource (nothing when it is not running)."""

    def status(self, namespace: str, name: str) -> dict[str, Any] | None:
        """What the resource is doing now, for ``sluice get``; None when not running."""

    async def close(self) -> None:
        """Stop everything."""


@dataclass(frozen=True)
class Applied:
    """The outcome of applying one document, as kubectl prints it."""

    kind: str
    namespace: str
    name: str
    action: str  # created | configured | unchanged | submitted

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "action": self.action,
        }

    def line(self) -> str:
        return f"{self.kind.lower()}.argoproj.io/{self.name} {self.action}"


def resolve_kind(text: str) -> Kind:
    kind = find_kind(text)
    if kind is None:
        raise NotFoundError(f'the server doesn\'t have a resource type "{text}"')
    return kind


class ResourceController:
    """The store's resources of every kind, and the runtimes that run them."""

    def __init__(self, engine: Engine, runtimes: dict[str, Runtime] | None = None) -> None:
        self.engine = engine
        self.store = engine.store
        self.runtimes: dict[str, Runtime] = dict(runtimes or {})

    # ---- reading -------------------------------------------------------------------------
    def list(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Resources of ``kind`` in ``namespace`` (every namespace when None), by name."""
        k = resolve_kind(kind)
        if k.name == "Workflow":
            return self.engine.list_workflows(namespace)
        items = self.store.list_resources(k.name, namespace if k.namespaced else "")
        return [self._with_status(k, item) for item in items]

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        k = resolve_kind(kind)
        if k.name == "Workflow":
            return self.engine.get(namespace or DEFAULT_NAMESPACE, name)
        found = self.store.get_resource(k.name, self._namespace(k, namespace), name)
        if found is None:
            raise NotFoundError(f'{k.plural}.argoproj.io "{name}" not found')
        return self._with_status(k, found)

    def _with_status(self, kind: Kind, item: dict[str, Any]) -> dict[str, Any]:
        runtime = self.runtimes.get(kind.name)
        if runtime is None:
            return item
        meta = item.get("metadata") or {}
        status = runtime.status(meta.get("namespace", ""), meta.get("name", ""))
        if status is not None:
            item = {**item, "status": status}
        return item

    # ---- changing ------------------------------------------------------------------------
    async def apply(
        self, manifest: dict[str, Any], where: str = "<input>", *, source_file: str | None = None
    ) -> Applied:
        """Check, store and run one resource; a SpecError lists every problem."""
        raw = RawResource(file=where, index=1, data=manifest, label=where)
        return await self.apply_document(raw, source_file=source_file)

    async def apply_document(self, raw: RawResource, *, source_file: str | None = None) -> Applied:
        data = copy.deepcopy(raw.data)
        kind = KINDS.get(raw.kind)
        if kind is None:
            raise SpecError([f"{raw.where()}: kind: {unknown_kind(raw.kind)}"])
        meta = data.get("metadata")
        if not isinstance(meta, dict):
            raise SpecError([f"{raw.where()}: metadata: expected a mapping"])
        if source_file is not None:
            meta.setdefault("annotations", {})[SOURCE_FILE] = source_file
        if kind.name == "Workflow":
            return await self._submit(data, raw.where(), source_file)
        if kind.name in STORED_KINDS:
            return self._store_engine_kind(kind, data, raw.where())
        problems = check(RawResource(raw.file, raw.index, data, raw.label))
        if problems:
            raise SpecError(problems)
        name = meta.get("name")
        if not name:
            raise SpecError([f"{raw.where()}: metadata.name: required field is missing"])
        namespace = self._namespace(kind, meta.get("namespace"))
        if kind.namespaced:
            meta["namespace"] = namespace
        existing = self.store.get_resource(kind.name, namespace, name)
        if existing is not None and same_content(existing, data):
            return Applied(kind.name, namespace, name, "unchanged")
        stamp(data, existing, fmt_time(self.engine.clock.now()) or "")
        self.store.put_resource(kind.name, namespace, name, data)
        runtime = self.runtimes.get(kind.name)
        if runtime is not None:
            await runtime.apply(self.store.get_resource(kind.name, namespace, name) or data)
        return Applied(kind.name, namespace, name, "configured" if existing else "created")

    def _store_engine_kind(self, kind: Kind, data: dict[str, Any], where: str) -> Applied:
        meta = data["metadata"]
        namespace = self._namespace(kind, meta.get("namespace"))
        before = self.store.get_resource(kind.name, namespace, str(meta.get("name") or ""))
        stored = self.engine.templates.create(data, where, kind=kind.name, upsert=True)
        name = stored["metadata"]["name"]
        if before is None:
            action = "created"
        elif stored["metadata"].get("generation") == before["metadata"].get("generation"):
            action = "unchanged"
        else:
            action = "configured"
        return Applied(kind.name, namespace, name, action)

    async def _submit(self, data: dict[str, Any], where: str, source_file: str | None) -> Applied:
        meta = data["metadata"]
        namespace = meta.get("namespace") or DEFAULT_NAMESPACE
        key = None
        if source_file is not None:
            content = json.dumps([source_file, data], sort_keys=True, default=str)
            key = "file:" + hashlib.sha256(content.encode()).hexdigest()
            found = self.store.find_by_key(key)
            if found is not None:
                return Applied("Workflow", found.namespace, found.name, "unchanged")
        elif meta.get("name") and self.store.get(namespace, meta["name"]) is not None:
            return Applied("Workflow", namespace, meta["name"], "unchanged")
        record = await self.engine.submit(data, where=where, idempotency_key=key)
        return Applied("Workflow", record.namespace, record.name, "submitted")

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        """Stop and forget one resource; NotFoundError when there is none."""
        k = resolve_kind(kind)
        if k.name == "Workflow":
            await self.engine.delete(namespace or DEFAULT_NAMESPACE, name)
            return
        ns = self._namespace(k, namespace)
        runtime = self.runtimes.get(k.name)
        if runtime is not None:
            await runtime.remove(ns, name)
        if not self.store.delete_resource(k.name, ns, name):
            raise NotFoundError(f'{k.plural}.argoproj.io "{name}" not found')

    # ---- running -------------------------------------------------------------------------
    async def start(self) -> None:
        """Hand every stored resource to its kind's runtime (after a restart, say)."""
        for kind_name, runtime in self.runtimes.items():
            for manifest in self.store.list_resources(kind_name):
                await runtime.apply(manifest)

    async def close(self) -> None:
        for runtime in self.runtimes.values():
            await runtime.close()

    @staticmethod
    def _namespace(kind: Kind, namespace: str | None) -> str:
        return (namespace or DEFAULT_NAMESPACE) if kind.namespaced else ""


__all__ = ["SOURCE_FILE", "Applied", "ResourceController", "Runtime", "resolve_kind"]

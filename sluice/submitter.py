"""The sensor's way to the workflow engine: in this process, or over a sluice server's API.

Both implement :class:`sensor.triggers.workflow.WorkflowSubmitter`, so the ``k8s`` and
``argoWorkflow`` triggers run the same against either. They raise sluice's own errors
(``SpecError``, ``NotFoundError``, ``ConflictError`` are permanent; ``TemporaryError`` and
anything else may pass on a retry), which the triggers turn into ``TriggerError``.

:class:`EngineSubmitter` calls the engine directly. ``Engine.submit`` answers the workflow
already stored under an idempotency key, so a known key is looked up first to tell a
duplicate apart; two submits racing with one key meet the store's unique key, and the loser
answers the winner's workflow. ``submit-from`` builds the Workflow as ``sluice submit --from``
does (``workflow_from_template`` / ``workflow_from_cron``).

:class:`RestSubmitter` speaks argo-server's routes as sluice serves them: ``POST
/api/v1/workflows/{ns}`` with sluice's ``idempotencyKey`` in the body, ``PUT
.../{name}/{verb}``. sluice's server has no argo-server ``POST .../submit`` route, so
``submit-from`` reads the stored template (``GET /api/v1/workflow-templates/...``) and posts the
Workflow built from it. The server answers a known idempotency key with the existing workflow
but does not say it was one, so over REST ``duplicate`` is always False.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp

from engine.service import Engine
from engine.submit import SubmitOptions
from engine.templates import stored_kind, workflow_from_cron, workflow_from_template
from sensor.triggers.workflow import ACTIONS, SubmitArgs
from sluice.api import RESOURCE_APIS
from sluice.core.errors import (
    ConflictError,
    NotFoundError,
    PermanentError,
    SpecError,
    TemporaryError,
)

WHERE = "<sensor trigger>"


def _labelled(
    manifest: dict[str, Any], labels: Mapping[str, str], annotations: Mapping[str, str] | None
) -> dict[str, Any]:
    wf = copy.deepcopy(manifest)
    meta = wf.setdefault("metadata", {})
    if labels:
        meta["labels"] = {**(meta.get("labels") or {}), **labels}
    if annotations:
        meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
    return wf


def _from_resource(kind: str, resource: dict[str, Any], name: str, now: datetime) -> dict[str, Any]:
    spec = stored_kind(kind)
    if spec is not None and spec.name == "CronWorkflow":
        return workflow_from_cron(resource, now)
    return workflow_from_template(name, cluster_scope=spec is not None and not spec.namespaced)


def _stored_kind(kind: str) -> str:
    spec = stored_kind(kind)
    if spec is None:
        raise SpecError([f"{WHERE}: cannot submit from a {kind}"])
    return spec.name


class EngineSubmitter:
    """Workflows submitted to, and controlled on, an engine in this process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def submit(
        self,
        manifest: dict[str, Any],
        *,
        idempotency_key: str,
        labels: dict[str, str],
        annotations: Mapping[str, str] | None = None,
        args: SubmitArgs | None = None,
    ) -> tuple[str, bool]:
        existing = self.engine.store.find_by_key(idempotency_key)
        if existing is not None:
            return existing.name, True
        wf = _labelled(manifest, labels, annotations)
        opts = SubmitOptions(
            parameters=dict(args.parameters) if args else {},
            entrypoint=args.entrypoint if args else None,
            generate_name=args.generate_name if args else None,
            name=args.name if args else None,
            service_account=args.service_account if args else None,
        )
        try:
            record = await self.engine.submit(
                wf, opts, where=WHERE, idempotency_key=idempotency_key
            )
        except ConflictError:
            winner = self.engine.store.find_by_key(idempotency_key)
            if winner is None:
                raise
            return winner.name, True
        return record.name, False

    async def submit_from(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        idempotency_key: str,
        labels: dict[str, str],
        annotations: Mapping[str, str] | None = None,
        args: SubmitArgs | None = None,
    ) -> tuple[str, bool]:
        existing = self.engine.store.find_by_key(idempotency_key)
        if existing is not None:
            return existing.name, True
        kind = _stored_kind(kind)
        resource = self.engine.templates.get(kind, namespace, name)
        wf = _from_resource(kind, resource, name, self.engine.clock.now())
        wf["metadata"]["namespace"] = namespace
        return await self.submit(
            wf, idempotency_key=idempotency_key, labels=labels, annotations=annotations, args=args
        )

    async def act(self, operation: str, namespace: str, name: str) -> str:
        engine = self.engine
        if operation == "retry":
            wf = await engine.retry(namespace, name)
            return str(wf["metadata"]["name"])
        if operation == "resubmit":
            wf = await engine.resubmit(namespace, name)
            return str(wf["metadata"]["name"])
        if operation not in ACTIONS:
            raise SpecError([f"{WHERE}: unknown operation {operation}"])
        await getattr(engine, operation)(namespace, name)
        return name


class RestSubmitter:
    """Workflows submitted to, and controlled on, a sluice server at ``base_url``."""

    def __init__(
        self, base_url: str, session: aiohttp.ClientSession | None = None, timeout: float = 30
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._owned = session is None
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        if self._owned and self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        url = self.base_url + path
        try:
            async with self._client().request(method, url, json=body, timeout=self.timeout) as r:
                if r.status < 400:
                    result: dict[str, Any] = await r.json()
                    return result
                text = await r.text()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise TemporaryError(f"{method} {url}: {exc or type(exc).__name__}") from exc
        try:
            message = str(json.loads(text).get("message") or text)
        except (json.JSONDecodeError, AttributeError):
            message = text
        if r.status == 400:
            raise SpecError(message.splitlines() or [message])
        if r.status == 404:
            raise NotFoundError(message)
        if r.status == 409:
            raise ConflictError(message)
        if r.status >= 500 or r.status in (408, 429):
            raise TemporaryError(f"{method} {url}: {r.status}: {message}")
        raise PermanentError(f"{method} {url}: {r.status}: {message}")

    async def submit(
        self,
        manifest: dict[str, Any],
        *,
        idempotency_key: str,
        labels: dict[str, str],
        annotations: Mapping[str, str] | None = None,
        args: SubmitArgs | None = None,
    ) -> tuple[str, bool]:
        wf = _labelled(manifest, labels, annotations)
        namespace = wf["metadata"].get("namespace") or "default"
        options: dict[str, Any] = {}
        if args is not None:
            options = {
                "parameters": dict(args.parameters),
                "entryPoint": args.entrypoint,
                "generateName": args.generate_name,
                "name": args.name,
                "serviceAccount": args.service_account,
            }
        body = {
            "namespace": namespace,
            "workflow": wf,
            "submitOptions": options,
            "source": WHERE,
            "idempotencyKey": idempotency_key,
        }
        created = await self._call("POST", f"/api/v1/workflows/{namespace}", body)
        return str(created["metadata"]["name"]), False

    async def submit_from(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        idempotency_key: str,
        labels: dict[str, str],
        annotations: Mapping[str, str] | None = None,
        args: SubmitArgs | None = None,
    ) -> tuple[str, bool]:
        kind = _stored_kind(kind)
        api = RESOURCE_APIS[kind]
        resource = await self._call("GET", api.url(namespace, name))
        wf = _from_resource(kind, resource, name, datetime.now(UTC))
        wf["metadata"]["namespace"] = namespace
        return await self.submit(
            wf, idempotency_key=idempotency_key, labels=labels, annotations=annotations, args=args
        )

    async def act(self, operation: str, namespace: str, name: str) -> str:
        if operation not in ACTIONS:
            raise SpecError([f"{WHERE}: unknown operation {operation}"])
        wf = await self._call("PUT", f"/api/v1/workflows/{namespace}/{name}/{operation}")
        return str((wf.get("metadata") or {}).get("name") or name)

"""Where the CLI's verbs go: a running sluice server, or an engine in this process.

The CLI uses the server at ``--server`` when one answers; otherwise it runs workflows
in-process against the same local store, so ``sluice submit --watch`` works without a server.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp

from engine.service import Engine
from engine.submit import SubmitOptions
from sluice.api import ARCHIVE_PATH, RESOURCE_APIS, SLUICE_PATH
from sluice.app import template_registry
from sluice.controller import ResourceController
from sluice.core.errors import ConflictError, NotFoundError, SluiceError, SpecError
from sluice.core.resources import RawResource
from sluice.logs import follow_logs

VERBS = ("resume", "suspend", "stop", "terminate")
RESOURCES_BASE = SLUICE_PATH
RESOURCES_PATH = RESOURCES_BASE + "/resources"
WORKFLOW_NEEDS_SERVER = "applying a Workflow needs a running `sluice up` (or use `sluice submit`)"
EVENTS_NEED_SERVER = "reading events needs a running `sluice up` (it holds the event bus)"
SENSORS_NEED_SERVER = "this needs a running `sluice up` (sensors and their records live there)"


class Backend(Protocol):
    local: bool

    async def submit(
        self, manifest: dict[str, Any], opts: SubmitOptions, where: str
    ) -> dict[str, Any]: ...

    async def list_workflows(self, namespace: str | None) -> list[dict[str, Any]]: ...

    async def get(self, namespace: str, name: str) -> dict[str, Any]: ...

    async def delete(self, namespace: str, name: str) -> None: ...

    async def act(self, namespace: str, name: str, verb: str) -> None: ...

    def watch(self, namespace: str, name: str) -> AsyncIterator[dict[str, Any]]: ...

    def logs(
        self, namespace: str, name: str, pod: str | None, follow: bool
    ) -> AsyncIterator[tuple[str, str]]: ...

    # stored WorkflowTemplates, ClusterWorkflowTemplates and CronWorkflows, by kind
    async def create_resource(
        self, kind: str, manifest: dict[str, Any], where: str
    ) -> dict[str, Any]: ...

    async def list_resources(self, kind: str, namespace: str) -> list[dict[str, Any]]: ...

    async def get_resource(self, kind: str, namespace: str, name: str) -> dict[str, Any]: ...

    async def delete_resource(self, kind: str, namespace: str, name: str) -> None: ...

    async def suspend_cron(self, namespace: str, name: str, suspend: bool) -> dict[str, Any]: ...

    # running a completed workflow again, and the archive of completed workflows
    async def retry(
        self, namespace: str, name: str, restart_successful: bool, node_field_selector: str | None
    ) -> dict[str, Any]: ...

    async def resubmit(self, namespace: str, name: str, memoized: bool) -> dict[str, Any]: ...

    async def list_archived(self, namespace: str | None) -> list[dict[str, Any]]: ...

    async def get_archived(self, uid: str) -> dict[str, Any]: ...

    async def delete_archived(self, uid: str) -> None: ...

    # resources of every kind (sluice up's apply, get, delete) and the event stream
    async def apply(self, documents: list[dict[str, Any]]) -> list[dict[str, Any]]: ...

    async def list_kind(self, kind: str, namespace: str | None) -> list[dict[str, Any]]: ...

    async def get_kind(self, kind: str, namespace: str, name: str) -> dict[str, Any]: ...

    async def delete_kind(self, kind: str, namespace: str, name: str) -> None: ...

    def events(
        self, namespace: str, source: str | None, follow: bool
    ) -> AsyncIterator[dict[str, Any]]: ...

    async def explain(self, event_id: str, namespace: str | None) -> list[dict[str, Any]]: ...

    async def dead_letters(self, namespace: str | None) -> list[dict[str, Any]]: ...

    async def dead_letter(self, namespace: str, letter_id: str) -> dict[str, Any]: ...

    async def redrive(self, namespace: str, letter_id: str) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class LocalBackend:
    """An engine in this process; workflows it submits run until they end or it closes."""

    local = True

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._started = False

    async def _start(self) -> None:
        if not self._started:
            self._started = True
            await self.engine.start()

    async def submit(
        self, manifest: dict[str, Any], opts: SubmitOptions, where: str
    ) -> dict[str, Any]:
        await self._start()
        return (await self.engine.submit(manifest, opts, where=where)).to_argo()

    async def list_workflows(self, namespace: str | None) -> list[dict[str, Any]]:
        return self.engine.list_workflows(namespace)

    async def get(self, namespace: str, name: str) -> dict[str, Any]:
        return self.engine.get(namespace, name)

    async def delete(self, namespace: str, name: str) -> None:
        await self.engine.delete(namespace, name)

    async def act(self, namespace: str, name: str, verb: str) -> None:
        await getattr(self.engine, verb)(namespace, name)

    async def watch(self, namespace: str, name: str) -> AsyncIterator[dict[str, Any]]:
        async for wf in self.engine.watch(namespace, name):
            yield wf

    async def logs(
        self, namespace: str, name: str, pod: str | None, follow: bool
    ) -> AsyncIterator[tuple[str, str]]:
        async for item in follow_logs(self.engine, namespace, name, pod, follow):
            yield item

    async def create_resource(
        self, kind: str, manifest: dict[str, Any], where: str
    ) -> dict[str, Any]:
        return template_registry(self.engine).create(manifest, where, kind=kind)

    async def list_resources(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        return template_registry(self.engine).list(kind, namespace)

    async def get_resource(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        return template_registry(self.engine).get(kind, namespace, name)

    async def delete_resource(self, kind: str, namespace: str, name: str) -> None:
        template_registry(self.engine).delete(kind, namespace, name)

    async def suspend_cron(self, namespace: str, name: str, suspend: bool) -> dict[str, Any]:
        return template_registry(self.engine).set_suspend(namespace, name, suspend)

    async def retry(
        self, namespace: str, name: str, restart_successful: bool, node_field_selector: str | None
    ) -> dict[str, Any]:
        await self._start()
        return await self.engine.retry(
            namespace,
            name,
            restart_successful=restart_successful,
            node_field_selector=node_field_selector,
        )

    async def resubmit(self, namespace: str, name: str, memoized: bool) -> dict[str, Any]:
        await self._start()
        return await self.engine.resubmit(namespace, name, memoized=memoized)

    async def list_archived(self, namespace: str | None) -> list[dict[str, Any]]:
        return self.engine.list_archived(namespace)

    async def get_archived(self, uid: str) -> dict[str, Any]:
        return self.engine.get_archived(uid)

    async def delete_archived(self, uid: str) -> None:
        self.engine.delete_archived(uid)

    # ---- resources of every kind, on the local store (no sources run here) ----------------
    async def apply(self, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        controller = ResourceController(self.engine)
        results: list[dict[str, Any]] = []
        for i, doc in enumerate(documents, start=1):
            raw = RawResource(doc["where"], i, doc["manifest"], label=doc["where"])
            if raw.kind == "Workflow":
                results.append({"problems": [f"{raw.where()}: {WORKFLOW_NEEDS_SERVER}"]})
                continue
            try:
                applied = await controller.apply_document(raw, source_file=doc.get("sourceFile"))
            except SpecError as exc:
                results.append({"problems": list(exc.problems)})
            except SluiceError as exc:
                results.append({"problems": [f"{raw.where()}: {exc}"]})
            else:
                results.append(applied.as_dict())
        return results

    async def list_kind(self, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        return ResourceController(self.engine).list(kind, namespace)

    async def get_kind(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        return ResourceController(self.engine).get(kind, namespace, name)

    async def delete_kind(self, kind: str, namespace: str, name: str) -> None:
        await ResourceController(self.engine).delete(kind, namespace, name)

    async def events(
        self, namespace: str, source: str | None, follow: bool
    ) -> AsyncIterator[dict[str, Any]]:
        raise SluiceError(EVENTS_NEED_SERVER)
        yield {}  # pragma: no cover - makes this an async generator

    async def explain(self, event_id: str, namespace: str | None) -> list[dict[str, Any]]:
        raise SluiceError(SENSORS_NEED_SERVER)

    async def dead_letters(self, namespace: str | None) -> list[dict[str, Any]]:
        raise SluiceError(SENSORS_NEED_SERVER)

    async def dead_letter(self, namespace: str, letter_id: str) -> dict[str, Any]:
        raise SluiceError(SENSORS_NEED_SERVER)

    async def redrive(self, namespace: str, letter_id: str) -> dict[str, Any]:
        raise SluiceError(SENSORS_NEED_SERVER)

    async def close(self) -> None:
        await self.engine.close()
        self.engine.store.close()


class RemoteBackend:
    """argo-server-shaped REST calls to a running sluice server."""

    local = False

    def __init__(self, server: str) -> None:
        self.server = server
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))

    def _url(self, namespace: str, name: str = "", suffix: str = "") -> str:
        url = f"{self.server}/api/v1/workflows/{namespace}"
        return url + (f"/{name}" if name else "") + (f"/{suffix}" if suffix else "")

    async def _json(self, resp: aiohttp.ClientResponse) -> Any:
        if resp.status >= 400:
            try:
                message = (await resp.json()).get("message", resp.reason)
            except (aiohttp.ContentTypeError, json.JSONDecodeError):
                message = await resp.text()
            error = {400: SpecError, 404: NotFoundError, 409: ConflictError}.get(resp.status)
            if error is SpecError:
                raise SpecError(str(message).splitlines())
            raise (error or SluiceError)(str(message))
        return await resp.json()

    async def submit(
        self, manifest: dict[str, Any], opts: SubmitOptions, where: str
    ) -> dict[str, Any]:
        namespace = (manifest.get("metadata") or {}).get("namespace") or "default"
        body = {
            "namespace": namespace,
            "workflow": manifest,
            "source": where,
            "submitOptions": {
                "parameters": opts.parameters,
                "entryPoint": opts.entrypoint,
                "generateName": opts.generate_name,
                "name": opts.name,
                "serviceAccount": opts.service_account,
            },
        }
        async with self.session.post(self._url(namespace), json=body) as resp:
            result: dict[str, Any] = await self._json(resp)
            return result

    async def list_workflows(self, namespace: str | None) -> list[dict[str, Any]]:
        async with self.session.get(self._url(namespace or "default")) as resp:
            return list((await self._json(resp)).get("items") or [])

    async def get(self, namespace: str, name: str) -> dict[str, Any]:
        async with self.session.get(self._url(namespace, name)) as resp:
            result: dict[str, Any] = await self._json(resp)
            return result

    async def delete(self, namespace: str, name: str) -> None:
        async with self.session.delete(self._url(namespace, name)) as resp:
            await self._json(resp)

    async def act(self, namespace: str, name: str, verb: str) -> None:
        async with self.session.put(self._url(namespace, name, verb)) as resp:
            await self._json(resp)

    async def watch(self, namespace: str, name: str) -> AsyncIterator[dict[str, Any]]:
        url = f"{self.server}/api/v1/workflow-events/{namespace}"
        params = {"listOptions.fieldSelector": f"metadata.name={name}"}
        async with self.session.get(url, params=params) as resp:
            if resp.status >= 400:
                await self._json(resp)
            async for raw in resp.content:
                line = raw.decode().strip()
                if line.startswith("data:"):
                    yield json.loads(line[5:])["result"]["object"]

    async def logs(
        self, namespace: str, name: str, pod: str | None, follow: bool
    ) -> AsyncIterator[tuple[str, str]]:
        params = {"logOptions.follow": "true" if follow else "false"}
        if pod:
            params["podName"] = pod
        async with self.session.get(self._url(namespace, name, "log"), params=params) as resp:
            if resp.status >= 400:
                await self._json(resp)
            async for raw in resp.content:
                if raw.strip():
                    result = json.loads(raw)["result"]
                    yield result["podName"], result["content"]

    async def create_resource(
        self, kind: str, manifest: dict[str, Any], where: str
    ) -> dict[str, Any]:
        api = RESOURCE_APIS[kind]
        namespace = (manifest.get("metadata") or {}).get("namespace") or "default"
        body = {"namespace": namespace, api.body_key: manifest, "source": where}
        async with self.session.post(self.server + api.url(namespace), json=body) as resp:
            result: dict[str, Any] = await self._json(resp)
            return result

    async def list_resources(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        url = self.server + RESOURCE_APIS[kind].url(namespace)
        async with self.session.get(url) as resp:
            return list((await self._json(resp)).get("items") or [])

    async def get_resource(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        url = self.server + RESOURCE_APIS[kind].url(namespace, name)
        async with self.session.get(url) as resp:
            result: dict[str, Any] = await self._json(resp)
            return result

    async def delete_resource(self, kind: str, namespace: str, name: str) -> None:
        url = self.server + RESOURCE_APIS[kind].url(namespace, name)
        async with self.session.delete(url) as resp:
            await self._json(resp)

    async def suspend_cron(self, namespace: str, name: str, suspend: bool) -> dict[str, Any]:
        action = "suspend" if suspend else "resume"
        url = self.server + RESOURCE_APIS["CronWorkflow"].url(namespace, name, action)
        async with self.session.put(url) as resp:
            result: dict[str, Any] = await self._json(resp)
            return result

    async def retry(
        self, namespace: str, name: str, restart_successful: bool, node_field_selector: str | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"restartSuccessful": restart_successful}
        if node_field_selector:
            body["nodeFieldSelector"] = node_field_selector
        async with self.session.put(self._url(namespace, name, "retry"), json=body) as resp:
            result: dict[str, Any] = await self._json(resp)
            return result

    async def resubmit(self, namespace: str, name: str, memoized: bool) -> dict[str, Any]:
        body = {"memoized": memoized}
        async with self.session.put(self._url(namespace, name, "resubmit"), json=body) as resp:
            result: dict[str, Any] = await self._json(resp)
            return result

    async def list_archived(self, namespace: str | None) -> list[dict[str, Any]]:
        params = (
            {"listOptions.fieldSelector": f"metadata.namespace={namespace}"} if namespace else {}
        )
        async with self.session.get(self.server + ARCHIVE_PATH, params=params) as resp:
            return list((await self._json(resp)).get("items") or [])

    async def get_archived(self, uid: str) -> dict[str, Any]:
        async with self.session.get(f"{self.server}{ARCHIVE_PATH}/{uid}") as resp:
            result: dict[str, Any] = await self._json(resp)
            return result

    async def delete_archived(self, uid: str) -> None:
        async with self.session.delete(f"{self.server}{ARCHIVE_PATH}/{uid}") as resp:
            await self._json(resp)

    # ---- resources of every kind, and the event stream ------------------------------------
    def _kind_url(self, kind: str, name: str = "") -> str:
        return f"{self.server}{RESOURCES_PATH}/{quote(kind)}" + (f"/{quote(name)}" if name else "")

    async def apply(self, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        url = f"{self.server}{RESOURCES_BASE}/apply"
        async with self.session.post(url, json={"documents": documents}) as resp:
            return list((await self._json(resp)).get("results") or [])

    async def list_kind(self, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        params = {"namespace": namespace} if namespace else {}
        async with self.session.get(self._kind_url(kind), params=params) as resp:
            return list((await self._json(resp)).get("items") or [])

    async def get_kind(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        params = {"namespace": namespace}
        async with self.session.get(self._kind_url(kind, name), params=params) as resp:
            result: dict[str, Any] = await self._json(resp)
            return result

    async def delete_kind(self, kind: str, namespace: str, name: str) -> None:
        params = {"namespace": namespace}
        async with self.session.delete(self._kind_url(kind, name), params=params) as resp:
            await self._json(resp)

    async def events(
        self, namespace: str, source: str | None, follow: bool
    ) -> AsyncIterator[dict[str, Any]]:
        params = {"follow": "true" if follow else "false", **({"source": source} if source else {})}
        url = f"{self.server}{RESOURCES_BASE}/events/{quote(namespace)}"
        async with self.session.get(url, params=params) as resp:
            if resp.status == 404:
                raise SluiceError(EVENTS_NEED_SERVER)
            if resp.status >= 400:
                await self._json(resp)
            async for line in resp.content:
                if line.strip():
                    yield json.loads(line)

    # ---- sensors: decisions and dead letters ------------------------------------------------
    async def _sensors(self, method: str, path: str, params: dict[str, str] | None = None) -> Any:
        url = f"{self.server}{RESOURCES_BASE}/{path}"
        async with self.session.request(method, url, params=params or {}) as resp:
            if resp.status == 404 and resp.content_type != "application/json":
                raise SluiceError(SENSORS_NEED_SERVER)  # a server without sensors
            return await self._json(resp)

    async def explain(self, event_id: str, namespace: str | None) -> list[dict[str, Any]]:
        params = {"namespace": namespace} if namespace else None
        found = await self._sensors("GET", f"explain/{quote(event_id)}", params)
        return list(found.get("decisions") or [])

    async def dead_letters(self, namespace: str | None) -> list[dict[str, Any]]:
        params = {"namespace": namespace} if namespace else None
        return list((await self._sensors("GET", "deadletters", params)).get("items") or [])

    async def dead_letter(self, namespace: str, letter_id: str) -> dict[str, Any]:
        path = f"deadletters/{quote(namespace)}/{quote(letter_id)}"
        result: dict[str, Any] = await self._sensors("GET", path)
        return result

    async def redrive(self, namespace: str, letter_id: str) -> dict[str, Any]:
        path = f"deadletters/{quote(namespace)}/{quote(letter_id)}/redrive"
        result: dict[str, Any] = await self._sensors("POST", path)
        return result

    async def close(self) -> None:
        await self.session.close()


async def server_answers(server: str, timeout: float = 0.5) -> bool:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(f"{server}/api/v1/version") as resp,
        ):
            return resp.status == 200
    except (aiohttp.ClientError, TimeoutError, OSError):
        return False

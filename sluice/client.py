"""Where the CLI's verbs go: a running sluice server, or an engine in this process.

The CLI uses the server at ``--server`` when one answers; otherwise it runs workflows
in-process against the same local store, so ``sluice submit --watch`` works without a server.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

import aiohttp

from engine.service import Engine
from engine.submit import SubmitOptions
from sluice.core.errors import ConflictError, NotFoundError, SluiceError, SpecError
from sluice.logs import follow_logs

VERBS = ("resume", "suspend", "stop", "terminate")


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

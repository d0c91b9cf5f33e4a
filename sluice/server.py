"""The API server: argo-server's REST shape over the engine, with live updates as SSE.

Routes follow argo-server's ``/api/v1/workflows/{namespace}[/{name}[/log]]``, so tools that
speak to argo-server can speak to sluice; stored WorkflowTemplates, ClusterWorkflowTemplates and
CronWorkflows have argo-server's routes too (see ``sluice.api``), and so has the archive of
completed workflows (``/api/v1/archived-workflows[/{uid}]``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from engine.service import Engine
from engine.submit import SubmitOptions
from engine.templates import TemplateRegistry
from sluice import __version__
from sluice.api import ARCHIVE_PATH, RESOURCE_APIS, ResourceApi
from sluice.app import template_registry
from sluice.core.errors import ConflictError, NotFoundError, SpecError
from sluice.logs import follow_logs

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ENGINE: web.AppKey[Engine] = web.AppKey("engine", Engine)


def _error(status: int, message: str) -> web.Response:
    # argo-server answers errors as gRPC-gateway does: {"code", "message"}
    return web.json_response({"code": status, "message": message}, status=status)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except SpecError as exc:
        return _error(400, str(exc))
    except NotFoundError as exc:
        return _error(404, str(exc))
    except ConflictError as exc:
        return _error(409, str(exc))
    except json.JSONDecodeError as exc:
        return _error(400, f"invalid JSON body: {exc}")


def _engine(request: web.Request) -> Engine:
    return request.app[ENGINE]


async def version(request: web.Request) -> web.Response:
    return web.json_response({"version": __version__, "platform": "sluice"})


async def list_workflows(request: web.Request) -> web.Response:
    items = _engine(request).list_workflows(request.match_info["namespace"])
    return web.json_response({"metadata": {}, "items": items})


async def create_workflow(request: web.Request) -> web.Response:
    body = await request.json()
    if not isinstance(body, dict) or not isinstance(body.get("workflow"), dict):
        raise SpecError(['request body: expected {"workflow": {...}}'])
    manifest = body["workflow"]
    manifest.setdefault("metadata", {}).setdefault("namespace", request.match_info["namespace"])
    opts = body.get("submitOptions") or {}
    record = await _engine(request).submit(
        manifest,
        SubmitOptions(
            parameters=dict(opts.get("parameters") or {}),
            entrypoint=opts.get("entryPoint"),
            generate_name=opts.get("generateName"),
            name=opts.get("name"),
            service_account=opts.get("serviceAccount"),
        ),
        where=str(body.get("source") or "<request>"),
        idempotency_key=body.get("idempotencyKey"),
    )
    return web.json_response(record.to_argo())


async def get_workflow(request: web.Request) -> web.Response:
    m = request.match_info
    return web.json_response(_engine(request).get(m["namespace"], m["name"]))


async def delete_workflow(request: web.Request) -> web.Response:
    m = request.match_info
    await _engine(request).delete(m["namespace"], m["name"])
    return web.json_response({})


async def act(request: web.Request) -> web.Response:
    m = request.match_info
    engine = _engine(request)
    verbs: dict[str, Callable[[str, str], Awaitable[None]]] = {
        "resume": engine.resume,
        "suspend": engine.suspend,
        "stop": engine.stop,
        "terminate": engine.terminate,
    }
    verb = verbs.get(m["verb"])
    if verb is None:
        return _error(404, f"unknown action {m['verb']}")
    await verb(m["namespace"], m["name"])
    return web.json_response(engine.get(m["namespace"], m["name"]))


async def _options(request: web.Request, types: dict[str, type]) -> dict[str, Any]:
    """An optional JSON body of options, e.g. ``{"memoized": true}``: absent is ``{}``; a known
    key of the wrong type is a 400. Other keys (argo clients repeat name and namespace) pass."""
    body = await request.json() if request.can_read_body else {}
    if not isinstance(body, dict):
        raise SpecError(["request body: expected a JSON object"])
    for key, kind in types.items():
        if body.get(key) is not None and not isinstance(body[key], kind):
            raise SpecError([f"request body: {key}: expected a {kind.__name__}"])
    return body


async def retry_workflow(request: web.Request) -> web.Response:
    """Argo's RetryWorkflow: body ``{"restartSuccessful": bool, "nodeFieldSelector": str}``."""
    m = request.match_info
    body = await _options(request, {"restartSuccessful": bool, "nodeFieldSelector": str})
    wf = await _engine(request).retry(
        m["namespace"],
        m["name"],
        restart_successful=bool(body.get("restartSuccessful")),
        node_field_selector=body.get("nodeFieldSelector") or None,
    )
    return web.json_response(wf)


async def resubmit_workflow(request: web.Request) -> web.Response:
    """Argo's ResubmitWorkflow: body ``{"memoized": bool}``; answers the new workflow."""
    m = request.match_info
    body = await _options(request, {"memoized": bool})
    memoized = bool(body.get("memoized"))
    return web.json_response(
        await _engine(request).resubmit(m["namespace"], m["name"], memoized=memoized)
    )


async def workflow_events(request: web.Request) -> web.StreamResponse:
    """SSE: ``data: {"result": {"type": "MODIFIED", "object": WORKFLOW}}`` per change."""
    namespace = request.match_info["namespace"]
    selector = request.query.get("listOptions.fieldSelector", "")
    name = selector.removeprefix("metadata.name=") if selector.startswith("metadata.name=") else ""
    if not name:
        return _error(400, "listOptions.fieldSelector=metadata.name=NAME is required")
    engine = _engine(request)
    engine.get(namespace, name)
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    async for wf in engine.watch(namespace, name):
        event = {"result": {"type": "MODIFIED", "object": wf}}
        await resp.write(f"data: {json.dumps(event)}\n\n".encode())
    await resp.write_eof()
    return resp


async def workflow_logs(request: web.Request) -> web.StreamResponse:
    """Newline-delimited ``{"result": {"content": LINE, "podName": POD}}`` as argo-server."""
    m = request.match_info
    engine = _engine(request)
    engine.get(m["namespace"], m["name"])
    follow = request.query.get("logOptions.follow") == "true"
    pod = request.query.get("podName") or None
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    async for pod_name, line in follow_logs(engine, m["namespace"], m["name"], pod, follow):
        event = {"result": {"content": line, "podName": pod_name}}
        await resp.write((json.dumps(event) + "\n").encode())
    await resp.write_eof()
    return resp


async def lint(request: web.Request) -> web.Response:
    from engine.service import validate_workflow

    body = await request.json()
    validate_workflow(body.get("workflow") or {}, "<request>")
    return web.json_response(body.get("workflow") or {})


def _archive_namespace(request: web.Request) -> str | None:
    """The namespace of ``listOptions.fieldSelector=metadata.namespace=NS`` (argo's CLI sends it),
    or of ``namespace=NS`` (newer argo clients); neither lists every namespace."""
    namespace = request.query.get("namespace") or None
    selector = request.query.get("listOptions.fieldSelector", "")
    for term in filter(None, (t.strip() for t in selector.split(","))):
        key, op, value = term.partition("==") if "==" in term else term.partition("=")
        if key.strip() != "metadata.namespace" or not op:
            raise SpecError([f"listOptions.fieldSelector: unsupported '{term}'; only"
                             " metadata.namespace=NS is supported"])  # fmt: skip
        namespace = value.strip() or None
    return namespace


async def list_archived(request: web.Request) -> web.Response:
    items = _engine(request).list_archived(_archive_namespace(request))
    return web.json_response({"metadata": {}, "items": items})


async def get_archived(request: web.Request) -> web.Response:
    return web.json_response(_engine(request).get_archived(request.match_info["uid"]))


async def delete_archived(request: web.Request) -> web.Response:
    _engine(request).delete_archived(request.match_info["uid"])
    return web.json_response({})


def _registry(request: web.Request) -> TemplateRegistry:
    return template_registry(request.app[ENGINE])


def resource_routes(api: ResourceApi) -> list[web.RouteDef]:
    """List, create, get and delete one stored kind; suspend and resume for CronWorkflows."""
    base = api.url("{namespace}")  # the route pattern; cluster-scoped kinds have no namespace

    def key(request: web.Request) -> tuple[str, str]:
        return request.match_info.get("namespace", ""), request.match_info["name"]

    async def list_(request: web.Request) -> web.Response:
        items = _registry(request).list(api.kind, request.match_info.get("namespace", ""))
        return web.json_response({"metadata": {}, "items": items})

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        if not isinstance(body, dict) or not isinstance(body.get(api.body_key), dict):
            raise SpecError([f'request body: expected {{"{api.body_key}": {{...}}}}'])
        manifest = body[api.body_key]
        meta = manifest.setdefault("metadata", {})
        if api.namespaced and isinstance(meta, dict):
            meta.setdefault("namespace", request.match_info["namespace"])
        where = str(body.get("source") or "<request>")
        return web.json_response(_registry(request).create(manifest, where, kind=api.kind))

    async def get(request: web.Request) -> web.Response:
        return web.json_response(_registry(request).get(api.kind, *key(request)))

    async def delete(request: web.Request) -> web.Response:
        _registry(request).delete(api.kind, *key(request))
        return web.json_response({})

    routes = [
        web.get(base, list_),
        web.post(base, create),
        web.get(base + "/{name}", get),
        web.delete(base + "/{name}", delete),
    ]
    if api.kind == "CronWorkflow":

        async def suspend(request: web.Request) -> web.Response:
            on = request.match_info["action"] == "suspend"
            return web.json_response(_registry(request).set_suspend(*key(request), on))

        routes.append(web.put(base + "/{name}/{action:suspend|resume}", suspend))
    return routes


def make_app(engine: Engine) -> web.Application:
    app = web.Application(middlewares=[errors])
    app[ENGINE] = engine
    base = "/api/v1/workflows/{namespace}"
    app.router.add_get("/api/v1/version", version)
    app.router.add_get(base, list_workflows)
    app.router.add_post(base, create_workflow)
    app.router.add_post(base + "/lint", lint)
    app.router.add_get(base + "/{name}", get_workflow)
    app.router.add_delete(base + "/{name}", delete_workflow)
    # before the generic /{verb} route, which would otherwise take these
    app.router.add_put(base + "/{name}/retry", retry_workflow)
    app.router.add_put(base + "/{name}/resubmit", resubmit_workflow)
    app.router.add_put(base + "/{name}/{verb}", act)
    app.router.add_get(base + "/{name}/log", workflow_logs)
    app.router.add_get("/api/v1/workflow-events/{namespace}", workflow_events)
    app.router.add_get(ARCHIVE_PATH, list_archived)
    app.router.add_get(ARCHIVE_PATH + "/{uid}", get_archived)
    app.router.add_delete(ARCHIVE_PATH + "/{uid}", delete_archived)
    for api in RESOURCE_APIS.values():
        app.router.add_routes(resource_routes(api))
    return app


async def serve(engine: Engine, host: str, port: int, ready: Path | None = None) -> None:
    """Run the engine and the API server until cancelled."""
    await engine.start(cron=True)
    runner = web.AppRunner(make_app(engine))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    if ready is not None:
        ready.write_text(str(port))
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await engine.close()

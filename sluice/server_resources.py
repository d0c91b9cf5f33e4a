"""The API of ``sluice up`` for resources of every kind, and for reading the event stream.

``apply``/``get``/``delete`` of the CLI go to ``/api/v1/sluice/...``: one apply call takes
every document of the files given, each with the label its errors should carry. EventSources
and Sensors also have argo-server's own routes (``/api/v1/event-sources/{namespace}``,
``/api/v1/sensors/{namespace}``), so clients of argo-server's EventSourceService and
SensorService work unchanged. ``/api/v1/sluice/events/{namespace}`` streams the stored
CloudEvents as NDJSON, oldest first, and with ``follow=true`` the new ones as they arrive.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from eventbus.base import Bus
from eventbus.subjects import escape_token, namespace_subjects
from sluice.api import SLUICE_PATH
from sluice.controller import ResourceController
from sluice.core.errors import SluiceError, SpecError
from sluice.core.resources import RawResource
from sluice.sensors import SensorRuntime

CONTROLLER: web.AppKey[ResourceController] = web.AppKey("controller", ResourceController)
BUS: web.AppKey[Bus] = web.AppKey("bus", Bus)
SENSORS: web.AppKey[SensorRuntime] = web.AppKey("sensors", SensorRuntime)
BASE = SLUICE_PATH

# argo-server's routes for the Argo Events kinds, and the key a request wraps the manifest in
ARGO_ROUTES = {"EventSource": ("event-sources", "eventSource"), "Sensor": ("sensors", "sensor")}


def _controller(request: web.Request) -> ResourceController:
    return request.app[CONTROLLER]


def _namespace(request: web.Request) -> str:
    return request.match_info.get("namespace") or request.query.get("namespace", "")


async def apply(request: web.Request) -> web.Response:
    """``{"documents": [{"manifest": {...}, "where": "FILE: document N"}]}`` → one result each."""
    body = await request.json()
    docs = body.get("documents") if isinstance(body, dict) else None
    if not isinstance(docs, list):
        raise SpecError(['request body: expected {"documents": [{"manifest": {...}}]}'])
    results: list[dict[str, Any]] = []
    for i, doc in enumerate(docs, start=1):
        manifest = doc.get("manifest") if isinstance(doc, dict) else None
        where = str((doc or {}).get("where") or f"<request>: document {i}")
        if not isinstance(manifest, dict):
            results.append({"problems": [f"{where}: expected a mapping"]})
            continue
        source_file = doc.get("sourceFile")
        raw = RawResource(file=where, index=i, data=manifest, label=where)
        try:
            applied = await _controller(request).apply_document(raw, source_file=source_file)
        except SpecError as exc:
            results.append({"problems": list(exc.problems)})
        except SluiceError as exc:
            results.append({"problems": [f"{where}: {exc}"]})
        else:
            results.append(applied.as_dict())
    return web.json_response({"results": results})


async def list_resources(request: web.Request) -> web.Response:
    items = _controller(request).list(request.match_info["kind"], _namespace(request) or None)
    return web.json_response({"metadata": {}, "items": items})


async def get_resource(request: web.Request) -> web.Response:
    kind, name = request.match_info["kind"], request.match_info["name"]
    return web.json_response(_controller(request).get(kind, _namespace(request), name))


async def delete_resource(request: web.Request) -> web.Response:
    kind, name = request.match_info["kind"], request.match_info["name"]
    await _controller(request).delete(kind, _namespace(request), name)
    return web.json_response({})


async def events(request: web.Request) -> web.StreamResponse:
    """NDJSON of the namespace's stored events, optionally of one EventSource."""
    namespace = request.match_info["namespace"]
    subject = namespace_subjects(namespace)
    source = request.query.get("source")
    if source:
        subject = subject.removesuffix(">") + escape_token(source) + ".>"
    follow = request.query.get("follow", "").lower() in ("1", "true", "yes")
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    async for msg in request.app[BUS].read(subject, follow=follow):
        try:
            event = json.loads(msg.data)
        except ValueError:
            event = {"data_base64": msg.data.hex()}
        line = {"seq": msg.metadata.stream_seq, "subject": msg.subject, "event": event}
        await response.write(json.dumps(line).encode() + b"\n")
    await response.write_eof()
    return response


def argo_routes(kind: str) -> list[web.RouteDef]:
    """argo-server's create/list/get/update/delete for EventSources or Sensors."""
    path, body_key = ARGO_ROUTES[kind]
    base = f"/api/v1/{path}/{{namespace}}"

    async def list_(request: web.Request) -> web.Response:
        items = _controller(request).list(kind, request.match_info["namespace"])
        return web.json_response({"metadata": {}, "items": items})

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        manifest = body.get(body_key) if isinstance(body, dict) else None
        if not isinstance(manifest, dict):
            raise SpecError([f'request body: expected {{"{body_key}": {{...}}}}'])
        manifest.setdefault("apiVersion", "argoproj.io/v1alpha1")
        manifest.setdefault("kind", kind)
        meta = manifest.setdefault("metadata", {})
        namespace = request.match_info["namespace"]
        if isinstance(meta, dict):
            meta.setdefault("namespace", namespace)
            if request.match_info.get("name"):
                meta.setdefault("name", request.match_info["name"])
        applied = await _controller(request).apply(manifest, f"<request> ({kind})")
        return web.json_response(_controller(request).get(kind, namespace, applied.name))

    async def get(request: web.Request) -> web.Response:
        ns, name = request.match_info["namespace"], request.match_info["name"]
        return web.json_response(_controller(request).get(kind, ns, name))

    async def delete(request: web.Request) -> web.Response:
        ns, name = request.match_info["namespace"], request.match_info["name"]
        await _controller(request).delete(kind, ns, name)
        return web.json_response({})

    return [
        web.get(base, list_),
        web.post(base, create),
        web.get(base + "/{name}", get),
        web.put(base + "/{name}", create),
        web.delete(base + "/{name}", delete),
    ]


async def explain(request: web.Request) -> web.Response:
    """The decisions recorded for one event: ``{"decisions": [...]}``."""
    namespace = request.query.get("namespace") or None
    found = await request.app[SENSORS].explain(request.match_info["event_id"], namespace)
    return web.json_response({"decisions": found})


async def dlq_list(request: web.Request) -> web.Response:
    letters = await request.app[SENSORS].dlq_list(request.query.get("namespace") or None)
    return web.json_response({"items": [letter.as_dict() for letter in letters]})


async def dlq_get(request: web.Request) -> web.Response:
    letter = await request.app[SENSORS].dlq_get(
        request.match_info["namespace"], request.match_info["id"]
    )
    return web.json_response(letter.as_dict())


async def dlq_redrive(request: web.Request) -> web.Response:
    result = await request.app[SENSORS].redrive(
        request.match_info["namespace"], request.match_info["id"]
    )
    return web.json_response(result)


def add_routes(
    app: web.Application,
    controller: ResourceController,
    bus: Bus | None,
    sensors: SensorRuntime | None = None,
) -> None:
    """The resource routes (and, with a bus, the event stream; with sensors, explain and the
    dead letters) on ``app``."""
    app[CONTROLLER] = controller
    app.router.add_post(BASE + "/apply", apply)
    app.router.add_get(BASE + "/resources/{kind}", list_resources)
    app.router.add_get(BASE + "/resources/{kind}/{name}", get_resource)
    app.router.add_delete(BASE + "/resources/{kind}/{name}", delete_resource)
    for kind in ARGO_ROUTES:
        app.router.add_routes(argo_routes(kind))
    if bus is not None:
        app[BUS] = bus
        app.router.add_get(BASE + "/events/{namespace}", events)
    if sensors is not None:
        app[SENSORS] = sensors
        app.router.add_get(BASE + "/explain/{event_id}", explain)
        app.router.add_get(BASE + "/deadletters", dlq_list)
        app.router.add_get(BASE + "/deadletters/{namespace}/{id}", dlq_get)
        app.router.add_post(BASE + "/deadletters/{namespace}/{id}/redrive", dlq_redrive)


__all__ = ["BASE", "add_routes"]

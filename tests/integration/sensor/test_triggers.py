"""Triggers against real servers: an aiohttp server on loopback, nats-server, the engine.

The http trigger's request is checked as the server received it (method, headers, secure
headers, basic auth, body); its timeout and status policy against a server that is slow or
answers an error. The nats trigger publishes to the session's nats-server and a subscriber
reads it. The workflow triggers submit through ``EngineSubmitter`` to an engine in this process
and through ``RestSubmitter`` to a sluice API server in front of one.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import pytest
import yaml
from aiohttp import web

from engine.service import Engine
from sensor.models import Trigger
from sensor.triggers import Firing, NatsConnections, Outcome, TriggerContext, TriggerError, build
from sensor.triggers.workflow import ANNOTATION_EVENT_IDS, LABEL_SENSOR
from sluice.core.objects import LocalObjects
from sluice.server import make_app
from sluice.submitter import EngineSubmitter, RestSubmitter


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    url: str
    received: list[Received] = field(default_factory=list)


GATE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: gate-}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: wait, template: gate}
  - name: gate
    suspend: {}
"""


def firing(key: str = "sensor-key-1", **events: dict[str, Any]) -> Firing:
    return Firing(
        namespace="default",
        sensor="s",
        trigger="t",
        events=events or {"dep": {"id": "event-1", "data": {"body": {"x": 1}}}},
        idempotency_key=key,
    )


async def run(
    spec: dict[str, Any],
    context: TriggerContext,
    payload: bytes | None = None,
    *,
    fired: Firing | None = None,
    **trigger_fields: Any,
) -> Outcome:
    """One firing as the sensor runs it: build, resource, (parameters), fire."""
    trigger = Trigger.model_validate({"template": {"name": "t", **spec}, **trigger_fields})
    impl = build(trigger, context)
    return await impl.fire(fired or firing(), await impl.resource(), payload)


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """``app`` on a free loopback port, until the block ends."""
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    release = asyncio.Event()
    received: list[Received] = []

    async def record(request: web.Request) -> web.Response:
        received.append(
            Received(request.method, request.path, dict(request.headers), await request.read())
        )
        return web.Response(status=int(request.query.get("status", "200")), text="ok")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.wait_for(release.wait(), 10)
        return web.Response(text="late")

    async def workflow(request: web.Request) -> web.Response:
        return web.Response(text=GATE)

    app = web.Application()
    app.router.add_route("*", "/hook", record)
    app.router.add_get("/slow", slow)
    app.router.add_get("/wf.yaml", workflow)
    async with serve(app) as url:
        yield Server(url, received)
        release.set()


@pytest.fixture
def objects(tmp_path: Path) -> LocalObjects:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "configmaps" / "settings").mkdir(parents=True)
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in
               {"user": "alice", "password": "pa55", "token": "t0ken"}.items()}  # fmt: skip
    (tmp_path / "secrets" / "api.yaml").write_text(yaml.safe_dump({"data": encoded}))
    (tmp_path / "configmaps" / "settings" / "tenant").write_text("acme")
    return LocalObjects(tmp_path)


# ---- http -------------------------------------------------------------------------------------
async def test_http_request_carries_method_headers_auth_and_payload(
    server: Server, objects: LocalObjects
) -> None:
    spec = {
        "http": {
            "url": f"{server.url}/hook",
            "method": "put",
            "headers": {"Content-Type": "application/json", "X-Plain": "1"},
            "secureHeaders": [
                {"name": "X-Token", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
                {
                    "name": "X-Tenant",
                    "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "tenant"}},
                },
            ],
            "basicAuth": {
                "username": {"name": "api", "key": "user"},
                "password": {"name": "api", "key": "password"},
            },
        }
    }
    outcome = await run(spec, TriggerContext(objects=objects), b'{"x":1}')
    assert outcome.detail == f"PUT {server.url}/hook: 200"
    [got] = server.received
    assert (got.method, got.body) == ("PUT", b'{"x":1}')
    assert got.headers["Content-Type"] == "application/json"
    assert (got.headers["X-Plain"], got.headers["X-Token"]) == ("1", "t0ken")
    assert got.headers["X-Tenant"] == "acme"
    assert got.headers["Authorization"] == "Basic " + base64.b64encode(b"alice:pa55").decode()


async def test_http_defaults_post_without_content_type_and_any_status_passes(
    server: Server,
) -> None:
    outcome = await run({"http": {"url": f"{server.url}/hook?status=500"}}, TriggerContext())
    assert outcome.detail.endswith(": 500")  # no status policy: any status is a success
    [got] = server.received
    assert (got.method, got.body) == ("POST", b"")
    assert "Content-Type" not in got.headers  # as Go's client: none unless headers set one


async def test_http_resource_is_what_parameters_rewrite(server: Server) -> None:
    impl = build(
        Trigger.model_validate({"template": {"name": "t", "http": {"url": "x"}}}), TriggerContext()
    )
    resource = await impl.resource()
    assert resource["method"] == "POST"
    resource["url"] = f"{server.url}/hook"  # as a parameter with dest: url would
    resource["headers"] = {"X-From-Event": "e"}
    await impl.fire(firing(), resource, b"{}")
    assert server.received[0].headers["X-From-Event"] == "e"


async def test_http_disallowed_status_fails(server: Server) -> None:
    spec = {"http": {"url": f"{server.url}/hook?status=503"}}
    policy = {"policy": {"status": {"allow": [200, 201]}}}
    with pytest.raises(TriggerError, match="status 503 is not allowed") as err:
        await run(spec, TriggerContext(), b"{}", **policy)
    assert err.value.retryable
    spec = {"http": {"url": f"{server.url}/hook?status=201"}}
    assert (await run(spec, TriggerContext(), b"{}", **policy)).detail.endswith(": 201")


async def test_http_timeout_and_unreachable_server_are_retryable(server: Server) -> None:
    with pytest.raises(TriggerError, match="timed out after 1") as err:
        await run(
            {"http": {"url": f"{server.url}/slow", "method": "GET", "timeout": 1}}, TriggerContext()
        )
    assert err.value.retryable
    closed = server.url.rsplit(":", 1)[0] + ":1/hook"
    with pytest.raises(TriggerError) as err:
        await run({"http": {"url": closed}}, TriggerContext())
    assert err.value.retryable


async def test_http_tls_is_not_supported_yet(server: Server) -> None:
    spec = {"http": {"url": f"{server.url}/hook", "tls": {"insecureSkipVerify": True}}}
    with pytest.raises(TriggerError, match=r"http\.tls is not supported yet") as err:
        await run(spec, TriggerContext())
    assert not err.value.retryable
    assert server.received == []


# ---- url source -------------------------------------------------------------------------------
async def test_url_source_is_fetched(server: Server, engine: Engine) -> None:
    context = TriggerContext(submitter=EngineSubmitter(engine))
    spec = {"argoWorkflow": {"source": {"url": {"path": f"{server.url}/wf.yaml"}}}}
    outcome = await run(spec, context)
    assert outcome.workflow is not None and outcome.workflow.startswith("gate-")
    await engine.terminate("default", outcome.workflow)
    with pytest.raises(TriggerError, match="status code 404") as err:
        await run({"argoWorkflow": {"source": {"url": {"path": f"{server.url}/nope"}}}}, context)
    assert not err.value.retryable


# ---- nats -------------------------------------------------------------------------------------
async def test_nats_publishes_the_payload(nats_url: str) -> None:
    subscriber = await nats.connect(nats_url)
    pool = NatsConnections()
    try:
        sub = await subscriber.subscribe("sluice.trigger.test")
        spec = {"nats": {"url": nats_url, "subject": "sluice.trigger.test"}}
        outcome = await run(spec, TriggerContext(nats=pool), b'{"n":1}')
        assert outcome.detail == "published 7 bytes on sluice.trigger.test"
        await run(spec, TriggerContext(), b'{"n":2}')  # no pool: connect, publish, close
        got = [json.loads((await sub.next_msg(timeout=5)).data) for _ in range(2)]
        assert got == [{"n": 1}, {"n": 2}]
    finally:
        await pool.close()
        await subscriber.close()


async def test_nats_needs_a_payload_and_a_server(nats_url: str) -> None:
    spec = {"nats": {"url": nats_url, "subject": "s"}}
    with pytest.raises(TriggerError, match="payload parameters are not specified") as err:
        await run(spec, TriggerContext())
    assert not err.value.retryable
    with pytest.raises(TriggerError) as err:
        await run({"nats": {"url": "nats://127.0.0.1:1", "subject": "s"}}, TriggerContext(), b"{}")
    assert err.value.retryable


# ---- workflows through the engine -------------------------------------------------------------
async def _resume_when_suspended(engine: Engine, name: str) -> None:
    for _ in range(400):
        nodes = engine.get("default", name)["status"].get("nodes", {}).values()
        if any(n["type"] == "Suspend" and n["phase"] == "Running" for n in nodes):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never reached its suspend step")


async def test_engine_submitter_submits_once_per_key(engine: Engine) -> None:
    context = TriggerContext(submitter=EngineSubmitter(engine))
    spec = {"argoWorkflow": {"source": {"inline": GATE}}}
    first = await run(spec, context)
    again = await run(spec, context)  # a redelivered firing: same events, same key
    assert first.workflow is not None and not first.duplicate
    assert (again.workflow, again.duplicate) == (first.workflow, True)
    assert [wf["metadata"]["name"] for wf in engine.list_workflows()] == [first.workflow]
    wf = engine.get("default", first.workflow)
    assert wf["metadata"]["labels"][LABEL_SENSOR] == "s"
    assert wf["metadata"]["annotations"][ANNOTATION_EVENT_IDS] == "event-1"
    # resume is an operation on the workflow the resource names
    await _resume_when_suspended(engine, first.workflow)
    stub = {"source": {"resource": {"metadata": {"name": first.workflow}}}}
    resumed = await run({"argoWorkflow": {**stub, "operation": "resume"}}, context)
    assert resumed.workflow == first.workflow
    done = await asyncio.wait_for(engine.wait("default", first.workflow), 30)
    assert done["status"]["phase"] == "Succeeded"


async def test_engine_submitter_submits_from_a_template_with_args(engine: Engine) -> None:
    template = yaml.safe_load(GATE) | {"kind": "WorkflowTemplate", "metadata": {"name": "gate"}}
    engine.templates.create(template)
    context = TriggerContext(submitter=EngineSubmitter(engine))
    stub = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "gate"},
    }
    spec = {
        "argoWorkflow": {
            "operation": "submit-from",
            "source": {"resource": stub},
            "args": ["-l", "team=a"],
        }
    }
    first = await run(spec, context)
    again = await run(spec, context)
    assert first.workflow is not None and first.workflow.startswith("gate-")
    assert (again.workflow, again.duplicate) == (first.workflow, True)
    meta = engine.get("default", first.workflow)["metadata"]
    assert meta["labels"]["workflows.argoproj.io/workflow-template"] == "gate"
    assert meta["labels"]["team"] == "a"
    await engine.terminate("default", first.workflow)


async def test_k8s_trigger_creates_the_workflow_once(engine: Engine) -> None:
    context = TriggerContext(submitter=EngineSubmitter(engine))
    spec = {"k8s": {"operation": "create", "source": {"resource": yaml.safe_load(GATE)}}}
    first = await run(spec, context)
    again = await run(spec, context)
    other = await run(spec, context, fired=firing("sensor-key-2"))
    assert (again.workflow, again.duplicate) == (first.workflow, True)
    assert other.workflow != first.workflow and not other.duplicate
    for name in (first.workflow, other.workflow):
        assert name is not None
        await engine.terminate("default", name)


async def test_engine_submitter_errors_are_permanent(engine: Engine) -> None:
    context = TriggerContext(submitter=EngineSubmitter(engine))
    broken = yaml.safe_load(GATE)
    broken["spec"]["entrypoint"] = "missing"
    with pytest.raises(TriggerError, match="missing") as err:
        await run({"argoWorkflow": {"source": {"resource": broken}}}, context)
    assert not err.value.retryable
    stub = {"source": {"resource": {"metadata": {"name": "nope"}}}}
    with pytest.raises(TriggerError, match="not found") as err:
        await run({"argoWorkflow": {**stub, "operation": "suspend"}}, context)
    assert not err.value.retryable


# ---- workflows through the REST API -----------------------------------------------------------
async def test_rest_submitter_passes_the_idempotency_key(engine: Engine) -> None:
    engine.templates.create(
        yaml.safe_load(GATE) | {"kind": "WorkflowTemplate", "metadata": {"name": "gate"}}
    )
    async with serve(make_app(engine)) as url:
        submitter = RestSubmitter(url)
        context = TriggerContext(submitter=submitter)
        try:
            spec = {"argoWorkflow": {"source": {"inline": GATE}}}
            first = await run(spec, context)
            again = await run(spec, context)
            assert again.workflow == first.workflow  # duplicate is not reported over REST
            assert len(engine.list_workflows()) == 1
            assert first.workflow is not None
            await _resume_when_suspended(engine, first.workflow)
            stub = {"source": {"resource": {"metadata": {"name": first.workflow}}}}
            await run({"argoWorkflow": {**stub, "operation": "resume"}}, context)
            done = await asyncio.wait_for(engine.wait("default", first.workflow), 30)
            assert done["status"]["phase"] == "Succeeded"
            stub = {"kind": "WorkflowTemplate", "metadata": {"name": "gate"}}
            spec = {"argoWorkflow": {"operation": "submit-from", "source": {"resource": stub}}}
            from_template = await run(spec, context, fired=firing("sensor-key-2"))
            assert from_template.workflow is not None
            assert from_template.workflow.startswith("gate-")
            await engine.terminate("default", from_template.workflow)
            missing = {"source": {"resource": {"metadata": {"name": "nope"}}}}
            with pytest.raises(TriggerError, match="not found") as err:
                await run({"argoWorkflow": {**missing, "operation": "stop"}}, context)
            assert not err.value.retryable
        finally:
            await submitter.close()

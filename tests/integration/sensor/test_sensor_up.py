"""Sensors in ``sluice up`` on a real nats-server and the in-process engine.

An event posted to a webhook becomes a workflow run with the event's data as its parameter;
two dependencies (webhook and webhook, webhook and calendar) fire once with both events, also
across a restart of the whole service; a
redelivered event never runs its workflow twice; a failing trigger lands in the dead letters
and is redriven; and every decision can be explained by event id.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from click.testing import CliRunner, Result

from sluice.cli import main
from sluice.config import load_settings
from sluice.up import Up, UpOptions
from tests.conftest import free_port
from tests.integration.test_up import api, post

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    return "sn-" + format(abs(hash(request.node.nodeid)) % 10**10, "d")


def webhook(name: str, namespace: str, port: int, events: list[str]) -> str:
    hooks = "".join(
        f'    {e}:\n      port: "{port}"\n      endpoint: /{e}\n      method: POST\n'
        for e in events
    )
    return (
        "apiVersion: argoproj.io/v1alpha1\nkind: EventSource\n"
        f"metadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  webhook:\n{hooks}"
    )


WORKFLOW_TRIGGER = """\
  - template:
      name: {name}
      {conditions}
      k8s:
        operation: create
        source:
          resource:
            apiVersion: argoproj.io/v1alpha1
            kind: Workflow
            metadata:
              generateName: from-sensor-
            spec:
              entrypoint: main
              arguments:
                parameters:
                - name: message
                  value: none
              templates:
              - name: main
                inputs:
                  parameters:
                  - name: message
                container:
                  image: busybox
                  command: [echo, "{{{{inputs.parameters.message}}}}"]
        parameters:
        - src:
            dependencyName: {dep}
            dataKey: body.message
          dest: spec.arguments.parameters.0.value
"""


def sensor(name: str, namespace: str, deps: list[tuple[str, str]], triggers: str) -> str:
    dependencies = "".join(
        f"  - name: {d}\n    eventSourceName: hooks\n    eventName: {e}\n" for d, e in deps
    )
    return (
        "apiVersion: argoproj.io/v1alpha1\nkind: Sensor\n"
        f"metadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n"
        f"  dependencies:\n{dependencies}  triggers:\n{triggers}"
    )


@pytest.fixture
async def running(tmp_path: Path, nats_url: str) -> AsyncIterator[Callable[..., Any]]:
    """Start ``sluice up`` on a folder (again after a stop: same data directory)."""
    started: list[Up] = []

    async def start(folder: Path) -> Up:
        up = Up(
            load_settings(str(tmp_path / "data")),
            UpOptions(paths=[str(folder)], port=0, eventbus=nats_url, webhook_host="127.0.0.1"),
        )
        await up.start()
        started.append(up)
        return up

    yield start
    for up in started:
        await up.stop()


async def workflows(up: Up, namespace: str, n: int, timeout: float = 30) -> list[dict[str, Any]]:
    """Wait until ``n`` workflows exist in ``namespace`` and have finished; return them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = up.engine.list_workflows(namespace)
        if len(found) >= n:
            return [await up.engine.wait(namespace, wf["metadata"]["name"]) for wf in found]
        assert loop.time() < deadline, f"{len(found)} of {n} workflows after {timeout}s"
        await asyncio.sleep(0.1)


def message_of(workflow: dict[str, Any]) -> str:
    params = workflow["spec"]["arguments"]["parameters"]
    return str(params[0]["value"])


async def explained(up: Up, event_id: str, timeout: float = 10) -> list[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        status, body = await api(up, "GET", f"/api/v1/sluice/explain/{event_id}")
        assert status == 200, body
        if body["decisions"]:
            return list(body["decisions"])
        assert loop.time() < deadline, f"no decision recorded for {event_id}"
        await asyncio.sleep(0.1)


async def cli(up: Up, *args: str) -> Result:
    """``sluice ARGS --server`` the running service (in a thread: the CLI runs its own loop)."""
    argv = [*args, "--server", f"http://127.0.0.1:{up.port}"]
    return await asyncio.to_thread(CliRunner().invoke, main, argv)


async def test_webhook_event_runs_a_workflow_with_its_data(
    tmp_path: Path, namespace: str, running: Callable[..., Any]
) -> None:
    port = free_port()
    folder = tmp_path / "res"
    folder.mkdir()
    (folder / "es.yaml").write_text(webhook("hooks", namespace, port, ["example"]))
    trigger = WORKFLOW_TRIGGER.format(name="run", conditions="", dep="dep")
    filtered = sensor("s", namespace, [("dep", "example")], trigger).replace(
        "    eventName: example\n",
        "    eventName: example\n    filters:\n      data:\n      - path: body.message\n"
        "        type: string\n        value: ['^hello']\n",
    )
    (folder / "sensor.yaml").write_text(filtered)
    up = await running(folder)

    status, reply = await post(port, {"message": "hello world"}, "/example")
    assert status == 200, reply
    [wf] = await workflows(up, namespace, 1)
    assert wf["status"]["phase"] == "Succeeded"
    assert message_of(wf) == "hello world"
    labels = wf["metadata"]["labels"]
    assert labels["events.argoproj.io/sensor"] == "s"
    assert labels["events.argoproj.io/trigger"] == "run"
    assert reply["eventId"] in wf["metadata"]["annotations"]["sluice/event-ids"]

    [decision] = await explained(up, reply["eventId"])
    assert decision["passed"] and decision["triggers"][0]["outcome"] == "fired"
    assert decision["triggers"][0]["workflow"] == wf["metadata"]["name"]
    shown = await cli(up, "sensor", "explain", reply["eventId"])
    assert shown.exit_code == 0, shown.output
    assert f"-> sensor {namespace}/s, dependency dep" in shown.output
    assert "data[0] pass" in shown.output
    assert f"trigger run [dep]: fired -> workflow {wf['metadata']['name']}" in shown.output

    status, reply = await post(port, {"message": "goodbye"}, "/example")
    [decision] = await explained(up, reply["eventId"])
    assert not decision["passed"]
    assert "goodbye" in decision["filters"][0]["detail"]
    shown = await cli(up, "sensor", "explain", reply["eventId"], "-n", namespace)
    assert "data[0] FAIL" in shown.output and "goodbye" in shown.output
    assert "filtered out" in shown.output
    unknown = await cli(up, "sensor", "explain", "no-such-event")
    assert unknown.exit_code == 1 and "no sensor decided" in unknown.output
    assert len(up.engine.list_workflows(namespace)) == 1


async def test_two_dependencies_fire_once_even_across_a_restart(
    tmp_path: Path, namespace: str, running: Callable[..., Any]
) -> None:
    port = free_port()
    folder = tmp_path / "res"
    folder.mkdir()
    (folder / "es.yaml").write_text(webhook("hooks", namespace, port, ["a", "b"]))
    both = 'conditions: "dep-a && dep-b"'
    trigger = WORKFLOW_TRIGGER.format(name="both", conditions=both, dep="dep-b")
    (folder / "sensor.yaml").write_text(
        sensor("pair", namespace, [("dep-a", "a"), ("dep-b", "b")], trigger)
    )
    up = await running(folder)
    status, first = await post(port, {"message": "from a"}, "/a")
    assert status == 200
    [decision] = await explained(up, first["eventId"])
    assert decision["triggers"][0]["outcome"] == "waiting"
    await up.stop()

    up = await running(folder)  # the pending event of dep-a survives the restart
    status, second = await post(port, {"message": "from b"}, "/b")
    assert status == 200
    [wf] = await workflows(up, namespace, 1)
    assert message_of(wf) == "from b"
    ids = wf["metadata"]["annotations"]["sluice/event-ids"]
    assert first["eventId"] in ids and second["eventId"] in ids

    # the pair was consumed: another b alone waits for a new a
    status, third = await post(port, {"message": "b again"}, "/b")
    decisions = await explained(up, third["eventId"])
    assert decisions[0]["triggers"][0]["outcome"] == "waiting"
    assert len(up.engine.list_workflows(namespace)) == 1


async def test_webhook_and_calendar_fire_once_with_both_events(
    tmp_path: Path, namespace: str, running: Callable[..., Any]
) -> None:
    port = free_port()
    folder = tmp_path / "res"
    folder.mkdir()
    (folder / "es.yaml").write_text(webhook("hooks", namespace, port, ["example"]))
    (folder / "calendar.yaml").write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: EventSource\n"
        f"metadata:\n  name: ticks\n  namespace: {namespace}\n"
        "spec:\n  calendar:\n    every-second:\n      interval: 1s\n"
    )
    trigger = WORKFLOW_TRIGGER.format(name="both", conditions="", dep="hook")
    text = sensor("mixed", namespace, [("hook", "example")], trigger).replace(
        "  triggers:\n",
        "  - name: tick\n    eventSourceName: ticks\n    eventName: every-second\n  triggers:\n",
    )
    (folder / "sensor.yaml").write_text(text)
    up = await running(folder)
    await asyncio.sleep(2.5)  # calendar ticks arrive alone: each waits for a webhook event
    assert up.engine.list_workflows(namespace) == []

    status, reply = await post(port, {"message": "with a tick"}, "/example")
    assert status == 200, reply
    [wf] = await workflows(up, namespace, 1)
    assert message_of(wf) == "with a tick"
    ids = wf["metadata"]["annotations"]["sluice/event-ids"]
    assert reply["eventId"] in ids and len(ids.split(",")) == 2  # the webhook's and a tick's
    await asyncio.sleep(2.5)  # more ticks, no new webhook event: nothing more fires
    assert len(up.engine.list_workflows(namespace)) == 1


async def test_a_crash_before_the_ack_does_not_run_the_workflow_twice(
    tmp_path: Path, namespace: str, running: Callable[..., Any]
) -> None:
    port = free_port()
    folder = tmp_path / "res"
    folder.mkdir()
    (folder / "es.yaml").write_text(webhook("hooks", namespace, port, ["example"]))
    trigger = WORKFLOW_TRIGGER.format(name="run", conditions="", dep="dep")
    (folder / "sensor.yaml").write_text(sensor("s", namespace, [("dep", "example")], trigger))
    up = await running(folder)
    sensors = up.sensors
    assert sensors is not None
    runner = sensors.runners[(namespace, "s")]
    assert runner.logic is not None
    handle = runner.logic.handle
    crashes: list[str] = []

    async def crash_after_handling(dependency: str, event: Any, **kw: Any) -> Any:
        decision = await handle(dependency, event, **kw)
        if not crashes:  # the trigger fired; the process dies before the ack
            crashes.append(decision.triggers[0].outcome)
            raise RuntimeError("killed between consume and ack")
        return decision

    runner.logic.handle = crash_after_handling  # type: ignore[method-assign]
    status, reply = await post(port, {"message": "once"}, "/example")
    assert status == 200
    decisions = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while not decisions:  # the redelivery comes after the nak's delay
        decisions = await explained(up, reply["eventId"])
        assert loop.time() < deadline
    assert crashes == ["fired"]
    assert decisions[-1]["triggers"][0]["outcome"] == "duplicate"
    [wf] = await workflows(up, namespace, 1)
    assert message_of(wf) == "once"
    await asyncio.sleep(0.5)
    assert len(up.engine.list_workflows(namespace)) == 1


async def test_a_failing_http_trigger_is_dead_lettered_and_redriven(
    tmp_path: Path, namespace: str, running: Callable[..., Any]
) -> None:
    received: list[Any] = []
    healthy = asyncio.Event()

    async def endpoint(request: web.Request) -> web.Response:
        if not healthy.is_set():
            return web.Response(status=503)
        received.append(await request.json())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    http_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", http_port).start()
    try:
        port = free_port()
        folder = tmp_path / "res"
        folder.mkdir()
        (folder / "es.yaml").write_text(webhook("hooks", namespace, port, ["example"]))
        trigger = textwrap.indent(
            textwrap.dedent(f"""\
                - template:
                    name: call
                    http:
                      url: http://127.0.0.1:{http_port}/hook
                      method: POST
                      payload:
                      - src:
                          dependencyName: dep
                          dataKey: body.message
                        dest: message
                  policy:
                    status:
                      allow: [200]
                """),
            "  ",
        )
        (folder / "sensor.yaml").write_text(sensor("s", namespace, [("dep", "example")], trigger))
        up = await running(folder)
        status, reply = await post(port, {"message": "retry me"}, "/example")
        assert status == 200
        [decision] = await explained(up, reply["eventId"])
        assert decision["triggers"][0]["outcome"] == "dead-lettered"

        listed = await cli(up, "dlq", "list", "-o", "json")
        assert listed.exit_code == 0, listed.output
        [letter] = [d for d in json.loads(listed.output) if d["namespace"] == namespace]
        assert letter["trigger"] == "call" and "503" in letter["reason"]
        table = await cli(up, "dlq", "list", "-n", namespace)
        assert f"{letter['id']}  {namespace}/s  trigger call" in table.output
        shown = await cli(up, "dlq", "show", letter["id"])
        assert shown.exit_code == 0, shown.output
        assert "retry me" in shown.output and "reason:" in shown.output

        failing = await cli(up, "dlq", "redrive", letter["id"])  # still 503: the letter stays
        assert failing.exit_code == 1 and f"{letter['id']}: failed" in failing.output
        healthy.set()
        redriven = await cli(up, "dlq", "redrive", letter["id"])
        assert redriven.exit_code == 0, redriven.output
        assert f"{letter['id']}: fired" in redriven.output
        assert received == [{"message": "retry me"}]
        emptied = await cli(up, "dlq", "list", "-n", namespace)
        assert emptied.output.strip() == "No dead letters found."
        missing = await cli(up, "dlq", "show", letter["id"])
        assert missing.exit_code == 1 and "not found" in missing.output
    finally:
        await runner.cleanup()


__all__ = ["aiohttp"]

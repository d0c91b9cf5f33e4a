"""``sluice up`` on a folder: resources applied, edits reconciled, the API and the CLI on top.

Each test runs the real service in-process (engine, API server, webhook servers) against the
session's nats-server (``--eventbus``); one test starts the embedded server itself, and one runs
``sluice up`` as a process and stops it with SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from eventbus.jetstream import JetStreamBus
from sluice.config import load_settings
from sluice.up import Up, UpOptions
from tests.conftest import free_port
from tests.integration.eventbus.conftest import nats_url

__all__ = ["nats_url"]


def webhook_source(name: str, namespace: str, port: int, endpoint: str = "/hook") -> str:
    return textwrap.dedent(f"""\
        apiVersion: argoproj.io/v1alpha1
        kind: EventSource
        metadata:
          name: {name}
          namespace: {namespace}
        spec:
          webhook:
            example:
              port: "{port}"
              endpoint: {endpoint}
              method: POST
        """)


async def post(port: int, body: dict[str, Any], path: str = "/hook") -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://127.0.0.1:{port}{path}", json=body) as resp,
    ):
        return resp.status, await resp.json(content_type=None)


async def refused(port: int) -> bool:
    try:
        await post(port, {})
    except aiohttp.ClientConnectionError:
        return True
    return False


async def api(up: Up, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"http://127.0.0.1:{up.port}{path}", **kw) as resp,
    ):
        text = await resp.text()
        if resp.content_type == "application/x-ndjson":
            return resp.status, [json.loads(line) for line in text.splitlines() if line]
        return resp.status, json.loads(text) if text else None


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    return "up-" + format(abs(hash(request.node.nodeid)) % 10**10, "d")


async def test_a_folder_runs_and_edits_are_reconciled(
    tmp_path: Path, nats_url: str, namespace: str
) -> None:
    folder = tmp_path / "resources"
    folder.mkdir()
    port_a, port_b, port_c = free_port(), free_port(), free_port()
    (folder / "a.yaml").write_text(webhook_source("a", namespace, port_a))
    (folder / "b.yaml").write_text(webhook_source("b", namespace, port_b))
    (folder / "broken.yaml").write_text("kind: EventSource\nmetadata: {name: x}\nspec: {nope: 1}\n")
    up = Up(
        load_settings(str(tmp_path / "data")),
        UpOptions(paths=[str(folder)], port=0, eventbus=nats_url, webhook_host="127.0.0.1"),
    )
    await up.start()
    try:
        assert up.sync is not None and up.controller is not None
        assert any("broken.yaml" in p and "spec.nope" in p for p in up.sync.problems)
        status, body = await post(port_a, {"n": 1})
        assert status == 200, body
        runtime = up.controller.runtimes["EventSource"]
        runner_b = runtime.runners[(namespace, "b")]  # type: ignore[attr-defined]

        # edit a: only a restarts, on its new port
        (folder / "a.yaml").write_text(webhook_source("a", namespace, port_c))
        await up.sync.sync()
        assert await refused(port_a)
        assert (await post(port_c, {"n": 2}))[0] == 200
        assert runtime.runners[(namespace, "b")] is runner_b  # type: ignore[attr-defined]

        # the events are on the stream, oldest first, with Argo's webhook data
        status, lines = await api(up, "GET", f"/api/v1/sluice/events/{namespace}")
        assert status == 200
        assert [line["event"]["data"]["body"] for line in lines] == [{"n": 1}, {"n": 2}]
        assert {line["event"]["source"] for line in lines} == {"a"}

        # delete b's file: b stops and is forgotten
        (folder / "b.yaml").unlink()
        await up.sync.sync()
        assert await refused(port_b)
        status, _ = await api(
            up, "GET", "/api/v1/sluice/resources/es/b", params={"namespace": namespace}
        )
        assert status == 404
    finally:
        await up.stop()


async def test_the_watcher_follows_the_folder(
    tmp_path: Path, nats_url: str, namespace: str
) -> None:
    folder = tmp_path / "resources"
    folder.mkdir()
    port = free_port()
    up = Up(
        load_settings(str(tmp_path / "data")),
        UpOptions(paths=[str(folder)], port=0, eventbus=nats_url, webhook_host="127.0.0.1"),
    )
    await up.start()
    try:
        (folder / "late.yaml").write_text(webhook_source("late", namespace, port))
        for _ in range(100):  # the watcher applies it on its own
            if not await refused(port):
                break
            await asyncio.sleep(0.1)
        assert (await post(port, {"late": True}))[0] == 200
    finally:
        await up.stop()


async def test_applied_resources_come_back_after_a_restart(
    tmp_path: Path, nats_url: str, namespace: str
) -> None:
    settings = load_settings(str(tmp_path / "data"))
    port = free_port()
    options = UpOptions(port=0, eventbus=nats_url, webhook_host="127.0.0.1")
    up = Up(settings, options)
    await up.start()
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventSource",
        "metadata": {"name": "kept", "namespace": namespace},
        "spec": {"webhook": {"e": {"port": str(port), "endpoint": "/hook", "method": "POST"}}},
    }
    try:
        status, body = await api(
            up, "POST", "/api/v1/sluice/apply", json={"documents": [{"manifest": manifest}]}
        )
        assert status == 200 and body["results"][0]["action"] == "created", body
        status, body = await api(
            up, "POST", "/api/v1/sluice/apply", json={"documents": [{"manifest": manifest}]}
        )
        assert body["results"][0]["action"] == "unchanged"
        assert (await post(port, {}))[0] == 200
    finally:
        await up.stop()
    assert await refused(port)
    up = Up(load_settings(str(tmp_path / "data")), options)
    await up.start()
    try:
        assert (await post(port, {}))[0] == 200
        status, item = await api(up, "GET", "/api/v1/event-sources/" + namespace + "/kept")
        assert status == 200
        assert item["status"]["types"]["webhook"]["state"] == "running"
    finally:
        await up.stop()


async def test_a_workflow_in_the_folder_runs_once(tmp_path: Path, nats_url: str) -> None:
    folder = tmp_path / "resources"
    folder.mkdir()
    (folder / "wf.yaml").write_text(
        textwrap.dedent("""\
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {generateName: once-}
        spec:
          entrypoint: main
          templates:
            - name: main
              container: {image: alpine, command: [sh, -c, "echo hi"]}
        """)
    )
    options = UpOptions(paths=[str(folder)], port=0, eventbus=nats_url)
    for _ in range(2):  # a restart over the same folder does not submit it again
        up = Up(load_settings(str(tmp_path / "data")), options)
        await up.start()
        try:
            workflows = up.engine.list_workflows("default")
            assert len(workflows) == 1
            await up.engine.wait("default", workflows[0]["metadata"]["name"])
        finally:
            await up.stop()


async def test_the_embedded_bus_and_its_event_bus_resource(tmp_path: Path) -> None:
    folder = tmp_path / "resources"
    folder.mkdir()
    port = free_port()
    (folder / "bus.yaml").write_text(
        textwrap.dedent("""\
        apiVersion: argoproj.io/v1alpha1
        kind: EventBus
        metadata: {name: default}
        spec:
          jetstream:
            version: latest
            streamConfig: |
              maxMsgs: 2
        """)
    )
    (folder / "es.yaml").write_text(webhook_source("w", "default", port))
    up = Up(
        load_settings(str(tmp_path / "data")),
        UpOptions(paths=[str(folder)], port=0, webhook_host="127.0.0.1"),
    )
    await up.start()
    try:
        assert up.nats is not None and up.bus_url == up.nats.url
        for i in range(3):
            assert (await post(port, {"i": i}))[0] == 200
        bus = JetStreamBus()
        await bus.connect(up.bus_url)
        try:
            assert await bus.stream_message_count("default") == 2  # maxMsgs from the EventBus
        finally:
            await bus.close()
    finally:
        await up.stop()
    assert up.nats is None


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sluice", *args, env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_apply_get_delete_with_the_cli(tmp_path: Path, nats_url: str, namespace: str) -> None:
    port = free_port()
    up = Up(
        load_settings(str(tmp_path / "data")),
        UpOptions(port=0, eventbus=nats_url, webhook_host="127.0.0.1"),
    )
    await up.start()
    env = {"SLUICE_SERVER": f"http://127.0.0.1:{up.port}", "SLUICE_DATA_DIR": str(tmp_path / "cli")}
    file = tmp_path / "es.yaml"
    file.write_text(webhook_source("cli", namespace, port))
    try:
        code, out, err = await run_cli("apply", "-f", str(file), env=env)
        assert code == 0, err
        assert out.strip() == "eventsource.argoproj.io/cli created"
        assert (await post(port, {}))[0] == 200
        code, out, _ = await run_cli("get", "eventsources", "-n", namespace, env=env)
        assert code == 0 and "cli" in out and "1 running" in out
        code, out, _ = await run_cli("get", "es", "cli", "-n", namespace, "-o", "json", env=env)
        assert json.loads(out)["spec"]["webhook"]["example"]["port"] == str(port)
        code, out, _ = await run_cli("events", "-n", namespace, "-o", "json", env=env)
        assert json.loads(out.splitlines()[0])["event"]["source"] == "cli"
        code, out, _ = await run_cli("delete", "-f", str(file), env=env)
        assert code == 0 and "deleted" in out
        assert await refused(port)
        code, _, err = await run_cli("get", "es", "cli", "-n", namespace, env=env)
        assert code == 1 and "not found" in err
        bad = tmp_path / "bad.yaml"
        bad.write_text(
            "apiVersion: argoproj.io/v1alpha1\nkind: EventSource\nmetadata: {name: b}\n"
            "spec: {webhook: {e: {port: '1', endpoint: /x, methd: POST}}}\n"
        )
        code, _, err = await run_cli("apply", "-f", str(bad), env=env)
        assert code == 1 and "bad.yaml: document 1 (EventSource b)" in err and "methd" in err
    finally:
        await up.stop()


def processes_using(path: Path) -> list[int]:
    """Processes other than sluice's whose command line names ``path`` (nats-server's store)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"nats-server" in cmdline[0] and any(str(path).encode() in arg for arg in cmdline):
            found.append(int(entry.name))
    return found


async def test_sigterm_stops_everything(tmp_path: Path) -> None:
    folder = tmp_path / "resources"
    folder.mkdir()
    port, api_port = free_port(), free_port()
    (folder / "es.yaml").write_text(webhook_source("w", "default", port))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sluice", "up", str(folder), "--port", str(api_port),
        "--webhook-host", "127.0.0.1", "--data-dir", str(tmp_path / "data"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(200):
            if not await refused(port):
                break
            await asyncio.sleep(0.1)
        assert (await post(port, {}))[0] == 200
        assert processes_using(tmp_path / "data")  # the embedded nats-server
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert "shutting down" in err.decode()
        assert await refused(port)
        assert not processes_using(tmp_path / "data")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

"""The file source against a real nats-server: which file changes arrive on the bus, and how."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from eventbus.jetstream import JetStreamBus
from eventsource.adaptor import Adaptor, RetryPolicy
from eventsource.models import parse_event_source
from eventsource.registry import SOURCES
from eventsource.sources.file import OPS, FileSource
from sluice.core.errors import SpecError

SOURCE = "file-es"
Start = Callable[..., Awaitable[FileSource]]


def event_source(events: dict[str, dict[str, Any]]) -> Any:
    return parse_event_source(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "EventSource",
            "metadata": {"name": SOURCE},
            "spec": {"file": events},
        }
    )


def spec(directory: Path, event_type: str, polling: bool = False, **config: str) -> dict[str, Any]:
    config.setdefault("pathRegexp", ".*")
    return {
        "eventType": event_type,
        "watchPathConfig": {"directory": f"{directory}/", **config},
        "polling": polling,
    }


MODES = pytest.mark.parametrize("polling", [False, True], ids=["inotify", "polling"])


@pytest.fixture
async def start_file(bus: JetStreamBus, namespace: str) -> AsyncIterator[Start]:
    """Start a FileSource with watchfiles' batching turned down so tests stay fast."""
    started: list[FileSource] = []

    async def start(events: dict[str, dict[str, Any]], **options: Any) -> FileSource:
        adaptor = Adaptor(bus, namespace, SOURCE, retry=RetryPolicy(duration=0.05, steps=2))
        options = {"debounce_ms": 50, "step_ms": 10, "poll_delay_ms": 20, **options}
        source = FileSource(event_source(events), adaptor, **options)
        await source.start()
        started.append(source)
        return source

    yield start
    for source in started:
        await source.stop()


async def on_bus(
    bus: JetStreamBus, namespace: str, event: str, n: int, *, quiet: float = 0.3
) -> list[dict[str, Any]]:
    """Exactly ``n`` CloudEvents of one event: fails if fewer came, or more within ``quiet``."""
    consumer = await bus.subscribe(bus.subject(namespace, SOURCE, event), f"t-{event}")
    got: list[dict[str, Any]] = []
    try:
        while len(got) < n:
            msgs = await consumer.fetch(n - len(got), timeout=3)
            assert msgs, f"only {len(got)} of {n} events arrived on {event}: {got}"
            for msg in msgs:
                got.append(json.loads(msg.data))
                await msg.ack()
        extra = await consumer.fetch(1, timeout=quiet)
        assert not extra, f"unexpected event on {event}: {json.loads(extra[0].data)}"
    finally:
        await consumer.close()
    return got


def seen(events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return sorted((os.path.basename(e["data"]["name"]), e["data"]["op"]) for e in events)


def test_file_is_registered() -> None:
    assert SOURCES["file"] is FileSource


async def test_create_arrives_with_argo_data_shape(
    start_file: Start, bus: JetStreamBus, namespace: str, tmp_path: Path
) -> None:
    event = spec(tmp_path, "CREATE", path="a.txt", pathRegexp="")
    event["metadata"] = {"team": "data"}
    await start_file({"created": event})
    (tmp_path / ".a.txt.swp").touch()
    (tmp_path / "a.txt").touch()

    [got] = await on_bus(bus, namespace, "created", 1)
    assert {k: got[k] for k in ("source", "subject", "type")} == {
        "source": SOURCE,
        "subject": "created",
        "type": "file",
    }
    assert got["data"] == {"name": f"{tmp_path}/a.txt", "op": 1, "metadata": {"team": "data"}}


@MODES
async def test_write_and_remove_of_an_existing_file(
    start_file: Start, bus: JetStreamBus, namespace: str, tmp_path: Path, polling: bool
) -> None:
    target = tmp_path / "data.json"
    target.write_text("{}")
    await start_file(
        {"written": spec(tmp_path, "WRITE", polling), "removed": spec(tmp_path, "REMOVE", polling)}
    )

    with target.open("a") as f:
        f.write("\n")
    [written] = await on_bus(bus, namespace, "written", 1)
    assert written["data"] == {"name": str(target), "op": OPS["WRITE"], "metadata": None}
    target.unlink()
    [removed] = await on_bus(bus, namespace, "removed", 1)
    assert removed["data"]["name"] == str(target)
    assert removed["data"]["op"] == OPS["REMOVE"] == 4


@MODES
async def test_creating_a_file_is_create_and_with_content_also_write(
    start_file: Start, bus: JetStreamBus, namespace: str, tmp_path: Path, polling: bool
) -> None:
    """As under fsnotify: ``touch`` is one CREATE; ``echo x > f`` is CREATE, then WRITE."""
    await start_file(
        {"created": spec(tmp_path, "CREATE", polling), "written": spec(tmp_path, "WRITE", polling)}
    )
    (tmp_path / "empty.txt").touch()
    (tmp_path / "full.txt").write_text("x")

    created = await on_bus(bus, namespace, "created", 2)
    assert seen(created) == [("empty.txt", 1), ("full.txt", 1)]
    written = await on_bus(bus, namespace, "written", 1)
    assert seen(written) == [("full.txt", 2)]


@MODES
async def test_path_regexp_filters_by_file_name(
    start_file: Start, bus: JetStreamBus, namespace: str, tmp_path: Path, polling: bool
) -> None:
    await start_file({"csv": spec(tmp_path, "CREATE", polling, pathRegexp=r"\.csv$")})
    (tmp_path / "skip.log").touch()
    (tmp_path / "skip.csv.bak").touch()
    (tmp_path / "zz.csv").touch()

    assert seen(await on_bus(bus, namespace, "csv", 1)) == [("zz.csv", 1)]


@MODES
async def test_rename_inside_the_directory_is_rename_of_old_and_create_of_new(
    start_file: Start, bus: JetStreamBus, namespace: str, tmp_path: Path, polling: bool
) -> None:
    (tmp_path / "upload.part").write_text("payload")
    events = {
        "renamed": spec(tmp_path, "RENAME", polling),
        "created": spec(tmp_path, "CREATE", polling),
        "removed": spec(tmp_path, "REMOVE", polling),
        "written": spec(tmp_path, "WRITE", polling),
    }
    await start_file(events)
    (tmp_path / "upload.part").rename(tmp_path / "upload.csv")
    (tmp_path / "zz-marker").touch()

    assert seen(await on_bus(bus, namespace, "renamed", 1)) == [("upload.part", 8)]
    created = await on_bus(bus, namespace, "created", 2)
    assert seen(created) == [("upload.csv", 1), ("zz-marker", 1)]
    assert await on_bus(bus, namespace, "removed", 0) == []
    assert await on_bus(bus, namespace, "written", 0) == []


@MODES
async def test_chmod_is_chmod_not_write(
    start_file: Start, bus: JetStreamBus, namespace: str, tmp_path: Path, polling: bool
) -> None:
    target = tmp_path / "script.sh"
    target.write_text("echo")
    target.chmod(0o644)
    await start_file(
        {"chmod": spec(tmp_path, "CHMOD", polling), "written": spec(tmp_path, "WRITE", polling)}
    )
    target.chmod(0o755)

    assert seen(await on_bus(bus, namespace, "chmod", 1)) == [("script.sh", 16)]
    assert await on_bus(bus, namespace, "written", 0) == []


async def test_polling_sees_writes_within_a_second_and_chmod(
    start_file: Start, bus: JetStreamBus, namespace: str, tmp_path: Path
) -> None:
    """watchfiles' own poller would miss both: it compares mtimes in whole seconds."""
    target = tmp_path / "p.txt"
    target.write_text("x")
    target.chmod(0o644)
    events = {
        "written": spec(tmp_path, "WRITE", True, path="p.txt", pathRegexp=""),
        "chmod": spec(tmp_path, "CHMOD", True, path="p.txt", pathRegexp=""),
    }
    await start_file(events)
    for _ in range(2):
        with target.open("a") as f:
            f.write("more")
        [written] = await on_bus(bus, namespace, "written", 1, quiet=0.1)
        assert written["data"]["name"] == str(target)  # Argo's poller would give "p.txt"
    target.chmod(0o600)
    assert seen(await on_bus(bus, namespace, "chmod", 1)) == [("p.txt", 16)]


async def test_stop_ends_the_watch_promptly(
    start_file: Start, bus: JetStreamBus, namespace: str, tmp_path: Path
) -> None:
    source = await start_file({"created": spec(tmp_path, "CREATE")})
    names = {t.get_name() for t in asyncio.all_tasks()}
    assert f"eventsource/{SOURCE}:file:created" in names

    await asyncio.wait_for(source.stop(), timeout=1)
    names = {t.get_name() for t in asyncio.all_tasks()}
    assert f"eventsource/{SOURCE}:file:created" not in names
    (tmp_path / "late.txt").touch()
    assert await on_bus(bus, namespace, "created", 0) == []


async def test_a_failed_watch_is_logged_and_restarted_with_backoff(
    start_file: Start,
    bus: JetStreamBus,
    namespace: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)
        await asyncio.sleep(0.01)

    watched = tmp_path / "inbox"
    watched.mkdir()
    caplog.set_level(logging.ERROR, logger="eventsource.sources.file")
    await start_file({"created": spec(watched, "CREATE")}, backoff=(0.1, 0.4), sleep=sleep)

    shutil.rmtree(watched)  # the watch fails, and fails again while the directory is gone
    for _ in range(300):
        if len(delays) >= 4:
            break
        await asyncio.sleep(0.01)
    assert delays[:4] == [0.1, 0.2, 0.4, 0.4]
    assert "watch failed" in caplog.text

    watched.mkdir()
    got: list[dict[str, Any]] = []
    consumer = await bus.subscribe(bus.subject(namespace, SOURCE, "created"), "t-restart")
    for n in range(50):  # until the restarted watch is up again
        (watched / f"f{n}").touch()
        got = [json.loads(m.data) for m in await consumer.fetch(1, timeout=0.1)]
        if got:
            break
    await consumer.close()
    assert got, "no event after the directory came back"
    assert got[0]["data"]["name"].startswith(f"{watched}/f")


async def test_a_missing_directory_is_an_error_at_start(start_file: Start, tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"file created: watchPathConfig.directory .*nope"):
        await start_file({"created": spec(tmp_path / "nope", "CREATE")})


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"watchPathConfig": {"directory": "/tmp", "path": "a"}}, "eventType is required"),
        (
            {"eventType": "create", "watchPathConfig": {"directory": "/tmp", "path": "a"}},
            "eventType 'create' is not one of CREATE, WRITE, REMOVE, RENAME, CHMOD",
        ),
        ({"eventType": "CREATE", "watchPathConfig": {"path": "a"}}, "directory is required"),
        (
            {"eventType": "CREATE", "watchPathConfig": {"directory": "tmp", "path": "a"}},
            "directory must be an absolute path",
        ),
        (
            {"eventType": "CREATE", "watchPathConfig": {"directory": "/tmp"}},
            "either watchPathConfig.path or pathRegexp is required",
        ),
        (
            {
                "eventType": "CREATE",
                "watchPathConfig": {"directory": "/tmp", "path": "a", "pathRegexp": "a"},
            },
            "path and pathRegexp cannot both be set",
        ),
        (
            {"eventType": "CREATE", "watchPathConfig": {"directory": "/tmp", "path": "/a"}},
            "path must be a relative path",
        ),
        (
            {"eventType": "CREATE", "watchPathConfig": {"directory": "/tmp", "pathRegexp": "("}},
            "pathRegexp '(': missing ),",
        ),
    ],
    ids=["no-type", "lowercase-type", "no-dir", "relative-dir", "no-path", "both", "abs", "regex"],
)
def test_spec_errors_name_the_event(
    bus: JetStreamBus, namespace: str, event: dict[str, Any], message: str
) -> None:
    adaptor = Adaptor(bus, namespace, SOURCE)
    with pytest.raises(SpecError) as info:
        FileSource(event_source({"bad": event}), adaptor)
    assert f"eventsource/{SOURCE}: file bad: " in str(info.value)
    assert message in str(info.value)

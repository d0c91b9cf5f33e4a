"""The embedded nats-server: restarted when it dies, gone after stop(), limits applied."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from eventbus.embedded import EmbeddedNats, free_port, server_binary
from eventbus.errors import BusError, BusUnavailable
from eventbus.jetstream import JetStreamBus


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone once its state is Z or it has no /proc entry.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def test_binary_comes_from_the_wheel() -> None:
    path = server_binary()
    assert path.name == "nats-server"
    assert not str(path).startswith(("/usr/", "/sbin/"))


async def test_killed_server_is_restarted_and_publish_works_again(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path, backoff=(0.1, 1.0))
    await server.start()
    bus = JetStreamBus(publish_timeout=1.0)
    try:
        await bus.connect(server.url)
        await bus.ensure_stream("default")
        subject = bus.subject("default", "src", "ev")
        await bus.publish(subject, b"before", "id-1")
        old_pid = server.pid
        assert old_pid is not None
        os.kill(old_pid, signal.SIGKILL)

        deadline = time.monotonic() + 15
        while True:
            try:
                ack = await bus.publish(subject, b"after", "id-2")
                break
            except BusUnavailable:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        assert ack.seq == 2  # the stream survived on disk
        assert server.restarts == 1
        assert server.pid not in (None, old_pid)
    finally:
        await bus.close()
        await server.stop()


async def test_stop_leaves_no_process(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path)
    await server.start()
    pid = server.pid
    assert pid is not None and _alive(pid)
    await server.stop()
    assert server.pid is None
    assert not _alive(pid)


async def test_payload_over_the_server_limit_is_rejected_before_sending(tmp_path: Path) -> None:
    async with EmbeddedNats(tmp_path, max_payload=4096) as server:
        bus = JetStreamBus()
        await bus.connect(server.url)
        try:
            assert bus.max_payload == 4096
            await bus.ensure_stream("default")
            subject = bus.subject("default", "src", "ev")
            await bus.publish(subject, b"x" * 1000, "small")
            with pytest.raises(
                BusError, match=r"^event of \d+ bytes exceeds the bus's max payload"
            ):
                await bus.publish(subject, b"x" * 5000, "big")
            assert await bus.stream_message_count("default") == 1
        finally:
            await bus.close()


async def test_connect_to_nothing_is_unavailable() -> None:
    bus = JetStreamBus(connect_timeout=1.0)
    with pytest.raises(BusUnavailable, match="cannot connect"):
        await bus.connect(f"nats://127.0.0.1:{free_port()}")


async def test_start_twice_is_an_error(tmp_path: Path) -> None:
    async with EmbeddedNats(tmp_path) as server:
        with pytest.raises(BusError, match="already started"):
            await server.start()

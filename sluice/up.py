"""``sluice up``: the bus, the engine, the API server and every resource given, in one process.

Start order is what each part needs first: the bus (embedded ``nats-server`` unless one is
named), the engine and its cron controller, the resources the store already holds (a restart
brings back what was applied), then the watched files, then the API server. Stop order is the
reverse and staged, each stage bounded: stop watching and stop accepting API calls, stop the
sources (a webhook call in flight finishes its publish), stop the engine's intake, close the
bus connection, stop nats-server.

The bus is chosen once, at start: ``--eventbus nats://...``, else an EventBus resource named
``default`` (in the given files, or stored) with a ``jetstreamExotic``/``nats.exotic`` URL, else
the embedded server with that EventBus's ``maxPayload``. A later change to the EventBus applies
to streams at once and to the server at the next start, and the log says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from engine.service import Engine
from eventbus.embedded import EmbeddedNats
from eventbus.errors import BusError
from eventbus.jetstream import JetStreamBus
from eventbus.models import EventBus, load_eventbus
from eventbus.streams import parse_size
from sensor.triggers import NatsConnections, TriggerContext
from sluice.app import build_engine
from sluice.config import Settings
from sluice.controller import ResourceController
from sluice.core.errors import SluiceError, SpecError
from sluice.core.objects import LocalObjects
from sluice.core.resources import RawResource, iter_resource_files, load_file
from sluice.eventsources import EventSourceRuntime
from sluice.filesync import FileSync
from sluice.sensors import SensorRuntime
from sluice.server import make_app
from sluice.server_resources import add_routes
from sluice.submitter import EngineSubmitter

log = logging.getLogger(__name__)

DEFAULT_BUS = "default"


@dataclass
class UpOptions:
    paths: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 2746
    eventbus: str | None = None  # an existing server's URL
    nats_port: int | None = None  # the embedded server's port (default: a free one)
    webhook_host: str = "0.0.0.0"
    poll: bool = False  # watch the paths by polling (network filesystems)
    stage_timeout: float = 10.0


def find_event_bus(paths: list[str], engine: Engine) -> EventBus | None:
    """The EventBus named ``default`` in the files (first found), else the stored one."""
    for file in iter_resource_files(paths):
        try:
            docs = load_file(file)
        except SpecError:
            continue  # reported when the files are applied
        for raw in docs:
            if raw.kind == "EventBus" and raw.name == DEFAULT_BUS:
                try:
                    return load_eventbus(raw)
                except SpecError:
                    continue
    for stored in engine.store.list_resources("EventBus"):
        if (stored.get("metadata") or {}).get("name") == DEFAULT_BUS:
            return load_eventbus(RawResource("<stored>", 1, stored))
    return None


class Up:
    """Everything ``sluice up`` runs, started and stopped in order."""

    def __init__(self, settings: Settings, options: UpOptions) -> None:
        self.settings = settings
        self.options = options
        self.engine = build_engine(settings)
        self.nats: EmbeddedNats | None = None
        self.bus = JetStreamBus()
        self.bus_url = ""
        self.controller: ResourceController | None = None
        self.sync: FileSync | None = None
        self.port = options.port
        self._runner: web.AppRunner | None = None
        self._stop_watch = asyncio.Event()
        self._watch: asyncio.Task[None] | None = None
        self.sensors: SensorRuntime | None = None
        self.http: aiohttp.ClientSession | None = None
        self.nats_triggers: NatsConnections | None = None

    async def start(self) -> None:
        """Start every part; on a failure, what started is stopped again and the error raised."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        options = self.options
        missing = FileSync.missing(options.paths)
        if missing:
            raise SpecError(missing)
        await self._start_bus(find_event_bus(options.paths, self.engine))
        await self.engine.start(cron=True)
        runtime = EventSourceRuntime(
            self.bus, self.settings.data_dir, webhook_host=options.webhook_host
        )
        runtime.stream_config = self._stream_config
        self.http = aiohttp.ClientSession()
        self.nats_triggers = NatsConnections()
        triggers = TriggerContext(
            objects=LocalObjects(self.settings.data_dir),
            submitter=EngineSubmitter(self.engine),
            http=self.http,
            nats=self.nats_triggers,
        )
        self.sensors = SensorRuntime(self.bus, triggers, stream_config=self._stream_config)
        self.controller = ResourceController(
            self.engine, {"EventSource": runtime, "Sensor": self.sensors}
        )
        await self.controller.start()
        self.sync = sync = FileSync(options.paths, self.controller, poll=options.poll)
        problems = await sync.sync()
        await sync.prune()
        if problems:
            log.warning(
                "%d problem(s) in the given files; those resources were skipped", len(problems)
            )
        app = make_app(self.engine)
        add_routes(app, self.controller, self.bus, self.sensors)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, options.host, options.port)
        try:
            await site.start()
        except OSError as exc:
            where = f"{options.host}:{options.port}"
            raise SluiceError(f"the API server cannot listen on {where}: {exc.strerror}") from exc
        self.port = _bound_port(site) or options.port
        if options.paths:
            self._watch = asyncio.create_task(sync.run(self._stop_watch), name="up:watch-files")
            await asyncio.sleep(0)  # the watch registers in the task's first step
            await sync.sync()  # what changed before it did
        log.info("sluice up: API on http://%s:%d, bus %s", options.host, self.port, self.bus_url)

    async def _start_bus(self, event_bus: EventBus | None) -> None:
        url = self.options.eventbus or (event_bus.url if event_bus is not None else None)
        if url is None:
            max_payload = None
            if event_bus is not None and event_bus.max_payload is not None:
                max_payload = parse_size(event_bus.max_payload, "maxPayload")
            self.nats = EmbeddedNats(
                self.settings.data_dir, port=self.options.nats_port, max_payload=max_payload
            )
            await self.nats.start()
            url = self.nats.url
        self.bus_url = url
        await self.bus.connect(url)

    def _stream_config(self, namespace: str) -> dict[str, Any]:
        """The ``streamConfig`` of the namespace's EventBus ``default`` (``{}`` if none)."""
        stored = self.engine.store.get_resource("EventBus", namespace, DEFAULT_BUS)
        if stored is None:
            return {}
        try:
            return load_eventbus(RawResource("<stored>", 1, stored)).stream_config()
        except (SpecError, BusError) as exc:
            log.error(
                "eventbus/%s in %s: %s; using the default stream", DEFAULT_BUS, namespace, exc
            )
            return {}

    async def stop(self) -> None:
        """Stop in stages, each bounded by ``stage_timeout``; leftovers are logged."""
        self._stop_watch.set()
        stages: list[tuple[str, Awaitable[Any] | None]] = [
            ("file watch", self._watch),
            ("API server", self._runner.cleanup() if self._runner is not None else None),
            ("sources and sensors", self.controller.close() if self.controller else None),
            ("trigger clients", self._close_trigger_clients()),
            ("engine", self.engine.close()),
            ("bus connection", self.bus.close()),
            ("nats-server", self.nats.stop() if self.nats is not None else None),
        ]
        for name, stage in stages:
            if stage is None:
                continue
            try:
                await asyncio.wait_for(stage, self.options.stage_timeout)
            except TimeoutError:
                log.error(
                    "stopping the %s took over %.0fs; left behind", name, self.options.stage_timeout
                )
            except Exception:
                log.exception("stopping the %s failed", name)
        self._watch = self._runner = self.controller = None
        self.nats = None

    async def _close_trigger_clients(self) -> None:
        if self.http is not None:
            await self.http.close()
        if self.nats_triggers is not None:
            await self.nats_triggers.close()
        self.http = self.nats_triggers = None

    async def run(self, stop: asyncio.Event) -> None:
        """Start, run until ``stop`` is set, then stop."""
        await self.start()
        try:
            await stop.wait()
        finally:
            log.info("sluice up: shutting down")
            await self.stop()


def _bound_port(site: web.TCPSite) -> int | None:
    server = site._server  # aiohttp keeps the listening sockets here
    sockets = getattr(server, "sockets", None) or []
    with contextlib.suppress(IndexError, OSError):
        return int(sockets[0].getsockname()[1])
    return None


__all__ = ["Up", "UpOptions", "find_event_bus"]

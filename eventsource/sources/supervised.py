"""The lifecycle of sources whose events each run as a long-lived, supervised service.

A subscriber (Pub/Sub), a poller (SQS), a stream (MinIO) or a broker consumer (AMQP, MQTT,
Redis, NATS) runs until stopped, and a failure in it is retried with backoff by the
:class:`~sluice.core.supervise.Supervisor`, without touching the other events. Only a spec
problem (``SpecError``, ``PermanentError``) ends it for good: ``start`` raises the first such
problem, and ``wait`` raises one that comes later, so the runner reports the EventSource as
failed. Subclasses say which services they have (:meth:`ServiceSource.services`); this class
starts, watches and stops them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

from sluice.core.clock import Clock
from sluice.core.errors import PermanentError, SpecError
from sluice.core.supervise import RestartPolicy, Supervisor, until

if TYPE_CHECKING:
    from eventsource.adaptor import Adaptor

Ready = Callable[[], None]
"""Called by a service once it receives (its subscription made, its connection open)."""

Run = Callable[[Ready], Awaitable[None]]
"""One attempt of a service: runs until it fails, or returns once the source is stopping."""


class ServiceSource:
    """Starts, watches and stops one supervised service per event of a source."""

    def __init__(
        self,
        adaptor: Adaptor,
        *,
        clock: Clock | None = None,
        policy: RestartPolicy | None = None,
        grace: float = 10.0,
    ) -> None:
        self.adaptor = adaptor
        self.supervisor = Supervisor(
            f"eventsource/{adaptor.source_name}",
            clock=clock or adaptor.clock,
            policy=policy,
            grace=grace,
        )
        self._failed: asyncio.Future[None] | None = None

    def services(self) -> Iterable[tuple[str, Run]]:
        """Each event's service: its name (``eventsource/<source>:<type>:<event>``) and run."""
        raise NotImplementedError

    def service_name(self, event_type: str, event: str) -> str:
        return f"eventsource/{self.adaptor.source_name}:{event_type}:{event}"

    @property
    def stopping(self) -> asyncio.Event:
        """Set once the source is stopping: services return when they see it."""
        return self.supervisor.stopping

    async def start(self) -> None:
        """Raise the first spec problem, else return once every service receives or has
        failed its first attempt (it keeps retrying)."""
        self._failed = asyncio.get_running_loop().create_future()
        for name, run in self.services():
            self.supervisor.add(name, self._serving(name, run), wait_ready=True)
        await self.supervisor.settled()
        if self._failed.done():
            await self.stop()
            self._failed.result()

    async def wait(self) -> None:
        """Return once stopped; raise if a service failed for good."""
        assert self._failed is not None, "start() first"
        await until(self.stopping, asyncio.shield(self._failed))
        if self._failed.done() and not self.stopping.is_set():
            self._failed.result()

    async def stop(self) -> None:
        await self.supervisor.stop()

    def _serving(self, name: str, run: Run) -> Callable[[], Awaitable[None]]:
        async def serve() -> None:
            try:
                await run(lambda: self.supervisor.ready(name))
            except (SpecError, PermanentError) as exc:
                if self._failed is not None and not self._failed.done():
                    self._failed.set_exception(exc)
                raise

        return serve


__all__ = ["Ready", "Run", "ServiceSource"]

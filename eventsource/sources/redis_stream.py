"""The ``redisStream`` event source: entries of Redis streams become events, read by a group.

As Argo Events' ``redisStream`` source: it connects as the ``redis`` source does
(``hostAddress``, ``db``, ``username``, ``password``, ``tls``), creates the consumer group
``consumerGroup`` (default ``argo-events-cg``) on every stream in ``streams`` at ``$`` (so a new
group starts with the entries added from then on) unless it exists already, and reads all
streams with XREADGROUP as the consumer ``argo-events-worker``, at most ``maxMsgCountPerRead``
(default 10) entries per stream and read. Every stream must exist: a missing one fails the
attempt, which is retried, so the source starts once they all do. On each start it first reads
the entries this consumer was given but never acknowledged (from ``0``), then new ones (``>``),
so a restart resumes with the last unacknowledged entry. The event data of an entry is
``{"stream", "message_id", "values", "metadata"}`` with ``values`` its fields as strings.

An entry is XACKed only once the bus stored its event. When the bus was unavailable the entry
stays pending and the stream is read again from its oldest pending entry, so it is retried in
order (paced by the publish retry); when the bus refused it, it stays pending and is retried on
the next start, as Argo leaves an entry it could not dispatch. The event id is derived from the
source, event, stream and entry id, so an entry delivered again after a crash between the bus
ack and the XACK is stored once on the bus.

Deliberate differences: the event id (Argo's is random); a pending entry that was deleted from
the stream meanwhile is acknowledged and skipped with a warning.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from redis.exceptions import RedisError, ResponseError

from eventbus.errors import BusError, BusUnavailable
from eventsource.models.brokers import RedisStreamEventSource
from eventsource.registry import register
from eventsource.sources.brokers import BrokerError, BrokerListener, BrokerSource
from eventsource.sources.payloads import with_metadata
from eventsource.sources.redis import check_host, redis_client, text
from sluice.core.errors import SpecError
from sluice.core.supervise import until

log = logging.getLogger(__name__)

EVENT_TYPE = "redisStream"
DEFAULT_GROUP = "argo-events-cg"
CONSUMER = "argo-events-worker"
DEFAULT_COUNT = 10
BLOCK_MS = 2000  # as Argo; a stop does not wait for it
NEW = ">"


def event_data(
    stream: str, entry_id: str, values: dict[Any, Any], spec: RedisStreamEventSource
) -> dict[str, Any]:
    """Argo's ``RedisStreamEventData`` of one entry."""
    data = {
        "stream": stream,
        "message_id": entry_id,
        "values": {text(field): text(value) for field, value in values.items()},
    }
    return with_metadata(data, spec.metadata)


def entry_event_id(source: str, event: str, stream: str, entry_id: str) -> str:
    """The same id for every delivery of one entry to one event."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"redisStream:{source}/{event}/{stream}/{entry_id}").hex


class RedisStreamListener(BrokerListener[RedisStreamEventSource]):
    """One ``spec.redisStream.<name>``: its consumer group on every stream."""

    yaml_key = "redisStream"
    event_type = EVENT_TYPE

    def check(self) -> None:
        super().check()
        check_host(self, self.spec.host_address)
        if not self.spec.streams:
            raise SpecError([f"{self.where()}: streams must list at least one stream"])
        if self.spec.max_msg_count_per_read is not None and self.spec.max_msg_count_per_read < 0:
            raise SpecError([f"{self.where()}.maxMsgCountPerRead: must not be negative"])

    @property
    def group(self) -> str:
        return self.spec.consumer_group or DEFAULT_GROUP

    async def run(self, ready: Callable[[], None], stopping: asyncio.Event) -> None:
        with ExitStack() as stack:
            client = redis_client(self, self.spec, stack)
            try:
                await client.ping()
                for stream in self.spec.streams or []:
                    await self._create_group(client, stream)
                ready()
                await self._read(client, stopping)
            except (RedisError, OSError) as exc:
                raise BrokerError(f"{self.where()}: {exc}") from exc
            finally:
                await client.aclose()

    async def _create_group(self, client: Any, stream: str) -> None:
        try:
            await client.xgroup_create(stream, self.group, id="$")
            log.info("%s: created consumer group %s on %s", self.where(), self.group, stream)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise BrokerError(
                    f"{self.where()}: cannot create consumer group {self.group} on stream "
                    f"{stream} (it must exist): {exc}"
                ) from exc

    async def _read(self, client: Any, stopping: asyncio.Event) -> None:
        streams = list(dict.fromkeys(self.spec.streams or []))
        offsets = dict.fromkeys(streams, "0")  # this consumer's pending entries first
        count = self.spec.max_msg_count_per_read or DEFAULT_COUNT
        while not stopping.is_set():
            read = asyncio.ensure_future(
                client.xreadgroup(self.group, CONSUMER, offsets, count=count, block=BLOCK_MS)
            )
            if await until(stopping, read):
                return
            reply: list[Any] = read.result() or []
            got = {text(name): entries for name, entries in reply}
            for stream in streams:
                entries = got.get(stream, [])
                if offsets[stream] != NEW:  # reading pending entries: page on, then new ones
                    offsets[stream] = text(entries[-1][0]) if entries else NEW
                for entry_id, values in entries:
                    if not await self._handle(client, stream, text(entry_id), values):
                        offsets[stream] = "0"  # the bus is down: read pending again, in order
                        break

    async def _handle(self, client: Any, stream: str, entry_id: str, values: Any) -> bool:
        """Dispatch and XACK one entry; False when the bus was unavailable."""
        self.received += 1
        if values is None:
            log.warning(
                "%s: pending entry %s %s was deleted; acked", self.where(), stream, entry_id
            )
            await client.xack(stream, self.group, entry_id)
            return True
        data = event_data(stream, entry_id, values, self.spec)
        event_id = entry_event_id(self.adaptor.source_name, self.name, stream, entry_id)
        try:
            await self.adaptor.dispatch(self.name, EVENT_TYPE, data, event_id=event_id)
        except BusUnavailable as exc:
            self.failed += 1
            log.error(
                "%s: %s %s stays pending, bus unavailable: %s", self.where(), stream, entry_id, exc
            )
            return False
        except BusError as exc:
            self.failed += 1
            log.error(
                "%s: %s %s stays pending, bus refused it: %s", self.where(), stream, entry_id, exc
            )
            return True
        await client.xack(stream, self.group, entry_id)
        return True


@register("redisStream")
class RedisStreamSource(BrokerSource[RedisStreamListener]):
    """Every ``spec.redisStream`` event of one EventSource."""

    listener_class = RedisStreamListener


__all__ = [
    "CONSUMER",
    "DEFAULT_GROUP",
    "EVENT_TYPE",
    "RedisStreamListener",
    "RedisStreamSource",
    "entry_event_id",
    "event_data",
]

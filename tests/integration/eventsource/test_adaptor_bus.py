"""The adaptor on a real JetStream bus: a publish retried after a lost ack is stored once."""

from __future__ import annotations

import json
from collections.abc import Mapping

from eventbus.base import PublishAck
from eventbus.errors import BusUnavailable
from eventbus.jetstream import JetStreamBus
from eventsource.adaptor import Adaptor, RetryPolicy
from tests.conftest import FakeClock


class LostFirstAck(JetStreamBus):
    """The real bus, except that the first publish's ack never reaches the caller."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0

    async def publish(
        self, subject: str, payload: bytes, msg_id: str, headers: Mapping[str, str] | None = None
    ) -> PublishAck:
        ack = await super().publish(subject, payload, msg_id, headers)
        if not self.lost:
            self.lost += 1
            raise BusUnavailable("the ack was lost")
        return ack


async def test_retried_dispatch_is_stored_once(nats_url: str, namespace: str) -> None:
    bus = LostFirstAck()
    await bus.connect(nats_url)
    try:
        await bus.ensure_stream(namespace)
        clock = FakeClock()
        adaptor = Adaptor(bus, namespace, "src", clock=clock, retry=RetryPolicy(0.5, 2, 3))

        event_id = await adaptor.dispatch("ev", "webhook", {"body": {"x": 1}})

        assert clock.sleeps == [0.5]
        assert await bus.stream_message_count(namespace) == 1
        assert adaptor.metrics.published == {"ev": 1}
        assert adaptor.metrics.duplicates == {"ev": 1}
        consumer = await bus.subscribe(adaptor.subject("ev"), "check")
        [msg] = await consumer.fetch(10, timeout=2)
        assert msg.headers["Nats-Msg-Id"] == event_id
        assert json.loads(msg.data)["data"] == {"body": {"x": 1}}
    finally:
        await bus.close()

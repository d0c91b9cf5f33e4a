"""Publishes acked on one shared subscription (``eventbus.acks``), against a real nats-server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import StreamConfig

from eventbus.acks import AckedPublisher
from eventbus.errors import BusError, BusUnavailable
from eventbus.jetstream import JetStreamBus


@pytest.fixture
async def client(nats_url: str) -> AsyncIterator[Client]:
    nc = await nats.connect(nats_url)
    yield nc
    await nc.close()


@pytest.fixture
async def stream(client: Client) -> str:
    """A stream of its own over ``<name>.>``, taking messages of at most 64 bytes."""
    name = f"ACKS_{uuid.uuid4().hex[:10]}"
    await client.jetstream().add_stream(
        StreamConfig(name=name, subjects=[f"{name}.>"], max_msg_size=64)
    )
    return name


async def test_concurrent_publishes_get_their_own_sequence(client: Client, stream: str) -> None:
    acks = AckedPublisher(client, timeout=5.0)
    await acks.start()
    try:
        replies = await asyncio.gather(*(acks.publish(f"{stream}.m{i}", b"x") for i in range(300)))
        seqs = [ack.seq for ack in replies]
        assert sorted(seqs) == list(range(1, 301))
        assert {(ack.stream, ack.duplicate) for ack in replies} == {(stream, False)}
        stored = await client.jetstream().get_msg(stream, seqs[41])
        assert stored.subject == f"{stream}.m41"  # each sequence is its own message's
        assert acks.pending() == 0
    finally:
        await acks.close()


async def test_refused_message_is_an_error_with_the_servers_reason(
    client: Client, stream: str
) -> None:
    acks = AckedPublisher(client, timeout=5.0)
    await acks.start()
    try:
        with pytest.raises(BusError, match=r"refused.*(size|maximum)"):
            await acks.publish(f"{stream}.big", b"x" * 200)
        assert (await acks.publish(f"{stream}.small", b"ok")).seq == 1  # the next one is fine
    finally:
        await acks.close()


async def test_no_stream_is_an_error(client: Client) -> None:
    acks = AckedPublisher(client, timeout=5.0)
    await acks.start()
    try:
        with pytest.raises(BusError, match="no response from stream"):
            await acks.publish(f"nostream-{uuid.uuid4().hex}.x", b"x")
    finally:
        await acks.close()


async def test_missing_ack_times_out(client: Client) -> None:
    subject = f"silent-{uuid.uuid4().hex}.x"
    await client.subscribe(subject)  # someone listens, nobody answers
    acks = AckedPublisher(client, timeout=0.3)
    await acks.start()
    try:
        with pytest.raises(BusUnavailable, match=r"no publish ack within 0\.3s"):
            await asyncio.wait_for(acks.publish(subject, b"x"), timeout=5)
        assert acks.pending() == 0
    finally:
        await acks.close()


async def test_close_fails_what_still_waits(client: Client) -> None:
    subject = f"silent-{uuid.uuid4().hex}.x"
    await client.subscribe(subject)
    acks = AckedPublisher(client, timeout=30.0)
    await acks.start()
    waiting = asyncio.create_task(acks.publish(subject, b"x"))
    while acks.pending() == 0:
        await asyncio.sleep(0.01)
    await acks.close()
    with pytest.raises(BusUnavailable, match="closed"):
        await waiting
    with pytest.raises(BusUnavailable, match="not connected"):
        await acks.publish(subject, b"x")


async def test_a_repeated_message_id_is_reported_as_a_duplicate(
    client: Client, stream: str
) -> None:
    acks = AckedPublisher(client, timeout=5.0)
    await acks.start()
    try:
        first = await acks.publish(f"{stream}.a", b"x", {"Nats-Msg-Id": "same"})
        again = await acks.publish(f"{stream}.a", b"x", {"Nats-Msg-Id": "same"})
    finally:
        await acks.close()
    assert (first.duplicate, again.duplicate, again.seq) == (False, True, first.seq)


async def test_kv_put_goes_through_it_and_checks_the_key(bus: JetStreamBus) -> None:
    kv = await bus.kv(f"acks-{uuid.uuid4().hex[:8]}")
    first = await kv.put("fired.a", b"1")
    assert await kv.put("fired.a", b"2") == first + 1
    assert await kv.get("fired.a") == b"2"
    for bad in ("has space", "wild.*", "", ".lead", "trail."):
        with pytest.raises(BusError, match="not a valid key"):
            await kv.put(bad, b"x")

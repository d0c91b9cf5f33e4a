"""JetStream publishes whose acks come back on one shared subscription.

nats-py's ``JetStreamContext.publish`` is a request: a fresh reply token and an
``asyncio.wait_for`` timer for every message. A sensor writes a firing mark for every event it
fires for, and that per-message overhead was a tenth of its time. Here every publish gets a
numbered reply subject under one wildcard subscription, its future is resolved by the ack, and
one timer, armed only while acks are outstanding, fails those overdue. The caller still awaits
its own ack: nothing is reported written before the server has stored it.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import time
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from eventbus.base import PublishAck
from eventbus.errors import BusError, BusUnavailable

__all__ = ["AckedPublisher"]

_NO_RESPONDERS = "503"


class AckedPublisher:
    """Publishes to JetStream and waits for the stored message's sequence number."""

    def __init__(self, nc: Client, timeout: float) -> None:
        self._nc = nc
        self.timeout = timeout
        self._prefix = ""
        self._sub: Subscription | None = None
        self._numbers = itertools.count()
        self._waiting: dict[str, asyncio.Future[PublishAck]] = {}
        self._deadlines: collections.deque[tuple[float, str]] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        """Subscribe to the replies; before the first publish."""
        self._prefix = self._nc.new_inbox() + "."
        self._sub = await self._nc.subscribe(self._prefix + "*", cb=self._on_reply)

    async def close(self) -> None:
        """Fail what is still waiting and stop listening."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(BusUnavailable("the bus connection was closed"))
        self._waiting.clear()
        self._deadlines.clear()
        if self._sub is not None:
            sub, self._sub = self._sub, None
            await sub.unsubscribe()

    def pending(self) -> int:
        """How many publishes wait for their ack."""
        return len(self._waiting)

    async def publish(
        self, subject: str, payload: bytes, headers: dict[str, str] | None = None
    ) -> PublishAck:
        """Publish and return once the server stored it (or found it a duplicate).

        As nats-py's JetStream publish: ``BusError`` when no stream takes the subject or the
        server refuses the message (with its reason), ``BusUnavailable`` when JetStream says
        it is unavailable or no ack comes within ``timeout`` seconds. nats-py's own errors (a
        closed connection) pass through for the caller to translate.
        """
        if self._sub is None:
            raise BusUnavailable("the bus is not connected")
        token = str(next(self._numbers))
        future: asyncio.Future[PublishAck] = asyncio.get_running_loop().create_future()
        self._waiting[token] = future
        self._deadlines.append((time.monotonic() + self.timeout, token))
        if self._timer is None:
            self._arm()
        try:
            await self._nc.publish(subject, payload, reply=self._prefix + token, headers=headers)
            return await future
        finally:
            self._waiting.pop(token, None)

    async def _on_reply(self, msg: Msg) -> None:
        future = self._waiting.pop(msg.subject[len(self._prefix) :], None)
        if future is None or future.done():  # timed out or cancelled meanwhile
            return
        if msg.headers and msg.headers.get("Status") == _NO_RESPONDERS:
            future.set_exception(BusError("nats: no response from stream"))
            return
        try:
            reply: Any = json.loads(msg.data)
            error = reply.get("error")
            if error is not None:
                refused = f"the server refused the message: {error.get('description', error)}"
                unavailable = error.get("code") == 503
                future.set_exception(BusUnavailable(refused) if unavailable else BusError(refused))
                return
            ack = PublishAck(
                stream=str(reply.get("stream", "")),
                seq=int(reply["seq"]),
                duplicate=bool(reply.get("duplicate", False)),
            )
            future.set_result(ack)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            future.set_exception(BusError(f"unreadable publish ack {msg.data[:200]!r}: {exc}"))

    def _arm(self) -> None:
        delay = max(0.0, self._deadlines[0][0] - time.monotonic())
        self._timer = asyncio.get_running_loop().call_later(delay + 0.05, self._expire)

    def _expire(self) -> None:
        self._timer = None
        now = time.monotonic()
        while self._deadlines and self._deadlines[0][0] <= now:
            _, token = self._deadlines.popleft()
            future = self._waiting.pop(token, None)
            if future is not None and not future.done():
                future.set_exception(BusUnavailable(f"no publish ack within {self.timeout:g}s"))
        while self._deadlines and self._deadlines[0][1] not in self._waiting:
            self._deadlines.popleft()  # acked already: no need to wake for it
        if self._deadlines:
            self._arm()

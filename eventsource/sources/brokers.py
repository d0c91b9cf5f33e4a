"""What the message-broker sources (amqp, mqtt, redis, redisStream, nats) have in common.

Each of them connects to a broker, receives messages and turns each into Argo's event data. The
parts that do not depend on the broker live here, so the five modules hold only their protocol
(the payload as Argo shapes it is ``eventsource.sources.payloads``, shared with SQS and Pub/Sub):

* :class:`TLSFiles` and :func:`tls_files`: Argo's ``tls`` block (``caCertSecret``,
  ``clientCertSecret``, ``clientKeySecret``, ``insecureSkipVerify``) as files and an
  ``ssl.SSLContext``, checked as Argo's ``GetTLSConfig`` checks it;
* :class:`Inbox`: what the broker's callbacks hand to the one loop that dispatches, so a stop
  never interrupts a message half-way (in-flight work finishes within the supervisor's grace);
* :class:`BrokerListener` and :class:`BrokerSource`: one listener per event, each run as a
  supervised service (restarted with backoff when the broker connection fails, failed for good
  on a spec problem), with the ``start``/``wait``/``stop`` lifecycle every source has.

Deliberate difference from Argo, for all five: ``connectionBackoff`` is the adaptor's publish
retry (as for every source); reconnecting to the broker uses the supervisor's restart backoff.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import ssl
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Self, TypeVar

from eventbus.errors import BusError
from eventsource.adaptor import Adaptor
from eventsource.models import EventSource
from eventsource.models.common import BasicAuth, SecretKeySelector, TLSConfig
from eventsource.registry import SourceContext
from eventsource.secrets import LocalSecrets, SecretNotFound
from eventsource.sources.supervised import Ready, Run, ServiceSource
from sluice.core.clock import Clock
from sluice.core.errors import SluiceError, SpecError
from sluice.core.supervise import until

log = logging.getLogger(__name__)

T = TypeVar("T")
INBOX_SIZE = (
    256  # messages received but not dispatched yet; the broker's own flow control holds the rest
)


class BrokerError(SluiceError):
    """The broker connection failed or ended; the service restarts with backoff."""


@dataclass(frozen=True)
class TLSFiles:
    """The PEM files of a ``tls`` block, valid inside :func:`tls_files`."""

    ca: str | None
    cert: str | None
    key: str | None
    insecure: bool

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.ca)
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert and self.key:
            ctx.load_cert_chain(self.cert, self.key)
        return ctx


def check_tls(tls: TLSConfig, where: str) -> None:
    """Argo's ``GetTLSConfig`` checks; ``SpecError`` naming ``where`` (``spec.mqtt.x.tls``)."""
    has_cert, has_key = tls.client_cert_secret is not None, tls.client_key_secret is not None
    if not (tls.ca_cert_secret or has_cert or has_key or tls.insecure_skip_verify):
        raise SpecError(
            [f"{where}: set caCertSecret, clientCertSecret and clientKeySecret, or some of them"]
        )
    if has_cert != has_key:
        raise SpecError([f"{where}: clientCertSecret and clientKeySecret go together"])


@contextmanager
def tls_files(tls: TLSConfig, read: Callable[[SecretKeySelector, str], str]) -> Iterator[TLSFiles]:
    """Write the ``tls`` secrets (read with ``read(selector, what)``) to a private folder."""
    secrets = {
        "ca": ("caCertSecret", tls.ca_cert_secret),
        "cert": ("clientCertSecret", tls.client_cert_secret),
        "key": ("clientKeySecret", tls.client_key_secret),
    }
    with tempfile.TemporaryDirectory(prefix="sluice-tls-") as folder:
        paths: dict[str, str | None] = dict.fromkeys(secrets)
        for name, (field, selector) in secrets.items():
            if selector is not None:
                path = paths[name] = os.path.join(folder, name + ".pem")
                with open(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600), "w") as fh:
                    fh.write(read(selector, f"tls.{field}"))
        yield TLSFiles(paths["ca"], paths["cert"], paths["key"], bool(tls.insecure_skip_verify))


class Inbox(Generic[T]):
    """Messages from a broker's callbacks to the dispatch loop, or the error that ended them."""

    def __init__(self, size: int = INBOX_SIZE) -> None:
        self._queue: asyncio.Queue[tuple[T | None, BaseException | None]] = asyncio.Queue(size)

    async def put(self, item: T) -> None:
        await self._queue.put((item, None))

    def fail(self, error: BaseException) -> None:
        """Hand the loop ``error`` (the connection was lost), behind the messages received."""
        try:
            self._queue.put_nowait((None, error))
        except asyncio.QueueFull:  # the loop is busy; it finds the broken connection itself
            log.debug("inbox full; dropped the failure %s", error)

    async def get(self, stopping: asyncio.Event) -> T | None:
        """The next message, None once ``stopping`` is set; raises what :meth:`fail` gave."""
        if stopping.is_set():
            return None
        getter = asyncio.ensure_future(self._queue.get())
        if not await until(stopping, asyncio.shield(getter)) or getter.done():
            item, error = await getter
            if error is not None:
                raise error
            return item
        getter.cancel()
        return None


class BrokerListener(Generic[T]):
    """One event of a broker type: its spec, its secrets, and how a message is dispatched.

    Subclasses implement :meth:`run`: connect, call ``ready()`` once receiving, and dispatch
    until ``stopping`` is set.
    """

    yaml_key: ClassVar[str] = ""
    event_type: ClassVar[str] = ""

    def __init__(
        self, name: str, spec: T, adaptor: Adaptor, secrets: LocalSecrets | None = None
    ) -> None:
        self.name = name
        self.spec = spec
        self.adaptor = adaptor
        self.secrets = secrets
        self.received = 0
        self.failed = 0  # not shaped into event data, or not stored by the bus

    def where(self) -> str:
        return f"eventsource/{self.adaptor.source_name}: spec.{self.yaml_key}.{self.name}"

    def check(self) -> None:
        """Raise ``SpecError`` for what no retry can fix; called before the first attempt."""
        tls: TLSConfig | None = getattr(self.spec, "tls", None)
        if tls is not None:
            check_tls(tls, f"{self.where()}.tls")
        auth = getattr(self.spec, "auth", None)
        basic = getattr(auth, "basic", auth)  # nats nests basic auth one level down
        if isinstance(basic, BasicAuth) and (basic.username is None or basic.password is None):
            raise SpecError([f"{self.where()}.auth: username and password go together"])

    def secret(self, selector: SecretKeySelector, what: str) -> str:
        """A secret's value; ``SpecError`` without a secret store, ``BrokerError`` (retried, as
        Argo retries) when the secret is missing."""
        if self.secrets is None:
            raise SpecError([f"{self.where()}: {what} needs a data directory for secrets"])
        try:
            return self.secrets.selected(selector)
        except SecretNotFound as exc:
            raise BrokerError(f"{self.where()}: cannot read {what}: {exc}") from exc

    def tls(self) -> AbstractContextManager[TLSFiles]:
        """``tls_files`` for the spec's ``tls`` block (call only when it is set)."""
        tls: TLSConfig = self.spec.tls  # type: ignore[attr-defined]
        return tls_files(tls, self.secret)

    async def dispatch(self, data: Mapping[str, Any], event_id: str | None = None) -> bool:
        """Publish one event; whether the bus stored it (or the filter left it out), so the
        message may be acknowledged upstream."""
        try:
            await self.adaptor.dispatch(self.name, self.event_type, data, event_id=event_id)
        except BusError as exc:
            self.failed += 1
            log.error("%s: event not stored on the bus: %s", self.where(), exc)
            return False
        return True

    def unshaped(self, what: str, exc: Exception) -> None:
        """Log a message that cannot become event data (Argo drops it too)."""
        self.failed += 1
        log.error("%s: %s cannot become an event, dropped: %s", self.where(), what, exc)

    async def run(self, ready: Callable[[], None], stopping: asyncio.Event) -> None:
        raise NotImplementedError


L = TypeVar("L", bound=BrokerListener[Any])


class BrokerSource(ServiceSource, Generic[L]):
    """Every event of one broker type in one EventSource, each a supervised service."""

    listener_class: ClassVar[type[BrokerListener[Any]]]

    def __init__(
        self,
        event_source: EventSource,
        adaptor: Adaptor,
        *,
        secrets: LocalSecrets | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(adaptor, clock=clock)
        key = self.listener_class.yaml_key
        events = event_source.spec.events().get(key, {})
        self.listeners: list[L] = [
            self.listener_class(name, spec, adaptor, secrets)  # type: ignore[misc]
            for name, spec in sorted(events.items())
        ]

    @classmethod
    def from_context(
        cls, event_source: EventSource, adaptor: Adaptor, context: SourceContext
    ) -> Self:
        return cls(event_source, adaptor, secrets=context.secrets, clock=context.clock)

    def services(self) -> list[tuple[str, Run]]:
        return [
            (
                self.service_name(listener.yaml_key, listener.name),
                functools.partial(self._listen, listener),
            )
            for listener in self.listeners
        ]

    async def start(self) -> None:
        for listener in self.listeners:
            listener.check()  # spec problems before anything connects
        await super().start()

    async def _listen(self, listener: L, ready: Ready) -> None:
        await listener.run(ready, self.stopping)

    def counts(self) -> Mapping[str, tuple[int, int]]:
        """Received and failed messages, by event."""
        return {item.name: (item.received, item.failed) for item in self.listeners}


__all__ = [
    "BrokerError",
    "BrokerListener",
    "BrokerSource",
    "Inbox",
    "TLSFiles",
    "check_tls",
    "tls_files",
]

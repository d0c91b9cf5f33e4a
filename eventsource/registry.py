"""Which event types sluice can run: source classes registered by the YAML key they serve.

Each ``sources/<type>.py`` module registers its class with ``@register("pubSub")``; the app asks
:func:`supported` before it starts an EventSource and reports the rest with
:func:`unsupported_message`. ``EVENT_TYPES`` comes from ``EventSourceSpec``'s fields, so the
model and the registry cannot drift apart: registering a key the model does not have fails.
The only mutable state is the registry's own mapping, filled while source modules are imported;
callers see it read-only through ``SOURCES``.

Every source class has the same lifecycle (:class:`Source`), so a runner can start any of them
without knowing its type: ``from_context(event_source, adaptor, context)`` builds it from a
:class:`SourceContext` (what sources need from the process: data directory, secrets, the shared
webhook servers, the clock), ``start()`` returns once it serves, ``wait()`` returns or raises
only when it stopped working on its own, and ``stop()`` ends it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from eventsource.models import EventSource, event_type_fields
from eventsource.secrets import LocalSecrets
from sluice.core.clock import Clock, SystemClock

if TYPE_CHECKING:
    from eventsource.adaptor import Adaptor

EVENT_TYPES: tuple[str, ...] = event_type_fields()

S = TypeVar("S", bound=type[Any])


class WebhookServerPool(Protocol):
    """The HTTP servers webhook routes share (``sources.webhook.WebhookServers``)."""

    host: str

    async def add(self, port: int, route: Any) -> None: ...

    async def remove(self, port: int, route: Any) -> None: ...


@dataclass
class SourceContext:
    """What sources take from the process they run in, whatever their type."""

    data_dir: Path | None = None  # calendar state files
    secrets: LocalSecrets | None = None
    webhook_servers: WebhookServerPool | None = None  # None: each webhook source has its own
    clock: Clock = field(default_factory=SystemClock)
    host: str = "0.0.0.0"  # where webhook servers listen


class Source(Protocol):
    """The lifecycle every registered source class has."""

    @classmethod
    def from_context(
        cls, event_source: EventSource, adaptor: Adaptor, context: SourceContext
    ) -> Source: ...

    async def start(self) -> None: ...

    async def wait(self) -> None: ...

    async def stop(self) -> None: ...


class SourceRegistry(Mapping[str, type[Any]]):
    """Source classes by YAML key; a key is registered once, and only if the model has it."""

    def __init__(self, event_types: tuple[str, ...] = EVENT_TYPES) -> None:
        self._event_types = frozenset(event_types)
        self._sources: dict[str, type[Any]] = {}
        self.view: Mapping[str, type[Any]] = MappingProxyType(self._sources)

    def register(self, yaml_key: str) -> Callable[[S], S]:
        """Class decorator: ``@register("webhook") class WebhookSource: ...``."""

        def decorate(cls: S) -> S:
            if yaml_key not in self._event_types:
                raise ValueError(f"{yaml_key!r} is not an EventSource event type")
            existing = self._sources.get(yaml_key)
            if existing is not None and existing is not cls:
                raise ValueError(
                    f"{yaml_key!r} is already served by {existing.__module__}.{existing.__name__}"
                )
            self._sources[yaml_key] = cls
            return cls

        return decorate

    def supported(self, yaml_key: str) -> bool:
        return yaml_key in self._sources

    def __getitem__(self, yaml_key: str) -> type[Any]:
        return self._sources[yaml_key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)


_REGISTRY = SourceRegistry()

SOURCES: Mapping[str, type[Any]] = _REGISTRY.view
register = _REGISTRY.register
supported = _REGISTRY.supported


def unsupported_message(source_name: str, yaml_key: str) -> str:
    """How an EventSource using a type with no registered source is reported."""
    return f"eventsource/{source_name}: {yaml_key} is not supported yet"


__all__ = [
    "EVENT_TYPES",
    "SOURCES",
    "Source",
    "SourceContext",
    "SourceRegistry",
    "WebhookServerPool",
    "register",
    "supported",
    "unsupported_message",
]

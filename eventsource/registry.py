"""Which event types sluice can run: source classes registered by the YAML key they serve.

Each ``sources/<type>.py`` module registers its class with ``@register("pubSub")``; the app asks
:func:`supported` before it starts an EventSource and reports the rest with
:func:`unsupported_message`. ``EVENT_TYPES`` comes from ``EventSourceSpec``'s fields, so the
model and the registry cannot drift apart: registering a key the model does not have fails.
The only mutable state is the registry's own mapping, filled while source modules are imported;
callers see it read-only through ``SOURCES``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from eventsource.models import event_type_fields

EVENT_TYPES: tuple[str, ...] = event_type_fields()

S = TypeVar("S", bound=type[Any])


class SourceRegistry:
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
    "SourceRegistry",
    "register",
    "supported",
    "unsupported_message",
]

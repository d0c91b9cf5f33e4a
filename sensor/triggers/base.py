"""What every trigger type shares: the firing it acts on, its outcome, its errors, its registry.

A trigger runs as Argo Events runs one (``pkg/sensors/listener.go``: fetch resource → apply
parameters → execute → apply policy), split so that parameters stay out of the trigger types:

1. ``impl = build(trigger, context)`` for each firing, after the trigger-level ``parameters``
   have been applied to the ``Trigger`` (they may rewrite the template, as in Argo). The
   ``Trigger`` is taken whole, not only its template: the result ``policy`` lives beside it.
2. ``resource = await impl.resource()``: the JSON-like value the trigger type's own
   ``parameters`` apply to. ``k8s`` and ``argoWorkflow``: the Kubernetes object fetched from
   ``source`` (:mod:`sensor.triggers.fetch`); ``http``, ``nats``, ``log``: the type's spec as a
   YAML dict (``http.method`` defaulted to ``POST``), so a parameter with ``dest: url`` rewrites
   the URL as in Argo. It is a fresh copy each time: the caller may change it in place.
3. The caller applies the type's ``parameters`` to ``resource`` and builds ``payload`` from its
   ``payload`` parameters (Argo's ``ConstructPayload``: JSON bytes built from nothing, or one
   parameter's raw value when it has no ``dest``; ``None`` when the type has no payload list).
4. ``outcome = await impl.fire(firing, resource, payload)`` acts, applies the result policy
   (``policy.status.allow`` for ``http``) and says what it did; it raises :class:`TriggerError`
   whose ``retryable`` tells :func:`sensor.triggers.policy.with_retry` whether another attempt
   can help.

``retryStrategy`` and ``rateLimit`` wrap step 4 (:mod:`sensor.triggers.policy`); ``atLeastOnce``
and ``dlqTrigger`` belong to the sensor runner. State a type keeps across firings (``log``'s
last log time) lives in ``TriggerContext.memory``, since a trigger object lasts one firing.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from sensor.models import Trigger, trigger_type_fields
from sluice.core.clock import Clock, SystemClock
from sluice.core.errors import SluiceError
from sluice.core.objects import LocalObjects

if TYPE_CHECKING:
    import aiohttp

    from sensor.triggers.workflow import WorkflowSubmitter

TRIGGER_TYPES: tuple[str, ...] = trigger_type_fields()


@dataclass(frozen=True)
class Firing:
    """One firing of one trigger: the events that satisfied its condition, and its key.

    ``events`` maps each dependency name to its event as a CloudEvent JSON dict (``id``,
    ``source``, ``subject``, ``type``, ``time``, ``datacontenttype``, ``data``). The same events
    always give the same ``idempotency_key``, so a redelivered firing submits nothing new.
    ``labels`` are extra labels the caller wants on what the trigger creates.
    """

    namespace: str
    sensor: str
    trigger: str
    events: Mapping[str, Mapping[str, Any]]
    idempotency_key: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def event_ids(self) -> list[str]:
        """The events' ids, in dependency-name order."""
        return [str(self.events[dep].get("id", "")) for dep in sorted(self.events)]

    def where(self) -> str:
        return f"sensor {self.namespace}/{self.sensor}: trigger {self.trigger}"


@dataclass(frozen=True)
class Outcome:
    """What a firing did: ``workflow`` names the workflow it submitted or acted on, and
    ``duplicate`` says the submission was already done for the same idempotency key."""

    detail: str
    workflow: str | None = None
    duplicate: bool = False


class TriggerError(SluiceError):
    """A firing failed. ``retryable``: another attempt may succeed (a network error, a 503);
    otherwise only a change to the Sensor or its environment can fix it."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def unsupported(what: str) -> TriggerError:
    """The error for a feature sluice does not implement: never retried."""
    return TriggerError(f"{what} is not supported yet", retryable=False)


class NatsPublisher(Protocol):
    """Publishes core NATS messages for the ``nats`` trigger (``nats.NatsConnections``)."""

    async def publish(
        self, url: str, subject: str, payload: bytes, *, auth: Mapping[str, str] | None = None
    ) -> None: ...


@dataclass
class TriggerContext:
    """What triggers take from the process they run in, whatever their type.

    ``http``: a shared aiohttp session (None: each request opens its own). ``nats``: shared
    NATS connections (None: each publish connects and closes). ``memory``: what trigger types
    keep across firings, each under keys of its own.
    """

    objects: LocalObjects | None = None
    submitter: WorkflowSubmitter | None = None
    http: aiohttp.ClientSession | None = None
    nats: NatsPublisher | None = None
    clock: Clock = field(default_factory=SystemClock)
    memory: dict[str, Any] = field(default_factory=dict)

    def secret(self, kind: str, name: str | None, key: str, what: str) -> str:
        """A secret's or config map's key, read from the local objects."""
        if self.objects is None:
            raise TriggerError(f"{what}: no local secrets or config maps here", retryable=False)
        try:
            return self.objects.get(kind, name or "", key)
        except LookupError as exc:
            raise TriggerError(f"{what}: {exc}", retryable=False) from exc


class TriggerImpl(abc.ABC):
    """Base of the registered trigger classes; one instance serves one firing."""

    key: ClassVar[str]

    def __init__(self, trigger: Trigger, context: TriggerContext) -> None:
        self.trigger = trigger
        self.context = context

    @property
    def name(self) -> str:
        return self.trigger.name

    @abc.abstractmethod
    async def resource(self) -> Any:
        """The value the type's ``parameters`` apply to (see the module docstring)."""

    @abc.abstractmethod
    async def fire(self, firing: Firing, resource: Any, payload: bytes | None = None) -> Outcome:
        """Act on the resolved ``resource`` (and ``payload``); raises :class:`TriggerError`."""


T = TypeVar("T", bound=type[TriggerImpl])


class TriggerRegistry(Mapping[str, type[TriggerImpl]]):
    """Trigger classes by YAML key; a key is registered once, and only if the model has it."""

    def __init__(self, trigger_types: tuple[str, ...] = TRIGGER_TYPES) -> None:
        self._trigger_types = frozenset(trigger_types)
        self._classes: dict[str, type[TriggerImpl]] = {}
        self.view: Mapping[str, type[TriggerImpl]] = MappingProxyType(self._classes)

    def register(self, yaml_key: str) -> Callable[[T], T]:
        """Class decorator: ``@register("http") class HTTPTrigger(TriggerImpl): ...``."""

        def decorate(cls: T) -> T:
            if yaml_key not in self._trigger_types:
                raise ValueError(f"{yaml_key!r} is not a trigger type")
            existing = self._classes.get(yaml_key)
            if existing is not None and existing is not cls:
                raise ValueError(
                    f"{yaml_key!r} is already served by {existing.__module__}.{existing.__name__}"
                )
            cls.key = yaml_key
            self._classes[yaml_key] = cls
            return cls

        return decorate

    def build(self, trigger: Trigger, context: TriggerContext) -> TriggerImpl:
        """The trigger object for one firing of ``trigger``; its type must be registered."""
        types = list(trigger.template.trigger_types())
        if len(types) != 1:
            found = ", ".join(types) or "none"
            raise TriggerError(
                f"trigger {trigger.name}: expected exactly one trigger type, found {found}",
                retryable=False,
            )
        cls = self._classes.get(types[0])
        if cls is None:
            raise unsupported(f"trigger {trigger.name}: the {types[0]} trigger")
        return cls(trigger, context)

    def __getitem__(self, yaml_key: str) -> type[TriggerImpl]:
        return self._classes[yaml_key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)


# The only mutable state: the registry's mapping, filled while trigger modules are imported.
_REGISTRY = TriggerRegistry()

TRIGGERS: Mapping[str, type[TriggerImpl]] = _REGISTRY.view
register = _REGISTRY.register
build = _REGISTRY.build


def supported(yaml_key: str) -> bool:
    return yaml_key in TRIGGERS


__all__ = [
    "TRIGGERS",
    "TRIGGER_TYPES",
    "Firing",
    "NatsPublisher",
    "Outcome",
    "TriggerContext",
    "TriggerError",
    "TriggerImpl",
    "TriggerRegistry",
    "build",
    "register",
    "supported",
    "unsupported",
]

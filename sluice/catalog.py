"""Every kind sluice accepts, how the CLI may name it, and how one document of it is checked.

``sluice up``, ``apply``, ``get``, ``delete`` and ``lint`` take resources of several components:
the engine's kinds, EventSources, EventBuses and Sensors. This table is the one place that knows
which component validates which kind, so each command asks it instead of keeping its own list.
Names follow kubectl: the kind (``EventSource``), its lowercase forms, its plural
(``eventsources``) and Argo's short names (``es``, ``wf``, ``cwf``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from engine.lint import lint_documents
from engine.templates import STORED_KINDS
from eventbus.errors import BusError
from eventbus.models import load_eventbus
from eventbus.streams import StreamSettings
from eventsource.models import parse_event_source
from sensor import parse_sensor
from sluice.core.errors import SpecError
from sluice.core.resources import RawResource, iter_resource_files, load_file


@dataclass(frozen=True)
class Kind:
    """One kind: its names, and whether it lives in a namespace."""

    name: str
    plural: str
    namespaced: bool
    aliases: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        singular = self.name.lower()
        return (self.name, singular, self.plural, *self.aliases)


def _check_event_source(raw: RawResource) -> list[str]:
    parse_event_source(raw)
    return []


def _check_event_bus(raw: RawResource) -> list[str]:
    bus = load_eventbus(raw)
    try:
        StreamSettings.from_config(bus.stream_config())
    except BusError as exc:
        return [f"{raw.where()}: spec: {exc}"]
    return []


def _check_sensor(raw: RawResource) -> list[str]:
    parse_sensor(raw)
    return []


ENGINE_KINDS = ("Workflow", *STORED_KINDS)

KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("Workflow", "workflows", True, ("wf",)),
        *(Kind(s.name, s.plural, s.namespaced, s.aliases) for s in STORED_KINDS.values()),
        Kind("EventSource", "eventsources", True, ("es",)),
        Kind("EventBus", "eventbus", True, ("eb", "eventbuses")),
        Kind("Sensor", "sensors", True, ("sn",)),
    )
}

# kinds checked one document at a time; the engine's kinds are linted together (templateRefs)
_CHECKS: dict[str, Callable[[RawResource], list[str]]] = {
    "EventSource": _check_event_source,
    "EventBus": _check_event_bus,
    "Sensor": _check_sensor,
}


def find_kind(text: str) -> Kind | None:
    """The kind ``text`` names (``EventSource``, ``eventsources``, ``es``), or None."""
    for kind in KINDS.values():
        if text in kind.names():
            return kind
    return None


def check(raw: RawResource) -> list[str]:
    """The problems of one document of a non-engine kind (``[]`` when it is fine)."""
    checker = _CHECKS.get(raw.kind)
    if checker is None:
        if raw.kind in ENGINE_KINDS:
            return lint_documents([raw])
        return [f"{raw.where()}: kind: {unknown_kind(raw.kind)}"]
    try:
        return checker(raw)
    except SpecError as exc:
        return list(exc.problems)


def unknown_kind(kind: str) -> str:
    if not kind:
        return "required field is missing"
    return f"unknown kind '{kind}'; expected one of {', '.join(KINDS)}"


def lint_paths(paths: Iterable[str | Path]) -> list[str]:
    """Every problem in every resource under ``paths``, in file order.

    Engine kinds are linted together so a Workflow's ``templateRef`` finds a WorkflowTemplate
    in another file; the other kinds are checked one document at a time.
    """
    documents: list[RawResource | list[str]] = []
    for file in iter_resource_files(paths):
        try:
            documents.extend(load_file(file))
        except SpecError as exc:
            documents.append(exc.problems)
    engine_docs = [d for d in documents if isinstance(d, RawResource) and d.kind in ENGINE_KINDS]
    engine_problems = iter(lint_documents(engine_docs)) if engine_docs else iter(())
    problems: list[str] = []
    # the engine's problems are reported where its first document sits
    engine_reported = False
    for doc in documents:
        if isinstance(doc, list):
            problems.extend(doc)
        elif doc.kind in ENGINE_KINDS:
            if not engine_reported:
                problems.extend(engine_problems)
                engine_reported = True
        else:
            problems.extend(check(doc))
    return problems


__all__ = ["ENGINE_KINDS", "KINDS", "Kind", "check", "find_kind", "lint_paths", "unknown_kind"]

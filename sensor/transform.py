"""A dependency's ``transform``: a jq program that rewrites an event's data before its filters.

A sensor compiles one :class:`DependencyTransform` per dependency when it starts and calls
:meth:`DependencyTransform.apply` on every event of that dependency, before
:meth:`sensor.filters.DependencyFilter.evaluate`. The semantics are those of argo-events'
``applyJQTransform`` (``pkg/sensors/dependencies/transform.go``) and of the event bus's
``processDependency``, which applies it:

* the program sees the event's data only, not its context attributes; the filters, the kept
  state, the parameters and the triggers all see the transformed event;
* an event without data passes unchanged;
* the data must be a JSON object (``data``, or ``data_base64`` that decodes to one); the
  program's *first* output becomes the new data and must be a JSON object too; the event's
  ``datacontenttype`` becomes ``application/json``;
* otherwise (data that is not JSON or not an object, a jq error, no output, an output that is
  not an object) Argo logs an error and discards the event for this dependency. Here
  :meth:`~DependencyTransform.apply` returns a failed ``transform`` :class:`Verdict` saying why;
  nothing raises on a bad event.

Argo runs jq with gojq's defaults, under which ``env`` and ``$ENV`` are empty and modules
cannot be loaded; the program is wrapped so libjq behaves the same, and a sensor's jq cannot
read sluice's environment. A Lua ``script`` is not supported (validation reports it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jq

from sensor.decisions import json_kind
from sensor.filter_data import Verdict
from sensor.filters import NO_DATA, InvalidData, event_payload
from sensor.models import EventDependencyTransformer
from sluice.core.errors import SpecError

__all__ = ["DependencyTransform", "TransformResult", "TransformSpecError", "jq_problem"]

# gojq's defaults, which Argo keeps: no environment variables, no modules. The program stays
# on the first line, so jq's line numbers are the user's; a newline ends a trailing comment.
_GUARD_HEAD = "def env: {}; {} as $ENV | ("
_GUARD_TAIL = "\n)"


class TransformSpecError(SpecError):
    """A transform sluice cannot run at all (a Lua ``script``); the Sensor must be changed."""


@dataclass(frozen=True, slots=True)
class TransformResult:
    passed: bool
    event: Mapping[str, Any]  # the transformed event; the original when it did not pass
    verdicts: tuple[Verdict, ...]  # empty without a jq program


def _compile_error(exc: ValueError) -> str:
    """libjq's message in one line: 'jq: error: X at <top-level>, line 1, column 4:' -> X..."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else "does not compile"
    return first.removeprefix("jq: error: ").rstrip(":")


def _compile(program: str) -> tuple[Any, str]:
    """The guarded program compiled, or None and why it does not compile."""
    try:
        jq.compile(program)  # unguarded first, so an error's columns are the user's
    except ValueError as exc:
        return None, _compile_error(exc)
    try:
        return jq.compile(_GUARD_HEAD + program + _GUARD_TAIL), ""
    except ValueError as exc:  # import and include parse only at the top of a program
        return None, f"jq modules (import, include) are not available: {_compile_error(exc)}"


def jq_problem(program: str) -> str | None:
    """Why ``program`` cannot be a dependency's ``transform.jq``, or None when it compiles."""
    return _compile(program)[1] or None


class DependencyTransform:
    """An EventDependency's ``transform``, compiled once, ready to apply to its events.

    ``problems`` lists what could not be compiled; such a transform discards every event with
    that reason, as Argo does when its per-event parse fails.
    """

    def __init__(self, spec: EventDependencyTransformer | None) -> None:
        if spec is not None and spec.script:
            reason = "Lua scripts are not supported by sluice; transform with 'jq' instead"
            raise TransformSpecError([f"transform.script: {reason}"])
        self.program = (spec.jq if spec is not None else None) or ""
        self._compiled: Any = None
        self._error = ""
        if self.program:
            self._compiled, self._error = _compile(self.program)
        self.problems: tuple[str, ...] = (f"jq: {self._error}",) if self._error else ()

    def apply(self, event: Mapping[str, Any]) -> TransformResult:
        """The event with its data replaced by the program's first output, or why not."""
        if not self.program:
            return TransformResult(True, event, ())
        payload = event_payload(event)
        if payload is NO_DATA:
            return self._verdict(event, True, "event has no data: passes unchanged, as in Argo")
        if isinstance(payload, InvalidData):
            return self._verdict(event, False, f"{payload}: discarded, as in Argo")
        if self._error:
            return self._verdict(event, False, f"jq program does not compile: {self._error}")
        if payload is None:
            payload = {}  # Go decodes JSON null into a nil map, which gojq reads as {}
        if not isinstance(payload, dict):
            kind = json_kind(payload)
            return self._verdict(event, False, f"event data is a JSON {kind}, not an object")
        try:
            output = self._compiled.input_value(payload).first()
        except StopIteration:
            return self._verdict(event, False, "the jq program gave no output")
        except (ValueError, TypeError) as exc:
            return self._verdict(event, False, f"jq error: {exc}")
        if not isinstance(output, dict):
            kind = json_kind(output)
            detail = f"the jq program's first output is a JSON {kind}, not an object"
            return self._verdict(event, False, detail)
        rewritten = {k: v for k, v in event.items() if k != "data_base64"}
        rewritten["data"] = output
        rewritten["datacontenttype"] = "application/json"
        return self._verdict(rewritten, True, "data replaced by the jq program's first output")

    def _verdict(self, event: Mapping[str, Any], passed: bool, detail: str) -> TransformResult:
        verdict = Verdict("transform", 0, passed, detail, None, f"jq {self.program}")
        return TransformResult(passed, event, (verdict,))

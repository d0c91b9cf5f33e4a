"""Whether an event counts for a dependency: Argo Events' filters, compiled once per dependency.

A sensor builds one :class:`DependencyFilter` per dependency when it starts and calls
:meth:`DependencyFilter.evaluate` on every event, so everything that can be prepared (paths,
regexes, templates, govaluate expressions, time zones) is prepared in the constructor.

The semantics are those of ``pkg/sensors/dependencies/filter.go`` in argo-events:

* the kinds run in Argo's order, exprs, data, context, time; ``filtersLogicalOperator: or``
  passes when one kind that is *set* passes, anything else (the default) needs every kind;
* within ``data`` and ``exprs``, ``and`` stops at the first rule that fails or errs, ``or`` at
  the first that passes; an error (a missing path, a bad value) is a failed rule;
* an event without data passes ``data`` and ``exprs`` (Argo's ``payload == nil``); data that is
  not JSON (``data_base64`` that does not decode to JSON) fails them;
* ``context`` compares ``type``, ``subject``, ``source`` and ``datacontenttype`` exactly, the
  ones that are set; Argo ignores the other attributes, and so does sluice;
* ``time`` checks the event's own ``time`` (not the time it is filtered) against
  ``[start, stop)`` in ``timezone`` (UTC by default); ``stop <= start`` wraps past midnight.

Nothing here raises on a bad event: every rule returns a :class:`Verdict` saying what it saw.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sensor.filter_data import DataRule, ExprRule, Verdict
from sensor.models import EventContext, EventDependencyFilter, TimeFilter
from sluice.core.errors import SpecError
from sluice.core.govalue import go_quote

__all__ = [
    "NO_DATA",
    "DependencyFilter",
    "FilterResult",
    "FilterSpecError",
    "InvalidData",
    "Verdict",
    "event_payload",
]

_CONTEXT_ATTRIBUTES = ("type", "subject", "source", "datacontenttype")  # Argo's filterContext
# Go's time.Parse("15:04:05"): one or two hour digits, then two and two; Go also takes a
# fraction of a second the layout does not mention.
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d):([0-5]\d)(?:[.,](\d+))?")
NO_DATA: Any = object()


class FilterSpecError(SpecError):
    """A filter sluice cannot run at all (a Lua ``script``); the Sensor must be changed."""


@dataclass(frozen=True, slots=True)
class FilterResult:
    passed: bool
    verdicts: tuple[Verdict, ...]


# ---- context and time ----------------------------------------------------------------------
class _ContextRule:
    def __init__(self, spec: EventContext) -> None:
        self.expected = [(a, v) for a in _CONTEXT_ATTRIBUTES if (v := getattr(spec, a))]

    def check(self, event: Mapping[str, Any], out: list[Verdict]) -> bool:
        if not self.expected:
            out.append(Verdict("context", 0, True, "no attribute to compare: passes, as in Argo"))
            return True
        passed = True
        for i, (attribute, expected) in enumerate(self.expected):
            actual = event.get(attribute)
            ok = actual == expected
            shown = "absent" if actual is None else go_quote(str(actual))
            verb = "equals" if ok else "is not"
            detail = f"{attribute} {shown} {verb} {go_quote(expected)}"
            rule = f"{attribute} == {go_quote(expected)}"
            out.append(Verdict("context", i, ok, detail, actual, rule))
            passed = passed and ok
        return passed


def _clock_time(text: str | None) -> time | None:
    m = _CLOCK.fullmatch(text or "")
    if m is None:
        return None
    micro = int((m[4] or "0")[:6].ljust(6, "0"))
    return time(int(m[1]), int(m[2]), int(m[3]), micro)


class _TimeRule:
    def __init__(self, spec: TimeFilter, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.zone_name = spec.timezone or "UTC"
        self.rule = f"[{spec.start}, {spec.stop}) {self.zone_name}"
        self.error = ""
        self.zone: ZoneInfo | None = None
        try:
            self.zone = ZoneInfo(self.zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            self.error = f"invalid timezone '{self.zone_name}'"
        self.start, self.stop = _clock_time(spec.start), _clock_time(spec.stop)
        for key, value, parsed in (
            ("start", spec.start, self.start),
            ("stop", spec.stop, self.stop),
        ):
            if parsed is None:
                self.error = self.error or f"{key} '{value or ''}' is not a time of day HH:MM:SS"

    def _moment(self, event: Mapping[str, Any]) -> datetime | str:
        raw = event.get("time")
        if raw is None:
            return self.clock()  # no time attribute: the time the event is seen
        if isinstance(raw, datetime):
            moment = raw
        else:
            try:
                moment = datetime.fromisoformat(str(raw))
            except ValueError:
                return f"event time {go_quote(str(raw))} is not an RFC 3339 time"
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

    def check(self, event: Mapping[str, Any], out: list[Verdict]) -> bool:
        if self.error:
            out.append(
                Verdict("time", 0, False, f"time filter error: {self.error}", None, self.rule)
            )
            return False
        moment = self._moment(event)
        if isinstance(moment, str):
            out.append(Verdict("time", 0, False, moment, None, self.rule))
            return False
        assert self.zone is not None and self.start is not None and self.stop is not None
        local = moment.astimezone(self.zone)
        # Argo puts start and stop on the event's date in the zone and compares instants.
        day: date = local.date()
        start = datetime.combine(day, self.start, self.zone).timestamp()
        stop = datetime.combine(day, self.stop, self.zone).timestamp()
        at = moment.timestamp()
        inside = start <= at < stop if start < stop else at >= start or at < stop
        where = "inside" if inside else "outside"
        detail = f"event time {local.isoformat()} is {where} {self.rule}"
        out.append(Verdict("time", 0, inside, detail, local.isoformat(), self.rule))
        return inside


# ---- the payload ---------------------------------------------------------------------------
def event_payload(event: Mapping[str, Any]) -> Any:
    """The event's data as Argo's filters see it: NO_DATA, the JSON value, or an error str."""
    data = event.get("data")
    if data is not None:
        return data
    encoded = event.get("data_base64")
    if not encoded:
        return NO_DATA
    try:
        return json.loads(base64.b64decode(encoded, validate=True))
    except (ValueError, TypeError, binascii.Error):
        return _INVALID


class InvalidData(str):
    """Marks the payload of an event whose data is not JSON."""


_INVALID = InvalidData("event data not valid JSON")


# ---- the dependency ------------------------------------------------------------------------
class DependencyFilter:
    """An EventDependency's ``filters`` (and ``filtersLogicalOperator``), ready to evaluate.

    ``problems`` lists what could not be compiled (a bad path, regex, template, expression,
    time zone); each such rule fails every event with that reason, as it would in Argo.
    ``clock`` supplies the time of events that carry no ``time`` attribute.
    """

    def __init__(
        self,
        filters: EventDependencyFilter | None,
        filters_operator: str | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if filters is not None and filters.script:
            reason = "Lua script filters are not supported by sluice; use 'exprs' or 'data'"
            raise FilterSpecError([f"filters.script: {reason}"])
        self.filters = filters
        self.any_kind = filters_operator == "or"
        f = filters or EventDependencyFilter()
        self._exprs = [ExprRule(i, e) for i, e in enumerate(f.exprs or [])]
        self._exprs_any = f.expr_logical_operator == "or"
        self._data = [DataRule(i, d) for i, d in enumerate(f.data or [])]
        self._data_any = f.data_logical_operator == "or"
        self._context = _ContextRule(f.context) if f.context is not None else None
        now = clock or (lambda: datetime.now(UTC))
        self._time = _TimeRule(f.time, now) if f.time is not None else None
        self._kinds: list[
            tuple[bool, Callable[[Mapping[str, Any], Any, list[Verdict], bool], bool]]
        ] = [
            (f.exprs is not None, self._check_exprs),
            (f.data is not None, self._check_data),
            (f.context is not None, self._check_context),
            (f.time is not None, self._check_time),
        ]
        self.problems: tuple[str, ...] = (
            *(f"exprs[{r.index}].{p}" for r in self._exprs for p in r.problems),
            *(f"data[{r.index}].{p}" for r in self._data for p in r.problems),
            *([f"time: {self._time.error}"] if self._time is not None and self._time.error else []),
        )

    def evaluate(self, event: Mapping[str, Any], *, exhaustive: bool = False) -> FilterResult:
        """Whether ``event`` passes, and the verdicts of the rules that decided it.

        Rules are evaluated as Argo does, stopping as soon as the outcome is known; with
        ``exhaustive`` every rule runs, so ``sluice sensor test`` can explain each one.
        """
        if self.filters is None:
            return FilterResult(True, ())
        if not isinstance(event, Mapping):
            event = {}
        payload = event_payload(event)
        verdicts: list[Verdict] = []
        passed = not self.any_kind  # 'and' holds until a kind fails, 'or' until one passes
        for present, check in self._kinds:
            if present and check(event, payload, verdicts, exhaustive) is self.any_kind:
                passed = self.any_kind
                if not exhaustive:
                    break
        return FilterResult(passed, tuple(verdicts))

    # Each check appends its verdicts and says whether its kind passed.
    def _check_exprs(
        self, event: Mapping[str, Any], payload: Any, out: list[Verdict], exhaustive: bool
    ) -> bool:
        if payload is NO_DATA or isinstance(payload, InvalidData):
            return self._whole("exprs", len(self._exprs), payload, out)
        if not self._exprs and self._exprs_any:
            out.append(Verdict("exprs", 0, False, "empty list under 'or': fails, as in Argo"))
            return False
        decided: bool | None = None
        for rule in self._exprs:
            verdict = rule.check(payload)
            if verdict is None:  # no fields: Argo skips the rule, which helps neither operator
                skipped = "no fields bound: skipped, as in Argo"
                verdict = Verdict(
                    "exprs", rule.index, not self._exprs_any, skipped, None, rule.rule
                )
                out.append(verdict)
                continue
            out.append(verdict)
            if verdict.passed is self._exprs_any:
                decided = verdict.passed if decided is None else decided
                if not exhaustive:
                    break
        # Without a deciding rule, 'and' passes and 'or' fails.
        return (not self._exprs_any) if decided is None else decided

    def _check_data(
        self, event: Mapping[str, Any], payload: Any, out: list[Verdict], exhaustive: bool
    ) -> bool:
        if not self._data:
            return True  # Argo: no data filters pass, whatever the operator
        if payload is NO_DATA or isinstance(payload, InvalidData):
            return self._whole("data", len(self._data), payload, out)
        decided: bool | None = None
        for rule in self._data:
            verdict = rule.check(payload)
            out.append(verdict)
            if verdict.passed is self._data_any:
                decided = verdict.passed if decided is None else decided
                if not exhaustive:
                    break
        return (not self._data_any) if decided is None else decided

    def _check_context(
        self, event: Mapping[str, Any], payload: Any, out: list[Verdict], exhaustive: bool
    ) -> bool:
        assert self._context is not None
        return self._context.check(event, out)

    def _check_time(
        self, event: Mapping[str, Any], payload: Any, out: list[Verdict], exhaustive: bool
    ) -> bool:
        assert self._time is not None
        return self._time.check(event, out)

    @staticmethod
    def _whole(kind: str, count: int, payload: Any, out: list[Verdict]) -> bool:
        """Every rule of ``kind`` decided at once by an event with no data or non-JSON data."""
        if payload is NO_DATA:
            detail, passed = "event has no data: passes, as in Argo", True
        else:
            detail, passed = str(payload), False
        out.extend(Verdict(kind, i, passed, detail) for i in range(max(count, 1)))
        return passed

"""A dependency's jq ``transform`` as Argo Events applies it (``applyJQTransform`` in
``pkg/sensors/dependencies/transform.go``): on the event's data, before the filters, first output
only, and an event it cannot transform is discarded with the reason in the Decision."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import pytest

from sensor import parse_sensor
from sensor.decisions import WOULD_FIRE, Decision, FireResult
from sensor.logic import SensorLogic, TriggerPlan
from sensor.models import Sensor
from sensor.state import MemoryState
from sensor.transform import DependencyTransform, TransformSpecError, jq_problem
from sluice.core.errors import SpecError

PUSH = {"header": {"X-Kind": ["push"]}, "body": {"action": "opened", "items": [3, 5, 8]}}


def sensor(
    jq: str | None,
    *data_filters: dict[str, Any],
    deps: int = 1,
    transform: dict[str, Any] | None = None,
    validate: bool = True,
) -> Sensor:
    """Dependencies ``d0``.. on webhook/example (the first with ``jq``, or ``transform``, and
    ``data_filters``), one log trigger needing all of them."""
    first: dict[str, Any] = {"name": "d0", "eventSourceName": "webhook", "eventName": "example"}
    if jq is not None or transform is not None:
        first["transform"] = {"jq": jq} if transform is None else transform
    if data_filters:
        first["filters"] = {"data": list(data_filters)}
    others = [
        {"name": f"d{i}", "eventSourceName": "webhook", "eventName": f"e{i}"}
        for i in range(1, deps)
    ]
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": "s", "namespace": "ns"},
        "spec": {
            "dependencies": [first, *others],
            "triggers": [{"template": {"name": "t", "log": {}}}],
        },
    }
    return parse_sensor(doc) if validate else Sensor.model_validate(doc)


def event(data: Any = None, *, event_id: str = "1", **attributes: Any) -> dict[str, Any]:
    ce: dict[str, Any] = {
        "id": event_id,
        "source": "webhook",
        "subject": "example",
        "type": "webhook",
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "time": "2026-12-05T10:00:00Z",
    }
    if data is not None:
        ce["data"] = data
    ce.update(attributes)
    return ce


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class Fire:
    """A FireFn that keeps the events each firing was given."""

    def __init__(self) -> None:
        self.events: list[dict[str, Mapping[str, Any]]] = []

    async def __call__(
        self, plan: TriggerPlan, events: dict[str, Mapping[str, Any]], key: str
    ) -> FireResult:
        self.events.append(events)
        return FireResult(WOULD_FIRE)


async def handle(s: Sensor, ev: Mapping[str, Any]) -> tuple[Decision, Fire]:
    fire = Fire()
    logic = SensorLogic(s, MemoryState(), fire)
    return await logic.handle("d0", ev), fire


def kinds(decision: Decision) -> list[tuple[str, bool]]:
    return [(v["kind"], v["passed"]) for v in decision.filters]


def s(path: str, *values: str) -> dict[str, Any]:
    return {"path": path, "type": "string", "value": list(values)}


def n(path: str, *values: str, comparator: str = "=") -> dict[str, Any]:
    return {"path": path, "type": "number", "value": list(values), "comparator": comparator}


RESHAPE = '{kind: .header["X-Kind"][0], action: .body.action, count: (.body.items | length)}'

# (id, jq, data filters, event, passes, the data the trigger sees)
PASSING = [
    (
        "reshaped-then-filtered",
        RESHAPE,
        [s("kind", "^push$"), n("count", "3")],
        event(PUSH),
        {"kind": "push", "action": "opened", "count": 3},
    ),
    (
        "argo-test-case",  # argo-events transform_test.go
        ".a += 1 | .b *= 2",
        [n("a", "2"), s("b", "^22$")],
        event({"a": 1, "b": "2"}),
        {"a": 2, "b": "22"},
    ),
    (
        "first-output-only",
        ".body.items[] | {item: .}",
        [n("item", "3")],
        event(PUSH),
        {"item": 3},
    ),
    (
        "first-output-before-an-error",
        '{first: true}, error("never reached")',
        [],
        event(PUSH),
        {"first": True},
    ),
    (
        "data-base64-json",
        "{action: .body.action}",
        [s("action", "^opened$")],
        event(data_base64=b64(json.dumps(PUSH).encode())),
        {"action": "opened"},
    ),
    (
        "no-data-passes-unchanged",
        "{never: 1}",
        [],
        event(),
        None,
    ),
    (
        "environment-is-hidden-as-in-gojq",
        "{home: env.HOME, path: $ENV.PATH}",
        [],
        event(PUSH),
        {"home": None, "path": None},
    ),
]


@pytest.mark.parametrize(
    ("jq", "filters", "ev", "data"), [c[1:] for c in PASSING], ids=[c[0] for c in PASSING]
)
async def test_filters_and_triggers_see_the_transformed_data(
    jq: str, filters: list[dict[str, Any]], ev: dict[str, Any], data: Any
) -> None:
    decision, fire = await handle(sensor(jq, *filters), ev)
    assert decision.passed, decision.lines()
    assert decision.fired
    assert kinds(decision)[0] == ("transform", True)
    assert all(passed for _, passed in kinds(decision))
    (fired,) = fire.events
    seen = fired["d0"]
    assert seen.get("data") == data
    assert "data_base64" not in seen or data is None
    assert seen["id"] == ev["id"] and seen["source"] == "webhook"  # the context is kept


# (id, jq, data filters, event, kind of the failing verdict, words in its detail)
FAILING = [
    (
        "reshaped-then-filtered-out",
        RESHAPE,
        [s("action", "^closed$")],
        event(PUSH),
        "data",
        'action = "opened" (value "^closed$") did not match',
    ),
    (
        "filter-on-the-original-shape-fails",
        RESHAPE,
        [s("body.action", "^opened$")],
        event(PUSH),
        "data",
        "path body.action not found",
    ),
    (
        "data-base64-not-json",
        ".",
        [],
        event(data_base64=b64(b"not json")),
        "transform",
        "event data not valid JSON",
    ),
    (
        "data-not-an-object",
        ".",
        [],
        event([1, 2]),
        "transform",
        "event data is a JSON array, not an object",
    ),
    (
        "runtime-error",
        ".body.action + 1",
        [],
        event(PUSH),
        "transform",
        'jq error: string ("opened") and number (1) cannot be added',
    ),
    (
        "error-call",
        'error("no thanks")',
        [],
        event(PUSH),
        "transform",
        "jq error: no thanks",
    ),
    (
        "no-output",
        "empty",
        [],
        event(PUSH),
        "transform",
        "the jq program gave no output",
    ),
    (
        "output-not-an-object",
        ".body.action",
        [],
        event(PUSH),
        "transform",
        "first output is a JSON string, not an object",
    ),
]


@pytest.mark.parametrize(
    ("jq", "filters", "ev", "kind", "words"),
    [c[1:] for c in FAILING],
    ids=[c[0] for c in FAILING],
)
async def test_an_event_that_does_not_pass_says_why(
    jq: str, filters: list[dict[str, Any]], ev: dict[str, Any], kind: str, words: str
) -> None:
    decision, fire = await handle(sensor(jq, *filters), ev)
    assert not decision.passed
    assert fire.events == [] and decision.triggers == []
    failed = [v for v in decision.filters if not v["passed"]]
    assert [v["kind"] for v in failed] == [kind]
    assert words in failed[0]["detail"]
    if kind == "transform":
        assert decision.filters == failed  # the filters never saw the event
        assert failed[0]["rule"] == f"jq {jq}"
        assert "  -> filtered out: no trigger considered" in decision.lines()


async def test_a_kept_event_is_the_transformed_one() -> None:
    state = MemoryState()
    logic = SensorLogic(sensor("{action: .body.action}", deps=2), state, Fire())
    decision = await logic.handle("d0", event(PUSH))
    assert decision.passed and [t.outcome for t in decision.triggers] == ["waiting"]
    assert state.pending("t")["d0"]["data"] == {"action": "opened"}


async def test_the_transformed_event_is_json() -> None:
    decision, fire = await handle(
        sensor("{ok: true}"), event(data_base64=b64(b"{}"), datacontenttype="text/plain")
    )
    assert decision.passed
    assert fire.events[0]["d0"]["datacontenttype"] == "application/json"  # as Argo's SetData


def test_the_transform_does_not_change_the_event_it_is_given() -> None:
    ev = event(PUSH)
    before = json.dumps(ev, sort_keys=True)
    assert DependencyTransform(sensor("{x: 1}").spec.dependencies[0].transform).apply(ev).passed
    assert json.dumps(ev, sort_keys=True) == before


# (id, program, the problem reported for spec.dependencies[0].transform.jq)
INVALID = [
    ("syntax", ".a |", "syntax error, unexpected end of file"),
    ("unknown-function", "nope(1)", "nope/1 is not defined"),
    ("unbound-variable", "$nothing", "$nothing is not defined"),
    ("module", 'import "m" as m; .', "module not found: m"),
]


@pytest.mark.parametrize(
    ("program", "words"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_a_program_that_does_not_compile_is_a_problem_with_its_path(
    program: str, words: str
) -> None:
    with pytest.raises(SpecError) as caught:
        sensor(program)
    (problem,) = caught.value.problems
    assert "spec.dependencies[0].transform.jq: " in problem
    assert words in problem
    assert "\n" not in problem


@pytest.mark.parametrize("program", [".", RESHAPE, "def f: .body; f # a comment", "$__loc__"])
def test_valid_programs_have_no_problem(program: str) -> None:
    assert jq_problem(program) is None


async def test_an_unvalidated_bad_program_discards_each_event_with_data() -> None:
    s = sensor(".a |", validate=False)
    decision, _ = await handle(s, event(PUSH))
    assert not decision.passed
    assert "jq program does not compile: syntax error" in decision.filters[0]["detail"]
    decision, _ = await handle(s, event())
    assert decision.passed  # Argo returns an event without data before parsing the program


def test_lua_script_stays_unsupported() -> None:
    with pytest.raises(SpecError) as caught:
        sensor(None, transform={"script": "return event"})
    (problem,) = caught.value.problems
    assert "spec.dependencies[0].transform.script: Lua scripts are not supported" in problem
    unvalidated = sensor(None, transform={"script": "return event"}, validate=False)
    with pytest.raises(TransformSpecError):
        SensorLogic(unvalidated, MemoryState(), Fire())

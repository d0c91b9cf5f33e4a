"""SensorLogic as Argo Events decides: AND by default, "latest wins", ``||`` fires alone, and
the firing records that keep a redelivered event from firing twice. Sensors are loaded from
YAML, the state is a MemoryState and ``fire`` only records what it was asked to do."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from typing import Any

import pytest

from eventbus.base import KVEntry
from sensor import parse_sensor
from sensor.decisions import (
    DEAD_LETTERED,
    DUPLICATE,
    FAILED,
    FIRED,
    WAITING,
    WOULD_FIRE,
    Decision,
    FireResult,
)
from sensor.logic import SensorLogic, TriggerPlan, firing_key, spec_hash
from sensor.models import Sensor
from sensor.state import KVState, MemoryState
from sluice.core.resources import parse_documents
from tests.conftest import FakeClock


# ---- sensors, events and a recording fire --------------------------------------------------
def sensor_text(
    *conditions: str | None, deps: str = "a b", name: str = "s", namespace: str | None = "ns"
) -> str:
    """A Sensor with one dependency per name in ``deps`` (event source ``src``, event name the
    dependency's name) and a log trigger ``t<i>`` per condition (None: no ``conditions``)."""
    meta = f"{{name: {name}" + (f", namespace: {namespace}}}" if namespace else "}")
    lines = ["apiVersion: argoproj.io/v1alpha1", "kind: Sensor", f"metadata: {meta}", "spec:"]
    lines.append("  dependencies:")
    lines += [f"    - {{name: {d}, eventSourceName: src, eventName: {d}}}" for d in deps.split()]
    lines.append("  triggers:")
    for i, condition in enumerate(conditions or (None,)):
        extra = f", conditions: '{condition}'" if condition else ""
        lines.append(f"    - template: {{name: t{i}, log: {{}}{extra}}}")
    return "\n".join(lines) + "\n"


def load(text: str) -> Sensor:
    (raw,) = parse_documents(text, "s.yaml")
    return parse_sensor(raw)


def event(subject: str, event_id: str, data: Any = None, source: str = "src") -> dict[str, Any]:
    return {
        "id": event_id,
        "source": source,
        "subject": subject,
        "type": "webhook",
        "time": "2024-05-01T16:36:34Z",
        "datacontenttype": "application/json",
        "data": {"n": event_id} if data is None else data,
    }


class Recorder:
    """A FireFn that records (trigger, dependency -> event id, key) and answers ``outcome``;
    ``pause`` yields to the loop that many times, so concurrent handlers interleave."""

    def __init__(self, outcome: str = FIRED, pause: int = 0) -> None:
        self.outcome = outcome
        self.pause = pause
        self.calls: list[tuple[str, dict[str, str], str]] = []

    async def __call__(
        self, plan: TriggerPlan, events: dict[str, Mapping[str, Any]], key: str
    ) -> FireResult:
        self.calls.append((plan.name, {d: str(e["id"]) for d, e in events.items()}, key))
        for _ in range(self.pause):
            await asyncio.sleep(0)
        workflow = f"wf-{len(self.calls)}" if self.outcome == FIRED else None
        return FireResult(self.outcome, workflow=workflow)

    @property
    def events(self) -> list[dict[str, str]]:
        return [events for _, events, _ in self.calls]


class SpyState(MemoryState):
    """A MemoryState that counts the lookups of firing records."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups: list[str] = []

    async def fired(self, key: str) -> dict[str, Any] | None:
        self.lookups.append("fired")
        return await super().fired(key)

    async def used(self, trigger: str, dependency: str, event_id: str) -> bool:
        self.lookups.append("used")
        return await super().used(trigger, dependency, event_id)


def make(
    text: str, fire: Recorder | None = None, state: MemoryState | None = None, **kw: Any
) -> tuple[SensorLogic, Recorder, MemoryState]:
    fire = fire or Recorder()
    state = state if state is not None else MemoryState()
    return SensorLogic(load(text), state, fire, clock=FakeClock(), **kw), fire, state


def outcomes(decision: Decision) -> dict[str, str]:
    return {t.trigger: t.outcome for t in decision.triggers}


def ids(events: dict[str, Mapping[str, Any]]) -> dict[str, str]:
    return {d: str(e["id"]) for d, e in events.items()}


# ---- conditions: table-driven sequences ----------------------------------------------------
# (deps, condition of t0, events as "dependency:id", t0's outcome per event, the firings,
# what t0 keeps at the end)
SEQUENCES = [
    pytest.param(
        "a b",
        None,
        ["a:a1", "b:b1"],
        [WAITING, FIRED],
        [{"a": "a1", "b": "b1"}],
        {},
        id="default-is-and-fires-once-then-clears",
    ),
    pytest.param(
        "a b",
        None,
        ["a:a1", "b:b1", "a:a2"],
        [WAITING, FIRED, WAITING],
        [{"a": "a1", "b": "b1"}],
        {"a": "a2"},
        id="default-and-after-firing-one-dep-alone-waits-again",
    ),
    pytest.param(
        "a b",
        None,
        ["a:a1", "a:a2", "b:b1"],
        [WAITING, WAITING, FIRED],
        [{"a": "a2", "b": "b1"}],
        {},
        id="latest-wins",
    ),
    pytest.param(
        "a b",
        None,
        ["b:b1", "b:b2", "b:b3"],
        [WAITING] * 3,
        [],
        {"b": "b3"},
        id="and-one-dep-only-never-fires",
    ),
    pytest.param(
        "a",
        None,
        ["a:a1", "a:a2"],
        [FIRED, FIRED],
        [{"a": "a1"}, {"a": "a2"}],
        {},
        id="default-single-dependency-fires-each-event",
    ),
    pytest.param(
        "a b",
        "a || b",
        ["a:a1", "b:b1", "a:a2"],
        [FIRED] * 3,
        [{"a": "a1"}, {"b": "b1"}, {"a": "a2"}],
        {},
        id="or-each-event-fires-alone-nothing-kept",
    ),
    pytest.param(
        "a b c",
        "(a && b) || c",
        ["c:c1"],
        [FIRED],
        [{"c": "c1"}],
        {},
        id="and-or-right-side-alone",
    ),
    pytest.param(
        "a b c",
        "(a && b) || c",
        ["a:a1", "b:b1", "b:b2"],
        [WAITING, FIRED, WAITING],
        [{"a": "a1", "b": "b1"}],
        {"b": "b2"},
        id="and-or-left-side",
    ),
    pytest.param(
        # as Argo: the firing takes every kept event, then forgets them all
        "a b c",
        "(a && b) || c",
        ["a:a1", "c:c1", "b:b1"],
        [WAITING, FIRED, WAITING],
        [{"a": "a1", "c": "c1"}],
        {"b": "b1"},
        id="and-or-fires-with-what-is-kept-and-clears-it",
    ),
    pytest.param(
        "a b c",
        "a && (b || c)",
        ["c:c1", "a:a1", "b:b1"],
        [WAITING, FIRED, WAITING],
        [{"a": "a1", "c": "c1"}],
        {"b": "b1"},
        id="and-of-or",
    ),
    pytest.param(
        "dep-a dep-b",
        "dep-a && dep-b",
        ["dep-a:x1", "dep-b:y1"],
        [WAITING, FIRED],
        [{"dep-a": "x1", "dep-b": "y1"}],
        {},
        id="dashed-names-and",
    ),
    pytest.param(
        "dep-a dep-b",
        "dep-a || dep-b",
        ["dep-b:y1", "dep-a:x1"],
        [FIRED, FIRED],
        [{"dep-b": "y1"}, {"dep-a": "x1"}],
        {},
        id="dashed-names-or",
    ),
]


@pytest.mark.parametrize(("deps", "condition", "steps", "expected", "firings", "kept"), SEQUENCES)
async def test_condition_sequences(
    deps: str,
    condition: str | None,
    steps: list[str],
    expected: list[str],
    firings: list[dict[str, str]],
    kept: dict[str, str],
) -> None:
    logic, fire, state = make(sensor_text(condition, deps=deps))
    seen = []
    for step in steps:
        dep, event_id = step.split(":")
        decision = await logic.handle(dep, event(dep, event_id))
        assert decision.passed
        seen.append(outcomes(decision)["t0"])
    assert seen == expected
    assert fire.events == firings
    assert ids(state.pending("t0")) == kept


async def test_waiting_decision_says_what_is_missing() -> None:
    logic, _, _ = make(sensor_text("a && b && c", deps="a b c"))
    await logic.handle("a", event("a", "a1"))
    decision = await logic.handle("c", event("c", "c1"))
    (t,) = decision.triggers
    assert (t.outcome, t.pending, t.detail) == (WAITING, ["a", "c"], "waiting for b")
    assert t.events == {"a": "a1", "c": "c1"}
    assert t.key is None


async def test_fired_decision_carries_key_workflow_and_events() -> None:
    logic, fire, _ = make(sensor_text(None))
    await logic.handle("a", event("a", "a1"))
    (t,) = (await logic.handle("b", event("b", "b1"))).triggers
    assert t.outcome == FIRED
    assert t.key == fire.calls[0][2] == firing_key("ns", "s", "t0", {"a": "a1", "b": "b1"})
    assert (t.workflow, t.events, t.pending, t.condition) == (
        "wf-1",
        {"a": "a1", "b": "b1"},
        [],
        "a && b",
    )


# ---- which triggers an event reaches -------------------------------------------------------
FILTERED = """\
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata: {name: s, namespace: ns}
spec:
  dependencies:
    - name: a
      eventSourceName: src
      eventName: a
      filters:
        data: [{path: kind, type: string, value: [push]}]
    - {name: b, eventSourceName: src, eventName: b}
  triggers:
    - template: {name: t0, log: {}}
"""


async def test_a_filtered_out_event_considers_no_trigger_and_keeps_nothing() -> None:
    logic, fire, state = make(FILTERED)
    await logic.handle("b", event("b", "b1"))
    decision = await logic.handle("a", event("a", "a1", {"kind": "pull"}))
    assert decision.passed is False
    assert decision.triggers == []
    assert [v["passed"] for v in decision.filters] == [False]
    assert fire.calls == []
    assert ids(state.pending("t0")) == {"b": "b1"}
    assert decision.fired is False


async def test_a_passing_event_records_the_filter_verdicts() -> None:
    logic, fire, _ = make(FILTERED)
    await logic.handle("b", event("b", "b1"))
    decision = await logic.handle("a", event("a", "a1", {"kind": "push"}))
    assert decision.passed
    assert [(v["kind"], v["index"], v["passed"]) for v in decision.filters] == [("data", 0, True)]
    assert outcomes(decision) == {"t0": FIRED}
    assert fire.events == [{"a": "a1", "b": "b1"}]


async def test_an_event_reaches_only_the_triggers_whose_condition_names_it() -> None:
    logic, fire, state = make(sensor_text("a && b", "c", deps="a b c"))
    await logic.handle("a", event("a", "a1"))
    decision = await logic.handle("c", event("c", "c1"))
    assert outcomes(decision) == {"t1": FIRED}
    assert fire.calls[0][:2] == ("t1", {"c": "c1"})
    assert ids(state.pending("t0")) == {"a": "a1"}
    assert state.pending("t1") == {}
    assert outcomes(await logic.handle("b", event("b", "b1"))) == {"t0": FIRED}


async def test_one_event_considered_by_each_trigger_that_names_it() -> None:
    logic, fire, _ = make(sensor_text("a && b", "a || b", "a"))
    decision = await logic.handle("a", event("a", "a1"))
    assert outcomes(decision) == {"t0": WAITING, "t1": FIRED, "t2": FIRED}
    assert [name for name, _, _ in fire.calls] == ["t1", "t2"]
    assert fire.calls[0][2] != fire.calls[1][2]  # the key names the trigger


# ---- redelivery ----------------------------------------------------------------------------
async def test_a_redelivered_event_that_fired_alone_is_a_duplicate() -> None:
    logic, fire, _ = make(sensor_text("a || b"))
    first = (await logic.handle("a", event("a", "a1"))).triggers[0]
    again = await logic.handle("a", event("a", "a1"), redelivered=True)
    (t,) = again.triggers
    assert (t.outcome, t.key, t.workflow, t.events) == (DUPLICATE, first.key, "wf-1", {"a": "a1"})
    assert len(fire.calls) == 1
    assert again.fired  # a duplicate counts as done


async def test_a_redelivered_event_consumed_by_an_and_firing_is_not_kept() -> None:
    logic, fire, state = make(sensor_text(None))
    await logic.handle("a", event("a", "a1"))
    await logic.handle("b", event("b", "b1"))
    for dep in ("a", "b"):
        decision = await logic.handle(dep, event(dep, f"{dep}1"), redelivered=True)
        assert outcomes(decision) == {"t0": DUPLICATE}
        assert state.pending("t0") == {}
    assert outcomes(await logic.handle("b", event("b", "b2"))) == {"t0": WAITING}
    assert fire.events == [{"a": "a1", "b": "b1"}]


async def test_a_redelivered_event_never_handled_is_handled_as_new() -> None:
    logic, fire, state = make(sensor_text(None, "a"))
    decision = await logic.handle("a", event("a", "a1"), redelivered=True)
    assert outcomes(decision) == {"t0": WAITING, "t1": FIRED}
    assert ids(state.pending("t0")) == {"a": "a1"}
    assert fire.events == [{"a": "a1"}]


async def test_a_redelivered_event_kept_but_not_fired_is_kept_again() -> None:
    logic, fire, state = make(sensor_text(None))
    await logic.handle("a", event("a", "a1"))
    decision = await logic.handle("a", event("a", "a1"), redelivered=True)
    assert outcomes(decision) == {"t0": WAITING}
    assert ids(state.pending("t0")) == {"a": "a1"}
    assert outcomes(await logic.handle("b", event("b", "b1"))) == {"t0": FIRED}
    assert len(fire.calls) == 1


@pytest.mark.parametrize("condition", [None, "a || b"], ids=["and", "or"])
async def test_a_first_delivery_does_not_consult_its_own_firing_records(
    condition: str | None,
) -> None:
    """Only a firing of a waiting trigger looks up the marks of the *other* events it takes
    (a firing whose clear failed may have left them); a first delivery never looks up its own."""
    state = SpyState()
    logic, fire, _ = make(sensor_text(condition), state=state)
    for n in (1, 2):
        await logic.handle("a", event("a", f"a{n}"))
        await logic.handle("b", event("b", f"b{n}"))
    assert state.lookups == ([] if condition else ["used", "used"])
    assert len(fire.calls) == (2 if condition is None else 4)
    await logic.handle("a", event("a", "a1"), redelivered=True)
    assert "fired" in state.lookups or "used" in state.lookups[2:]


async def test_the_same_events_again_do_not_fire_a_waiting_trigger_twice() -> None:
    logic, fire, state = make(sensor_text(None))
    for _ in range(2):  # a source that publishes the same event twice, past the bus's dedup
        await logic.handle("a", event("a", "a1"))
        await logic.handle("b", event("b", "b1"))
    assert fire.events == [{"a": "a1", "b": "b1"}]
    assert ids(state.pending("t0")) == {"b": "b1"}
    assert outcomes(await logic.handle("a", event("a", "a2"))) == {"t0": WAITING}


# ---- what is recorded as fired -------------------------------------------------------------
@pytest.mark.parametrize(
    ("outcome", "recorded"),
    [(FIRED, True), (FAILED, True), (DEAD_LETTERED, True), (WOULD_FIRE, False)],
    ids=["fired", "failed", "dead-lettered", "would-fire"],
)
async def test_every_outcome_but_would_fire_is_recorded(outcome: str, recorded: bool) -> None:
    logic, fire, state = make(sensor_text("a"), fire=Recorder(outcome))
    (t,) = (await logic.handle("a", event("a", "a1"))).triggers
    assert t.outcome == outcome
    assert t.key is not None
    assert (await state.fired(t.key) is not None) is recorded
    (again,) = (await logic.handle("a", event("a", "a1"), redelivered=True)).triggers
    assert again.outcome == (DUPLICATE if recorded else outcome)
    assert len(fire.calls) == (1 if recorded else 2)


async def test_a_dry_run_and_firing_is_not_recorded_so_a_redelivery_is_kept_again() -> None:
    logic, fire, state = make(sensor_text(None), fire=Recorder(WOULD_FIRE))
    await logic.handle("a", event("a", "a1"))
    decision = await logic.handle("b", event("b", "b1"))
    assert outcomes(decision) == {"t0": WOULD_FIRE}
    assert decision.fired
    assert state.pending("t0") == {}  # the dry run still forgets what it fired with
    assert not await state.used("t0", "b", "b1")
    again = await logic.handle("b", event("b", "b1"), redelivered=True)
    assert outcomes(again) == {"t0": WAITING}
    assert outcomes(await logic.handle("a", event("a", "a1"), redelivered=True)) == {
        "t0": WOULD_FIRE
    }
    assert fire.events == [{"a": "a1", "b": "b1"}] * 2


# ---- firing_key ----------------------------------------------------------------------------
def test_firing_key_is_deterministic_and_order_independent() -> None:
    key = firing_key("ns", "s", "t", {"a": "e1", "b": "e2", "c": "e3"})
    assert key == firing_key("ns", "s", "t", {"c": "e3", "a": "e1", "b": "e2"})
    assert key.startswith("sensor-")
    assert len(key) == len("sensor-") + 32
    int(key.removeprefix("sensor-"), 16)


@pytest.mark.parametrize(
    "other",
    [
        ("other", "s", "t", {"a": "e1", "b": "e2"}),
        ("ns", "other", "t", {"a": "e1", "b": "e2"}),
        ("ns", "s", "other", {"a": "e1", "b": "e2"}),
        ("ns", "s", "t", {"a": "e1"}),
        ("ns", "s", "t", {"a": "e1", "b": "e3"}),
        ("ns", "s", "t", {"a": "e2", "b": "e1"}),
    ],
    ids=["namespace", "sensor", "trigger", "fewer-events", "other-event", "other-dependency"],
)
def test_firing_key_differs(other: tuple[str, str, str, dict[str, str]]) -> None:
    assert firing_key(*other) != firing_key("ns", "s", "t", {"a": "e1", "b": "e2"})


@pytest.mark.parametrize(
    ("namespace", "override", "expected"),
    [("ns", None, "ns"), (None, None, "default"), ("ns", "elsewhere", "elsewhere")],
    ids=["from-metadata", "default", "explicit"],
)
async def test_the_key_uses_the_sensors_namespace(
    namespace: str | None, override: str | None, expected: str
) -> None:
    logic, fire, _ = make(sensor_text("a", namespace=namespace), namespace=override)
    decision = await logic.handle("a", event("a", "a1"))
    assert decision.namespace == logic.namespace == expected
    assert fire.calls[0][2] == firing_key(expected, "s", "t0", {"a": "a1"})


# ---- reset, spec hashes, routing -----------------------------------------------------------
async def test_reset_forgets_the_triggers_pending_events_only() -> None:
    logic, fire, state = make(sensor_text(None, "a && b"))
    await logic.handle("a", event("a", "a1"))
    await logic.reset("t0")
    assert state.pending("t0") == {}
    assert ids(state.pending("t1")) == {"a": "a1"}
    decision = await logic.handle("b", event("b", "b1"))
    assert outcomes(decision) == {"t0": WAITING, "t1": FIRED}
    assert fire.calls[0][:2] == ("t1", {"a": "a1", "b": "b1"})


async def test_reset_of_a_trigger_with_nothing_pending() -> None:
    logic, _, state = make(sensor_text(None))
    await logic.reset("t0")
    assert state.pending("t0") == {}


def test_spec_hashes_cover_each_trigger_dependency_pair() -> None:
    logic, _, _ = make(sensor_text("a && b", "c", deps="a b c"))
    deps = {d.name: d for d in logic.sensor.spec.dependencies}
    assert logic.spec_hashes() == {
        ("t0", "a"): spec_hash(deps["a"]),
        ("t0", "b"): spec_hash(deps["b"]),
        ("t1", "c"): spec_hash(deps["c"]),
    }
    assert len(set(logic.spec_hashes().values())) == 3


def test_spec_hash_is_stable_and_changes_with_the_filters() -> None:
    plain = load(sensor_text(None)).spec.dependencies[0]
    assert spec_hash(plain) == spec_hash(load(sensor_text(None)).spec.dependencies[0])
    filtered = load(FILTERED).spec.dependencies[0]
    assert plain.name == filtered.name == "a"
    assert spec_hash(plain) != spec_hash(filtered)


SHARED = """\
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata: {name: s}
spec:
  dependencies:
    - {name: a, eventSourceName: webhook, eventName: push}
    - {name: b, eventSourceName: webhook, eventName: push}
    - {name: c, eventSourceName: calendar, eventName: push}
  triggers:
    - template: {name: t0, conditions: 'a || b || c', log: {}}
"""


@pytest.mark.parametrize(
    ("source", "name", "deps"),
    [
        ("webhook", "push", ["a", "b"]),
        ("calendar", "push", ["c"]),
        ("calendar", "tick", []),
        ("other", "push", []),
    ],
    ids=["two-deps", "one-dep", "other-event-name", "other-source"],
)
def test_dependencies_of(source: str, name: str, deps: list[str]) -> None:
    logic, _, _ = make(SHARED)
    assert logic.dependencies_of(source, name) == deps


# ---- Decision.lines ------------------------------------------------------------------------
async def test_lines_show_the_filter_verdicts_and_trigger_outcomes() -> None:
    logic, _, _ = make(FILTERED)
    out = await logic.handle("a", event("a", "a1", {"kind": "pull"}))
    text = "\n".join(out.lines())
    assert "event a1 (src/a, 2024-05-01T16:36:34Z) -> sensor ns/s, dependency a" in text
    assert "data[0] FAIL" in text
    assert "filtered out" in text

    waiting = "\n".join((await logic.handle("a", event("a", "a2", {"kind": "push"}))).lines())
    assert "data[0] pass" in waiting
    assert "trigger t0 [a && b]: waiting (waiting for b)" in waiting
    assert "pending: a" in waiting

    fired = "\n".join((await logic.handle("b", event("b", "b1"))).lines())
    assert "filters: none" in fired
    assert "trigger t0 [a && b]: fired -> workflow wf-1" in fired


async def test_a_decision_keeps_the_event_attributes_not_its_data() -> None:
    logic, _, _ = make(sensor_text("a"))
    decision = await logic.handle("a", event("a", "a1", {"big": "x" * 100}))
    assert decision.event == {
        "id": "a1",
        "source": "src",
        "subject": "a",
        "type": "webhook",
        "time": "2024-05-01T16:36:34Z",
    }
    assert decision.at == logic.clock.now().isoformat()
    assert (decision.sensor, decision.dependency) == ("s", "a")


# ---- concurrency ---------------------------------------------------------------------------
def _order(kind: str, n: int) -> list[str]:
    a, b = [f"a:a{i}" for i in range(n)], [f"b:b{i}" for i in range(n)]
    if kind == "interleaved":
        return [x for pair in zip(a, b, strict=True) for x in pair]
    if kind == "a-then-b":
        return a + b
    steps = a + b
    random.Random(7).shuffle(steps)
    return steps


@pytest.mark.parametrize("kind", ["interleaved", "a-then-b", "shuffled"])
async def test_concurrent_events_never_fire_more_than_the_complete_pairs(kind: str) -> None:
    n = 20
    logic, fire, _ = make(sensor_text(None), fire=Recorder(pause=3))
    steps = _order(kind, n)

    async def one(step: str) -> Decision:
        dep, event_id = step.split(":")
        return await logic.handle(dep, event(dep, event_id))

    decisions = await asyncio.gather(*(one(s) for s in steps))
    assert 1 <= len(fire.calls) <= n
    assert all(set(events) == {"a", "b"} for events in fire.events)
    used = [event_id for events in fire.events for event_id in events.values()]
    assert len(used) == len(set(used)), "an event fired twice"
    fired = sum(outcomes(d)["t0"] == FIRED for d in decisions)
    assert fired == len(fire.calls)
    if kind == "interleaved":
        assert len(fire.calls) == n


# ---- known bugs ----------------------------------------------------------------------------
class DictKV:
    """An in-memory KeyValue bucket, enough for KVState."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    async def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    async def entry(self, key: str) -> KVEntry | None:
        raise NotImplementedError

    async def put(self, key: str, value: bytes) -> int:
        self.data[key] = value
        return len(self.data)

    async def create(self, key: str, value: bytes) -> int:
        raise NotImplementedError

    async def update(self, key: str, value: bytes, last_revision: int) -> int:
        raise NotImplementedError

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)

    async def keys(self) -> list[str]:
        return list(self.data)


def memory_state() -> MemoryState:
    return MemoryState()


def kv_state() -> MemoryState:
    return KVState(DictKV(), DictKV())


@pytest.mark.parametrize(
    "new_state",
    [
        pytest.param(memory_state, id="memory"),
        pytest.param(kv_state, id="kv"),
    ],
)
async def test_a_redelivered_lone_firing_of_a_waiting_trigger_is_a_duplicate(
    new_state: Any,
) -> None:
    logic, fire, state = make(sensor_text("(a && b) || c", deps="a b c"), state=new_state())
    assert outcomes(await logic.handle("c", event("c", "c1"))) == {"t0": FIRED}
    assert outcomes(await logic.handle("a", event("a", "a2"))) == {"t0": WAITING}
    again = await logic.handle("c", event("c", "c1"), redelivered=True)
    assert outcomes(again) == {"t0": DUPLICATE}
    assert fire.events == [{"c": "c1"}]
    assert ids(state.pending("t0")) == {"a": "a2"}


class ClearFailsOnce(MemoryState):
    """A state whose first ``clear`` fails, as a KV delete can after the firing is recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def clear(self, trigger: str, dependencies: Any = None) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("bus unavailable")
        await super().clear(trigger, dependencies)


async def test_a_duplicate_forgets_events_a_recorded_firing_consumed() -> None:
    state = ClearFailsOnce()
    logic, fire, _ = make(sensor_text(None), state=state)
    await logic.handle("a", event("a", "a1"))
    with pytest.raises(ConnectionError):  # the runner naks: b1 will be redelivered
        await logic.handle("b", event("b", "b1"))
    assert fire.events == [{"a": "a1", "b": "b1"}]
    again = await logic.handle("b", event("b", "b1"), redelivered=True)
    assert outcomes(again) == {"t0": DUPLICATE}
    assert outcomes(await logic.handle("a", event("a", "a2"))) == {"t0": WAITING}
    assert fire.events == [{"a": "a1", "b": "b1"}]


async def test_two_dependencies_on_one_event_fire_under_their_own_keys() -> None:
    logic, fire, _ = make(SHARED)
    assert logic.dependencies_of("webhook", "push") == ["a", "b"]
    for dep in ("a", "b"):
        decision = await logic.handle(dep, event("push", "e1", source="webhook"))
        assert outcomes(decision) == {"t0": FIRED}
    assert fire.events == [{"a": "e1"}, {"b": "e1"}]
    first, second = (key for _, _, key in fire.calls)
    assert first != second
    again = await logic.handle("b", event("push", "e1", source="webhook"), redelivered=True)
    assert [(t.outcome, t.key) for t in again.triggers] == [(DUPLICATE, second)]

"""Every Sensor under examples/sensors/ loads with no problem and round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensor import parse_sensor
from sensor.conditions import parse_condition
from sluice.core.resources import load_file

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples" / "sensors").glob("*.yaml"))


def test_the_features_have_examples() -> None:
    """An example for each feature sluice's sensors support, copied from Argo's."""
    text = {p.stem: p.read_text() for p in EXAMPLES}
    features = {
        "calendar dependency": "eventSourceName: calendar",
        "webhook dependency": "eventSourceName: webhook",
        "data filter": "data:",
        "expr filter": "exprs:",
        "context filter": "context:",
        "time filter": "time:",
        "time filter timezone": "timezone:",
        "dataLogicalOperator": "dataLogicalOperator:",
        "exprLogicalOperator": "exprLogicalOperator:",
        "filtersLogicalOperator": "filtersLogicalOperator:",
        "comparator": "comparator:",
        "conditions": "conditions:",
        "conditionsReset": "conditionsReset:",
        "dataKey": "dataKey:",
        "dataTemplate": "dataTemplate:",
        "contextKey": "contextKey:",
        "contextTemplate": "contextTemplate:",
        "default value": "value: wow! a default value.",
        "append": "operation: append",
        "prepend": "operation: prepend",
        "workflow parameter dest": "dest: spec.arguments.parameters.0.value",
        "argoWorkflow submit": "operation: submit",
        "k8s trigger": "k8s:",
        "http trigger": "http:",
        "log trigger": "log:",
        "nats trigger": "nats:",
        "retryStrategy": "retryStrategy:",
        "rateLimit": "rateLimit:",
        "policy": "policy:",
        "dlqTrigger": "dlqTrigger:",
        "atLeastOnce": "atLeastOnce: true",
        "transform jq": "jq:",
    }
    missing = [f for f, key in features.items() if not any(key in t for t in text.values())]
    assert missing == []


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_parses_with_no_problem_and_round_trips(path: Path) -> None:
    raws = load_file(path)
    assert raws, f"{path} has no document"
    for raw in raws:
        sensor = parse_sensor(raw)
        assert sensor.model_dump(by_alias=True, exclude_none=True, mode="json") == raw.data
        for trigger in sensor.spec.triggers:
            if trigger.template.conditions:
                names = parse_condition(trigger.template.conditions).names()
                assert set(names) <= set(sensor.spec.dependency_names())


def test_example_names_are_unique() -> None:
    names = [raw.name for path in EXAMPLES for raw in load_file(path)]
    assert len(names) == len(set(names)), sorted(names)

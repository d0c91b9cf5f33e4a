"""An event's ``filter.expression``: Argo's filterEvent, parsed once, applied by the adaptor."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import pytest

from eventbus.base import PublishAck
from eventbus.errors import BusError, BusUnavailable
from eventbus.subjects import subject
from eventsource.adaptor import Adaptor, EventFilter, EventOptions, RetryPolicy, event_options
from eventsource.models import parse_event_source
from sluice.core.errors import SpecError
from tests.conftest import FakeClock

WHERE = "eventsource/es: spec.webhook.example.filter.expression"
PERSON = {"body": {"id": 4, "name": "Ann", "items": [1, 2, 3]}}


@pytest.mark.parametrize(
    ("expression", "data", "expected"),
    [
        ("(body.id == 4) && (body.name != 'Joe')", PERSON, True),
        ("(body.id == 4) && (body.name != 'Joe')", {"body": {"id": 4, "name": "Joe"}}, False),
        ("body.id == 4", json.dumps(PERSON).encode(), True),
        ("x_request_id == 'a1'", {"x-request-id": "a1"}, True),
        ("body['a-b'] == 1", {"body": {"a-b": 1}}, True),
        ("missing == nil", PERSON, True),
        ("missing == nil || missing.x == 1", PERSON, True),
        ("header['X-Kind'][0] == 'push'", {"header": {"X-Kind": ["push"]}}, True),
        ("body.id % 2 == 0", PERSON, True),
        ("len(body.items) > 2 && all(body.items, {# > 0})", PERSON, True),
        ("sprig.upper(body.name) == 'ANN'", PERSON, True),
        ("body.name matches '^A'", PERSON, True),
    ],
    ids=[
        "argo-doc-example",
        "argo-doc-example-false",
        "json-bytes",
        "top-level-dash-becomes-underscore",
        "nested-dash-kept",
        "unknown-name-is-nil",
        "short-circuit-over-nil",
        "header-values",
        "ints-stay-ints",
        "builtins-and-closures",
        "sprig",
        "regexp",
    ],
)
def test_accepts(expression: str, data: Mapping[str, Any] | bytes, expected: bool) -> None:
    assert EventFilter.parse(expression, WHERE).accepts(data) is expected


@pytest.mark.parametrize(
    ("expression", "data", "message"),
    [
        ("body.id == 4", b"not json", "failed to unmarshal data"),
        ("body.id == 4", b"[1, 2]", "event data is a list, not a JSON object"),
        ("body.id", PERSON, "expression result 4 is not a bool"),
        ("missing.x == 1", PERSON, "cannot fetch x from nil"),
        ("body.name > 1", PERSON, "mismatched types"),
    ],
    ids=["not-json", "not-an-object", "not-a-bool", "fetch-from-nil", "type-mismatch"],
)
def test_evaluation_errors(expression: str, data: Mapping[str, Any] | bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EventFilter.parse(expression, WHERE).accepts(data)


@pytest.mark.parametrize(
    "expression",
    ["body.id ==", "(body.id == 4", "body.id = 4"],
    ids=["dangling-operator", "unclosed-paren", "single-equals"],
)
def test_syntax_errors_are_spec_errors_naming_the_path(expression: str) -> None:
    with pytest.raises(SpecError) as caught:
        EventFilter.parse(expression, WHERE)
    [problem] = caught.value.problems
    assert problem.startswith(f"{WHERE}: ")


def resource(spec: dict[str, Any]) -> Any:
    return parse_event_source(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "EventSource",
            "metadata": {"name": "es"},
            "spec": spec,
        }
    )


def test_event_options_read_filters_and_connection_backoff() -> None:
    es = resource(
        {
            "kafka": {
                "orders": {
                    "filter": {"expression": "body.total > 10"},
                    "connectionBackoff": {"duration": "2s", "factor": 2, "steps": 3},
                },
                "plain": {"filter": {"expression": ""}},
            }
        }
    )
    options = event_options("es", "kafka", es.spec.events()["kafka"])
    orders = options["orders"]
    assert orders.filter is not None and orders.filter.expression == "body.total > 10"
    assert orders.retry == RetryPolicy(2.0, 2.0, 3)
    assert options["plain"] == EventOptions()


def test_event_options_list_every_problem_with_its_path() -> None:
    es = resource(
        {
            "kafka": {
                "a": {"filter": {"expression": "body.x =="}},
                "b": {"connectionBackoff": {"duration": "soon"}},
            }
        }
    )
    with pytest.raises(SpecError) as caught:
        event_options("es", "kafka", es.spec.events()["kafka"])
    first, second = caught.value.problems
    assert first.startswith("eventsource/es: spec.kafka.a.filter.expression: ")
    assert second.startswith("eventsource/es: spec.kafka.b.connectionBackoff.duration: ")


class RecordingBus:
    """Records publishes; fails the first ``failures`` of them."""

    def __init__(self, failures: list[BusError] | None = None) -> None:
        self.failures = list(failures or [])
        self.published: list[dict[str, Any]] = []

    def subject(self, namespace: str, event_source: str, event_name: str) -> str:
        return subject(namespace, event_source, event_name)

    async def publish(
        self, subject: str, payload: bytes, msg_id: str, headers: Mapping[str, str] | None = None
    ) -> PublishAck:
        if self.failures:
            raise self.failures.pop(0)
        self.published.append(json.loads(payload))
        return PublishAck(stream="S", seq=len(self.published), duplicate=False)


def adaptor(bus: RecordingBus, clock: FakeClock, **options: EventOptions) -> Adaptor:
    return Adaptor(bus, "default", "es", clock=clock, options=options)  # type: ignore[arg-type]


def only(expression: str) -> EventOptions:
    return EventOptions(filter=EventFilter.parse(expression, WHERE))


async def test_dispatch_publishes_what_passes_and_drops_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = RecordingBus()
    a = adaptor(bus, FakeClock(), example=only("body.id == 4"))
    with caplog.at_level(logging.DEBUG, logger="eventsource.adaptor"):
        dropped = await a.dispatch("example", "webhook", {"body": {"id": 5}})
        kept = await a.dispatch("example", "webhook", {"body": {"id": 4}})
        other = await a.dispatch("unfiltered", "webhook", {"body": {"id": 5}})
    assert dropped is None
    assert kept is not None and other is not None
    assert [e["id"] for e in bus.published] == [kept, other]
    assert a.metrics.filtered == {"example": 1}
    assert a.metrics.published == {"example": 1, "unfiltered": 1}
    [debug] = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert "event example: filter.expression is false" in debug.getMessage()


async def test_dispatch_drops_and_logs_an_event_the_filter_cannot_evaluate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = RecordingBus()
    a = adaptor(bus, FakeClock(), example=only("body.id.x == 1"))
    with caplog.at_level(logging.ERROR, logger="eventsource.adaptor"):
        assert await a.dispatch("example", "webhook", {"body": {"id": 4}}) is None
    assert bus.published == []
    assert a.metrics.filtered == {"example": 1}
    [record] = caplog.records
    assert "eventsource/es: event example: filter.expression failed" in record.getMessage()


async def test_an_events_connection_backoff_is_its_publish_retry() -> None:
    bus = RecordingBus([BusUnavailable("down"), BusUnavailable("down")])
    clock = FakeClock()
    a = adaptor(bus, clock, example=EventOptions(retry=RetryPolicy(0.5, 2, 3)))
    assert await a.dispatch("example", "webhook", {}) is not None
    assert clock.sleeps == [0.5, 1.0]

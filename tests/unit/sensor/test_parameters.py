"""sensor.parameters against Argo Events' params.go and params_test.go.

The cases follow ``TestResolveParamValue``, ``TestApplyParams`` and ``TestConstructPayload``,
plus the sjson path rules (``-1``, numeric keys, ``:`` and ``\\``) that ``dest`` relies on.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from sensor.models.parameters import TriggerParameter
from sensor.models.triggers import Trigger
from sensor.parameters import (
    ParameterError,
    apply_parameters,
    apply_template_parameters,
    build_payload,
    resolve_parameter,
)
from sluice.core.errors import PermanentError

DATA: dict[str, Any] = {
    "name": {"first": "fake", "last": "user"},
    "reviews": 8,
    "rating": 4.5,
    "isActive": True,
    "isVerified": False,
    "countries": ["ca", "us", "mx"],
    "nothing": None,
    "html": "<b>",
}
EVENT: dict[str, Any] = {
    "specversion": "1.0",
    "id": "1",
    "source": "webhook-gateway",
    "subject": "example-1",
    "type": "webhook",
    "time": "2024-05-01T12:00:00.123456Z",
    "datacontenttype": "application/json",
    "data": DATA,
}
EVENTS: dict[str, dict[str, Any]] = {
    "dep": EVENT,
    "yaml": {**EVENT, "datacontenttype": "application/yaml", "data": "name: y\nage: 20\n"},
    "binary": {
        **{k: v for k, v in EVENT.items() if k != "data"},
        "datacontenttype": "application/octet-stream",
        "data_base64": "AAE=",
    },
    "no-data": {**EVENT, "data": None},
    "bare": {"id": "2", "source": "s", "type": "t", "data": {"a": 1}},
}


def param(dest: str | None = "x", operation: str | None = None, **src: Any) -> TriggerParameter:
    """A parameter from YAML-style keys; ``dependencyName`` defaults to ``dep``."""
    doc: dict[str, Any] = {"src": {"dependencyName": "dep", **src}}
    if dest is not None:
        doc["dest"] = dest
    if operation is not None:
        doc["operation"] = operation
    return TriggerParameter.model_validate(doc)


# ---- resolving a value -----------------------------------------------------------------------
RESOLVE = [
    ("data-key", {"dataKey": "name.first"}, "fake"),
    ("data-key-number", {"dataKey": "reviews"}, "8"),
    ("data-key-float", {"dataKey": "rating"}, "4.5"),
    ("data-key-bool", {"dataKey": "isVerified"}, "false"),
    ("data-key-object-as-json-text", {"dataKey": "name"}, '{"first":"fake","last":"user"}'),
    ("data-key-null-as-text", {"dataKey": "nothing"}, "null"),
    ("data-key-gjson-query", {"dataKey": "countries.#"}, "3"),
    ("context-key", {"contextKey": "subject"}, "example-1"),
    ("context-key-time-metav1", {"contextKey": "time"}, "2024-05-01T12:00:00Z"),
    ("data-key-wins-over-context-key", {"contextKey": "subject", "dataKey": "name.first"}, "fake"),
    ("data-template", {"dataTemplate": "{{ .Input.name.first }}"}, "fake"),
    ("sprig-upper", {"dataTemplate": "{{ upper .Input.name.first }}"}, "FAKE"),
    ("sprig-b64enc", {"dataTemplate": "{{ .Input.name.first | b64enc }}"}, "ZmFrZQ=="),
    ("sprig-default", {"dataTemplate": '{{ .Input.missing | default "anon" }}'}, "anon"),
    ("sprig-tojson", {"dataTemplate": "{{ .Input.countries | toJson }}"}, '["ca","us","mx"]'),
    ("template-number-is-float64", {"dataTemplate": "{{ .Input.reviews }}"}, "8"),
    (
        "context-template",
        {"contextTemplate": '{{ .Input.subject | replace "-" "_" }}'},
        "example_1",
    ),
    (
        "data-template-wins-over-context-template",
        {"contextTemplate": "{{ .Input.subject }}", "dataTemplate": "{{ .Input.name.first }}"},
        "fake",
    ),
    (
        "no-value-template-falls-back-to-key",
        {"dataTemplate": "{{ .Input.name.non_exist }}", "dataKey": "name.first"},
        "fake",
    ),
    (
        "invalid-template-falls-back-to-key",
        {"dataTemplate": "{{ no }}", "dataKey": "name.first"},
        "fake",
    ),
    (
        "empty-template-falls-back-to-key",
        {"dataTemplate": '{{ "" }}', "dataKey": "name.first"},
        "fake",
    ),
    (
        "template-and-key-fail-use-value",
        {"dataTemplate": "{{ .Input.x }}", "dataKey": "x", "value": "dflt"},
        "dflt",
    ),
    ("missing-key-uses-value", {"dataKey": "unknown", "value": "dflt"}, "dflt"),
    (
        "data-failure-does-not-fall-back-to-context",
        {"dataKey": "unknown", "contextKey": "subject", "value": "dflt"},
        "dflt",
    ),
    ("value-alone", {"value": "hello"}, "hello"),
    ("missing-dependency-uses-value", {"dependencyName": "gone", "value": "dflt"}, "dflt"),
    ("missing-dependency-skipped", {"dependencyName": "gone", "dataKey": "a"}, None),
    ("yaml-data", {"dependencyName": "yaml", "dataKey": "name"}, "y"),
    ("binary-data-uses-value", {"dependencyName": "binary", "dataKey": "a", "value": "v"}, "v"),
    ("null-data-uses-value", {"dependencyName": "no-data", "dataKey": "a", "value": "v"}, "v"),
    ("absent-content-type-is-json", {"dependencyName": "bare", "dataKey": "a"}, "1"),
    (
        "absent-attribute-is-empty",
        {"dependencyName": "bare", "contextTemplate": "[{{ .Input.subject }}]"},
        "[]",
    ),
    # useRawData: anything but a string keeps its JSON type
    ("raw-object", {"dataKey": "name", "useRawData": True}, {"first": "fake", "last": "user"}),
    ("raw-list", {"dataKey": "countries", "useRawData": True}, ["ca", "us", "mx"]),
    ("raw-number", {"dataKey": "reviews", "useRawData": True}, 8),
    ("raw-float", {"dataKey": "rating", "useRawData": True}, 4.5),
    ("raw-bool", {"dataKey": "isActive", "useRawData": True}, True),
    ("raw-null", {"dataKey": "nothing", "useRawData": True}, None),
    ("raw-string-stays-string", {"dataKey": "name.first", "useRawData": True}, "fake"),
    ("raw-yaml-number", {"dependencyName": "yaml", "dataKey": "age", "useRawData": True}, 20),
    ("raw-template-is-string", {"dataTemplate": "{{ .Input.reviews }}", "useRawData": True}, "8"),
    ("raw-default-is-string", {"dataKey": "unknown", "value": "8", "useRawData": True}, "8"),
]


@pytest.mark.parametrize(("src", "expected"), [c[1:] for c in RESOLVE], ids=[c[0] for c in RESOLVE])
def test_resolve_parameter(src: dict[str, Any], expected: Any) -> None:
    assert resolve_parameter(param(**src), EVENTS) == expected


def test_resolve_whole_event_when_nothing_is_selected() -> None:
    text = resolve_parameter(param(), EVENTS)
    assert isinstance(text, str)
    assert text.startswith('{"context":{"id":"1","source":"webhook-gateway","specversion":"1.0",')
    whole = json.loads(text)
    assert whole["context"] == {
        "id": "1",
        "source": "webhook-gateway",
        "specversion": "1.0",
        "type": "webhook",
        "datacontenttype": "application/json",
        "subject": "example-1",
        "time": "2024-05-01T12:00:00Z",
    }
    assert json.loads(base64.b64decode(whole["data"])) == DATA  # Go marshals []byte as base64
    assert "\\u003cb\\u003e" not in text  # base64 hides the data; the context has no HTML


def test_resolve_whole_binary_event_keeps_its_base64() -> None:
    text = resolve_parameter(param(dependencyName="binary"), EVENTS)
    assert isinstance(text, str)
    assert json.loads(text)["data"] == "AAE="


RESOLVE_ERRORS = [
    (
        "missing-key",
        {"dataKey": "unknown"},
        r"unable to resolve 'dep' parameter value: key unknown",
    ),
    ("bad-template-no-key", {"dataTemplate": "{{ no }}"}, r"template failed"),
    ("no-value-template", {"dataTemplate": "{{ .Input.x }}"}, r"evaluated to empty string"),
    (
        "binary-data",
        {"dependencyName": "binary", "dataKey": "a"},
        r"unsupported event content type",
    ),
    ("null-data", {"dependencyName": "no-data", "dataKey": "a"}, r"not valid JSON"),
    ("bad-yaml", {"dependencyName": "yaml-bad", "dataKey": "a"}, r"failed converting yaml"),
]


@pytest.mark.parametrize(
    ("src", "match"), [c[1:] for c in RESOLVE_ERRORS], ids=[c[0] for c in RESOLVE_ERRORS]
)
def test_resolve_parameter_errors(src: dict[str, Any], match: str) -> None:
    events = {**EVENTS, "yaml-bad": {**EVENTS["yaml"], "data": "a: [1"}}
    with pytest.raises(ParameterError, match=match) as info:
        resolve_parameter(param(dest="spec.x", **src), events)
    assert isinstance(info.value, PermanentError)
    assert "(dest 'spec.x')" in str(info.value)


def test_resolve_parameter_without_src() -> None:
    with pytest.raises(ParameterError, match="src is not set"):
        resolve_parameter(TriggerParameter(dest="x"), EVENTS)


# ---- applying to a resource ------------------------------------------------------------------
FIRST = {"dataKey": "name.first"}
WORKFLOW = {"spec": {"arguments": {"parameters": [{"name": "message", "value": "hi"}]}}}
APPLY: list[tuple[str, list[TriggerParameter], Any, Any]] = [
    ("overwrite-default", [param("name", **FIRST)], {"name": "faker"}, {"name": "fake"}),
    ("overwrite", [param("name", "overwrite", **FIRST)], {"name": "faker"}, {"name": "fake"}),
    ("prepend", [param("name", "prepend", **FIRST)], {"name": "faker"}, {"name": "fakefaker"}),
    ("append", [param("name", "append", **FIRST)], {"name": "faker"}, {"name": "fakerfake"}),
    ("append-to-number", [param("n", "append", **FIRST)], {"n": 1}, {"n": "1fake"}),
    ("append-to-null", [param("n", "append", **FIRST)], {"n": None}, {"n": "fake"}),
    ("append-missing-overwrites", [param("name", "append", **FIRST)], {}, {"name": "fake"}),
    (
        "append-raw-number-becomes-string",
        [param("age", "append", dataKey="reviews", useRawData=True)],
        {"age": "Years: "},
        {"age": "Years: 8"},
    ),
    (
        "append-raw-list-to-missing-keeps-list",
        [param("countries", "append", dataKey="countries", useRawData=True)],
        {},
        {"countries": ["ca", "us", "mx"]},
    ),
    (
        "block-as-string",
        [param("name", dataKey="name")],
        {"name": "faker"},
        {"name": '{"first":"fake","last":"user"}'},
    ),
    (
        "block-raw",
        [param("name", dataKey="name", useRawData=True)],
        {"name": "faker"},
        {"name": {"first": "fake", "last": "user"}},
    ),
    ("raw-number", [param("age", dataKey="reviews", useRawData=True)], {}, {"age": 8}),
    ("number-as-string", [param("age", dataKey="reviews")], {}, {"age": "8"}),
    ("raw-null", [param("n", dataKey="nothing", useRawData=True)], {"n": 1}, {"n": None}),
    (
        "numeric-index",
        [param("spec.arguments.parameters.0.value", **FIRST)],
        WORKFLOW,
        {"spec": {"arguments": {"parameters": [{"name": "message", "value": "fake"}]}}},
    ),
    (
        "index-past-end-pads-null",
        [param("l.3", **FIRST)],
        {"l": ["a"]},
        {"l": ["a", None, None, "fake"]},
    ),
    ("minus-one-appends", [param("l.-1", **FIRST)], {"l": ["a"]}, {"l": ["a", "fake"]}),
    ("minus-one-creates-list", [param("l.-1", **FIRST)], {}, {"l": ["fake"]}),
    (
        "minus-one-then-key",
        [param("spec.args.-1.name", **FIRST)],
        {"spec": {"args": [{"name": "a"}]}},
        {"spec": {"args": [{"name": "a"}, {"name": "fake"}]}},
    ),
    (
        "nested-maps-created",
        [param("spec.template.metadata.name", **FIRST)],
        {"spec": {}},
        {"spec": {"template": {"metadata": {"name": "fake"}}}},
    ),
    (
        "numeric-key-creates-list",
        [param("items.1.name", **FIRST)],
        {},
        {"items": [None, {"name": "fake"}]},
    ),
    ("numeric-key-on-map-is-key", [param("m.0", **FIRST)], {"m": {}}, {"m": {"0": "fake"}}),
    ("existing-numeric-map-key", [param("m.0", **FIRST)], {"m": {"0": "x"}}, {"m": {"0": "fake"}}),
    ("forced-key", [param("m.:0", **FIRST)], {}, {"m": {"0": "fake"}}),
    (
        "escaped-dot",
        [param("metadata.labels.app\\.kubernetes\\.io/name", **FIRST)],
        {"metadata": {}},
        {"metadata": {"labels": {"app.kubernetes.io/name": "fake"}}},
    ),
    ("escaped-star", [param("a\\*b", **FIRST)], {}, {"a*b": "fake"}),
    ("scalar-replaced-by-map", [param("a.b", **FIRST)], {"a": "x"}, {"a": {"b": "fake"}}),
    (
        "missing-dependency-skipped",
        [param("a", dependencyName="gone", dataKey="a")],
        {"a": 1},
        {"a": 1},
    ),
    (
        "in-order",
        [param("name", **FIRST), param("name", "append", dataKey="name.last")],
        {"name": "x"},
        {"name": "fakeuser"},
    ),
    ("empty-resource", [param("a", **FIRST)], None, {"a": "fake"}),
]


@pytest.mark.parametrize(
    ("params", "resource", "expected"), [c[1:] for c in APPLY], ids=[c[0] for c in APPLY]
)
def test_apply_parameters(params: list[TriggerParameter], resource: Any, expected: Any) -> None:
    before = copy.deepcopy(resource)
    assert apply_parameters(params, EVENTS, resource) == expected
    assert resource == before


def test_apply_parameters_does_not_share_event_data() -> None:
    out = apply_parameters([param("name", dataKey="name", useRawData=True)], EVENTS, {})
    out["name"]["first"] = "changed"
    assert DATA["name"]["first"] == "fake"


APPLY_ERRORS: list[tuple[str, list[TriggerParameter], Any, str]] = [
    (
        "unknown-operation",
        [param("name", "replace", **FIRST)],
        {},
        r"^parameter 0 \(dest 'name'\): unsupported trigger parameter operation: replace$",
    ),
    ("empty-dest", [param("", **FIRST)], {}, r"parameter 0 \(dest ''\): path cannot be empty"),
    ("no-dest", [param(None, **FIRST)], {}, r"parameter 0: path cannot be empty"),
    ("empty-key", [param("a..b", **FIRST)], {}, r"empty key"),
    ("key-into-list", [param("l.x", **FIRST)], {"l": []}, r"non-numeric key 'x'"),
    ("forced-key-into-list", [param("l.:0", **FIRST)], {"l": []}, r"non-numeric key '0'"),
    ("query-dest", [param("a.*", **FIRST)], {}, r"gjson query syntax"),
    ("hash-dest", [param("a.#", **FIRST)], {}, r"gjson query syntax"),
    (
        "second-parameter-named",
        [param("a", **FIRST), param("b.c", dataKey="unknown")],
        {},
        r"^parameter 1 \(dest 'b.c'\): unable to resolve 'dep'",
    ),
    ("no-src", [TriggerParameter(dest="a")], {}, r"parameter 0 \(dest 'a'\): src is not set"),
]


@pytest.mark.parametrize(
    ("params", "resource", "match"), [c[1:] for c in APPLY_ERRORS], ids=[c[0] for c in APPLY_ERRORS]
)
def test_apply_parameters_errors(params: list[TriggerParameter], resource: Any, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        apply_parameters(params, EVENTS, resource)


def test_parameter_error_carries_index_and_dest() -> None:
    with pytest.raises(ValueError) as info:
        apply_parameters([param("a", **FIRST), param("b", dataKey="nope")], EVENTS, {})
    assert isinstance(info.value, ParameterError)
    assert (info.value.index, info.value.dest) == (1, "b")


def test_skipped_parameter_is_not_checked() -> None:
    """Argo resolves first: a parameter with nothing to write never reaches its operation."""
    skipped = param("", "bogus", dependencyName="gone", dataKey="a")
    assert apply_parameters([skipped], EVENTS, {"a": 1}) == {"a": 1}


# ---- template level ----------------------------------------------------------------------------
def trigger(parameters: list[dict[str, Any]]) -> Trigger:
    return Trigger.model_validate(
        {
            "template": {
                "name": "create-pod",
                "k8s": {
                    "operation": "create",
                    "source": {"resource": {"kind": "Pod", "metadata": {"name": "x"}}},
                    "parameters": [{"src": {"dependencyName": "dep", "dataKey": "a"}, "dest": "y"}],
                },
            },
            "parameters": parameters,
        }
    )


def test_apply_template_parameters() -> None:
    original = trigger(
        [
            {
                "src": {"dependencyName": "dep", "dataKey": "name.first"},
                "dest": "k8s.source.resource.metadata.name",
            },
            {"src": {"dependencyName": "dep", "value": "update"}, "dest": "k8s.operation"},
            {"src": {"dependencyName": "dep", "contextKey": "subject"}, "dest": "conditions"},
        ]
    )
    template = apply_template_parameters(original, EVENTS)
    assert template.k8s is not None and template.k8s.source is not None
    assert template.k8s.source.resource == {"kind": "Pod", "metadata": {"name": "fake"}}
    assert template.k8s.operation == "update"
    assert template.conditions == "example-1"
    assert template.k8s.parameters == original.template.k8s.parameters  # type: ignore[union-attr]
    assert original.template.k8s.operation == "create"  # type: ignore[union-attr]


def test_apply_template_parameters_without_parameters_is_identity() -> None:
    original = trigger([])
    assert apply_template_parameters(original, EVENTS) is original.template


def test_apply_template_parameters_invalid_result() -> None:
    bad = trigger(
        [{"src": {"dependencyName": "dep", "dataKey": "name.first"}, "dest": "k8s.liveObject"}]
    )
    with pytest.raises(
        ParameterError, match=r"invalid after applying parameters \(dest 'k8s.liveObject'\)"
    ):
        apply_template_parameters(bad, EVENTS)


def test_apply_template_parameters_names_failing_parameter() -> None:
    bad = trigger([{"src": {"dependencyName": "dep", "dataKey": "nope"}, "dest": "k8s.operation"}])
    with pytest.raises(ParameterError, match=r"^parameter 0 \(dest 'k8s.operation'\)"):
        apply_template_parameters(bad, EVENTS)


# ---- payload -----------------------------------------------------------------------------------
PAYLOAD = [
    (
        "argo-construct-payload",
        [
            param("firstName", dataKey="name.first", value="faker"),
            param("age", dataKey="reviews", useRawData=True),
            param("isActive", dataKey="isActive", useRawData=True),
            param("typelessAge", dataKey="reviews"),
            param("typelessIsActive", dataKey="isActive"),
        ],
        b'{"firstName":"fake","age":8,"isActive":true,"typelessAge":"8","typelessIsActive":"true"}',
    ),
    (
        "unknown-key-default",
        [param("firstName", dataKey="unknown", value="faker")],
        b'{"firstName":"faker"}',
    ),
    (
        "no-dest-is-whole-body",
        [param(None, dataKey="name", useRawData=True), param("a", **FIRST)],
        b'{"first":"fake","last":"user"}',
    ),
    (
        "operation-ignored",
        [param("a", **FIRST), param("a", "append", dataKey="name.last")],
        b'{"a":"user"}',
    ),
    ("missing-dependency-skipped", [param("a", dependencyName="gone", dataKey="a")], b""),
    ("numeric-first-key-is-array", [param("1", **FIRST)], b'[null,"fake"]'),
    ("null-raw", [param("n", dataKey="nothing", useRawData=True)], b'{"n":null}'),
]


@pytest.mark.parametrize(
    ("params", "expected"), [c[1:] for c in PAYLOAD], ids=[c[0] for c in PAYLOAD]
)
def test_build_payload(params: list[TriggerParameter], expected: bytes) -> None:
    assert build_payload(params, EVENTS) == expected


def test_build_payload_error_names_parameter() -> None:
    with pytest.raises(ParameterError, match=r"^parameter 1 \(dest 'b'\): unable to resolve"):
        build_payload([param("a", **FIRST), param("b", dataKey="nope")], EVENTS)

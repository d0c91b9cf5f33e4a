"""Dependency filters as Argo Events applies them; cases mirror argo-events' filter tests
(``pkg/sensors/dependencies/filter*_test.go``) where they apply, plus sluice's own edges."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from sensor.filters import DependencyFilter, FilterResult, FilterSpecError, Verdict
from sensor.models import EventDependencyFilter

NESTED = {"k": True, "k1": {"k": 3.14, "k2": "hello, world"}}
ABCDE = {"a": "x", "b": 10, "c": {"d": "hello world", "e": False}}


def event(data: Any = None, **attributes: Any) -> dict[str, Any]:
    ce: dict[str, Any] = {
        "specversion": "1.0",
        "id": "1",
        "source": "webhook-gateway",
        "subject": "example-1",
        "type": "webhook",
        "time": "2024-05-01T16:36:34Z",
        "datacontenttype": "application/json",
    }
    if data is not None:
        ce["data"] = data
    ce.update(attributes)
    return ce


def run(
    spec: dict[str, Any] | None, ev: dict[str, Any], operator: str | None = None
) -> FilterResult:
    filters = None if spec is None else EventDependencyFilter.model_validate(spec)
    return DependencyFilter(filters, operator).evaluate(ev)


def data(*filters: dict[str, Any], op: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"data": list(filters)}
    if op:
        spec["dataLogicalOperator"] = op
    return spec


def s(path: str, *values: str, **more: Any) -> dict[str, Any]:
    return {"path": path, "type": "string", "value": list(values), **more}


def n(path: str, *values: str, **more: Any) -> dict[str, Any]:
    return {"path": path, "type": "number", "value": list(values), **more}


def b(path: str, *values: str) -> dict[str, Any]:
    return {"path": path, "type": "bool", "value": list(values)}


# ---- data ----------------------------------------------------------------------------------
B64_NOT_EQUAL = pytest.param(
    data(s("k", "hello world", template="{{ b64dec .Input }}", comparator="!=")),
    {"k": "aGVsbG8gd29ybGQ"},
    True,
    id="argo: base64 template (bad padding), comparator not equal",
)

DATA_CASES = [
    # argo: filter_data_test.go
    pytest.param(data(s("k", "v")), None, True, id="argo: empty data passes"),
    pytest.param(data(s("k", "v")), {"k": "v"}, True, id="argo: string filter"),
    pytest.param(data(s("k", "v", comparator="=")), {"k": "v"}, True, id="argo: string EqualTo"),
    pytest.param(
        data(s("k", "b", comparator="!=")), {"k": "v"}, True, id="argo: string NotEqualTo"
    ),
    pytest.param(data({"path": "", "type": "string"}), {"k": "v"}, False, id="argo: empty path"),
    pytest.param(data({"path": "k"}), {"k": "v"}, False, id="argo: no type"),
    pytest.param(data(s("k")), {"k": "v"}, False, id="argo: no values"),
    pytest.param(data(n("k", "1.0")), {"k": "1.0"}, True, id="argo: number, data string"),
    pytest.param(data(n("k", "1.0", comparator=">")), {"k": "2.0"}, True, id="argo: > data string"),
    pytest.param(
        data(n("k", "1.0", comparator="<=")), {"k": "2.0"}, False, id="argo: <= data string"
    ),
    pytest.param(
        data(n("k", "1.0", comparator="!=")), {"k": "1.0"}, False, id="argo: != data string"
    ),
    pytest.param(data(n("k", "5.0", comparator="=")), {"k": "5.0"}, True, id="argo: = data str"),
    pytest.param(data(n("k", "10.0")), {"k": "10.0"}, True, id="argo: no comparator, data str"),
    pytest.param(data(n("k", "1.0")), {"k": 1.0}, True, id="argo: number"),
    pytest.param(data(n("k", "1.0", comparator=">")), {"k": 2.0}, True, id="argo: >"),
    pytest.param(data(n("k", "1.0", comparator="<=")), {"k": 2.0}, False, id="argo: <="),
    pytest.param(data(n("k", "1.0", comparator="!=")), {"k": 1.0}, False, id="argo: !="),
    pytest.param(data(n("k", "5.0", comparator="=")), {"k": 5}, True, id="argo: = int data"),
    pytest.param(
        data(s("k", "v"), n("k1.k", "2.14"), s("k1.k2", "hello,world", "hello there")),
        NESTED,
        False,
        id="argo: multiple filters, default operator",
    ),
    pytest.param(
        data(
            b("k", "true"),
            n("k1.k", "3.14"),
            s("k1.k2", "hello,world", "hello, world", "hello there"),
            op="and",
        ),
        NESTED,
        True,
        id="argo: multiple filters, and",
    ),
    pytest.param(
        data(b("k", "false"), n("k1.k", "3.14"), s("k1.k2", "hello,world"), op="or"),
        NESTED,
        True,
        id="argo: multiple filters, or",
    ),
    pytest.param(
        data(s('[k,k1.a.#(k2=="v2").k2]', "\\bv\\b.*\\bv2\\b", comparator="=")),
        {"k": "v", "k1": {"a": [{"k2": "v2"}]}},
        True,
        id="argo: regex over a multipath",
    ),
    pytest.param(
        data(
            s(
                '[k,k1.a.#(k2=="v2").k2,,k1.a.#(k2=="v3").k2]',
                "(\\bz\\b.*\\bv2\\b)|(\\bv\\b.*(\\bv2\\b.*\\bv3\\b))",
            )
        ),
        {"k": "v", "k1": {"a": [{"k2": "v2"}, {"k2": "v3"}]}},
        True,
        id="argo: regex over a multipath with an empty member",
    ),
    pytest.param(
        data(s("k", "HELLO WORLD", template="{{ b64dec .Input | upper }}")),
        {"k": "aGVsbG8gd29ybGQ="},
        True,
        id="argo: base64, uppercase template",
    ),
    pytest.param(
        data(n("k", "3.13", comparator=">", template="{{ b64dec .Input }}")),
        {"k": "My4xNA=="},
        True,
        id="argo: base64 template, number",
    ),
    B64_NOT_EQUAL,
    pytest.param(
        data(s("k", "world$", template="{{ b64dec .Input }}")),
        {"k": "aGVsbG8gd29ybGQ="},
        True,
        id="argo: base64 template, regex",
    ),
    pytest.param(
        data(s("k", "id1", "id2", "id3", comparator="!=")),
        {"k": "id1"},
        False,
        id="argo: != several strings, value in them",
    ),
    pytest.param(
        data(s("k", "id1", "id2", "id3", comparator="!=")),
        {"k": "id_other"},
        True,
        id="argo: != several strings, value not in them",
    ),
    pytest.param(
        data(n("k", "1.0", "2.0", "3.0", comparator="!=")),
        {"k": 2.0},
        False,
        id="argo: != several numbers, value in them",
    ),
    pytest.param(
        data(n("k", "1.0", "2.0", "3.0", comparator="!=")),
        {"k": 5.0},
        True,
        id="argo: != several numbers, value not in them",
    ),
    # strings are unanchored regexes
    pytest.param(
        data(s("body.bucket", "load")), {"body": {"bucket": "uploads"}}, True, id="unanchored"
    ),
    pytest.param(data(s("b", "^up")), {"b": "uploads"}, True, id="^ anchor"),
    pytest.param(data(s("b", "^uploads$")), {"b": "uploads-2"}, False, id="^$ anchors"),
    pytest.param(data(s("b", "^a$", "^uploads$")), {"b": "uploads"}, True, id="any value matches"),
    pytest.param(data(s("b", "(?i)^UP")), {"b": "uploads"}, True, id="go flags"),
    pytest.param(data(s("b", "s\\z")), {"b": "uploads"}, True, id="go \\z"),
    pytest.param(data(s("b", "(")), {"b": "x"}, False, id="bad regex"),
    pytest.param(data(s("b", "x", comparator=">")), {"b": "x"}, False, id="string with >"),
    pytest.param(data(s("n", "^4")), {"n": 42}, True, id="string filter on a number"),
    pytest.param(data(s("o", '"a":1')), {"o": {"a": 1}}, True, id="string filter on an object"),
    pytest.param(data(s("x", "^$")), {"x": None}, True, id="null reads as empty"),
    # numbers
    pytest.param(data(n("v", "10", "60", comparator=">")), {"v": 51}, True, id="> any value"),
    pytest.param(data(n("v", "60", "70", comparator=">")), {"v": 51}, False, id="> no value"),
    pytest.param(data(n("v", "51", comparator=">=")), {"v": 51}, True, id=">= equal"),
    pytest.param(data(n("v", "52", comparator="<")), {"v": 51}, True, id="<"),
    pytest.param(data(n("v", "0")), {"v": "abc"}, True, id="non-numeric string reads as 0"),
    pytest.param(data(n("v", "1")), {"v": True}, True, id="true reads as 1"),
    pytest.param(data(n("v", "1e3")), {"v": 1000}, True, id="exponent"),
    pytest.param(data(n("v", "abc")), {"v": 1}, False, id="bad number value"),
    pytest.param(data(n("v", "1_000")), {"v": 1000}, False, id="no underscores, as Go"),
    pytest.param(data(n("v", "1", comparator="~")), {"v": 1}, False, id="unknown comparator"),
    # bools
    pytest.param(data(b("k", "true")), {"k": True}, True, id="bool true"),
    pytest.param(data(b("k", "True")), {"k": True}, True, id="bool True"),
    pytest.param(data(b("k", "1")), {"k": True}, True, id="bool 1"),
    pytest.param(data(b("k", "F")), {"k": False}, True, id="bool F"),
    pytest.param(data(b("k", "false")), {"k": True}, False, id="bool mismatch"),
    pytest.param(data(b("k", "true")), {"k": "TRUE"}, True, id="bool from string"),
    pytest.param(data(b("k", "true")), {"k": 2}, True, id="bool from non-zero number"),
    pytest.param(data(b("k", "false")), {"k": "nope"}, True, id="unreadable string is false"),
    pytest.param(data(b("k", "yes")), {"k": True}, False, id="bad bool value"),
    pytest.param(data(b("k", "false", "true")), {"k": True}, True, id="several bools"),
    # missing paths and operators
    pytest.param(data(s("z", "v")), {"k": "v"}, False, id="missing path"),
    pytest.param(data(s("z", "v"), s("k", "v"), op="or"), {"k": "v"}, True, id="or past missing"),
    pytest.param(data(s("z", "v"), s("k", "x"), op="or"), {"k": "v"}, False, id="or all fail"),
    pytest.param(data(s("k", "v"), s("z", "v")), {"k": "v"}, False, id="and with missing"),
    pytest.param(data(), {"k": "v"}, True, id="empty data list"),
    pytest.param(data(op="or"), {"k": "v"}, True, id="empty data list under or"),
    # paths of every kind
    pytest.param(
        data(s("$.body.items[*].name", "^b$")),
        {"body": {"items": [{"name": "b"}]}},
        True,
        id="jsonpath, one match",
    ),
    pytest.param(
        data(s("$.body.items[*].name", '\\["a","b"\\]')),
        {"body": {"items": [{"name": "a"}, {"name": "b"}]}},
        True,
        id="jsonpath, several matches read as an array",
    ),
    pytest.param(
        data(n("body.items.#", "2")), {"body": {"items": [1, 2]}}, True, id="array length"
    ),
    pytest.param(
        data(s('body.items.#(kind=="file")#.name', "a")),
        {"body": {"items": [{"kind": "file", "name": "a"}, {"kind": "dir", "name": "b"}]}},
        True,
        id="query",
    ),
    pytest.param(data(s("a.#(", "x")), {"a": []}, False, id="invalid path"),
]


@pytest.mark.parametrize(("spec", "payload", "expected"), DATA_CASES)
def test_data_filters(spec: dict[str, Any], payload: Any, expected: bool) -> None:
    result = run(spec, event(payload))
    assert result.passed is expected, result.verdicts
    assert all(v.kind == "data" for v in result.verdicts)


def test_data_not_json_fails() -> None:
    not_json = event(data_base64=base64.b64encode(b"a").decode(), datacontenttype="text/plain")
    result = run(data(s("k", "v")), not_json)
    assert not result.passed
    assert result.verdicts[0].detail == "event data not valid JSON"


def test_data_base64_json_is_read() -> None:
    encoded = event(data_base64=base64.b64encode(b'{"k": "v"}').decode())
    assert run(data(s("k", "^v$")), encoded).passed


@pytest.mark.parametrize("payload", ["text", 3, [1, 2]], ids=["string", "number", "array"])
def test_data_that_is_not_an_object_fails_on_paths(payload: Any) -> None:
    result = run(data(s("body.x", "v")), event(payload))
    assert not result.passed
    assert result.verdicts[0].detail == "path body.x not found"


# ---- verdicts explain ----------------------------------------------------------------------
def test_verdict_explains_a_match() -> None:
    result = run(
        data(s("body.bucket.name", "^up")), event({"body": {"bucket": {"name": "uploads"}}})
    )
    assert result.verdicts == (
        Verdict(
            kind="data",
            index=0,
            passed=True,
            detail='body.bucket.name = "uploads" (value "^up") matched',
            value="uploads",
            rule='string = ["^up"]',
        ),
    )


VERDICT_DETAILS = [
    (s("b", "^a", "^c"), {"b": "x"}, 'b = "x" (values "^a", "^c") did not match'),
    (s("b", "x", comparator="!="), {"b": "x"}, 'b = "x" (not "x") matched'),
    (s("b", "y", "z", comparator="!="), {"b": "x"}, 'b = "x" (not "y", "z") matched none'),
    (n("v", "50", comparator=">"), {"v": 51}, "v = 51 (> 50) passed"),
    (n("v", "60", "70", comparator=">"), {"v": 51}, "v = 51 (> any of 60, 70) failed"),
    (n("v", "1", "2", comparator="!="), {"v": 3}, "v = 3 (!= 1, 2) passed"),
    (n("v", "abc"), {"v": 1}, 'v = 1: strconv.ParseFloat: parsing "abc": invalid syntax'),
    (b("k", "yes"), {"k": True}, 'k = true: strconv.ParseBool: parsing "yes": invalid syntax'),
    (b("k", "true"), {"k": True}, "k = true (value true) matched"),
    (s("z", "v"), {"k": "v"}, "path z not found"),
    (s("k"), {"k": "v"}, 'k = "v": no values specified'),
    (
        {"path": "k", "type": "float", "value": ["1"]},
        {"k": 1},
        "k = 1: unsupported JSON type 'float'",
    ),
    (
        s("k", "HELLO", template="{{ upper .Input }}"),
        {"k": "hello"},
        'k = "hello" → template → "HELLO" (value "HELLO") matched',
    ),
    (
        s("k", "x", template='{{ if eq .Input "v" }}{{ end }}'),
        {"k": "v"},
        'k = "v": template evaluated to empty string or no value',
    ),
]


def test_template_errors_are_explained() -> None:
    (verdict,) = run(data(s("k", "x", template="{{ .Input.nope }}")), event({"k": "v"})).verdicts
    assert not verdict.passed
    assert verdict.detail.startswith('k = "v": template: ')
    assert "nope" in verdict.detail


@pytest.mark.parametrize(
    ("rule", "payload", "detail"), VERDICT_DETAILS, ids=[d for _, _, d in VERDICT_DETAILS]
)
def test_verdict_details(rule: dict[str, Any], payload: Any, detail: str) -> None:
    (verdict,) = run(data(rule), event(payload)).verdicts
    assert verdict.detail == detail


def test_compile_problems_are_listed_once() -> None:
    spec = EventDependencyFilter.model_validate(
        {
            "data": [s("a.#(", "x"), n("v", "abc"), s("k", "(")],
            "exprs": [{"expr": "a ==", "fields": [{"name": "a", "path": "a"}]}],
            "time": {"start": "9:00", "stop": "10:00:00", "timezone": "Mars/Olympus"},
        }
    )
    problems = DependencyFilter(spec).problems
    assert [p.split(":")[0] for p in problems] == [
        "exprs[0].expr",
        "data[0].path",
        "data[1].value[0]",
        "data[2].value[0]",
        "time",
    ]


def test_script_is_rejected() -> None:
    spec = EventDependencyFilter.model_validate({"script": "return true"})
    with pytest.raises(FilterSpecError, match="Lua script filters are not supported"):
        DependencyFilter(spec)


def test_no_filters_pass_everything() -> None:
    assert run(None, event({"k": "v"})) == FilterResult(True, ())
    assert run({}, event({"k": "v"})) == FilterResult(True, ())  # argo: "test empty"


def test_a_bad_event_never_raises() -> None:
    f = DependencyFilter(
        EventDependencyFilter.model_validate(
            {
                "data": [s("k", "v")],
                "context": {"type": "webhook"},
                "time": {"start": "00:00:00", "stop": "12:00:00"},
            }
        )
    )
    for bad in ({}, {"data": {"k": "v"}, "time": 12}, {"time": "yesterday"}, "not a mapping"):
        result = f.evaluate(bad, exhaustive=True)  # type: ignore[arg-type]
        assert not result.passed
        assert all(v.detail for v in result.verdicts)


# ---- exprs ---------------------------------------------------------------------------------
def expr(text: str, **fields: str) -> dict[str, Any]:
    return {"expr": text, "fields": [{"name": k, "path": v} for k, v in fields.items()]}


def exprs(*items: dict[str, Any], op: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"exprs": list(items)}
    if op:
        spec["exprLogicalOperator"] = op
    return spec


EXPR_CASES = [
    # argo: filter_expr_test.go
    pytest.param(exprs(expr('a == "b"', a="a")), None, True, id="argo: empty data"),
    pytest.param(exprs(expr('a == "b"', a="a")), {"a": "b"}, True, id="argo: string equal"),
    pytest.param(exprs(expr('a != "b"', a="a")), {"a": "c"}, True, id="argo: string differs"),
    pytest.param(
        exprs(expr('b == "b"', b="a.b")), {"a": {"b": "c"}}, False, id="argo: nested string"
    ),
    pytest.param(exprs(expr("b == 2", b="a.b")), {"a": {"b": 2}}, True, id="argo: number equal"),
    pytest.param(exprs(expr("b < 1", b="a.b")), {"a": {"b": 2}}, False, id="argo: less than"),
    pytest.param(
        exprs(expr('b =~ "start"', b="a.b")),
        {"a": {"b": "start long string"}},
        True,
        id="argo: string contains",
    ),
    pytest.param(
        exprs(expr('b !~ "start"', b="a.b")),
        {"a": {"b": "long string"}},
        True,
        id="argo: string does not contain",
    ),
    pytest.param(
        exprs(expr('b == "x"', b="a.b"), expr('d == "y"', d="a.d")),
        {"a": {"b": "x", "d": "y"}},
        True,
        id="argo: multiple, default operator",
    ),
    pytest.param(
        exprs(expr('b == "x"', b="a.b"), expr('d == "d"', d="a.d"), op="and"),
        {"a": {"b": "x", "d": "y"}},
        False,
        id="argo: multiple, and",
    ),
    pytest.param(
        exprs(expr('b == "x"', b="a.b"), expr('d == "d"', d="a.d"), op="or"),
        {"a": {"b": "x", "d": "y"}},
        True,
        id="argo: multiple, or",
    ),
    pytest.param(
        exprs(expr('b == "b"', b="a.b"), expr('c == "c"', c="a.c"), op="or"),
        {"a": {"b": "x", "d": "y"}},
        False,
        id="argo: or, one field missing",
    ),
    pytest.param(
        exprs(
            expr('b == "x"', b="a.b"),
            expr('c == "c"', c="a.c"),
            expr("e == true", e="a.d.e"),
            op="or",
        ),
        {"a": {"b": "x", "d": {"e": True}}},
        True,
        id="argo: or, missing field not reached",
    ),
    pytest.param(
        exprs(expr('b == "b"', b="a.b"), expr('c == "c"', c="a.c")),
        {"a": {"b": "x", "d": "y"}},
        False,
        id="argo: and, missing field not reached",
    ),
    pytest.param(
        exprs(expr('b == "x"', b="a.b"), expr('c == "c"', c="a.c"), op="and"),
        {"a": {"b": "x", "d": {"e": True}}},
        False,
        id="argo: and, one field missing",
    ),
    pytest.param(
        exprs(expr('b != "b" && d == true', b="a.b", d="a.d")),
        {"a": {"b": "x", "c": {"d": True}}},
        False,
        id="argo: && inside, field missing",
    ),
    pytest.param(
        exprs(expr('b != "b" && d == true', b="a.b", d="a.c.d"), op="or"),
        {"a": {"b": "x", "c": {"d": True}}},
        True,
        id="argo: && inside",
    ),
    pytest.param(
        exprs(expr('b == "b" || d == true', b="a.b", d="a.c.d")),
        {"a": {"b": "b", "c": {"d": False}}},
        True,
        id="argo: || inside",
    ),
    pytest.param(
        exprs(expr('b == "b" || (d == true && e == 2)', b="a.b", d="a.c.d")),
        {"a": {"b": "b", "c": {"d": False}, "e": 2}},
        True,
        id="argo: short circuit leaves e unbound",
    ),
    # sluice's edges
    pytest.param(exprs(expr("n == 2.0", n="n")), {"n": 2}, True, id="numbers are float64"),
    pytest.param(exprs(expr('n == "2"', n="n")), {"n": 2}, False, id="number is not a string"),
    pytest.param(exprs(expr("n + 1", n="n")), {"n": 2}, False, id="non-bool result fails"),
    pytest.param(exprs(expr("n ==", n="n")), {"n": 2}, False, id="parse error"),
    pytest.param(exprs(expr("n > 1", n="n")), {"n": "x"}, False, id="evaluation error"),
    pytest.param(exprs(expr('x == "b"', x="items.1")), {"items": ["a", "b"]}, True, id="index"),
    pytest.param(
        exprs(expr("x == 2", x="$.items[?(@.id == 2)].id")),
        {"items": [{"id": 1}, {"id": 2}]},
        True,
        id="jsonpath field",
    ),
    pytest.param(exprs({"expr": "true"}), {"a": 1}, True, id="no fields: skipped under and"),
    pytest.param(exprs({"expr": "true"}, op="or"), {"a": 1}, False, id="no fields: skipped, or"),
    pytest.param(exprs(op="or"), {"a": 1}, False, id="empty list under or fails, as in Argo"),
    pytest.param(exprs(), {"a": 1}, True, id="empty list under and"),
]


@pytest.mark.parametrize(("spec", "payload", "expected"), EXPR_CASES)
def test_expr_filters(spec: dict[str, Any], payload: Any, expected: bool) -> None:
    result = run(spec, event(payload))
    assert result.passed is expected, result.verdicts


def test_expr_verdict_shows_bound_values() -> None:
    result = run(
        exprs(expr('b == "x" && n > 2', b="a.b", n="a.n")), event({"a": {"b": "x", "n": 3}})
    )
    (verdict,) = result.verdicts
    assert verdict.detail == 'b == "x" && n > 2 with b="x", n=3 is true'
    assert verdict.value == {"b": "x", "n": 3.0}
    assert verdict.rule == 'b == "x" && n > 2'


def test_expr_missing_path_is_explained() -> None:
    (verdict,) = run(exprs(expr("c == 1", c="a.c")), event({"a": {}})).verdicts
    assert (verdict.passed, verdict.detail) == (False, "path a.c not found")


# ---- context -------------------------------------------------------------------------------
CONTEXT_CASES = [
    pytest.param({"type": "webhook"}, {"type": "calendar"}, False, id="argo: different types"),
    pytest.param(
        {"type": "webhook", "source": "webhook-gateway"}, {}, True, id="argo: same contexts"
    ),
    pytest.param({"subject": "example-1"}, {}, True, id="subject"),
    pytest.param({"datacontenttype": "application/json"}, {}, True, id="datacontenttype"),
    pytest.param({"datacontenttype": "text/plain"}, {}, False, id="datacontenttype differs"),
    pytest.param({"type": "web.*"}, {}, False, id="exact, not a regex"),
    pytest.param({"type": "Webhook"}, {}, False, id="case matters"),
    pytest.param({"source": "webhook-gateway"}, {"source": None}, False, id="absent attribute"),
    pytest.param({"id": "other", "type": "webhook"}, {}, True, id="id is ignored, as in Argo"),
    pytest.param({}, {}, True, id="nothing to compare"),
]


@pytest.mark.parametrize(("spec", "attributes", "expected"), CONTEXT_CASES)
def test_context_filter(spec: dict[str, Any], attributes: dict[str, Any], expected: bool) -> None:
    ev = event({"k": "v"}, **attributes)
    ev = {k: v for k, v in ev.items() if v is not None}
    assert run({"context": spec}, ev).passed is expected


def test_context_verdicts_name_each_attribute() -> None:
    result = run({"context": {"type": "webhook", "source": "nope"}}, event())
    assert [(v.index, v.passed, v.detail) for v in result.verdicts] == [
        (0, True, 'type "webhook" equals "webhook"'),
        (1, False, 'source "webhook-gateway" is not "nope"'),
    ]


# ---- time ----------------------------------------------------------------------------------
TIMES = ["00:00:00", "04:05:06", "08:09:10", "12:13:14", "16:17:18", "20:21:22"]


@pytest.mark.parametrize(
    ("start", "stop", "expected"),
    [
        ("08:09:10", "16:17:18", [False, False, True, True, False, False]),
        ("16:17:18", "08:09:10", [True, True, False, False, True, True]),
    ],
    ids=["argo: start before stop", "argo: stop before start wraps midnight"],
)
def test_time_window(start: str, stop: str, expected: list[bool]) -> None:
    spec = {"time": {"start": start, "stop": stop}}
    got = [run(spec, event(time=f"2024-05-01T{t}Z")).passed for t in TIMES]
    assert got == expected


TIME_CASES = [
    pytest.param("09:00:00", "10:00:00", None, "2024-05-01T09:30:00Z", True, id="utc inside"),
    pytest.param("09:00:00", "10:00:00", None, "2024-05-01T10:00:00Z", False, id="stop exclusive"),
    pytest.param("09:00:00", "10:00:00", None, "2024-05-01T09:00:00Z", True, id="start inclusive"),
    pytest.param(
        "09:00:00", "10:00:00", None, "2024-05-01T11:30:00+02:00", True, id="offset read as utc"
    ),
    pytest.param(
        "09:00:00", "10:00:00", "Europe/Paris", "2024-05-01T07:30:00Z", True, id="paris summer"
    ),
    pytest.param(
        "09:00:00", "10:00:00", "Europe/Paris", "2024-01-15T08:30:00Z", True, id="paris winter"
    ),
    pytest.param(
        "09:00:00", "10:00:00", "Europe/Paris", "2024-05-01T09:30:00Z", False, id="paris outside"
    ),
    pytest.param(
        "22:00:00",
        "02:00:00",
        "America/New_York",
        "2024-05-02T03:30:00Z",
        True,
        id="new york, across midnight, late",
    ),
    pytest.param(
        "22:00:00",
        "02:00:00",
        "America/New_York",
        "2024-05-02T05:30:00Z",
        True,
        id="new york, across midnight, early",
    ),
    pytest.param(
        "22:00:00",
        "02:00:00",
        "America/New_York",
        "2024-05-02T12:00:00Z",
        False,
        id="new york, across midnight, outside",
    ),
    pytest.param(
        "09:00:00", "10:00:00", None, "2024-05-01T09:30:00.123456789Z", True, id="nanoseconds"
    ),
    pytest.param("9:00:00", "10:00:00", None, "2024-05-01T09:30:00Z", True, id="one-digit hour"),
    pytest.param(
        "09:30:00.5", "10:00:00", None, "2024-05-01T09:30:00.4Z", False, id="fractional start"
    ),
    pytest.param("24:00:00", "10:00:00", None, "2024-05-01T09:30:00Z", False, id="hour 24"),
    pytest.param("09:09:0", "19:19:19", None, "2024-05-01T16:36:34Z", False, id="argo: bad start"),
    pytest.param(None, "19:19:19", None, "2024-05-01T16:36:34Z", False, id="no start"),
    pytest.param(
        "09:00:00", "10:00:00", "Mars/Olympus", "2024-05-01T09:30:00Z", False, id="bad tz"
    ),
    pytest.param("09:00:00", "10:00:00", None, "yesterday", False, id="bad event time"),
    pytest.param("10:00:00", "10:00:00", None, "2024-05-01T03:00:00Z", True, id="start == stop"),
]


@pytest.mark.parametrize(("start", "stop", "zone", "at", "expected"), TIME_CASES)
def test_time_filter(
    start: str | None, stop: str, zone: str | None, at: str, expected: bool
) -> None:
    spec = {"time": {"start": start, "stop": stop, "timezone": zone}}
    result = run(spec, event(time=at))
    assert result.passed is expected, result.verdicts


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2024, 5, 1, 23, 30, tzinfo=UTC), True),
        (datetime(2024, 5, 1, 12, tzinfo=UTC), False),
    ],
    ids=["inside", "outside"],
)
def test_time_of_an_event_without_time_comes_from_the_clock(now: datetime, expected: bool) -> None:
    spec = EventDependencyFilter.model_validate({"time": {"start": "23:00:00", "stop": "01:00:00"}})
    ev = event()
    del ev["time"]
    assert DependencyFilter(spec, clock=lambda: now).evaluate(ev).passed is expected


def test_event_time_wins_over_the_clock() -> None:
    spec = EventDependencyFilter.model_validate({"time": {"start": "16:00:00", "stop": "17:00:00"}})
    late = DependencyFilter(spec, clock=lambda: datetime(2024, 5, 1, 3, tzinfo=UTC))
    (verdict,) = late.evaluate(event(time="2024-05-01T16:36:34Z")).verdicts
    assert verdict.passed
    assert verdict.detail == (
        "event time 2024-05-01T16:36:34+00:00 is inside [16:00:00, 17:00:00) UTC"
    )


# ---- across kinds --------------------------------------------------------------------------
CTX_OK = {"type": "webhook", "source": "webhook-gateway"}
A_AND_B = [s("a", "x"), n("b", "10")]
C_AND_D_TRUE = [expr('d == "hello world"', d="c.d"), expr("e == false", e="c.e")]
C_AND_D_FALSE = [expr('d == "hello world"', d="c.d"), expr("e == true", e="c.e")]
C_OR_D_FALSE = [expr('d == "hello everybody"', d="c.d"), expr("e == true", e="c.e")]

KIND_CASES = [
    # argo: filter_test.go
    pytest.param({"data": [s("k", "v")]}, None, {"k": "v"}, True, id="argo: event passing"),
    pytest.param({"data": [s("z", "v")]}, None, {"k": "v"}, False, id="argo: not passing"),
    pytest.param(
        {"time": {"start": "09:09:0", "stop": "19:19:19"}},
        None,
        {"k": "v"},
        False,
        id="argo: time error",
    ),
    pytest.param(
        {"context": CTX_OK, "data": [s("k", "z")]},
        None,
        {"k": "v"},
        False,
        id="argo: default operator, ctx true, data false",
    ),
    pytest.param(
        {"context": CTX_OK, "data": [s("z", "v")]},
        None,
        {"k": "v"},
        False,
        id="argo: default operator, data error",
    ),
    pytest.param(
        {"context": {"type": "webhook", "source": "webhook-fake"}, "data": [s("k", "v")]},
        "and",
        {"k": "v"},
        False,
        id="argo: and, ctx false, data true",
    ),
    pytest.param(
        {"context": CTX_OK, "data": [s("z", "v")]},
        "and",
        {"k": "v"},
        False,
        id="argo: and, data error",
    ),
    pytest.param(
        {"context": CTX_OK, "data": [s("z", "v")]},
        "or",
        {"k": "v"},
        True,
        id="argo: or, ctx true, data error",
    ),
    pytest.param(
        {"data": A_AND_B, "exprs": C_AND_D_TRUE},
        None,
        ABCDE,
        True,
        id="argo: (A && B) && (C && D)",
    ),
    pytest.param(
        {
            "data": [s("z", "x"), n("b", "10")],
            "exprs": [C_AND_D_TRUE[0], expr('e == false"', e="c.e")],
        },
        None,
        ABCDE,
        False,
        id="argo: (A && B) && (C && D) with error",
    ),
    pytest.param(
        {
            "data": A_AND_B,
            "dataLogicalOperator": "and",
            "exprs": C_AND_D_FALSE,
            "exprLogicalOperator": "and",
        },
        "or",
        ABCDE,
        True,
        id="argo: (A && B) || (C && D)",
    ),
    pytest.param(
        {
            "data": [s("a", "x"), n("b", "11")],
            "dataLogicalOperator": "or",
            "exprs": C_AND_D_FALSE,
            "exprLogicalOperator": "or",
        },
        "and",
        ABCDE,
        True,
        id="argo: (A || B) && (C || D)",
    ),
    pytest.param(
        {
            "exprs": [expr('A == "not-valid"', A="a.b")],
            "data": [s("a.d.e.f", "not-valid"), s("a.h.i", "not-valid", "not-valid-2")],
        },
        "or",
        {"a": {"b": "c", "d": {"e": {"f": "g"}}, "h": {"i": "j"}}},
        False,
        id="argo: or with a subset of kinds, all false",
    ),
    pytest.param(
        {
            "data": [s("a", "y"), n("b", "11")],
            "dataLogicalOperator": "or",
            "exprs": [C_AND_D_TRUE[0], expr("e == false", e="c.e")],
            "exprLogicalOperator": "or",
        },
        "or",
        ABCDE,
        True,
        id="argo: (A || B) || (C || D)",
    ),
    pytest.param(
        {
            "data": A_AND_B,
            "dataLogicalOperator": "and",
            "exprs": C_OR_D_FALSE,
            "exprLogicalOperator": "or",
        },
        "or",
        ABCDE,
        True,
        id="argo: (A && B) || (C || D)",
    ),
    pytest.param(
        {
            "data": [s("a", "x"), n("b", "11")],
            "dataLogicalOperator": "or",
            "exprs": [C_OR_D_FALSE[0], expr("e == false", e="c.e")],
            "exprLogicalOperator": "and",
        },
        "or",
        ABCDE,
        True,
        id="argo: (A || B) || (C && D)",
    ),
    pytest.param(
        {"data": [s("a", "x"), n("b", "11")], "exprs": C_OR_D_FALSE, "exprLogicalOperator": "or"},
        "and",
        ABCDE,
        False,
        id="argo: (A && B) && (C || D)",
    ),
    pytest.param(
        {
            "data": [s("a", "x"), n("b", "10")],
            "dataLogicalOperator": "or",
            "exprs": [expr('f == "hello world"', f="c.f"), expr("e == false", e="c.e")],
        },
        "and",
        ABCDE,
        False,
        id="argo: (A || B) && (C && D) with error",
    ),
    # sluice's edges
    pytest.param({"data": [s("k", "z")]}, "or", None, True, id="or: no data passes data"),
    pytest.param({}, "or", {"k": "v"}, False, id="or with no kind set passes nothing"),
    pytest.param(
        {"context": {"type": "nope"}, "time": {"start": "16:00:00", "stop": "17:00:00"}},
        "or",
        {"k": "v"},
        True,
        id="or: time passes",
    ),
]


@pytest.mark.parametrize(("spec", "operator", "payload", "expected"), KIND_CASES)
def test_filters_logical_operator(
    spec: dict[str, Any], operator: str | None, payload: Any, expected: bool
) -> None:
    result = run(spec, event(payload), operator)
    assert result.passed is expected, result.verdicts


def test_and_stops_at_the_first_failing_kind_unless_exhaustive() -> None:
    spec = EventDependencyFilter.model_validate(
        {"exprs": [expr("a == 1", a="a")], "data": [s("k", "v")], "context": {"type": "x"}}
    )
    f = DependencyFilter(spec)
    quick = f.evaluate(event({"a": 2, "k": "v"}))
    assert [v.kind for v in quick.verdicts] == ["exprs"]
    full = f.evaluate(event({"a": 2, "k": "v"}), exhaustive=True)
    assert not full.passed
    assert [(v.kind, v.passed) for v in full.verdicts] == [
        ("exprs", False),
        ("data", True),
        ("context", False),
    ]


def test_or_stops_at_the_first_passing_rule_unless_exhaustive() -> None:
    spec = EventDependencyFilter.model_validate(
        {"data": [s("k", "v"), s("z", "v"), s("k", "x")], "dataLogicalOperator": "or"}
    )
    f = DependencyFilter(spec)
    assert len(f.evaluate(event({"k": "v"})).verdicts) == 1
    full = f.evaluate(event({"k": "v"}), exhaustive=True)
    assert full.passed
    assert [v.detail for v in full.verdicts] == [
        'k = "v" (value "v") matched',
        "path z not found",
        'k = "v" (value "x") did not match',
    ]


def test_no_data_verdicts_say_why() -> None:
    result = run({"data": [s("k", "v"), s("j", "w")]}, event())
    assert result.passed
    assert [v.detail for v in result.verdicts] == ["event has no data: passes, as in Argo"] * 2

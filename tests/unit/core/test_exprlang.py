"""sluice.core.exprlang: Argo's documented ``{{=...}}`` examples, then expr-lang's semantics."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest

from sluice.core.exprlang import ExprError, evaluate, parse

ENV: dict[str, Any] = {
    "inputs": {
        "parameters": {
            "my-int-param": "42",
            "my-float-param": "2.5",
            "my-string-param": "  padded  ",
            "json": '{"some": {"path": "found"}, "list": [{"n": 1}, {"n": 2}]}',
            "x": "abc",
            "should-print": "true",
        }
    },
    "steps": {
        "flip-coin": {"outputs": {"result": "heads"}},
        "heads": {"outputs": {"result": "it was heads"}},
        "tails": {"outputs": {"result": "it was tails"}},
    },
    "workflow": {
        "name": "wf-abc",
        "parameters": {"json": '[{"name": "should-print", "value": "true"}]'},
    },
    "lastRetry": {"exitCode": "2", "status": "Failed", "message": "pod deleted", "duration": "5"},
    "retries": 2,
    "item": {"name": "a", "tags": ["x", "y"]},
    "items": [{"name": "a", "n": 1}, {"name": "b", "n": 3}, {"name": "c", "n": 5}],
    "nums": [1, 2, 3, 4],
    "nothing": None,
}

# Every example of docs/variables.md's Expression section, Argo's examples and the retry docs.
ARGO_EXAMPLES = [
    ("plain-list", "[1, 2]", [1, 2]),
    ("filter-list", "filter([1, 2], { # > 1})", [2]),
    ("map-list", "map([1, 2], { # * 2 })", [2, 4]),
    ("cast-to-int", "asInt(inputs.parameters['my-int-param'])", 42),
    ("cast-to-float", "asFloat(inputs.parameters['my-float-param'])", 2.5),
    ("cast-to-string", "string(1)", "1"),
    ("to-json", "toJson([1, 2])", "[1,2]"),
    ("jsonpath", "jsonpath(inputs.parameters.json, '$.some.path')", "found"),
    ("sprig-trim", "sprig.trim(inputs.parameters['my-string-param'])", "padded"),
    ("retry-as-int", "asInt(lastRetry.exitCode) >= 2", True),
    ("retry-string", "lastRetry.exitCode != '2'", False),
    (
        "retry-policy",
        'lastRetry.status == "Error" or (lastRetry.status == "Failed" and '
        "asInt(lastRetry.exitCode) not in [1,2,127])",
        False,
    ),
    ("retry-message", "lastRetry.message matches 'imminent node shutdown|pod deleted'", True),
    (
        "conditional-parameters",
        "steps['flip-coin'].outputs.result == 'heads'? steps.heads.outputs.result "
        ": steps.tails.outputs.result",
        "it was heads",
    ),
    ("when-expr-form", "inputs.parameters[\"should-print\"] == 'true'", True),
    ("when-jsonpath", "jsonpath(workflow.parameters.json, '$[0].value') == 'true'", True),
    ("workflow-name", "workflow.name", "wf-abc"),
    ("item-field", "item.name", "a"),
    ("retries", "retries + 1", 3),
    ("sprig-upper", "sprig.upper(inputs.parameters.x)", "ABC"),
    ("sprig-add", "sprig.add(1, 2)", 3),
    ("sprig-argument-order", "sprig.replace('a', 'b', 'aa')", "bb"),
    ("sprig-default", "sprig.default('d', '')", "d"),
    ("with-param", "toJson(filter(items, {#.n > 2}))", '[{"n":3,"name":"b"},{"n":5,"name":"c"}]'),
]


@pytest.mark.parametrize(
    ("source", "expected"), [e[1:] for e in ARGO_EXAMPLES], ids=[e[0] for e in ARGO_EXAMPLES]
)
def test_argo_examples(source: str, expected: Any) -> None:
    result = evaluate(source, ENV)
    assert result == expected
    assert type(result) is type(expected)


CASES = [
    # literals
    ("int", "42", 42),
    ("float", "1.5", 1.5),
    ("exponent", "1e3", 1000.0),
    ("underscores", "1_000", 1000),
    ("hex", "0x1F", 31),
    ("double-quoted-escapes", r'"a\tb\n\"c\""', 'a\tb\n"c"'),
    ("single-quoted", r"'it\'s'", "it's"),
    ("unicode-escape", r'"\u00e9\x41"', "éA"),
    ("raw-string", r"`a\n`", "a\\n"),
    ("booleans", "[true, false, nil]", [True, False, None]),
    ("map", '{a: 1, "b-c": 2, 3: "x"}', {"a": 1, "b-c": 2, "3": "x"}),
    ("map-computed-key", "{('a' + 'b'): 1}", {"ab": 1}),
    ("trailing-commas", "[1, 2,]", [1, 2]),
    # arithmetic
    ("int-division-is-float", "7 / 2", 3.5),
    ("even-division-is-float", "4 / 2", 2.0),
    ("modulo", "7 % 3", 1),
    ("modulo-sign-of-dividend", "-7 % 3", -1),
    ("power-is-float", "2 ** 10", 1024.0),
    ("caret-right-assoc", "2 ^ 3 ^ 2", 512.0),
    ("precedence", "1 + 2 * 3", 7),
    ("parentheses", "(1 + 2) * 3", 9),
    ("left-assoc", "10 - 2 - 3", 5),
    ("unary-minus-below-power", "-2 ** 2", -4.0),
    ("mixed", "1 + 0.5", 1.5),
    ("divide-by-zero", "1 / 0", math.inf),
    ("concat", '"a" + "b"', "ab"),
    ("range", "1..3", [1, 2, 3]),
    ("empty-range", "3..1", []),
    # comparison and logic
    ("int-equals-float", "1 == 1.0", True),
    ("string-not-number", '"1" == 1', False),
    ("bool-not-number", "true == 1", False),
    ("nil-equals-nil", "nil == nil", True),
    ("array-equality", "[1, 2] == [1, 2]", True),
    ("string-order", '"abc" < "abd"', True),
    ("mixed-numbers", "2 >= 2.0", True),
    ("chained", "1 < 2 < 3", True),
    ("chained-false", "1 < 3 < 2", False),
    ("and-or", "true && false || true", True),
    ("words", "true and not false", True),
    ("or-word", "false or false", False),
    ("not-binds-tighter-than-equals", "not true == false", True),
    ("short-circuit-and", "false && missing", False),
    ("short-circuit-or", "true || missing", True),
    ("in-array", "2 in [1, 2]", True),
    ("in-map-keys", "'a' in {a: 1}", True),
    ("not-in", "3 not in [1, 2]", True),
    ("matches", '"hello" matches "^h"', True),
    ("not-matches", '"hello" not matches "^x"', True),
    ("contains", '"hello" contains "ell"', True),
    ("not-contains", '"abc" not contains "x"', True),
    ("startsWith", '"hello" startsWith "he"', True),
    ("endsWith", '"hello" endsWith "lo"', True),
    ("ternary", "true ? 1 : 2", 1),
    ("ternary-comparison", '1 > 2 ? "a" : "b"', "b"),
    ("ternary-nested", "false ? 1 : true ? 2 : 3", 2),
    ("coalesce-nil", "nil ?? 1", 1),
    ("coalesce-zero", "0 ?? 1", 0),
    ("coalesce-missing-key", "inputs.parameters.nope ?? 'dflt'", "dflt"),
    # members, indexes and slices
    ("dash-name", "steps['flip-coin'].outputs.result", "heads"),
    ("index", "nums[0]", 1),
    ("negative-index", "nums[-1]", 4),
    ("slice", "nums[1:3]", [2, 3]),
    ("slice-open-start", "nums[:2]", [1, 2]),
    ("slice-open-end", "nums[2:]", [3, 4]),
    ("slice-negative", "nums[-2:]", [3, 4]),
    ("slice-clamped", "nums[2:99]", [3, 4]),
    ("string-slice", '"hello"[1:3]', "el"),
    ("string-index", '"hello"[0]', "h"),
    ("missing-key-is-nil", "item.missing", None),
    ("nested-index", "item.tags[1]", "y"),
    ("optional-nil", "nothing?.foo", None),
    ("optional-chain", "nothing?.foo.bar", None),
    ("optional-index", "nothing?.[0]", None),
    ("optional-present", "item?.name", "a"),
    # builtins
    ("asInt-float", "asInt(3.9)", 3),
    ("asFloat-int", "asFloat(2)", 2.0),
    ("int", "int('7')", 7),
    ("float", "float('1e3')", 1000.0),
    ("string-float", "string(1.5)", "1.5"),
    ("string-whole-float", "string(2.0)", "2"),
    ("string-bool", "string(true)", "true"),
    ("string-nil", "string(nil)", "<nil>"),
    ("string-array", "string([1, 'a'])", "[1 a]"),
    ("len-string", "len('héllo')", 5),
    ("len-array", "len(nums)", 4),
    ("len-map", "len({a: 1})", 1),
    ("toJson-sorted", "toJson({b: 1, a: [true, nil]})", '{"a":[true,null],"b":1}'),
    ("toJSON-indented", "toJSON({a: 1})", '{\n  "a": 1\n}'),
    ("fromJson", "fromJson('{\"a\": [1]}')", {"a": [1]}),
    ("jsonpath-wildcard", "jsonpath(inputs.parameters.json, '$.list[*].n')", [1, 2]),
    ("jsonpath-single-wildcard", "jsonpath('{\"a\": [7]}', '$.a[*]')", [7]),
    ("jsonpath-filter", "jsonpath(inputs.parameters.json, '$.list[?(@.n > 1)].n')", [2]),
    ("jsonpath-object", "jsonpath(item, '$.tags[0]')", "x"),
    ("lower", "lower('AbC')", "abc"),
    ("upper", "upper('abc')", "ABC"),
    ("trim", "trim('  a  ')", "a"),
    ("trim-chars", "trim('__a__', '_')", "a"),
    ("split", "split('a,b,c', ',')", ["a", "b", "c"]),
    ("split-n", "split('a,b,c', ',', 2)", ["a", "b,c"]),
    ("join", "join(['a', 'b'], '-')", "a-b"),
    ("join-default", "join(['a', 'b'])", "ab"),
    ("first", "first(nums)", 1),
    ("last", "last(nums)", 4),
    ("first-empty", "first([])", None),
    ("abs", "abs(-3)", 3),
    ("max", "max(1, 5, 3)", 5),
    ("min-array", "min(nums)", 1),
    ("keys", "keys({a: 1, b: 2})", ["a", "b"]),
    ("type", "type(1.5)", "float"),
    # closures
    ("filter-member", "map(filter(items, {#.n > 2}), {#.name})", ["b", "c"]),
    ("map-field", "map(items, {#.name})", ["a", "b", "c"]),
    ("map-dot-shorthand", "map(items, .n)", [1, 3, 5]),
    ("predicate-without-braces", "filter(nums, # % 2 == 0)", [2, 4]),
    ("index-pointer", "map(nums, #index)", [0, 1, 2, 3]),
    ("all", "all(nums, {# > 0})", True),
    ("any", "any(nums, {# > 3})", True),
    ("none", "none(nums, {# > 4})", True),
    ("one", "one(nums, {# == 2})", True),
    ("count", "count(nums, {# > 1})", 3),
    ("count-bools", "count([true, false, true])", 2),
    ("sum", "sum(nums)", 10),
    ("find", "find(items, {#.n > 1}).name", "b"),
    ("find-none", "find(items, {#.n > 9})", None),
    ("findIndex", "findIndex(items, {#.n > 1})", 1),
    ("findLast", "findLast(nums, {# < 3})", 2),
    ("nested-closures", "filter([[1, 2], [3]], {any(#, {# > 2})})", [[3]]),
    ("closure-uses-env", "filter(nums, {# > retries})", [3, 4]),
]


@pytest.mark.parametrize(("source", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_evaluate(source: str, expected: Any) -> None:
    result = evaluate(source, ENV)
    assert result == expected
    assert type(result) is type(expected)


def test_env_function_overrides_builtin() -> None:
    env = {"upper": lambda s: f"<{s}>", "double": lambda n: n * 2}
    assert evaluate("upper('a') + string(double(2))", env) == "<a>4"


def test_env_sprig_entry_is_used_as_given() -> None:
    assert evaluate("sprig.hello()", {"sprig": {"hello": lambda: "hi"}}) == "hi"


def test_generated_json_round_trips() -> None:
    assert json.loads(evaluate("toJson(map(items, {{n: #.n}}))", ENV)) == [
        {"n": 1},
        {"n": 3},
        {"n": 5},
    ]


ERRORS = [
    ("unknown-name", "x", "unknown name x (1:1)"),
    ("unknown-func", "foo(1)", "unknown func foo (1:1)"),
    ("unknown-sprig-func", "sprig.nope(1)", "unknown func sprig.nope (1:7)"),
    ("not-callable", "workflow.name()", "workflow.name is not a function but string"),
    ("end-of-expression", "1 +", "unexpected end of expression (1:4)"),
    ("unclosed-paren", "(1", "unexpected end of expression (1:3)"),
    ("adjacent-values", "1 2", "unexpected token '2' (1:3)"),
    ("line-and-column", "1 +\n  missing", "unknown name missing (2:3)"),
    ("string-plus-int", '"a" + 1', "invalid operation: + (mismatched types string and int)"),
    ("compare-mismatch", '1 < "a"', "invalid operation: < (mismatched types int and string)"),
    ("modulo-zero", "5 % 0", "integer divide by zero"),
    ("modulo-float", "1.5 % 2", "invalid operation: % (mismatched types float and int)"),
    ("not-bool", "!1", "operator ! needs a bool, got int"),
    ("and-not-bool", "1 && true", "operator && needs a bool, got int"),
    ("ternary-not-bool", "1 ? 2 : 3", "ternary condition needs a bool, got int"),
    ("negate-string", "-'a'", "invalid operation: - (mismatched type string)"),
    ("index-out-of-range", "[1][5]", "index out of range: 5 (array length is 1)"),
    ("fetch-from-nil", "nothing.a", "cannot fetch a from nil"),
    ("fetch-from-array", "nums.a", "cannot fetch a from array"),
    ("slice-int", "5[1:2]", "cannot slice int"),
    ("in-scalar", "1 in 2", "operator in not defined on int"),
    ("range-floats", "1.5..3", "invalid operation: .. (mismatched types float and int)"),
    ("bad-regex", '"x" matches "("', "invalid regexp '('"),
    ("asInt-text", 'asInt("x")', "asInt: cannot convert string 'x' to int"),
    ("asInt-decimal-text", 'asInt("3.5")', "asInt: cannot convert string '3.5' to int"),
    ("len-int", "len(1)", "len: invalid argument for len (type int)"),
    ("arity", "lower('a', 'b')", "lower: wrong number of arguments (2)"),
    ("sprig-error", "sprig.upper(1)", "sprig.upper: expected a string, got int '1'"),
    ("sprig-arity", "sprig.upper()", "sprig.upper: wrong number of arguments (0)"),
    (
        "jsonpath-no-match",
        "jsonpath('{\"a\": 1}', '$.b')",
        "jsonpath: JSONPath '$.b' matches nothing",
    ),
    ("jsonpath-bad-json", "jsonpath('{', '$.a')", "jsonpath: invalid JSON"),
    ("jsonpath-bad-path", "jsonpath('{}', '$[')", "jsonpath: invalid JSONPath '$['"),
    ("fromJson-bad", "fromJson('{')", "fromJson: invalid JSON"),
    ("pointer-outside", "# > 1", "cannot use pointer accessor outside predicate (1:1)"),
    ("predicate-missing", "filter([1])", "filter expects a predicate: filter(list, {...})"),
    ("predicate-not-bool", "filter([1], {#})", "predicate of filter needs a bool, got int"),
    ("predicate-not-array", "filter(1, # > 0)", "filter: expected array, got int"),
    ("unknown-pointer", "map([1], #acc)", "unknown pointer #acc"),
    ("unterminated-string", '"abc', "literal not terminated (1:1)"),
    ("bad-escape", r'"\q"', "invalid char escape (1:2)"),
    ("bad-character", "1 @ 2", "unrecognized character: '@' (1:3)"),
    (
        "coalesce-mixed",
        "nil ?? 1 + 2",
        "Operator (+) and coalesce expressions (??) cannot be mixed. Wrap either by parentheses.",
    ),
    ("bad-map-key", "{[1]: 2}", "a map key must be a quoted string, a number, a identifier"),
    ("not-without-operator", "a not b", "unexpected token 'b'"),
]


@pytest.mark.parametrize(("source", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_error(source: str, message: str) -> None:
    with pytest.raises(ExprError, match=re.escape(message)):
        evaluate(source, ENV)


def test_error_exposes_location() -> None:
    with pytest.raises(ExprError) as info:
        evaluate("1 +\n  missing", ENV)
    error = info.value
    assert (error.message, error.pos, error.line, error.column) == (
        "unknown name missing",
        6,
        2,
        3,
    )
    assert isinstance(error, ValueError)


def test_parse_checks_syntax_without_an_env() -> None:
    parse("steps['flip-coin'].outputs.result == 'heads'")
    with pytest.raises(ExprError, match=re.escape("unexpected token ')' (1:3)")):
        parse("1 )")


def test_datetime_difference_is_a_duration() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    env = {"now": now, "last": now - timedelta(seconds=400)}
    assert evaluate("(now - last).Seconds() > 360", env) is True
    assert evaluate("(now - last).Minutes()", env) == pytest.approx(400 / 60)

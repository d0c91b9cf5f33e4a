"""sluice.core.govaluate: Argo's ``when`` cases, Argo Events' ``exprs`` filters."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from sluice.core.govaluate import ExpressionError, evaluate, evaluate_when

# Argo's own TestShouldExecute / TestShouldExecuteBareLiterals (workflow/controller), then the
# `when` forms of Argo's conditionals examples, after their {{...}} tags are substituted.
WHEN_TRUE = [
    "foo == foo",
    "'ref/branch/master' == 'ref/branch/master'",
    "foo != bar",
    "1 == 1",
    "1 != 2",
    "1 < 2",
    "1 <= 1",
    "1/2 == 0.5",
    "a < b",
    "(foo == bar) || (foo == foo)",
    "(1 > 0) && (1 < 2)",
    "Error in (Failed, Error)",
    "!(Succeeded in (Failed, Error))",
    "true == true",
    "even == even",
    "even == 'even'",
    "odd != even",
    "",
    "heads == heads",
    '"true" == "true"',
    "true == true",
    "hello =~ hel",
    "'hello world' =~ 'hello'",
    "5 > 3",
    "3 == 3.0",
    "( heads == heads &&\n  tails == tails\n) ||\n( heads == tails && tails == tails )",
    "tails =~ tai",
    "heads !~ tai",
]
WHEN_FALSE = [
    "foo != foo",
    "'ref/branch/master' != 'ref/branch/master'",
    "foo == bar",
    "1 != 1",
    "1 == 2",
    "1 > 2",
    "1 <= 0",
    "1/2 != 0.5",
    "a > b",
    "(foo == bar) || (bar == foo)",
    "(1 > 0) && (11 < 2)",
    "Succeeded in (Failed, Error)",
    "!(Error in (Failed, Error))",
    "false == true",
    "odd == even",
    "tails == heads",
    "tails == heads && x != y",
    '"false" == "true"',
    "1 == '1'",
    "True == true",
]


@pytest.mark.parametrize("expression", WHEN_TRUE, ids=[repr(e) for e in WHEN_TRUE])
def test_when_true(expression: str) -> None:
    assert evaluate_when(expression) is True


@pytest.mark.parametrize("expression", WHEN_FALSE, ids=[repr(e) for e in WHEN_FALSE])
def test_when_false(expression: str) -> None:
    assert evaluate_when(expression) is False


WHEN_ERRORS = [
    (
        "invalid-token-hint",
        "heads == @tails",
        "Invalid 'when' expression 'heads == @tails': Invalid token: '@' (at position 9) "
        '(hint: try wrapping the affected expression in quotes ("))',
    ),
    ("not-boolean-number", "5", "Expected boolean evaluation for '5'. Got 5"),
    ("not-boolean-word", "heads", "Expected boolean evaluation for 'heads'. Got heads"),
    (
        "two-words",
        "hello world == hello",
        "Invalid 'when' expression 'hello world == hello': Unexpected token 'world'",
    ),
    (
        "dash-in-bare-word",
        "foo-bar == foo-bar",
        "Failed to evaluate 'when' result 'foo-bar == foo-bar': Value 'foo' cannot be used with "
        "the modifier '-', it is not a number",
    ),
    (
        "mixed-comparison",
        "1 > a",
        "Failed to evaluate 'when' result '1 > a': Cannot compare number '1' with string 'a'",
    ),
]


@pytest.mark.parametrize(
    ("expression", "message"), [e[1:] for e in WHEN_ERRORS], ids=[e[0] for e in WHEN_ERRORS]
)
def test_when_error(expression: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        evaluate_when(expression)


EVALUATE: list[tuple[str, str, dict[str, Any], Any]] = [
    # Argo Events' expr filter documentation
    ("events-or-true", 'a == "b" || c != 10', {"a": "b", "c": 10}, True),
    ("events-or-false", 'a == "b" || c != 10', {"a": "x", "c": 10}, False),
    ("events-bool", "e == false", {"e": False}, True),
    (
        "events-regex",
        '(a == "b" || c != 10) && d =~ "fish"',
        {"a": "b", "c": 1, "d": "goldfish"},
        True,
    ),
    # variables
    ("dotted-name", "body.value > 3", {"body.value": 5}, True),
    ("dotted-nested", "body.value > 3", {"body": {"value": 5}}, True),
    ("bracket-name", "[my-var] * 2", {"my-var": 4}, 8.0),
    ("bracket-escape", "[a\\]b] == 1", {"a]b": 1}, True),
    ("ints-become-floats", "x", {"x": 3}, 3.0),
    ("list-parameter-in", "x in arr", {"x": "b", "arr": ["a", "b"]}, True),
    # types
    ("number-vs-string", '"3" == 3', {}, False),
    ("bool-vs-number", "x == 1", {"x": True}, False),
    ("nil-equal", "x == y", {"x": None, "y": None}, True),
    ("string-order", "'abc' < 'abd'", {}, True),
    ("time-literal", "'2014-01-02'", {}, 1388620800.0),
    ("time-compare", "'2014-01-02' > '2014-01-01 23:59:59'", {}, True),
    ("time-zones", "'2014-01-02T15:04:05Z' == '2014-01-02T17:04:05+02:00'", {}, True),
    ("time-iso8601", "'2014-01-02T15:04Z' == '2014-01-02 15:04'", {}, True),
    ("time-ansic", "'Mon Jan  2 15:04:05 2006' == '2006-01-02T15:04:05Z'", {}, True),
    ("not-a-time", "'2014-13-02'", {}, "2014-13-02"),
    ("hex", "0x10 == 16", {}, True),
    # arithmetic and precedence
    ("precedence", "1 + 2 * 3", {}, 7.0),
    ("parentheses", "(1 + 2) * 3", {}, 9.0),
    ("left-assoc-minus", "10 - 2 - 3", {}, 5.0),
    ("left-assoc-divide", "12 / 2 / 3", {}, 2.0),
    ("modulus", "7 % 3", {}, 1.0),
    ("exponent", "2 ** 3", {}, 8.0),
    ("prefix-binds-tighter-than-exponent", "-2 ** 2", {}, 4.0),
    ("negate-variable", "-x + 1", {"x": 3}, -2.0),
    ("divide-by-zero", "1 / 0", {}, math.inf),
    ("concat", '"a" + "b"', {}, "ab"),
    ("concat-number", '1 + "a"', {}, "1a"),
    ("bit-or", "1 | 2", {}, 3.0),
    ("bit-and", "6 & 3", {}, 2.0),
    ("bit-xor", "5 ^ 1", {}, 4.0),
    ("shift-left", "1 << 3", {}, 8.0),
    ("shift-right", "16 >> 2", {}, 4.0),
    ("bit-not", "~0", {}, -1.0),
    ("comparison-below-arithmetic", "1 + 1 == 2", {}, True),
    ("and-above-or", "true || false && false", {}, True),
    # logic, ternary, coalescing
    ("ternary-true", 'true ? "y" : "n"', {}, "y"),
    ("ternary-false", 'false ? "y" : "n"', {}, "n"),
    ("coalesce-nil", 'x ?? "d"', {"x": None}, "d"),
    ("coalesce-value", 'x ?? "d"', {"x": "v"}, "v"),
    ("and-short-circuit", "false && missing", {}, False),
    ("or-short-circuit", "true || missing", {}, True),
    ("not", "!true", {}, False),
    ("in", "1 in (1, 2)", {}, True),
    ("in-type-strict", '"1" in (1, 2)', {}, False),
    ("regex", '"abc" =~ "^a"', {}, True),
    ("not-regex", '"abc" !~ "^b"', {}, True),
    ("array", "1, 'a'", {}, [1.0, "a"]),
    ("empty", "", {}, None),
]


@pytest.mark.parametrize(
    ("expression", "parameters", "expected"),
    [e[1:] for e in EVALUATE],
    ids=[e[0] for e in EVALUATE],
)
def test_evaluate(expression: str, parameters: dict[str, Any], expected: Any) -> None:
    result = evaluate(expression, parameters)
    assert result == expected
    assert type(result) is type(expected)


ERRORS = [
    ("missing-parameter", "x == 1", "No parameter 'x' found. (at position 0)"),
    ("missing-nested", "body.nope", "No parameter 'body.nope' found."),
    ("mixed-comparison", '1 < "a"', "Cannot compare number '1' with string 'a' using '<'"),
    (
        "minus-string",
        '"a" - 1',
        "Value 'a' cannot be used with the modifier '-', it is not a number",
    ),
    ("invert-number", "!5", "Value '5' cannot be used with the prefix '!', it is not a bool"),
    (
        "logical-number",
        "1 && true",
        "Value '1' cannot be used with the logical operator '&&', it is not a bool",
    ),
    (
        "in-scalar",
        "1 in 2",
        "Value '2' cannot be used with the comparator 'in', it is not an array",
    ),
    ("ternary-not-bool", "1 ? 2 : 3", "cannot be used with the ternary operator '?'"),
    ("bad-regex", '"a" =~ "("', "Unable to compile regexp pattern '('"),
    ("regex-number", '1 =~ "1"', "Value '1' cannot be used with the comparator '=~'"),
    ("adjacent-values", "1 2", "Unexpected token '2' (at position 2)"),
    ("bad-number", "1.2.3 == 1", "Unable to parse numeric value '1.2.3' to float64"),
    ("hanging-accessor", "foo. == 1", "Hanging accessor on token 'foo.'"),
    ("unclosed-bracket", "[foo == 1", "Unclosed parameter bracket (at position 0)"),
    ("unclosed-string", "'abc", "Unclosed string literal"),
    ("unbalanced-open", "(1 == 1", "Unbalanced parenthesis (at position 0)"),
    ("unbalanced-close", "1 == 1)", "Unbalanced parenthesis (at position 6)"),
    ("empty-parens", "()", "Empty parentheses"),
    ("trailing-operator", "1 ==", "Unexpected end of expression"),
    ("greedy-symbols", "1 ==-1", "Invalid token: '==-'"),
    ("function-call", "f(1)", "Unexpected token '('"),
]


@pytest.mark.parametrize(
    ("expression", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_evaluate_error(expression: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        evaluate(expression, {"body": {}})


def test_error_carries_position_and_token() -> None:
    with pytest.raises(ExpressionError) as info:
        evaluate("a == #b")
    assert (info.value.position, info.value.token) == (5, "#")
    assert isinstance(info.value, ValueError)


def test_variables_as_strings_turns_every_variable_into_its_name() -> None:
    assert evaluate("heads", {"heads": 1}, variables_as_strings=True) == "heads"
    assert evaluate("[a b] == 'a b'", variables_as_strings=True) is True

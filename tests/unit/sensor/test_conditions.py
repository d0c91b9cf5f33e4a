"""sensor.conditions: Argo's trigger conditions, parsed with govaluate's precedence."""

from __future__ import annotations

import pytest

from sensor.conditions import And, ConditionError, Name, Or, all_of, parse_condition


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("dep01", Name("dep01")),
        ("a && b", And((Name("a"), Name("b")))),
        ("a || b", Or((Name("a"), Name("b")))),
        ("a && b || c", Or((And((Name("a"), Name("b"))), Name("c")))),
        ("a || b && c", Or((Name("a"), And((Name("b"), Name("c")))))),
        ("(a || b) && c", And((Or((Name("a"), Name("b"))), Name("c")))),
        ("a && b && c", And((Name("a"), Name("b"), Name("c")))),
        ("((a))", Name("a")),
        ("test-dep-foo && dep_2", And((Name("test-dep-foo"), Name("dep_2")))),
        ("  a&&b  ", And((Name("a"), Name("b")))),
        ("a || b && (c || d-e)", Or((Name("a"), And((Name("b"), Or((Name("c"), Name("d-e")))))))),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_parse(text: str, tree: object) -> None:
    assert parse_condition(text) == tree


@pytest.mark.parametrize(
    ("text", "satisfied", "fires"),
    [
        ("a && b || c", {"c"}, True),
        ("a && b || c", {"a"}, False),
        ("a && b || c", {"a", "b"}, True),
        ("a || b && c", {"a"}, True),
        ("a || b && c", {"b"}, False),
        ("(a || b) && c", {"a"}, False),
        ("(a || b) && c", {"b", "c"}, True),
        ("dep-a && dep-b", {"dep-a", "dep-b"}, True),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_evaluate(text: str, satisfied: set[str], fires: bool) -> None:
    assert parse_condition(text).evaluate(satisfied) is fires


def test_names_are_listed_once_in_order() -> None:
    assert parse_condition("b && (a || b) && c-d").names() == ("b", "a", "c-d")


@pytest.mark.parametrize(
    "text", ["a && b || c", "(a || b) && c", "a || b && c", "x", "(a || b) && (c || d)"]
)
def test_str_parses_back_to_the_same_tree(text: str) -> None:
    condition = parse_condition(text)
    assert parse_condition(str(condition)) == condition


def test_all_of_is_the_condition_of_a_trigger_without_one() -> None:
    assert all_of(["a", "b", "a"]) == And((Name("a"), Name("b")))
    assert all_of(["a"]) == Name("a")
    with pytest.raises(ValueError):
        all_of([])


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("", "the condition is empty", 0),
        ("a &&", "expected a dependency name at the end", 4),
        ("&& a", "expected a dependency name, got '&&'", 0),
        ("a || || b", "expected a dependency name, got '||'", 5),
        ("(a || b", "missing ')'", 7),
        ("a || b)", "unbalanced ')'", 6),
        ("a b", "expected '&&' or '||' before 'b'", 2),
        ("a & b", "unexpected '&'; did you mean '&&'?", 2),
        ("a | b", "unexpected '|'; did you mean '||'?", 2),
        ("!a", "'!' is not supported", 0),
        ("a and b", "'and' is not an operator here; write '&&'", 2),
        ("a OR b", "'OR' is not an operator here; write '||'", 2),
        ("not a", "'not' is not an operator here; negation is not supported", 0),
        ("a && 2b", "'2b' is not a name: a name cannot start with a digit", 5),
        ("a == b", "unexpected character '='", 2),
        ("a.b", "unexpected character '.'", 1),
        ("()", "expected a dependency name, got ')'", 1),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_errors_say_what_and_where(text: str, message: str, position: int) -> None:
    with pytest.raises(ConditionError) as info:
        parse_condition(text)
    assert info.value.reason.startswith(message), info.value.reason
    assert info.value.position == position
    assert str(info.value).endswith(f"(at position {position})")

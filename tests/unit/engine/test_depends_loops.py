"""DAG depends logic and loop expansion, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from engine import depends, loops

PHASES = {"A": "Succeeded", "B": "Failed", "C": "Skipped", "D": "Error", "E": "Omitted"}


def _result(task: str, check: str | None) -> bool:
    phase = PHASES[task]
    if check is None:
        return phase in ("Succeeded", "Skipped")
    return {
        "Succeeded": phase == "Succeeded",
        "Failed": phase == "Failed",
        "Errored": phase == "Error",
        "Skipped": phase == "Skipped",
        "Omitted": phase == "Omitted",
        "Completed": phase in ("Succeeded", "Failed", "Error"),
    }.get(check, False)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("A", True),
        ("B", False),
        ("C", True),
        ("A && B", False),
        ("A && (B.Succeeded || B.Failed)", True),
        ("!B.Succeeded", True),
        ("B.Failed && D.Errored", True),
        ("E.Omitted || B", True),
        ("B || D", False),
        ("A.Completed && B.Completed && D.Completed", True),
        ("!(A && C)", False),
    ],
    ids=[
        "bare-ok",
        "bare-failed",
        "bare-skipped",
        "and",
        "argo-enhanced",
        "not",
        "errored",
        "omitted",
        "or-false",
        "completed",
        "not-group",
    ],
)
def test_depends(expr: str, expected: bool) -> None:
    assert depends.evaluate(expr, _result) is expected


def test_task_names_allow_dashes_and_results() -> None:
    expr = "should-execute-2.Succeeded || should-not-execute && !a_b.Failed"
    assert depends.task_names(expr) == ["should-execute-2", "should-not-execute", "a_b"]


@pytest.mark.parametrize(
    "expr",
    ["A &&", "(A || B", "A B", "&& A", "A $ B"],
    ids=["dangling", "paren", "juxt", "lead", "char"],
)
def test_depends_errors(expr: str) -> None:
    with pytest.raises(depends.DependsError):
        depends.evaluate(expr, _result)


@pytest.mark.parametrize(
    ("item", "label"),
    [
        ("hello world", "hello world"),
        (3, "3"),
        (2.0, "2"),
        (True, "true"),
        ({"tag": "9.1", "image": "debian"}, "image:debian,tag:9.1"),
        ([1, 2], "[1,2]"),
    ],
    ids=["str", "int", "float", "bool", "map-sorted", "list"],
)
def test_item_label(item: Any, label: str) -> None:
    assert loops.item_label(item) == label
    assert loops.expanded_name("s", 0, item) == f"s(0:{label})"


@pytest.mark.parametrize(
    ("count", "start", "end", "fmt", "items"),
    [
        ("3", None, None, None, ["0", "1", "2"]),
        (None, "5", "2", None, ["5", "4", "3", "2"]),
        (None, "1", "3", "testuser%02d", ["testuser01", "testuser02", "testuser03"]),
        (2, 10, None, None, ["10", "11"]),
    ],
    ids=["count", "negative", "format", "ints"],
)
def test_sequence(count: Any, start: Any, end: Any, fmt: str | None, items: list[str]) -> None:
    assert loops.from_sequence(count, start, end, fmt) == items


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("3", None, "5", None), "only one of count or end"),
        ((None, None, None, None), "either count or end"),
        (("x", None, None, None), "withSequence.count is not an integer"),
    ],
    ids=["both", "neither", "bad-int"],
)
def test_sequence_errors(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(loops.LoopError, match=message):
        loops.from_sequence(*args)


@pytest.mark.parametrize(
    ("text", "ok"),
    [('[1, "a", {"b": 2}]', True), ("[]", True), ('{"a": 1}', False), ("not json", False)],
    ids=["list", "empty", "object", "garbage"],
)
def test_with_param(text: str, ok: bool) -> None:
    if ok:
        assert isinstance(loops.from_param(text), list)
    else:
        with pytest.raises(loops.LoopError, match="could not be parsed as a JSON list"):
            loops.from_param(text)

"""Checks on ``spec.dependencies``: names, event references and filters.

These are the rules Argo's sensor controller applies before it deploys a sensor (a data filter
needs ``path``, ``type`` and ``value``; a comparator is one of six), plus what Argo only finds
when an event arrives: a number value ``strconv.ParseFloat`` rejects, an expression that does
not parse or uses a name its ``fields`` do not bind, a comparator a string or bool filter
ignores, a dependency name the conditions language cannot hold. What sluice cannot run is
reported instead of being silently ignored: Lua ``script`` filters and transforms. A ``jq``
transform is compiled here (Argo parses it only when an event arrives), so a program that does
not compile is reported with its path.
"""

from __future__ import annotations

import dataclasses
import re

from sensor.models import DataFilter, EventDependency, EventDependencyFilter, ExprFilter, TimeFilter
from sensor.transform import jq_problem
from sensor.validation.report import (
    LOGICAL_OPERATORS,
    Problems,
    check_choice,
    check_timezone,
    did_you_mean,
    one_of,
)
from sluice.core import govaluate

COMPARATORS = ("=", "!=", ">", ">=", "<", "<=")
JSON_TYPES = ("string", "number", "bool")
# strconv.ParseBool, which Argo uses on a bool filter's values
GO_BOOLS = ("1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False")
# Go's time.Parse("15:04:05"): the hour may have one digit, minutes and seconds have two.
_CLOCK = re.compile(r"(?:[01]?\d|2[0-3]):[0-5]\d:[0-5]\d")
# Argo turns conditions into an expr-lang program in which every dependency name, with '-'
# read as '_', is an identifier: so a name cannot start with a digit or hold other characters.
_DEPENDENCY_NAME = re.compile(r"[A-Za-z_-][A-Za-z0-9_-]*")


def check_dependencies(dependencies: list[EventDependency], problems: Problems) -> None:
    if not dependencies:
        problems.add("spec.dependencies", "at least one dependency is required")
    seen: dict[str, tuple[int, str]] = {}
    for i, dep in enumerate(dependencies):
        path = f"spec.dependencies[{i}]"
        _check_name(i, dep.name, seen, problems)
        if not dep.event_source_name:
            problems.add(f"{path}.eventSourceName", "required: the EventSource to listen to")
        if not dep.event_name:
            problems.add(f"{path}.eventName", "required: the event of that EventSource")
        check_choice(
            problems,
            f"{path}.filtersLogicalOperator",
            dep.filters_logical_operator,
            LOGICAL_OPERATORS,
            "logical operator",
        )
        if dep.filters is not None:
            _check_filters(f"{path}.filters", dep.filters, problems)
        if dep.transform is not None and dep.transform.script:
            problems.add(
                f"{path}.transform.script",
                "Lua scripts are not supported by sluice; transform with 'jq' instead",
            )
        if dep.transform is not None and dep.transform.jq:
            problem = jq_problem(dep.transform.jq)
            if problem is not None:
                problems.add(f"{path}.transform.jq", problem)


def _check_name(
    index: int, name: str, seen: dict[str, tuple[int, str]], problems: Problems
) -> None:
    """A name is unique, and usable in conditions, where Argo reads '-' as '_'."""
    path = f"spec.dependencies[{index}]"
    if not name:
        problems.add(f"{path}.name", "must not be empty")
        return
    if not _DEPENDENCY_NAME.fullmatch(name):
        problems.add(
            f"{path}.name",
            f"'{name}' cannot be used in trigger conditions: use letters, digits, '_' and '-', "
            "not starting with a digit",
        )
    key = name.replace("-", "_")
    if key not in seen:
        seen[key] = (index, name)
        return
    first, other = seen[key]
    if other == name:
        problems.add(
            f"{path}.name", f"duplicate dependency name '{name}' (see spec.dependencies[{first}])"
        )
    else:
        problems.add(
            f"{path}.name",
            f"'{name}' and '{other}' (spec.dependencies[{first}]) are the same name in "
            "conditions, which read '-' as '_'",
        )


def _check_filters(path: str, filters: EventDependencyFilter, problems: Problems) -> None:
    for key, operator in (
        ("dataLogicalOperator", filters.data_logical_operator),
        ("exprLogicalOperator", filters.expr_logical_operator),
    ):
        check_choice(problems, f"{path}.{key}", operator, LOGICAL_OPERATORS, "logical operator")
    if filters.script:
        problems.add(
            f"{path}.script",
            "Lua script filters are not supported by sluice; use 'exprs' or 'data' filters",
        )
    if filters.time is not None:
        _check_time(f"{path}.time", filters.time, problems)
    for j, data in enumerate(filters.data or []):
        _check_data(f"{path}.data[{j}]", data, problems)
    for j, expr in enumerate(filters.exprs or []):
        _check_expr(f"{path}.exprs[{j}]", expr, problems)


def _clock(value: str | None) -> tuple[int, ...] | None:
    if value is None or not _CLOCK.fullmatch(value):
        return None
    return tuple(int(part) for part in value.split(":"))


def _check_time(path: str, time: TimeFilter, problems: Problems) -> None:
    for key, value in (("start", time.start), ("stop", time.stop)):
        if _clock(value) is None:
            got = "is missing" if value is None else f"'{value}' is not"
            problems.add(f"{path}.{key}", f"{got} a time of day in the form HH:MM:SS")
    start = _clock(time.start)
    if start is not None and start == _clock(time.stop):
        problems.add(f"{path}.stop", f"equals start '{time.start}': the window would be empty")
    check_timezone(problems, f"{path}.timezone", time.timezone)


def _go_float(text: str) -> bool:
    """Whether Go's strconv.ParseFloat, which Argo uses on number filter values, reads it."""
    if text != text.strip() or "_" in text:
        return False
    try:
        float(text)
    except ValueError:
        try:
            float.fromhex(text)
        except ValueError:
            return False
    return True


def _check_value(path: str, kind: str | None, value: str, problems: Problems) -> None:
    if value == "":
        problems.add(path, "must not be empty")
    elif kind == "number" and not _go_float(value):
        problems.add(path, f"'{value}' is not a number")
    elif kind == "bool" and value not in GO_BOOLS:
        problems.add(path, f"'{value}' is not a bool; write 'true' or 'false'")
    elif kind == "string":
        try:
            re.compile(value)
        except re.error as exc:
            problems.add(path, f"'{value}' is not a regular expression: {exc}")


def _check_data(path: str, data: DataFilter, problems: Problems) -> None:
    if not data.path:
        problems.add(f"{path}.path", "required: the gjson path of the value to compare")
    if not data.type:
        problems.add(f"{path}.type", f"required: one of {one_of(JSON_TYPES)}")
    elif data.type not in JSON_TYPES:
        problems.add(
            f"{path}.type", f"unknown type '{data.type}'; expected one of {one_of(JSON_TYPES)}"
        )
    if not data.value:
        problems.add(f"{path}.value", "required: at least one value to compare with")
    for k, value in enumerate(data.value or []):
        _check_value(f"{path}.value[{k}]", data.type, value, problems)
    comparator = data.comparator
    check_choice(problems, f"{path}.comparator", comparator, COMPARATORS, "comparator")
    # Argo compares strings (as regular expressions) and bools for equality only: another
    # comparator makes a string filter never match and is ignored on a bool filter.
    if data.type == "string" and comparator in (">", ">=", "<", "<="):
        problems.add(
            f"{path}.comparator",
            f"'{comparator}' compares numbers; a string filter takes '=' or '!='",
        )
    if data.type == "bool" and comparator not in (None, "", "="):
        problems.add(
            f"{path}.comparator",
            f"'{comparator}' is ignored on a bool filter, which only tests equality; "
            "compare with the other value instead",
        )


def _parse_govaluate(text: str) -> set[str]:
    """Parse without evaluating (there are no payload values at load time); the variables used.

    ``sluice.core.govaluate`` exposes only ``evaluate``; its parser is reached directly until it
    has a public ``parse``.
    """
    names: set[str] = set()
    stack: list[object] = [govaluate._parse(text, False)]
    while stack:
        node = stack.pop()
        if isinstance(node, govaluate._Variable):
            names.add(node.name)
        elif dataclasses.is_dataclass(node):
            for field in dataclasses.fields(node):
                child = getattr(node, field.name)
                stack.extend(child if isinstance(child, tuple) else [child])
    return names


def _bound(variable: str, names: set[str]) -> bool:
    # govaluate reads 'a.b' as the parameter named 'a.b', or as 'b' within the parameter 'a'
    return variable in names or variable.split(".")[0] in names


def _check_expr(path: str, expr: ExprFilter, problems: Problems) -> None:
    names = {item.name for item in expr.fields or [] if item.name}
    if not expr.expr:
        problems.add(f"{path}.expr", "required: the expression to evaluate")
    else:
        try:
            variables = _parse_govaluate(expr.expr)
        except govaluate.ExpressionError as exc:
            problems.add(f"{path}.expr", f"cannot parse '{expr.expr}': {exc}")
        else:
            for variable in sorted(v for v in variables if not _bound(v, names)):
                problems.add(
                    f"{path}.expr",
                    f"'{variable}' is not one of the fields' names{did_you_mean(variable, names)}",
                )
    if not expr.fields:
        problems.add(f"{path}.fields", "required: at least one field naming a payload value")
    for k, item in enumerate(expr.fields or []):
        if not item.name:
            problems.add(f"{path}.fields[{k}].name", "must not be empty")
        if not item.path:
            problems.add(f"{path}.fields[{k}].path", "must not be empty")

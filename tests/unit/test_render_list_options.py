"""render_list's print options, as argo's printer has them (util/printer/workflow-printer.go):
``-o wide`` (P/R/C and PARAMETERS), and NAMESPACE and UID, which ``argo archive list`` adds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sluice.render import render_list, sort_workflows

NOW = datetime(2026, 11, 22, 3, 49, 0, tzinfo=UTC)


def stamp(seconds: int) -> str:
    return (NOW + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pods(*phases: str) -> dict[str, Any]:
    return {f"n{i}": {"type": "Pod", "phase": p} for i, p in enumerate(phases)}


PARAM = {"name": "my-param", "value": "my-value"}
WF: dict[str, Any] = {
    "metadata": {"name": "my-wf", "namespace": "my-ns", "uid": "u-1",
                 "creationTimestamp": stamp(0)},
    "spec": {"priority": 2, "arguments": {"parameters": [PARAM]}},
    "status": {
        "phase": "Running",
        "startedAt": stamp(0),
        "finishedAt": stamp(3),
        "message": "test-message",
        "nodes": {
            **pods("Pending", "Running", "Running", "Succeeded", "Failed", "Error"),
            "steps": {"type": "Steps", "phase": "Running"},  # only pods are counted
        },
    },
}  # fmt: skip


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, [
            "NAME    STATUS    AGE   DURATION   PRIORITY   MESSAGE",
            "my-wf   Running   0s    3s         2          test-message",
        ]),
        ({"namespace": True}, [
            "NAMESPACE   NAME    STATUS    AGE   DURATION   PRIORITY   MESSAGE",
            "my-ns       my-wf   Running   0s    3s         2          test-message",
        ]),
        ({"wide": True}, [
            "NAME    STATUS    AGE   DURATION   PRIORITY   MESSAGE        P/R/C   PARAMETERS",
            "my-wf   Running   0s    3s         2          test-message   1/2/3"
            "   my-param=my-value",
        ]),
        ({"wide": True, "namespace": True, "uid": True}, [  # argo archive list
            "NAMESPACE   NAME    STATUS    AGE   DURATION   PRIORITY   MESSAGE        P/R/C"
            "   PARAMETERS          UID",
            "my-ns       my-wf   Running   0s    3s         2          test-message   1/2/3"
            "   my-param=my-value   u-1",
        ]),
    ],
    ids=["default", "namespace", "wide", "archive"],
)  # fmt: skip
def test_print_options(options: dict[str, bool], expected: list[str]) -> None:
    assert render_list([WF], NOW, **options) == "\n".join(expected) + "\n"


@pytest.mark.parametrize(
    ("parameters", "shown"),
    [
        ([], ""),
        ([{"name": "a", "value": "1"}, {"name": "b"}, {"name": "c", "value": 7}], "a=1,c=7"),
        ([{"name": "long", "value": "x" * 40 + "y" * 20}], "long=" + "x" * 32 + "..." + "y" * 15),
        ([{"name": "edge", "value": "z" * 50}], "edge=" + "z" * 50),
    ],
    ids=["none", "unset-skipped", "truncated", "fifty-kept"],
)
def test_parameters_column(parameters: list[dict[str, Any]], shown: str) -> None:
    wf = {**WF, "spec": {"arguments": {"parameters": parameters}}}
    row = render_list([wf], NOW, wide=True).splitlines()[1]
    assert row.endswith(f"1/2/3   {shown}")  # a tab-terminated cell is padded, even before ""


def test_skipped_and_omitted_pods_count_as_completed() -> None:
    wf = {**WF, "status": {**WF["status"], "nodes": pods("Skipped", "Omitted", "Pending")}}
    assert "1/0/2" in render_list([wf], NOW, wide=True)


def test_sort_workflows_is_argos_order() -> None:
    def wf(name: str, created: int, finished: int | None) -> dict[str, Any]:
        status = {"finishedAt": stamp(finished)} if finished is not None else {}
        return {"metadata": {"name": name, "creationTimestamp": stamp(created)}, "status": status}

    items = [wf("done-early", 0, 5), wf("running-old", 1, None), wf("done-late", 2, 9),
             wf("running-new", 3, None)]  # fmt: skip
    order = [w["metadata"]["name"] for w in sort_workflows(items)]
    assert order == ["running-new", "running-old", "done-late", "done-early"]

"""sluice.render prints what argo's CLI prints.

The expected text follows argo's printer (cmd/argo/commands/common/get.go,
util/printer/workflow-printer.go) and Go's text/tabwriter: every tab-terminated cell is padded,
so rows end in spaces; they are spelled ``+ " " * n`` to keep them visible.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from sluice.render import human_duration, human_since, phase_symbol, render_get, render_list

BASE = datetime(2026, 11, 22, 3, 49, 0, tzinfo=UTC)
NOW = BASE + timedelta(minutes=1)


def at(second: int | None) -> str | None:
    if second is None:
        return None
    return (BASE + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%SZ")


def node(
    node_id: str,
    display: str,
    kind: str,
    template: str,
    phase: str,
    span: tuple[int, int | None],
    boundary: str = "",
    children: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    out = {
        "id": node_id,
        "name": extra.pop("name", display),
        "displayName": display,
        "type": kind,
        "templateName": template,
        "phase": phase,
        "startedAt": at(span[0]),
        "finishedAt": at(span[1]),
        "boundaryID": boundary,
        "children": list(children),
    }
    return out | extra


def workflow(
    name: str, phase: str, span: tuple[int, int | None], nodes: list[dict[str, Any]], **status: Any
) -> dict[str, Any]:
    spec = status.pop("spec", {})
    return {
        "metadata": {"name": name, "namespace": "argo", "creationTimestamp": at(span[0])},
        "spec": spec,
        "status": {
            "phase": phase,
            "startedAt": at(span[0]),
            "finishedAt": at(span[1]),
            "nodes": {n["id"]: n for n in nodes},
        }
        | status,
    }


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


STEPS = workflow(
    "steps-z2zdn",
    "Succeeded",
    (18, 30),
    [
        node("steps-z2zdn", "steps-z2zdn", "Steps", "hello-hello-hello", "Succeeded", (18, 30),
             children=("steps-z2zdn-1414877240",)),
        node("steps-z2zdn-1414877240", "[0]", "StepGroup", "hello-hello-hello", "Succeeded",
             (18, 21), "steps-z2zdn", ("steps-z2zdn-27420706",)),
        node("steps-z2zdn-27420706", "hello1", "Pod", "whalesay", "Succeeded", (18, 21),
             "steps-z2zdn", ("steps-z2zdn-1431654859",), podName="steps-z2zdn-whalesay-27420706"),
        node("steps-z2zdn-1431654859", "[1]", "StepGroup", "hello-hello-hello", "Succeeded",
             (21, 26), "steps-z2zdn", ("steps-z2zdn-2023537710", "steps-z2zdn-2006760091")),
        # No podName: the PODNAME column falls back to the node id.
        node("steps-z2zdn-2023537710", "hello2b", "Pod", "whalesay", "Succeeded", (21, 25),
             "steps-z2zdn"),
        node("steps-z2zdn-2006760091", "hello2a", "Pod", "whalesay", "Succeeded", (21, 26),
             "steps-z2zdn"),
    ],
    progress="3/3",
    spec={"arguments": {"parameters": [{"name": "message", "value": "hello"}]}},
)  # fmt: skip

DIAMOND = workflow(
    "dag-diamond-8q7vp",
    "Succeeded",
    (0, 10),
    [
        node("dag-diamond-8q7vp-4", "D", "Pod", "echo", "Succeeded", (7, 10), "dag-diamond-8q7vp",
             podName="dag-diamond-8q7vp-echo-1178490910"),
        node("dag-diamond-8q7vp-3", "C", "Pod", "echo", "Succeeded", (3, 7), "dag-diamond-8q7vp",
             podName="dag-diamond-8q7vp-echo-1295934243"),
        node("dag-diamond-8q7vp", "dag-diamond-8q7vp", "DAG", "diamond", "Succeeded", (0, 10),
             children=("dag-diamond-8q7vp-1",)),
        node("dag-diamond-8q7vp-1", "A", "Pod", "echo", "Succeeded", (0, 3), "dag-diamond-8q7vp",
             podName="dag-diamond-8q7vp-echo-1262379005"),
        # Omitted tasks are never drawn.
        node("dag-diamond-8q7vp-5", "E", "Skipped", "echo", "Omitted", (3, 3),
             "dag-diamond-8q7vp"),
        node("dag-diamond-8q7vp-2", "B", "Pod", "echo", "Succeeded", (3, 6), "dag-diamond-8q7vp",
             podName="dag-diamond-8q7vp-echo-1279156624"),
    ],
    progress="4/4",
)  # fmt: skip

NESTED = workflow(
    "nested-4kx2p",
    "Failed",
    (0, 9),
    [
        node("nested-4kx2p", "nested-4kx2p", "DAG", "main", "Failed", (0, 9)),
        node("nested-4kx2p-1", "prepare", "Pod", "echo", "Succeeded", (0, 2), "nested-4kx2p",
             podName="nested-4kx2p-echo-1546374150"),
        node("nested-4kx2p-2", "fan", "Steps", "fan-out", "Failed", (2, 9), "nested-4kx2p",
             ("nested-4kx2p-3",), message="child 'nested-4kx2p-3151231409' failed"),
        node("nested-4kx2p-3", "[0]", "StepGroup", "fan-out", "Failed", (2, 9), "nested-4kx2p-2",
             ("nested-4kx2p-4", "nested-4kx2p-5")),
        node("nested-4kx2p-4", "hello", "Pod", "echo", "Succeeded", (2, 5), "nested-4kx2p-2",
             podName="nested-4kx2p-echo-2927367519"),
        node("nested-4kx2p-5", "fail", "Pod", "exit-one", "Failed", (2, 9), "nested-4kx2p-2",
             podName="nested-4kx2p-exit-one-3151231409", message="Error (exit code 1)"),
    ],
    progress="2/3",
    message="child 'nested-4kx2p-3151231409' failed",
    spec={"serviceAccountName": "argo-workflow"},
)  # fmt: skip

FAILED_POD = workflow(
    "hello-fail-abc",
    "Failed",
    (0, 5),
    [
        node("hello-fail-abc", "hello-fail-abc", "Pod", "main", "Failed", (0, 5),
             message="Error (exit code 1)"),
    ],
    progress="0/1",
    message="Error (exit code 1)",
)  # fmt: skip

COINFLIP = workflow(
    "coinflip-92txq",
    "Succeeded",
    (0, 8),
    [
        node("coinflip-92txq", "coinflip-92txq", "Steps", "coinflip", "Succeeded", (0, 8),
             children=("coinflip-92txq-1",)),
        node("coinflip-92txq-1", "[0]", "StepGroup", "coinflip", "Succeeded", (0, 3),
             "coinflip-92txq", ("coinflip-92txq-2",)),
        node("coinflip-92txq-2", "flip-coin", "Pod", "flip-coin", "Succeeded", (0, 3),
             "coinflip-92txq", ("coinflip-92txq-3",),
             podName="coinflip-92txq-flip-coin-1371424565", outputs={"result": "tails"}),
        node("coinflip-92txq-3", "[1]", "StepGroup", "coinflip", "Succeeded", (3, 8),
             "coinflip-92txq", ("coinflip-92txq-5", "coinflip-92txq-4")),
        node("coinflip-92txq-4", "heads", "Skipped", "heads", "Skipped", (3, 3), "coinflip-92txq",
             message="when 'tails == heads' evaluated false"),
        node("coinflip-92txq-5", "tails", "Pod", "tails", "Succeeded", (3, 8), "coinflip-92txq",
             podName="coinflip-92txq-tails-3044117802"),
    ],
    progress="2/2",
)  # fmt: skip

RETRY = workflow(
    "retry-wf-xp2jm",
    "Succeeded",
    (0, 12),
    [
        node("retry-wf-xp2jm", "retry-wf-xp2jm", "Steps", "main", "Succeeded", (0, 12),
             children=("retry-wf-xp2jm-1",)),
        node("retry-wf-xp2jm-1", "[0]", "StepGroup", "main", "Succeeded", (0, 12),
             "retry-wf-xp2jm", ("retry-wf-xp2jm-2",)),
        node("retry-wf-xp2jm-2", "flaky", "Retry", "flaky", "Succeeded", (0, 12),
             "retry-wf-xp2jm", ("retry-wf-xp2jm-4", "retry-wf-xp2jm-3")),
        node("retry-wf-xp2jm-3", "flaky(0)", "Pod", "flaky", "Failed", (0, 4), "retry-wf-xp2jm",
             podName="retry-wf-xp2jm-flaky-1161498441", message="Error (exit code 1)"),
        node("retry-wf-xp2jm-4", "flaky(1)", "Pod", "flaky", "Succeeded", (6, 12),
             "retry-wf-xp2jm", podName="retry-wf-xp2jm-flaky-1245386536"),
    ],
    progress="1/1",
)  # fmt: skip

RETRY_ONCE = workflow(
    "retry-once-7dxq2",
    "Succeeded",
    (0, 3),
    [
        node("retry-once-7dxq2", "retry-once-7dxq2", "Retry", "main", "Succeeded", (0, 3),
             children=("retry-once-7dxq2-1",)),
        node("retry-once-7dxq2-1", "retry-once-7dxq2(0)", "Pod", "main", "Succeeded", (0, 3),
             podName="retry-once-7dxq2-main-2217747349"),
    ],
    progress="1/1",
)  # fmt: skip

RUNNING = workflow(
    "sleepy-5gq8m",
    "Running",
    (40, None),
    [
        node("sleepy-5gq8m", "sleepy-5gq8m", "Steps", "main", "Running", (40, None),
             children=("sleepy-5gq8m-1",)),
        node("sleepy-5gq8m-1", "[0]", "StepGroup", "main", "Running", (40, None),
             "sleepy-5gq8m", ("sleepy-5gq8m-2",)),
        node("sleepy-5gq8m-2", "sleep", "Pod", "sleep", "Running", (40, None), "sleepy-5gq8m",
             podName="sleepy-5gq8m-sleep-1919335307"),
    ],
    progress="0/1",
)  # fmt: skip

SUSPENDED = workflow(
    "approval-l9wz4",
    "Running",
    (10, None),
    [
        node("approval-l9wz4", "approval-l9wz4", "Steps", "main", "Running", (10, None),
             children=("approval-l9wz4-1",)),
        node("approval-l9wz4-1", "[0]", "StepGroup", "main", "Running", (10, None),
             "approval-l9wz4", ("approval-l9wz4-2",)),
        node("approval-l9wz4-2", "approve", "Suspend", "approve", "Running", (10, None),
             "approval-l9wz4"),
    ],
    progress="0/0",
)  # fmt: skip

ON_EXIT = workflow(
    "exit-7kq9d",
    "Succeeded",
    (0, 6),
    [
        node("exit-7kq9d", "exit-7kq9d", "Pod", "main", "Succeeded", (0, 3)),
        node("exit-7kq9d-1", "exit-7kq9d.onExit", "Pod", "exit-handler", "Succeeded", (4, 6),
             podName="exit-7kq9d-exit-handler-1234567890"),
    ],
    progress="2/2",
)  # fmt: skip


ITEMS = workflow(
    "items-r4d2k",
    "Succeeded",
    (0, 4),
    [
        node("items-r4d2k", "items-r4d2k", "Steps", "many", "Succeeded", (0, 4),
             children=("items-r4d2k-2",)),
        node("items-r4d2k-2", "[0]", "StepGroup", "many", "Succeeded", (0, 4), "items-r4d2k",
             ("items-r4d2k-5", "items-r4d2k-3", "items-r4d2k-4")),
        # Started together: ordered by loop index, where names would put 10 before 2.
        node("items-r4d2k-5", "sleep(10:ten)", "Pod", "sleep", "Succeeded", (0, 4), "items-r4d2k"),
        node("items-r4d2k-3", "sleep(2:two)", "Pod", "sleep", "Succeeded", (0, 2), "items-r4d2k"),
        node("items-r4d2k-4", "sleep(9:nine)", "Pod", "sleep", "Succeeded", (0, 3), "items-r4d2k"),
    ],
    progress="3/3",
)  # fmt: skip

TREES = [
    pytest.param(
        STEPS,
        lines(
            "STEP            TEMPLATE           PODNAME                        DURATION  MESSAGE",
            " ✔ steps-z2zdn  hello-hello-hello" + " " * 45,
            " ├───✔ hello1   whalesay           steps-z2zdn-whalesay-27420706  3s" + " " * 10,
            " └─┬─✔ hello2a  whalesay           steps-z2zdn-2006760091         5s" + " " * 10,
            "   └─✔ hello2b  whalesay           steps-z2zdn-2023537710         4s" + " " * 10,
        ),
        id="steps-parallel-group",
    ),
    pytest.param(
        DIAMOND,
        lines(
            "STEP                  TEMPLATE  PODNAME                            DURATION  MESSAGE",
            " ✔ dag-diamond-8q7vp  diamond" + " " * 50,
            " ├─✔ A                echo      dag-diamond-8q7vp-echo-1262379005  3s" + " " * 10,
            " ├─✔ B                echo      dag-diamond-8q7vp-echo-1279156624  3s" + " " * 10,
            " ├─✔ C                echo      dag-diamond-8q7vp-echo-1295934243  4s" + " " * 10,
            " └─✔ D                echo      dag-diamond-8q7vp-echo-1178490910  3s" + " " * 10,
        ),
        id="dag-diamond",
    ),
    pytest.param(
        NESTED,
        lines(
            "STEP             TEMPLATE  PODNAME                           DURATION  MESSAGE",
            " ✖ nested-4kx2p  main" + " " * 90,
            " ├─✔ prepare     echo      nested-4kx2p-echo-1546374150      2s" + " " * 48,
            " └─✖ fan         fan-out" + " " * 47 + "child 'nested-4kx2p-3151231409' failed  ",
            "   └─┬─✖ fail    exit-one  nested-4kx2p-exit-one-3151231409  7s        "
            "Error (exit code 1)" + " " * 21,
            "     └─✔ hello   echo      nested-4kx2p-echo-2927367519      3s" + " " * 48,
        ),
        id="steps-nested-in-dag",
    ),
    pytest.param(
        FAILED_POD,
        lines(
            "STEP               TEMPLATE  PODNAME         DURATION  MESSAGE",
            " ✖ hello-fail-abc  main      hello-fail-abc  5s        Error (exit code 1)  ",
        ),
        id="failed-pod",
    ),
    pytest.param(
        COINFLIP,
        lines(
            "STEP               TEMPLATE   PODNAME                              DURATION  MESSAGE",
            " ✔ coinflip-92txq  coinflip" + " " * 89,
            " ├───✔ flip-coin   flip-coin  coinflip-92txq-flip-coin-1371424565  3s" + " " * 47,
            " └─┬─○ heads       heads" + " " * 53 + "when 'tails == heads' evaluated false  ",
            "   └─✔ tails       tails      coinflip-92txq-tails-3044117802      5s" + " " * 47,
        ),
        id="skipped-when-step",
    ),
    pytest.param(
        ITEMS,
        lines(
            "STEP                  TEMPLATE  PODNAME        DURATION  MESSAGE",
            " ✔ items-r4d2k        many" + " " * 33,
            " └─┬─✔ sleep(2:two)   sleep     items-r4d2k-3  2s" + " " * 10,
            "   ├─✔ sleep(9:nine)  sleep     items-r4d2k-4  3s" + " " * 10,
            "   └─✔ sleep(10:ten)  sleep     items-r4d2k-5  4s" + " " * 10,
        ),
        id="with-items-by-index",
    ),
    pytest.param(
        RETRY,
        lines(
            "STEP               TEMPLATE  PODNAME                          DURATION  MESSAGE",
            " ✔ retry-wf-xp2jm  main" + " " * 70,
            " └───✔ flaky       flaky" + " " * 69,
            "     ├─✖ flaky(0)  flaky     retry-wf-xp2jm-flaky-1161498441  4s        "
            "Error (exit code 1)  ",
            "     └─✔ flaky(1)  flaky     retry-wf-xp2jm-flaky-1245386536  6s" + " " * 29,
        ),
        id="retry-two-attempts",
    ),
    pytest.param(
        RETRY_ONCE,
        lines(
            "STEP                    TEMPLATE  PODNAME                           DURATION  MESSAGE",
            " ✔ retry-once-7dxq2(0)  main      retry-once-7dxq2-main-2217747349  3s" + " " * 10,
        ),
        id="retry-one-attempt-drawn-as-the-attempt",
    ),
    pytest.param(
        RUNNING,
        lines(
            "STEP             TEMPLATE  PODNAME                        DURATION  MESSAGE",
            " ● sleepy-5gq8m  main" + " " * 49,
            " └───● sleep     sleep     sleepy-5gq8m-sleep-1919335307  20s" + " " * 9,
        ),
        id="running-counts-to-now",
    ),
    pytest.param(
        SUSPENDED,
        lines(
            "STEP               TEMPLATE  PODNAME  DURATION  MESSAGE",
            " ● approval-l9wz4  main" + " " * 27,
            " └───ǁ approve     approve" + " " * 24,
        ),
        id="suspended",
    ),
    pytest.param(
        ON_EXIT,
        lines(
            "STEP                  TEMPLATE      PODNAME                             DURATION"
            "  MESSAGE",
            " ✔ exit-7kq9d         main          exit-7kq9d                          3s" + " " * 10,
            " " * 84,
            " ✔ exit-7kq9d.onExit  exit-handler  exit-7kq9d-exit-handler-1234567890  2s" + " " * 10,
        ),
        id="on-exit",
    ),
]


@pytest.mark.parametrize(("wf", "expected"), TREES)
def test_get_draws_the_node_tree_like_argo(wf: dict[str, Any], expected: str) -> None:
    _, blank, tree = render_get(wf, NOW).partition("\n\n")
    assert blank
    assert tree == expected


HEADERS = [
    pytest.param(
        STEPS,
        lines(
            "Name:                steps-z2zdn",
            "Namespace:           argo",
            "ServiceAccount:      unset (will run with the default ServiceAccount)",
            "Status:              Succeeded",
            "Created:             Sun Nov 22 03:49:18 +0000 (42 seconds ago)",
            "Started:             Sun Nov 22 03:49:18 +0000 (42 seconds ago)",
            "Finished:            Sun Nov 22 03:49:30 +0000 (30 seconds ago)",
            "Duration:            12 seconds",
            "Progress:            3/3",
            "Parameters:          ",
            "  message:           hello",
        ),
        id="finished-with-parameters",
    ),
    pytest.param(
        NESTED,
        lines(
            "Name:                nested-4kx2p",
            "Namespace:           argo",
            "ServiceAccount:      argo-workflow",
            "Status:              Failed",
            "Message:             child 'nested-4kx2p-3151231409' failed",
            "Created:             Sun Nov 22 03:49:00 +0000 (1 minute ago)",
            "Started:             Sun Nov 22 03:49:00 +0000 (1 minute ago)",
            "Finished:            Sun Nov 22 03:49:09 +0000 (51 seconds ago)",
            "Duration:            9 seconds",
            "Progress:            2/3",
        ),
        id="failed-with-message-and-account",
    ),
    pytest.param(
        RUNNING,
        lines(
            "Name:                sleepy-5gq8m",
            "Namespace:           argo",
            "ServiceAccount:      unset (will run with the default ServiceAccount)",
            "Status:              Running",
            "Created:             Sun Nov 22 03:49:40 +0000 (20 seconds ago)",
            "Started:             Sun Nov 22 03:49:40 +0000 (20 seconds ago)",
            "Duration:            20 seconds",
            "Progress:            0/1",
        ),
        id="running-has-no-finished",
    ),
    pytest.param(
        SUSPENDED,
        lines(
            "Name:                approval-l9wz4",
            "Namespace:           argo",
            "ServiceAccount:      unset (will run with the default ServiceAccount)",
            "Status:              Running (Suspended)",
            "Created:             Sun Nov 22 03:49:10 +0000 (50 seconds ago)",
            "Started:             Sun Nov 22 03:49:10 +0000 (50 seconds ago)",
            "Duration:            50 seconds",
            "Progress:            0/0",
        ),
        id="suspended",
    ),
]


@pytest.mark.parametrize(("wf", "expected"), HEADERS)
def test_get_header_is_argos(wf: dict[str, Any], expected: str) -> None:
    header, _, _ = render_get(wf, NOW).partition("\n\n")
    assert header + "\n" == expected


def test_get_header_extras_and_no_tree_without_nodes() -> None:
    wf = {
        "metadata": {"name": "from-tmpl-x", "namespace": "ci"},
        "spec": {
            "workflowTemplateRef": {"name": "build"},
            "shutdown": "Terminate",
            "arguments": {"parameters": [{"name": "unset"}, {"name": "n", "value": 3}]},
        },
        "status": {
            "phase": "Failed",
            "progress": "1/2",
            "startedAt": at(0),
            "finishedAt": at(3725),
            "conditions": [
                {"type": "PodRunning", "status": "False"},
                {"type": "SpecWarning", "status": "True", "message": "bad spec"},
            ],
            "outputs": {
                "parameters": [{"name": "out", "value": "42"}, {"name": "d", "default": "x"}]
            },
        },
    }
    assert render_get(wf, NOW + timedelta(hours=2)) == lines(
        "Name:                from-tmpl-x",
        "Namespace:           ci",
        "ServiceAccount:      unset",
        "Status:              Failed (Terminated)",
        "Conditions:          ",
        " PodRunning          False",
        "⚠ SpecWarning        bad spec",
        "Created:             Mon Jan 01 00:00:00 +0000 (a long while ago)",
        "Started:             Sun Nov 22 03:49:00 +0000 (2 hours ago)",
        "Finished:            Sun Nov 22 04:51:05 +0000 (58 minutes ago)",
        "Duration:            1 hour 2 minutes",
        "Progress:            1/2",
        "Parameters:          ",
        "  n:                 3",
        "Output Parameters:   ",
        "  out:               42",
        "  d:                 x",
    )


def test_get_whole_screen_in_color() -> None:
    wf = workflow(
        "hello-c0l0r",
        "Succeeded",
        (0, 2),
        [node("hello-c0l0r", "hello-c0l0r", "Pod", "main", "Succeeded", (0, 2))],
        progress="1/1",
    )
    local = NOW.astimezone(timezone(timedelta(hours=-5)))
    assert render_get(wf, local, color=True) == lines(
        "Name:                hello-c0l0r",
        "Namespace:           argo",
        "ServiceAccount:      unset (will run with the default ServiceAccount)",
        "Status:              Succeeded",
        "Created:             Sat Nov 21 22:49:00 -0500 (1 minute ago)",
        "Started:             Sat Nov 21 22:49:00 -0500 (1 minute ago)",
        "Finished:            Sat Nov 21 22:49:02 -0500 (58 seconds ago)",
        "Duration:            2 seconds",
        "Progress:            1/1",
        "",
        "\x1b[39mSTEP\x1b[0m            TEMPLATE  PODNAME      DURATION  MESSAGE",
        " \x1b[32m✔\x1b[0m hello-c0l0r  main      hello-c0l0r  2s" + " " * 10,
    )


def test_list_orders_running_then_recently_finished() -> None:
    def listed(
        name: str, phase: str, created: int, span: tuple[int | None, int | None], **kw: Any
    ) -> dict[str, Any]:
        meta = {"name": name, "creationTimestamp": at(created)}
        status = {"phase": phase, "startedAt": at(span[0]), "finishedAt": at(span[1])}
        return {"metadata": meta, "spec": kw.pop("spec", {}), "status": status | kw}

    workflows = [
        listed("old-done-x1", "Succeeded", 0, (0, 10)),
        listed("running-x3", "Running", -120, (-120, None)),
        listed("new-done-x2", "Failed", 20, (20, 50), spec={"priority": 5},
               message="Error (exit code 1)"),
        listed("pending-x4", "Pending", 58, (None, None)),
    ]  # fmt: skip
    assert render_list(workflows, NOW) == lines(
        "NAME          STATUS      AGE   DURATION   PRIORITY   MESSAGE",
        "pending-x4    Pending     2s    0s         0          ",
        "running-x3    Running     3m    3m         0          ",
        "new-done-x2   Failed      40s   30s        5          Error (exit code 1)",
        "old-done-x1   Succeeded   1m    10s        0          ",
    )


def test_list_of_nothing() -> None:
    assert render_list([], NOW) == "No workflows found\n"


@pytest.mark.parametrize(
    ("seconds", "short", "expected"),
    [
        (0, "0s", "0 seconds"),
        (0.9, "0s", "0 seconds"),
        (1, "1s", "1 second"),
        (59.9, "59s", "59 seconds"),
        (60, "1m", "1 minute 0 seconds"),
        (90, "1m", "1 minute 30 seconds"),
        (150, "2m", "2 minutes 30 seconds"),
        (3599, "59m", "59 minutes 59 seconds"),
        (5400, "1h", "1 hour 30 minutes"),
        (86399, "23h", "23 hours 59 minutes"),
        (86400, "1d", "1 day 0 hours"),
        (3 * 86400 + 7200, "3d", "3 days 2 hours"),
        (10 * 86400 + 3 * 3600, "10d", "1 week 3 hours"),
        (-5, "5s", "5 seconds"),
    ],
    ids=lambda v: str(v),
)
def test_human_duration(seconds: float, short: str, expected: str) -> None:
    assert human_duration(seconds) == short
    assert human_duration(seconds, short=False) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (BASE + timedelta(seconds=31), "Sun Nov 22 03:49:18 +0000 (13 seconds ago)"),
        (BASE + timedelta(seconds=18.5), "Sun Nov 22 03:49:18 +0000 (now)"),
        (BASE + timedelta(seconds=19), "Sun Nov 22 03:49:18 +0000 (1 second ago)"),
        (BASE + timedelta(hours=3), "Sun Nov 22 03:49:18 +0000 (2 hours ago)"),
        (BASE + timedelta(days=9), "Sun Nov 22 03:49:18 +0000 (1 week ago)"),
        (BASE + timedelta(days=400), "Sun Nov 22 03:49:18 +0000 (1 year ago)"),
        (BASE, "Sun Nov 22 03:49:18 +0000 (18 seconds from now)"),
        (datetime(2026, 11, 22, 3, 50), "Sun Nov 22 03:49:18 +0000 (42 seconds ago)"),
        (
            (BASE + timedelta(minutes=5)).astimezone(timezone(timedelta(hours=5, minutes=30))),
            "Sun Nov 22 09:19:18 +0530 (4 minutes ago)",
        ),
    ],
    ids=["seconds", "now", "one-second", "hours", "week", "year", "future", "naive-now", "zone"],
)
def test_human_since(now: datetime, expected: str) -> None:
    assert human_since("2026-11-22T03:49:18Z", now) == expected


@pytest.mark.parametrize(
    ("phase", "node_type", "color", "expected"),
    [
        ("Succeeded", "Pod", False, "✔"),
        ("Failed", "Pod", False, "✖"),
        ("Error", "Pod", False, "⚠"),
        ("Running", "Pod", False, "●"),
        ("Pending", "Pod", False, "◷"),
        ("Skipped", "Skipped", False, "○"),
        ("Omitted", "Skipped", False, ""),
        ("Running", "Suspend", False, "ǁ"),
        ("Succeeded", "Suspend", False, "✔"),
        ("Succeeded", "Pod", True, "\x1b[32m✔\x1b[0m"),
        ("Failed", "Pod", True, "\x1b[31m✖\x1b[0m"),
        ("Running", "Suspend", True, "\x1b[36mǁ\x1b[0m"),
    ],
    ids=lambda v: str(v),
)
def test_phase_symbol(phase: str, node_type: str, color: bool, expected: str) -> None:
    assert phase_symbol(phase, node_type, color=color) == expected

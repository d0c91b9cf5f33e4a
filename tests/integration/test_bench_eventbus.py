"""bench/eventbus_path.py runs end to end on a tiny N: every figure is there, every event consumed.

Only that it completes and counts right: timings and ratios are never asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import eventbus_path

ROOT = Path(__file__).resolve().parents[2]
N = 200
LATENCY_KEYS = {"p50_ms", "p99_ms"}
SCENARIO_KEYS = {
    "events",
    "payload_bytes",
    "publish_s",
    "publish_eps",
    "publish_latency",
    "stored",
    "consume_s",
    "consume_eps",
    "consumed",
    "eps",
    "num_pending",
    "num_ack_pending",
}


def check_summary(summary: dict[str, Any], n: int, concurrency: int) -> None:
    assert summary["events"] == n
    for name in ("raw", "sluice"):
        figures = summary[name]
        assert set(figures) == SCENARIO_KEYS, name
        assert set(figures["publish_latency"]) == LATENCY_KEYS
        assert figures["events"] == figures["stored"] == figures["consumed"] == n, name
        assert figures["num_pending"] == figures["num_ack_pending"] == 0, name
        assert figures["publish_eps"] > 0 and figures["consume_eps"] > 0 and figures["eps"] > 0
    assert summary["raw"]["payload_bytes"] == eventbus_path.EVENT_BYTES
    assert summary["sluice"]["payload_bytes"] > eventbus_path.EVENT_BYTES  # the envelope

    assert set(summary["ratio"]) == {"publish", "consume", "overall"}
    assert all(isinstance(v, float) for v in summary["ratio"].values())

    hook = summary["webhook"]
    assert hook["requests"] == hook["accepted"] == hook["stored"] == n
    assert hook["concurrency"] == concurrency
    assert hook["statuses"] == {"200": n}
    assert hook["refused"] == 0
    assert hook["eps"] > 0
    assert set(hook["request_latency"]) == LATENCY_KEYS

    targets = summary["targets"]
    assert targets["ratio"] == eventbus_path.RATIO_TARGET
    assert targets["webhook_eps"] == eventbus_path.WEBHOOK_TARGET
    assert isinstance(targets["ratio_met"], bool) and isinstance(targets["webhook_met"], bool)


@pytest.mark.parametrize("client", ["process", "inline"])
async def test_benchmark_runs_and_consumes_every_event(client: str) -> None:
    argv = ["--events", str(N), "--concurrency", "10", "--batch", "50", "--client", client]
    summary = await eventbus_path.run(argv)
    check_summary(summary, N, 10)
    assert summary["webhook"]["client"] == client

    table = eventbus_path.report(summary)
    for label in ("(a) raw nats-py publish+ack", "(b) sluice fetch+ack", "(c) webhook POST"):
        assert label in table
    assert "ratio (b)/(a)" in table
    assert "accepted events/s" in table


async def test_pipelined_publishes() -> None:
    summary = await eventbus_path.run(["--events", "100", "--inflight", "8", "--concurrency", "4"])
    assert summary["inflight"] == 8
    check_summary(summary, 100, 4)


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "bench/eventbus_path.py"],
        [sys.executable, "-m", "bench.eventbus_path"],
    ],
    ids=["script", "module"],
)
def test_runs_from_the_repository_root(command: list[str]) -> None:
    proc = subprocess.run(
        [*command, "--events", "50", "--concurrency", "5", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    check_summary(json.loads(proc.stdout), 50, 5)

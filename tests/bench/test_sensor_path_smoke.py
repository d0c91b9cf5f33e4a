"""bench/sensor_path.py runs end to end on a tiny N: every figure is there, every event fired.

Only that it completes and counts right: timings, ratios and targets are never asserted.
Mirrors tests/integration/test_bench_eventbus.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import sensor_path

ROOT = Path(__file__).resolve().parents[2]
N = 200
LATENCY_KEYS = {"p50_ms", "p99_ms", "max_ms"}


def check_summary(summary: dict[str, Any], n: int, latency_events: int) -> None:
    assert summary["events"] == n
    raw, drain = summary["raw"], summary["sensor"]
    assert raw["events"] == raw["stored"] == raw["acked"] == n
    assert raw["num_pending"] == raw["num_ack_pending"] == 0
    assert drain["events"] == drain["stored"] == drain["fired"] == n
    assert drain["counts"] == {"passed": n}  # every event passed both filters
    assert drain["decisions"] == n
    assert drain["num_pending"] == drain["num_ack_pending"] == 0
    assert drain["concurrency"] == sensor_path.DEFAULT_CONCURRENCY
    assert raw["eps"] > 0 and drain["eps"] > 0
    assert raw["cpu_us_per_event"] > 0 and drain["cpu_us_per_event"] > 0
    assert isinstance(summary["ratio"], float)

    latency = summary["latency"]
    if latency_events:
        assert latency["events"] == latency["fired"] == latency_events
        assert set(latency["publish_to_ack"]) == set(latency["publish_to_trigger"]) == LATENCY_KEYS
        assert latency["counts"] == {"passed": n + latency["warmup"] + latency_events}
    else:
        assert latency is None

    targets = summary["targets"]
    assert targets["drain_eps"] == sensor_path.DRAIN_TARGET
    assert targets["p99_ms"] == sensor_path.P99_TARGET_MS
    assert isinstance(targets["drain_met"], bool) and isinstance(targets["p99_met"], bool)


@pytest.mark.parametrize("publisher", ["inline", "process"])
async def test_benchmark_runs_and_fires_every_event(publisher: str) -> None:
    argv = ["--events", str(N), "--latency-events", "50", "--warmup", "10"]
    summary = await sensor_path.run([*argv, "--rate", "500", "--publisher", publisher])
    check_summary(summary, N, 50)
    assert summary["latency"]["publisher"] == publisher

    table = sensor_path.report(summary)
    for label in ("(a) raw nats-py fetch+ack", "(b) sensor filter+log trigger+ack", "ratio"):
        assert label in table
    assert "publish→trigger" in table


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "bench/sensor_path.py"],
        [sys.executable, "-m", "bench.sensor_path"],
    ],
    ids=["script", "module"],
)
def test_runs_from_the_repository_root(command: list[str]) -> None:
    proc = subprocess.run(
        [*command, "--events", "50", "--latency-events", "0", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    check_summary(json.loads(proc.stdout), 50, 0)

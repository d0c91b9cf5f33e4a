"""What the engine costs per node: N trivial pods through the engine vs. the same processes
spawned directly, as a fan-out and as a chain. Prints figures only; never fails.

    python bench/engine_overhead.py [--sizes 100,1000,5000] [--concurrency C]
                                    [--shapes dag-fanout,steps-chain,dag-chain]
                                    [--sandbox auto|on|off] [--profile DIR]

See bench/README.md for what each column means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.executors.local import LocalExecutor
from engine.service import Engine, EngineConfig
from engine.status import NodeType
from engine.store.sqlite import SQLiteStore

COMMAND = ["true"]
SHAPES = ("dag-fanout", "steps-chain", "dag-chain", "200-workflows")
WORKFLOWS = 200  # the 200-workflows shape: N pods spread over this many concurrent workflows
PROGRESS_EVERY = 10.0  # seconds between progress lines on stderr


# ---- workflows ---------------------------------------------------------------------------------
def manifest(shape: str, n: int) -> dict[str, Any]:
    noop = {"name": "noop", "container": {"image": "busybox", "command": COMMAND}}
    if shape == "dag-fanout":
        main: dict[str, Any] = {"dag": {"tasks": [{"name": f"t{i}", "template": "noop"}
                                                  for i in range(n)]}}  # fmt: skip
    elif shape == "dag-chain":
        tasks = [{"name": "t0", "template": "noop"}]
        tasks += [{"name": f"t{i}", "template": "noop", "dependencies": [f"t{i - 1}"]}
                  for i in range(1, n)]  # fmt: skip
        main = {"dag": {"tasks": tasks}}
    elif shape == "200-workflows":  # one of the WORKFLOWS small fan-outs of n pods in all
        per = max(1, n // WORKFLOWS)
        main = {"dag": {"tasks": [{"name": f"t{i}", "template": "noop"} for i in range(per)]}}
    elif shape == "steps-chain":
        main = {"steps": [[{"name": f"s{i}", "template": "noop"}] for i in range(n)]}
    else:
        raise ValueError(f"unknown shape {shape!r}; choose from {', '.join(SHAPES)}")
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": f"bench-{shape}-"},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", **main}, noop]},
    }


# ---- the engine --------------------------------------------------------------------------------
async def run_engine(
    shape: str, n: int, concurrency: int, sandbox: bool | None, profile: Path | None, watch: bool
) -> float:
    """Seconds from submit until ``wait`` returns the finished workflow (or, without ``watch``,
    until the engine's own task for it ends: the operator's cost without the watcher's)."""
    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as tmp:
        data = Path(tmp)
        store = SQLiteStore(data / "sluice.db")
        executor = LocalExecutor(data / "pods", sandbox=sandbox)
        engine = Engine(store, executor, EngineConfig(data_dir=data, parallelism=concurrency))
        await engine.start()
        progress = asyncio.create_task(_progress(engine, f"{shape} N={n} engine", n))
        profiler = cProfile.Profile() if profile else None
        try:
            if profiler:
                profiler.enable()
            start = time.perf_counter()
            count = WORKFLOWS if shape == "200-workflows" else 1
            records = [await engine.submit(manifest(shape, n)) for _ in range(count)]
            if not watch:
                for record in records:
                    with contextlib.suppress(KeyError):
                        await engine.tasks[record.uid]
            finals = [await engine.wait(r.namespace, r.name) for r in records]
            wf = next((f for f in finals if f["status"].get("phase") != "Succeeded"), finals[0])
            elapsed = time.perf_counter() - start
            if profiler and profile:
                profiler.disable()
                profile.mkdir(parents=True, exist_ok=True)
                profiler.dump_stats(str(profile / f"engine-{shape}-{n}.prof"))
        finally:
            progress.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await progress
            await engine.close()
            store.close()
        phase = wf.get("status", {}).get("phase")
        if phase != "Succeeded":
            _say(f"{shape} N={n}: the workflow ended {phase}: {wf['status'].get('message')}")
        return elapsed


async def _progress(engine: Engine, label: str, n: int) -> None:
    start = time.perf_counter()
    while True:
        await asyncio.sleep(PROGRESS_EVERY)
        done = sum(
            1
            for run in list(engine.runs.values())
            for node in list(run.nodes.values())
            if node.type == NodeType.POD and node.fulfilled
        )
        _say(f"  {label}: {done}/{n} pods done after {time.perf_counter() - start:.0f} s")


# ---- the baseline -------------------------------------------------------------------------------
async def _spawn() -> None:
    proc = await asyncio.create_subprocess_exec(
        *COMMAND,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await proc.wait()


async def direct_fanout(n: int, concurrency: int) -> float:
    slots = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with slots:
            await _spawn()

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return time.perf_counter() - start


async def direct_chain(n: int, concurrency: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await _spawn()
    return time.perf_counter() - start


DIRECT: dict[str, Callable[[int, int], Any]] = {
    "dag-fanout": direct_fanout,
    "steps-chain": direct_chain,
    "dag-chain": direct_chain,
    "200-workflows": direct_fanout,
}


# ---- the table ---------------------------------------------------------------------------------
HEADER = (
    f"{'shape':<13} {'N':>6} {'engine s':>9} {'direct s':>9} {'ratio':>7} {'overhead ms/node':>17}"
)


def row(shape: str, n: int, engine_s: float, direct_s: float) -> str:
    ratio = engine_s / direct_s if direct_s > 0 else float("inf")
    per_node = (engine_s - direct_s) / n * 1000
    return f"{shape:<13} {n:>6} {engine_s:>9.2f} {direct_s:>9.2f} {ratio:>6.1f}x {per_node:>17.2f}"


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000", help="comma-separated pod counts")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=2 * (os.cpu_count() or 1),
        help="the engine's parallelism and the baseline's (default: 2 x cores)",
    )
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"from {', '.join(SHAPES)}")
    parser.add_argument(
        "--sandbox",
        choices=("auto", "on", "off"),
        default="auto",
        help="run pods under bubblewrap: auto (if installed, as the engine does), on, off",
    )
    parser.add_argument("--profile", type=Path, help="write a cProfile of each engine run here")
    parser.add_argument(
        "--no-watch",
        action="store_true",
        help="time the engine until its workflow task ends, not until engine.wait returns",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    for shape in shapes:
        manifest(shape, 1)  # an unknown shape fails before anything runs
    sandbox = {"auto": None, "on": True, "off": False}[args.sandbox]
    sandboxed = sandbox if sandbox is not None else shutil.which("bwrap") is not None
    logging.basicConfig(level=logging.ERROR)
    print(
        f"# sluice engine overhead: python {platform.python_version()}, {os.cpu_count()} cores,"
        f" concurrency C={args.concurrency}, pods run {'under bwrap' if sandboxed else 'plain'},"
        f" engine timed until {'its task ends' if args.no_watch else 'engine.wait returns'};"
        f" baseline spawns {' '.join(COMMAND)!r} with asyncio.create_subprocess_exec"
    )
    print(HEADER, flush=True)
    for n in sizes:
        for shape in shapes:
            _say(f"{shape} N={n}: engine ...")
            engine_s = await run_engine(
                shape, n, args.concurrency, sandbox, args.profile, not args.no_watch
            )
            _say(f"{shape} N={n}: direct ...")
            direct_s = await DIRECT[shape](n, args.concurrency)
            print(row(shape, n, engine_s, direct_s), flush=True)


if __name__ == "__main__":
    asyncio.run(main())

"""The local executor in both modes: sandboxed by bubblewrap, and plain processes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.executors.base import PodSpec, VolumeBinding
from engine.executors.local import LocalExecutor, bwrap_binary

needs_bwrap = pytest.mark.skipif(bwrap_binary() is None, reason="bubblewrap (bwrap) not installed")


def pod(tmp_path: Path, command: list[str], **kw: object) -> PodSpec:
    return PodSpec(
        name="p1", workflow_uid="wf", namespace="default", command=command,
        log_path=str(tmp_path / "p1.log"), **kw,  # type: ignore[arg-type]
    )  # fmt: skip


@needs_bwrap
async def test_sandbox_private_tmp_volumes_and_pid_namespace(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path / "pods", sandbox=True)
    vol = tmp_path / "vol"
    vol.mkdir()
    script = (
        "echo secret > /tmp/out; echo shared > /mnt/data/x; ls /tmp; echo pid=$$;"
        " touch /usr/should-fail 2>/dev/null && echo writable || echo readonly"
    )
    result = await ex.run(
        pod(
            tmp_path,
            ["sh", "-c", script],
            volumes=[VolumeBinding(str(vol), "/mnt/data")],
            output_paths=["/tmp/out"],
        )
    )
    assert result.exit_code == 0, Path(tmp_path / "p1.log").read_text()
    assert result.files["/tmp/out"] == "secret\n"
    assert (vol / "x").read_text() == "shared\n"
    assert "pid=" in result.stdout and "readonly" in result.stdout
    assert not Path("/tmp/out").exists() or Path("/tmp/out").read_text() != "secret\n"


@needs_bwrap
async def test_sandbox_script_and_workdir(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path / "pods", sandbox=True)
    result = await ex.run(
        pod(tmp_path, ["python3"], script="import os; print(os.getcwd())", working_dir="/src/app")
    )
    assert result.exit_code == 0, Path(tmp_path / "p1.log").read_text()
    assert result.stdout.strip() == "/src/app"


async def test_plain_mode_tmpdir_and_refuses_volumes(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path / "pods", sandbox=False)
    assert not ex.sandboxed
    result = await ex.run(pod(tmp_path, ["sh", "-c", "echo $TMPDIR; exit 4"]))
    assert result.exit_code == 4
    assert result.stdout.strip().endswith("/pods/wf/p1/tmp")
    refused = await ex.run(pod(tmp_path, ["true"], volumes=[VolumeBinding(str(tmp_path), "/x")]))
    assert refused.exit_code is None
    assert refused.error == "volumes need the sandbox, and bubblewrap (bwrap) is not installed"


@pytest.mark.parametrize(
    "sandbox", [False, pytest.param(True, marks=needs_bwrap)], ids=["plain", "bwrap"]
)
async def test_kill_stops_the_process(tmp_path: Path, sandbox: bool) -> None:
    ex = LocalExecutor(tmp_path / "pods", sandbox=sandbox)
    task = asyncio.create_task(ex.run(pod(tmp_path, ["sleep", "30"])))
    await asyncio.sleep(0.5)
    await ex.kill("p1")
    result = await asyncio.wait_for(task, 5)
    assert result.exit_code != 0


@pytest.mark.parametrize(
    "sandbox", [False, pytest.param(True, marks=needs_bwrap)], ids=["plain", "sandbox"]
)
async def test_a_cancelled_run_kills_and_closes_its_process(tmp_path: Path, sandbox: bool) -> None:
    """Its pipes are read to the end before the cancellation goes on: nothing is left for the
    garbage collector (a ResourceWarning, an error under this suite's filterwarnings)."""
    ex = LocalExecutor(tmp_path / "pods", sandbox=sandbox)
    running = asyncio.create_task(ex.run(pod(tmp_path, ["sh", "-c", "echo started; sleep 60"])))
    log = tmp_path / "p1.log"
    async with asyncio.timeout(10):
        while not (log.exists() and log.read_text().startswith("started")):
            await asyncio.sleep(0.02)
    [proc] = ex._procs.values()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert proc.returncode == -9
    assert proc.stdout is not None and proc.stdout.at_eof()
    assert proc.stderr is not None and proc.stderr.at_eof()

"""The local executor: a pod's main container as a host process, sandboxed by bubblewrap.

With ``bwrap`` on the machine, each pod sees the host's filesystem read-only, a private ``/tmp``,
its volumes bound at their ``mountPath``, a private PID namespace, and dies with its parent.
Without it, the process runs directly with a per-pod ``TMPDIR`` and volumes are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
from pathlib import Path

from engine.executors.base import PodResult, PodSpec, VolumeBinding

log = logging.getLogger(__name__)

SCRIPT_PATH = "/argo/staging/script"
RESULT_LIMIT = 1 << 20
_SPECIAL = {"/proc", "/dev", "/tmp", "/sys"}


def bwrap_binary() -> str | None:
    return shutil.which("bwrap")


def plan_root(binds: list[VolumeBinding]) -> list[str]:
    """bwrap arguments that mirror the host root read-only, leaving room for every bind target.

    bwrap cannot create a mount point inside a read-only bind, so a directory on the way to a
    target is recreated in the sandbox's tmpfs root and its other entries are bound one by one.
    """
    targets = {os.path.normpath(b.mount_path) for b in binds}
    args: list[str] = []

    def on_the_way(path: str) -> bool:
        return any(t == path or t.startswith(path + "/") for t in targets)

    def mirror(directory: str) -> None:
        try:
            entries = sorted(os.listdir(directory))
        except OSError:
            return
        for entry in entries:
            path = os.path.join(directory, entry)
            if path in _SPECIAL:
                continue
            if os.path.islink(path):
                if path not in targets:
                    args.extend(["--symlink", os.readlink(path), path])
            elif on_the_way(path):
                if path in targets:
                    continue
                if os.path.isdir(path):
                    args.extend(["--dir", path])
                    mirror(path)
            else:
                args.extend(["--ro-bind", path, path])

    mirror("/")
    args.extend(["--ro-bind", "/sys", "/sys", "--dev", "/dev", "--proc", "/proc"])
    return args


class LocalExecutor:
    """Runs pods as local processes (see module docstring)."""

    def __init__(self, work_dir: str | Path, *, sandbox: bool | None = None) -> None:
        self.work_dir = Path(work_dir)
        self._bwrap = bwrap_binary() if sandbox is not False else None
        if sandbox and not self._bwrap:
            raise RuntimeError("sandbox requested but bubblewrap (bwrap) is not installed")
        self.sandboxed = self._bwrap is not None
        self._procs: dict[tuple[str, str], asyncio.subprocess.Process] = {}
        if not self.sandboxed:
            log.warning(
                "bubblewrap (bwrap) not found: pods run as plain processes, without isolation"
            )

    def _pod_dir(self, pod: PodSpec) -> Path:
        d = self.work_dir / pod.workflow_uid / pod.name
        (d / "tmp").mkdir(parents=True, exist_ok=True)
        return d

    def _host_path(self, pod: PodSpec, pod_dir: Path, path: str) -> Path:
        """Where a path inside the pod lives on the host."""
        if not self.sandboxed:
            return Path(path)
        binds = [*pod.volumes, VolumeBinding(str(pod_dir / "tmp"), "/tmp")]
        best: VolumeBinding | None = None
        for b in binds:
            mp = b.mount_path.rstrip("/")
            if (path == mp or path.startswith(mp + "/")) and (
                best is None or len(mp) > len(best.mount_path)
            ):
                best = b
        if best is None:
            return Path(path)
        rest = path[len(best.mount_path.rstrip("/")) :].lstrip("/")
        return Path(best.host_path) / rest

    def _argv(self, pod: PodSpec, pod_dir: Path) -> tuple[list[str], dict[str, str], str | None]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/root"}
        for key in ("LANG", "LC_ALL", "TZ"):
            if key in os.environ:
                env[key] = os.environ[key]
        env.update(pod.env)
        command = list(pod.command)
        script_host = pod_dir / ("script" if pod.container == "main" else f"script-{pod.container}")
        if pod.script is not None:
            script_host.write_text(pod.script)
            script_host.chmod(0o755)
        if not self.sandboxed:
            if pod.volumes:
                raise PodStartError(
                    "volumes need the sandbox, and bubblewrap (bwrap) is not installed"
                )
            env["TMPDIR"] = str(pod_dir / "tmp")
            if pod.script is not None:
                command.append(str(script_host))
            cwd = pod.working_dir
            if cwd:
                Path(cwd).mkdir(parents=True, exist_ok=True)
            return command, env, cwd
        binds = list(pod.volumes)
        if pod.script is not None:
            binds.append(VolumeBinding(str(script_host), SCRIPT_PATH, read_only=True))
            command.append(SCRIPT_PATH)
        wd = pod.working_dir
        if (
            wd
            and not os.path.isdir(wd)
            and not any(
                wd == b.mount_path or wd.startswith(b.mount_path.rstrip("/") + "/") for b in binds
            )
        ):
            (pod_dir / "workdir").mkdir(exist_ok=True)
            binds.append(VolumeBinding(str(pod_dir / "workdir"), wd))
        assert self._bwrap is not None
        argv = [self._bwrap, *plan_root(binds), "--bind", str(pod_dir / "tmp"), "/tmp"]
        for b in sorted(binds, key=lambda b: len(b.mount_path)):
            argv.extend(["--ro-bind" if b.read_only else "--bind", b.host_path, b.mount_path])
        argv.extend(["--unshare-pid", "--die-with-parent", "--new-session"])
        argv.extend(["--chdir", wd or "/", "--", *command])
        return argv, env, None

    def _check_executable(self, pod: PodSpec) -> None:
        if not pod.command:
            raise PodStartError("container has no command (and its image has none configured)")
        exe = pod.command[0]
        in_volume = any(exe.startswith(b.mount_path.rstrip("/") + "/") for b in pod.volumes)
        if in_volume:
            return
        found = os.access(exe, os.X_OK) if "/" in exe else shutil.which(exe) is not None
        if not found:
            raise PodStartError(f'exec: "{exe}": executable file not found in $PATH')

    async def run(self, pod: PodSpec) -> PodResult:
        pod_dir = self._pod_dir(pod)
        log_path = Path(pod.log_path) if pod.log_path else pod_dir / "main.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._check_executable(pod)
            argv, env, cwd = self._argv(pod, pod_dir)
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=None if self.sandboxed else _die_with_parent,
            )
        except PodStartError as exc:
            log_path.write_text(f"{exc}\n")
            return PodResult(exit_code=None, error=str(exc))
        except OSError as exc:
            msg = f"failed to start container: {exc.strerror or exc}"
            log_path.write_text(msg + "\n")
            return PodResult(exit_code=None, error=msg)
        self._procs[(pod.name, pod.container)] = proc
        stdout: list[bytes] = []
        try:
            with log_path.open("wb") as sink:
                await asyncio.gather(
                    _pump(proc.stdout, sink, stdout), _pump(proc.stderr, sink, None)
                )
            code = await proc.wait()
        except asyncio.CancelledError:
            _killpg(proc)
            await _reap(proc)
            raise
        finally:
            self._procs.pop((pod.name, pod.container), None)
        files: dict[str, str | None] = {}
        for path in pod.output_paths:
            host = self._host_path(pod, pod_dir, path)
            try:
                files[path] = host.read_text(errors="replace")
            except (OSError, UnicodeDecodeError):
                files[path] = None
        artifacts = {}
        for art_name, path in pod.output_artifacts.items():
            artifacts[art_name] = _save(self._host_path(pod, pod_dir, path),
                                        Path(pod.artifact_dir) / art_name)  # fmt: skip
        text = b"".join(stdout)[:RESULT_LIMIT].decode(errors="replace")
        return PodResult(exit_code=code, stdout=text, files=files, artifacts=artifacts)

    async def kill(self, pod_name: str, container: str | None = None) -> None:
        for (name, member), proc in list(self._procs.items()):
            if name == pod_name and container in (None, member):
                _killpg(proc)


def _save(source: Path, dest: Path) -> bool:
    if not source.exists():
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
    if source.is_dir():
        shutil.copytree(source, dest)
    else:
        shutil.copy2(source, dest)
    return True


class PodStartError(Exception):
    """The pod's container could not be started."""


def _die_with_parent() -> None:
    """In the child before exec: be killed when the engine's process dies (PR_SET_PDEATHSIG)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)


def _killpg(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


async def _reap(proc: asyncio.subprocess.Process, timeout: float = 5.0) -> None:
    """After a kill: read the pipes to their end and wait for the exit, so the process's
    transports close now, not when the loop is gone (a ``ResourceWarning`` then)."""
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await asyncio.wait_for(proc.communicate(), timeout)


async def _pump(
    stream: asyncio.StreamReader | None, sink: object, keep: list[bytes] | None
) -> None:
    if stream is None:
        return
    write = sink.write  # type: ignore[attr-defined]
    flush = sink.flush  # type: ignore[attr-defined]
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            return
        write(chunk)
        flush()
        if keep is not None:
            keep.append(chunk)

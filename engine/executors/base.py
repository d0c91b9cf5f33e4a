"""What the engine asks of an executor: run one pod to completion, or kill it.

The local executor runs pods as sandboxed host processes; the Kubernetes executor (later)
creates real Pods. The engine depends only on this interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class VolumeBinding:
    """A host directory (or file) that appears at ``mount_path`` inside the pod."""

    host_path: str
    mount_path: str
    read_only: bool = False


@dataclass
class PodSpec:
    """Everything needed to run a pod's main container, already resolved."""

    name: str
    workflow_uid: str
    namespace: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    volumes: list[VolumeBinding] = field(default_factory=list)
    script: str | None = None  # script source; its in-pod path is appended to the command
    output_paths: list[str] = field(default_factory=list)  # files to read back after exit
    requests: dict[str, str] = field(default_factory=dict)
    log_path: str = ""
    container: str = "main"  # which of the pod's containers this is (init, sidecar, set member)
    output_artifacts: dict[str, str] = field(default_factory=dict)  # name → path in the pod
    artifact_dir: str = ""  # where output artifacts are copied to, one entry per name


@dataclass
class PodResult:
    """How a pod ended: exit code, stdout (for ``outputs.result``) and the files asked for."""

    exit_code: int | None
    stdout: str = ""
    files: dict[str, str | None] = field(default_factory=dict)  # path → content (None: missing)
    artifacts: dict[str, bool] = field(default_factory=dict)  # name → saved (False: missing)
    error: str | None = None  # the pod could not run at all (missing executable, ...)
    deadline: bool = False  # killed because its deadline passed


class Executor(Protocol):
    """Runs pods."""

    sandboxed: bool

    async def run(self, pod: PodSpec) -> PodResult: ...

    async def kill(self, pod_name: str, container: str | None = None) -> None:
        """Kill one container of a pod, or all of them."""
        ...

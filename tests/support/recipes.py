"""What the recipe tests share: ``sluice up`` on a recipe folder, and reading its workflows.

A recipe (``examples/<name>-to-workflow/``) is loaded as shipped; only a webhook port may be
swapped for a free one, so a test never depends on a fixed port being free.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sluice.config import load_settings
from sluice.up import Up, UpOptions

EXAMPLES = Path(__file__).parents[2] / "examples"


def recipe_copy(name: str, into: Path, ports: dict[str, int] | None = None) -> Path:
    """``examples/<name>`` copied into ``into``, each ``port: "N"`` in ``ports`` swapped."""
    folder = into / name
    shutil.copytree(EXAMPLES / name, folder)
    for path in folder.glob("*.yaml"):
        text = path.read_text()
        for old, new in (ports or {}).items():
            text = text.replace(f'port: "{old}"', f'port: "{new}"')
        path.write_text(text)
    return folder


@asynccontextmanager
async def running(folder: Path, data_dir: Path, nats_url: str) -> AsyncIterator[Up]:
    """``sluice up FOLDER`` on the given bus, stopped on exit."""
    up = Up(
        load_settings(str(data_dir)),
        UpOptions(paths=[str(folder)], port=0, eventbus=nats_url, webhook_host="127.0.0.1"),
    )
    await up.start()
    try:
        yield up
    finally:
        await up.stop()


async def finished(up: Up, n: int, namespace: str = "default", timeout: float = 60) -> list[Any]:
    """Wait until ``n`` workflows exist and have ended; return them."""
    deadline = time.monotonic() + timeout
    while len(found := up.engine.list_workflows(namespace)) < n:
        assert time.monotonic() < deadline, f"{len(found)} of {n} workflows after {timeout}s"
        await asyncio.sleep(0.1)
    return [await up.engine.wait(namespace, wf["metadata"]["name"]) for wf in found]


def nodes_named(workflow: dict[str, Any], name: str) -> list[dict[str, Any]]:
    nodes = workflow["status"].get("nodes", {}).values()
    return [n for n in nodes if n.get("displayName") == name]


def parameter(workflow: dict[str, Any], index: int) -> str:
    return str(workflow["spec"]["arguments"]["parameters"][index]["value"])


def tries(workflow: dict[str, Any], step: str) -> int:
    """How many times ``step`` (a step with a retryStrategy) ran."""
    [node] = [n for n in nodes_named(workflow, step) if n["type"] == "Retry"]
    return len(node.get("children", []))


def handler_phases(workflow: dict[str, Any]) -> list[str]:
    """The phases of the exit handler's notify-failure step (``Skipped`` when not needed)."""
    return [n["phase"] for n in nodes_named(workflow, "notify-failure")]

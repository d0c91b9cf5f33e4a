"""Reading pods' log files, once or following them until the workflow ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from engine.service import Engine

FOLLOW_POLL = 0.2


async def follow_logs(
    engine: Engine, namespace: str, name: str, pod: str | None, follow: bool
) -> AsyncIterator[tuple[str, str]]:
    """(pod name, line) for each log line of the workflow's pods, in pod start order."""
    offsets: dict[str, int] = {}
    partial: dict[str, str] = {}
    while True:
        finished = bool(engine.get(namespace, name)["status"].get("finishedAt"))
        for pod_name, path in engine.pod_logs(namespace, name, pod):
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    fh.seek(offsets.get(path, 0))
                    chunk = fh.read()
                    offsets[path] = fh.tell()
            except FileNotFoundError:
                continue
            text = partial.pop(path, "") + chunk
            lines = text.split("\n")
            if lines and lines[-1] and not finished:
                partial[path] = lines.pop()
            elif lines and not lines[-1]:
                lines.pop()
            for line in lines:
                yield pod_name, line
        if not follow or finished:
            return
        await asyncio.sleep(FOLLOW_POLL)

"""The files and folders ``sluice up`` was given, applied and kept in step as they change.

Each sync re-reads only the files whose content changed. A changed file's documents are applied
(unchanged documents change nothing, so an edit restarts only the resource it touched); a
resource that left its file, or whose file is gone, is deleted. A file that does not parse, or a
document with an error, is reported with its file and path and skipped: what it defined before
keeps running, and the rest of the folder is applied. Resources remember their file (an
annotation), so a file deleted while sluice was down is pruned at the next start.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from watchfiles import Change, awatch

from sluice.catalog import KINDS
from sluice.controller import SOURCE_FILE, ResourceController
from sluice.core.errors import NotFoundError, SluiceError, SpecError
from sluice.core.resources import RESOURCE_SUFFIXES, RawResource, iter_resource_files, load_text

log = logging.getLogger(__name__)


Key = tuple[str, str, str]  # kind, namespace, name


@dataclass
class _File:
    digest: str
    keys: set[Key] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)  # as of its last change


def _key(raw: RawResource) -> Key | None:
    """Where a document's resource is stored; None for Workflows (runs, never pruned)."""
    kind = KINDS.get(raw.kind)
    if kind is None or kind.name == "Workflow" or not raw.name:
        return None
    meta = raw.data.get("metadata") or {}
    namespace = str(meta.get("namespace") or "default") if kind.namespaced else ""
    return kind.name, namespace, raw.name


class FileSync:
    """Applies the resources under ``paths`` through ``controller`` and follows their changes."""

    def __init__(
        self, paths: Iterable[str | Path], controller: ResourceController, *, poll: bool = False
    ) -> None:
        self.roots = [Path(p).resolve() for p in paths]
        missing = self.missing(self.roots)
        if missing:
            raise SpecError(missing)
        self.controller = controller
        self.poll = poll
        self.problems: list[str] = []  # of the files as they are now
        self._files: dict[Path, _File] = {}
        self._lock = asyncio.Lock()

    @staticmethod
    def missing(paths: Iterable[str | Path]) -> list[str]:
        """A problem for each of ``paths`` that does not exist."""
        return [f"{p}: no such file or directory" for p in paths if not Path(p).exists()]

    async def sync(self) -> list[str]:
        """Bring the store in step with the files; the problems they have (new ones logged)."""
        async with self._lock:
            problems: list[str] = []
            current = {p.resolve() for p in iter_resource_files(self.roots) if p.is_file()}
            for path in sorted(set(self._files) - current):
                log.info("%s: removed; deleting what it defined", path)
                await self._delete(self._files.pop(path).keys, problems)
            for path in sorted(current):
                problems.extend(await self._sync_file(path))
            for problem in problems:
                log.error("%s", problem)
            self.problems = problems + [
                problem for path in sorted(current) for problem in self._problems_of(path)
            ]
            return self.problems

    def _problems_of(self, path: Path) -> list[str]:
        entry = self._files.get(path)
        return entry.problems if entry is not None else []

    async def prune(self) -> None:
        """Delete stored resources that came from a watched file but are in none of them now."""
        known = set().union(*(f.keys for f in self._files.values())) if self._files else set()
        for kind in KINDS.values():
            if kind.name == "Workflow":
                continue
            for item in self.controller.store.list_resources(kind.name):
                meta = item.get("metadata") or {}
                source = (meta.get("annotations") or {}).get(SOURCE_FILE)
                key = (kind.name, meta.get("namespace") or "", meta.get("name") or "")
                if source and self._watched(Path(source)) and key not in known:
                    log.info("%s: %s/%s is no longer in it; deleting", source, *key[:2])
                    await self._delete({key}, self.problems)

    async def run(self, stop: asyncio.Event, resync_ms: int = 10_000) -> None:
        """Sync on every change under the watched paths until ``stop`` is set.

        The watch is registered in this coroutine's first step, so a caller that lets it take
        one step misses no change after that. Every ``resync_ms`` without changes the files
        are compared again anyway (only changed content is applied), which also covers what
        happened between the first sync and the watch.
        """
        async for _ in awatch(
            *self.roots,
            watch_filter=self._relevant,
            stop_event=stop,
            force_polling=self.poll or None,
            poll_delay_ms=200,
            recursive=True,
            rust_timeout=resync_ms,
            yield_on_timeout=True,
        ):
            try:
                await self.sync()
            except Exception:  # a sync must never end the watch
                log.exception("syncing %s failed", ", ".join(map(str, self.roots)))

    # ---- one file ------------------------------------------------------------------------
    async def _sync_file(self, path: Path) -> list[str]:
        """Apply one file if its content changed; problems only worth logging (deletions)."""
        try:
            text = path.read_text()
        except OSError as exc:
            return [f"{path}: {exc.strerror or exc}"]
        digest = hashlib.sha256(text.encode()).hexdigest()
        before = self._files.get(path)
        if before is not None and before.digest == digest:
            return []
        problems: list[str] = []
        try:
            docs = load_text(text, path)
        except SpecError as exc:  # keep what the file defined until it parses again
            kept = before.keys if before is not None else set()
            self._files[path] = _File(digest, kept, list(exc.problems))
            self._log(exc.problems)
            return []
        keys: set[Key] = set()
        for raw in docs:
            key = _key(raw)
            try:
                applied = await self.controller.apply_document(raw, source_file=str(path))
            except SluiceError as exc:
                problems.extend(getattr(exc, "problems", None) or [f"{raw.where()}: {exc}"])
                if key is not None and before is not None and key in before.keys:
                    keys.add(key)  # the last good version keeps running
                continue
            if applied.action != "unchanged":
                log.info("%s: %s", path, applied.line())
            if key is not None:
                keys.add(key)
        deleted: list[str] = []
        if before is not None:
            await self._delete(before.keys - keys, deleted)
        self._files[path] = _File(digest, keys, problems)
        self._log(problems)
        return deleted

    @staticmethod
    def _log(problems: Iterable[str]) -> None:
        for problem in problems:
            log.error("%s", problem)

    async def _delete(self, keys: Iterable[Key], problems: list[str]) -> None:
        for kind, namespace, name in sorted(keys):
            try:
                await self.controller.delete(kind, namespace, name)
                log.info("%s.argoproj.io/%s deleted", kind.lower(), name)
            except NotFoundError:
                pass  # deleted by someone else already
            except SluiceError as exc:
                problems.append(f"deleting {kind} {namespace}/{name}: {exc}")

    def _watched(self, path: Path) -> bool:
        return any(path == root or root in path.parents for root in self.roots)

    @staticmethod
    def _relevant(change: Change, path: str) -> bool:
        return path.endswith(RESOURCE_SUFFIXES)


__all__ = ["FileSync"]

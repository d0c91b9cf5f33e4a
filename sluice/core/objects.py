"""Local stand-ins for Kubernetes Secrets and ConfigMaps, read by pods and event sources alike.

Under the data directory, ``secrets/NAME.yaml`` (a Secret manifest, ``data`` base64 or
``stringData``) or ``secrets/NAME/KEY`` (one file per key, as a mounted secret looks), and the
same under ``configmaps/`` for ConfigMaps.
"""

from __future__ import annotations

import base64
from pathlib import Path

import yaml


class ObjectError(LookupError):
    """A referenced secret or config map, or one of its keys, does not exist."""


class LocalObjects:
    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)

    def _read(self, kind: str, name: str) -> dict[str, str]:
        folder = self.data_dir / ("secrets" if kind == "secret" else "configmaps")
        as_dir = folder / name
        if as_dir.is_dir():
            return {p.name: p.read_text() for p in as_dir.iterdir() if p.is_file()}
        for suffix in (".yaml", ".yml", ".json"):
            path = folder / f"{name}{suffix}"
            if path.is_file():
                doc = yaml.safe_load(path.read_text()) or {}
                out: dict[str, str] = {}
                for key, value in (doc.get("data") or {}).items():
                    out[key] = (
                        base64.b64decode(str(value)).decode() if kind == "secret" else str(value)
                    )
                for key, value in (doc.get("stringData") or {}).items():
                    out[key] = str(value)
                return out
        raise ObjectError(f'{kind} "{name}" not found (looked in {folder})')

    def get(self, kind: str, name: str, key: str) -> str:
        values = self._read(kind, name)
        if key not in values:
            raise ObjectError(f'couldn\'t find key {key} in {kind} "{name}"')
        return values[key]

    def all(self, kind: str, name: str) -> dict[str, str]:
        return self._read(kind, name)

"""sluice's settings: where state lives, which server to talk to, and the controller config.

The config file takes the keys of Argo's workflow-controller ConfigMap (``images``,
``parallelism``, ``workflowDefaults``, ...), either as a plain YAML mapping or as the ConfigMap
itself (its ``data.config`` string or its ``data`` keys).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sluice.core.errors import SpecError

DEFAULT_SERVER = "http://localhost:2746"
KNOWN_KEYS = {
    "images",
    "parallelism",
    "namespaceParallelism",
    "workflowDefaults",
    "resourceRateLimit",
    "semaphores",
    "executor",
    "persistence",
    "retentionPolicy",
    "podGCGracePeriodSeconds",
    "localCapacity",  # sluice: the local executor's {cpu, memory}, default the machine's
}


@dataclass
class Settings:
    data_dir: Path
    server: str = DEFAULT_SERVER
    config_file: Path | None = None
    controller: dict[str, Any] = field(default_factory=dict)

    @property
    def images(self) -> dict[str, Any]:
        return dict(self.controller.get("images") or {})

    @property
    def parallelism(self) -> int | None:
        value = self.controller.get("parallelism")
        return int(value) if value else None


def _controller_config(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SpecError([f"{path}: invalid YAML: {exc}"]) from exc
    if not isinstance(doc, dict):
        raise SpecError([f"{path}: expected a mapping of config keys"])
    if doc.get("kind") == "ConfigMap":
        data = doc.get("data") or {}
        if isinstance(data.get("config"), str):
            doc = yaml.safe_load(data["config"]) or {}
        else:
            doc = {k: yaml.safe_load(v) if isinstance(v, str) else v for k, v in data.items()}
    unknown = sorted(set(doc) - KNOWN_KEYS)
    if unknown:
        raise SpecError([f"{path}: {k}: unknown config key" for k in unknown])
    images = doc.get("images") or {}
    if not isinstance(images, dict):
        raise SpecError([f"{path}: images: expected a mapping of image name to command"])
    for name, entry in images.items():
        if not isinstance(entry, dict) or set(entry) - {"command", "args", "entrypoint", "cmd"}:
            raise SpecError([f"{path}: images.{name}: expected {{command: [...], args: [...]}}"])
        # Argo's older spelling: entrypoint/cmd
        if "entrypoint" in entry:
            entry.setdefault("command", entry.pop("entrypoint"))
        if "cmd" in entry:
            entry.setdefault("args", entry.pop("cmd"))
    defaults = doc.get("workflowDefaults")
    if isinstance(defaults, str):  # the ConfigMap form holds it as a YAML string
        defaults = yaml.safe_load(defaults)
        doc["workflowDefaults"] = defaults
    if defaults is not None and not isinstance(defaults, dict):
        raise SpecError([f"{path}: workflowDefaults: expected a Workflow (metadata, spec)"])
    return doc


def load_settings(
    data_dir: str | None = None, config: str | None = None, server: str | None = None
) -> Settings:
    """Settings from flags, then environment variables, then defaults."""
    d = Path(data_dir or os.environ.get("SLUICE_DATA_DIR") or ".sluice").resolve()
    cfg = config or os.environ.get("SLUICE_CONFIG")
    cfg_path = Path(cfg) if cfg else d / "config.yaml"
    controller = {}
    if cfg_path.is_file():
        controller = _controller_config(cfg_path)
    elif cfg:
        raise SpecError([f"{cfg_path}: config file not found"])
    return Settings(
        data_dir=d,
        server=(server or os.environ.get("SLUICE_SERVER") or DEFAULT_SERVER).rstrip("/"),
        config_file=cfg_path if cfg_path.is_file() else None,
        controller=controller,
    )

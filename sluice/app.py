"""Wiring: an Engine built from Settings (store, executor, config) for the server and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from engine.executors.local import LocalExecutor
from engine.service import Engine, EngineConfig
from engine.store import open_store
from engine.store.sqlite import SQLiteStore
from engine.templates import TemplateRegistry
from sluice.config import Settings
from sluice.core.errors import SpecError
from sluice.core.objects import LocalObjects, ObjectError


def postgres_dsn(persistence: dict[str, Any], data_dir: Path) -> str | None:
    """The DSN of Argo's ``persistence.postgresql`` config, credentials from local secrets."""
    pg = persistence.get("postgresql")
    if not pg:
        return None
    objects = LocalObjects(data_dir)
    user = password = ""
    try:
        if pg.get("userNameSecret"):
            user = objects.get("secret", pg["userNameSecret"]["name"], pg["userNameSecret"]["key"])
        if pg.get("passwordSecret"):
            ref = pg["passwordSecret"]
            password = objects.get("secret", ref["name"], ref["key"])
    except (ObjectError, KeyError) as exc:
        raise SpecError([f"persistence.postgresql: {exc}"]) from exc
    auth = quote(user.strip()) + (":" + quote(password.strip()) if password else "")
    host = f"{pg.get('host', '127.0.0.1')}:{pg.get('port', 5432)}"
    ssl = "?sslmode=require" if pg.get("ssl") else ""
    return f"postgresql://{auth + '@' if auth else ''}{host}/{pg.get('database', 'postgres')}{ssl}"


def build_engine(settings: Settings) -> Engine:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    dsn = postgres_dsn(settings.controller.get("persistence") or {}, settings.data_dir)
    store = open_store(dsn) if dsn else SQLiteStore(settings.data_dir / "sluice.db")
    executor = LocalExecutor(settings.data_dir / "pods")
    config = EngineConfig(
        data_dir=settings.data_dir,
        images=settings.images,
        parallelism=settings.parallelism,
        workflow_defaults=settings.controller.get("workflowDefaults"),
        semaphores=dict(settings.controller.get("semaphores") or {}),
        namespace_parallelism=settings.controller.get("namespaceParallelism"),
        resource_rate_limit=settings.controller.get("resourceRateLimit"),
        capacity=dict(settings.controller.get("localCapacity") or {}),
    )
    engine = Engine(store, executor, config)
    return engine


def template_registry(engine: Engine) -> TemplateRegistry:
    """The engine's stored templates and crons."""
    return engine.templates

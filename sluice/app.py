"""Wiring: an Engine built from Settings (store, executor, config) for the server and the CLI."""

from __future__ import annotations

from engine.executors.local import LocalExecutor
from engine.service import Engine, EngineConfig
from engine.store.sqlite import SQLiteStore
from engine.templates import TemplateRegistry
from sluice.config import Settings


def build_engine(settings: Settings) -> Engine:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(settings.data_dir / "sluice.db")
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

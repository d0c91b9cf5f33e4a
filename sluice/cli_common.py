"""What every ``sluice`` command shares: the common options, settings, backend and exit codes.

Commands live in more than one module (workflows in ``cli``, stored templates and crons in
``cli_resources``); they all reach the server or the in-process engine through these helpers.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from sluice.client import Backend, LocalBackend, RemoteBackend, server_answers
from sluice.config import Settings, load_settings
from sluice.core.errors import SluiceError, SpecError

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; a SluiceError is printed and exits 1."""
    try:
        return asyncio.run(coro)
    except SpecError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(1)
    except SluiceError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


async def _backend(settings: Settings) -> Backend:
    if await server_answers(settings.server):
        return RemoteBackend(settings.server)
    from sluice.app import build_engine

    return LocalBackend(build_engine(settings))


async def with_backend(settings: Settings, fn: Callable[[Backend], Awaitable[T]]) -> T:
    """``fn`` on the server at ``settings.server`` if one answers, else on a local engine."""
    backend = await _backend(settings)
    try:
        return await fn(backend)
    finally:
        await backend.close()


def now() -> datetime:
    return datetime.now(UTC)


common = [
    click.option("--data-dir", envvar="SLUICE_DATA_DIR", help="Where state lives (.sluice/)."),
    click.option("--config", "config_file", envvar="SLUICE_CONFIG", help="Config file."),
    click.option("--server", envvar="SLUICE_SERVER", help="Server URL (http://localhost:2746)."),
    click.option("-n", "--namespace", default="default", show_default=True),
]


def with_common(fn: Callable[..., Any]) -> Callable[..., Any]:
    for opt in reversed(common):
        fn = opt(fn)
    return fn


def settings_from(kw: dict[str, Any]) -> Settings:
    """The Settings named by the common options (which are removed from ``kw``)."""
    try:
        return load_settings(kw.pop("data_dir"), kw.pop("config_file"), kw.pop("server"))
    except SpecError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(1)


def fail(problems: list[str]) -> int:
    """Print ``problems`` to stderr; the exit code to leave with."""
    for p in problems:
        click.echo(p, err=True)
    return 1

"""What every ``sluice`` command shares: the common options, settings, backend and exit codes,
and how a command that starts a workflow prints it or waits for it.

Commands live in more than one module (workflows in ``cli``, stored templates and crons in
``cli_resources``, the archive, retry and resubmit in ``cli_archive``); they all reach the server
or the in-process engine through these helpers.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
import yaml

from sluice.client import Backend, LocalBackend, RemoteBackend, server_answers
from sluice.config import Settings, load_settings
from sluice.core.errors import SluiceError, SpecError

T = TypeVar("T")
SUCCEEDED = "Succeeded"


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


# ---- workflows: printing one, and waiting for one ------------------------------------------
def print_workflow(wf: dict[str, Any], output: str | None) -> None:
    """``-o json|yaml|name``, or the ``argo get`` screen."""
    from sluice.render import render_get

    if output == "json":
        click.echo(json.dumps(wf, indent=2))
    elif output == "yaml":
        click.echo(yaml.safe_dump(wf, sort_keys=False), nl=False)
    elif output == "name":
        click.echo(wf["metadata"]["name"])
    elif output == "wide" or output is None:
        click.echo(render_get(wf, now(), color=sys.stdout.isatty()))
    else:
        raise click.BadParameter(f"unknown output format {output}", param_hint="-o")


async def watch_workflow(backend: Backend, namespace: str, name: str) -> dict[str, Any]:
    """Redraw the workflow as it changes (on a terminal); returns its final state."""
    from sluice.render import render_get

    tty = sys.stdout.isatty()
    final: dict[str, Any] = {}
    async for wf in backend.watch(namespace, name):
        final = wf
        if tty:
            click.echo("\x1b[H\x1b[2J" + render_get(wf, now(), color=True))
    if not tty and final:
        click.echo(render_get(final, now()))
    return final


async def final_state(backend: Backend, namespace: str, name: str) -> dict[str, Any]:
    final: dict[str, Any] = {}
    async for wf in backend.watch(namespace, name):
        final = wf
    return final


async def print_logs(backend: Backend, namespace: str, name: str, pod: str | None,
                     follow: bool, prefix: bool) -> None:  # fmt: skip
    async for pod_name, line in backend.logs(namespace, name, pod, follow):
        click.echo(f"{pod_name}: {line}" if prefix else line)


def follow_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--wait``, ``-w/--watch``, ``--log`` and ``-o``: how ``follow`` treats the workflow."""
    for option in reversed([
        click.option("--wait", is_flag=True, help="Wait for the workflow to complete."),
        click.option("-w", "--watch", is_flag=True, help="Watch the workflow until it completes."),
        click.option("--log", is_flag=True, help="Print the pods' logs as they run."),
        click.option("-o", "--output", type=click.Choice(["json", "yaml", "name", "wide"])),
    ]):  # fmt: skip
        fn = option(fn)
    return fn


async def follow(
    backend: Backend, wf: dict[str, Any], output: str | None, *,
    wait: bool = False, watch: bool = False, log: bool = False,
) -> dict[str, Any] | None:  # fmt: skip
    """What ``submit``, ``retry`` and ``resubmit`` do with a workflow they have just started.

    A server runs it, so unless asked to wait the command prints it and returns at once (None).
    In-process, this process is what runs it, so the command always waits; it then prints how the
    workflow ended (``-o`` picks how) and returns its final state, for ``exit_unless_succeeded``.
    """
    if not (wait or watch or log or backend.local):
        print_workflow(wf, output)
        return None
    namespace, name = wf["metadata"].get("namespace") or "default", wf["metadata"]["name"]
    if output is None and not watch:
        click.echo(f"Name: {name}")
    logs = (
        asyncio.create_task(print_logs(backend, namespace, name, None, True, True)) if log else None
    )
    final = await (watch_workflow(backend, namespace, name) if watch else
                   final_state(backend, namespace, name))  # fmt: skip
    if logs is not None:
        await logs
    if output:
        print_workflow(final, output)
    elif not watch:
        status = final.get("status") or {}
        click.echo(f"{name} {status.get('phase')} at {status.get('finishedAt')}")
    return final


def exit_unless_succeeded(finals: list[dict[str, Any] | None]) -> None:
    """Exit 1 if a workflow that was waited for did not succeed."""
    for wf in finals:
        if wf is not None and (wf.get("status") or {}).get("phase") != SUCCEEDED:
            sys.exit(1)

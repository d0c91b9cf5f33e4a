"""``sluice up``, and kubectl's verbs over every kind: ``apply``, ``get KIND``, ``delete``, plus
``events`` to read the event stream.

``get`` and ``delete`` are also argo's workflow verbs (``sluice get WORKFLOW``); a first
argument that names a kind (``eventsources``, ``es``, ``sensors``, ``cwf``) selects the kubectl
form, anything else is a workflow name, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import click
import yaml

from engine.status import parse_time
from sluice.catalog import Kind
from sluice.cli_common import fail, now, run, settings_from, with_backend, with_common
from sluice.client import Backend
from sluice.core.errors import SpecError
from sluice.core.resources import iter_resource_files, load_file
from sluice.render import human_duration, tabwrite


@click.command()
@click.argument("paths", nargs=-1)
@click.option("--host", default="127.0.0.1", show_default=True, help="API server address.")
@click.option("--port", default=2746, show_default=True, type=int, help="API server port.")
@click.option("--eventbus", help="Use this NATS server (nats://host:4222), not the embedded one.")
@click.option("--nats-port", type=int, help="Port of the embedded nats-server (default: free).")
@click.option("--webhook-host", default="0.0.0.0", show_default=True,
              help="Address webhook-style sources listen on.")  # fmt: skip
@click.option("--poll", is_flag=True, help="Watch PATHS by polling (network filesystems).")
@with_common
def up(paths: tuple[str, ...], host: str, port: int, eventbus: str | None,
       nats_port: int | None, webhook_host: str, poll: bool, namespace: str,
       **kw: Any) -> None:  # fmt: skip
    """Run everything: bus, engine, API server, and the resources in PATHS (watched)."""
    from sluice.up import Up, UpOptions

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("watchfiles").setLevel(logging.WARNING)  # sluice logs what it does
    settings = settings_from(kw)
    options = UpOptions(
        paths=list(paths),
        host=host,
        port=port,
        eventbus=eventbus,
        nats_port=nats_port,
        webhook_host=webhook_host,
        poll=poll,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        service = Up(settings, options)
        await service.run(stop)

    click.echo(f"sluice up on http://{host}:{port} (data in {settings.data_dir})", err=True)
    run(main())


def _documents(files: Sequence[str]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    problems: list[str] = []
    for file in iter_resource_files(files):
        try:
            raws = load_file(file)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        docs.extend({"manifest": raw.data, "where": raw.where()} for raw in raws)
    if problems:
        raise SpecError(problems)
    return docs


@click.command()
@click.option("-f", "--filename", "files", multiple=True, required=True,
              help="A file or folder of resources (repeatable).")  # fmt: skip
@with_common
def apply(files: tuple[str, ...], namespace: str, **kw: Any) -> None:
    """Create or update resources from files, on the running server (or the local store)."""
    settings = settings_from(kw)

    async def go(backend: Backend) -> int:
        docs = _documents(files)
        for doc in docs:
            meta = doc["manifest"].setdefault("metadata", {})
            if isinstance(meta, dict) and namespace != "default":
                meta.setdefault("namespace", namespace)
        failed = 0
        for result in await backend.apply(docs):
            if "problems" in result:
                failed += fail(result["problems"])
            else:
                click.echo(f"{result['kind'].lower()}.argoproj.io/{result['name']} "
                           f"{result['action']}")  # fmt: skip
        return 1 if failed else 0

    sys.exit(run(with_backend(settings, go)))


def get_kind(kind: Kind, name: str | None, output: str | None, namespace: str,
             all_namespaces: bool, settings_kw: dict[str, Any]) -> None:  # fmt: skip
    """``sluice get KIND [NAME]``: a table, or the resources as YAML/JSON/names."""
    settings = settings_from(settings_kw)
    ns = None if all_namespaces else namespace

    async def go(backend: Backend) -> list[dict[str, Any]]:
        if name:
            return [await backend.get_kind(kind.name, namespace, name)]
        return await backend.list_kind(kind.name, ns)

    items = run(with_backend(settings, go))
    if output == "json":
        click.echo(json.dumps(items[0] if name else {"items": items}, indent=2))
    elif output == "yaml":
        click.echo(
            yaml.safe_dump(items[0] if name else {"items": items}, sort_keys=False), nl=False
        )
    elif output == "name":
        for item in items:
            click.echo(f"{kind.name.lower()}.argoproj.io/{item['metadata']['name']}")
    else:
        click.echo(render_kind_list(kind, items, now(), all_namespaces), nl=False)


def render_kind_list(kind: Kind, items: Sequence[Mapping[str, Any]], at: datetime,
                     namespaces: bool = False) -> str:  # fmt: skip
    """kubectl's table: NAME, AGE, and what the resource is doing when it runs."""
    if not items:
        return f"No {kind.plural} found.\n"
    header = ["NAMESPACE"] if namespaces else []
    header += ["NAME", "AGE"] + (["STATUS"] if kind.name in ("EventSource", "Sensor") else [])
    rows = [header]
    for item in items:
        meta = item.get("metadata") or {}
        row = [meta.get("namespace") or ""] if namespaces else []
        row += [meta.get("name") or "", _age(meta.get("creationTimestamp"), at)]
        if kind.name in ("EventSource", "Sensor"):
            row.append(status_summary(item.get("status")))
        rows.append(row)
    return tabwrite("".join("\t".join(row) + "\n" for row in rows), 3)


def _age(created: str | None, at: datetime) -> str:
    moment = parse_time(created)
    return human_duration((at - moment).total_seconds()) if moment is not None else ""


def status_summary(status: Any) -> str:
    """A few words for a running resource: its types by state (``1 running, 1 unsupported``)."""
    if not isinstance(status, Mapping):
        return "Stopped"
    if status.get("phase"):
        return str(status["phase"])
    types = status.get("types")
    states: dict[str, int] = {}
    for entry in types.values() if isinstance(types, Mapping) else []:
        state = str((entry or {}).get("state", "unknown"))
        states[state] = states.get(state, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "Running"


def delete_kind(kind: Kind, names: Sequence[str], namespace: str, kw: dict[str, Any]) -> None:
    settings = settings_from(kw)

    async def go(backend: Backend) -> None:
        for name in names:
            await backend.delete_kind(kind.name, namespace, name)
            click.echo(f'{kind.name.lower()}.argoproj.io "{name}" deleted')

    run(with_backend(settings, go))


def delete_files(files: Sequence[str], namespace: str, kw: dict[str, Any]) -> None:
    """``sluice delete -f FILE``: every resource the files define (named ones)."""
    from sluice.catalog import find_kind

    settings = settings_from(kw)
    docs = _documents(files)

    async def go(backend: Backend) -> int:
        failed = 0
        for doc in docs:
            manifest = doc["manifest"]
            kind = find_kind(str(manifest.get("kind", "")))
            meta = manifest.get("metadata") or {}
            if kind is None or not meta.get("name"):
                failed += fail([f"{doc['where']}: nothing to delete (no known kind and name)"])
                continue
            ns = meta.get("namespace") or namespace
            try:
                await backend.delete_kind(kind.name, ns, meta["name"])
            except Exception as exc:  # keep going: report each and exit 1
                failed += fail([f"{doc['where']}: {exc}"])
            else:
                click.echo(f'{kind.name.lower()}.argoproj.io "{meta["name"]}" deleted')
        return 1 if failed else 0

    sys.exit(run(with_backend(settings, go)))


@click.command()
@click.option("--source", help="Only this EventSource's events.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events as they arrive.")
@click.option("-o", "--output", type=click.Choice(["json", "wide"]))
@with_common
def events(source: str | None, follow: bool, output: str | None, namespace: str,
           **kw: Any) -> None:  # fmt: skip
    """Print the events on the bus, oldest first (needs a running `sluice up`)."""
    settings = settings_from(kw)

    async def go(backend: Backend) -> None:
        async for line in backend.events(namespace, source, follow):
            click.echo(json.dumps(line) if output == "json" else render_event(line, output))

    with contextlib.suppress(KeyboardInterrupt):
        run(with_backend(settings, go))


def render_event(line: Mapping[str, Any], output: str | None = None) -> str:
    """``TIME  SOURCE/EVENT  TYPE  ID  DATA`` (data cut to one line unless ``wide``)."""
    event = line.get("event") or {}
    data = json.dumps(event.get("data", event.get("data_base64")), separators=(",", ":"))
    if output != "wide" and len(data) > 80:
        data = data[:77] + "..."
    where = f"{event.get('source', '?')}/{event.get('subject', '?')}"
    return (
        f"{event.get('time', '')}  {where}  {event.get('type', '')}  {event.get('id', '')}  {data}"
    )


COMMANDS = (up, apply, events)

__all__ = [
    "COMMANDS",
    "delete_files",
    "delete_kind",
    "get_kind",
    "render_event",
    "render_kind_list",
]

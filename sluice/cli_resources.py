"""``sluice template``, ``sluice cluster-template`` and ``sluice cron``: argo's verbs for stored
WorkflowTemplates, ClusterWorkflowTemplates and CronWorkflows, on the server or in-process.

The three kinds share create/list/get/delete, so one factory builds each group; a kind differs
only in how argo prints it and what ``delete`` says. CronWorkflows add suspend and resume.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click
import yaml

from engine.templates import STORED_KINDS
from sluice.cli_common import fail, now, run, settings_from, with_backend, with_common
from sluice.client import Backend
from sluice.core.errors import SpecError
from sluice.core.resources import RawResource, load_file
from sluice.render_resources import (
    render_cron,
    render_cron_list,
    render_template,
    render_template_list,
)

Show = Callable[[Mapping[str, Any], datetime], str]
ShowList = Callable[[Sequence[Mapping[str, Any]], datetime], str]


@dataclass(frozen=True)
class _Kind:
    command: str  # the CLI group: template, cluster-template, cron
    kind: str
    noun: str  # for help texts
    show: Show
    show_list: ShowList
    deleted: str | None  # what delete prints per name ('{}' is the name); argo's cron says nothing

    @property
    def namespaced(self) -> bool:
        return STORED_KINDS[self.kind].namespaced


def _load(files: tuple[str, ...], kind: str) -> list[RawResource]:
    """Every document of ``kind`` in ``files``; any other document, or none at all, is an error."""
    docs: list[RawResource] = []
    problems: list[str] = []
    for f in files:
        try:
            for raw in load_file(f):
                if raw.kind == kind:
                    docs.append(raw)
                else:
                    problems.append(f"{raw.where()}: kind: expected {kind}, got '{raw.kind}'")
        except SpecError as exc:
            problems.extend(exc.problems)
    if not docs and not problems:
        problems.append(f"no {kind} found in {', '.join(files)}")
    if problems:
        raise SystemExit(fail(problems))
    return docs


def _print(obj: dict[str, Any], output: str | None, show: Show) -> None:
    if output == "json":
        click.echo(json.dumps(obj, indent=2))
    elif output == "yaml":
        click.echo(yaml.safe_dump(obj, sort_keys=False), nl=False)
    elif output == "name":
        click.echo(obj["metadata"]["name"])
    else:
        click.echo(show(obj, now()), nl=False)


OUTPUTS = click.Choice(["json", "yaml", "name", "wide"])


def _group(k: _Kind) -> click.Group:
    @click.group(name=k.command, help=f"Manage {k.noun}s.")
    def group() -> None:
        pass

    def scope(namespace: str) -> str:
        return namespace if k.namespaced else ""

    @group.command(help=f"Create {k.noun}s from FILES.")
    @click.argument("files", nargs=-1, required=True)
    @click.option("-o", "--output", type=OUTPUTS)
    @with_common
    def create(files: tuple[str, ...], output: str | None, namespace: str, **kw: Any) -> None:
        settings = settings_from(kw)
        docs = _load(files, k.kind)

        async def go(backend: Backend) -> None:
            for raw in docs:
                manifest = copy.deepcopy(raw.data)
                meta = manifest.setdefault("metadata", {})
                if k.namespaced and isinstance(meta, dict):
                    meta.setdefault("namespace", namespace)
                _print(await backend.create_resource(k.kind, manifest, raw.where()), output, k.show)

        run(with_backend(settings, go))

    @group.command(name="list", help=f"List {k.noun}s.")
    @click.option("-o", "--output", type=click.Choice(["name", "wide"]))
    @with_common
    def list_(output: str | None, namespace: str, **kw: Any) -> None:
        settings = settings_from(kw)
        items = run(with_backend(settings, lambda b: b.list_resources(k.kind, scope(namespace))))
        if output == "name":
            for item in items:
                click.echo(item["metadata"]["name"])
        else:
            click.echo(k.show_list(items, now()), nl=False)

    @group.command(help=f"Show {k.noun}s.")
    @click.argument("names", nargs=-1, required=True)
    @click.option("-o", "--output", type=OUTPUTS)
    @with_common
    def get(names: tuple[str, ...], output: str | None, namespace: str, **kw: Any) -> None:
        settings = settings_from(kw)

        async def go(backend: Backend) -> None:
            for name in names:
                _print(await backend.get_resource(k.kind, scope(namespace), name), output, k.show)

        run(with_backend(settings, go))

    @group.command(help=f"Delete {k.noun}s.")
    @click.argument("names", nargs=-1, required=True)
    @with_common
    def delete(names: tuple[str, ...], namespace: str, **kw: Any) -> None:
        settings = settings_from(kw)

        async def go(backend: Backend) -> None:
            for name in names:
                await backend.delete_resource(k.kind, scope(namespace), name)
                if k.deleted:
                    click.echo(k.deleted.format(name))

        run(with_backend(settings, go))

    return group


def _suspend_verb(group: click.Group, verb: str, past: str, suspend: bool) -> None:
    @group.command(name=verb, help=f"{verb.capitalize()} cron workflows.")
    @click.argument("names", nargs=-1, required=True)
    @with_common
    def command(names: tuple[str, ...], namespace: str, **kw: Any) -> None:
        settings = settings_from(kw)

        async def go(backend: Backend) -> None:
            for name in names:
                await backend.suspend_cron(namespace, name, suspend)
                click.echo(f"CronWorkflow '{name}' {past}")

        run(with_backend(settings, go))


template = _group(
    _Kind("template", "WorkflowTemplate", "workflow template", render_template,
          lambda items, _now: render_template_list(items), "WorkflowTemplate '{}' deleted")
)  # fmt: skip
cluster_template = _group(
    _Kind("cluster-template", "ClusterWorkflowTemplate", "cluster workflow template",
          render_template, lambda items, _now: render_template_list(items),
          "ClusterWorkflowTemplate '{}' deleted")
)  # fmt: skip
cron = _group(_Kind("cron", "CronWorkflow", "cron workflow", render_cron, render_cron_list, None))
_suspend_verb(cron, "suspend", "suspended", True)
_suspend_verb(cron, "resume", "resumed", False)

GROUPS = (template, cluster_template, cron)

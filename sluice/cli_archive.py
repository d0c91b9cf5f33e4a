"""``sluice archive``, ``retry`` and ``resubmit``: argo's verbs for workflows that have ended.

The engine archives every workflow that completes (a copy keyed by uid, which outlives the live
workflow), so ``archive`` addresses workflows by uid, as ``argo archive`` does. ``retry`` runs a
Failed or Error workflow again in place, keeping what succeeded; ``resubmit`` starts a new one
from its spec. Both start a workflow, so they print it or wait for it exactly as ``submit`` does.
"""

from __future__ import annotations

import json
from typing import Any

import click
import yaml

from sluice.cli_common import (
    exit_unless_succeeded,
    follow,
    follow_options,
    now,
    print_workflow,
    run,
    settings_from,
    with_backend,
    with_common,
)
from sluice.client import Backend

OUTPUTS = click.Choice(["json", "yaml", "name", "wide"])


@click.command()
@click.argument("names", nargs=-1, required=True)
@click.option(
    "--restart-successful",
    is_flag=True,
    help="Also rerun the succeeded nodes that --node-field-selector matches.",
)
@click.option(
    "--node-field-selector",
    metavar="SELECTOR",
    help="The succeeded nodes to rerun, e.g. displayName=step1 (with --restart-successful).",
)
@follow_options
@with_common
def retry(names: tuple[str, ...], restart_successful: bool, node_field_selector: str | None,
          wait: bool, watch: bool, log: bool, output: str | None, namespace: str,
          **kw: Any) -> None:  # fmt: skip
    """Run Failed or Error workflows again, keeping the nodes that succeeded."""
    settings = settings_from(kw)

    async def go(backend: Backend) -> list[dict[str, Any] | None]:
        finals = []
        for name in names:
            wf = await backend.retry(namespace, name, restart_successful, node_field_selector)
            finals.append(await follow(backend, wf, output, wait=wait, watch=watch, log=log))
        return finals

    exit_unless_succeeded(run(with_backend(settings, go)))


@click.command()
@click.argument("names", nargs=-1, required=True)
@click.option(
    "--memoized",
    is_flag=True,
    help="Reuse the steps that succeeded, and their outputs (a Failed or Error one).",
)
@follow_options
@with_common
def resubmit(names: tuple[str, ...], memoized: bool, wait: bool, watch: bool, log: bool,
             output: str | None, namespace: str, **kw: Any) -> None:  # fmt: skip
    """Submit workflows again, each as a new workflow."""
    settings = settings_from(kw)

    async def go(backend: Backend) -> list[dict[str, Any] | None]:
        finals = []
        for name in names:
            wf = await backend.resubmit(namespace, name, memoized)
            finals.append(await follow(backend, wf, output, wait=wait, watch=watch, log=log))
        return finals

    exit_unless_succeeded(run(with_backend(settings, go)))


@click.group()
def archive() -> None:
    """Manage the archive of completed workflows."""


@archive.command(name="list")
@click.option("-o", "--output", type=OUTPUTS, default="wide", show_default=True)
@with_common
def list_(output: str, namespace: str, **kw: Any) -> None:
    """List archived workflows (NAMESPACE ... UID, as argo archive list prints them)."""
    from sluice.render import render_list, sort_workflows

    settings = settings_from(kw)
    wfs = sort_workflows(run(with_backend(settings, lambda b: b.list_archived(namespace))))
    if output == "json":
        click.echo(json.dumps(wfs, indent=2))
    elif output == "yaml":
        click.echo(yaml.safe_dump(wfs, sort_keys=False), nl=False)
    elif output == "name":
        for wf in wfs:
            click.echo(wf["metadata"]["name"])
    else:  # wide, argo's default here
        click.echo(render_list(wfs, now(), wide=True, namespace=True, uid=True), nl=False)


@archive.command()
@click.argument("uid")
@click.option("-o", "--output", type=click.Choice(["json", "yaml", "wide"]))
@with_common
def get(uid: str, output: str | None, namespace: str, **kw: Any) -> None:
    """Show an archived workflow."""
    settings = settings_from(kw)
    print_workflow(run(with_backend(settings, lambda b: b.get_archived(uid))), output)


@archive.command()
@click.argument("uids", nargs=-1, required=True)
@with_common
def delete(uids: tuple[str, ...], namespace: str, **kw: Any) -> None:
    """Delete archived workflows."""
    settings = settings_from(kw)

    async def go(backend: Backend) -> None:
        for uid in uids:
            await backend.delete_archived(uid)
            click.echo(f"Archived workflow '{uid}' deleted")

    run(with_backend(settings, go))


COMMANDS = (archive, retry, resubmit)

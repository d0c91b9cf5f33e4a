"""The ``sluice`` command: the ``argo`` CLI's verbs and output shapes, plus the server."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from engine.submit import SubmitOptions
from engine.templates import StoredKind, stored_kind, workflow_from_cron, workflow_from_template
from sluice.cli_archive import COMMANDS as ARCHIVE_COMMANDS
from sluice.cli_common import (
    exit_unless_succeeded,
    fail,
    follow,
    follow_options,
    now,
    print_logs,
    print_workflow,
    run,
    settings_from,
    watch_workflow,
    with_backend,
    with_common,
)
from sluice.cli_resources import GROUPS
from sluice.cli_sensor import COMMANDS as SENSOR_COMMANDS
from sluice.cli_up import COMMANDS as UP_COMMANDS
from sluice.client import VERBS, Backend
from sluice.core.errors import SpecError
from sluice.core.resources import load_file


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sluice")
def main() -> None:
    """sluice: event-driven triggers and an Argo-Workflows-compatible engine."""


for _command in (*GROUPS, *ARCHIVE_COMMANDS, *UP_COMMANDS, *SENSOR_COMMANDS):
    main.add_command(_command)


def _parse_params(pairs: tuple[str, ...], parameter_file: str | None) -> dict[str, str]:
    params: dict[str, str] = {}
    if parameter_file:
        data = yaml.safe_load(Path(parameter_file).read_text()) or {}
        if not isinstance(data, dict):
            raise click.BadParameter(
                "expected a mapping of name: value", param_hint="--parameter-file"
            )
        params.update({str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()})
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"expected name=value, got '{pair}'", param_hint="-p")
        key, value = pair.split("=", 1)
        params[key] = value
    return params


@main.command()
@click.argument("files", nargs=-1)
@click.option("--from", "from_", metavar="KIND/NAME", help="Submit a stored template or cron.")
@click.option("-p", "--parameter", "parameters", multiple=True, help="name=value (repeatable)")
@click.option("-f", "--parameter-file")
@click.option("-e", "--entrypoint")
@click.option("--generate-name")
@click.option("--name")
@click.option("--serviceaccount")
@follow_options
@with_common
def submit(files: tuple[str, ...], from_: str | None, parameters: tuple[str, ...],
           parameter_file: str | None, entrypoint: str | None, generate_name: str | None,
           name: str | None, serviceaccount: str | None, wait: bool, watch: bool, log: bool,
           output: str | None, namespace: str, **kw: Any) -> None:  # fmt: skip
    """Submit workflows from FILES (Argo Workflow YAML), or one from a stored resource."""
    if bool(files) == bool(from_):
        raise click.UsageError("give either FILES or --from KIND/NAME")
    source = _parse_from(from_) if from_ else None
    settings = settings_from(kw)
    opts = SubmitOptions(
        parameters=_parse_params(parameters, parameter_file),
        entrypoint=entrypoint,
        generate_name=generate_name,
        name=name,
        service_account=serviceaccount,
    )
    docs = []
    problems: list[str] = []
    for f in files:
        try:
            for raw in load_file(f):
                if raw.kind != "Workflow":
                    problems.append(f"{raw.where()}: kind: expected Workflow, got '{raw.kind}'")
                else:
                    docs.append(raw)
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SystemExit(fail(problems))

    async def go(backend: Backend) -> list[dict[str, Any] | None]:
        finals = []
        todo = [(dict(raw.data), raw.where()) for raw in docs]
        if source is not None:
            todo.append(await _from_resource(backend, *source, namespace))
        for manifest, where in todo:
            manifest.setdefault("metadata", {}).setdefault("namespace", namespace)
            wf = await backend.submit(manifest, opts, where)
            finals.append(await follow(backend, wf, output, wait=wait, watch=watch, log=log))
        return finals

    exit_unless_succeeded(run(with_backend(settings, go)))


def _parse_from(text: str) -> tuple[StoredKind, str]:
    """``--from KIND/NAME``, with the kind names argo accepts (``cronwf/nightly``, ...)."""
    kind_text, _, name = text.partition("/")
    if not kind_text or not name:
        raise click.BadParameter(
            f"resource identifier '{text}' is malformed. Should be `kind/name`,"
            " e.g. cronwf/hello-world-cwf",
            param_hint="--from",
        )
    kind = stored_kind(kind_text)
    if kind is None:
        raise click.BadParameter(
            f"Resource kind '{kind_text}' is not supported for submitting", param_hint="--from"
        )
    return kind, name


async def _from_resource(
    backend: Backend, kind: StoredKind, name: str, namespace: str
) -> tuple[dict[str, Any], str]:
    """The Workflow argo builds from a stored resource, and where to say it came from."""
    resource = await backend.get_resource(kind.name, namespace if kind.namespaced else "", name)
    if kind.name == "CronWorkflow":
        manifest = workflow_from_cron(resource, now())
    else:
        manifest = workflow_from_template(name, cluster_scope=not kind.namespaced)
    return manifest, f"{kind.name.lower()}/{name}"


@main.command(name="list")
@click.option("-o", "--output", type=click.Choice(["json", "yaml", "name", "wide"]))
@with_common
def list_(output: str | None, namespace: str, **kw: Any) -> None:
    """List workflows."""
    from sluice.render import render_list

    settings = settings_from(kw)
    wfs = run(with_backend(settings, lambda b: b.list_workflows(namespace)))
    if output == "json":
        click.echo(json.dumps(wfs, indent=2))
    elif output == "yaml":
        click.echo(yaml.safe_dump(wfs, sort_keys=False), nl=False)
    elif output == "name":
        for wf in wfs:
            click.echo(wf["metadata"]["name"])
    else:
        click.echo(render_list(wfs, now(), wide=output == "wide"), nl=False)


@main.command()
@click.argument("what")
@click.argument("name", required=False)
@click.option("-o", "--output", type=click.Choice(["json", "yaml", "name", "wide"]))
@click.option("-A", "--all-namespaces", is_flag=True, help="With a KIND: every namespace.")
@with_common
def get(what: str, name: str | None, output: str | None, all_namespaces: bool, namespace: str,
        **kw: Any) -> None:  # fmt: skip
    """Show a workflow (WORKFLOW), or resources of a kind (KIND [NAME]: eventsources, ...)."""
    from sluice.catalog import find_kind
    from sluice.cli_up import get_kind

    kind = find_kind(what)
    if kind is not None and not (kind.name == "Workflow" and name):
        get_kind(kind, name, output, namespace, all_namespaces, kw)
        return
    if kind is None and name:
        raise click.BadParameter(f"unknown kind '{what}'", param_hint="KIND")
    settings = settings_from(kw)
    wf = run(with_backend(settings, lambda b: b.get(namespace, name or what)))
    print_workflow(wf, output)


@main.command()
@click.argument("name")
@with_common
def watch(name: str, namespace: str, **kw: Any) -> None:
    """Watch a workflow until it completes."""
    settings = settings_from(kw)
    exit_unless_succeeded(
        [run(with_backend(settings, lambda b: watch_workflow(b, namespace, name)))]
    )


@main.command()
@click.argument("name")
@click.argument("pod", required=False)
@click.option("-f", "--follow", is_flag=True)
@with_common
def logs(name: str, pod: str | None, follow: bool, namespace: str, **kw: Any) -> None:
    """Print the logs of a workflow's pods."""
    settings = settings_from(kw)
    run(with_backend(settings, lambda b: print_logs(b, namespace, name, pod, follow, True)))


@main.command()
@click.argument("names", nargs=-1)
@click.option("-f", "--filename", "files", multiple=True, help="Delete what these files define.")
@with_common
def delete(names: tuple[str, ...], files: tuple[str, ...], namespace: str, **kw: Any) -> None:
    """Delete workflows (NAME...), resources of a kind (KIND NAME...), or files' (-f FILE)."""
    from sluice.catalog import find_kind
    from sluice.cli_up import delete_files, delete_kind

    if files:
        delete_files(files, namespace, kw)
        return
    if not names:
        raise click.UsageError("give workflow names, KIND NAME..., or -f FILE")
    kind = find_kind(names[0]) if len(names) > 1 else None
    if kind is not None:
        delete_kind(kind, names[1:], namespace, kw)
        return
    settings = settings_from(kw)

    async def go(backend: Backend) -> None:
        for name in names:
            await backend.delete(namespace, name)
            click.echo(f'Workflow "{name}" deleted')

    run(with_backend(settings, go))


def _verb(verb: str, past: str) -> None:
    @main.command(name=verb, help=f"{verb.capitalize()} workflows.")
    @click.argument("names", nargs=-1, required=True)
    @with_common
    def command(names: tuple[str, ...], namespace: str, **kw: Any) -> None:
        settings = settings_from(kw)

        async def go(backend: Backend) -> None:
            for name in names:
                await backend.act(namespace, name, verb)
                click.echo(f"workflow {name} {past}")

        run(with_backend(settings, go))


for _v, _p in zip(VERBS, ("resumed", "suspended", "stopped", "terminated"), strict=True):
    _verb(_v, _p)


@main.command()
@click.argument("files", nargs=-1, required=True)
def lint(files: tuple[str, ...]) -> None:
    """Check resource files of every kind; every problem in every file is reported."""
    from sluice.catalog import lint_paths

    problems = lint_paths(files)
    if problems:
        for p in problems:
            click.echo(p)
        sys.exit(1)
    click.echo("✔ no linting errors found!")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2746, show_default=True, type=int)
@with_common
def server(host: str, port: int, namespace: str, **kw: Any) -> None:
    """Run the engine and its API server."""
    import logging

    from sluice.app import build_engine
    from sluice.server import serve

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = settings_from(kw)
    click.echo(f"sluice server on http://{host}:{port} (data in {settings.data_dir})", err=True)
    with contextlib.suppress(KeyboardInterrupt):
        run(serve(build_engine(settings), host, port))

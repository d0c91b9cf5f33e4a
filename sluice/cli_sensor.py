"""``sluice sensor explain|test`` and ``sluice dlq list|show|redrive``: why a sensor fired or
did not, offline and live, and the firings that failed.

``explain``, ``dlq`` and ``redrive`` ask the running ``sluice up`` (it holds the decisions log
and the dead letters). ``sensor test`` needs nothing running: it evaluates a Sensor file
against event files in this process (:mod:`sensor.offline`), prints every verdict and the
resource each trigger would create, and exits 0 when a trigger would fire, 1 when none would,
and 2 when a file cannot be read.

Event ids are unique, so ``explain`` and the ``dlq`` verbs look in every namespace unless
``-n`` is given.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml

from sensor import Sensor, parse_sensor
from sensor.deadletters import DeadLetter
from sensor.decisions import Decision, TriggerDecision
from sensor.offline import EventResult, evaluate, would_fire
from sensor.triggers import TriggerContext
from sluice.cli_common import run, settings_from, with_backend, with_common
from sluice.client import Backend
from sluice.core.errors import NotFoundError, SpecError
from sluice.core.objects import LocalObjects
from sluice.core.resources import load_file

INPUT_ERROR = 2


def _namespace_given() -> bool:
    """Whether ``-n`` was on the command line (not the default)."""
    source = click.get_current_context().get_parameter_source("namespace")
    return source is not None and source.name != "DEFAULT"


@click.group()
def sensor() -> None:
    """Why sensors fired or did not: recorded decisions, and offline tests."""


@sensor.command()
@click.argument("event_id")
@click.option("-o", "--output", type=click.Choice(["json"]))
@with_common
def explain(event_id: str, output: str | None, namespace: str, **kw: Any) -> None:
    """Print every sensor's decision on the event EVENT_ID (needs `sluice up`)."""
    settings = settings_from(kw)
    ns = namespace if _namespace_given() else None
    records = run(with_backend(settings, lambda b: b.explain(event_id, ns)))
    if output == "json":
        click.echo(json.dumps(records, indent=2))
        return
    if not records:
        where = f" in {ns}" if ns else ""
        click.echo(f"no sensor decided on event {event_id}{where} (or its record expired)")
        sys.exit(1)
    for record in records:
        for line in _decision(record).lines():
            click.echo(line)


def _decision(record: dict[str, Any]) -> Decision:
    fields = dict(record)
    fields["triggers"] = [TriggerDecision(**t) for t in record.get("triggers") or []]
    return Decision(**fields)


@sensor.command(name="test")
@click.argument("sensor_file", metavar="SENSOR.yaml")
@click.option("-e", "--event", "event_files", multiple=True, required=True,
              help="A CloudEvent JSON file (an object, or a list); repeatable.")  # fmt: skip
@click.option("-o", "--output", type=click.Choice(["json"]))
@with_common
def test(sensor_file: str, event_files: tuple[str, ...], output: str | None, namespace: str,
         **kw: Any) -> None:  # fmt: skip
    """Run the events through the Sensor offline: exit 0 if a trigger would fire, else 1."""
    settings = settings_from(kw)
    try:
        sensors = _sensors(sensor_file, namespace)
        events = [event for f in event_files for event in _events(f)]
    except SpecError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(INPUT_ERROR)
    context = TriggerContext(objects=LocalObjects(settings.data_dir))
    results = asyncio.run(evaluate(sensors, events, context))
    fires = would_fire(results)
    if output == "json":
        click.echo(json.dumps([_result_dict(r) for r in results], indent=2, default=repr))
    else:
        for result in results:
            _print_result(result)
        click.echo("=> would fire" if fires else "=> would not fire")
    sys.exit(0 if fires else 1)


def _sensors(path: str, namespace: str) -> list[Sensor]:
    sensors, problems = [], []
    for raw in load_file(path):
        if raw.kind != "Sensor":
            problems.append(f"{raw.where()}: kind: expected Sensor, got '{raw.kind}'")
            continue
        raw.data.setdefault("metadata", {}).setdefault("namespace", namespace)
        try:
            sensors.append(parse_sensor(raw))
        except SpecError as exc:
            problems.extend(exc.problems)
    if not sensors and not problems:
        problems.append(f"{path}: no Sensor in the file")
    if problems:
        raise SpecError(problems)
    return sensors


def _events(path: str) -> list[tuple[str, Any]]:
    try:
        value = json.loads(Path(path).read_text())
    except OSError as exc:
        raise SpecError([f"{path}: cannot read: {exc.strerror}"]) from exc
    except ValueError as exc:
        raise SpecError([f"{path}: not JSON: {exc}"]) from exc
    if isinstance(value, list):
        return [(f"{path}[{i}]", event) for i, event in enumerate(value)]
    return [(path, value)]


def _print_result(result: EventResult) -> None:
    for line in result.lines():
        click.echo(line)
    for decision in result.decisions:
        for trigger in decision.triggers:
            if trigger.resource is not None:
                click.echo(f"  --- trigger {trigger.trigger}, rendered:")
                text = yaml.safe_dump(trigger.resource, sort_keys=False, default_flow_style=False)
                click.echo("".join(f"    {line}\n" for line in text.splitlines()), nl=False)


def _result_dict(result: EventResult) -> dict[str, Any]:
    return {
        "where": result.where,
        "event": result.event.get("id"),
        "error": result.error,
        "decisions": [d.as_dict() for d in result.decisions],
    }


@click.group()
def dlq() -> None:
    """Dead letters: firings that failed every retry, and unreadable events."""


@dlq.command(name="list")
@click.option("-o", "--output", type=click.Choice(["json"]))
@with_common
def dlq_list(output: str | None, namespace: str, **kw: Any) -> None:
    """List the dead letters (every namespace unless -n)."""
    settings = settings_from(kw)
    ns = namespace if _namespace_given() else None
    letters = run(with_backend(settings, lambda b: b.dead_letters(ns)))
    if output == "json":
        click.echo(json.dumps(letters, indent=2))
        return
    if not letters:
        click.echo("No dead letters found.")
    for letter in letters:
        click.echo(DeadLetter(**letter).line())


async def _find(backend: Backend, letter_id: str, namespace: str | None) -> dict[str, Any]:
    """The dead letter ``letter_id``, looked up in every namespace when none is given."""
    if namespace:
        return await backend.dead_letter(namespace, letter_id)
    for letter in await backend.dead_letters(None):
        if letter["id"] == letter_id:
            return letter
    raise NotFoundError(f'dead letter "{letter_id}" not found')


@dlq.command(name="show")
@click.argument("letter_id", metavar="ID")
@click.option("-o", "--output", type=click.Choice(["json", "yaml"]), default="yaml",
              show_default=True)  # fmt: skip
@with_common
def dlq_show(letter_id: str, output: str, namespace: str, **kw: Any) -> None:
    """Print a dead letter whole: the reason, the trigger, the events."""
    settings = settings_from(kw)
    ns = namespace if _namespace_given() else None
    letter = run(with_backend(settings, lambda b: _find(b, letter_id, ns)))
    if output == "json":
        click.echo(json.dumps(letter, indent=2))
    else:
        click.echo(yaml.safe_dump(letter, sort_keys=False), nl=False)


@dlq.command(name="redrive")
@click.argument("letter_ids", metavar="ID...", nargs=-1, required=True)
@with_common
def dlq_redrive(letter_ids: tuple[str, ...], namespace: str, **kw: Any) -> None:
    """Fire dead letters' triggers again with their events; a letter goes once it works."""
    settings = settings_from(kw)
    ns = namespace if _namespace_given() else None

    async def go(backend: Backend) -> int:
        failed = 0
        for letter_id in letter_ids:
            letter = await _find(backend, letter_id, ns)
            result = await backend.redrive(letter["namespace"], letter_id)
            line = f"{letter_id}: {result['outcome']}"
            if result.get("workflow"):
                line += f" -> workflow {result['workflow']}"
            if result.get("detail"):
                line += f" ({result['detail']})"
            click.echo(line)
            failed += result["outcome"] not in ("fired", "duplicate")
        return 1 if failed else 0

    sys.exit(run(with_backend(settings, go)))


COMMANDS = (sensor, dlq)

__all__ = ["COMMANDS"]

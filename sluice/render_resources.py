"""What ``argo template``, ``argo cluster-template`` and ``argo cron`` print, for sluice's CLI.

The same rules as ``sluice.render``: dicts in Argo's JSON shape in, argo's text out, times shown
relative to the ``now`` passed in. NEXT RUN is computed as argo computes it with robfig/cron,
here with the scheduler's own croniter-based schedules: each schedule in the CronWorkflow's
timezone (UTC when it names none), the earliest next time of all of them; a schedule that does
not parse shows ``N/A``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from engine.cron import parse_schedule
from sluice.render import human_duration, human_since, tabwrite

__all__ = [
    "next_run",
    "render_cron",
    "render_cron_list",
    "render_template",
    "render_template_list",
    "schedule_string",
]

_CONDITION_ICONS = {"SubmissionError": "✖"}


def render_template(tmpl: Mapping[str, Any], now: datetime) -> str:
    """``argo template get``/``create`` (and ``cluster-template``, which has no namespace)."""
    meta = tmpl.get("metadata") or {}
    rows = [("Name:", meta.get("name") or "")]
    if tmpl.get("kind") != "ClusterWorkflowTemplate":
        rows.append(("Namespace:", meta.get("namespace") or ""))
    rows.append(("Created:", human_since(meta.get("creationTimestamp"), now)))
    return "".join(f"{label:<20} {value}\n" for label, value in rows)


def render_template_list(templates: Sequence[Mapping[str, Any]]) -> str:
    """``argo template list``/``argo cluster-template list``: one NAME column."""
    names = "".join(f"{(t.get('metadata') or {}).get('name') or ''}\t\n" for t in templates)
    return tabwrite("NAME\n" + names, padding=3)


def schedules(spec: Mapping[str, Any]) -> list[str]:
    """``spec.schedule`` (the older, single form) or else ``spec.schedules``."""
    if spec.get("schedule"):
        return [str(spec["schedule"])]
    return [str(s) for s in spec.get("schedules") or []]


def schedule_string(spec: Mapping[str, Any]) -> str:
    """The schedules as argo prints them: comma-separated, each with ``CRON_TZ=`` if zoned."""
    prefix = f"CRON_TZ={spec['timezone']} " if spec.get("timezone") else ""
    return ",".join(prefix + s for s in schedules(spec))


def next_run(spec: Mapping[str, Any], now: datetime) -> datetime | None:
    """The earliest time after ``now`` that any schedule fires; None if one does not parse."""
    now = _aware(now)
    found: list[datetime] = []
    for text in schedules(spec):
        try:
            upcoming = parse_schedule(text, spec.get("timezone") or None).next_after(now)
        except ValueError:
            return None
        if upcoming is not None:
            found.append(upcoming)
    return min(found) if found else None


def render_cron(cron: Mapping[str, Any], now: datetime) -> str:
    """``argo cron get``/``create``."""
    meta, spec = cron.get("metadata") or {}, cron.get("spec") or {}
    status = cron.get("status") or {}
    rows: list[tuple[str, Any]] = [
        ("Name:", meta.get("name") or ""),
        ("Namespace:", meta.get("namespace") or ""),
        ("Created:", human_since(meta.get("creationTimestamp"), now)),
        ("Schedules:", schedule_string(spec)),
        ("Suspended:", _go_bool(spec.get("suspend"))),
    ]
    for label, key in (
        ("Timezone:", "timezone"),
        ("StartingDeadlineSeconds:", "startingDeadlineSeconds"),
        ("ConcurrencyPolicy:", "concurrencyPolicy"),
    ):
        if spec.get(key) not in (None, ""):
            rows.append((label, spec[key]))
    if status.get("lastScheduledTime"):
        rows.append(("LastScheduledTime:", human_since(status["lastScheduledTime"], now)))
    upcoming = next_run(spec, now)
    if upcoming is not None:
        when = human_since(upcoming.astimezone(UTC).isoformat(), now)
        rows.append(("NextScheduledTime:", f"{when} (assumes workflow-controller is in UTC)"))
    active = [ref.get("name") or "" for ref in status.get("active") or []]
    if active:
        rows.append(("Active Workflows:", ", ".join(active)))
    if status.get("conditions"):
        rows.append(("Conditions:", ""))
        for cond in status["conditions"]:
            kind = cond.get("type") or ""
            label = f"{_CONDITION_ICONS.get(kind, '')} {kind}"
            rows.append((label, cond.get("message") or cond.get("status") or ""))
    params = ((spec.get("workflowSpec") or {}).get("arguments") or {}).get("parameters") or []
    if params:
        rows.append(("Workflow Parameters:", ""))
        for param in params:
            value = param.get("value", param.get("default"))
            if value is not None or param.get("valueFrom") is not None:
                rows.append((f"  {param.get('name')}:", "" if value is None else value))
    return "".join(f"{label:<30} {value}\n" for label, value in rows)


def render_cron_list(crons: Sequence[Mapping[str, Any]], now: datetime) -> str:
    """``argo cron list``."""
    now = _aware(now)
    text = "NAME\tAGE\tLAST RUN\tNEXT RUN\tSCHEDULES\tTIMEZONE\tSUSPENDED\n"
    for cron in crons:
        meta, spec = cron.get("metadata") or {}, cron.get("spec") or {}
        last = (cron.get("status") or {}).get("lastScheduledTime")
        upcoming = next_run(spec, now)
        cells = (
            meta.get("name") or "",
            _since(meta.get("creationTimestamp"), now),
            _since(last, now) if last else "N/A",
            human_duration((upcoming - now).total_seconds()) if upcoming else "N/A",
            schedule_string(spec),
            spec.get("timezone") or "",
            _go_bool(spec.get("suspend")),
        )
        text += "\t".join(cells) + "\n"
    return tabwrite(text, padding=3)


def _since(ts: str | None, now: datetime) -> str:
    then = datetime.fromisoformat(ts) if ts else datetime(1, 1, 1, tzinfo=UTC)
    then = then if then.tzinfo else then.replace(tzinfo=UTC)
    return human_duration((now - then).total_seconds())


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _go_bool(value: Any) -> str:
    return "true" if value else "false"

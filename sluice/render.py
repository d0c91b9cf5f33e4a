"""Text that reads exactly like the ``argo`` CLI's, made from a Workflow in Argo's JSON shape.

People who run Argo Workflows read ``argo get``, ``argo watch`` and ``argo list`` all day, and
scripts grep them. sluice's CLI prints the same screens, so this module reproduces argo's
printer rule for rule: its node tree (which nodes are drawn, where, in what order), its
humanized times, and the column layout of Go's ``text/tabwriter``, padding included. It only
turns dicts into strings; fetching, clearing the screen and redrawing belong to the caller.

Times are shown in the zone of the ``now`` passed in, as argo shows them in the local zone:
pass ``datetime.now().astimezone()`` for that, or an aware UTC ``now`` for UTC.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "human_duration",
    "human_since",
    "phase_symbol",
    "render_get",
    "render_list",
    "sort_workflows",
    "tabwrite",
]

_ZERO = datetime(1, 1, 1, tzinfo=UTC)  # Go's zero time.Time, which argo prints for unset times
_MAX_SECONDS = (2**63 - 1) / 1e9  # time.Time.Sub saturates at the largest time.Duration
_DAY = 86400.0
_WEEK, _MONTH = 7 * _DAY, 30 * _DAY
_YEAR = 12 * _MONTH

# (upper bound in seconds, format, divisor): go-humanize's CustomRelTime tables as argo sets them.
_Magnitudes = Sequence[tuple[float, str, float]]
_SHORT: _Magnitudes = (
    (1, "0s", 1), (2, "1s {label}", 1), (60, "{n}s {label}", 1), (120, "1m {label}", 1),
    (3600, "{n}m {label}", 60), (7200, "1h {label}", 1), (_DAY, "{n}h {label}", 3600),
    (2 * _DAY, "1d {label}", 1), (_WEEK, "{n}d {label}", _DAY),
)  # fmt: skip
_LONG: _Magnitudes = (
    (1, "0 seconds", 1), (2, "1 second {label}", 1), (60, "{n} seconds {label}", 1),
    (120, "1 minute {label}", 1), (3600, "{n} minutes {label}", 60),
    (7200, "1 hour {label}", 1), (_DAY, "{n} hours {label}", 3600),
    (2 * _DAY, "1 day {label}", 1), (_WEEK, "{n} days {label}", _DAY),
    (2 * _WEEK, "1 week {label}", 1), (_MONTH, "{n} weeks {label}", _WEEK),
    (2 * _MONTH, "1 month {label}", 1), (_YEAR, "{n} months {label}", _MONTH),
    (18 * _MONTH, "1 year {label}", 1), (2 * _YEAR, "2 years {label}", 1),
    (37 * _YEAR, "{n} years {label}", _YEAR), (math.inf, "a long while {label}", 1),
)  # fmt: skip
_AGO: _Magnitudes = ((1, "now", 1), *_LONG[1:])  # go-humanize's own table, used by Time()

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# ANSI foreground codes argo gives each symbol.
_GREEN, _RED, _YELLOW, _CYAN, _DEFAULT = 32, 31, 33, 36, 39
_PHASE_ICONS = {
    "Pending": ("◷", _YELLOW),
    "Running": ("●", _CYAN),
    "Succeeded": ("✔", _GREEN),
    "Skipped": ("○", _DEFAULT),
    "Failed": ("✖", _RED),
    "Error": ("⚠", _RED),
}
_CONDITION_ICONS = {"MetricsError": ("✖", _RED), "SpecWarning": ("⚠", _YELLOW)}

# How argo's tree printer treats each node type; any other type (TaskGroup, Container...) is
# never drawn, and neither is anything that hangs only from one.
_BOUNDARY = frozenset({"DAG", "Steps"})
_GROUPING = frozenset({"StepGroup", "Retry"})
_EXECUTION = frozenset({"Pod", "Skipped", "Suspend", "HTTP", "Plugin"})

_FULFILLED = frozenset({"Succeeded", "Failed", "Error", "Skipped", "Omitted"})
_HEADER = "{:<20} {}\n"
_LIST_NUDGE_LIMIT = 100


def human_duration(seconds: float, *, short: bool = True) -> str:
    """A duration as argo prints it: ``3s``, ``1m``, ``2h`` (one unit, truncated) when short,
    as in the node table and ``argo list``; else ``1 minute 30 seconds`` as in ``Duration:``."""
    if short:
        return _relative(seconds, _SHORT)
    if seconds < 60:
        return _relative(seconds, _LONG)
    if seconds < 3600:
        return f"{_relative(seconds, _LONG)} {int(math.fmod(seconds, 60))} seconds"
    if seconds < _DAY:
        return f"{_relative(seconds, _LONG)} {int(math.fmod(seconds / 60, 60))} minutes"
    return f"{_relative(seconds, _LONG)} {int(math.fmod(seconds / 3600, 24))} hours"


def human_since(ts: str | None, now: datetime) -> str:
    """A timestamp as the ``Created:`` line shows it: ``Sun Nov 22 03:49:18 +0000 (13 seconds
    ago)``, in ``now``'s zone (UTC when ``now`` is naive). Unset prints Go's zero time."""
    now = _aware(now)
    then = _parse(ts) or _ZERO
    with contextlib.suppress(OverflowError):  # Go's zero time west of UTC is before year 1
        then = then.astimezone(now.tzinfo)
    offset = then.strftime("%z")
    stamp = f"{_WEEKDAYS[then.weekday()]} {_MONTHS[then.month - 1]} {then:%d %H:%M:%S} {offset}"
    since = (now - then).total_seconds()
    label = "ago" if since >= 0 else "from now"
    return f"{stamp} ({_relative(abs(since), _AGO, label)})"


def phase_symbol(phase: str, node_type: str = "Pod", *, color: bool = False) -> str:
    """The symbol argo draws before a node: a running Suspend node shows ``ǁ``, any other node
    the one for its phase, and a phase argo has no symbol for (``Omitted``) none at all."""
    if node_type == "Suspend" and phase == "Running":
        return _ansi("ǁ", _CYAN, color)
    icon = _PHASE_ICONS.get(phase)
    return _ansi(icon[0], icon[1], color) if icon else ""


def render_get(wf: Mapping[str, Any], now: datetime, *, color: bool = False) -> str:
    """What ``argo get NAME`` prints, and what ``argo watch``/``argo submit --watch`` redraw."""
    now = _aware(now)
    text = "".join(_HEADER.format(label, value) for label, value in _header(wf, now, color))
    name = _section(wf, "metadata").get("name") or ""
    nodes: Mapping[str, Mapping[str, Any]] = _section(wf, "status").get("nodes") or {}
    if name in nodes:  # argo draws no tree until the workflow's own node exists
        text += "\n" + _node_table(name, nodes, now, color)
    return text


def _header(wf: Mapping[str, Any], now: datetime, color: bool) -> list[tuple[str, str]]:
    meta, spec, status = _section(wf, "metadata"), _section(wf, "spec"), _section(wf, "status")
    exec_spec = status.get("storedWorkflowTemplateSpec") or spec
    account = exec_spec.get("serviceAccountName")
    if not account:  # argo cannot tell which account a referenced template will bring
        ref = spec.get("workflowTemplateRef")
        account = "unset" if ref else "unset (will run with the default ServiceAccount)"
    rows = [
        ("Name:", meta.get("name") or ""),
        ("Namespace:", meta.get("namespace") or ""),
        ("ServiceAccount:", account),
        ("Status:", _workflow_status(wf)),
    ]
    if status.get("message"):
        rows.append(("Message:", status["message"]))
    if status.get("conditions"):
        rows.append(("Conditions:", ""))
        for cond in status["conditions"]:
            icon, code = _CONDITION_ICONS.get(cond.get("type", ""), ("", 0))
            label = f"{_ansi(icon, code, color)} {cond.get('type', '')}"
            rows.append((label, cond.get("message") or cond.get("status", "")))
    rows.append(("Created:", human_since(meta.get("creationTimestamp"), now)))
    started, finished = _parse(status.get("startedAt")), _parse(status.get("finishedAt"))
    if started:
        rows.append(("Started:", human_since(status["startedAt"], now)))
    if finished:
        rows.append(("Finished:", human_since(status["finishedAt"], now)))
    if started:
        rows.append(("Duration:", human_duration(_span(started, finished, now), short=False)))
    if status.get("phase") == "Running" and (status.get("estimatedDuration") or 0) > 0:
        estimate = human_duration(status["estimatedDuration"], short=False)
        rows.append(("EstimatedDuration:", estimate))
    rows.append(("Progress:", status.get("progress") or ""))
    for title, params, fallback in (  # an output parameter may show its default instead
        ("Parameters:", (exec_spec.get("arguments") or {}).get("parameters"), "value"),
        ("Output Parameters:", (status.get("outputs") or {}).get("parameters"), "default"),
    ):
        rows.extend([(title, "")] if params else [])
        for param in params or []:
            value = param.get("value", param.get(fallback))
            if value is not None:
                rows.append((f"  {param['name']}:", _go_string(value)))
    return rows


def render_list(
    workflows: Sequence[Mapping[str, Any]], now: datetime, *,
    wide: bool = False, namespace: bool = False, uid: bool = False,
) -> str:  # fmt: skip
    """What ``argo list`` prints: running workflows first, newest first, then finished ones,
    most recently finished first.

    The flags are argo's print options: ``wide`` (``-o wide``) adds P/R/C (pending, running and
    completed pods) and PARAMETERS; ``argo archive list`` prints NAMESPACE first and UID last.
    """
    if not workflows:
        return "No workflows found\n"
    now = _aware(now)
    header = ["NAMESPACE"] if namespace else []
    header += ["NAME", "STATUS", "AGE", "DURATION", "PRIORITY", "MESSAGE"]
    header += ["P/R/C", "PARAMETERS"] if wide else []
    text = "\t".join(header + (["UID"] if uid else [])) + "\n"
    completed = 0
    for wf in sort_workflows(workflows):
        meta, spec, status = _section(wf, "metadata"), _section(wf, "spec"), _section(wf, "status")
        age = _span(_parse(meta.get("creationTimestamp")), now, now)
        took = _span(_parse(status.get("startedAt")), _parse(status.get("finishedAt")), now)
        cells = [meta.get("namespace") or ""] if namespace else []
        cells += [meta.get("name") or "", _workflow_status(wf), human_duration(age)]
        cells += [human_duration(took), str(int(spec.get("priority") or 0))]
        cells.append(status.get("message") or "")
        if wide:
            cells += [_pod_counts(status), _parameter_string(spec)]
        if uid:
            cells.append(meta.get("uid") or "")
        text += "\t".join(cells) + "\n"
        completed += status.get("phase") in ("Succeeded", "Failed", "Error")
    return tabwrite(text, padding=3) + _cost_nudge(completed, len(workflows) - completed)


def sort_workflows(workflows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """argo's order for lists of workflows: running ones first, newest first, then finished
    ones, most recently finished first."""

    def order(wf: Mapping[str, Any]) -> tuple[bool, float]:
        meta, status = _section(wf, "metadata"), _section(wf, "status")
        finished = _parse(status.get("finishedAt"))
        newest = finished or _parse(meta.get("creationTimestamp")) or _ZERO
        return finished is not None, -newest.timestamp()

    return sorted(workflows, key=order)


def _pod_counts(status: Mapping[str, Any]) -> str:
    """``pending/running/completed`` over the pod nodes; skipped and omitted ones count as
    completed, as argo's ``Fulfilled`` has it."""
    counts = [0, 0, 0]
    for node in (status.get("nodes") or {}).values():
        if node.get("type") == "Pod":
            phase = node.get("phase")
            counts[2 if phase in _FULFILLED else 1 if phase == "Running" else 0] += 1
    return "/".join(map(str, counts))


def _parameter_string(spec: Mapping[str, Any]) -> str:
    """``name=value,...`` of the parameters that have a value, each value cut to 50 characters
    the way argo cuts it (its first 32, ``...``, its last 15)."""
    shown = []
    for param in (spec.get("arguments") or {}).get("parameters") or []:
        if param.get("value") is not None:
            value = _go_string(param["value"])
            if len(value) > 50:
                value = value[:32] + "..." + value[-15:]
            shown.append(f"{param.get('name')}={value}")
    return ",".join(shown)


def _cost_nudge(completed: int, incomplete: int) -> str:
    if completed <= _LIST_NUDGE_LIMIT and incomplete <= _LIST_NUDGE_LIMIT:
        return ""
    counts = [f"{incomplete} incomplete " if incomplete > _LIST_NUDGE_LIMIT else ""]
    if incomplete > _LIST_NUDGE_LIMIT and completed > _LIST_NUDGE_LIMIT:
        counts.append("and ")
    counts.append(f"{completed} completed " if completed > _LIST_NUDGE_LIMIT else "")
    return (
        f"\nYou have at least {''.join(counts)}workflows. "
        "Reducing the total number of workflows will reduce your costs.\n"
        "Learn more at https://argo-workflows.readthedocs.io/en/latest/cost-optimisation/\n"
    )


def _node_table(
    root: str, nodes: Mapping[str, Mapping[str, Any]], now: datetime, color: bool
) -> str:
    children, roots = _tree(nodes)
    lines = [f"{_ansi('STEP', _DEFAULT, color)}\tTEMPLATE\tPODNAME\tDURATION\tMESSAGE\n"]

    def draw(node_id: str, prefix: str, child_prefix: str) -> None:
        node = nodes[node_id]
        hidden, indent = _hidden(node)
        if not hidden:
            lines.append(_node_row(node, prefix, now, color))
        kids = children.get(node_id, [])
        for i, kid in enumerate(kids):
            part, sub = _branch(i, len(kids) - 1, hidden, indent)
            if hidden:  # the child takes the hidden node's place in the tree
                draw(kid, (prefix if i == 0 else child_prefix) + part, child_prefix + sub)
            else:
                draw(kid, child_prefix + part, child_prefix + sub)

    draw(root, " ", " ")
    on_exit = next((r for r in roots if nodes[r].get("name") == f"{root}.onExit"), None)
    if on_exit is not None:
        lines.append("\t\t\t\t\t\n")
        draw(on_exit, " ", " ")
    return tabwrite("".join(lines), padding=2)


def _tree(nodes: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, list[str]], list[str]]:
    """Each drawn node's drawn children, and the nodes that hang from nothing.

    A step group's or retry's own children hang from it; every other node hangs from the
    template (DAG or Steps node) whose boundary it is in.
    """
    grouped_by = {
        child: node_id
        for node_id, node in nodes.items()
        if node.get("type") in _GROUPING
        for child in node.get("children") or []
    }
    children: dict[str, list[str]] = {}
    roots: list[str] = []
    for node_id, node in nodes.items():
        if node.get("type") not in _BOUNDARY | _GROUPING | _EXECUTION:
            continue
        parent = grouped_by.get(node_id)
        if parent is None:
            parent = node.get("boundaryID") or ""
            if not parent:
                roots.append(node_id)
                continue
            if (nodes.get(parent) or {}).get("type") not in _BOUNDARY:
                continue
        _insert_sorted(children.setdefault(parent, []), node_id, nodes)
    return children, roots


def _insert_sorted(siblings: list[str], node_id: str, nodes: Mapping[str, Any]) -> None:
    """Argo's order: by start time; at a tie, by withItems index when both have one, else by
    display name. Done as argo does it, by insertion, since that order is not transitive."""
    started = _parse(nodes[node_id].get("startedAt")) or _ZERO
    name = nodes[node_id].get("displayName", "")
    at = 0
    while at < len(siblings):
        other = nodes[siblings[at]]
        other_started = _parse(other.get("startedAt")) or _ZERO
        if started < other_started:
            break
        if started == other_started:
            other_name = other.get("displayName", "")
            index, other_index = _item_index(name), _item_index(other_name)
            both = index >= 0 and other_index >= 0
            if (index < other_index) if both else (name < other_name):
                break
        at += 1
    siblings.insert(at, node_id)


def _item_index(display_name: str) -> int:
    """The loop index argo reads from a display name like ``sleep(8:eight)``, or -1."""
    start, end = display_name.find("("), display_name.find(":")
    if start < 0 or end <= start:
        return -1
    digits = display_name[start + 1 : end]
    return int(digits) if re.fullmatch(r"[+-]?[0-9]+", digits) else -1


def _hidden(node: Mapping[str, Any]) -> tuple[bool, bool]:
    """Whether argo leaves the node's row out, and whether its children then get the fork that
    marks a parallel step group."""
    kind, phase = node.get("type"), node.get("phase")
    if kind == "Retry" and len(node.get("children") or []) == 1:
        return True, False
    if kind == "StepGroup":
        return True, True
    return kind == "Skipped" and phase == "Omitted", False


def _branch(index: int, last: int, hidden: bool, indent: bool) -> tuple[str, str]:
    """The tree piece drawn before child ``index`` of ``last + 1``, and the one its own
    children continue with."""
    if hidden and indent:
        if last == 0:
            return "──", "  "
        if index == 0:
            return "┬─", "│ "
        return ("└─", "  ") if index == last else ("├─", "│ ")
    if hidden:
        return "", ""
    return ("└─", "  ") if index == last else ("├─", "│ ")


def _node_row(node: Mapping[str, Any], prefix: str, now: datetime, color: bool) -> str:
    symbol = phase_symbol(node.get("phase") or "", node.get("type") or "", color=color)
    ref = node.get("templateRef")
    template = f"{ref.get('name')}/{ref.get('template')}" if ref else node.get("templateName")
    pod = duration = ""
    if node.get("type") == "Pod":
        pod = node.get("podName") or node.get("id", "")
        took = _span(_parse(node.get("startedAt")), _parse(node.get("finishedAt")), now)
        duration = human_duration(took)
    name = f"{prefix}{symbol} {node.get('displayName') or ''}"
    return "\t".join((name, template or "", pod, duration, node.get("message") or "", "")) + "\n"


def _workflow_status(wf: Mapping[str, Any]) -> str:
    spec, status = _section(wf, "spec"), _section(wf, "status")
    phase = status.get("phase") or ""
    if phase == "Running":
        nodes = (status.get("nodes") or {}).values()
        suspended = any(n.get("type") == "Suspend" and n.get("phase") == "Running" for n in nodes)
        return "Running (Suspended)" if spec.get("suspend") or suspended else phase
    if phase == "Failed" and spec.get("shutdown"):
        return "Failed (Terminated)"
    if phase in ("", "Pending"):
        return "Pending" if _section(wf, "metadata").get("creationTimestamp") else "Unknown"
    return str(phase)


def tabwrite(text: str, padding: int) -> str:
    """Go's ``tabwriter.NewWriter(w, 0, 0, padding, ' ', 0)`` applied to ``text``.

    Every tab-terminated cell is padded to the widest cell of its column block (the run of
    adjacent lines that have that column) plus ``padding``, even when empty; the text after a
    line's last tab is written as it is. Widths count code points, escape codes included, as Go
    counts runes.
    """
    rows = [line.split("\t") for line in text.split("\n")]
    widths = [[0] * (len(row) - 1) for row in rows]

    def size(lo: int, hi: int, column: int) -> None:
        line = lo
        while line < hi:
            if column >= len(rows[line]) - 1:
                line += 1
                continue
            start = line
            while line < hi and column < len(rows[line]) - 1:
                line += 1
            width = max(len(rows[i][column]) for i in range(start, line)) + padding
            for i in range(start, line):
                widths[i][column] = width
            size(start, line, column + 1)

    size(0, len(rows), 0)
    return "\n".join(
        "".join(cell.ljust(width) for cell, width in zip(row, row_widths, strict=False)) + row[-1]
        for row, row_widths in zip(rows, widths, strict=True)
    )


def _relative(seconds: float, magnitudes: _Magnitudes, label: str = "") -> str:
    """go-humanize's ``CustomRelTime`` for a gap of ``seconds`` (sign ignored), trimmed."""
    seconds = min(abs(seconds), _MAX_SECONDS)
    _, fmt, divisor = next((m for m in magnitudes if m[0] > seconds), magnitudes[-1])
    return fmt.format(n=math.floor(seconds / divisor), label=label).strip()


def _span(start: datetime | None, end: datetime | None, now: datetime) -> float:
    """Seconds from ``start`` to ``end`` as argo's humanize counts them: an unset end of a set
    start is now, and an unset time is Go's zero time."""
    if end is None and start is not None:
        end = now
    return ((end or _ZERO) - (start or _ZERO)).total_seconds()


def _parse(ts: str | None) -> datetime | None:
    if not ts:
        return None
    parsed = datetime.fromisoformat(ts)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _section(wf: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    return wf.get(key) or {}


def _go_string(value: Any) -> str:
    """A parameter value as Go prints it; argo holds numbers and booleans as their JSON text."""
    return value if isinstance(value, str) else json.dumps(value)


def _ansi(text: str, code: int, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color and text else text

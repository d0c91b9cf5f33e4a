"""Argo's ``{{...}}`` substitution: simple tags, ``{{=expr}}`` expression tags, and scopes.

Argo resolves a template by substituting the variables in scope into it; variables that belong
to a later stage (``steps.X`` inside a steps template, ``item`` before a loop is expanded) are
left for that stage. A variable that nothing will ever resolve is an error naming it, never a
silent empty string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sluice.core import exprlang

TAG = re.compile(r"\{\{\s*(=?)(.*?)\s*\}\}", re.DOTALL)

# Roots of the variables Argo defines; a tag outside these is left as text (it may belong to
# another templating language in a user's script).
KNOWN_ROOTS = (
    "inputs",
    "outputs",
    "steps",
    "tasks",
    "workflow",
    "item",
    "pod",
    "node",
    "retries",
    "lastRetry",
    "cronworkflow",
    "status",
)


class UnresolvedError(ValueError):
    """A variable used by a template has no value where it is used."""

    def __init__(self, variable: str, detail: str = "") -> None:
        self.variable = variable
        msg = f"failed to resolve {{{{{variable}}}}}"
        super().__init__(msg + (f": {detail}" if detail else ""))


def _root(name: str) -> str:
    return re.split(r"[.\[]", name, maxsplit=1)[0]


def to_text(value: Any) -> str:
    """A value as Argo prints it into a template: strings as is, everything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return "null"
    return json.dumps(value, separators=(",", ":"))


class Lazy:
    """A scope value computed only when a template uses it (``workflow.failures`` walks nodes)."""

    def __init__(self, compute: Callable[[], Any]) -> None:
        self.compute = compute


def _value(value: Any) -> Any:
    return value.compute() if isinstance(value, Lazy) else value


class Scope:
    """The variables visible at one point of a workflow: a flat map of dotted names to values."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(values or {})

    def child(self, extra: Mapping[str, Any] | None = None) -> Scope:
        scope = Scope(self.values)
        if extra:
            scope.values.update(extra)
        return scope

    def set(self, name: str, value: Any) -> None:
        self.values[name] = value

    def env(self) -> dict[str, Any]:
        """The nested mapping expression tags evaluate against (``steps['a-b'].outputs``)."""
        env: dict[str, Any] = {}
        for key, value in self.values.items():
            parts = key.split(".")
            node = env
            for part in parts[:-1]:
                nxt = node.get(part)
                if not isinstance(nxt, dict):
                    nxt = {}
                    node[part] = nxt
                node = nxt
            if isinstance(node.get(parts[-1]), dict) and not isinstance(value, dict):
                continue
            node[parts[-1]] = _value(value)
        for key in ("retries",):
            if key in env and isinstance(env[key], str) and env[key].isdigit():
                env[key] = int(env[key])
        return env


def _lookup(name: str, scope: Scope) -> tuple[bool, Any]:
    if name in scope.values:
        return True, _value(scope.values[name])
    # {{item.a.b}} into a structured item, {{workflow.creationTimestamp.Y}}-style derived names
    for key in ("item", "workflow.creationTimestamp"):
        if name.startswith(key + ".") and key in scope.values:
            rest = name[len(key) + 1 :]
            base = scope.values[key]
            if key == "workflow.creationTimestamp":
                return _timestamp_part(str(base), rest)
            for part in rest.split("."):
                if isinstance(base, dict) and part in base:
                    base = base[part]
                elif isinstance(base, list) and part.isdigit() and int(part) < len(base):
                    base = base[int(part)]
                else:
                    return False, None
            return True, base
    return False, None


def _timestamp_part(value: str, fmt: str) -> tuple[bool, Any]:
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False, None
    if fmt == "RFC3339":
        return True, value
    if fmt == "s":
        return True, str(int(t.timestamp()))
    if len(fmt) == 1 and fmt.isalpha():
        return True, t.strftime("%" + fmt)
    return False, None


def resolve_text(text: str, scope: Scope, deferred: Iterable[str] = ()) -> str:
    """Substitute every tag in ``text``; tags whose root is in ``deferred`` are kept as written."""
    if "{{" not in text:
        return text
    later = tuple(deferred)

    def replace(m: re.Match[str]) -> str:
        is_expr, body = m.group(1) == "=", m.group(2)
        if is_expr:
            if later and re.search(r"\b(" + "|".join(map(re.escape, later)) + r")\b", body):
                return m.group(0)
            try:
                return to_text(exprlang.evaluate(body, scope.env()))
            except exprlang.ExprError as exc:
                raise UnresolvedError("=" + body, str(exc)) from exc
        found, value = _lookup(body, scope)
        if found:
            return to_text(value)
        root = _root(body)
        if root in later or root not in KNOWN_ROOTS:
            return m.group(0)
        raise UnresolvedError(body)

    return TAG.sub(replace, text)


def resolve(obj: Any, scope: Scope, deferred: Iterable[str] = ()) -> Any:
    """``resolve_text`` applied to every string inside a JSON-like structure."""
    later = tuple(deferred)
    if isinstance(obj, str):
        return resolve_text(obj, scope, later)
    if isinstance(obj, list):
        return [resolve(v, scope, later) for v in obj]
    if isinstance(obj, dict):
        return {k: resolve(v, scope, later) for k, v in obj.items()}
    return obj


def unresolved(obj: Any) -> list[str]:
    """Names of known-root variables still present in a structure (after full resolution)."""
    found: list[str] = []
    if isinstance(obj, str):
        for m in TAG.finditer(obj):
            body = m.group(2)
            if m.group(1) == "=" or _root(body) in KNOWN_ROOTS:
                found.append(("=" if m.group(1) else "") + body)
    elif isinstance(obj, list):
        for v in obj:
            found.extend(unresolved(v))
    elif isinstance(obj, dict):
        for v in obj.values():
            found.extend(unresolved(v))
    return found

"""Trigger parameters: values from the events that fired a trigger, written into what it sends.

This is Argo Events' ``pkg/sensors/triggers/params.go``, rule for rule. A parameter's ``src``
picks one dependency's event and reads either its data (``dataTemplate``, then ``dataKey``) or,
only when neither of those is set, its context (``contextTemplate``, then ``contextKey``); the
data side wins outright, it is not a fallback to the context. ``value`` is the default whenever
that fails, and when no key or template is set at all. ``dest`` is an sjson path into the
document being built; ``operation`` concatenates with the string already there.

Argo works on JSON text, and this module works on decoded values in its place: where a
``dataKey`` finds an object, Argo copies the event's raw bytes and sluice writes compact JSON,
because the bus keeps the decoded event and not the original text.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml
from pydantic import ValidationError

from sensor.models.parameters import TriggerParameter, TriggerParameterSource
from sensor.models.triggers import Trigger, TriggerTemplate
from sensor.paths import PathNotFound, lookup, render
from sluice.core.errors import PermanentError
from sluice.core.gotemplate import TemplateError
from sluice.core.gotemplate import render as render_template

__all__ = [
    "ParameterError",
    "apply_parameters",
    "apply_template_parameters",
    "build_payload",
    "resolve_parameter",
]

Events = Mapping[str, Mapping[str, Any]]

_JSON = "application/json"  # v1alpha1.MediaTypeJSON
_YAML = "application/yaml"  # v1alpha1.MediaTypeYAML
_STRING = "String"  # gjson's type names; Argo keeps a value's type as one of them
_OPERATIONS = ("", "overwrite", "append", "prepend")
_DIGITS = re.compile(r"[0-9]+")
_COMPLEX = frozenset("|#@*?")  # sjson sets these paths only where gjson finds something
_MISSING: Any = object()


class ParameterError(PermanentError, ValueError):
    """A parameter cannot be applied; retrying with the same events will not help.

    ``index`` is the parameter's position in its list and ``dest`` its destination, when the
    error belongs to one parameter.
    """

    def __init__(self, reason: str, *, index: int | None = None, dest: str | None = None) -> None:
        self.reason = reason
        self.index = index
        self.dest = dest
        where = "parameter" if index is None else f"parameter {index}"
        if dest is not None:
            where += f" (dest {dest!r})"
        super().__init__(reason if index is None and dest is None else f"{where}: {reason}")


class _Unresolved(Exception):
    """Internal: why a parameter failed, before it is given its index and dest."""


@dataclass(frozen=True, slots=True)
class _Value:
    """What Argo's ``ResolveParamValue`` returns: the string, and the gjson type it came from."""

    text: str
    kind: str  # String, Number, True, False, Null or JSON
    data: Any  # the JSON value ``text`` stands for

    @staticmethod
    def string(text: str) -> _Value:
        return _Value(text, _STRING, text)

    @staticmethod
    def found(data: Any) -> _Value:
        """``getValueByKey``: blocks and null as JSON, everything else as gjson's String()."""
        if isinstance(data, Mapping | list):
            return _Value(render(data), "JSON", data)
        if data is None:
            return _Value("null", "Null", None)
        if isinstance(data, bool):
            return _Value(render(data), "True" if data else "False", data)
        if isinstance(data, int | float):
            return _Value(render(data), "Number", data)
        return _Value.string(render(data))

    def applied(self, use_raw_data: bool | None) -> Any:
        """``useRawData`` sets anything but a string as JSON (sjson.SetRawBytes), else a string."""
        return copy.deepcopy(self.data) if use_raw_data and self.kind != _STRING else self.text


# ---- reading an event ----------------------------------------------------------------------
def _metav1_time(value: Any) -> str | None:
    """The context's ``time`` as Argo marshals its ``metav1.Time``: RFC 3339 in UTC, seconds."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _context(event: Mapping[str, Any]) -> dict[str, Any]:
    """``json.Marshal(event.Context)``: the CloudEvent attributes, absent ones as ``""``."""
    names = ("id", "source", "specversion", "type", "datacontenttype", "subject")
    context: dict[str, Any] = {n: "" if event.get(n) is None else str(event[n]) for n in names}
    context["time"] = _metav1_time(event.get("time"))
    return context


def _content_type(event: Mapping[str, Any]) -> str:
    # CloudEvents' JSON format: without datacontenttype, data is JSON. Argo never sees that
    # case (its event sources always set one) and would reject the empty content type.
    return str(event.get("datacontenttype") or _JSON)


def _data(event: Mapping[str, Any]) -> Any:
    """``renderEventDataAsJSON``: JSON or YAML data, anything else is an error."""
    content_type, data = _content_type(event), event.get("data")
    if content_type == _JSON:
        if data is None:
            raise _Unresolved("event data is not valid JSON")
        return data
    if content_type == _YAML:
        if not isinstance(data, str | bytes):
            return data
        try:
            return yaml.safe_load(data)
        except yaml.YAMLError as exc:
            raise _Unresolved(f"failed converting yaml event data to JSON: {exc}") from None
    raise _Unresolved(f"unsupported event content type: {content_type}")


def _go_marshal(value: Any) -> str:
    """``json.Marshal`` of a struct: fields in order, no spaces, HTML characters escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, esc)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _whole_event(event: Mapping[str, Any]) -> str:
    """``json.Marshal(event)``: the context, and the data bytes base64-encoded ([]byte)."""
    data: str | None
    if "data_base64" in event:
        data = str(event["data_base64"])
    elif event.get("data") is None:
        data = None
    else:
        raw = event["data"]
        if isinstance(raw, str) and _content_type(event) != _JSON:
            body = raw.encode()
        elif isinstance(raw, bytes):
            body = raw
        else:
            body = json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode()
        data = base64.b64encode(body).decode("ascii")
    return _go_marshal({"context": _context(event), "data": data})


# ---- resolving a value -----------------------------------------------------------------------
def _from_payload(payload: Any, key: str | None, template: str | None) -> _Value | str:
    """The template's output, else the value at the key; a string says why neither worked."""
    why = []
    if template:
        try:
            out = render_template(template, {"Input": payload})
        except TemplateError as exc:
            why.append(f"template failed: {exc}")
        else:
            if out not in ("", "<no value>"):
                return _Value.string(out)
            why.append(f"template evaluated to empty string or no value: {template}")
    if key:
        try:
            return _Value.found(lookup(payload, key))
        except PathNotFound as exc:
            why.append(f"key {key} does not exist in the event payload ({exc})")
    return "; ".join(why)


def _resolve(src: TriggerParameterSource, events: Events) -> _Value | None:
    """``ResolveParamValue``; ``None`` when the dependency has no event and no default."""
    name = src.dependency_name or ""
    default = None if src.value is None else _Value.string(src.value)
    if name not in events:
        # Not an error: with `a || b` conditions the other dependency may have fired alone.
        return default
    event = events[name]
    if not (src.data_key or src.data_template or src.context_key or src.context_template):
        return default or _Value.string(_whole_event(event))
    try:
        if src.data_key or src.data_template:
            found = _from_payload(_data(event), src.data_key, src.data_template)
        else:
            found = _from_payload(_context(event), src.context_key, src.context_template)
    except _Unresolved:
        if default is None:
            raise
        return default
    if isinstance(found, _Value):
        return found
    if default is not None:
        return default
    raise _Unresolved(f"unable to resolve {name!r} parameter value: {found}")


def resolve_parameter(param: TriggerParameter, events: Events) -> str | Any | None:
    """The value ``param`` would write: a string, or with ``useRawData`` a number, bool, null,
    object or array as the event had it. ``None`` means the parameter is skipped: its dependency
    has no event and it has no default ``value``.

    Raises :class:`ParameterError` when the event is there but nothing resolves.
    """
    if param.src is None:
        raise ParameterError("src is not set", dest=param.dest)
    try:
        found = _resolve(param.src, events)
    except _Unresolved as exc:
        raise ParameterError(str(exc), dest=param.dest) from None
    return None if found is None else found.applied(param.src.use_raw_data)


# ---- writing a value: sjson ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Part:
    name: str
    force: bool  # written ':name': always an object key, never an array index

    @property
    def index(self) -> int | None:
        return None if self.force or not _DIGITS.fullmatch(self.name) else int(self.name)


def _dest_parts(dest: str) -> list[_Part]:
    """sjson's path syntax: ``.`` separates, ``\\`` escapes, a leading ``:`` forces a key."""
    if not dest:
        raise _Unresolved("path cannot be empty")
    parts: list[_Part] = []
    i = 0
    while True:
        force = dest.startswith(":", i)
        i += force
        name: list[str] = []
        while i < len(dest) and dest[i] != ".":
            if dest[i] == "\\":
                name.append(dest[i + 1 : i + 2])
                i += 2
                continue
            if dest[i] in _COMPLEX:
                # sjson would only replace what gjson finds there; creating is impossible.
                raise _Unresolved(
                    f"{dest[i]!r} is gjson query syntax, which a dest cannot use; "
                    "escape it as '\\" + dest[i] + "' if it is part of a key"
                )
            name.append(dest[i])
            i += 1
        if not name:
            raise _Unresolved(f"empty key at position {i} of the path")
        parts.append(_Part("".join(name), force))
        if i >= len(dest):
            return parts
        i += 1


def _child(node: Any, part: _Part) -> Any:
    """What gjson finds at one key: a map key, or an array index (a number, forced or not)."""
    if isinstance(node, Mapping):
        return node.get(part.name, _MISSING)
    if isinstance(node, list) and _DIGITS.fullmatch(part.name):
        n = int(part.name)
        return node[n] if n < len(node) else _MISSING
    return _MISSING


def _current(doc: Any, parts: Sequence[_Part]) -> Any:
    for part in parts:
        doc = _child(doc, part)
        if doc is _MISSING:
            break
    return doc


def _build(parts: Sequence[_Part], value: Any) -> Any:
    """sjson's ``appendBuild``: the missing rest of a path, arrays where a key is a number."""
    if not parts:
        return value
    head, inner = parts[0], _build(parts[1:], value)
    if head.index is not None:
        return [None] * head.index + [inner]
    if head.name == "-1" and not head.force:
        return [inner]
    return {head.name: inner}


def _set(node: Any, parts: Sequence[_Part], value: Any) -> Any:
    """sjson's ``Set`` on a decoded document (mutated in place); returns the new node."""
    head, rest = parts[0], parts[1:]
    existing = _child(node, head)
    if existing is not _MISSING:
        key: Any = head.name if isinstance(node, Mapping) else int(head.name)
        node[key] = _set(existing, rest, value) if rest else value
        return node
    if not isinstance(node, dict | list):  # a scalar (or nothing) is replaced by a container
        node = [] if head.index is not None else {}
    if isinstance(node, dict):
        node[head.name] = _build(rest, value)
    elif head.index is not None:
        node.extend([None] * (head.index - len(node)))
        node.append(_build(rest, value))
    elif head.name == "-1" and not head.force:
        node.append(_build(rest, value))
    else:
        raise _Unresolved(f"cannot set array element for non-numeric key {head.name!r}")
    return node


# ---- the three places parameters go -------------------------------------------------------
def apply_parameters(params: Sequence[TriggerParameter], events: Events, resource: Any) -> Any:
    """A copy of ``resource`` with ``params`` applied in order (Argo's ``ApplyParams``).

    This is the trigger-type level: ``k8s.parameters`` or ``argoWorkflow.parameters`` applied to
    the resource the trigger creates, ``http.parameters`` to the trigger type itself. A parameter
    whose dependency has no event and no default is skipped. ``append``/``prepend`` turn the
    result into a string when something is already at ``dest``; otherwise they overwrite.
    """
    doc = copy.deepcopy(resource)
    for index, param in enumerate(params):
        try:
            if param.src is None:
                raise _Unresolved("src is not set")
            found = _resolve(param.src, events)
            if found is None:
                continue
            operation = param.operation or ""
            if operation not in _OPERATIONS:
                raise _Unresolved(f"unsupported trigger parameter operation: {operation}")
            parts = _dest_parts(param.dest or "")
            value = found.applied(param.src.use_raw_data)
            if operation in ("append", "prepend"):
                current = _current(doc, parts)
                if current is not _MISSING:
                    before, after = render(current), found.text
                    value = before + after if operation == "append" else after + before
            doc = _set(doc, parts, value)
        except _Unresolved as exc:
            raise ParameterError(str(exc), index=index, dest=param.dest) from None
    return doc


def apply_template_parameters(trigger: Trigger, events: Events) -> TriggerTemplate:
    """``trigger.template`` with the trigger's own ``parameters`` applied.

    Argo's ``ApplyTemplateParameters`` runs this first, on the template marshalled to JSON, and
    decodes the result back into a template: a parameter may rewrite any field, e.g.
    ``dest: k8s.operation`` or ``http.url``. The template is returned unchanged when there are no
    parameters; :class:`ParameterError` is raised when the result is not a valid template.
    """
    if not trigger.parameters:
        return trigger.template
    doc = trigger.template.model_dump(by_alias=True, exclude_none=True, mode="json")
    doc = apply_parameters(trigger.parameters, events, doc)
    try:
        return TriggerTemplate.model_validate_json(json.dumps(doc))
    except ValidationError as exc:
        dests = ", ".join(repr(p.dest) for p in trigger.parameters)
        raise ParameterError(
            f"trigger template is invalid after applying parameters (dest {dests}): {exc}"
        ) from None


def build_payload(params: Sequence[TriggerParameter], events: Events) -> bytes:
    """A request body from ``payload`` parameters (Argo's ``ConstructPayload``).

    Each value is set at its ``dest`` in an empty JSON document; ``operation`` is ignored, as
    Argo ignores it here. The first parameter without a ``dest`` that resolves is the whole
    body. A parameter whose dependency has no event and no default is skipped (Argo panics on
    a nil value there). Nothing set gives an empty body.
    """
    doc: Any = None
    for index, param in enumerate(params):
        try:
            if param.src is None:
                raise _Unresolved("src is not set")
            found = _resolve(param.src, events)
            if found is None:
                continue
            if not param.dest:
                return found.text.encode()
            value = found.applied(param.src.use_raw_data)
            doc = _set(doc, _dest_parts(param.dest), value)
        except _Unresolved as exc:
            raise ParameterError(str(exc), index=index, dest=param.dest) from None
    if doc is None:
        return b""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()

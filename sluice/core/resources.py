"""Loading Kubernetes-style resources from YAML/JSON files, with errors that say where.

A problem is reported as ``FILE: document N (Kind name): PATH: MESSAGE`` so the user can go
straight to it, e.g. ``wf.yaml: document 1 (Workflow hello): spec.templates[2].container.comand:
unknown field; did you mean 'command'?``.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from sluice.core.errors import SpecError

RESOURCE_SUFFIXES = (".yaml", ".yml", ".json")

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class RawResource:
    """One document of a file, before it is validated against its kind's model."""

    file: str
    index: int  # 1-based position of the document in its file
    data: dict[str, Any]
    label: str | None = None  # where() as already given by the caller (a request, a resubmit)

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", ""))

    @property
    def name(self) -> str:
        meta = self.data.get("metadata") or {}
        if not isinstance(meta, dict):
            return ""
        return str(meta.get("name") or meta.get("generateName") or "")

    def where(self) -> str:
        if self.label is not None:
            return self.label
        label = " ".join(p for p in (self.kind, self.name) if p)
        return f"{self.file}: document {self.index}" + (f" ({label})" if label else "")


def format_loc(loc: Iterable[int | str]) -> str:
    """``('spec', 'templates', 2, 'container')`` → ``spec.templates[2].container``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def parse_documents(text: str, file: str) -> list[RawResource]:
    """Split a multi-document YAML (or JSON) text into resources; empty documents are skipped."""
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise SpecError([f"{file}: invalid YAML: {exc}"]) from exc
    out: list[RawResource] = []
    problems: list[str] = []
    for i, doc in enumerate(docs, start=1):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            problems.append(f"{file}: document {i}: expected a mapping, got {type(doc).__name__}")
            continue
        out.append(RawResource(file=file, index=i, data=doc))
    if problems:
        raise SpecError(problems)
    return out


def load_file(path: str | Path) -> list[RawResource]:
    """Read every resource document of one file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError([f"{p}: cannot read: {exc.strerror or exc}"]) from exc
    return load_text(text, p)


def load_text(text: str, path: str | Path) -> list[RawResource]:
    """The resource documents of a file's text: YAML, or JSON (one object or a list)."""
    p = Path(path)
    if p.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError([f"{p}: invalid JSON: {exc}"]) from exc
        items = data if isinstance(data, list) else [data]
        return parse_documents(yaml.safe_dump_all(items), str(p))
    return parse_documents(text, str(p))


def iter_resource_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Expand files and folders (recursively) into resource files, in a stable order."""
    for path in paths:
        p = Path(path)
        if p.is_dir():
            yield from sorted(
                f for f in p.rglob("*") if f.is_file() and f.suffix in RESOURCE_SUFFIXES
            )
        else:
            yield p


def _alias_names(model: type[BaseModel]) -> dict[str, type[BaseModel] | None]:
    """YAML names of a model's fields, mapped to the nested model type where there is one."""
    out: dict[str, type[BaseModel] | None] = {}
    for name, field in model.model_fields.items():
        out[field.alias or name] = _nested_model(field.annotation)
    return out


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        fields = _alias_names(current)
        if part not in fields:
            # pydantic puts a union member's class name into the loc; skip it.
            continue
        current = fields[part]
    return current


def describe_error(model: type[BaseModel], err: Any) -> tuple[str, str]:
    """(path, message) for one pydantic error, phrased for a person editing YAML."""
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p[:1].isupper()))
    path = format_loc(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        msg = "unknown field"
        if parent is not None and isinstance(loc[-1], str):
            close = difflib.get_close_matches(loc[-1], list(_alias_names(parent)), n=1)
            if close:
                msg += f"; did you mean '{close[0]}'?"
        return path, msg
    if kind == "missing":
        return path, "required field is missing"
    return path, str(err["msg"])


def validation_problems(model: type[BaseModel], exc: ValidationError, where: str) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for err in exc.errors():
        path, msg = describe_error(model, err)
        line = f"{where}: {path}: {msg}" if path else f"{where}: {msg}"
        if line not in seen:
            seen.add(line)
            out.append(line)
    return out


def validate(model: type[M], raw: RawResource) -> M:
    """Validate one document against its model; a SpecError lists every problem found."""
    try:
        return model.model_validate(raw.data)
    except ValidationError as exc:
        raise SpecError(validation_problems(model, exc, raw.where())) from exc


def validate_kind(raw: RawResource, kinds: Mapping[str, type[M]]) -> M:
    """Validate a document against the model its ``kind`` names among ``kinds``.

    An unknown or missing kind, a missing apiVersion and every schema problem are reported
    together in one SpecError.
    """
    model = kinds.get(raw.kind)
    if model is None:
        got = f"unknown kind '{raw.kind}'" if raw.kind else "required field is missing"
        expected = ", ".join(kinds)
        expected = f"one of {expected}" if len(kinds) > 1 else expected
        raise SpecError([f"{raw.where()}: kind: {got}; expected {expected}"])
    problems: list[str] = []
    if "apiVersion" not in raw.data:
        problems.append(f"{raw.where()}: apiVersion: required field is missing")
    try:
        resource = validate(model, raw)
    except SpecError as exc:
        raise SpecError(problems + exc.problems) from exc
    if problems:
        raise SpecError(problems)
    return resource

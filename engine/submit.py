"""Preparing a Workflow manifest for submission, as ``argo submit`` prepares it.

Applies the submit options (parameters, entrypoint, names, service account), checks enums,
and gives the workflow its name; shared by the CLI (remote submissions) and the engine.
"""

from __future__ import annotations

import copy
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from sluice.core.errors import SpecError

_ALPHABET = string.ascii_lowercase + string.digits


@dataclass
class SubmitOptions:
    parameters: dict[str, str] = field(default_factory=dict)
    entrypoint: str | None = None
    generate_name: str | None = None
    name: str | None = None
    service_account: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


def random_suffix(n: int = 5) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def apply_options(manifest: dict[str, Any], opts: SubmitOptions, where: str) -> dict[str, Any]:
    """A copy of ``manifest`` with the options applied; enum violations are SpecErrors."""
    wf = copy.deepcopy(manifest)
    meta = wf.setdefault("metadata", {})
    spec = wf.setdefault("spec", {})
    if opts.name:
        meta["name"] = opts.name
    if opts.generate_name:
        meta["generateName"] = opts.generate_name
        if not opts.name:
            meta.pop("name", None)
    if opts.entrypoint:
        spec["entrypoint"] = opts.entrypoint
    if opts.service_account:
        spec["serviceAccountName"] = opts.service_account
    if opts.labels:
        meta.setdefault("labels", {}).update(opts.labels)
    params = spec.setdefault("arguments", {}).setdefault("parameters", [])
    by_name = {p["name"]: p for p in params}
    for key, value in opts.parameters.items():
        if key in by_name:
            by_name[key]["value"] = value
        else:
            params.append({"name": key, "value": value})
    problems = []
    for i, p in enumerate(params):
        if "value" not in p and "default" in p:
            p["value"] = p["default"]
        enum = p.get("enum")
        if enum and "value" in p and str(p["value"]) not in [str(e) for e in enum]:
            problems.append(
                f"{where}: spec.arguments.parameters[{i}].value: '{p['value']}' is not one of"
                f" the allowed values {[str(e) for e in enum]} of parameter '{p['name']}'"
            )
    if not spec["arguments"]["parameters"]:
        del spec["arguments"]["parameters"]
    if not spec["arguments"]:
        del spec["arguments"]
    if problems:
        raise SpecError(problems)
    return wf


def assign_name(manifest: dict[str, Any]) -> str:
    meta = manifest.setdefault("metadata", {})
    if not meta.get("name"):
        prefix = meta.get("generateName")
        if not prefix:
            raise SpecError(["metadata: name or generateName is required"])
        meta["name"] = prefix + random_suffix()
    return str(meta["name"])

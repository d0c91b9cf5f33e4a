"""Merging workflow specs as Argo does for ``workflowDefaults`` and ``workflowTemplateRef``.

Mappings merge key by key with the overriding side winning; lists of named items (templates,
parameters, volumes, ...) merge by ``name``; any other list is taken whole from the winner.
"""

from __future__ import annotations

import copy
from typing import Any


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items)


def merge(base: Any, override: Any) -> Any:
    """``override`` merged onto ``base``; neither input is changed."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = copy.deepcopy(base)
        for key, value in override.items():
            out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(override, list) and _named(base) and _named(override):
        by_name = {item["name"]: copy.deepcopy(item) for item in base}
        order = [item["name"] for item in base]
        for item in override:
            if item["name"] in by_name:
                by_name[item["name"]] = merge(by_name[item["name"]], item)
            else:
                order.append(item["name"])
                by_name[item["name"]] = copy.deepcopy(item)
        return [by_name[name] for name in order]
    return copy.deepcopy(override)


def apply_defaults(manifest: dict[str, Any], defaults: dict[str, Any] | None) -> dict[str, Any]:
    """The controller's ``workflowDefaults`` under a submitted workflow (the workflow wins)."""
    if not defaults:
        return manifest
    base = {k: v for k, v in defaults.items() if k in ("metadata", "spec")}
    merged: dict[str, Any] = merge(base, manifest)
    return merged


def apply_template_ref(manifest: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    """A workflow whose ``workflowTemplateRef`` is filled in from the template's spec."""
    out = copy.deepcopy(manifest)
    spec = out.setdefault("spec", {})
    ref = spec.get("workflowTemplateRef")
    base_spec = copy.deepcopy(template.get("spec") or {})
    merged = merge(base_spec, {k: v for k, v in spec.items() if k != "workflowTemplateRef"})
    merged["workflowTemplateRef"] = ref
    out["spec"] = merged
    return out

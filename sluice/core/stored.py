"""The metadata a Kubernetes API server keeps on a stored resource, for sluice's own store.

Created resources get a ``uid`` and a ``creationTimestamp``; a replaced one keeps both, and its
``status`` when the new manifest brings none. ``same_content`` tells whether a re-applied
manifest changes anything, so an unchanged resource is neither rewritten nor restarted.
"""

from __future__ import annotations

import uuid
from typing import Any

# metadata the server owns: never part of what a user changes
SERVER_FIELDS = frozenset({"uid", "creationTimestamp", "generation", "resourceVersion"})


def stamp(data: dict[str, Any], existing: dict[str, Any] | None, now: str) -> None:
    """Fill in ``data``'s server-owned metadata, keeping ``existing``'s on a replace."""
    meta = data.setdefault("metadata", {})
    meta.pop("generation", None)  # the store counts generations
    if existing is None:
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now
        return
    old = existing.get("metadata") or {}
    meta["uid"] = old.get("uid") or str(uuid.uuid4())
    meta["creationTimestamp"] = old.get("creationTimestamp") or now
    if "status" in existing and "status" not in data:
        data["status"] = existing["status"]


def user_content(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest without status and server-owned metadata."""
    content = {k: v for k, v in manifest.items() if k != "status"}
    meta = content.get("metadata")
    if isinstance(meta, dict):
        content["metadata"] = {k: v for k, v in meta.items() if k not in SERVER_FIELDS and v}
    return content


def same_content(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two manifests say the same, apart from status and server-owned metadata."""
    return user_content(a) == user_content(b)


__all__ = ["SERVER_FIELDS", "same_content", "stamp", "user_content"]

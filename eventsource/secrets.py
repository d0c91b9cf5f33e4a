"""Secrets that sources read (webhook auth tokens, signing secrets), from the data directory.

The files are the ones pods read (see ``sluice.core.objects``). They are read on every lookup,
as Argo reads its mounted volume, so a rotated secret applies without a restart.
"""

from __future__ import annotations

from pathlib import Path

from eventsource.models.common import SecretKeySelector
from sluice.core.objects import LocalObjects, ObjectError

SecretNotFound = ObjectError


class LocalSecrets:
    """Secrets under a data directory, as Argo Events reads them."""

    def __init__(self, data_dir: str | Path) -> None:
        self.objects = LocalObjects(data_dir)

    def get(self, name: str, key: str) -> str:
        # As Argo Events does: an editor's trailing newline is not part of the secret.
        return self.objects.get("secret", name, key).removesuffix("\n")

    def selected(self, selector: SecretKeySelector) -> str:
        return self.get(selector.name or "", selector.key)

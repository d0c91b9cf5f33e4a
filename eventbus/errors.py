"""The bus's errors, so callers never depend on nats-py's exception types.

A ``BusUnavailable`` is transient (the server is down or restarting: retry after ``delay``);
a ``BusError`` is not fixed by retrying the same call (a payload too large, a bad name);
a ``KeyConflict`` is a lost compare-and-set in a key-value bucket.
"""

from __future__ import annotations

from sluice.core.errors import ConflictError, SluiceError, TemporaryError


class BusError(SluiceError):
    """The bus refused or failed an operation."""


class BusUnavailable(BusError, TemporaryError):
    """The bus cannot be reached right now; the caller may retry after ``delay`` seconds."""

    def __init__(self, message: str, delay: float = 1.0) -> None:
        TemporaryError.__init__(self, message, delay)


class KeyConflict(BusError, ConflictError):
    """A key-value write lost: the key exists already, or changed since it was read."""

"""Errors named by what the caller must do about them."""

from __future__ import annotations


class SluiceError(Exception):
    """Base of every error sluice raises on purpose."""


class SpecError(SluiceError):
    """A resource is malformed. Never retried: the user must fix the resource.

    ``problems`` lists every problem found, each already formatted as
    ``file: document N (Kind name): path: message``.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class PermanentError(SluiceError):
    """An operation failed in a way that retrying will not fix."""


class TemporaryError(SluiceError):
    """An operation failed transiently; the caller may retry after ``delay`` seconds."""

    def __init__(self, message: str, delay: float = 1.0) -> None:
        super().__init__(message)
        self.delay = delay


class NotFoundError(SluiceError):
    """A named object does not exist."""


class ConflictError(SluiceError):
    """The object exists already, or the operation does not fit its current state."""

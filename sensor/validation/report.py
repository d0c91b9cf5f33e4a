"""Collecting problems with their YAML paths, and the small checks several sections share."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sensor.models import Backoff

LOGICAL_OPERATORS = ("and", "or")
_GO_DURATION = re.compile(r"[-+]?(?:0|(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)")


@dataclass
class Problems:
    """Problems found so far, each a YAML path and a message; reported all together."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))

    def lines(self, where: str) -> list[str]:
        return [f"{where}: {path}: {message}" for path, message in self.items]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def one_of(values: Iterable[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def check_choice(
    problems: Problems, path: str, value: str | None, allowed: tuple[str, ...], what: str
) -> None:
    """Empty means the default, as in Argo; anything else must be one of ``allowed``."""
    if value and value not in allowed:
        problems.add(path, f"unknown {what} '{value}'; expected one of {one_of(allowed)}")


def check_timezone(problems: Problems, path: str, name: str | None) -> None:
    if not name:
        return
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        problems.add(path, f"unknown timezone '{name}'; use an IANA name such as 'Europe/Paris'")


def check_backoff(problems: Problems, path: str, backoff: Backoff | None) -> None:
    if backoff is None:
        return
    duration = backoff.duration
    if isinstance(duration, str) and not _GO_DURATION.fullmatch(duration):
        problems.add(
            f"{path}.duration",
            f"'{duration}' is not a duration; write nanoseconds or a Go duration such as '3s'",
        )
    if isinstance(duration, int) and duration < 0:
        problems.add(f"{path}.duration", "must not be negative")
    if backoff.steps is not None and backoff.steps < 0:
        problems.add(f"{path}.steps", "must not be negative")

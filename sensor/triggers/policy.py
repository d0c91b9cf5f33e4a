"""How often a trigger runs: ``retryStrategy``, ``rateLimit`` and the HTTP status policy.

``retryStrategy`` is Argo's ``Backoff`` run as ``wait.ExponentialBackoff``: ``steps`` attempts
in all, the n-th wait ``duration * factor**n`` plus up to ``jitter`` times that at random.
Without a ``retryStrategy`` a trigger runs once (Argo's listener passes ``Steps: 1``); fields
left out of one take Argo's defaults (``DefaultBackoff``: 5 steps of 1s, factor 1, jitter 1).
Unlike Argo, which retries every error, only a :class:`TriggerError` marked ``retryable`` is
retried: a Sensor mistake fails at once.

``rateLimit`` is Argo's ``go.uber.org/ratelimit`` limiter: ``requestsPerUnit`` runs per
``unit`` (``Second``, the default, ``Minute`` or ``Hour``), spaced evenly; after an idle spell
up to ``slack`` (10, the library's default) runs may catch up at once. It is a token bucket
that holds ``slack + 1`` tokens and starts with one. ``requestsPerUnit`` 0 means no limit (Argo
would divide by zero).
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sensor.models import Backoff, RateLimit, StatusPolicy
from sensor.triggers.base import TriggerError
from sluice.core.clock import Clock, SystemClock

T = TypeVar("T")

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
}  # fmt: skip
UNIT_SECONDS = {"Second": 1.0, "Minute": 60.0, "Hour": 3600.0}
DEFAULT_SLACK = 10


def go_duration(text: str) -> float:
    """Seconds in a Go duration (``500ms``, ``1m30s``); ValueError otherwise."""
    body = text.strip().lstrip("+")
    if body == "0":
        return 0.0
    pos, seconds = 0, 0.0
    for match in _DURATION.finditer(body):
        if match.start() != pos:
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not body or pos != len(body):
        raise ValueError(f"{text!r} is not a duration like '10s' or '1m30s'")
    return seconds


@dataclass(frozen=True)
class RetryPolicy:
    """A resolved ``Backoff``: ``steps`` attempts, waits starting at ``duration`` seconds."""

    steps: int = 5
    duration: float = 1.0
    factor: float = 1.0
    jitter: float = 1.0

    @classmethod
    def from_spec(cls, backoff: Backoff | None) -> RetryPolicy:
        """Argo's ``Convert2WaitBackoff``; None is a single attempt. ValueError if malformed."""
        if backoff is None:
            return _ONE_ATTEMPT
        duration = 1.0
        if isinstance(backoff.duration, int):
            duration = backoff.duration / 1e9
        elif isinstance(backoff.duration, str):
            duration = go_duration(backoff.duration)
        return cls(
            steps=backoff.steps if backoff.steps and backoff.steps > 0 else 5,
            duration=duration,
            factor=float(backoff.factor) if backoff.factor is not None else 1.0,
            jitter=float(backoff.jitter) if backoff.jitter is not None else 1.0,
        )

    def delay(self, retry: int, rand: float) -> float:
        """The wait before retry number ``retry`` (0 for the first), given ``rand`` in [0, 1)."""
        base = self.duration * (self.factor**retry if self.factor else 1.0)
        return base + rand * self.jitter * base if self.jitter > 0 else base


_ONE_ATTEMPT = RetryPolicy(steps=1)  # most triggers: every firing asks for it

OnRetry = Callable[[int, TriggerError, float], None]


async def with_retry(
    call: Callable[[], Awaitable[T]],
    backoff: Backoff | RetryPolicy | None,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_retry: OnRetry | None = None,
    rand: Callable[[], float] = random.random,
) -> T:
    """``await call()`` until it succeeds, raises a non-retryable error, or ``steps`` run out.

    ``on_retry(attempt, error, delay)`` is told of each failed attempt that will be retried;
    the last error is raised as it is. ``sleep`` is injectable (a Clock's ``sleep``) for tests.
    """
    if isinstance(backoff, RetryPolicy):
        policy = backoff
    else:
        try:
            policy = RetryPolicy.from_spec(backoff)
        except ValueError as exc:
            raise TriggerError(f"retryStrategy: {exc}", retryable=False) from exc
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call()
        except TriggerError as exc:
            if not exc.retryable or attempt >= policy.steps:
                raise
            wait = policy.delay(attempt - 1, rand())
            if on_retry is not None:
                on_retry(attempt, exc, wait)
        await sleep(wait)


class RateLimiter:
    """At most ``requests_per_unit`` acquisitions per ``unit``; ``acquire`` waits its turn.

    Each acquisition reserves its slot before it sleeps, so concurrent callers queue fairly.
    """

    def __init__(
        self,
        requests_per_unit: int,
        unit: str = "Second",
        *,
        clock: Clock | None = None,
        slack: int = DEFAULT_SLACK,
    ) -> None:
        if requests_per_unit <= 0:
            raise ValueError("requestsPerUnit must be positive")
        self.clock = clock or SystemClock()
        self.interval = UNIT_SECONDS.get(unit, 1.0) / requests_per_unit
        self.max_slack = slack * self.interval
        self._last: float | None = None  # when the latest reserved slot is issued

    @classmethod
    def from_spec(
        cls, rate_limit: RateLimit | None, clock: Clock | None = None
    ) -> RateLimiter | None:
        """The limiter of a trigger's ``rateLimit``; None when it sets no limit."""
        if rate_limit is None or not rate_limit.requests_per_unit:
            return None
        return cls(rate_limit.requests_per_unit, rate_limit.unit or "Second", clock=clock)

    def reserve(self) -> float:
        """Take the next slot; the seconds to wait until it is due."""
        now = self.clock.now().timestamp()
        last = self._last
        if last is None:
            issue = now
        elif now - last > self.max_slack + self.interval:
            issue = now - self.max_slack
        else:
            issue = last + self.interval
        self._last = issue
        return max(0.0, issue - now)

    async def acquire(self) -> float:
        """Wait for a slot; returns how long it waited."""
        wait = self.reserve()
        if wait > 0:
            await self.clock.sleep(wait)
        return wait


def check_status(status: int, policy: StatusPolicy | None, where: str) -> None:
    """``policy.status.allow``: a status not listed fails the firing; no list allows any.

    Argo retries such a failure like any other; here 5xx, 408 and 429 are retryable and other
    statuses (a 404 will not turn into a 200) are not.
    """
    if policy is None or policy.allow is None or status in policy.allow:
        return
    raise TriggerError(
        f"{where}: policy application resulted in failure. http response status {status}"
        " is not allowed",
        retryable=status >= 500 or status in (408, 429),
    )

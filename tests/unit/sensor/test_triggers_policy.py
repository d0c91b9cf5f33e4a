"""retryStrategy, rateLimit and the status policy, timed with injected sleeps and clocks."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from sensor.models import Backoff, RateLimit
from sensor.models.triggers import StatusPolicy
from sensor.triggers import Outcome, RateLimiter, RetryPolicy, TriggerError, check_status
from sensor.triggers.policy import go_duration, with_retry
from tests.conftest import FakeClock


@pytest.mark.parametrize(
    ("spec", "policy"),
    [
        (None, RetryPolicy(steps=1)),
        ({}, RetryPolicy(steps=5, duration=1.0, factor=1.0, jitter=1.0)),
        (
            {"steps": 3, "duration": "500ms", "factor": 2, "jitter": 0},
            RetryPolicy(steps=3, duration=0.5, factor=2.0, jitter=0.0),
        ),
        ({"duration": 2_000_000_000}, RetryPolicy(duration=2.0)),
        ({"steps": 0, "duration": "1m30s"}, RetryPolicy(steps=5, duration=90.0)),
    ],
    ids=["none-runs-once", "argo-defaults", "all-set", "nanoseconds", "zero-steps"],
)
def test_retry_policy_from_spec(spec: dict[str, Any] | None, policy: RetryPolicy) -> None:
    backoff = Backoff.model_validate(spec) if spec is not None else None
    assert RetryPolicy.from_spec(backoff) == policy


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0.0), ("10s", 10.0), ("1h2m3s", 3723.0), ("1.5m", 90.0), ("250ms", 0.25)],
    ids=["zero", "seconds", "mixed", "fraction", "millis"],
)
def test_go_duration(text: str, seconds: float) -> None:
    assert go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["10", "", "1x", "s"], ids=["bare", "empty", "unit", "no-number"])
def test_go_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        go_duration(text)


def test_delays_grow_by_factor_with_jitter_on_top() -> None:
    policy = RetryPolicy(steps=4, duration=1.0, factor=2.0, jitter=0.5)
    assert [policy.delay(n, 0.0) for n in range(3)] == [1.0, 2.0, 4.0]
    assert policy.delay(1, 1.0) == 3.0  # 2s plus up to jitter × 2s
    assert RetryPolicy(duration=1.0, factor=0.0, jitter=0.0).delay(3, 0.9) == 1.0


class Flaky:
    """Fails ``failures`` times with ``error``, then succeeds."""

    def __init__(self, failures: int, retryable: bool = True) -> None:
        self.failures = failures
        self.retryable = retryable
        self.calls = 0

    async def __call__(self) -> Outcome:
        self.calls += 1
        if self.calls <= self.failures:
            raise TriggerError(f"failure {self.calls}", retryable=self.retryable)
        return Outcome("ok")


async def test_with_retry_waits_between_attempts_then_succeeds() -> None:
    clock = FakeClock()
    seen: list[tuple[int, str, float]] = []
    call = Flaky(2)
    backoff = Backoff(steps=3, duration="1s", factor=2, jitter=0.5)
    outcome = await with_retry(
        call,
        backoff,
        sleep=clock.sleep,
        on_retry=lambda n, e, d: seen.append((n, str(e), d)),
        rand=lambda: 0.5,
    )
    assert outcome == Outcome("ok")
    assert call.calls == 3
    assert clock.sleeps == [1.25, 2.5]
    assert seen == [(1, "failure 1", 1.25), (2, "failure 2", 2.5)]


async def test_with_retry_gives_up_after_steps_with_the_last_error() -> None:
    clock = FakeClock()
    call = Flaky(10)
    with pytest.raises(TriggerError, match="failure 3"):
        await with_retry(call, RetryPolicy(steps=3, jitter=0), sleep=clock.sleep)
    assert call.calls == 3
    assert clock.sleeps == [1.0, 1.0]


async def test_with_retry_does_not_retry_permanent_errors_or_without_strategy() -> None:
    clock = FakeClock()
    permanent = Flaky(1, retryable=False)
    with pytest.raises(TriggerError, match="failure 1"):
        await with_retry(permanent, Backoff(steps=5), sleep=clock.sleep)
    once = Flaky(1)
    with pytest.raises(TriggerError):
        await with_retry(once, None, sleep=clock.sleep)  # Argo: no retryStrategy, one attempt
    assert (permanent.calls, once.calls, clock.sleeps) == (1, 1, [])


async def test_with_retry_rejects_a_malformed_duration() -> None:
    with pytest.raises(TriggerError, match="retryStrategy") as err:
        await with_retry(Flaky(0), Backoff(duration="soon"))
    assert not err.value.retryable


# ---- rate limit -------------------------------------------------------------------------------
async def test_rate_limiter_spaces_requests_evenly() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, "Second", clock=clock)
    waits = [await limiter.acquire() for _ in range(4)]
    assert waits == [0.0, 0.5, 0.5, 0.5]


async def test_rate_limiter_lets_up_to_slack_catch_up_after_idling() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, "Minute", clock=clock, slack=3)
    assert await limiter.acquire() == 0.0
    clock.t += timedelta(hours=1)
    waits = [await limiter.acquire() for _ in range(6)]
    assert waits == [0.0, 0.0, 0.0, 0.0, 60.0, 60.0]  # slack + 1 at once, then one a minute


async def test_concurrent_acquirers_queue_in_turn() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10, "Hour", clock=clock)
    start = clock.t
    waits = [limiter.reserve() for _ in range(3)]  # what three concurrent callers are given
    assert waits == [0.0, 360.0, 720.0]
    await asyncio.gather(limiter.acquire(), limiter.acquire())
    # the fake clock moves on while the first sleeps: the second's slot is 360s later still
    assert clock.sleeps == [1080.0, 360.0]
    assert clock.t - start == timedelta(seconds=1440)


@pytest.mark.parametrize(
    ("spec", "interval"),
    [(None, None), ({"requestsPerUnit": 0}, None), ({"requestsPerUnit": 4}, 0.25)],
    ids=["none", "zero", "default-unit-second"],
)
def test_rate_limiter_from_spec(spec: dict[str, Any] | None, interval: float | None) -> None:
    rate = RateLimit.model_validate(spec) if spec is not None else None
    limiter = RateLimiter.from_spec(rate)
    assert (limiter.interval if limiter else None) == interval


# ---- status policy ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "allow", "error", "retryable"),
    [
        (500, None, False, False),
        (200, [200, 201], False, False),
        (404, [200], True, False),
        (503, [200], True, True),
        (429, [200], True, True),
    ],
    ids=["no-policy-any-status", "allowed", "not-found", "unavailable", "too-many"],
)
def test_status_policy(status: int, allow: list[int] | None, error: bool, retryable: bool) -> None:
    policy = StatusPolicy(allow=allow) if allow is not None else None
    if not error:
        check_status(status, policy, "w")
        return
    with pytest.raises(TriggerError, match=f"http response status {status} is not allowed") as e:
        check_status(status, policy, "w")
    assert e.value.retryable is retryable

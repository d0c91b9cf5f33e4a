"""The calendar source: ticks, zones, exclusions, the tick record and catch-up, on a fake clock."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from eventbus.base import PublishAck
from eventbus.errors import BusUnavailable
from eventbus.subjects import subject
from eventsource.adaptor import Adaptor, RetryPolicy
from eventsource.models import parse_event_source
from eventsource.registry import SOURCES
from eventsource.sources.calendar import (
    CalendarSource,
    exclusion_dates,
    go_duration,
    go_time_string,
)
from sluice.core.errors import SpecError
from tests.conftest import FakeClock

T0 = datetime(2024, 1, 10, 12, 0, 30, tzinfo=UTC)


def at(minute: int, second: int = 0, hour: int = 12) -> datetime:
    return datetime(2024, 1, 10, hour, minute, second, tzinfo=UTC)


class StubBus:
    """Stores what is published; raises ``BusUnavailable`` while ``down``."""

    def __init__(self) -> None:
        self.down = False
        self.published: list[tuple[str, dict[str, Any], str]] = []

    def subject(self, namespace: str, event_source: str, event_name: str) -> str:
        return subject(namespace, event_source, event_name)

    async def publish(
        self, subject: str, payload: bytes, msg_id: str, headers: Mapping[str, str] | None = None
    ) -> PublishAck:
        if self.down:
            raise BusUnavailable("bus is down")
        self.published.append((subject, json.loads(payload), msg_id))
        return PublishAck(stream="S", seq=len(self.published), duplicate=False)

    def times(self) -> list[str]:
        return [event["data"]["eventTime"] for _, event, _ in self.published]


def make(
    bus: StubBus,
    events: dict[str, dict[str, Any]],
    *,
    clock: FakeClock | None = None,
    data_dir: Path | None = None,
) -> CalendarSource:
    clock = clock or FakeClock()
    resource = parse_event_source(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "EventSource",
            "metadata": {"name": "cal"},
            "spec": {"calendar": events},
        }
    )
    retry = RetryPolicy(duration=0.01, steps=2)
    adaptor = Adaptor(bus, "default", "cal", clock=clock, retry=retry)  # type: ignore[arg-type]
    return CalendarSource(resource, adaptor, data_dir=data_dir, clock=clock)


def test_calendar_is_registered() -> None:
    assert SOURCES["calendar"] is CalendarSource


async def test_cron_fires_at_minute_boundaries_with_argo_data() -> None:
    bus = StubBus()
    source = make(bus, {"every-minute": {"schedule": "* * * * *", "metadata": {"k": "v"}}})
    assert await source.tick_once(T0) == {"every-minute": []}
    assert await source.tick_once(at(0, 59)) == {"every-minute": []}
    assert await source.tick_once(at(1)) == {"every-minute": [at(1)]}
    assert await source.tick_once(at(3, 10)) == {"every-minute": [at(2), at(3)]}

    subj, event, _ = bus.published[0]
    assert subj == "events.default.cal.every-minute"
    assert (event["type"], event["source"], event["subject"]) == ("calendar", "cal", "every-minute")
    assert event["data"] == {"eventTime": "2024-01-10 12:01:00 +0000 UTC", "metadata": {"k": "v"}}
    assert bus.times()[1:] == ["2024-01-10 12:02:00 +0000 UTC", "2024-01-10 12:03:00 +0000 UTC"]


async def test_the_running_source_sleeps_until_each_tick() -> None:
    bus, clock = StubBus(), FakeClock()
    clock.t = T0
    source = make(bus, {"e": {"schedule": "* * * * *"}}, clock=clock)
    await source.start()
    for _ in range(1000):
        if len(bus.published) >= 3:
            break
        await asyncio.sleep(0)
    await source.stop()
    assert bus.times()[:3] == [f"2024-01-10 12:0{m}:00 +0000 UTC" for m in (1, 2, 3)]
    assert clock.sleeps[:3] == [30.0, 60.0, 60.0]


async def test_interval_counts_from_the_start_rounded_down_to_the_second() -> None:
    bus = StubBus()
    source = make(bus, {"e": {"interval": "10s"}})
    await source.tick_once(T0 + timedelta(milliseconds=500))
    fired = await source.tick_once(at(1, 5))
    assert fired == {"e": [at(0, 40), at(0, 50), at(1, 0)]}


@pytest.mark.parametrize(
    ("start", "tick_utc", "event_time"),
    [
        (at(0), datetime(2024, 1, 10, 14, tzinfo=UTC), "2024-01-10 09:00:00 -0500 EST"),
        (
            datetime(2024, 7, 10, 12, tzinfo=UTC),
            datetime(2024, 7, 10, 13, tzinfo=UTC),
            "2024-07-10 09:00:00 -0400 EDT",
        ),
    ],
    ids=["winter", "summer"],
)
async def test_schedule_runs_in_the_timezone(
    start: datetime, tick_utc: datetime, event_time: str
) -> None:
    bus = StubBus()
    source = make(bus, {"e": {"schedule": "0 9 * * *", "timezone": "America/New_York"}})
    await source.tick_once(start)
    assert source.timers["e"].next_tick() == tick_utc
    assert await source.tick_once(tick_utc - timedelta(seconds=1)) == {"e": []}
    assert await source.tick_once(tick_utc) == {"e": [tick_utc]}
    assert bus.times() == [event_time]


async def test_ticks_on_excluded_dates_are_skipped() -> None:
    bus = StubBus()
    spec = {
        "schedule": "0 9 * * *",
        "exclusionDates": ["EXDATE:20240111T000000Z,20240113T120000Z", "2024-01-12"],
    }
    source = make(bus, {"e": spec})
    await source.tick_once(at(0))
    fired = await source.tick_once(datetime(2024, 1, 15, tzinfo=UTC))
    # the 11th and 13th are excluded; "2024-01-12" is no EXDATE entry, so Argo ignores it
    assert [t.day for t in fired["e"]] == [12, 14]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10), ("1m", 60), ("1h30m", 5400), ("1.5s", 1.5), ("300ms", 0.3), ("0", 0)],
    ids=["s", "m", "h-m", "fraction", "ms", "zero"],
)
def test_go_duration(text: str, seconds: float) -> None:
    assert go_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["10", "", "1d", "s", "1m x"], ids=str)
def test_go_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        go_duration(text)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02 03:04:05 +0000 UTC"),
        (datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=UTC), "2024-01-02 03:04:05.12 +0000 UTC"),
        (
            datetime(2024, 1, 2, 9, tzinfo=ZoneInfo("Asia/Kolkata")),
            "2024-01-02 09:00:00 +0530 IST",
        ),
    ],
    ids=["utc", "fraction", "named-zone"],
)
def test_go_time_string(moment: datetime, expected: str) -> None:
    assert go_time_string(moment) == expected


def test_exclusion_dates_parse_exdate_entries_only() -> None:
    assert exclusion_dates(["EXDATE:20240101T000000Z", "20240102"]) == {datetime(2024, 1, 1).date()}


def record(data_dir: Path) -> dict[str, Any]:
    path = data_dir / "eventsources" / "calendar" / "default.cal.e.json"
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


async def test_the_fired_tick_is_recorded_and_a_restart_does_not_repeat_it(
    tmp_path: Path,
) -> None:
    bus = StubBus()
    spec = {"schedule": "* * * * *", "persistence": {"catchup": {"enabled": True}}}
    first = make(bus, {"e": spec}, data_dir=tmp_path)
    await first.tick_once(T0)
    await first.tick_once(at(1))
    assert record(tmp_path) == {
        "time": "2024-01-10T12:01:00Z",
        "eventTime": "2024-01-10 12:01:00 +0000 UTC",
    }
    assert [p.name for p in record_dir(tmp_path).iterdir()] == ["default.cal.e.json"]

    again = make(bus, {"e": spec}, data_dir=tmp_path)  # restarted at the very same second
    assert await again.tick_once(at(1)) == {"e": []}
    assert await again.tick_once(at(2)) == {"e": [at(2)]}
    assert bus.times() == ["2024-01-10 12:01:00 +0000 UTC", "2024-01-10 12:02:00 +0000 UTC"]


def record_dir(data_dir: Path) -> Path:
    return data_dir / "eventsources" / "calendar"


@pytest.mark.parametrize(
    ("catchup", "expected"),
    [
        ({"enabled": True}, [at(m) for m in range(2, 11)]),
        ({"enabled": True, "maxDuration": "1h"}, [at(m) for m in range(2, 11)]),
        ({"enabled": True, "maxDuration": "5m"}, [at(m) for m in range(6, 11)]),
        ({"enabled": False}, []),
        (None, []),
    ],
    ids=["unbounded", "within-max", "beyond-max", "disabled", "no-persistence"],
)
async def test_catch_up_after_downtime(
    tmp_path: Path, catchup: dict[str, Any] | None, expected: list[datetime]
) -> None:
    bus = StubBus()
    spec: dict[str, Any] = {"schedule": "* * * * *"}
    if catchup is not None:
        spec["persistence"] = {"catchup": catchup}
    first = make(bus, {"e": spec}, data_dir=tmp_path)
    await first.tick_once(T0)
    await first.tick_once(at(1, 30))  # fires 12:01, then sluice is down until 12:10:30

    restarted = make(bus, {"e": spec}, data_dir=tmp_path)
    assert await restarted.tick_once(at(10, 30)) == {"e": expected}
    assert await restarted.tick_once(at(11)) == {"e": [at(11)]}
    assert record(tmp_path)["time"] == "2024-01-10T12:11:00Z"


async def test_max_duration_drops_refused_ticks_but_keeps_the_interval_phase(
    tmp_path: Path,
) -> None:
    bus = StubBus()
    persistence = {"catchup": {"enabled": True, "maxDuration": "90s"}}
    source = make(bus, {"e": {"interval": "2m", "persistence": persistence}}, data_dir=tmp_path)
    await source.tick_once(at(0))
    assert await source.tick_once(at(2)) == {"e": [at(2)]}
    assert await source.tick_once(at(4)) == {"e": [at(4)]}  # 4 min since the last: still due
    bus.down = True
    for minute in (6, 8, 10):
        assert await source.tick_once(at(minute)) == {"e": []}
    bus.down = False
    # 12:06 and 12:08 were refused until they were older than 90s: dropped, not the phase
    assert await source.tick_once(at(10)) == {"e": [at(10)]}
    assert record(tmp_path)["time"] == "2024-01-10T12:10:00Z"


async def test_a_record_ahead_of_the_clock_is_not_repeated(tmp_path: Path) -> None:
    bus = StubBus()
    first = make(bus, {"e": {"schedule": "* * * * *"}}, data_dir=tmp_path)
    await first.tick_once(T0)
    await first.tick_once(at(2))
    restarted = make(bus, {"e": {"schedule": "* * * * *"}}, data_dir=tmp_path)
    assert await restarted.tick_once(at(1, 30)) == {"e": []}  # the clock went back
    assert await restarted.tick_once(at(2, 30)) == {"e": []}
    assert await restarted.tick_once(at(3)) == {"e": [at(3)]}


async def test_a_refused_tick_is_not_recorded_and_is_retried_with_catch_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bus = StubBus()
    spec = {"schedule": "* * * * *", "persistence": {"catchup": {"enabled": True}}}
    source = make(bus, {"e": spec}, data_dir=tmp_path)
    await source.tick_once(T0)
    await source.tick_once(at(1))
    bus.down = True
    assert await source.tick_once(at(2)) == {"e": []}
    assert record(tmp_path)["time"] == "2024-01-10T12:01:00Z"
    assert "not recorded as fired" in caplog.text

    restarted = make(bus, {"e": spec}, data_dir=tmp_path)  # also after a restart
    assert await restarted.tick_once(at(2, 5)) == {"e": []}
    bus.down = False
    assert await restarted.tick_once(at(2, 10)) == {"e": [at(2)]}
    ids = [msg_id for _, _, msg_id in bus.published]
    assert len(set(ids)) == 2


async def test_a_refused_tick_without_catch_up_is_dropped(tmp_path: Path) -> None:
    bus = StubBus()
    source = make(bus, {"e": {"schedule": "* * * * *"}}, data_dir=tmp_path)
    await source.tick_once(T0)
    bus.down = True
    assert await source.tick_once(at(1)) == {"e": []}
    assert not record_dir(tmp_path).exists()
    bus.down = False
    assert await source.tick_once(at(2)) == {"e": [at(2)]}


async def test_a_tick_sent_again_after_a_crash_keeps_its_event_id(tmp_path: Path) -> None:
    bus = StubBus()
    spec = {"schedule": "* * * * *", "persistence": {"catchup": {"enabled": True}}}
    first = make(bus, {"e": spec}, data_dir=tmp_path)
    await first.tick_once(T0)
    await first.tick_once(at(1))
    await first.tick_once(at(2))
    # a crash between the bus ack of 12:02 and its record: the record still says 12:01
    (record_dir(tmp_path) / "default.cal.e.json").write_text(
        json.dumps({"time": "2024-01-10T12:01:00Z"})
    )
    again = make(bus, {"e": spec}, data_dir=tmp_path)
    assert await again.tick_once(at(2, 30)) == {"e": [at(2)]}
    assert bus.published[1][2] == bus.published[2][2]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"schedule": "61 * * * *"},
            "spec.calendar.e.schedule: invalid cron expression '61 * * * *'",
        ),
        (
            {"schedule": "* * * * * *"},
            "invalid cron expression '* * * * * *': expected 5 fields, found 6",
        ),
        ({"schedule": "@hourly"}, "invalid cron expression '@hourly'"),
        ({"schedule": "0 0 31 2 *"}, "invalid cron expression '0 0 31 2 *'"),
        ({"schedule": "* * * * *", "timezone": "Mars/Olympus"}, "e.timezone: unknown time zone"),
        ({"interval": "10"}, "spec.calendar.e.interval: '10' is not a duration"),
        ({"interval": "-1s"}, "spec.calendar.e.interval: '-1s' must be positive"),
        ({}, "spec.calendar.e: must have either schedule or interval"),
        (
            {"interval": "1s", "exclusionDates": ["EXDATE:2024-01-01"]},
            "e.exclusionDates: '2024-01-01' is not a date-time like 20060102T150405Z",
        ),
        (
            {"interval": "1s", "persistence": {"catchup": {"enabled": True, "maxDuration": "x"}}},
            "e.persistence.catchup.maxDuration: 'x' is not a duration",
        ),
    ],
    ids=[
        "cron-range",
        "cron-seconds",
        "cron-descriptor",
        "cron-never",
        "timezone",
        "interval-unit",
        "interval-negative",
        "neither",
        "exdate",
        "max-duration",
    ],
)
def test_spec_errors_name_the_field(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)) as info:
        make(StubBus(), {"e": spec})
    assert info.value.problems[0].startswith("eventsource/cal: spec.calendar.e")


def test_every_event_problem_is_reported() -> None:
    with pytest.raises(SpecError) as info:
        make(StubBus(), {"a": {"schedule": "x"}, "b": {"interval": "1s", "timezone": "Nope/No"}})
    assert len(info.value.problems) == 2


def test_cron_tz_prefix_sets_the_schedule_zone() -> None:
    source = make(StubBus(), {"e": {"schedule": "CRON_TZ=Asia/Tokyo 0 9 * * *"}})
    source.timers["e"].resume(at(0))
    assert source.timers["e"].next_tick() == datetime(2024, 1, 11, 0, tzinfo=UTC)

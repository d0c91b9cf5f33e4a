"""sluice.render_resources: argo's template and cron screens, and NEXT RUN, at a fixed now."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sluice.render_resources import (
    next_run,
    render_cron,
    render_cron_list,
    render_template,
    render_template_list,
    schedule_string,
)

NOW = datetime(2024, 1, 1, 12, 3, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"schedule": "*/5 * * * *"}, "*/5 * * * *"),
        ({"schedules": ["0 1 * * *", "0 2 * * *"]}, "0 1 * * *,0 2 * * *"),
        (
            {"schedules": ["0 1 * * *", "0 2 * * *"], "timezone": "Asia/Tokyo"},
            "CRON_TZ=Asia/Tokyo 0 1 * * *,CRON_TZ=Asia/Tokyo 0 2 * * *",
        ),
        ({"schedule": "@hourly", "schedules": ["0 2 * * *"]}, "@hourly"),
        ({}, ""),
    ],
    ids=["schedule", "schedules", "timezone", "schedule-wins", "none"],
)
def test_schedule_string(spec: dict[str, Any], expected: str) -> None:
    assert schedule_string(spec) == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"schedules": ["*/5 * * * *"]}, datetime(2024, 1, 1, 12, 5, tzinfo=UTC)),
        ({"schedule": "@hourly"}, datetime(2024, 1, 1, 13, 0, tzinfo=UTC)),
        ({"schedules": ["0 0 * * *", "30 12 * * *"]}, datetime(2024, 1, 1, 12, 30, tzinfo=UTC)),
        # 21:03 in Tokyo: its next 9:00 is 00:00 UTC the next day
        ({"schedules": ["0 9 * * *"], "timezone": "Asia/Tokyo"}, datetime(2024, 1, 2, tzinfo=UTC)),
        ({"schedules": ["CRON_TZ=Asia/Tokyo 0 9 * * *"]}, datetime(2024, 1, 2, tzinfo=UTC)),
        ({"schedules": ["0 9 * * *", "nonsense"]}, None),
        ({"schedules": ["0 9 * * *"], "timezone": "Mars/Olympus"}, None),
        ({}, None),
    ],
    ids=["every-5m", "descriptor", "earliest", "zone", "cron-tz", "invalid", "bad-zone", "none"],
)
def test_next_run(spec: dict[str, Any], expected: datetime | None) -> None:
    assert next_run(spec, NOW) == expected


def test_render_template_and_list() -> None:
    tmpl = {
        "kind": "WorkflowTemplate",
        "metadata": {"name": "lib", "namespace": "ns", "creationTimestamp": "2024-01-01T12:03:00Z"},
    }
    assert render_template(tmpl, NOW) == (
        "Name:                lib\n"
        "Namespace:           ns\n"
        "Created:             Mon Jan 01 12:03:00 +0000 (10 seconds ago)\n"
    )
    cluster = {**tmpl, "kind": "ClusterWorkflowTemplate"}
    assert "Namespace:" not in render_template(cluster, NOW)
    names = [{"metadata": {"name": n}} for n in ("a", "longer-name")]
    assert render_template_list(names) == "NAME\na             \nlonger-name   \n"
    assert render_template_list([]) == "NAME\n"


CRON: dict[str, Any] = {
    "metadata": {"name": "nightly", "namespace": "ops", "creationTimestamp": "2024-01-01T10:00Z"},
    "spec": {
        "schedules": ["*/5 * * * *"],
        "timezone": "UTC",
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": 0,
        "workflowSpec": {
            "arguments": {"parameters": [{"name": "a", "value": "1"}, {"name": "b"}]},
        },
    },
    "status": {
        "lastScheduledTime": "2024-01-01T12:00:00Z",
        "active": [{"name": "nightly-1"}, {"name": "nightly-2"}],
        "conditions": [{"type": "SubmissionError", "status": "True", "message": "boom"}],
    },
}


def test_render_cron_as_argo_cron_get() -> None:
    assert render_cron(CRON, NOW) == (
        "Name:                          nightly\n"
        "Namespace:                     ops\n"
        "Created:                       Mon Jan 01 10:00:00 +0000 (2 hours ago)\n"
        "Schedules:                     CRON_TZ=UTC */5 * * * *\n"
        "Suspended:                     false\n"
        "Timezone:                      UTC\n"
        "StartingDeadlineSeconds:       0\n"
        "ConcurrencyPolicy:             Forbid\n"
        "LastScheduledTime:             Mon Jan 01 12:00:00 +0000 (3 minutes ago)\n"
        "NextScheduledTime:             Mon Jan 01 12:05:00 +0000 (1 minute from now)"
        " (assumes workflow-controller is in UTC)\n"
        "Active Workflows:              nightly-1, nightly-2\n"
        "Conditions:                    \n"
        "✖ SubmissionError              boom\n"
        "Workflow Parameters:           \n"
        "  a:                           1\n"
    )


def test_render_cron_list_as_argo_cron_list() -> None:
    fresh = {
        "metadata": {"name": "fresh", "creationTimestamp": "2024-01-01T12:03:00Z"},
        "spec": {"schedule": "nonsense", "suspend": True},
    }
    assert render_cron_list([CRON, fresh], NOW) == (
        "NAME      AGE   LAST RUN   NEXT RUN   SCHEDULES                 TIMEZONE   SUSPENDED\n"
        "nightly   2h    3m         1m         CRON_TZ=UTC */5 * * * *   UTC        false\n"
        "fresh     10s   N/A        N/A        nonsense                             true\n"
    )

"""GitLab's ``events`` names become the X-Gitlab-Event values they allow."""

from __future__ import annotations

import pytest

from eventsource.sources.gitlab import HOOK_EVENTS, hook_events
from sluice.core.errors import SpecError


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        (None, None),
        ([], None),
        (["*"], None),
        (["PushEvents"], {"Push Hook"}),
        (["TagPushEvents", "MergeRequestsEvents"], {"Tag Push Hook", "Merge Request Hook"}),
    ],
    ids=["none", "empty", "star", "push", "two"],
)
def test_hook_events(events: list[str] | None, expected: set[str] | None) -> None:
    assert hook_events(events, "w") == expected


def test_unknown_event_names_are_spec_errors() -> None:
    with pytest.raises(SpecError, match=r"w\.events: unknown event 'Push Hook'"):
        hook_events(["PushEvents", "Push Hook"], "w")


def test_every_event_maps_to_a_hook_header() -> None:
    assert all(value.endswith(" Hook") for value in HOOK_EVENTS.values())
    assert len(set(HOOK_EVENTS.values())) == len(HOOK_EVENTS)

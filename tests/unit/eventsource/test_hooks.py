"""What the SaaS webhook sources share: Argo's examples build, specs are checked at build."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eventsource.models import parse_event_source
from eventsource.registry import SOURCES
from eventsource.sources import bitbucketserver, github, gitlab, slack
from eventsource.sources.hooks import allowed
from sluice.core.errors import SpecError
from sluice.core.resources import load_file

ROOT = Path(__file__).resolve().parents[3]
KEYS = [slack.SlackSource, github.GithubSource, gitlab.GitlabSource]
KEYS += [bitbucketserver.BitbucketServerSource]


class Adaptor:
    source_name = "es"


def build(key: str, event: dict[str, Any]) -> Any:
    raw = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventSource",
        "metadata": {"name": "es"},
        "spec": {key: {"e": event}},
    }
    return SOURCES[key](parse_event_source(raw), Adaptor())


@pytest.mark.parametrize("source", KEYS, ids=[s.yaml_key for s in KEYS])
def test_the_argo_example_builds(source: Any) -> None:
    [raw] = load_file(ROOT / "examples" / "eventsources" / f"{source.yaml_key}.yaml")
    built = SOURCES[source.yaml_key](parse_event_source(raw), Adaptor())
    assert built.routes
    assert all(route.kind == source.yaml_key for _, route in built.routes)


@pytest.mark.parametrize(
    ("key", "event", "problem"),
    [
        ("github", {}, "spec.github.e.webhook is required"),
        ("slack", {"webhook": {"endpoint": "x", "method": "POST", "port": "1"}}, "endpoint"),
        ("gitlab", {"webhook": {"endpoint": "/x", "method": "POST", "port": "p"}}, "port"),
        (
            "github",
            {"webhook": {"endpoint": "/x", "method": "POST", "port": "1"}, "contentType": "xml"},
            'must be "json" or "form"',
        ),
        (
            "gitlab",
            {"webhook": {"endpoint": "/x", "method": "POST", "port": "1"}, "events": ["Nope"]},
            "unknown event 'Nope'",
        ),
    ],
    ids=["no-webhook", "bad-endpoint", "bad-port", "content-type", "gitlab-event"],
)
def test_spec_problems_fail_the_build(key: str, event: dict[str, Any], problem: str) -> None:
    with pytest.raises(SpecError, match=problem):
        build(key, event)


@pytest.mark.parametrize(
    ("event", "events", "expected"),
    [
        ("push", None, True),
        ("push", [], True),
        ("push", ["*"], True),
        ("push", ["push"], True),
        ("issues", ["push"], False),
        ("", ["push"], False),
    ],
    ids=["none", "empty", "star", "listed", "unlisted", "no-header"],
)
def test_allowed(event: str, events: list[str] | None, expected: bool) -> None:
    assert allowed(event, events) is expected

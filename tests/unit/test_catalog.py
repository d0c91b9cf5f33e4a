"""sluice.catalog: every kind by its kubectl names, and lint across components."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sluice.catalog import KINDS, find_kind, lint_paths

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("EventSource", "EventSource"),
        ("eventsources", "EventSource"),
        ("eventsource", "EventSource"),
        ("es", "EventSource"),
        ("sensors", "Sensor"),
        ("eventbus", "EventBus"),
        ("wf", "Workflow"),
        ("cwf", "CronWorkflow"),
        ("wftmpl", "WorkflowTemplate"),
        ("clusterworkflowtemplates", "ClusterWorkflowTemplate"),
    ],
    ids=lambda v: str(v),
)
def test_kinds_by_any_name(text: str, kind: str) -> None:
    found = find_kind(text)
    assert found is not None and found.name == kind


def test_an_unknown_kind_is_none() -> None:
    assert find_kind("pods") is None
    assert set(KINDS) >= {"Workflow", "EventSource", "EventBus", "Sensor", "CronWorkflow"}


@pytest.mark.parametrize(
    "folder",
    ["examples/eventsources", "examples/workflows", "examples/up", "examples/sensors"],
    ids=str,
)
def test_the_examples_lint_clean(folder: str) -> None:
    assert lint_paths([ROOT / folder]) == []


def test_lint_reports_every_kind_in_file_order(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        textwrap.dedent("""\
        apiVersion: argoproj.io/v1alpha1
        kind: EventSource
        metadata: {name: hook}
        spec:
          webhook:
            e: {port: "12000", endpoint: /x, methd: POST}
        ---
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {generateName: w-}
        spec:
          entrypoint: main
          templates:
            - name: main
              steps: [[{name: s, template: missing}]]
        ---
        apiVersion: argoproj.io/v1alpha1
        kind: EventBus
        metadata: {name: default}
        spec:
          jetstream:
            streamConfig: |
              maxAge: forever
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: p}
        """)
    )
    problems = lint_paths([tmp_path])
    assert len(problems) == 4, problems
    assert "document 1 (EventSource hook): spec.webhook.e.methd: unknown field" in problems[0]
    assert "document 2 (Workflow w-)" in problems[1] and "missing" in problems[1]
    assert "document 3 (EventBus default)" in problems[2] and "maxAge" in problems[2]
    assert "document 4 (Pod p): kind: unknown kind 'Pod'" in problems[3]


def test_lint_checks_sensors(tmp_path: Path) -> None:
    (tmp_path / "sensor.yaml").write_text(
        textwrap.dedent("""\
        apiVersion: argoproj.io/v1alpha1
        kind: Sensor
        metadata: {name: hook}
        spec:
          dependencies:
            - {name: dep-a, eventSourceName: webhook, eventName: example}
          triggers:
            - template: {name: t, conditions: "dep-a && dep-b", log: {}}
        ---
        apiVersion: argoproj.io/v1alpha1
        kind: Sensor
        metadata: {name: typo}
        spec:
          dependencies: [{name: d, eventSourceName: calendar, eventName: tick}]
          triggers: [{template: {name: t, log: {}}, retryStratgy: {steps: 3}}]
        ---
        apiVersion: argoproj.io/v1alpha1
        kind: Sensor
        metadata: {name: fine}
        spec:
          dependencies: [{name: d, eventSourceName: calendar, eventName: tick}]
          triggers: [{template: {name: t, log: {}}}]
        """)
    )
    assert lint_paths([tmp_path]) == [
        f"{tmp_path / 'sensor.yaml'}: document 1 (Sensor hook): "
        "spec.triggers[0].template.conditions: unknown dependency 'dep-b'; did you mean 'dep-a'?",
        f"{tmp_path / 'sensor.yaml'}: document 2 (Sensor typo): "
        "spec.triggers[0].retryStratgy: unknown field; did you mean 'retryStrategy'?",
    ]

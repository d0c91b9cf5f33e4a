"""engine.templates: the registry of stored templates and crons, on a SQLite store."""

from __future__ import annotations

import copy
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.store.sqlite import SQLiteStore
from engine.templates import (
    TemplateRegistry,
    stored_kind,
    workflow_from_cron,
    workflow_from_template,
)
from sluice.core.errors import ConflictError, NotFoundError, SpecError
from tests.conftest import FakeClock

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def manifest(text: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(textwrap.dedent(text))
    return data


LIBRARY = manifest(
    """
    apiVersion: argoproj.io/v1alpha1
    kind: WorkflowTemplate
    metadata: {name: lib}
    spec:
      entrypoint: print
      templates:
      - name: print
        inputs: {parameters: [{name: message}]}
        container: {image: busybox, command: [echo], args: ["{{inputs.parameters.message}}"]}
      - name: other
        container: {image: busybox, command: ["true"]}
    """
)

CLUSTER = {**copy.deepcopy(LIBRARY), "kind": "ClusterWorkflowTemplate"}
CLUSTER["metadata"] = {"name": "shared", "namespace": "ignored"}

CRON = manifest(
    """
    apiVersion: argoproj.io/v1alpha1
    kind: CronWorkflow
    metadata: {name: nightly, namespace: ops}
    spec:
      schedules: ["0 2 * * *"]
      timezone: Europe/Paris
      workflowMetadata:
        labels: {team: data}
        annotations: {note: nightly}
      workflowSpec:
        entrypoint: main
        templates:
        - {name: main, container: {image: busybox, command: [echo, hi]}}
    """
)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[TemplateRegistry]:
    store = SQLiteStore(tmp_path / "sluice.db")
    clock = FakeClock()
    clock.t = NOW
    yield TemplateRegistry(store, clock)
    store.close()


def test_create_fills_in_metadata_and_returns_what_is_stored(registry: TemplateRegistry) -> None:
    created = registry.create(LIBRARY, "lib.yaml")
    meta = created["metadata"]
    assert meta["name"] == "lib" and meta["namespace"] == "default"
    assert meta["creationTimestamp"] == "2024-05-06T07:08:09Z"
    assert len(meta["uid"]) == 36 and meta["generation"] == 1
    assert created["spec"] == LIBRARY["spec"]
    assert registry.get("WorkflowTemplate", "default", "lib") == created
    assert "namespace" not in LIBRARY["metadata"]  # the caller's manifest is left alone


def test_cluster_templates_have_no_namespace(registry: TemplateRegistry) -> None:
    created = registry.create(CLUSTER, "c.yaml")
    assert "namespace" not in created["metadata"]
    assert registry.get("ClusterWorkflowTemplate", "anything", "shared") == created
    assert registry.list("ClusterWorkflowTemplate", "default") == [created]
    registry.delete("ClusterWorkflowTemplate", "", "shared")
    assert registry.list("ClusterWorkflowTemplate") == []


def test_an_existing_resource_conflicts_unless_upserted(registry: TemplateRegistry) -> None:
    first = registry.create(LIBRARY, "lib.yaml")
    with pytest.raises(
        ConflictError, match=r'^workflowtemplates.argoproj.io "lib" already exists$'
    ):
        registry.create(LIBRARY, "lib.yaml")
    changed = copy.deepcopy(LIBRARY)
    changed["spec"]["entrypoint"] = "other"
    registry.clock.t = datetime(2025, 1, 1, tzinfo=UTC)  # type: ignore[attr-defined]
    second = registry.create(changed, "lib.yaml", upsert=True)
    assert second["spec"]["entrypoint"] == "other"
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    assert second["metadata"]["creationTimestamp"] == first["metadata"]["creationTimestamp"]
    assert second["metadata"]["generation"] == 2
    assert registry.create(LIBRARY, "x", kind="WorkflowTemplate", upsert=True)  # same name again


def test_upserting_a_cron_keeps_its_status(registry: TemplateRegistry) -> None:
    registry.create(CRON, "cron.yaml")
    stored = registry.get("CronWorkflow", "ops", "nightly")
    stored["status"] = {"lastScheduledTime": "2024-05-06T02:00:00Z"}
    registry.store.put_resource("CronWorkflow", "ops", "nightly", stored)
    again = registry.create(CRON, "cron.yaml", upsert=True)
    assert again["status"] == {"lastScheduledTime": "2024-05-06T02:00:00Z"}


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"spec": {"templates": [{"name": "a", "container": {"image": "x", "comand": ["y"]}}]}},
            "lib.yaml: spec.templates[0].container.comand: unknown field; did you mean 'command'?",
        ),
        (
            {"spec": {"templates": [{"name": "a", "steps": [[{"name": "s", "template": "b"}]]}]}},
            "lib.yaml: spec.templates[0].steps[0][0].template: unknown template 'b'",
        ),
        ({"apiVersion": "v1"}, "lib.yaml: apiVersion: must be 'argoproj.io/v1alpha1', got 'v1'"),
        ({"kind": "Workflow"}, "lib.yaml: kind: expected WorkflowTemplate, got 'Workflow'"),
        ({"metadata": {}}, "lib.yaml: metadata.name: required field is missing"),
    ],
    ids=["unknown-field", "unknown-template", "api-version", "other-kind", "no-name"],
)
def test_spec_errors_name_where_and_path(
    registry: TemplateRegistry, changes: dict[str, Any], problem: str
) -> None:
    with pytest.raises(SpecError) as caught:
        registry.create({**LIBRARY, **changes}, "lib.yaml", kind="WorkflowTemplate")
    assert problem in caught.value.problems
    assert registry.list("WorkflowTemplate") == []


def test_crons_are_checked_as_the_scheduler_reads_them(registry: TemplateRegistry) -> None:
    bad = copy.deepcopy(CRON)
    bad["spec"].update(schedules=["61 * * * *"], concurrencyPolicy="Sometimes")
    with pytest.raises(SpecError) as caught:
        registry.create(bad, "cron.yaml")
    assert [p.split(":")[:2] for p in caught.value.problems] == [
        ["cron.yaml", " spec.schedules[0]"],
        ["cron.yaml", " spec.concurrencyPolicy"],
    ]
    assert registry.list("CronWorkflow") == []


def test_a_workflow_is_not_a_stored_kind(registry: TemplateRegistry) -> None:
    with pytest.raises(
        SpecError, match="kind: expected WorkflowTemplate or ClusterWorkflowTemplate"
    ):
        registry.create({**LIBRARY, "kind": "Workflow"}, "wf.yaml")


def test_a_request_body_may_leave_out_kind_and_api_version(registry: TemplateRegistry) -> None:
    body = {k: v for k, v in CRON.items() if k not in ("kind", "apiVersion")}
    created = registry.create(body, "<request>", kind="CronWorkflow")
    assert created["kind"] == "CronWorkflow"
    assert created["apiVersion"] == "argoproj.io/v1alpha1"


def test_generate_name_gives_a_name(registry: TemplateRegistry) -> None:
    created = registry.create({**LIBRARY, "metadata": {"generateName": "lib-"}}, "lib.yaml")
    name = created["metadata"]["name"]
    assert name.startswith("lib-") and len(name) == len("lib-") + 5


def test_template_refs_are_checked_against_stored_templates(registry: TemplateRegistry) -> None:
    registry.create(LIBRARY, "lib.yaml")
    caller = manifest(
        """
        apiVersion: argoproj.io/v1alpha1
        kind: WorkflowTemplate
        metadata: {name: caller}
        spec:
          templates:
          - name: main
            steps: [[{name: s, templateRef: {name: lib, template: nope}}]]
        """
    )
    with pytest.raises(SpecError) as caught:
        registry.create(caller, "caller.yaml")
    assert caught.value.problems == [
        "caller.yaml: spec.templates[0].steps[0][0].templateRef.template:"
        " WorkflowTemplate 'lib' has no template 'nope'"
    ]
    caller["spec"]["templates"][0]["steps"][0][0]["templateRef"]["template"] = "print"
    registry.create(caller, "caller.yaml")
    # a template in another namespace or one not stored yet cannot be checked, so it passes
    caller["metadata"] = {"name": "elsewhere", "namespace": "other"}
    caller["spec"]["templates"][0]["steps"][0][0]["templateRef"]["template"] = "nope"
    registry.create(caller, "caller.yaml")


@pytest.mark.parametrize(
    ("kind", "plural"),
    [
        ("WorkflowTemplate", "workflowtemplates"),
        ("ClusterWorkflowTemplate", "clusterworkflowtemplates"),
        ("CronWorkflow", "cronworkflows"),
    ],
    ids=["template", "cluster-template", "cron"],
)
def test_missing_resources_are_not_found_in_kubernetes_words(
    registry: TemplateRegistry, kind: str, plural: str
) -> None:
    message = f'^{plural}.argoproj.io "x" not found$'
    with pytest.raises(NotFoundError, match=message):
        registry.get(kind, "default", "x")
    with pytest.raises(NotFoundError, match=message):
        registry.delete(kind, "default", "x")


def test_unknown_kinds_are_not_found(registry: TemplateRegistry) -> None:
    with pytest.raises(NotFoundError, match='resource type "Workflow"'):
        registry.list("Workflow")


def test_list_by_namespace_ordered_by_name(registry: TemplateRegistry) -> None:
    for name, namespace in [("b", "default"), ("a", "other"), ("c", "default"), ("a", "default")]:
        registry.create({**LIBRARY, "metadata": {"name": name, "namespace": namespace}}, "x")
    listed = registry.list("WorkflowTemplate", "default")
    assert [t["metadata"]["name"] for t in listed] == ["a", "b", "c"]
    everywhere = registry.list("WorkflowTemplate")
    assert [(t["metadata"]["name"], t["metadata"]["namespace"]) for t in everywhere] == [
        ("a", "default"), ("a", "other"), ("b", "default"), ("c", "default"),
    ]  # fmt: skip
    registry.delete("WorkflowTemplate", "default", "b")
    assert [t["metadata"]["name"] for t in registry.list("WorkflowTemplate", "default")] == [
        "a",
        "c",
    ]


def test_suspend_and_resume_a_cron(registry: TemplateRegistry) -> None:
    registry.create(CRON, "cron.yaml")
    suspended = registry.set_suspend("ops", "nightly", True)
    assert suspended["spec"]["suspend"] is True
    assert suspended["metadata"]["generation"] == 2
    resumed = registry.set_suspend("ops", "nightly", False)
    assert resumed["spec"]["suspend"] is False
    assert registry.get("CronWorkflow", "ops", "nightly") == resumed
    with pytest.raises(NotFoundError, match=r'cronworkflows\.argoproj\.io "nope" not found'):
        registry.set_suspend("ops", "nope", True)


def test_lookup_template_returns_the_template_as_yaml_writes_it(
    registry: TemplateRegistry,
) -> None:
    registry.create(LIBRARY, "lib.yaml")
    registry.create(CLUSTER, "c.yaml")
    found = registry.lookup_template("lib", "print", False, "default")
    assert found == LIBRARY["spec"]["templates"][0]
    found["name"] = "changed"  # a copy: the stored template is not touched
    assert registry.lookup_template("shared", "other", True, "anywhere")["name"] == "other"


@pytest.mark.parametrize(
    ("ref", "template", "cluster", "namespace", "message"),
    [
        ("nope", "print", False, "default", "workflow template nope not found"),
        ("lib", "print", False, "other", "workflow template lib not found"),
        ("lib", "print", True, "default", "workflow template lib not found"),
        ("lib", "nope", False, "default", "template nope not found in workflow template lib"),
        ("shared", "x", True, "", "template x not found in workflow template shared"),
    ],
    ids=["no-template", "other-namespace", "not-cluster-scoped", "no-such-template", "cluster"],
)
def test_lookup_template_errors_in_argos_words(
    registry: TemplateRegistry, ref: str, template: str, cluster: bool, namespace: str, message: str
) -> None:
    registry.create(LIBRARY, "lib.yaml")
    registry.create(CLUSTER, "c.yaml")
    with pytest.raises(NotFoundError) as caught:
        registry.lookup_template(ref, template, cluster, namespace)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("workflowtemplate", "WorkflowTemplate"),
        ("WorkflowTemplate", "WorkflowTemplate"),
        ("workflowtemplates", "WorkflowTemplate"),
        ("wftmpl", "WorkflowTemplate"),
        ("clusterworkflowtemplate", "ClusterWorkflowTemplate"),
        ("cwftmpl", "ClusterWorkflowTemplate"),
        ("cronworkflow", "CronWorkflow"),
        ("cronwf", "CronWorkflow"),
        ("cwf", "CronWorkflow"),
        ("workflow", None),
        ("Cronworkflow", None),
    ],
)
def test_stored_kind_accepts_argos_names(text: str, kind: str | None) -> None:
    found = stored_kind(text)
    assert (found.name if found else None) == kind


def test_workflow_from_template_refers_to_it() -> None:
    assert workflow_from_template("lib", False) == {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "generateName": "lib-",
            "labels": {"workflows.argoproj.io/workflow-template": "lib"},
        },
        "spec": {"workflowTemplateRef": {"name": "lib"}},
    }
    cluster = workflow_from_template("shared", True)
    assert cluster["spec"]["workflowTemplateRef"] == {"name": "shared", "clusterScope": True}
    assert cluster["metadata"]["labels"] == {
        "workflows.argoproj.io/cluster-workflow-template": "shared"
    }


def test_workflow_from_cron_takes_its_spec_and_metadata() -> None:
    wf = workflow_from_cron(CRON, NOW)
    assert wf["metadata"] == {
        "generateName": "nightly-",
        "labels": {"team": "data", "workflows.argoproj.io/cron-workflow": "nightly"},
        "annotations": {
            "note": "nightly",
            "workflows.argoproj.io/scheduled-time": "2024-05-06T07:08:09Z",
        },
    }
    assert wf["spec"] == CRON["spec"]["workflowSpec"]
    assert wf["spec"] is not CRON["spec"]["workflowSpec"]

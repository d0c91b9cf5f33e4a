"""Trigger registry, resource sources, workflow labels and args, and the workflow triggers."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from sensor.models import Trigger, TriggerTemplate
from sensor.models.artifacts import ArtifactLocation
from sensor.triggers import TRIGGERS, Firing, TriggerContext, TriggerError, build
from sensor.triggers.base import TRIGGER_TYPES, TriggerRegistry
from sensor.triggers.fetch import fetch_resource
from sensor.triggers.k8s import group_resource, resource_plural
from sensor.triggers.workflow import (
    ANNOTATION_EVENT_IDS,
    LABEL_ACTION_TIMESTAMP,
    LABEL_SENSOR,
    LABEL_TRIGGER,
    SubmitArgs,
    argo_labels,
    event_annotations,
    parse_args,
    submitter_error,
)
from sluice.core.errors import ConflictError, NotFoundError, SpecError, TemporaryError
from sluice.core.objects import LocalObjects
from tests.conftest import FakeClock

WORKFLOW = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"generateName": "hello-"},
    "spec": {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "x"}}]},
}


def firing(**events: dict[str, Any]) -> Firing:
    return Firing(
        namespace="team",
        sensor="webhook-sensor",
        trigger="run",
        events=events or {"dep": {"id": "e1", "data": {"a": 1}}},
        idempotency_key="sensor-key-1",
        labels={"extra": "yes"},
    )


def trigger(template: dict[str, Any], **rest: Any) -> Trigger:
    return Trigger.model_validate({"template": {"name": "run", **template}, **rest})


# ---- registry ---------------------------------------------------------------------------------
def test_trigger_types_are_the_template_trigger_fields() -> None:
    from sensor.models.trigger_types import TriggerType

    # read independently of the model's helper: fields whose type is a TriggerType subclass
    fields = {
        f.alias or name
        for name, f in TriggerTemplate.model_fields.items()
        if any(
            isinstance(arg, type) and issubclass(arg, TriggerType)
            for arg in getattr(f.annotation, "__args__", ())
        )
    }
    assert set(TRIGGER_TYPES) == fields
    assert {"k8s", "argoWorkflow", "http", "nats", "log", "slack"} <= fields


def test_registry_serves_the_supported_types() -> None:
    assert set(TRIGGERS) <= set(TRIGGER_TYPES)
    assert {"log", "http", "nats", "argoWorkflow", "k8s"} <= set(TRIGGERS)
    for key, cls in TRIGGERS.items():
        assert cls.key == key
    with pytest.raises(TypeError):
        TRIGGERS["log"] = object  # type: ignore[index]


@pytest.mark.parametrize(
    ("key", "message"),
    [("logs", "'logs' is not a trigger type"), ("log", "already served")],
    ids=["unknown-key", "duplicate"],
)
def test_register_rejects(key: str, message: str) -> None:
    reg = TriggerRegistry()
    reg.register("log")(TRIGGERS["log"])
    with pytest.raises(ValueError, match=message):
        reg.register(key)(TRIGGERS["http"])


def test_build_picks_the_type_and_reports_unsupported_ones() -> None:
    context = TriggerContext()
    assert type(build(trigger({"log": {}}), context)) is TRIGGERS["log"]
    with pytest.raises(TriggerError, match="the openWhisk trigger is not supported yet") as err:
        build(trigger({"openWhisk": {"host": "h"}}), context)
    assert not err.value.retryable


# ---- resource sources -------------------------------------------------------------------------
async def fetch(source: dict[str, Any], objects: LocalObjects | None = None) -> dict[str, Any]:
    location = ArtifactLocation.model_validate(source)
    return await fetch_resource(location, TriggerContext(objects=objects), "trigger t")


async def test_inline_file_configmap_and_resource_sources(tmp_path: Path) -> None:
    text = yaml.safe_dump(WORKFLOW)
    (tmp_path / "wf.yaml").write_text(text)
    (tmp_path / "configmaps").mkdir()
    (tmp_path / "configmaps" / "wfs.yaml").write_text(yaml.safe_dump({"data": {"hello": text}}))
    objects = LocalObjects(tmp_path)
    assert await fetch({"inline": text}) == WORKFLOW
    assert await fetch({"file": {"path": str(tmp_path / "wf.yaml")}}) == WORKFLOW
    assert await fetch({"configmap": {"name": "wfs", "key": "hello"}}, objects) == WORKFLOW
    resource = {"resource": WORKFLOW}
    fetched = await fetch(resource)
    assert fetched == WORKFLOW
    fetched["metadata"]["name"] = "changed"  # a fresh copy each time
    assert "name" not in WORKFLOW["metadata"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"s3": {"bucket": {"name": "b", "key": "k"}}}, "source s3 is not supported yet"),
        ({"git": {"url": "https://x", "filePath": "wf.yaml"}}, "source git is not supported yet"),
        ({"inline": "- a list"}, "expected a Kubernetes object"),
        ({"inline": "a: [unclosed"}, "not YAML"),
        ({"file": {"path": "/nonexistent/wf.yaml"}}, "No such file"),
        ({"configmap": {"name": "missing", "key": "k"}}, 'configmap "missing" not found'),
        ({}, "source sets no location"),
    ],
    ids=["s3", "git", "not-a-mapping", "bad-yaml", "missing-file", "missing-configmap", "empty"],
)
async def test_sources_that_fail_are_not_retried(
    tmp_path: Path, source: dict[str, Any], message: str
) -> None:
    with pytest.raises(TriggerError, match=message) as err:
        await fetch(source, LocalObjects(tmp_path))
    assert not err.value.retryable


async def test_no_source_is_an_error() -> None:
    with pytest.raises(TriggerError, match="has no source"):
        await fetch_resource(None, TriggerContext(), "trigger t")


# ---- labels, annotations, args ----------------------------------------------------------------
def test_argo_labels_and_event_ids_annotation() -> None:
    now = datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
    f = firing(b={"id": "id-b"}, a={"id": "id-a"})
    assert argo_labels(f, now) == {
        LABEL_SENSOR: "webhook-sensor",
        LABEL_TRIGGER: "run",
        LABEL_ACTION_TIMESTAMP: str(int(now.timestamp()) * 1000 + 250),
    }
    assert LABEL_SENSOR == "events.argoproj.io/sensor"
    assert LABEL_ACTION_TIMESTAMP == "events.argoproj.io/action-timestamp"
    assert event_annotations(f) == {ANNOTATION_EVENT_IDS: "id-a,id-b"}  # by dependency name


@pytest.mark.parametrize(
    ("args", "options", "labels"),
    [
        ([], SubmitArgs(), {}),
        (
            ["-p", "a=1", "--parameter=b=x=y", "--entrypoint", "main"],
            SubmitArgs(parameters={"a": "1", "b": "x=y"}, entrypoint="main"),
            {},
        ),
        (
            ["--serviceaccount", "sa", "--name=n", "--generate-name", "g-", "-l", "k=v,k2=v2"],
            SubmitArgs(service_account="sa", name="n", generate_name="g-"),
            {"k": "v", "k2": "v2"},
        ),
    ],
    ids=["none", "parameters-entrypoint", "names-labels"],
)
def test_parse_args(args: list[str], options: SubmitArgs, labels: dict[str, str]) -> None:
    assert parse_args(args, "t") == (options, labels)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--watch"], "'--watch' is not supported yet"),
        (["-p"], "-p needs a value"),
        (["-p", "novalue"], "expected NAME=VALUE"),
    ],
    ids=["unknown", "missing-value", "not-a-pair"],
)
def test_parse_args_rejects(args: list[str], message: str) -> None:
    with pytest.raises(TriggerError, match=message) as err:
        parse_args(args, "t")
    assert not err.value.retryable


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (SpecError(["bad"]), False),
        (NotFoundError("gone"), False),
        (ConflictError("exists"), False),
        (TemporaryError("later"), True),
        (OSError("reset"), True),
    ],
    ids=["spec", "not-found", "conflict", "temporary", "os"],
)
def test_submitter_errors(error: Exception, retryable: bool) -> None:
    assert submitter_error(error, "w").retryable is retryable


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow"}, ("argoproj.io", "workflows")),
        ({"apiVersion": "v1", "kind": "Pod"}, ("", "pods")),
        (
            {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"},
            ("networking.k8s.io", "ingresses"),
        ),
        ({"apiVersion": "v1", "kind": "NetworkPolicy"}, ("", "networkpolicies")),
        ({"apiVersion": "argoproj.io/v1alpha1", "kind": "EventBus"}, ("argoproj.io", "eventbus")),
    ],
    ids=["workflow", "pod", "ingress", "policy", "eventbus"],
)
def test_group_resource(obj: dict[str, Any], expected: tuple[str, str]) -> None:
    assert group_resource(obj) == expected
    assert resource_plural("Gateway") == "gateways"


# ---- the workflow triggers, against a recording submitter ------------------------------------
class Recorder:
    """A WorkflowSubmitter that records calls and answers like an engine would."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.error = error

    async def submit(self, manifest: dict[str, Any], **kw: Any) -> tuple[str, bool]:
        self.calls.append(("submit", (manifest, kw)))
        if self.error:
            raise self.error
        return "hello-abcde", False

    async def submit_from(self, kind: str, ns: str, name: str, **kw: Any) -> tuple[str, bool]:
        self.calls.append(("submit_from", (kind, ns, name, kw)))
        return f"{name}-xyz", True

    async def act(self, operation: str, namespace: str, name: str) -> str:
        self.calls.append(("act", (operation, namespace, name)))
        return name


async def fire(spec: dict[str, Any], submitter: Recorder, resource: Any = None) -> Any:
    context = TriggerContext(submitter=submitter, clock=FakeClock())
    impl = build(trigger(spec), context)
    if resource is None:
        resource = await impl.resource()
    return await impl.fire(firing(), resource)


async def test_argo_workflow_submit_labels_and_key() -> None:
    rec = Recorder()
    spec = {"argoWorkflow": {"source": {"resource": WORKFLOW}, "args": ["-p", "x=1"]}}
    outcome = await fire(spec, rec)
    assert (outcome.workflow, outcome.duplicate) == ("hello-abcde", False)
    [(call, (manifest, kw))] = rec.calls
    assert call == "submit"
    assert manifest["metadata"]["namespace"] == "team"  # the sensor's namespace
    assert kw["idempotency_key"] == "sensor-key-1"
    assert kw["labels"][LABEL_SENSOR] == "webhook-sensor"
    assert kw["labels"][LABEL_TRIGGER] == "run"
    assert kw["labels"]["extra"] == "yes"
    assert kw["annotations"] == {ANNOTATION_EVENT_IDS: "e1"}
    assert kw["args"] == SubmitArgs(parameters={"x": "1"})


async def test_argo_workflow_submit_from_and_actions() -> None:
    rec = Recorder()
    stub = {"kind": "WorkflowTemplate", "metadata": {"name": "tmpl", "namespace": "ops"}}
    source = {"source": {"resource": stub}}
    outcome = await fire({"argoWorkflow": {**source, "operation": "submit-from"}}, rec)
    assert (outcome.workflow, outcome.duplicate) == ("tmpl-xyz", True)
    kind, ns, name, kw = rec.calls[0][1]
    assert (kind, ns, name) == ("WorkflowTemplate", "ops", "tmpl")
    assert LABEL_SENSOR not in kw["labels"]  # Argo labels only what it submits
    outcome = await fire({"argoWorkflow": {**source, "operation": "resume"}}, rec)
    assert rec.calls[1] == ("act", ("resume", "ops", "tmpl"))
    assert outcome.workflow == "tmpl"


@pytest.mark.parametrize(
    ("spec", "resource", "message"),
    [
        ({"operation": "submit-from"}, {"kind": "Pod", "metadata": {"name": "p"}}, "invalid kind"),
        ({"operation": "resume"}, {"metadata": {"generateName": "x-"}}, "no name is given"),
        ({}, {"metadata": {}}, "neither name nor generateName"),
        ({"operation": "retry", "args": ["--memoized"]}, {"metadata": {"name": "w"}}, "args"),
        ({"operation": "explode"}, {"metadata": {"name": "w"}}, "unknown operation type"),
    ],
    ids=["kind", "no-name", "no-generate-name", "args", "operation"],
)
async def test_argo_workflow_rejects(
    spec: dict[str, Any], resource: dict[str, Any], message: str
) -> None:
    with pytest.raises(TriggerError, match=message) as err:
        await fire({"argoWorkflow": {"source": {"resource": {}}, **spec}}, Recorder(), resource)
    assert not err.value.retryable


async def test_submit_errors_keep_their_retryability() -> None:
    spec = {"argoWorkflow": {"source": {"resource": WORKFLOW}}}
    with pytest.raises(TriggerError, match="later") as err:
        await fire(spec, Recorder(TemporaryError("later")))
    assert err.value.retryable
    with pytest.raises(TriggerError, match="no workflow engine"):
        impl = build(trigger(spec), TriggerContext())
        await impl.fire(firing(), await impl.resource())


async def test_k8s_creates_workflows_only() -> None:
    rec = Recorder()
    outcome = await fire({"k8s": {"source": {"resource": WORKFLOW}}}, rec)
    assert outcome.workflow == "hello-abcde"
    assert rec.calls[0][1][1]["labels"][LABEL_TRIGGER] == "run"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    with pytest.raises(TriggerError, match="k8s trigger for core/pods is not supported yet"):
        await fire({"k8s": {"source": {"resource": pod}}}, rec)
    with pytest.raises(TriggerError, match=r"operation delete .* not supported yet"):
        await fire({"k8s": {"source": {"resource": WORKFLOW}, "operation": "delete"}}, rec)


# ---- log ----------------------------------------------------------------------------------------
async def test_log_trigger_logs_each_event_at_most_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    context = TriggerContext(clock=clock)
    spec = trigger({"log": {"intervalSeconds": 10}})

    async def run() -> str:
        impl = build(spec, context)
        return (await impl.fire(firing(), await impl.resource())).detail

    with caplog.at_level(logging.INFO, logger="sensor.triggers.log"):
        assert await run() == "logged 1 event(s)"
        clock.t += timedelta(seconds=5)
        assert (await run()).startswith("not logged")
        clock.t += timedelta(seconds=6)
        assert await run() == "logged 1 event(s)"
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[0].endswith('dependency dep: event e1: {"a":1}')
    assert caplog.records[0].dependencyName == "dep"  # type: ignore[attr-defined]


def test_secret_lookup_reads_local_objects(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "creds.yaml").write_text(
        yaml.safe_dump({"data": {"token": base64.b64encode(b"s3cret").decode()}})
    )
    context = TriggerContext(objects=LocalObjects(tmp_path))
    assert context.secret("secret", "creds", "token", "w") == "s3cret"
    with pytest.raises(TriggerError, match="couldn't find key nope"):
        context.secret("secret", "creds", "nope", "w")
    with pytest.raises(TriggerError, match="no local secrets"):
        TriggerContext().secret("secret", "creds", "token", "w")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"http": {"url": "example.com/hook"}}, "is not an http"),
        ({"http": {"url": "ftp://example.com/x"}}, "is not an http"),
        ({"http": {"url": "http://x", "tls": {"enabled": True}}}, "tls is not supported"),
        ({"nats": {"url": "nats://x", "subject": "s", "tls": {}}}, "tls is not supported"),
        ({"nats": {"url": "nats://x", "subject": "s"}}, "payload parameters are not specified"),
    ],
    ids=["no-scheme", "ftp", "http-tls", "nats-tls", "nats-no-payload"],
)
async def test_http_and_nats_spec_errors_are_permanent(spec: dict[str, Any], message: str) -> None:
    impl = build(trigger(spec), TriggerContext())
    with pytest.raises(TriggerError, match=message) as err:
        await impl.fire(firing(), await impl.resource(), None)
    assert not err.value.retryable

"""The EventSource model: Argo's examples load and round-trip, mistakes name their path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eventsource.models import EventSource, EventSourceSpec, event_type_fields, parse_event_source
from sluice.core.errors import SpecError
from sluice.core.resources import load_file

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples" / "eventsources").glob("*.yaml"))

# The event-type keys of EventSourceSpec in Argo Events (pkg/apis/events/v1alpha1).
ARGO_EVENT_TYPES = {
    "minio", "calendar", "file", "resource", "webhook", "amqp", "kafka", "mqtt", "nats",
    "sns", "sqs", "pubSub", "github", "gitlab", "hdfs", "slack", "storageGrid",
    "azureEventsHub", "stripe", "emitter", "redis", "nsq", "pulsar", "generic",
    "bitbucketserver", "bitbucket", "redisStream", "azureServiceBus", "azureQueueStorage",
    "sftp", "gerrit", "mns",
}  # fmt: skip


def resource(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventSource",
        "metadata": {"name": "es"},
        "spec": spec,
    }


def test_the_examples_are_there() -> None:
    names = {p.stem for p in EXAMPLES}
    for required in ("webhook", "calendar", "file", "aws-sqs", "aws-sns", "gcp-pubsub", "slack"):
        assert required in names


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_loads_and_round_trips(path: Path) -> None:
    raws = load_file(path)
    assert raws, f"{path} has no document"
    for raw in raws:
        es = parse_event_source(raw)
        assert es.model_dump(by_alias=True, exclude_none=True, mode="json") == raw.data
        assert es.spec.events(), f"{path} configures no event"


def test_a_full_webhook_and_calendar_round_trip() -> None:
    data = resource(
        {
            "eventBusName": "default",
            "replicas": 2,
            "template": {"serviceAccountName": "sa", "nodeSelector": {"disk": "ssd"}},
            "service": {"ports": [{"port": 12000, "targetPort": 12000}], "clusterIP": "None"},
            "webhook": {
                "example": {
                    "endpoint": "/example",
                    "port": "12000",
                    "method": "POST",
                    "url": "http://example.com",
                    "authSecret": {"name": "s", "key": "token"},
                    "maxPayloadSize": 1048576,
                    "serverCertSecret": {"name": "s", "key": "crt", "optional": True},
                    "serverKeySecret": {"name": "s", "key": "key"},
                    "metadata": {"team": "data"},
                    "filter": {"expression": "body.x == 1"},
                }
            },
            "calendar": {
                "tick": {
                    "schedule": "*/5 * * * *",
                    "exclusionDates": ["EXDATE:20190102T150405Z"],
                    "timezone": "Europe/Paris",
                    "persistence": {
                        "catchup": {"enabled": True, "maxDuration": "5m"},
                        "configMap": {"name": "cm", "createIfNotExist": True},
                    },
                }
            },
            "pubSub": {"gcs": {"projectID": "p", "topicProjectID": "t", "subscriptionID": "s"}},
            "sqs": {"q": {"roleARN": "arn:x", "queueAccountId": "1", "waitTimeSeconds": 20}},
        }
    )
    es = parse_event_source(data)
    assert es.to_yaml_dict() == data
    assert list(es.spec.events()) == ["calendar", "webhook", "sqs", "pubSub"]
    assert es.spec.webhook is not None
    assert es.spec.webhook["example"].max_payload_size == 1048576


PROBLEMS = [
    (
        "typo-in-event",
        {"webhook": {"example": {"prot": "12000"}}},
        "spec.webhook.example.prot: unknown field; did you mean 'port'?",
    ),
    (
        "typo-nested",
        {"calendar": {"tick": {"persistence": {"catchup": {"enabeld": True}}}}},
        "spec.calendar.tick.persistence.catchup.enabeld: unknown field; did you mean 'enabled'?",
    ),
    (
        "event-type-case",
        {"pubsub": {"e": {"topic": "t"}}},
        "spec.pubsub: unknown field; did you mean 'pubSub'?",
    ),
    (
        "irregular-alias",
        {"sns": {"e": {"roleArn": "arn"}}},
        "spec.sns.e.roleArn: unknown field; did you mean 'roleARN'?",
    ),
    (
        "port-is-a-string",
        {"webhook": {"example": {"port": 12000}}},
        "spec.webhook.example.port: Input should be a valid string",
    ),
    (
        "no-coercion-to-int",
        {"sqs": {"q": {"waitTimeSeconds": "20"}}},
        "spec.sqs.q.waitTimeSeconds: Input should be a valid integer",
    ),
    (
        "secret-needs-key",
        {"slack": {"s": {"token": {"name": "slack"}}}},
        "spec.slack.s.token.key: required field is missing",
    ),
    (
        "events-is-a-map",
        {"webhook": [{"port": "12000"}]},
        "spec.webhook: Input should be a valid dictionary",
    ),
]


@pytest.mark.parametrize(
    ("spec", "expected"), [p[1:] for p in PROBLEMS], ids=[p[0] for p in PROBLEMS]
)
def test_problem_names_its_path(spec: dict[str, Any], expected: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_event_source(resource(spec))
    assert caught.value.problems == [f"EventSource es: {expected}"]


def test_problems_in_a_file_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "es.yaml"
    path.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: EventSource\nmetadata: {name: es}\n"
        "spec:\n  webhook:\n    example: {prot: '1'}\n"
    )
    with pytest.raises(SpecError) as caught:
        parse_event_source(load_file(path)[0])
    assert caught.value.problems == [
        f"{path}: document 1 (EventSource es): spec.webhook.example.prot: unknown field; "
        "did you mean 'port'?"
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"kind": "Sensor", "spec": {}}, "kind: unknown kind 'Sensor'; expected EventSource"),
        ({"kind": "EventSource", "spec": {}}, "apiVersion: required field is missing"),
        (
            {"apiVersion": "v1", "kind": "EventSource", "spec": {}},
            "apiVersion: must be 'argoproj.io/v1alpha1', got 'v1'",
        ),
    ],
    ids=["wrong-kind", "no-api-version", "wrong-api-version"],
)
def test_resource_header(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_event_source(data)
    assert any(p.endswith(expected) for p in caught.value.problems), caught.value.problems


def test_model_has_every_argo_event_type() -> None:
    assert set(event_type_fields()) == ARGO_EVENT_TYPES
    assert len(event_type_fields()) == len(ARGO_EVENT_TYPES)


def test_deployment_fields_are_not_event_types() -> None:
    aliases = {f.alias for f in EventSourceSpec.model_fields.values()}
    assert aliases - set(event_type_fields()) == {
        "eventBusName",
        "template",
        "service",
        "replicas",
    }


def test_name_falls_back_to_generate_name() -> None:
    data = resource({"webhook": {}})
    data["metadata"] = {"generateName": "es-"}
    assert EventSource.model_validate(data).name == "es-"

"""The Sensor model: all of Argo's Sensor fields load and round-trip; mistakes name their path."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sensor import Sensor, parse_sensor
from sensor.models import TriggerTemplate, trigger_type_fields
from sluice.core.errors import SpecError
from sluice.core.resources import RawResource, parse_documents

# The trigger-type keys of Argo's TriggerTemplate (pkg/apis/events/v1alpha1/sensor_types.go).
ARGO_TRIGGER_TYPES = {
    "k8s", "argoWorkflow", "http", "awsLambda", "custom", "kafka", "nats", "slack", "openWhisk",
    "log", "azureEventHubs", "pulsar", "azureServiceBus", "email", "grpc", "gcpCloudFunctions",
}  # fmt: skip

SECRET = {"name": "creds", "key": "token"}
PARAM = {"src": {"dependencyName": "dep-a", "dataKey": "body.x"}, "dest": "x"}
WORKFLOW = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"generateName": "wf-"},
    "spec": {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "a"}}]},
}

# A Sensor that sets every field Argo's SensorSpec, EventDependency and Trigger have.
FULL: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Sensor",
    "metadata": {"name": "everything", "namespace": "argo-events", "labels": {"team": "data"}},
    "spec": {
        "template": {
            "serviceAccountName": "operate-workflow-sa",
            "container": {"env": [{"name": "LOG_LEVEL", "value": "debug"}]},
            "nodeSelector": {"disk": "ssd"},
            "metadata": {"labels": {"app": "sensor"}},
        },
        "eventBusName": "default",
        "replicas": 2,
        "revisionHistoryLimit": 3,
        "loggingFields": {"team": "data"},
        "errorOnFailedRound": True,
        "dependencies": [
            {
                "name": "dep-a",
                "eventSourceName": "webhook",
                "eventName": "example",
                "filtersLogicalOperator": "or",
                "transform": {"jq": ".body.message *= 2"},
                "filters": {
                    "dataLogicalOperator": "or",
                    "exprLogicalOperator": "and",
                    "data": [
                        {
                            "path": "body.value",
                            "type": "number",
                            "value": ["50.0"],
                            "comparator": ">=",
                        },
                        {
                            "path": "body.name",
                            "type": "string",
                            "value": ["^a.*"],
                            "template": "{{ .Input | lower }}",
                        },
                    ],
                    "exprs": [
                        {
                            "expr": 'a == "b" || c > 10',
                            "fields": [{"name": "a", "path": "a"}, {"name": "c", "path": "c"}],
                        },
                    ],
                    "context": {
                        "type": "webhook",
                        "source": "webhook",
                        "subject": "example",
                        "datacontenttype": "application/json",
                    },
                    "time": {
                        "start": "09:00:00",
                        "stop": "17:00:00",
                        "timezone": "America/New_York",
                    },
                },
            },
            {"name": "dep_b", "eventSourceName": "calendar", "eventName": "tick"},
        ],
        "triggers": [
            {
                "template": {
                    "name": "submit",
                    "conditions": "dep-a && (dep_b || dep-a)",
                    "conditionsReset": [
                        {"byTime": {"cron": "59 23 * * *", "timezone": "America/Los_Angeles"}}
                    ],
                    "argoWorkflow": {
                        "operation": "submit",
                        "args": ["--labels", "a=b"],
                        "source": {"resource": WORKFLOW},
                        "parameters": [
                            {
                                "src": {
                                    "dependencyName": "dep-a",
                                    "dataTemplate": "{{ .Input.body.x }}",
                                    "useRawData": True,
                                },
                                "dest": "spec.arguments.parameters.0.value",
                                "operation": "append",
                            },
                            {
                                "src": {
                                    "dependencyName": "dep_b",
                                    "contextKey": "time",
                                    "contextTemplate": "{{ .Input.time }}",
                                    "value": "now",
                                },
                                "dest": "metadata.generateName",
                                "operation": "prepend",
                            },
                        ],
                    },
                },
                "parameters": [
                    {"src": {"dependencyName": "dep-a", "dataKey": "body.name"}, "dest": "name"}
                ],
                "policy": {
                    "k8s": {
                        "labels": {"workflows.argoproj.io/phase": "Succeeded"},
                        "backoff": {"duration": "1s", "factor": 2, "jitter": 0.1, "steps": 5},
                        "errorOnBackoffTimeout": True,
                    }
                },
                "retryStrategy": {"steps": 3, "duration": 1000000000, "factor": 2.0, "jitter": 1},
                "rateLimit": {"unit": "Minute", "requestsPerUnit": 20},
                "atLeastOnce": True,
                "weight": 50,
                "dlqTrigger": {
                    "template": {"name": "dead-letters", "log": {"intervalSeconds": 10}},
                    "atLeastOnce": True,
                },
            },
            {
                "template": {
                    "name": "create",
                    "k8s": {
                        "operation": "create",
                        "source": {"resource": WORKFLOW},
                        "parameters": [PARAM],
                        "patchStrategy": "application/merge-patch+json",
                        "liveObject": False,
                    },
                },
            },
            {
                "template": {
                    "name": "call",
                    "http": {
                        "url": "http://localhost:8090/hello",
                        "method": "POST",
                        "payload": [{"src": {"dependencyName": "dep-a", "dataKey": "body"}}],
                        "headers": {"Content-Type": "application/json"},
                        "secureHeaders": [
                            {"name": "Authorization", "valueFrom": {"secretKeyRef": SECRET}}
                        ],
                        "basicAuth": {"username": SECRET, "password": SECRET},
                        "tls": {"caCertSecret": SECRET, "insecureSkipVerify": True},
                        "timeout": 10,
                        "parameters": [PARAM],
                    },
                },
                "policy": {"status": {"allow": [200, 201]}},
            },
        ],
    },
}

# One template per trigger type, as Argo's docs write them.
TRIGGER_TYPES: dict[str, dict[str, Any]] = {
    "k8s": {"operation": "create", "source": {"resource": WORKFLOW}, "parameters": [PARAM]},
    "argoWorkflow": {"operation": "submit", "source": {"resource": WORKFLOW}},
    "http": {"url": "http://x", "method": "GET", "payload": [PARAM], "parameters": [PARAM]},
    "log": {"intervalSeconds": 20},
    "nats": {
        "url": "nats://localhost:4222",
        "subject": "s",
        "payload": [PARAM],
        "parameters": [PARAM],
        "tls": {"insecureSkipVerify": True},
        "auth": {"token": SECRET},
    },
    "awsLambda": {
        "functionName": "hello",
        "region": "us-east-1",
        "payload": [PARAM],
        "accessKey": SECRET,
        "secretKey": SECRET,
        "invocationType": "Event",
        "roleARN": "arn:aws:iam::123:role/r",
    },
    "slack": {
        "slackToken": SECRET,
        "channel": "general",
        "message": "hi",
        "attachments": "[]",
        "blocks": "[]",
        "parameters": [PARAM],
        "thread": {"messageAggregationKey": "k", "broadcastMessageToChannel": True},
        "sender": {"username": "bot", "icon": ":robot_face:"},
    },
    "kafka": {
        "url": "kafka:9092",
        "topic": "t",
        "payload": [PARAM],
        "partition": 0,
        "requiredAcks": 1,
        "compress": True,
        "flushFrequency": 500,
        "partitioningKey": "k",
        "version": "2.5.0",
        "headers": {"h": "v"},
        "sasl": {"mechanism": "PLAIN", "userSecret": SECRET, "passwordSecret": SECRET},
        "schemaRegistry": {"url": "http://sr", "schemaId": 1, "auth": {"username": SECRET}},
    },
    "custom": {
        "serverURL": "trigger:9000",
        "secure": True,
        "certSecret": SECRET,
        "serverNameOverride": "trigger",
        "spec": {"url": "x"},
        "payload": [PARAM],
        "parameters": [PARAM],
    },
    "openWhisk": {
        "host": "ow",
        "actionName": "a",
        "payload": [PARAM],
        "version": "v1",
        "namespace": "_",
        "authToken": SECRET,
    },
    "azureEventHubs": {
        "fqdn": "ns.servicebus.windows.net",
        "hubName": "h",
        "sharedAccessKeyName": SECRET,
        "sharedAccessKey": SECRET,
        "payload": [PARAM],
    },
    "azureServiceBus": {"connectionString": SECRET, "queueName": "q", "payload": [PARAM]},
    "pulsar": {
        "url": "pulsar://p:6650",
        "topic": "t",
        "payload": [PARAM],
        "tlsTrustCertsSecret": SECRET,
        "tlsAllowInsecureConnection": True,
        "tlsValidateHostname": False,
        "authTokenSecret": SECRET,
        "connectionBackoff": {"steps": 2},
        "authAthenzParams": {"a": "b"},
    },
    "email": {
        "host": "smtp",
        "port": 587,
        "username": "u",
        "smtpPassword": SECRET,
        "to": ["a@b.c"],
        "from": "d@e.f",
        "subject": "s",
        "body": "b",
    },
    "grpc": {
        "url": "localhost:50051",
        "method": "/pkg.Svc/Call",
        "insecure": True,
        "schema": [{"name": "x", "number": 1, "type": "string"}],
        "payload": [PARAM],
        "timeout": 5,
    },
    "gcpCloudFunctions": {
        "url": "https://f.cloudfunctions.net/x",
        "method": "POST",
        "payload": [PARAM],
        "credentialSecret": SECRET,
    },
}


def sensor_with(template: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": "s"},
        "spec": {
            "dependencies": [{"name": "dep-a", "eventSourceName": "webhook", "eventName": "e"}],
            "triggers": [{"template": {"name": "t", **template}}],
        },
    }


def dump(sensor: Sensor) -> dict[str, Any]:
    return sensor.model_dump(by_alias=True, exclude_none=True, mode="json")


def test_every_field_loads_and_round_trips() -> None:
    sensor = parse_sensor(copy.deepcopy(FULL))
    assert dump(sensor) == FULL
    spec = sensor.spec
    assert sensor.name == "everything"
    assert spec.dependency_names() == ["dep-a", "dep_b"]
    assert spec.replicas == 2 and spec.event_bus_name == "default"
    assert spec.logging_fields == {"team": "data"} and spec.error_on_failed_round is True
    dep = spec.dependencies[0]
    assert dep.filters is not None and dep.filters.time is not None
    assert dep.filters.time.timezone == "America/New_York"
    assert dep.transform is not None and dep.transform.jq == ".body.message *= 2"
    trigger = spec.triggers[0]
    assert trigger.name == "submit" and trigger.at_least_once is True
    assert trigger.rate_limit is not None and trigger.rate_limit.requests_per_unit == 20
    assert trigger.dlq_trigger is not None and trigger.dlq_trigger.template.log is not None
    reset = trigger.template.conditions_reset
    assert reset is not None and reset[0].by_time is not None
    assert reset[0].by_time.cron == "59 23 * * *"
    assert list(trigger.template.trigger_types()) == ["argoWorkflow"]


def test_the_trigger_types_are_argos() -> None:
    assert set(trigger_type_fields()) == ARGO_TRIGGER_TYPES
    assert set(TRIGGER_TYPES) == ARGO_TRIGGER_TYPES


@pytest.mark.parametrize("key", sorted(TRIGGER_TYPES), ids=str)
def test_each_trigger_type_loads_and_round_trips(key: str) -> None:
    data = sensor_with({key: copy.deepcopy(TRIGGER_TYPES[key])})
    sensor = parse_sensor(copy.deepcopy(data))
    assert dump(sensor) == data
    assert list(sensor.spec.triggers[0].template.trigger_types()) == [key]


def test_trigger_types_is_keyed_by_yaml_name() -> None:
    template = TriggerTemplate.model_validate({"name": "t", "awsLambda": {"functionName": "f"}})
    assert list(template.trigger_types()) == ["awsLambda"]


def test_argos_lowercase_verifycert_is_kept_as_written() -> None:
    source = {"url": {"path": "https://x/wf.yaml", "verifycert": False}}
    data = sensor_with({"k8s": {"operation": "create", "source": source}})
    sensor = parse_sensor(copy.deepcopy(data))
    assert dump(sensor) == data
    k8s = sensor.spec.triggers[0].template.k8s
    assert k8s is not None and k8s.source is not None and k8s.source.url is not None
    assert k8s.source.url.verifies_cert is False


def test_a_document_from_yaml() -> None:
    (raw,) = parse_documents(
        """
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata: {name: from-yaml}
spec:
  dependencies: [{name: d, eventSourceName: calendar, eventName: tick}]
  triggers: [{template: {name: t, log: {}}}]
""",
        "s.yaml",
    )
    sensor = parse_sensor(raw)
    assert dump(sensor) == raw.data


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_sensor(RawResource(file="s.yaml", index=1, data=data))
    return info.value.problems


def edit(path: tuple[str | int, ...], key: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(FULL)
    node: Any = data
    for part in path:
        node = node[part]
    node[key] = value
    return data


DEP = ("spec", "dependencies", 0)
TRIGGER = ("spec", "triggers", 0)


@pytest.mark.parametrize(
    ("path", "key", "where", "suggestion"),
    [
        (("spec",), "dependancies", "spec.dependancies", "dependencies"),
        (("spec",), "eventBusNam", "spec.eventBusNam", "eventBusName"),
        (DEP, "eventSource", "spec.dependencies[0].eventSource", "eventSourceName"),
        (DEP, "filter", "spec.dependencies[0].filter", "filters"),
        (
            (*DEP, "filters"),
            "dataLogicalOp",
            "spec.dependencies[0].filters.dataLogicalOp",
            "dataLogicalOperator",
        ),
        (
            (*DEP, "filters", "data", 0),
            "comparater",
            "spec.dependencies[0].filters.data[0].comparater",
            "comparator",
        ),
        (
            (*DEP, "filters", "exprs", 0),
            "feilds",
            "spec.dependencies[0].filters.exprs[0].feilds",
            "fields",
        ),
        (
            (*DEP, "filters", "time"),
            "timeZone",
            "spec.dependencies[0].filters.time.timeZone",
            "timezone",
        ),
        (TRIGGER, "retryStratgy", "spec.triggers[0].retryStratgy", "retryStrategy"),
        (TRIGGER, "atLeastOne", "spec.triggers[0].atLeastOne", "atLeastOnce"),
        ((*TRIGGER, "template"), "condition", "spec.triggers[0].template.condition", "conditions"),
        (
            (*TRIGGER, "template", "argoWorkflow"),
            "operaton",
            "spec.triggers[0].template.argoWorkflow.operaton",
            "operation",
        ),
        (
            (*TRIGGER, "template", "argoWorkflow", "parameters", 0),
            "dst",
            "spec.triggers[0].template.argoWorkflow.parameters[0].dst",
            "dest",
        ),
        (
            (*TRIGGER, "rateLimit"),
            "requestPerUnit",
            "spec.triggers[0].rateLimit.requestPerUnit",
            "requestsPerUnit",
        ),
        (
            (*TRIGGER, "dlqTrigger", "template"),
            "lgo",
            "spec.triggers[0].dlqTrigger.template.lgo",
            "log",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and "." in v else None,
)
def test_a_typo_names_its_path_and_suggests_the_field(
    path: tuple[str | int, ...], key: str, where: str, suggestion: str
) -> None:
    problems = problems_of(edit(path, key, {}))
    assert any(
        f"s.yaml: document 1 (Sensor everything): {where}: unknown field; "
        f"did you mean '{suggestion}'?" in p
        for p in problems
    ), problems


@pytest.mark.parametrize(
    ("path", "key", "value", "where"),
    [
        (("spec",), "replicas", "2", "spec.replicas"),
        (("spec",), "errorOnFailedRound", "yes", "spec.errorOnFailedRound"),
        (("spec",), "loggingFields", {"n": 1}, "spec.loggingFields.n"),
        (TRIGGER, "retryStrategy", {"factor": "2"}, "spec.triggers[0].retryStrategy.factor"),
        (TRIGGER, "atLeastOnce", "true", "spec.triggers[0].atLeastOnce"),
        ((*DEP, "filters", "data", 0), "value", "50", "spec.dependencies[0].filters.data[0].value"),
    ],
    ids=lambda v: v if isinstance(v, str) and v.startswith("spec.") else None,
)
def test_a_value_of_the_wrong_type_names_its_path(
    path: tuple[str | int, ...], key: str, value: Any, where: str
) -> None:
    problems = problems_of(edit(path, key, value))
    assert any(f": {where}" in p for p in problems), problems


def test_a_missing_required_field_names_its_path() -> None:
    data = copy.deepcopy(FULL)
    del data["spec"]["triggers"][1]["template"]["name"]
    problems = problems_of(data)
    assert problems == [
        "s.yaml: document 1 (Sensor everything): spec.triggers[1].template.name: "
        "required field is missing"
    ]


def test_kind_and_api_version_are_checked() -> None:
    data = copy.deepcopy(FULL)
    data["apiVersion"] = "argoproj.io/v1"
    assert any("apiVersion: must be 'argoproj.io/v1alpha1'" in p for p in problems_of(data))
    data = copy.deepcopy(FULL)
    data["kind"] = "EventSource"
    assert any("kind: unknown kind 'EventSource'" in p for p in problems_of(data))

"""The sqs source's event data, spec checks, request parameters and per-message decisions (the
source itself runs against moto in tests/integration/eventsource/test_sqs.py)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from eventbus.errors import BusError, BusUnavailable
from eventsource.adaptor import Adaptor
from eventsource.models import parse_event_source
from eventsource.models.cloud import SQSEventSource
from eventsource.registry import SOURCES
from eventsource.secrets import LocalSecrets
from eventsource.sources.sqs import (
    Connection,
    MalformedMessage,
    SQSError,
    SQSQueue,
    SQSSource,
    event_data,
    message_attributes,
    session_name,
    spec_problems,
)
from sluice.core.errors import SpecError
from sluice.core.resources import load_file

EXAMPLE = Path(__file__).parents[3] / "examples" / "eventsources" / "aws-sqs.yaml"


def spec(**fields: Any) -> SQSEventSource:
    return SQSEventSource.model_validate({"region": "us-east-1", "queue": "q", **fields})


def message(body: str, **fields: Any) -> dict[str, Any]:
    return {"MessageId": "m-1", "ReceiptHandle": "rh-1", "Body": body, **fields}


def resource(**event: Any) -> Any:
    return parse_event_source(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "EventSource",
            "metadata": {"name": "es"},
            "spec": {"sqs": {"ev": {"region": "us-east-1", "queue": "q", **event}}},
        }
    )


def test_registered_under_its_yaml_key() -> None:
    assert SOURCES["sqs"] is SQSSource


def test_body_is_base64_by_default_as_go_marshals_bytes() -> None:
    assert event_data(message("héllo <b>"), spec()) == {
        "messageId": "m-1",
        "messageAttributes": None,  # Go's nil map
        "body": base64.b64encode("héllo <b>".encode()).decode(),
    }


@pytest.mark.parametrize(
    ("text", "body"),
    [
        ('{"Records": [{"s3": {}}]}', {"Records": [{"s3": {}}]}),
        (" [1, 2] ", [1, 2]),
        ("12345678901234567890", 12345678901234567890),
        ('"a string"', "a string"),
        ("null", None),
    ],
    ids=["object", "array", "big-int", "string", "null"],
)
def test_json_body_is_the_json_itself(text: str, body: Any) -> None:
    data = event_data(message(text), spec(jsonBody=True, metadata={"team": "data"}))
    assert data["body"] == body
    assert data["metadata"] == {"team": "data"}


@pytest.mark.parametrize(
    "text",
    ["not json", "", '{"open": ', "NaN", "[Infinity]"],
    ids=["text", "empty", "cut", "nan", "inf"],
)
def test_json_body_that_is_not_json_is_malformed(text: str) -> None:
    with pytest.raises(MalformedMessage, match="jsonBody is set but the body is not JSON"):
        event_data(message(text), spec(jsonBody=True))


def test_message_attributes_as_go_marshals_the_sdk_struct() -> None:
    raw = {
        "s": {"DataType": "String", "StringValue": "v"},
        "n": {"DataType": "Number.int", "StringValue": "7"},
        "b": {"DataType": "Binary", "BinaryValue": b"\xff\x00"},
        "l": {"DataType": "String", "StringListValues": ["x"], "BinaryListValues": [b"y"]},
    }
    assert message_attributes(raw) == {
        "s": {
            "BinaryListValues": None,
            "BinaryValue": None,
            "DataType": "String",
            "StringListValues": None,
            "StringValue": "v",
        },
        "n": {
            "BinaryListValues": None,
            "BinaryValue": None,
            "DataType": "Number.int",
            "StringListValues": None,
            "StringValue": "7",
        },
        "b": {
            "BinaryListValues": None,
            "BinaryValue": "/wA=",
            "DataType": "Binary",
            "StringListValues": None,
            "StringValue": None,
        },
        "l": {
            "BinaryListValues": ["eQ=="],
            "BinaryValue": None,
            "DataType": "String",
            "StringListValues": ["x"],
            "StringValue": None,
        },
    }
    assert list(message_attributes(raw)["s"]) == [  # type: ignore[index]
        "BinaryListValues",
        "BinaryValue",
        "DataType",
        "StringListValues",
        "StringValue",
    ]
    assert message_attributes({}) is None and message_attributes(None) is None


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"region": ""}, "es: spec.sqs.ev.region: must specify region"),
        ({"queue": None}, "es: spec.sqs.ev.queue: must specify queue name"),
        ({"waitTimeSeconds": 21}, "spec.sqs.ev.waitTimeSeconds: 21 is not between 0 and 20"),
        ({"waitTimeSeconds": -1}, "spec.sqs.ev.waitTimeSeconds: -1 is not between 0 and 20"),
        ({"accessKey": {"name": "a", "key": "k"}}, "spec.sqs.ev: accessKey and secretKey go"),
        ({"secretKey": {"name": "a", "key": "k"}}, "spec.sqs.ev: accessKey and secretKey go"),
        (
            {"sessionToken": {"name": "a", "key": "t"}},
            "spec.sqs.ev.sessionToken: needs accessKey and secretKey",
        ),
    ],
    ids=[
        "no-region",
        "no-queue",
        "wait-too-long",
        "wait-negative",
        "key-alone",
        "secret-alone",
        "token-alone",
    ],
)
def test_spec_errors_name_the_field(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(SpecError) as raised:
        SQSSource(resource(**fields), Adaptor(object(), "default", "es"))  # type: ignore[arg-type]
    assert any(problem in p for p in raised.value.problems), raised.value.problems


def test_a_good_spec_has_no_problems() -> None:
    keys = {"accessKey": {"name": "a", "key": "k"}, "secretKey": {"name": "a", "key": "s"}}
    assert spec_problems("w", spec(waitTimeSeconds=20, **keys)) == []
    assert spec_problems("w", spec(waitTimeSeconds=0)) == []


def test_the_argo_example_builds() -> None:
    [raw] = load_file(EXAMPLE)
    source = SQSSource(parse_event_source(raw), Adaptor(object(), "default", "aws-sqs"))  # type: ignore[arg-type]
    [queue] = source.queues
    assert queue.receive_params("https://q")["WaitTimeSeconds"] == 20


@pytest.mark.parametrize(
    ("wait", "expected"), [(None, 3), (0, 3), (1, 1), (20, 20)], ids=["unset", "zero", "1", "20"]
)
def test_receive_params_as_argo(wait: int | None, expected: int) -> None:
    queue = SQSQueue("ev", spec(waitTimeSeconds=wait), Adaptor(object(), "d", "es"), None)  # type: ignore[arg-type]
    assert queue.receive_params("https://q") == {
        "QueueUrl": "https://q",
        "MaxNumberOfMessages": 10,
        "WaitTimeSeconds": expected,
        "VisibilityTimeout": 120,
        "MessageAttributeNames": ["All"],
        "MessageSystemAttributeNames": ["ApproximateReceiveCount"],
    }


def test_credentials_come_from_secrets_or_the_default_chain(tmp_path: Path) -> None:
    folder = tmp_path / "secrets" / "aws"
    folder.mkdir(parents=True)
    (folder / "id").write_text("AKID\n")
    (folder / "key").write_text("sekrit")
    keys = {"accessKey": {"name": "aws", "key": "id"}, "secretKey": {"name": "aws", "key": "key"}}
    adaptor = Adaptor(object(), "d", "es")  # type: ignore[arg-type]
    queue = SQSQueue("ev", spec(**keys), adaptor, LocalSecrets(tmp_path))
    assert queue.session_kwargs() == {
        "region_name": "us-east-1",
        "aws_access_key_id": "AKID",
        "aws_secret_access_key": "sekrit",
    }
    assert SQSQueue("ev", spec(), adaptor, None).session_kwargs() == {"region_name": "us-east-1"}
    with pytest.raises(SpecError, match=r"spec\.sqs\.ev\.accessKey: reading secrets needs"):
        SQSQueue("ev", spec(**keys), adaptor, None).session_kwargs()
    token = {**keys, "sessionToken": {"name": "aws", "key": "token"}}
    with pytest.raises(SpecError, match=r"spec\.sqs\.ev\.sessionToken: couldn't find key token"):
        SQSQueue("ev", spec(**token), adaptor, LocalSecrets(tmp_path)).session_kwargs()


def test_session_name_is_a_valid_sts_name() -> None:
    assert session_name("my source", "ev/1") == "sluice-my-source-ev-1"
    assert len(session_name("s" * 80, "e")) == 64


class FakeClient:
    def __init__(self, error: str | None = None) -> None:
        self.deleted: list[str] = []
        self.error = error

    def delete_message(self, *, QueueUrl: str, ReceiptHandle: str) -> None:
        if self.error:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": self.error, "Message": "no"}}, "DeleteMessage"
            )
        self.deleted.append(ReceiptHandle)


class FakeAdaptor:
    source_name = "es"
    upstream_id = Adaptor.upstream_id  # the real id rule: no bus is involved

    def __init__(self, outcome: str | Exception | None) -> None:
        self.outcome = outcome
        self.calls: list[tuple[str, str, Any, str | None]] = []

    async def dispatch(
        self, name: str, event_type: str, data: Any, *, event_id: str | None = None
    ) -> str | None:
        self.calls.append((name, event_type, data, event_id))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@pytest.mark.parametrize(
    ("body", "fields", "outcome", "dispatched", "deleted", "kept"),
    [
        ('{"a": 1}', {"jsonBody": True}, "m-1", True, True, False),
        ('{"a": 1}', {"jsonBody": True}, None, True, True, False),
        ('{"a": 1}', {}, BusUnavailable("down"), True, False, True),
        ('{"a": 1}', {}, BusError("refused"), True, False, True),
        ("<xml/>", {"jsonBody": True}, "m-1", False, True, False),
        ("<xml/>", {"jsonBody": True, "dlq": True}, "m-1", False, False, True),
    ],
    ids=["stored", "filtered", "bus-down", "bus-refused", "malformed", "malformed-dlq"],
)
async def test_a_message_is_deleted_only_when_argo_would(
    body: str,
    fields: dict[str, Any],
    outcome: str | Exception | None,
    dispatched: bool,
    deleted: bool,
    kept: bool,
) -> None:
    adaptor = FakeAdaptor(outcome)
    queue = SQSQueue("ev", spec(**fields), adaptor, None)  # type: ignore[arg-type]
    client = FakeClient()
    await queue.handle(Connection(client, "https://q"), message(body))
    assert bool(adaptor.calls) == dispatched
    if dispatched:
        # the event id comes from the message id, so a redelivery is stored once
        assert adaptor.calls[0][0::3] == ("ev", adaptor.upstream_id("ev", "m-1"))
        assert adaptor.calls[0][1] == "sqs"
    assert client.deleted == (["rh-1"] if deleted else [])
    assert (queue.kept, queue.deleted) == (int(kept), int(deleted))


async def test_a_failed_delete_is_logged_and_an_expired_token_restarts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = SQSQueue("ev", spec(), FakeAdaptor("m-1"), None)  # type: ignore[arg-type]
    await queue.handle(Connection(FakeClient("InternalError"), "https://q"), message("x"))
    assert "deleting message m-1" in caplog.text and queue.deleted == 0
    with pytest.raises(SQSError, match="credentials expired"):
        await queue.handle(Connection(FakeClient("ExpiredToken"), "https://q"), message("x"))

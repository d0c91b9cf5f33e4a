"""The minio source's pure parts: records as minio-go decodes them, lines, the URL, the spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eventsource.models import parse_event_source
from eventsource.models.cloud import S3Artifact
from eventsource.sources.minio import MinioSource, event_record, listen_url, parse_line
from sluice.core.errors import SpecError
from sluice.core.resources import load_file

EMPTY = {
    "eventVersion": "",
    "eventSource": "",
    "awsRegion": "",
    "eventTime": "",
    "eventName": "",
    "userIdentity": {"principalId": ""},
    "requestParameters": None,
    "responseElements": None,
    "s3": {
        "s3SchemaVersion": "",
        "configurationId": "",
        "bucket": {"name": "", "ownerIdentity": {"principalId": ""}, "arn": ""},
        "object": {"key": "", "sequencer": ""},
    },
    "source": {"host": "", "port": "", "userAgent": ""},
}


def with_object(**fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {**EMPTY, "s3": {**EMPTY["s3"], "object": fields}}
    return out


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({}, EMPTY),
        ({"EVENTNAME": "s3:ObjectCreated:Put"}, EMPTY | {"eventName": "s3:ObjectCreated:Put"}),
        ({"glacierEventData": {"x": 1}, "eventTime": None}, EMPTY),
        (
            {"s3": {"object": {"key": "k", "size": 0, "eTag": "", "userMetadata": {}}}},
            with_object(key="k", sequencer=""),
        ),
        (
            {"s3": {"object": {"sequencer": "1", "versionId": "v", "size": 5, "key": "k"}}},
            with_object(key="k", size=5, versionId="v", sequencer="1"),
        ),
        ({"requestParameters": {}}, EMPTY | {"requestParameters": {}}),
    ],
    ids=[
        "empty",
        "any-case-name",
        "unknown-and-null-fields",
        "omitempty",
        "object-field-order",
        "empty-map-kept",
    ],
)
def test_event_record(record: dict[str, Any], expected: dict[str, Any]) -> None:
    got = event_record(record)
    assert got == expected
    assert list(got["s3"]["object"]) == list(expected["s3"]["object"])


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({"eventName": 1}, "eventName: 1 is not a string"),
        ({"s3": {"object": {"size": 1.5}}}, "size: 1.5 is not an integer"),
        ({"s3": {"object": {"size": True}}}, "is not an integer"),
        ({"responseElements": {"a": 1}}, "is not a map of strings"),
        ({"s3": []}, "s3: \\[\\] is not an object"),
    ],
    ids=["string", "float-size", "bool-size", "map-value", "struct"],
)
def test_event_record_refuses_what_go_cannot_decode(record: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        event_record(record)


@pytest.mark.parametrize(
    ("line", "keys"),
    [
        (b"", []),
        (b"   ", []),
        (b'{"Records":null}', []),
        (b"{}", []),
        (b'   {"Records":[{"s3":{"object":{"key":"a"}}}]}', ["a"]),
        (b'{"records":[{"s3":{"object":{"key":"a"}}},{"s3":{"object":{"key":"b"}}}]}', ["a", "b"]),
    ],
    ids=["empty", "spaces", "ping", "no-records", "after-keep-alive", "any-case-two"],
)
def test_parse_line(line: bytes, keys: list[str]) -> None:
    assert [r["s3"]["object"]["key"] for r in parse_line(line)] == keys


@pytest.mark.parametrize(
    "line",
    [b"not json", b"[1]", b'{"Records": {}}', b'{"Records": [1]}'],
    ids=["not-json", "not-object", "records-not-list", "record-not-object"],
)
def test_parse_line_refuses(line: bytes) -> None:
    with pytest.raises(ValueError):
        parse_line(line)


@pytest.mark.parametrize(
    ("spec", "url"),
    [
        (
            {"endpoint": "m:9000", "bucket": {"name": "in"}},
            "https://m:9000/in?ping=10&prefix=&suffix=",
        ),
        (
            {
                "endpoint": "m",
                "bucket": {"name": "in"},
                "events": ["s3:ObjectRemoved:*", "s3:ObjectCreated:Put"],
                "filter": {"prefix": "a b/", "suffix": ".csv"},
            },
            "https://m/in?events=s3%3AObjectCreated%3APut&events=s3%3AObjectRemoved%3A%2A"
            "&ping=10&prefix=a%20b%2F&suffix=.csv",
        ),
    ],
    ids=["bare", "events-and-filter"],
)
def test_listen_url(spec: dict[str, Any], url: str) -> None:
    assert listen_url(S3Artifact.model_validate(spec), "https") == url


class Adaptor:
    source_name = "es"
    clock = None


SECRETS = {"accessKey": {"name": "s", "key": "a"}, "secretKey": {"name": "s", "key": "b"}}
GOOD = {"endpoint": "m:9000", "bucket": {"name": "in"}} | SECRETS


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        (GOOD | {"accessKey": None}, "access key can't be empty"),
        (GOOD | {"secretKey": None}, "secret key can't be empty"),
        (GOOD | {"endpoint": None}, "endpoint url can't be empty"),
        (GOOD | {"endpoint": "http://m:9000"}, "must be host\\[:port\\]"),
        (GOOD | {"endpoint": "m:9000/path"}, "must be host\\[:port\\]"),
        (GOOD | {"bucket": None}, "bucket name can't be empty"),
        (GOOD | {"bucket": {"name": ""}}, "bucket name can't be empty"),
        (GOOD | {"events": ["s3:ObjectCreated:*", ""]}, "unknown event ''"),
    ],
    ids=[
        "no-access-key",
        "no-secret-key",
        "no-endpoint",
        "scheme",
        "path",
        "no-bucket",
        "empty-bucket",
        "empty-event",
    ],
)
def test_spec_problems(event: dict[str, Any], problem: str) -> None:
    raw = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventSource",
        "metadata": {"name": "es"},
        "spec": {"minio": {"e": event}},
    }
    with pytest.raises(SpecError, match=problem):
        MinioSource(parse_event_source(raw), Adaptor())  # type: ignore[arg-type]


def test_the_argo_example_builds() -> None:
    root = Path(__file__).resolve().parents[3]
    [raw] = load_file(root / "examples" / "eventsources" / "minio.yaml")
    [bucket] = MinioSource(parse_event_source(raw), Adaptor()).buckets  # type: ignore[arg-type]
    assert (bucket.name, bucket.bucket) == ("example", "input")

"""The sns source's pure parts: SNS's canonical strings, the certificate URL check, the spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eventsource.models import parse_event_source
from eventsource.sources.sns import (
    SNSSource,
    cert_hosts_from_env,
    check_cert_url,
    string_to_sign,
)
from sluice.core.errors import SpecError
from sluice.core.resources import load_file

BASE = {
    "Message": "hello",
    "MessageId": "m-1",
    "Timestamp": "2024-05-01T12:00:00.123Z",
    "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
    "SubscribeURL": "https://sns/confirm",
    "Token": "tok",
    "UnsubscribeURL": "https://sns/unsubscribe",
    "SigningCertURL": "https://sns.us-east-1.amazonaws.com/c.pem",
}
NOTIFICATION = (
    "Message\nhello\nMessageId\nm-1\nTimestamp\n2024-05-01T12:00:00.123Z\n"
    "TopicArn\narn:aws:sns:us-east-1:123456789012:t\nType\nNotification\n"
)
CONFIRMATION = (
    "Message\nhello\nMessageId\nm-1\nSubscribeURL\nhttps://sns/confirm\n"
    "Timestamp\n2024-05-01T12:00:00.123Z\nToken\ntok\n"
    "TopicArn\narn:aws:sns:us-east-1:123456789012:t\nType\n"
)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"Type": "Notification"}, NOTIFICATION),
        ({"Type": "Notification", "Subject": ""}, NOTIFICATION),
        (
            {"Type": "Notification", "Subject": "hi"},
            NOTIFICATION.replace("Timestamp\n", "Subject\nhi\nTimestamp\n"),
        ),
        ({"Type": "SubscriptionConfirmation"}, CONFIRMATION + "SubscriptionConfirmation\n"),
        ({"Type": "UnsubscribeConfirmation"}, CONFIRMATION + "UnsubscribeConfirmation\n"),
    ],
    ids=["notification", "empty-subject-left-out", "subject", "subscribe", "unsubscribe"],
)
def test_string_to_sign(message: dict[str, Any], expected: str) -> None:
    assert string_to_sign(BASE | message).decode() == expected


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ({"Type": "Other"}, "cannot verify a message of type 'Other'"),
        ({"Type": "Notification", "Message": 1}, "Message is not a string"),
    ],
    ids=["unknown-type", "not-a-string"],
)
def test_string_to_sign_refuses(message: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        string_to_sign(BASE | message)


@pytest.mark.parametrize(
    ("url", "extra", "problem"),
    [
        ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem", (), None),
        ("https://sns.cn-north-1.amazonaws.com.cn/c.pem", (), None),
        ("https://SNS.eu-west-1.AMAZONAWS.com/c.pem", (), None),
        ("http://sns.us-east-1.amazonaws.com/c.pem", (), "not using https"),
        ("https://sns.us-east-1.amazonaws.com.evil.io/c.pem", (), "not an SNS host"),
        ("https://s3.us-east-1.amazonaws.com/c.pem", (), "not an SNS host"),
        ("https://sns.ab.amazonaws.com/c.pem", (), "not an SNS host"),
        ("http://127.0.0.1:8080/c.pem", (), "not an SNS host"),
        ("http://127.0.0.1:8080/c.pem", ("127.0.0.1",), None),
        ("ftp://127.0.0.1/c.pem", ("127.0.0.1",), "is not http"),
        ("not a url", (), "not an SNS host"),
    ],
    ids=[
        "aws",
        "aws-china",
        "host-case",
        "aws-over-http",
        "suffix-attack",
        "other-service",
        "region-too-short",
        "loopback-not-trusted",
        "loopback-trusted",
        "trusted-but-ftp",
        "garbage",
    ],
)
def test_check_cert_url(url: str, extra: tuple[str, ...], problem: str | None) -> None:
    if problem is None:
        check_cert_url(url, extra)
    else:
        with pytest.raises(ValueError, match=problem):
            check_cert_url(url, extra)


@pytest.mark.parametrize(
    ("raw", "hosts"),
    [("", set()), ("127.0.0.1", {"127.0.0.1"}), (" LocalHost , ,::1", {"localhost", "::1"})],
    ids=["unset", "one", "several"],
)
def test_cert_hosts_from_env(raw: str, hosts: set[str]) -> None:
    assert cert_hosts_from_env({"SLUICE_SNS_CERT_HOSTS": raw}) == hosts


class Adaptor:
    source_name = "es"


def build(event: dict[str, Any]) -> SNSSource:
    raw = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventSource",
        "metadata": {"name": "es"},
        "spec": {"sns": {"e": event}},
    }
    return SNSSource(parse_event_source(raw), Adaptor(), cert_hosts=())  # type: ignore[arg-type]


WEBHOOK = {"endpoint": "/sns", "port": "12000", "method": "POST", "url": "https://x.io"}


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({"region": "us-east-1", "webhook": WEBHOOK}, "must specify topic arn"),
        ({"topicArn": "arn", "webhook": WEBHOOK}, "must specify region"),
        (
            {"topicArn": "arn", "region": "r", "webhook": WEBHOOK | {"url": None}},
            "webhook.url is required",
        ),
        (
            {"topicArn": "arn", "region": "r", "webhook": WEBHOOK, "accessKey": {"key": "k"}},
            "accessKey and secretKey go together",
        ),
        ({"topicArn": "arn", "region": "r"}, "spec.sns.e.webhook is required"),
    ],
    ids=["no-topic", "no-region", "no-url", "half-credentials", "no-webhook"],
)
def test_spec_problems(event: dict[str, Any], problem: str) -> None:
    with pytest.raises(SpecError, match=problem):
        build(event)


def test_the_endpoint_url_and_secrets() -> None:
    secret = {"name": "aws", "key": "k"}
    source = build(
        {"topicArn": "arn", "region": "r", "webhook": WEBHOOK | {"url": "https://x.io/"}}
        | {"accessKey": secret, "secretKey": secret}
    )
    [(port, route)] = source.routes
    assert (port, route.url, route.kind) == (12000, "https://x.io/sns", "sns")
    assert set(route.secret_names) == {"accessKey", "secretKey"}


def test_the_argo_example_builds() -> None:
    root = Path(__file__).resolve().parents[3]
    [raw] = load_file(root / "examples" / "eventsources" / "aws-sns.yaml")
    source = SNSSource(parse_event_source(raw), Adaptor(), cert_hosts=())  # type: ignore[arg-type]
    [(port, route)] = source.routes
    assert (port, route.url) == (12000, "http://url-that-is-reachable-from-AWS/")
    assert route.sns.topic_arn == "arn:aws:sns:us-east-1:XXXXXXXX:test"

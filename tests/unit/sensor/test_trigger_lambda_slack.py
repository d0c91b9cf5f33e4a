"""The awsLambda and slack triggers without a server: their resources, what parameters do to
them, what is posted, the spec errors found before any call, and how SDK errors are sorted into
retryable and not."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    ReadTimeoutError,
)
from slack_sdk.errors import SlackApiError

from sensor.models import Trigger
from sensor.models.trigger_types import SlackTrigger as SlackSpec
from sensor.parameters import apply_parameters
from sensor.triggers import TRIGGERS, Firing, TriggerContext, TriggerError, build
from sensor.triggers.aws_lambda import aws_error, session_name
from sensor.triggers.slack import API_URL_ENV, DEFAULT_API_URL, api_url, message_arguments
from sensor.triggers.slack import slack_error as slack_error_of

EVENTS = {"dep": {"id": "e1", "data": {"body": {"fn": "resize", "text": "hi from the event"}}}}
TOKEN = {"name": "slack-secret", "key": "token"}


def firing(sensor: str = "s", trigger: str = "t") -> Firing:
    return Firing("default", sensor, trigger, EVENTS, "key-1")


def trigger(template: dict[str, Any], **rest: Any) -> Trigger:
    return Trigger.model_validate({"template": {"name": "t", **template}, **rest})


def test_both_types_are_registered() -> None:
    assert TRIGGERS["awsLambda"].key == "awsLambda"
    assert TRIGGERS["slack"].key == "slack"


# ---- resources and parameters -----------------------------------------------------------------
async def test_lambda_resource_is_the_spec_that_parameters_rewrite() -> None:
    spec = {
        "awsLambda": {
            "functionName": "placeholder",
            "region": "us-east-1",
            "roleARN": "arn:aws:iam::123456789012:role/invoker",
            "accessKey": {"name": "aws-secret", "key": "accesskey"},
            "payload": [{"src": {"dependencyName": "dep", "dataKey": "body"}, "dest": "input"}],
            "parameters": [
                {"src": {"dependencyName": "dep", "dataKey": "body.fn"}, "dest": "functionName"}
            ],
        }
    }
    impl = build(trigger(spec), TriggerContext())
    resource = await impl.resource()
    assert resource == spec["awsLambda"]  # camelCase, roleARN as written, unset fields left out
    assert resource is not await impl.resource()  # a fresh copy each time
    params = trigger(spec).template.aws_lambda.parameters  # type: ignore[union-attr]
    rewritten = apply_parameters(params or [], EVENTS, resource)
    assert rewritten["functionName"] == "resize"


async def test_slack_resource_is_the_spec_that_parameters_rewrite() -> None:
    spec = {
        "slack": {
            "slackToken": TOKEN,
            "channel": "general",
            "message": "placeholder",
            "thread": {"messageAggregationKey": "k", "broadcastMessageToChannel": True},
            "sender": {"username": "bot", "icon": ":robot_face:"},
            "parameters": [
                {"src": {"dependencyName": "dep", "dataKey": "body.text"}, "dest": "message"},
                {
                    "src": {"dependencyName": "dep", "dataKey": "body.fn"},
                    "dest": "thread.messageAggregationKey",
                },
            ],
        }
    }
    impl = build(trigger(spec), TriggerContext())
    resource = await impl.resource()
    assert resource == spec["slack"]
    params = trigger(spec).template.slack.parameters  # type: ignore[union-attr]
    rewritten = apply_parameters(params or [], EVENTS, resource)
    assert rewritten["message"] == "hi from the event"
    assert rewritten["thread"] == {
        "messageAggregationKey": "resize",
        "broadcastMessageToChannel": True,
    }


# ---- what slack posts -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"message": "hi"}, {"text": "hi"}),
        (
            {"attachments": '[{"text": "a"}]', "blocks": '[{"type": "divider"}]'},
            {"text": "", "attachments": [{"text": "a"}], "blocks": [{"type": "divider"}]},
        ),
        ({"message": "hi", "attachments": "[]"}, {"text": "hi"}),
        ({"message": "hi", "sender": {"username": "ci"}}, {"text": "hi", "username": "ci"}),
        ({"message": "hi", "sender": {"icon": ":tada:"}}, {"text": "hi", "icon_emoji": ":tada:"}),
        (
            {"message": "hi", "sender": {"icon": "https://x.test/i.png"}},
            {"text": "hi", "icon_url": "https://x.test/i.png"},
        ),
        ({"message": "hi", "sender": {"icon": "robot"}}, {"text": "hi"}),
    ],
    ids=["text", "attachments-blocks", "empty-attachments", "username", "emoji", "icon-url",
         "bad-icon"],
)  # fmt: skip
def test_message_arguments(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    spec = SlackSpec.model_validate({"channel": "c", **fields})
    assert message_arguments(spec, "w") == expected


def test_an_icon_neither_emoji_nor_url_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    spec = SlackSpec.model_validate({"message": "m", "sender": {"icon": "robot"}})
    message_arguments(spec, "trigger t")
    assert "sender.icon 'robot' is not an :emoji: or a URL" in caplog.text


def test_api_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_URL_ENV, raising=False)
    assert api_url() == DEFAULT_API_URL == "https://slack.com/api/"
    monkeypatch.setenv(API_URL_ENV, "http://127.0.0.1:9/api/")
    assert api_url() == "http://127.0.0.1:9/api/"


# ---- spec errors: never retried, found before any call ----------------------------------------
@pytest.mark.parametrize(
    ("spec", "payload", "message"),
    [
        ({"awsLambda": {"functionName": "f"}}, None, "payload parameters are not specified"),
        ({"awsLambda": {"region": "r"}}, b"{}", "functionName is required"),
        (
            {"awsLambda": {"functionName": "f", "invocationType": "Async"}},
            b"{}",
            "invocationType 'Async' is not one of RequestResponse, Event, DryRun",
        ),
        (
            {"awsLambda": {"functionName": "f", "accessKey": {"name": "a", "key": "k"}}},
            b"{}",
            "needs both accessKey and secretKey",
        ),
        (
            {"awsLambda": {"functionName": "f", "accessKey": {"name": "a", "key": "k"},
                           "secretKey": {"name": "a", "key": "s"}}},
            b"{}",
            "no local secrets",
        ),
        ({"slack": {"slackToken": TOKEN, "message": "m"}}, None, "no slack channel provided"),
        ({"slack": {"slackToken": TOKEN, "channel": "#"}}, None, "no slack channel provided"),
        ({"slack": {"channel": "c", "message": "m"}}, None, "slackToken is required"),
        ({"slack": {"slackToken": TOKEN, "channel": "c"}}, None, "no local secrets"),
    ],
    ids=["lambda-no-payload", "lambda-no-function", "lambda-invocation-type",
         "lambda-half-keys", "lambda-no-secrets", "slack-no-channel", "slack-hash-only",
         "slack-no-token", "slack-no-secrets"],
)  # fmt: skip
async def test_spec_errors_are_permanent(
    spec: dict[str, Any], payload: bytes | None, message: str
) -> None:
    impl = build(trigger(spec), TriggerContext())
    with pytest.raises(TriggerError, match=message) as err:
        await impl.fire(firing(), await impl.resource(), payload)
    assert not err.value.retryable


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "no text to post"),
        ({"blocks": "{not json"}, "slack.blocks is not JSON"),
        ({"attachments": '{"text": "a"}'}, "slack.attachments must be a JSON array"),
    ],
    ids=["nothing", "bad-json", "not-an-array"],
)
def test_slack_message_errors(fields: dict[str, Any], message: str) -> None:
    spec = SlackSpec.model_validate({"channel": "c", **fields})
    with pytest.raises(TriggerError, match=message) as err:
        message_arguments(spec, "w")
    assert not err.value.retryable


# ---- SDK errors -------------------------------------------------------------------------------
def client_error(status: int, code: str) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "Invoke")


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (client_error(404, "ResourceNotFoundException"), False),
        (client_error(400, "InvalidRequestContentException"), False),
        (client_error(403, "AccessDeniedException"), False),
        (client_error(429, "TooManyRequestsException"), True),
        (client_error(400, "ThrottlingException"), True),
        (client_error(502, "EC2UnexpectedException"), True),
        (client_error(409, "ResourceConflictException"), True),
        (EndpointConnectionError(endpoint_url="http://x"), True),
        (ReadTimeoutError(endpoint_url="http://x"), True),
        (NoCredentialsError(), False),
        (NoRegionError(), False),
        (ParamValidationError(report="bad"), False),
    ],
    ids=["not-found", "bad-content", "denied", "too-many", "throttling", "5xx", "conflict",
         "no-connection", "read-timeout", "no-credentials", "no-region", "bad-parameter"],
)  # fmt: skip
def test_aws_errors(error: Exception, retryable: bool) -> None:
    wrapped = aws_error(error, "w")
    assert wrapped.retryable is retryable
    assert str(wrapped).startswith("w: ")


class _Response:
    def __init__(self, status: int, data: Any) -> None:
        self.status_code = status
        self.data = data


@pytest.mark.parametrize(
    ("status", "data", "retryable"),
    [
        (200, {"ok": False, "error": "invalid_auth"}, False),
        (200, {"ok": False, "error": "channel_not_found"}, False),
        (429, {"ok": False, "error": "ratelimited"}, True),
        (200, {"ok": False, "error": "fatal_error"}, True),
        (502, "Bad Gateway", True),
    ],
    ids=["invalid-auth", "channel-not-found", "rate-limited", "fatal", "bad-gateway"],
)
def test_slack_errors(status: int, data: Any, retryable: bool) -> None:
    error = SlackApiError("failed", _Response(status, data))
    wrapped = slack_error_of(error, "w")
    assert wrapped.retryable is retryable
    if isinstance(data, dict):
        assert str(wrapped) == f"w: {data['error']}"
    assert slack_error_of(TimeoutError(), "w").retryable
    assert slack_error_of(ConnectionResetError("reset"), "w").retryable


@pytest.mark.parametrize(
    ("sensor", "trigger_name", "expected"),
    [
        ("s", "t", "sluice-s-t"),
        ("my sensor", "tr/igger:1", "sluice-my-sensor-tr-igger-1"),
        ("x" * 80, "t", "sluice-" + "x" * 57),
    ],
    ids=["plain", "sanitised", "truncated"],
)
def test_role_session_name(sensor: str, trigger_name: str, expected: str) -> None:
    assert session_name(firing(sensor, trigger_name)) == expected

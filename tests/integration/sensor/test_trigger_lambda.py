"""The awsLambda trigger with the real boto3 against moto in server mode, and error replies
from a loopback stand-in for the Lambda API.

moto runs a Lambda function only in Docker, which this environment lacks (and moto's attempts
to reach Docker leak sockets that ``filterwarnings = error`` would report), so the tests switch
moto's Lambda to its simple backend (``{"lambda": {"use_docker": false}}`` posted to
``/moto-api/config``): ``Invoke`` answers as Lambda does for each invocation type (200, 202,
204) and echoes the payload as the function's result, but it runs no code and does not check
that the function exists. STS ``AssumeRole`` is moto's too. A function error, a missing
function, throttling and a service error come from a stand-in that answers as Lambda's REST
API does (``X-Amz-Function-Error``, ``X-Amzn-ErrorType``), reached through
``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import base64
import io
import json
import urllib.request
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from aiohttp import web

from sensor.conditions import parse_condition
from sensor.decisions import FIRED
from sensor.firing import Firer
from sensor.logic import TriggerPlan
from sensor.models import Trigger
from sensor.triggers import Firing, Outcome, TriggerContext, TriggerError, aws_lambda, build
from sluice.core.objects import LocalObjects
from tests.conftest import FakeClock
from tests.integration.sensor.test_triggers import serve
from tests.support.moto_server import REGION, aws_env, moto_server  # noqa: F401

ENDPOINT_VARS = ("AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL_STS")


def _moto_config(endpoint: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(config).encode() if config is not None else None
    request = urllib.request.Request(
        f"{endpoint}/moto-api/config",
        data=data,
        method="POST" if data else "GET",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


@pytest.fixture
def moto_lambda(
    moto_server: str,  # noqa: F811
    aws_env: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    """moto's endpoint in ``AWS_ENDPOINT_URL``, its Lambda on the simple (no Docker) backend."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    for name in ENDPOINT_VARS:
        monkeypatch.delenv(name, raising=False)
    before = _moto_config(moto_server).get("lambda", {"use_docker": True})
    _moto_config(moto_server, {"lambda": {"use_docker": False}})
    try:
        yield moto_server
    finally:
        _moto_config(moto_server, {"lambda": before})


@pytest.fixture
def function(moto_lambda: str) -> tuple[str, str]:
    """A function in moto (its name) and a role the trigger may assume (its ARN)."""
    suffix = uuid.uuid4().hex[:8]
    iam = boto3.client("iam")
    role = iam.create_role(RoleName=f"lambda-{suffix}", AssumeRolePolicyDocument="{}")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    name = f"echo-{suffix}"
    client = boto3.client("lambda")
    client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
    )
    return name, role["Role"]["Arn"]


@pytest.fixture
def responses(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Each Invoke response the trigger reads (StatusCode, FunctionError, Payload bytes)."""
    seen: list[dict[str, Any]] = []
    invoke = aws_lambda._invoke

    def recording(*args: Any) -> dict[str, Any]:
        response = invoke(*args)
        seen.append(response)
        return response

    monkeypatch.setattr(aws_lambda, "_invoke", recording)
    return seen


@pytest.fixture
def objects(tmp_path: Path) -> LocalObjects:
    (tmp_path / "secrets").mkdir()
    keys = {"accesskey": "AKIDSECRETFILE", "secretkey": "from-a-secret"}
    data = {k: base64.b64encode(v.encode()).decode() for k, v in keys.items()}
    (tmp_path / "secrets" / "aws-secret.yaml").write_text(yaml.safe_dump({"data": data}))
    return LocalObjects(tmp_path)


def firing() -> Firing:
    event = {"id": "e1", "data": {"body": {"order": 7}}}
    return Firing("default", "lambda-sensor", "invoke", {"dep": event}, "key-1")


async def run(
    spec: dict[str, Any], context: TriggerContext, payload: bytes | None, **fields: Any
) -> Outcome:
    trigger = Trigger.model_validate({"template": {"name": "invoke", **spec}, **fields})
    impl = build(trigger, context)
    return await impl.fire(firing(), await impl.resource(), payload)


def lam(function: str, **fields: Any) -> dict[str, Any]:
    return {"awsLambda": {"functionName": function, "region": REGION, **fields}}


# ---- moto -------------------------------------------------------------------------------------
async def test_payload_from_event_reaches_the_function(
    function: tuple[str, str], responses: list[dict[str, Any]]
) -> None:
    """Through the sensor's firing path: payload parameters build the function's input."""
    name, _ = function
    payload = [{"src": {"dependencyName": "dep", "dataKey": "body.order"}, "dest": "order"}]
    trigger = Trigger.model_validate({"template": {"name": "invoke", **lam(name, payload=payload)}})
    plan = TriggerPlan(trigger, parse_condition("dep"), False)
    result = await Firer(TriggerContext(), "default", "s", None)(plan, dict(firing().events), "k")
    assert (result.outcome, result.detail) == (
        FIRED,
        f"invoked lambda {name} (RequestResponse): 200",
    )
    [response] = responses
    assert json.loads(response["Payload"]) == {"order": "7"}  # the simple backend echoes it


@pytest.mark.parametrize(
    ("invocation", "status"),
    [("RequestResponse", 200), ("Event", 202), ("DryRun", 204)],
    ids=["request-response", "event", "dry-run"],
)
async def test_invocation_types(
    function: tuple[str, str], invocation: str, status: int, responses: list[dict[str, Any]]
) -> None:
    name, _ = function
    outcome = await run(lam(name, invocationType=invocation), TriggerContext(), b'{"a":1}')
    assert outcome.detail == f"invoked lambda {name} ({invocation}): {status}"
    assert responses[0]["StatusCode"] == status


async def test_status_policy_applies_to_the_status_code(function: tuple[str, str]) -> None:
    name, _ = function
    event = lam(name, invocationType="Event")
    allow_202 = {"policy": {"status": {"allow": [202]}}}
    assert (await run(event, TriggerContext(), b"{}", **allow_202)).detail.endswith(": 202")
    with pytest.raises(TriggerError, match="status 202 is not allowed") as err:
        await run(event, TriggerContext(), b"{}", policy={"status": {"allow": [200]}})
    assert not err.value.retryable


async def test_keys_from_secrets_replace_the_default_chain(
    function: tuple[str, str], objects: LocalObjects, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, _ = function
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var)
    keys = {
        "accessKey": {"name": "aws-secret", "key": "accesskey"},
        "secretKey": {"name": "aws-secret", "key": "secretkey"},
    }
    context = TriggerContext(objects=objects)
    assert (await run(lam(name, **keys), context, b"{}")).detail.endswith(": 200")
    with pytest.raises(TriggerError, match="Unable to locate credentials") as err:
        await run(lam(name), TriggerContext(objects=objects), b"{}")
    assert not err.value.retryable


async def test_role_is_assumed_and_renewed_before_it_expires(
    function: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, role = function
    built: list[Any] = []
    make = aws_lambda._make_client

    def recording(*args: Any) -> tuple[Any, Any]:
        client, expires = make(*args)
        built.append(expires)
        return client, expires

    monkeypatch.setattr(aws_lambda, "_make_client", recording)
    clock = FakeClock()
    context = TriggerContext(clock=clock)
    spec = lam(name, roleARN=role)
    await run(spec, context, b"{}")
    await run(spec, context, b"{}")
    assert len(built) == 1  # the client is kept
    [expires] = built
    assert expires is not None  # the credentials came from STS AssumeRole
    clock.t = expires - aws_lambda.RENEW_BEFORE  # about to expire: assume the role again
    assert (await run(spec, context, b"{}")).detail.endswith(": 200")
    assert len(built) == 2


# ---- error replies ----------------------------------------------------------------------------
@pytest.fixture
async def stand_in(monkeypatch: pytest.MonkeyPatch, aws_env: None) -> AsyncIterator[str]:  # noqa: F811
    """Lambda's Invoke as AWS answers it, by function name: ``crash`` raises in the function,
    ``missing`` does not exist, ``busy`` is throttled, ``broken`` is a service error."""

    async def invoke(request: web.Request) -> web.Response:
        await request.read()
        name = request.match_info["name"]
        if name == "crash":
            body = {"errorMessage": "division by zero", "errorType": "ZeroDivisionError"}
            headers = {"X-Amz-Function-Error": "Unhandled", "X-Amz-Executed-Version": "$LATEST"}
            return web.json_response(body, headers=headers)
        errors = {
            "missing": (404, "ResourceNotFoundException", f"Function not found: {name}"),
            "busy": (429, "TooManyRequestsException", "Rate exceeded"),
            "broken": (500, "ServiceException", "internal failure"),
        }
        status, code, message = errors[name]
        return web.json_response(
            {"Type": "User", "message": message}, status=status, headers={"X-Amzn-ErrorType": code}
        )

    app = web.Application()
    app.router.add_post("/2015-03-31/functions/{name}/invocations", invoke)
    async with serve(app) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        for name in ENDPOINT_VARS:
            monkeypatch.delenv(name, raising=False)
        yield url


@pytest.mark.parametrize(
    ("function", "message", "retryable"),
    [
        ("crash", 'function error Unhandled: {"errorMessage": "division by zero"', True),
        ("missing", "ResourceNotFoundException: Function not found: missing", False),
        ("busy", "TooManyRequestsException: Rate exceeded", True),
        ("broken", "ServiceException: internal failure", True),
    ],
    ids=["function-error", "not-found", "throttled", "service-error"],
)
async def test_errors_say_whether_to_retry(
    stand_in: str, function: str, message: str, retryable: bool
) -> None:
    with pytest.raises(TriggerError) as err:
        await run(lam(function), TriggerContext(), b"{}")
    assert message in str(err.value)
    assert err.value.retryable is retryable


async def test_an_unreachable_endpoint_is_retryable(
    monkeypatch: pytest.MonkeyPatch,
    aws_env: None,  # noqa: F811
) -> None:
    async with serve(web.Application()) as url:
        closed = url  # nothing listens there once the block has ended
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed)
    with pytest.raises(TriggerError, match="Could not connect") as err:
        await run(lam("f"), TriggerContext(), b"{}")
    assert err.value.retryable

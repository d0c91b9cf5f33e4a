"""The ``awsLambda`` trigger: invoke an AWS Lambda function with the payload, as Argo's
``aws-lambda.go`` does.

The payload built from the ``payload`` parameters is the function's input; without a
``payload`` list the firing fails ("payload parameters are not specified"), as in Argo.
``invocationType`` is ``RequestResponse`` (the default), ``Event`` or ``DryRun``. Credentials:
``accessKey`` and ``secretKey`` from local secrets (both or neither), else boto3's default chain
(environment, shared config, instance role, ...); with ``roleARN`` those credentials assume the
role through STS first. ``policy.status.allow`` is checked against the ``StatusCode`` Lambda
answers (200, 202 for ``Event``, 204 for ``DryRun``). boto3 is blocking, so each call runs in a
worker thread; clients are kept in ``TriggerContext.memory`` (Argo keeps one per trigger) and an
assumed role's client is rebuilt shortly before its credentials expire.

The endpoint is boto3's: ``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_LAMBDA`` and
``AWS_ENDPOINT_URL_STS``) points it at a local emulator such as moto; sluice adds no field.

Deliberate differences from Argo:

* A response with ``FunctionError`` (the function raised or timed out) fails the firing, with
  the function's error payload in the message, and is retryable; Argo counts it a success.
* The parameters' result is used whole: a parameter with ``dest: functionName`` takes effect.
* The SDK does not retry on its own (boto3 would re-send an ``invoke`` after a read timeout and
  run the function twice); ``retryStrategy`` decides, told by each error whether it is
  retryable (throttling, 5xx and connection errors are; a missing function or bad input isn't).
  The read timeout is 905 s, above Lambda's 15-minute limit, so a long ``RequestResponse`` run
  is waited for rather than cut off and invoked again.
* ``invocationType`` is checked before calling AWS, and the role session is named
  ``sluice-<sensor>-<trigger>`` rather than with a timestamp.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from pydantic import ValidationError

from sensor.models.trigger_types import AWSLambdaTrigger as LambdaSpec
from sensor.triggers.base import (
    Firing,
    Outcome,
    TriggerContext,
    TriggerError,
    TriggerImpl,
    register,
)
from sensor.triggers.policy import check_status

log = logging.getLogger(__name__)

INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
READ_TIMEOUT = 905.0  # seconds: Lambda's 15-minute limit plus a little
CONNECT_TIMEOUT = 10.0
RENEW_BEFORE = timedelta(minutes=5)  # rebuild an assumed role's client this long before expiry
_CLIENTS = "awsLambda.clients"  # TriggerContext.memory key
_ENDPOINT_VARS = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL_STS")
_RETRYABLE_CODES = frozenset({
    "TooManyRequestsException", "ThrottlingException", "Throttling", "ServiceException",
    "EC2ThrottledException", "ResourceConflictException", "ResourceNotReadyException",
    "RequestTimeout", "RequestTimeoutException",
})  # fmt: skip
_SESSION_NAME_CHARS = re.compile(r"[^\w+=,.@-]")


def session_name(firing: Firing) -> str:
    """The STS role session name: STS allows 2-64 characters of ``[\\w+=,.@-]``."""
    return _SESSION_NAME_CHARS.sub("-", f"sluice-{firing.sensor}-{firing.trigger}")[:64]


def _static_keys(
    spec: LambdaSpec, context: TriggerContext, where: str
) -> tuple[str | None, str | None]:
    """``accessKey`` and ``secretKey`` from secrets; (None, None) for boto3's default chain."""
    if spec.access_key is None and spec.secret_key is None:
        return None, None
    if spec.access_key is None or spec.secret_key is None:
        raise TriggerError(
            f"{where}: awsLambda needs both accessKey and secretKey, or neither", retryable=False
        )
    access, secret = spec.access_key, spec.secret_key
    return (
        context.secret("secret", access.name, access.key, f"{where}: awsLambda.accessKey"),
        context.secret("secret", secret.name, secret.key, f"{where}: awsLambda.secretKey"),
    )


def _make_client(
    region: str | None, access: str | None, secret: str | None, role_arn: str | None, name: str
) -> tuple[Any, datetime | None]:
    """A Lambda client, and when its assumed-role credentials expire (blocking: in a thread)."""
    import boto3  # here: importing boto3 takes a tenth of a second off every CLI start
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=access, aws_secret_access_key=secret, region_name=region
    )
    expires: datetime | None = None
    if role_arn:
        sts = session.client("sts", config=Config(retries={"total_max_attempts": 1}))
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=name)["Credentials"]
        session = boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=region,
        )
        expires = creds["Expiration"]
    config = Config(
        retries={"total_max_attempts": 1},
        read_timeout=READ_TIMEOUT,
        connect_timeout=CONNECT_TIMEOUT,
    )
    return session.client("lambda", config=config), expires


def _invoke(client: Any, function: str, payload: bytes, invocation: str) -> dict[str, Any]:
    """``Invoke``, with the response payload read (blocking: in a thread)."""
    response = client.invoke(FunctionName=function, Payload=payload, InvocationType=invocation)
    stream = response.get("Payload")
    response["Payload"] = b""
    if stream is not None:
        try:
            response["Payload"] = stream.read()
        finally:
            stream.close()
    return response


def aws_error(exc: Exception, what: str) -> TriggerError:
    """A boto3 error as a ``TriggerError`` saying whether another attempt may help."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = error.get("Code", "")
        retryable = status >= 500 or status == 429 or code in _RETRYABLE_CODES
        message = f"{what}: {code}: {error.get('Message') or exc}"
        return TriggerError(message, retryable=retryable)
    # Connection problems and timeouts may pass; missing credentials, a missing region or an
    # invalid parameter will not.
    retryable = isinstance(exc, BotoConnectionError | HTTPClientError)
    return TriggerError(f"{what}: {exc}", retryable=retryable)


@register("awsLambda")
class AWSLambdaTrigger(TriggerImpl):
    async def resource(self) -> Any:
        spec = self.trigger.template.aws_lambda
        return spec.to_yaml_dict() if spec is not None else {}

    async def fire(self, firing: Firing, resource: Any, payload: bytes | None = None) -> Outcome:
        where = firing.where()
        try:
            spec = LambdaSpec.model_validate(resource)
        except ValidationError as exc:
            raise TriggerError(f"{where}: awsLambda: {exc}", retryable=False) from exc
        function = spec.function_name or ""
        if not function:
            raise TriggerError(f"{where}: awsLambda.functionName is required", retryable=False)
        if payload is None:
            raise TriggerError(f"{where}: payload parameters are not specified", retryable=False)
        invocation = spec.invocation_type or "RequestResponse"
        if invocation not in INVOCATION_TYPES:
            choices = ", ".join(INVOCATION_TYPES)
            raise TriggerError(
                f"{where}: awsLambda.invocationType {invocation!r} is not one of {choices}",
                retryable=False,
            )
        what = f"{where}: lambda {function} ({invocation})"
        client = await self._client(spec, firing, where)
        log.info("%s: invoking with %d bytes", what, len(payload))
        try:
            response = await asyncio.to_thread(_invoke, client, function, payload, invocation)
        except (BotoCoreError, ClientError) as exc:
            raise aws_error(exc, what) from exc
        status = int(response.get("StatusCode", 0))
        failed = response.get("FunctionError")
        if failed:
            body = response["Payload"][:500].decode("utf-8", "replace")
            raise TriggerError(f"{what}: function error {failed}: {body}", retryable=True)
        policy = self.trigger.policy.status if self.trigger.policy else None
        check_status(status, policy, what)
        return Outcome(f"invoked lambda {function} ({invocation}): {status}")

    async def _client(self, spec: LambdaSpec, firing: Firing, where: str) -> Any:
        """The cached client for these credentials, region, role and endpoint, or a new one."""
        access, secret = _static_keys(spec, self.context, where)
        name = session_name(firing)
        endpoints = tuple(os.environ.get(var) for var in _ENDPOINT_VARS)
        identity = repr((spec.region, access, secret, spec.role_arn, name, endpoints))
        key = hashlib.sha256(identity.encode()).hexdigest()
        clients: dict[str, tuple[Any, datetime | None]] = self.context.memory.setdefault(
            _CLIENTS, {}
        )
        cached = clients.get(key)
        if cached is not None:
            client, expires = cached
            if expires is None or self.context.clock.now() < expires - RENEW_BEFORE:
                return client
        what = f"{where}: awsLambda client"
        if spec.role_arn:
            what = f"{where}: awsLambda assume role {spec.role_arn}"
        try:
            client, expires = await asyncio.to_thread(
                _make_client, spec.region or None, access, secret, spec.role_arn, name
            )
        except (BotoCoreError, ClientError) as exc:
            raise aws_error(exc, what) from exc
        clients[key] = (client, expires)
        return client

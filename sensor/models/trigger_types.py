"""One model per trigger type, each the value of its YAML key under ``template``.

Every type derives from :class:`TriggerType`; :func:`sensor.models.trigger_type_fields` finds
the types by that base, so adding a type here and a field on ``TriggerTemplate`` is all it
takes. Field names are Argo Events' (``sensor_types.go``); the ``parameters`` of a type are
applied to the resource it sends, its ``payload`` builds the request body.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sensor.models.artifacts import ArtifactLocation
from sensor.models.common import (
    Backoff,
    BasicAuth,
    NATSAuth,
    SASLConfig,
    SchemaRegistryConfig,
    SecretKeySelector,
    SecureHeader,
    SensorModel,
    TLSConfig,
)
from sensor.models.parameters import TriggerParameter


class TriggerType(SensorModel):
    """Base of the trigger types; ``parameters`` is common to all but ``log``."""


class StandardK8STrigger(TriggerType):
    """``k8s``: create, update, patch or delete any Kubernetes resource.

    ``group``, ``version`` and ``resource`` are gone from Argo's type (the resource says what it
    is), but Argo ignores them and its own examples still write them, so they are kept.
    """

    group: str | None = None
    version: str | None = None
    resource: str | None = None
    source: ArtifactLocation | None = None
    operation: str | None = None
    parameters: list[TriggerParameter] | None = None
    patch_strategy: str | None = None
    live_object: bool | None = None


class ArgoWorkflowTrigger(TriggerType):
    """``argoWorkflow``: submit a workflow or act on one (resubmit, retry, suspend, ...)."""

    group: str | None = None
    version: str | None = None
    resource: str | None = None
    source: ArtifactLocation | None = None
    operation: str | None = None
    parameters: list[TriggerParameter] | None = None
    args: list[str] | None = None


class HTTPTrigger(TriggerType):
    url: str | None = None
    payload: list[TriggerParameter] | None = None
    tls: TLSConfig | None = None
    method: str | None = None
    parameters: list[TriggerParameter] | None = None
    timeout: int | None = None
    basic_auth: BasicAuth | None = None
    headers: dict[str, str] | None = None
    secure_headers: list[SecureHeader] | None = None


class AWSLambdaTrigger(TriggerType):
    function_name: str | None = None
    access_key: SecretKeySelector | None = None
    secret_key: SecretKeySelector | None = None
    region: str | None = None
    payload: list[TriggerParameter] | None = None
    parameters: list[TriggerParameter] | None = None
    invocation_type: str | None = None
    role_arn: str | None = Field(default=None, alias="roleARN")


class CustomTrigger(TriggerType):
    server_url: str | None = Field(default=None, alias="serverURL")
    secure: bool | None = None
    cert_secret: SecretKeySelector | None = None
    server_name_override: str | None = None
    spec: dict[str, str] | None = None
    parameters: list[TriggerParameter] | None = None
    payload: list[TriggerParameter] | None = None


class KafkaTrigger(TriggerType):
    url: str | None = None
    topic: str | None = None
    partition: int | None = None  # deprecated in Argo
    parameters: list[TriggerParameter] | None = None
    required_acks: int | None = None
    compress: bool | None = None
    flush_frequency: int | None = None
    tls: TLSConfig | None = None
    payload: list[TriggerParameter] | None = None
    partitioning_key: str | None = None
    version: str | None = None
    sasl: SASLConfig | None = None
    schema_registry: SchemaRegistryConfig | None = None
    headers: dict[str, str] | None = None
    secure_headers: list[SecureHeader] | None = None


class NATSTrigger(TriggerType):
    url: str | None = None
    subject: str | None = None
    payload: list[TriggerParameter] | None = None
    parameters: list[TriggerParameter] | None = None
    tls: TLSConfig | None = None
    auth: NATSAuth | None = None


class SlackThread(SensorModel):
    message_aggregation_key: str | None = None
    broadcast_message_to_channel: bool | None = None


class SlackSender(SensorModel):
    username: str | None = None
    icon: str | None = None


class SlackTrigger(TriggerType):
    parameters: list[TriggerParameter] | None = None
    slack_token: SecretKeySelector | None = None
    channel: str | None = None
    message: str | None = None
    attachments: str | None = None
    blocks: str | None = None
    thread: SlackThread | None = None
    sender: SlackSender | None = None


class OpenWhiskTrigger(TriggerType):
    host: str | None = None
    version: str | None = None
    namespace: str | None = None
    auth_token: SecretKeySelector | None = None
    action_name: str | None = None
    payload: list[TriggerParameter] | None = None
    parameters: list[TriggerParameter] | None = None


class LogTrigger(TriggerType):
    """``log``: print the events, at most once per ``intervalSeconds``."""

    interval_seconds: int | None = None


class AzureEventHubsTrigger(TriggerType):
    fqdn: str | None = None
    hub_name: str | None = None
    shared_access_key_name: SecretKeySelector | None = None
    shared_access_key: SecretKeySelector | None = None
    payload: list[TriggerParameter] | None = None
    parameters: list[TriggerParameter] | None = None


class AzureServiceBusTrigger(TriggerType):
    connection_string: SecretKeySelector | None = None
    queue_name: str | None = None
    topic_name: str | None = None
    subscription_name: str | None = None
    tls: TLSConfig | None = None
    payload: list[TriggerParameter] | None = None
    parameters: list[TriggerParameter] | None = None


class PulsarTrigger(TriggerType):
    url: str | None = None
    topic: str | None = None
    parameters: list[TriggerParameter] | None = None
    payload: list[TriggerParameter] | None = None
    tls_trust_certs_secret: SecretKeySelector | None = None
    tls_allow_insecure_connection: bool | None = None
    tls_validate_hostname: bool | None = None
    tls: TLSConfig | None = None
    auth_token_secret: SecretKeySelector | None = None
    connection_backoff: Backoff | None = None
    auth_athenz_params: dict[str, str] | None = None
    auth_athenz_secret: SecretKeySelector | None = None


class EmailTrigger(TriggerType):
    parameters: list[TriggerParameter] | None = None
    username: str | None = None
    smtp_password: SecretKeySelector | None = None
    host: str | None = None
    port: int | None = None
    to: list[str] | None = None
    from_: str | None = Field(default=None, alias="from")
    subject: str | None = None
    body: str | None = None


class GRPCSchemaField(SensorModel):
    """One scalar field of the request message, numbered as in the server's ``.proto``."""

    name: str | None = None
    number: int | None = None
    type: str | None = None


class GRPCTrigger(TriggerType):
    """``grpc`` (Argo Events 1.10+): call a unary method of any gRPC server."""

    url: str | None = None
    method: str | None = None
    schema_: list[GRPCSchemaField] | None = Field(default=None, alias="schema")
    payload: list[TriggerParameter] | None = None
    tls: TLSConfig | None = None
    insecure: bool | None = None
    timeout: int | None = None
    parameters: list[TriggerParameter] | None = None


class GCPCloudFunctionsTrigger(TriggerType):
    """``gcpCloudFunctions`` (Argo Events 1.10+): call a Cloud Function with an ID token."""

    url: str | None = None
    method: str | None = None
    payload: list[TriggerParameter] | None = None
    parameters: list[TriggerParameter] | None = None
    headers: dict[str, str] | None = None
    credential_secret: SecretKeySelector | None = None
    timeout: int | None = None


def parameter_lists(trigger: TriggerType) -> dict[str, list[TriggerParameter]]:
    """A type's ``parameters`` and ``payload`` lists that are set, by YAML key."""
    out: dict[str, list[TriggerParameter]] = {}
    for key in ("parameters", "payload"):
        value: Any = getattr(trigger, key, None)
        if value:
            out[key] = list(value)
    return out

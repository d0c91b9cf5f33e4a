"""Checks on ``spec.triggers``: trigger types, conditions, parameters, policies, the DLQ.

Mostly the rules of Argo's sensor controller (``pkg/reconciler/sensor/validate.go``): exactly
one trigger type, the fields each type cannot work without, known operations and methods, a
``dlqTrigger`` only with ``atLeastOnce``. On top of those, names are checked against
``spec.dependencies``: Argo accepts a condition or parameter naming an unknown dependency and
only fails when the trigger fires, which is too late to be told about a typo. A value that a
trigger-level parameter writes when the trigger fires (``dest: k8s.parameters.0.dest``) may be
a placeholder, so it is not checked.
"""

from __future__ import annotations

import json

from croniter import croniter

from sensor.conditions import ConditionError, parse_condition
from sensor.models import SensorSpec, Trigger, TriggerParameter, TriggerTemplate, TriggerType
from sensor.models import trigger_type_fields as _trigger_type_fields
from sensor.models.trigger_types import (
    ArgoWorkflowTrigger,
    AWSLambdaTrigger,
    CustomTrigger,
    EmailTrigger,
    GRPCTrigger,
    HTTPTrigger,
    SlackTrigger,
    StandardK8STrigger,
    parameter_lists,
)
from sensor.validation.report import (
    Problems,
    check_backoff,
    check_choice,
    check_timezone,
    did_you_mean,
    one_of,
)

K8S_OPERATIONS = ("create", "update", "patch", "delete")
WORKFLOW_OPERATIONS = (
    "submit", "submit-from", "suspend", "resubmit", "retry", "resume", "terminate", "stop",
)  # fmt: skip
HTTP_METHODS = ("GET", "DELETE", "PATCH", "POST", "PUT")
PARAMETER_OPERATIONS = ("overwrite", "append", "prepend")
RATE_LIMIT_UNITS = ("Second", "Minute", "Hour")
LAMBDA_INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
SLACK_TEXT = ("message", "attachments", "blocks")
GRPC_FIELD_TYPES = (
    "string", "int32", "int64", "uint32", "uint64", "float", "double", "bool", "bytes",
)  # fmt: skip
# What each trigger type cannot work without, by YAML key, as Argo's controller requires it.
REQUIRED: dict[str, tuple[str, ...]] = {
    "k8s": ("source",),
    "argoWorkflow": ("source",),
    "http": ("url",),
    "awsLambda": ("functionName", "region", "payload"),
    "kafka": ("url", "topic", "payload"),
    "nats": ("url", "subject", "payload"),
    "slack": ("slackToken",),
    "openWhisk": ("host", "actionName", "payload"),
    "custom": ("serverURL", "spec"),
    "email": ("host",),
    "grpc": ("url", "method"),
    "gcpCloudFunctions": ("url",),
}


def check_triggers(spec: SensorSpec, problems: Problems) -> None:
    dependencies = spec.dependency_names()
    if not spec.triggers:
        problems.add("spec.triggers", "at least one trigger is required")
    first_index: dict[str, int] = {}
    for i, trigger in enumerate(spec.triggers):
        path = f"spec.triggers[{i}]"
        name = trigger.template.name
        if name and name in first_index:
            other = f"spec.triggers[{first_index[name]}]"
            problems.add(f"{path}.template.name", f"duplicate trigger name '{name}' (see {other})")
        first_index.setdefault(name, i)
        _check_trigger(path, trigger, dependencies, problems)


def _check_trigger(path: str, trigger: Trigger, deps: list[str], problems: Problems) -> None:
    template = trigger.template
    tpath = f"{path}.template"
    # Trigger-level parameters rewrite the template when it fires; what they write may be a
    # placeholder here (Argo's tutorial writes 'dependencyName: THIS_WILL_BE_REPLACED').
    overrides = tuple(p.dest for p in trigger.parameters or [] if p.dest)
    if not template.name:
        problems.add(f"{tpath}.name", "must not be empty")
    _check_conditions(tpath, template, deps, problems, supplied=_supplied("conditions", overrides))
    types = template.trigger_types()
    if not types:
        problems.add(tpath, f"no trigger type; set one of {', '.join(_trigger_type_fields())}")
    elif len(types) > 1:
        problems.add(
            tpath, f"more than one trigger type ({', '.join(types)}); a trigger sets exactly one"
        )
    for key, trigger_type in types.items():
        _check_type(f"{tpath}.{key}", key, trigger_type, deps, problems, overrides)
    for k, parameter in enumerate(trigger.parameters or []):
        _check_parameter(f"{path}.parameters[{k}]", parameter, deps, problems)
        # A dest in another trigger type would give the template a second type when it fires.
        head = (parameter.dest or "").split(".")[0]
        if types and head in _trigger_type_fields() and head not in types:
            problems.add(
                f"{path}.parameters[{k}].dest",
                f"writes into a {head} trigger, but this template's trigger is {', '.join(types)}",
            )
    _check_policy(path, trigger, problems)
    check_backoff(problems, f"{path}.retryStrategy", trigger.retry_strategy)
    if trigger.rate_limit is not None:
        unit = trigger.rate_limit.unit
        check_choice(problems, f"{path}.rateLimit.unit", unit, RATE_LIMIT_UNITS, "unit")
        per_unit = trigger.rate_limit.requests_per_unit
        if per_unit is not None and per_unit < 0:
            problems.add(f"{path}.rateLimit.requestsPerUnit", "must not be negative")
    if trigger.weight is not None and not 0 <= trigger.weight <= 100:
        problems.add(f"{path}.weight", f"{trigger.weight} is not a weight (0-100)")
    if trigger.dlq_trigger is not None:
        if not trigger.at_least_once:
            problems.add(f"{path}.atLeastOnce", "must be true when a dlqTrigger is set")
        if not trigger.dlq_trigger.at_least_once:
            problems.add(f"{path}.dlqTrigger.atLeastOnce", "must be true in a dlqTrigger")
        _check_trigger(f"{path}.dlqTrigger", trigger.dlq_trigger, deps, problems)


def _supplied(field: str, overrides: tuple[str, ...]) -> bool:
    """Whether a trigger-level parameter writes ``field`` (a path within the template)."""
    return any(field == dest or field.startswith(f"{dest}.") for dest in overrides)


def _check_conditions(
    tpath: str, template: TriggerTemplate, deps: list[str], problems: Problems, *, supplied: bool
) -> None:
    if template.conditions and not supplied:  # empty: every dependency, as in Argo
        try:
            condition = parse_condition(template.conditions)
        except ConditionError as exc:
            problems.add(f"{tpath}.conditions", f"cannot parse '{template.conditions}': {exc}")
        else:
            for name in condition.names():
                if name not in deps:
                    problems.add(
                        f"{tpath}.conditions",
                        f"unknown dependency '{name}'{did_you_mean(name, deps)}",
                    )
    for k, reset in enumerate(template.conditions_reset or []):
        rpath = f"{tpath}.conditionsReset[{k}]"
        if reset.by_time is None:
            problems.add(f"{rpath}.byTime", "required: conditions are reset by time only")
            continue
        cron = reset.by_time.cron
        if not cron or len(cron.split()) != 5 or not croniter.is_valid(cron):
            problems.add(
                f"{rpath}.byTime.cron",
                f"'{cron or ''}' is not a five-field cron schedule (minute hour day month weekday)",
            )
        check_timezone(problems, f"{rpath}.byTime.timezone", reset.by_time.timezone)


def _field(model: TriggerType, alias: str) -> object:
    for name, info in type(model).model_fields.items():
        if (info.alias or name) == alias:
            return getattr(model, name)
    raise KeyError(alias)


def _check_type(
    path: str,
    key: str,
    trigger: TriggerType,
    deps: list[str],
    problems: Problems,
    overrides: tuple[str, ...] = (),
) -> None:
    for required in REQUIRED.get(key, ()):
        if _field(trigger, required) in (None, ""):
            problems.add(f"{path}.{required}", f"required for a {key} trigger")
    if isinstance(trigger, StandardK8STrigger | ArgoWorkflowTrigger):
        allowed = K8S_OPERATIONS if key == "k8s" else WORKFLOW_OPERATIONS
        check_choice(problems, f"{path}.operation", trigger.operation, allowed, "operation")
        locations = trigger.source.locations() if trigger.source is not None else None
        if locations is not None and len(locations) != 1:
            choices = one_of(("resource", "inline", "file", "url", "configmap", "git", "s3"))
            problems.add(f"{path}.source", f"set exactly one of {choices}")
    if isinstance(trigger, HTTPTrigger):
        check_choice(problems, f"{path}.method", trigger.method, HTTP_METHODS, "method")
    if isinstance(trigger, CustomTrigger) and trigger.secure and trigger.cert_secret is None:
        problems.add(f"{path}.certSecret", "required when secure is true")
    port = trigger.port if isinstance(trigger, EmailTrigger) else None
    if port is not None and not 0 <= port <= 65535:
        problems.add(f"{path}.port", f"{port} is not a port (0-65535)")
    if isinstance(trigger, GRPCTrigger):
        _check_grpc(path, trigger, problems)
    if isinstance(trigger, AWSLambdaTrigger) and not _supplied(f"{key}.invocationType", overrides):
        check_choice(
            problems,
            f"{path}.invocationType",
            trigger.invocation_type,
            LAMBDA_INVOCATION_TYPES,
            "invocation type",
        )
    if isinstance(trigger, SlackTrigger):
        _check_slack(path, trigger, problems, overrides)
    for list_key, parameters in parameter_lists(trigger).items():
        # An HTTP payload parameter without dest sends the value as the whole body.
        dest_required = not (key == "http" and list_key == "payload")
        for k, parameter in enumerate(parameters):
            at = f"{key}.{list_key}.{k}"
            _check_parameter(
                f"{path}.{list_key}[{k}]",
                parameter,
                deps,
                problems,
                dest_required=dest_required and not _supplied(f"{at}.dest", overrides),
                check_dependency=not _supplied(f"{at}.src.dependencyName", overrides),
            )


def _check_slack(
    path: str, trigger: SlackTrigger, problems: Problems, overrides: tuple[str, ...]
) -> None:
    """Something to post, and attachments and blocks that are JSON arrays, unless parameters
    write them when the trigger fires."""
    own = tuple(p.dest for p in trigger.parameters or [] if p.dest)
    written = {
        field
        for field in SLACK_TEXT
        if _supplied(f"slack.{field}", overrides) or _supplied(field, own)
    }
    if not written and not any(getattr(trigger, field) for field in SLACK_TEXT):
        problems.add(path, "nothing to post: set message, attachments or blocks")
    for field in ("attachments", "blocks"):
        text = getattr(trigger, field)
        if not text or field in written:
            continue
        try:
            value = json.loads(text)
        except ValueError as exc:
            problems.add(f"{path}.{field}", f"not JSON: {exc}")
            continue
        if not isinstance(value, list):
            problems.add(f"{path}.{field}", "must be a JSON array")


def _check_grpc(path: str, trigger: GRPCTrigger, problems: Problems) -> None:
    if bool(trigger.insecure) == (trigger.tls is not None):
        problems.add(path, "set exactly one of tls and insecure")
    numbers: set[int] = set()
    for k, item in enumerate(trigger.schema_ or []):
        fpath = f"{path}.schema[{k}]"
        check_choice(problems, f"{fpath}.type", item.type or "?", GRPC_FIELD_TYPES, "field type")
        if item.number is None or item.number <= 0:
            problems.add(f"{fpath}.number", "must be a positive protobuf field number")
        elif item.number in numbers:
            problems.add(f"{fpath}.number", f"duplicate field number {item.number}")
        else:
            numbers.add(item.number)


def _check_parameter(
    path: str,
    parameter: TriggerParameter,
    deps: list[str],
    problems: Problems,
    *,
    dest_required: bool = True,
    check_dependency: bool = True,
) -> None:
    src = parameter.src
    if src is None:
        problems.add(f"{path}.src", "required: the dependency whose event gives the value")
    elif not src.dependency_name:
        problems.add(f"{path}.src.dependencyName", "required: the dependency to read")
    elif check_dependency and src.dependency_name not in deps:
        name = src.dependency_name
        problems.add(
            f"{path}.src.dependencyName", f"unknown dependency '{name}'{did_you_mean(name, deps)}"
        )
    if dest_required and not parameter.dest:
        problems.add(f"{path}.dest", "must not be empty: the path the value is written to")
    check_choice(
        problems, f"{path}.operation", parameter.operation, PARAMETER_OPERATIONS, "operation"
    )


def _check_policy(path: str, trigger: Trigger, problems: Problems) -> None:
    policy = trigger.policy
    if policy is None:
        return
    if policy.k8s is not None:
        if policy.k8s.labels is None:
            problems.add(
                f"{path}.policy.k8s.labels", "required: the labels that mark the resource done"
            )
        check_backoff(problems, f"{path}.policy.k8s.backoff", policy.k8s.backoff)
    if policy.status is not None and policy.status.allow is None:
        problems.add(
            f"{path}.policy.status.allow", "required: the response statuses that mean success"
        )

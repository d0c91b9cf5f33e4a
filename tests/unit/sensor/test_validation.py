"""Sensor checks past the schema: each problem names its file, document and YAML path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from sensor import parse_sensor, sensor_problems
from sluice.core.errors import SpecError
from sluice.core.resources import RawResource

WHERE = "s.yaml: document 1 (Sensor s)"

WORKFLOW = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"generateName": "wf-"},
    "spec": {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "a"}}]},
}


SLACK_TOKEN = {"name": "slack", "key": "token"}


def base() -> dict[str, Any]:
    """A valid Sensor: a webhook and a calendar dependency, a k8s trigger with a parameter."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": "s"},
        "spec": {
            "dependencies": [
                {"name": "dep-a", "eventSourceName": "webhook", "eventName": "example"},
                {"name": "dep-b", "eventSourceName": "calendar", "eventName": "tick"},
            ],
            "triggers": [
                {
                    "template": {
                        "name": "create",
                        "k8s": {
                            "operation": "create",
                            "source": {"resource": copy.deepcopy(WORKFLOW)},
                            "parameters": [
                                {
                                    "src": {"dependencyName": "dep-a", "dataKey": "body"},
                                    "dest": "spec.arguments.parameters.0.value",
                                }
                            ],
                        },
                    }
                }
            ],
        },
    }


Edit = Callable[[dict[str, Any]], None]


def dep(data: dict[str, Any], i: int = 0) -> dict[str, Any]:
    return data["spec"]["dependencies"][i]


def filters(sensor: dict[str, Any], **values: Any) -> None:
    dep(sensor)["filters"] = values


def trigger(data: dict[str, Any], i: int = 0) -> dict[str, Any]:
    return data["spec"]["triggers"][i]


def template(data: dict[str, Any]) -> dict[str, Any]:
    return trigger(data)["template"]


def k8s_param(data: dict[str, Any]) -> dict[str, Any]:
    return template(data)["k8s"]["parameters"][0]


def data_filter(**values: Any) -> Edit:
    return lambda d: filters(
        d, data=[{"path": "body.x", "type": "number", "value": ["1"]} | values]
    )


def expr_filter(expr: str, *names: str) -> Edit:
    fields = [{"name": n, "path": f"body.{n}"} for n in names]
    return lambda d: filters(d, exprs=[{"expr": expr, "fields": fields}])


def time_filter(**values: Any) -> Edit:
    return lambda d: filters(d, time={"start": "09:00:00", "stop": "17:00:00"} | values)


def log_trigger(d: dict[str, Any], **trigger_fields: Any) -> None:
    d["spec"]["triggers"] = [{"template": {"name": "log", "log": {}}, **trigger_fields}]


def with_template(**values: Any) -> Edit:
    return lambda d: template(d).update(values)


DEP0 = "spec.dependencies[0]"
TPL = "spec.triggers[0].template"
K8S_PARAM = f"{TPL}.k8s.parameters[0]"

# (id, edit, path, message): the edit makes the base Sensor wrong in exactly one way.
CASES: list[tuple[str, Edit, str, str]] = [
    # dependencies
    ("no-event-source-name", lambda d: dep(d).pop("eventSourceName"),
     f"{DEP0}.eventSourceName", "required: the EventSource to listen to"),
    ("no-event-name", lambda d: dep(d).pop("eventName"),
     f"{DEP0}.eventName", "required: the event of that EventSource"),
    ("empty-event-name", lambda d: dep(d).update(eventName=""),
     f"{DEP0}.eventName", "required"),
    ("duplicate-dependency", lambda d: dep(d, 1).update(name="dep-a"),
     "spec.dependencies[1].name", "duplicate dependency name 'dep-a' (see spec.dependencies[0])"),
    ("dash-underscore-clash", lambda d: dep(d, 1).update(name="dep_a"),
     "spec.dependencies[1].name",
     "'dep_a' and 'dep-a' (spec.dependencies[0]) are the same name in conditions"),
    ("name-starts-with-digit", lambda d: dep(d, 1).update(name="2nd"),
     "spec.dependencies[1].name", "'2nd' cannot be used in trigger conditions"),
    ("name-with-colon", lambda d: dep(d, 1).update(name="webhook:example"),
     "spec.dependencies[1].name", "'webhook:example' cannot be used in trigger conditions"),
    ("no-dependencies", lambda d: d["spec"].update(dependencies=[]),
     "spec.dependencies", "at least one dependency is required"),
    ("bad-filters-operator", lambda d: dep(d).update(filtersLogicalOperator="xor"),
     f"{DEP0}.filtersLogicalOperator",
     "unknown logical operator 'xor'; expected one of 'and', 'or'"),
    # data filters
    ("bad-comparator", data_filter(comparator="=="),
     f"{DEP0}.filters.data[0].comparator",
     "unknown comparator '=='; expected one of '=', '!=', '>', '>=', '<', '<='"),
    ("bad-data-type", data_filter(type="int"),
     f"{DEP0}.filters.data[0].type",
     "unknown type 'int'; expected one of 'string', 'number', 'bool'"),
    ("no-data-type", lambda d: filters(d, data=[{"path": "a", "value": ["1"]}]),
     f"{DEP0}.filters.data[0].type", "required: one of 'string', 'number', 'bool'"),
    ("no-data-path", lambda d: filters(d, data=[{"type": "bool", "value": ["true"]}]),
     f"{DEP0}.filters.data[0].path", "required: the gjson path"),
    ("no-data-value", data_filter(value=[]),
     f"{DEP0}.filters.data[0].value", "required: at least one value"),
    ("empty-data-value", data_filter(value=["1", ""]),
     f"{DEP0}.filters.data[0].value[1]", "must not be empty"),
    ("not-a-number", data_filter(value=["fifty"]),
     f"{DEP0}.filters.data[0].value[0]", "'fifty' is not a number"),
    ("not-a-bool", data_filter(type="bool", value=["yes"]),
     f"{DEP0}.filters.data[0].value[0]", "'yes' is not a bool"),
    ("not-a-regex", data_filter(type="string", value=["(unclosed"]),
     f"{DEP0}.filters.data[0].value[0]", "'(unclosed' is not a regular expression"),
    ("string-ordering", data_filter(type="string", value=["a"], comparator=">"),
     f"{DEP0}.filters.data[0].comparator", "'>' compares numbers; a string filter takes"),
    ("bool-not-equal", data_filter(type="bool", value=["true"], comparator="!="),
     f"{DEP0}.filters.data[0].comparator", "'!=' is ignored on a bool filter"),
    ("bad-data-operator", lambda d: filters(d, dataLogicalOperator="AND"),
     f"{DEP0}.filters.dataLogicalOperator", "unknown logical operator 'AND'"),
    # expr filters
    ("unparseable-expr", expr_filter("a == ", "a"),
     f"{DEP0}.filters.exprs[0].expr", "cannot parse 'a == ': Unexpected end of expression"),
    ("bad-expr-token", expr_filter("a === 1", "a"),
     f"{DEP0}.filters.exprs[0].expr", "cannot parse 'a === 1': Invalid token: '==='"),
    ("unbound-expr-variable", expr_filter("a == 1 && cc > 2", "a", "c"),
     f"{DEP0}.filters.exprs[0].expr", "'cc' is not one of the fields' names; did you mean 'c'?"),
    ("expr-without-fields", expr_filter("true"),
     f"{DEP0}.filters.exprs[0].fields", "required: at least one field"),
    ("bad-expr-operator", lambda d: filters(d, exprLogicalOperator="nor"),
     f"{DEP0}.filters.exprLogicalOperator", "unknown logical operator 'nor'"),
    # context and time filters
    ("bad-time-format", time_filter(start="9am"),
     f"{DEP0}.filters.time.start", "'9am' is not a time of day in the form HH:MM:SS"),
    ("time-out-of-range", time_filter(stop="24:00:00"),
     f"{DEP0}.filters.time.stop", "'24:00:00' is not a time of day"),
    ("time-missing-stop", lambda d: filters(d, time={"start": "09:00:00"}),
     f"{DEP0}.filters.time.stop", "is missing a time of day"),
    ("empty-time-window", time_filter(start="9:00:00", stop="09:00:00"),
     f"{DEP0}.filters.time.stop", "equals start '9:00:00': the window would be empty"),
    ("unknown-timezone", time_filter(timezone="Mars/Olympus"),
     f"{DEP0}.filters.time.timezone", "unknown timezone 'Mars/Olympus'"),
    # what sluice does not run
    ("lua-filter", lambda d: filters(d, script="return event.body.a == 1"),
     f"{DEP0}.filters.script",
     "Lua script filters are not supported by sluice; use 'exprs' or 'data' filters"),
    ("lua-transform", lambda d: dep(d).update(transform={"script": "return event"}),
     f"{DEP0}.transform.script", "Lua scripts are not supported by sluice; transform with 'jq'"),
    # conditions
    ("unknown-dependency", with_template(conditions="dep-a && dep-bb"),
     f"{TPL}.conditions", "unknown dependency 'dep-bb'; did you mean 'dep-b'?"),
    ("unparseable-condition", with_template(conditions="dep-a && (dep-b"),
     f"{TPL}.conditions", "cannot parse 'dep-a && (dep-b': missing ')' (at position 15)"),
    ("condition-word-operator", with_template(conditions="dep-a and dep-b"),
     f"{TPL}.conditions",
     "cannot parse 'dep-a and dep-b': 'and' is not an operator here; write '&&' (at position 6)"),
    ("bad-reset-cron", with_template(conditionsReset=[{"byTime": {"cron": "every day"}}]),
     f"{TPL}.conditionsReset[0].byTime.cron", "'every day' is not a five-field cron schedule"),
    ("bad-reset-timezone",
     with_template(conditionsReset=[{"byTime": {"cron": "0 0 * * *", "timezone": "Nowhere"}}]),
     f"{TPL}.conditionsReset[0].byTime.timezone", "unknown timezone 'Nowhere'"),
    ("reset-without-by-time", with_template(conditionsReset=[{}]),
     f"{TPL}.conditionsReset[0].byTime", "required"),
    # parameters
    ("empty-dest", lambda d: k8s_param(d).update(dest=""),
     f"{K8S_PARAM}.dest", "must not be empty: the path the value is written to"),
    ("no-dest", lambda d: k8s_param(d).pop("dest"), f"{K8S_PARAM}.dest", "must not be empty"),
    ("template-level-empty-dest",
     lambda d: trigger(d).update(parameters=[{"src": {"dependencyName": "dep-a"}, "dest": ""}]),
     "spec.triggers[0].parameters[0].dest", "must not be empty"),
    ("parameter-unknown-dependency", lambda d: k8s_param(d)["src"].update(dependencyName="dep-aa"),
     f"{K8S_PARAM}.src.dependencyName", "unknown dependency 'dep-aa'; did you mean 'dep-a'?"),
    ("parameter-without-src", lambda d: k8s_param(d).pop("src"),
     f"{K8S_PARAM}.src", "required: the dependency whose event gives the value"),
    ("bad-parameter-operation", lambda d: k8s_param(d).update(operation="replace"),
     f"{K8S_PARAM}.operation",
     "unknown operation 'replace'; expected one of 'overwrite', 'append', 'prepend'"),
    ("dest-into-another-trigger-type",
     lambda d: trigger(d).update(
         parameters=[{"src": {"dependencyName": "dep-a"}, "dest": "argoWorkflow.args.0"}]),
     "spec.triggers[0].parameters[0].dest",
     "writes into a argoWorkflow trigger, but this template's trigger is k8s"),
    # trigger types
    ("no-trigger-type", lambda d: template(d).pop("k8s"), TPL, "no trigger type; set one of k8s"),
    ("two-trigger-types", with_template(log={}),
     TPL, "more than one trigger type (k8s, log); a trigger sets exactly one"),
    ("bad-k8s-operation", lambda d: template(d)["k8s"].update(operation="apply"),
     f"{TPL}.k8s.operation", "unknown operation 'apply'; expected one of 'create'"),
    ("k8s-without-source", lambda d: template(d)["k8s"].pop("source"),
     f"{TPL}.k8s.source", "required for a k8s trigger"),
    ("two-sources", lambda d: template(d)["k8s"]["source"].update(inline="kind: Workflow"),
     f"{TPL}.k8s.source", "set exactly one of 'resource', 'inline'"),
    ("bad-workflow-operation",
     lambda d: template(d).update(
         k8s=None, argoWorkflow={"operation": "run", "source": {"resource": WORKFLOW}}),
     f"{TPL}.argoWorkflow.operation", "unknown operation 'run'; expected one of 'submit'"),
    ("bad-http-method",
     lambda d: template(d).update(k8s=None, http={"url": "http://x", "method": "post"}),
     f"{TPL}.http.method", "unknown method 'post'; expected one of 'GET'"),
    ("nats-without-subject",
     lambda d: template(d).update(
         k8s=None, nats={"url": "nats://x", "payload": [{"src": {"dependencyName": "dep-a"},
                                                         "dest": "a"}]}),
     f"{TPL}.nats.subject", "required for a nats trigger"),
    ("slack-without-token", lambda d: template(d).update(k8s=None, slack={"channel": "c"}),
     f"{TPL}.slack.slackToken", "required for a slack trigger"),
    ("lambda-invocation-type",
     lambda d: template(d).update(k8s=None, awsLambda={
         "functionName": "f", "region": "us-east-1", "invocationType": "Async",
         "payload": [{"src": {"dependencyName": "dep-a"}, "dest": "a"}]}),
     f"{TPL}.awsLambda.invocationType", "unknown invocation type 'Async'; expected one of"),
    ("slack-nothing-to-post",
     lambda d: template(d).update(k8s=None, slack={"slackToken": SLACK_TOKEN, "channel": "c"}),
     f"{TPL}.slack", "nothing to post: set message, attachments or blocks"),
    ("slack-blocks-not-an-array",
     lambda d: template(d).update(k8s=None, slack={"slackToken": SLACK_TOKEN, "blocks": "{}"}),
     f"{TPL}.slack.blocks", "must be a JSON array"),
    ("slack-attachments-not-json",
     lambda d: template(d).update(k8s=None, slack={"slackToken": SLACK_TOKEN, "attachments": "["}),
     f"{TPL}.slack.attachments", "not JSON"),
    ("duplicate-trigger-name",
     lambda d: d["spec"]["triggers"].append({"template": {"name": "create", "log": {}}}),
     "spec.triggers[1].template.name", "duplicate trigger name 'create' (see spec.triggers[0])"),
    # how a trigger runs
    ("bad-rate-limit-unit", lambda d: trigger(d).update(rateLimit={"unit": "Day"}),
     "spec.triggers[0].rateLimit.unit", "unknown unit 'Day'; expected one of 'Second'"),
    ("negative-rate-limit", lambda d: trigger(d).update(rateLimit={"requestsPerUnit": -1}),
     "spec.triggers[0].rateLimit.requestsPerUnit", "must not be negative"),
    ("bad-retry-duration", lambda d: trigger(d).update(retryStrategy={"duration": "3 seconds"}),
     "spec.triggers[0].retryStrategy.duration", "'3 seconds' is not a duration"),
    ("negative-retry-steps", lambda d: trigger(d).update(retryStrategy={"steps": -1}),
     "spec.triggers[0].retryStrategy.steps", "must not be negative"),
    ("policy-without-labels", lambda d: trigger(d).update(policy={"k8s": {"backoff": {}}}),
     "spec.triggers[0].policy.k8s.labels", "required: the labels that mark the resource done"),
    ("status-policy-without-allow", lambda d: trigger(d).update(policy={"status": {}}),
     "spec.triggers[0].policy.status.allow", "required: the response statuses"),
    ("weight-over-100", lambda d: trigger(d).update(weight=101),
     "spec.triggers[0].weight", "101 is not a weight (0-100)"),
    ("dlq-without-at-least-once",
     lambda d: log_trigger(d, dlqTrigger={"template": {"name": "q", "log": {}},
                                          "atLeastOnce": True}),
     "spec.triggers[0].atLeastOnce", "must be true when a dlqTrigger is set"),
    ("dlq-itself-not-at-least-once",
     lambda d: log_trigger(d, atLeastOnce=True, dlqTrigger={"template": {"name": "q", "log": {}}}),
     "spec.triggers[0].dlqTrigger.atLeastOnce", "must be true in a dlqTrigger"),
    ("dlq-checked-as-a-trigger",
     lambda d: log_trigger(d, atLeastOnce=True,
                           dlqTrigger={"template": {"name": "q", "http": {}}, "atLeastOnce": True}),
     "spec.triggers[0].dlqTrigger.template.http.url", "required for a http trigger"),
]  # fmt: skip


def problems_of(data: dict[str, Any]) -> list[str]:
    try:
        parse_sensor(RawResource(file="s.yaml", index=1, data=data))
    except SpecError as exc:
        return exc.problems
    return []


def test_the_base_sensor_is_valid() -> None:
    assert problems_of(base()) == []


@pytest.mark.parametrize(
    ("edit", "path", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_problem_names_file_path_and_cause(edit: Edit, path: str, message: str) -> None:
    data = base()
    edit(data)
    problems = problems_of(data)
    assert any(p.startswith(f"{WHERE}: {path}: {message}") for p in problems), problems


@pytest.mark.parametrize(
    "edit",
    [
        data_filter(value=["1e3", "-0.5", "0x1p-2", "Inf"]),
        data_filter(type="bool", value=["true", "F", "0"]),
        data_filter(type="string", value=["^bucket-.*", "a|b"], comparator="!="),
        expr_filter('a == "b" || c.d > 10', "a", "c"),
        expr_filter("x.y == 1", "x.y"),
        time_filter(start="22:00:00", stop="01:00:00", timezone="Europe/Paris"),
        lambda d: filters(d, context={"source": "webhook"}),
        lambda d: dep(d).update(transform={"jq": ".body.message *= 2"}),
        with_template(conditions="dep-a || dep-b"),
        with_template(conditionsReset=[{"byTime": {"cron": "59 23 * * *"}}]),
        lambda d: k8s_param(d).update(operation="prepend"),
        lambda d: template(d).update(
            k8s=None, http={"url": "http://x", "payload": [{"src": {"dependencyName": "dep-a"}}]}
        ),
        lambda d: trigger(d).update(retryStrategy={"duration": 3000000000, "factor": 2.0}),
        lambda d: template(d).update(
            k8s=None,
            slack={
                "slackToken": SLACK_TOKEN,
                "channel": "c",
                "parameters": [
                    {"src": {"dependencyName": "dep-a", "dataKey": "body.text"}, "dest": "message"}
                ],
            },
        ),
        lambda d: log_trigger(
            d,
            atLeastOnce=True,
            dlqTrigger={"template": {"name": "q", "log": {}}, "atLeastOnce": True},
        ),
    ],
    ids=[
        "go-floats",
        "go-bools",
        "regex-values",
        "dotted-expr-variable",
        "dotted-field-name",
        "midnight-window",
        "context-source",
        "jq-transform",
        "or-condition",
        "reset-by-cron",
        "prepend",
        "http-payload-without-dest",
        "nanosecond-retry",
        "slack-message-from-a-parameter",
        "dlq",
    ],
)
def test_what_argo_accepts_passes(edit: Edit) -> None:
    data = base()
    edit(data)
    assert problems_of(data) == []


def test_every_problem_is_reported_at_once() -> None:
    data = base()
    dep(data).pop("eventName")
    dep(data, 1).update(name="dep-a")
    template(data).update(conditions="dep-a && dep-x")
    k8s_param(data).update(dest="")
    problems = problems_of(data)
    assert [p.split(": ")[2] for p in problems] == [
        "spec.dependencies[0].eventName",
        "spec.dependencies[1].name",
        f"{TPL}.conditions",
        f"{K8S_PARAM}.dest",
    ]


def test_placeholders_filled_by_trigger_level_parameters_are_not_checked() -> None:
    """Argo's parameterization tutorial (sensor-05): the template parameter is a placeholder."""
    data = base()
    k8s_param(data).update(
        src={"dependencyName": "THIS_WILL_BE_REPLACED", "dataKey": "THIS_WILL_BE_REPLACED"},
        dest="THIS_WILL_BE_REPLACED",
    )
    template(data).update(conditions="PLACEHOLDER")
    trigger(data)["parameters"] = [
        {"src": {"dependencyName": "dep-a", "dataKey": "body.dep"}, "dest": dest}
        for dest in ("k8s.parameters.0.src.dependencyName", "k8s.parameters.0.dest", "conditions")
    ]
    assert problems_of(data) == []
    trigger(data)["parameters"].pop(0)
    assert problems_of(data) == [
        f"{WHERE}: {K8S_PARAM}.src.dependencyName: unknown dependency 'THIS_WILL_BE_REPLACED'"
    ]


def test_argos_trigger_with_policy_as_written_is_reported() -> None:
    """Argo's trigger-with-policy.yaml puts `policy` in the template, which has no such field."""
    data = base()
    template(data)["policy"] = {"k8s": {"labels": {"workflows.argoproj.io/phase": "Succeeded"}}}
    trigger(data)["dlqTrigger"] = {"template": {"name": "q", "log": {}, "atLeastOnce": True}}
    assert problems_of(data) == [
        f"{WHERE}: {TPL}.policy: unknown field; "
        "'policy' belongs to the trigger: write it beside 'template'",
        f"{WHERE}: spec.triggers[0].dlqTrigger.template.atLeastOnce: unknown field; "
        "'atLeastOnce' belongs to the trigger: write it beside 'template'",
    ]


def test_a_dict_is_labelled_with_its_kind_and_name() -> None:
    data = base()
    dep(data).pop("eventName")
    with pytest.raises(SpecError) as info:
        parse_sensor(data)
    assert info.value.problems == [
        "Sensor s: spec.dependencies[0].eventName: required: the event of that EventSource"
    ]


def test_sensor_problems_of_a_valid_sensor_is_empty() -> None:
    sensor = parse_sensor(base())
    assert sensor_problems(sensor, "here") == []

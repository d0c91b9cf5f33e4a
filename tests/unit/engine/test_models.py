"""The Argo Workflow models: YAML in, the same YAML out; typos, wrong kinds and bad values named."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from engine import models
from engine.models import (
    KINDS,
    ClusterWorkflowTemplate,
    CronWorkflow,
    Parameter,
    Sequence,
    Template,
    ValueFrom,
    Workflow,
    WorkflowTemplate,
    load_workflow_resources,
    parse_resource,
)
from sluice.core.errors import SpecError
from sluice.core.resources import parse_documents

FULL_WORKFLOW = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: full-
  namespace: argo
  labels: {team: data}
spec:
  entrypoint: main
  serviceAccountName: runner
  parallelism: 2
  activeDeadlineSeconds: 600
  priority: 3
  onExit: cleanup
  podGC: {strategy: OnPodSuccess, deleteDelayDuration: 30s}
  volumeClaimGC: {strategy: OnWorkflowCompletion}
  ttlStrategy: {secondsAfterCompletion: 60}
  podMetadata: {labels: {app: x}}
  nodeSelector: {disk: ssd}
  synchronization: {mutexes: [{name: one}], semaphores: [{configMapKeyRef: {name: cm, key: k}}]}
  retryStrategy:
    limit: "3"
    retryPolicy: Always
    backoff: {duration: 5s, factor: 2, maxDuration: 1m, cap: 10m}
  hooks:
    exit: {template: cleanup}
    running: {expression: workflow.status == "Running", template: cleanup}
  arguments:
    parameters:
    - {name: greeting, value: hello, enum: [hello, hi]}
    artifacts:
    - {name: data, raw: {data: abc}}
  volumeClaimTemplates:
  - metadata: {name: work}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
  volumes:
  - {name: cache, emptyDir: {}}
  templates:
  - name: main
    steps:
    - - name: hello
        template: echo
        arguments: {parameters: [{name: msg, value: "{{workflow.parameters.greeting}}"}]}
        withItems: [1, two, {three: 3}]
        continueOn: {failed: true}
      - name: ref
        templateRef: {name: lib, template: hello, clusterScope: true}
        when: "{{workflow.parameters.greeting}} == hello"
    - - name: graph
        template: graph
        withSequence: {count: "3", format: "n%02d"}
  - name: graph
    failFast: false
    dag:
      target: b
      failFast: true
      tasks:
      - {name: a, template: echo, arguments: {parameters: [{name: msg, value: a}]}}
      - name: b
        depends: a.Succeeded
        template: echo
        hooks: {exit: {template: cleanup}}
        arguments: {parameters: [{name: msg, value: b}]}
      - {name: c, dependencies: [a], inline: {suspend: {duration: "5"}}}
  - name: echo
    inputs:
      parameters: [{name: msg, default: hi, description: what to say}]
      artifacts: [{name: in, path: /tmp/in, optional: true}]
    outputs:
      parameters: [{name: out, valueFrom: {path: /tmp/out, default: none}, globalName: g}]
      artifacts: [{name: result, path: /tmp/out, s3: {key: out.txt}, archive: {none: {}}}]
    retryStrategy: {limit: 2}
    timeout: 1m
    memoize: {key: "{{inputs.parameters.msg}}", maxAge: 1h, cache: {configMap: {name: c, key: k}}}
    metadata: {annotations: {a: b}}
    container:
      image: alpine:3.19
      command: [sh, -c]
      args: ["echo {{inputs.parameters.msg}} > /tmp/out"]
      workingDir: /tmp
      env:
      - {name: A, value: "1"}
      - name: B
        valueFrom: {secretKeyRef: {name: s, key: k}}
      - name: C
        valueFrom: {fieldRef: {fieldPath: metadata.name}}
      envFrom: [{configMapRef: {name: cm}, prefix: X_}]
      ports: [{containerPort: 8080, hostIP: 127.0.0.1, protocol: TCP}]
      resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {cpu: 1, nvidia.com/gpu: 1}}
      volumeMounts: [{name: cache, mountPath: /cache, readOnly: true, subPath: x}]
      imagePullPolicy: IfNotPresent
      securityContext: {runAsNonRoot: true, capabilities: {drop: [ALL]}}
      readinessProbe: {httpGet: {path: /health, port: 8080}, periodSeconds: 5}
      lifecycle: {preStop: {exec: {command: [sleep, "5"]}}}
      stdin: false
      tty: false
      terminationMessagePath: /dev/termination-log
    sidecars:
    - {name: db, image: postgres, mirrorVolumeMounts: true}
    initContainers:
    - {name: init, image: busybox, command: ["true"]}
    tolerations: [{key: k, operator: Exists, effect: NoSchedule}]
    affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {}}}
    podSpecPatch: '{"containers": [{"name": "main"}]}'
    metrics:
      prometheus: [{name: runs, help: runs, counter: {value: "1"}}]
  - name: cleanup
    script:
      image: python:3.12
      command: [python]
      source: print("bye")
  - name: call
    http:
      url: https://example.com
      method: POST
      headers: [{name: X-Token, valueFrom: {secretKeyRef: {name: s, key: token}}}]
      body: "{}"
      timeoutSeconds: 5
      successCondition: response.statusCode == 200
      insecureSkipVerify: true
  - name: apply
    resource:
      action: create
      setOwnerReference: true
      successCondition: status.succeeded > 0
      manifest: |
        apiVersion: v1
        kind: ConfigMap
  - name: pod-set
    containerSet:
      volumeMounts: [{name: cache, mountPath: /cache}]
      retryStrategy: {retries: 2, duration: 1s}
      containers:
      - {name: a, image: alpine}
      - {name: b, image: alpine, dependencies: [a]}
  - name: transform
    data:
      source: {artifactPaths: {name: in, s3: {bucket: b}}}
      transformation: [{expression: "filter(data, {# endsWith '.csv'})"}]
  - name: plug
    plugin: {hello: {text: hi}}
"""

WORKFLOW_TEMPLATE = """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: lib}
spec:
  templates:
  - name: hello
    inputs: {parameters: [{name: who, value: world}]}
    container: {image: alpine, args: ["hello {{inputs.parameters.who}}"]}
"""

CLUSTER_TEMPLATE = WORKFLOW_TEMPLATE.replace(
    "kind: WorkflowTemplate", "kind: ClusterWorkflowTemplate"
)

CRON_WORKFLOW = """
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {name: nightly}
spec:
  schedules: ["0 2 * * *", "0 14 * * *"]
  timezone: Europe/Paris
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 30
  suspend: false
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 1
  when: "{{= cronworkflow.lastScheduledTime == nil }}"
  stopStrategy: {expression: cronworkflow.failed >= 3}
  workflowMetadata: {labels: {kind: nightly}}
  workflowSpec:
    workflowTemplateRef: {name: lib}
    arguments: {parameters: [{name: who, value: night}]}
"""


def _raw(text: str, file: str = "wf.yaml") -> Any:
    return parse_documents(textwrap.dedent(text), file)[0]


def _problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_resource(_raw(text))
    return info.value.problems


@pytest.mark.parametrize(
    ("text", "model"),
    [
        (FULL_WORKFLOW, Workflow),
        (WORKFLOW_TEMPLATE, WorkflowTemplate),
        (CLUSTER_TEMPLATE, ClusterWorkflowTemplate),
        (CRON_WORKFLOW, CronWorkflow),
    ],
    ids=["workflow", "workflow-template", "cluster-workflow-template", "cron-workflow"],
)
def test_round_trip(text: str, model: type[BaseModel]) -> None:
    raw = _raw(text)
    obj = parse_resource(raw)
    assert type(obj) is model
    assert obj.model_dump(by_alias=True, exclude_none=True) == raw.data
    assert obj.to_yaml_dict() == raw.data


def test_attributes_follow_the_snake_case_convention() -> None:
    wf = parse_resource(_raw(FULL_WORKFLOW))
    assert isinstance(wf, Workflow)
    spec = wf.spec
    assert spec.entrypoint == "main"
    assert spec.on_exit == "cleanup"
    assert spec.service_account_name == "runner"
    assert spec.pod_gc is not None and spec.pod_gc.strategy == "OnPodSuccess"
    assert spec.ttl_strategy is not None and spec.ttl_strategy.seconds_after_completion == 60
    assert spec.volume_claim_templates is not None
    assert spec.volume_claim_templates[0].metadata is not None
    assert spec.arguments is not None and spec.arguments.parameters is not None
    assert spec.arguments.parameters[0].enum == ["hello", "hi"]
    assert spec.hooks is not None and spec.hooks["exit"].template == "cleanup"
    templates = {t.name: t for t in spec.templates or []}
    main = templates["main"]
    assert main.steps is not None
    assert main.steps[0][1].template_ref is not None
    assert main.steps[0][1].template_ref.cluster_scope is True
    assert main.steps[1][0].with_sequence == Sequence(count="3", format="n%02d")
    graph = templates["graph"].dag
    assert graph is not None and graph.tasks[1].depends == "a.Succeeded"
    assert graph.tasks[2].inline is not None and graph.tasks[2].inline.suspend is not None
    echo = templates["echo"]
    assert echo.container is not None and echo.container.working_dir == "/tmp"
    assert echo.container.ports is not None and echo.container.ports[0].host_ip == "127.0.0.1"
    assert echo.outputs is not None and echo.outputs.artifacts is not None
    assert echo.outputs.artifacts[0].s3 == {"key": "out.txt"}
    assert echo.sidecars is not None and echo.sidecars[0].mirror_volume_mounts is True
    assert templates["cleanup"].script is not None
    assert templates["pod-set"].container_set is not None
    assert templates["call"].http is not None and templates["call"].http.timeout_seconds == 5
    assert templates["transform"].kinds() == ["data"]


@pytest.mark.parametrize(
    ("model", "data", "attr", "expected"),
    [
        (Parameter, {"name": "p", "value": True}, "value", "true"),
        (Parameter, {"name": "p", "value": False}, "value", "false"),
        (Parameter, {"name": "p", "value": 3}, "value", "3"),
        (Parameter, {"name": "p", "value": 1.5}, "value", "1.5"),
        (Parameter, {"name": "p", "value": "text"}, "value", "text"),
        (Parameter, {"name": "p", "default": 0}, "default", "0"),
        (Parameter, {"name": "p", "enum": [1, "b", True]}, "enum", ["1", "b", "true"]),
        (Parameter, {"name": "p", "description": 7}, "description", "7"),
        (ValueFrom, {"default": 42}, "default", "42"),
        (Sequence, {"count": 5, "start": "1"}, "count", "5"),
    ],
    ids=[
        "true",
        "false",
        "int",
        "float",
        "string",
        "default",
        "enum",
        "description",
        "value-from-default",
        "sequence-count",
    ],
)
def test_any_string_coercion(
    model: type[BaseModel], data: dict[str, Any], attr: str, expected: Any
) -> None:
    assert getattr(model.model_validate(data), attr) == expected


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec", "templates", 0, "container", "securityContext"), {"privileged": True}),
        (("spec", "templates", 0, "container", "livenessProbe"), {"exec": {"command": ["x"]}}),
        (("spec", "templates", 0, "affinity"), {"podAntiAffinity": {"x": [1]}}),
        (("spec", "templates", 0, "tolerations"), [{"key": "a", "operator": "Exists"}]),
        (("spec", "templates", 0, "podSpecPatch"), "containers: []"),
        (("spec", "imagePullSecrets"), [{"name": "regcred"}]),
        (("spec", "securityContext"), {"runAsUser": 1000}),
        (("spec", "dnsConfig"), {"nameservers": ["1.1.1.1"]}),
        (("spec", "podDisruptionBudget"), {"minAvailable": 1}),
        (("spec", "volumes"), [{"name": "nfs", "nfs": {"server": "s", "path": "/"}}]),
        (("spec", "templates", 0, "metrics"), {"prometheus": [{"name": "m", "help": "h"}]}),
        (("spec", "templates", 0, "outputs"), {"artifacts": [{"name": "a", "newStore": {}}]}),
    ],
    ids=[
        "security-context",
        "probe",
        "affinity",
        "tolerations",
        "pod-spec-patch",
        "image-pull-secrets",
        "pod-security-context",
        "dns-config",
        "pdb",
        "volume-source",
        "metrics",
        "artifact-unknown-store",
    ],
)
def test_kubernetes_fields_are_kept(path: tuple[str | int, ...], value: Any) -> None:
    data: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "k"},
        "spec": {"entrypoint": "t", "templates": [{"name": "t", "container": {"image": "x"}}]},
    }
    target: Any = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    wf = Workflow.model_validate(data)
    assert wf.model_dump(by_alias=True, exclude_none=True) == data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            """
            kind: Workflow
            apiVersion: argoproj.io/v1alpha1
            metadata: {name: t}
            spec: {templates: [{name: a, container: {image: x, comand: [echo]}}]}
            """,
            "wf.yaml: document 1 (Workflow t): spec.templates[0].container.comand: "
            "unknown field; did you mean 'command'?",
        ),
        (
            """
            kind: Workflow
            apiVersion: argoproj.io/v1alpha1
            metadata: {name: t}
            spec: {entrypoit: a}
            """,
            "wf.yaml: document 1 (Workflow t): spec.entrypoit: unknown field; "
            "did you mean 'entrypoint'?",
        ),
        (
            """
            kind: Workflow
            apiVersion: argoproj.io/v1alpha1
            metadata: {name: t}
            spec: {templates: [{name: a, steps: [[{name: s, tempalte: b}]]}]}
            """,
            "wf.yaml: document 1 (Workflow t): spec.templates[0].steps[0][0].tempalte: "
            "unknown field; did you mean 'template'?",
        ),
        (
            """
            kind: Workflow
            apiVersion: argoproj.io/v1alpha1
            metadata: {name: t}
            spec: {templates: [{name: a, dag: {tasks: [{name: x, dependecies: [y]}]}}]}
            """,
            "wf.yaml: document 1 (Workflow t): spec.templates[0].dag.tasks[0].dependecies: "
            "unknown field; did you mean 'dependencies'?",
        ),
        (
            """
            kind: Workflow
            apiVersion: argoproj.io/v1alpha1
            metadata: {name: t}
            spec: {hooks: {exit: {templat: x}}}
            """,
            "wf.yaml: document 1 (Workflow t): spec.hooks.exit.templat: unknown field; "
            "did you mean 'template'?",
        ),
        (
            """
            kind: CronWorkflow
            apiVersion: argoproj.io/v1alpha1
            metadata: {name: t}
            spec: {schedule: "* * * * *", workflowSpec: {podGc: {}}}
            """,
            "wf.yaml: document 1 (CronWorkflow t): spec.workflowSpec.podGc: unknown field; "
            "did you mean 'podGC'?",
        ),
    ],
    ids=["container", "spec", "step", "dag-task", "hook", "irregular-alias"],
)
def test_typo_names_the_path_and_suggests(text: str, expected: str) -> None:
    assert _problems(text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "apiVersion: v1\nkind: Workflow\nmetadata: {name: t}\nspec: {}\n",
            [
                "wf.yaml: document 1 (Workflow t): apiVersion: "
                "must be 'argoproj.io/v1alpha1', got 'v1'"
            ],
        ),
        (
            "kind: Workflow\nmetadata: {name: t}\nspec: {}\n",
            ["wf.yaml: document 1 (Workflow t): apiVersion: required field is missing"],
        ),
        (
            "apiVersion: argoproj.io/v1alpha1\nkind: Sensor\nmetadata: {name: t}\n",
            [
                "wf.yaml: document 1 (Sensor t): kind: unknown kind 'Sensor'; expected one of "
                "Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow"
            ],
        ),
        (
            "apiVersion: argoproj.io/v1alpha1\nmetadata: {name: t}\n",
            [
                "wf.yaml: document 1 (t): kind: required field is missing; expected one of "
                "Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow"
            ],
        ),
    ],
    ids=["wrong-api-version", "missing-api-version", "unknown-kind", "missing-kind"],
)
def test_api_version_and_kind(text: str, expected: list[str]) -> None:
    assert _problems(text) == expected


def test_kind_must_match_the_model() -> None:
    data = {"apiVersion": "argoproj.io/v1alpha1", "kind": "CronWorkflow", "spec": {}}
    with pytest.raises(ValueError, match="must be 'Workflow', got 'CronWorkflow'"):
        Workflow.model_validate(data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "spec: {templates: [{name: a, steps: [{name: s, template: b}]}]}",
            "spec.templates[0].steps: steps must be a list of step groups, each a list of "
            "steps: write '- - name: ...'",
        ),
        (
            "spec: {templates: [{name: a, retryStrategy: {limit: [1]}}]}",
            "spec.templates[0].retryStrategy.limit: expected an integer or a string",
        ),
        (
            "spec: {templates: [{name: a, container: {resources: {limits: {cpu: {}}}}}]}",
            "spec.templates[0].container.resources.limits.cpu: expected a number or a string",
        ),
        (
            "spec: {templates: [{name: a, dag: {tasks: [{template: b}]}}]}",
            "spec.templates[0].dag.tasks[0].name: required field is missing",
        ),
        (
            "spec: {arguments: {parameters: [{name: p, value: [1]}]}}",
            "spec.arguments.parameters[0].value: Input should be a valid string",
        ),
    ],
    ids=["flat-steps", "int-or-string", "quantity", "task-name", "parameter-value"],
)
def test_bad_values(text: str, expected: str) -> None:
    head = "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: t}\n"
    assert _problems(head + text) == [f"wf.yaml: document 1 (Workflow t): {expected}"]


def test_every_problem_is_reported_at_once() -> None:
    problems = _problems(
        """
        apiVersion: argoproj.io/v2
        kind: Workflow
        metadata: {name: t}
        spec:
          entrypont: main
          templates:
          - {name: a, container: {image: x, arg: [y]}}
          - {name: b, script: {image: x}}
        """
    )
    assert sorted(problems) == [
        "wf.yaml: document 1 (Workflow t): apiVersion: must be 'argoproj.io/v1alpha1', "
        "got 'argoproj.io/v2'",
        "wf.yaml: document 1 (Workflow t): spec.entrypont: unknown field; "
        "did you mean 'entrypoint'?",
        "wf.yaml: document 1 (Workflow t): spec.templates[0].container.arg: unknown field; "
        "did you mean 'args'?",
        "wf.yaml: document 1 (Workflow t): spec.templates[1].script.source: "
        "required field is missing",
    ]


def test_kinds_registry_matches_the_models() -> None:
    assert set(KINDS) == {"Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow"}
    for kind, model in KINDS.items():
        assert model.model_fields["kind"].default == kind


def _models() -> list[type[BaseModel]]:
    found = [v for v in vars(models).values() if isinstance(v, type) and issubclass(v, BaseModel)]
    return sorted(found, key=lambda m: m.__name__)


def test_aliases_are_camel_case_except_argos_irregular_keys() -> None:
    irregular = set()
    for model in _models():
        for name, field in model.model_fields.items():
            if field.alias != to_camel(name):
                irregular.add(f"{model.__name__}.{name}={field.alias}")
    assert irregular == {
        "Artifact.from_=from",
        "Artifact.artifact_gc=artifactGC",
        "ContainerPort.host_ip=hostIP",
        "WorkflowSpec.pod_gc=podGC",
        "WorkflowSpec.volume_claim_gc=volumeClaimGC",
        "WorkflowSpec.artifact_gc=artifactGC",
    }


def test_template_kinds() -> None:
    assert Template(name="t").kinds() == []
    both = Template.model_validate({"container": {"image": "x"}, "script": {"source": "y"}})
    assert both.kinds() == ["container", "script"]


def test_load_workflow_resources(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        textwrap.dedent(WORKFLOW_TEMPLATE) + "---\n" + textwrap.dedent(CRON_WORKFLOW)
    )
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.yml").write_text(textwrap.dedent(FULL_WORKFLOW))
    (tmp_path / "notes.txt").write_text("not a resource")
    loaded = load_workflow_resources(tmp_path)
    assert [type(r).__name__ for r in loaded] == ["WorkflowTemplate", "CronWorkflow", "Workflow"]
    assert load_workflow_resources(tmp_path / "a.yaml")[0].metadata.name == "lib"


def test_load_workflow_resources_reports_every_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: v1\nkind: Workflow\nmetadata: {name: a}\nspec: {}\n"
    )
    (tmp_path / "b.yaml").write_text("kind: Pod\nmetadata: {name: b}\n")
    with pytest.raises(SpecError) as info:
        load_workflow_resources(tmp_path)
    assert [p.split(": ")[0] for p in info.value.problems] == [
        str(tmp_path / "a.yaml"),
        str(tmp_path / "b.yaml"),
    ]

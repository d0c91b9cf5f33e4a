"""The workflow linter: each check with a case that trips it and one that does not."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from engine.lint import lint_paths, lint_resource
from engine.models import WorkflowTemplate, parse_resource
from sluice.core.resources import parse_documents

HEAD = "apiVersion: argoproj.io/v1alpha1\nkind: {kind}\nmetadata: {{name: t}}\n"

LIBRARY = """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: lib}
spec:
  templates:
  - {name: hello, container: {image: alpine}}
"""


def _lint(spec: str, kind: str = "Workflow", library: bool = False) -> list[str]:
    """Problems of one resource, without the ``FILE: document N (...)`` prefix."""
    text = HEAD.format(kind=kind) + textwrap.dedent(spec)
    obj = parse_resource(parse_documents(text, "wf.yaml")[0])
    known = {}
    if library:
        lib = parse_resource(parse_documents(LIBRARY, "lib.yaml")[0])
        assert isinstance(lib, WorkflowTemplate)
        known["lib"] = lib
    where = f"wf.yaml: document 1 ({kind} t)"
    problems = lint_resource(obj, where, known)
    assert all(p.startswith(where + ": ") for p in problems)
    return [p[len(where) + 2 :] for p in problems]


CASES = [
    # -- entrypoint ---------------------------------------------------------------------------
    (
        "entrypoint-missing",
        """
        spec:
          templates: [{name: a, container: {image: x}}]
        """,
        ["spec.entrypoint: required field is missing: name the template to run first"],
    ),
    (
        "entrypoint-present",
        """
        spec:
          entrypoint: a
          templates: [{name: a, container: {image: x}}]
        """,
        [],
    ),
    (
        "entrypoint-from-workflow-template-ref",
        """
        spec:
          workflowTemplateRef: {name: lib}
        """,
        [],
    ),
    (
        "entrypoint-unknown",
        """
        spec:
          entrypoint: mian
          templates: [{name: main, container: {image: x}}]
        """,
        ["spec.entrypoint: unknown template 'mian'; did you mean 'main'?"],
    ),
    # -- template names -------------------------------------------------------------------------
    (
        "duplicate-template",
        """
        spec:
          entrypoint: a
          templates:
          - {name: a, container: {image: x}}
          - {name: b, container: {image: x}}
          - {name: a, script: {image: x, source: y}}
        """,
        ["spec.templates[2].name: duplicate template name 'a' (also spec.templates[0])"],
    ),
    (
        "template-without-name",
        """
        spec:
          entrypoint: a
          templates: [{name: a, container: {image: x}}, {container: {image: x}}]
        """,
        ["spec.templates[1].name: required field is missing"],
    ),
    # -- one body per template ------------------------------------------------------------------
    (
        "template-with-no-body",
        """
        spec:
          entrypoint: a
          templates: [{name: a, inputs: {parameters: [{name: p}]}}]
        """,
        [
            "spec.templates[0]: a template defines exactly one of container, script, steps, dag, "
            "suspend, resource, http, containerSet, data, plugin; found none"
        ],
    ),
    (
        "template-with-two-bodies",
        """
        spec:
          entrypoint: a
          templates: [{name: a, container: {image: x}, suspend: {}}]
        """,
        [
            "spec.templates[0]: a template defines exactly one of container, script, steps, dag, "
            "suspend, resource, http, containerSet, data, plugin; found container, suspend"
        ],
    ),
    (
        "each-body-kind-alone",
        """
        spec:
          entrypoint: a
          templates:
          - {name: a, suspend: {duration: "1"}}
          - {name: b, resource: {action: get, manifest: x}}
          - {name: c, http: {url: "http://x"}}
          - {name: d, containerSet: {containers: [{name: m, image: x}]}}
          - {name: e, data: {source: {artifactPaths: {name: a}}, transformation: []}}
          - {name: f, plugin: {any: {}}}
          - {name: g, script: {image: x, source: y}}
        """,
        [],
    ),
    # -- calls to templates -----------------------------------------------------------------------
    (
        "step-unknown-template",
        """
        spec:
          entrypoint: main
          templates:
          - name: main
            steps: [[{name: s, template: ech}]]
          - {name: echo, container: {image: x}}
        """,
        ["spec.templates[0].steps[0][0].template: unknown template 'ech'; did you mean 'echo'?"],
    ),
    (
        "task-unknown-template",
        """
        spec:
          entrypoint: main
          templates:
          - name: main
            dag: {tasks: [{name: a, template: nothing-like-it}]}
          - {name: echo, container: {image: x}}
        """,
        ["spec.templates[0].dag.tasks[0].template: unknown template 'nothing-like-it'"],
    ),
    (
        "on-exit-and-hooks-unknown",
        """
        spec:
          entrypoint: main
          onExit: exit-handlr
          hooks: {running: {expression: "true", template: nope}}
          templates:
          - name: main
            steps:
            - - {name: s, template: exit-handler, onExit: gone, hooks: {exit: {template: gone}}}
          - {name: exit-handler, container: {image: x}}
        """,
        [
            "spec.onExit: unknown template 'exit-handlr'; did you mean 'exit-handler'?",
            "spec.hooks.running.template: unknown template 'nope'",
            "spec.templates[0].steps[0][0].onExit: unknown template 'gone'",
            "spec.templates[0].steps[0][0].hooks.exit.template: unknown template 'gone'",
        ],
    ),
    (
        "calls-to-known-templates",
        """
        spec:
          entrypoint: main
          onExit: bye
          hooks: {exit: {template: bye}}
          templates:
          - name: main
            steps:
            - - {name: a, template: bye, hooks: {exit: {templateRef: {name: lib, template: hello}}}}
            - - {name: b, templateRef: {name: other-lib, template: anything}}
          - {name: bye, container: {image: x}}
        """,
        [],
    ),
    (
        "template-ref-to-a-known-workflow-template",
        """
        spec:
          entrypoint: main
          templates:
          - name: main
            dag:
              tasks:
              - {name: a, templateRef: {name: lib, template: helo}}
              - {name: b, templateRef: {name: lib, template: hello}}
              - {name: c, templateRef: {name: lib, template: hello, clusterScope: true}}
        """,
        [
            "spec.templates[0].dag.tasks[0].templateRef.template: WorkflowTemplate 'lib' has no "
            "template 'helo'; did you mean 'hello'?"
        ],
    ),
    (
        "templates-of-a-known-workflow-template-ref",
        """
        spec:
          workflowTemplateRef: {name: lib}
          entrypoint: hello
          onExit: missing
        """,
        ["spec.onExit: unknown template 'missing'"],
    ),
    (
        "unknown-workflow-template-ref-skips-names",
        """
        spec:
          workflowTemplateRef: {name: elsewhere}
          entrypoint: whatever
          onExit: anything
        """,
        [],
    ),
    (
        "templated-names-are-skipped",
        """
        spec:
          entrypoint: main
          templates:
          - name: main
            steps: [[{name: s, template: "{{workflow.parameters.which}}"}]]
        """,
        [],
    ),
    # -- template / templateRef / inline ------------------------------------------------------
    (
        "step-with-template-and-template-ref",
        """
        spec:
          entrypoint: main
          templates:
          - name: main
            steps: [[{name: s, template: main, templateRef: {name: x, template: y}}]]
        """,
        ["spec.templates[0].steps[0][0]: a step sets template and templateRef; use exactly one"],
    ),
    (
        "task-with-nothing-to-run",
        """
        spec:
          entrypoint: main
          templates:
          - name: main
            dag: {tasks: [{name: a}]}
        """,
        ["spec.templates[0].dag.tasks[0]: a task needs one of template, templateRef or inline"],
    ),
    (
        "inline-template-is-linted",
        """
        spec:
          entrypoint: main
          templates:
          - name: main
            inputs: {parameters: [{name: outer}]}
            dag:
              tasks:
              - name: a
                arguments: {parameters: [{name: p, value: "{{inputs.parameters.outer}}"}]}
                inline:
                  inputs: {parameters: [{name: p}]}
                  container:
                    image: x
                    args: ["{{inputs.parameters.p}}", "{{inputs.parameters.q}}"]
              - {name: b, inline: {container: {image: x}, script: {image: x, source: y}}}
        """,
        [
            "spec.templates[0].dag.tasks[0].inline.container.args[1]: 'inputs.parameters.q' is "
            "used but the template declares no input parameter 'q'",
            "spec.templates[0].dag.tasks[1].inline: a template defines exactly one of container, "
            "script, steps, dag, suspend, resource, http, containerSet, data, plugin; "
            "found container, script",
        ],
    ),
    (
        "template-ref-incomplete",
        """
        spec:
          entrypoint: main
          templates:
          - name: main
            steps: [[{name: s, templateRef: {name: lib}}]]
        """,
        ["spec.templates[0].steps[0][0].templateRef: templateRef needs both name and template"],
    ),
    # -- inputs used but not declared -----------------------------------------------------------
    (
        "undeclared-input-parameter",
        """
        spec:
          entrypoint: a
          templates:
          - name: a
            inputs: {parameters: [{name: message}]}
            container: {image: x, command: [echo], args: ["{{inputs.parameters.mesage}}"]}
        """,
        [
            "spec.templates[0].container.args[0]: 'inputs.parameters.mesage' is used but the "
            "template declares no input parameter 'mesage'; did you mean 'message'?"
        ],
    ),
    (
        "undeclared-input-artifact-and-expression-forms",
        """
        spec:
          entrypoint: a
          templates:
          - name: a
            script:
              image: x
              source: |
                cat {{inputs.artifacts.data.path}}
                echo {{=inputs.parameters['count'] + 1}} {{ inputs.parameters.n }}
        """,
        [
            "spec.templates[0].script.source: 'inputs.artifacts.data' is used but the template "
            "declares no input artifact 'data'",
            "spec.templates[0].script.source: 'inputs.parameters.count' is used but the template "
            "declares no input parameter 'count'",
            "spec.templates[0].script.source: 'inputs.parameters.n' is used but the template "
            "declares no input parameter 'n'",
        ],
    ),
    (
        "declared-inputs",
        """
        spec:
          entrypoint: a
          templates:
          - name: a
            inputs:
              parameters: [{name: n}, {name: count}]
              artifacts: [{name: data, path: /tmp/data}]
            script:
              image: x
              source: |
                cat {{inputs.artifacts.data.path}} {{inputs.parameters.n}}
                echo {{=inputs.parameters['count']}} {{inputs.parameters}}
                echo {{steps.other.inputs.parameters.not-ours}}
        """,
        [],
    ),
    # -- dag dependencies ---------------------------------------------------------------------
    (
        "unknown-dependency",
        """
        spec:
          entrypoint: d
          templates:
          - name: d
            dag:
              tasks:
              - {name: build, template: d}
              - {name: test, template: d, dependencies: [biuld, build]}
        """,
        [
            "spec.templates[0].dag.tasks[1].dependencies: unknown task 'biuld'; "
            "did you mean 'build'?"
        ],
    ),
    (
        "unknown-task-in-depends",
        """
        spec:
          entrypoint: d
          templates:
          - name: d
            dag:
              tasks:
              - {name: fetch-data, template: d}
              - {name: train-model, template: d}
              - name: report
                template: d
                depends: >-
                  (fetch-data.Succeeded || fetch-dat.Failed)
                  && train-model.AnySucceeded && !lint
        """,
        [
            "spec.templates[0].dag.tasks[2].depends: unknown task 'fetch-dat'; "
            "did you mean 'fetch-data'?",
            "spec.templates[0].dag.tasks[2].depends: unknown task 'lint'",
        ],
    ),
    (
        "depends-with-every-result",
        """
        spec:
          entrypoint: d
          templates:
          - name: d
            dag:
              target: z
              tasks:
              - {name: a-1, template: d}
              - name: z
                template: d
                depends: >-
                  a-1 && a-1.Succeeded && a-1.Failed && a-1.Errored && a-1.Skipped
                  && a-1.Completed && a-1.Omitted && a-1.Daemoned && a-1.AnySucceeded
                  && a-1.AllFailed
        """,
        [],
    ),
    (
        "depends-syntax-error-and-both-forms",
        """
        spec:
          entrypoint: d
          templates:
          - name: d
            dag:
              tasks:
              - {name: a, template: d}
              - {name: b, template: d, depends: "a &&", dependencies: [a]}
        """,
        [
            "spec.templates[0].dag.tasks[1]: use either depends or dependencies, not both",
            "spec.templates[0].dag.tasks[1].depends: unexpected end of depends expression 'a &&'",
        ],
    ),
    (
        "unknown-target",
        """
        spec:
          entrypoint: d
          templates:
          - name: d
            dag: {target: a b, tasks: [{name: a, template: d}]}
        """,
        ["spec.templates[0].dag.target: unknown task 'b'"],
    ),
    (
        "dependency-cycle",
        """
        spec:
          entrypoint: d
          templates:
          - name: d
            dag:
              tasks:
              - {name: start, template: d}
              - {name: a, template: d, depends: start && c}
              - {name: b, template: d, dependencies: [a]}
              - {name: c, template: d, depends: b.Succeeded}
              - {name: self, template: d, dependencies: [self]}
        """,
        [
            "spec.templates[0].dag.tasks[1]: dependency cycle: a -> c -> b -> a",
            "spec.templates[0].dag.tasks[4]: dependency cycle: self -> self",
        ],
    ),
    (
        "diamond-is-not-a-cycle",
        """
        spec:
          entrypoint: d
          templates:
          - name: d
            dag:
              tasks:
              - {name: a, template: d}
              - {name: b, template: d, dependencies: [a]}
              - {name: c, template: d, depends: a}
              - {name: e, template: d, depends: b && c}
        """,
        [],
    ),
    # -- duplicate step and task names -------------------------------------------------------------
    (
        "duplicate-step-names",
        """
        spec:
          entrypoint: s
          templates:
          - name: s
            steps:
            - [{name: x, template: s}, {name: y, template: s}]
            - [{name: x, template: s}]
        """,
        [
            "spec.templates[0].steps[1][0].name: duplicate step name 'x' "
            "(also spec.templates[0].steps[0][0])"
        ],
    ),
    (
        "duplicate-task-names",
        """
        spec:
          entrypoint: d
          templates:
          - name: d
            dag: {tasks: [{name: x, template: d}, {name: x, template: d}]}
        """,
        [
            "spec.templates[0].dag.tasks[1].name: duplicate task name 'x' "
            "(also spec.templates[0].dag.tasks[0])"
        ],
    ),
    # -- enums ------------------------------------------------------------------------------------
    (
        "argument-not-in-enum",
        """
        spec:
          entrypoint: a
          arguments:
            parameters:
            - {name: env, value: prod, enum: [dev, staging]}
            - {name: level, value: 3, enum: [1, 2, 3]}
            - {name: empty, value: x, enum: []}
            - {name: later, value: "{{workflow.name}}", enum: [a]}
          templates:
          - name: a
            inputs: {parameters: [{name: size, default: xl, enum: [s, m]}]}
            container: {image: x}
        """,
        [
            "spec.arguments.parameters[0].value: 'prod' is not one of the allowed values: "
            "dev, staging",
            "spec.arguments.parameters[2].enum: enum must list at least one value",
            "spec.templates[0].inputs.parameters[0].default: 'xl' is not one of the allowed "
            "values: s, m",
        ],
    ),
]


@pytest.mark.parametrize(("spec", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_lint(spec: str, expected: list[str]) -> None:
    assert _lint(spec, library=True) == expected


@pytest.mark.parametrize(
    ("kind", "spec", "expected"),
    [
        ("WorkflowTemplate", "spec: {templates: [{name: a, container: {image: x}}]}", []),
        ("ClusterWorkflowTemplate", "spec: {templates: [{name: a, container: {image: x}}]}", []),
        (
            "CronWorkflow",
            "spec: {schedule: '* * * * *', workflowSpec: {templates: [{name: a, suspend: {}}]}}",
            [
                "spec.workflowSpec.entrypoint: required field is missing: "
                "name the template to run first"
            ],
        ),
        (
            "CronWorkflow",
            "spec: {schedule: '* * * * *', "
            "workflowSpec: {entrypoint: b, templates: [{name: a, suspend: {}}]}}",
            ["spec.workflowSpec.entrypoint: unknown template 'b'"],
        ),
    ],
    ids=["workflow-template", "cluster-workflow-template", "cron-no-entrypoint", "cron-paths"],
)
def test_lint_by_kind(kind: str, spec: str, expected: list[str]) -> None:
    assert _lint(spec, kind=kind) == expected


def test_template_refs_are_unchecked_without_known_templates() -> None:
    spec = """
    spec:
      entrypoint: main
      templates:
      - name: main
        steps: [[{name: s, templateRef: {name: lib, template: nope}}]]
    """
    assert _lint(spec) == []
    assert len(_lint(spec, library=True)) == 1


def test_lint_paths_reports_every_problem_in_every_file(tmp_path: Path) -> None:
    (tmp_path / "lib.yaml").write_text(textwrap.dedent(LIBRARY))
    (tmp_path / "a.yaml").write_text(
        textwrap.dedent(
            """
            apiVersion: argoproj.io/v1alpha1
            kind: Workflow
            metadata: {name: a}
            spec:
              entrypoint: main
              templates:
              - name: main
                steps: [[{name: s, templateRef: {name: lib, template: hi}}, {name: s, template: x}]]
            ---
            apiVersion: argoproj.io/v1alpha1
            kind: Workflow
            metadata: {name: b}
            spec:
              entrypoint: main
              templates: [{name: main, container: {image: x, comand: [y]}}]
            """
        )
    )
    (tmp_path / "b.yaml").write_text("kind: Sensor\nmetadata: {name: s}\n")
    (tmp_path / "c.yaml").write_text("key: [unclosed\n")
    missing = tmp_path / "missing.yaml"
    a, b, c = (str(tmp_path / n) for n in ("a.yaml", "b.yaml", "c.yaml"))
    problems = lint_paths([tmp_path, missing])
    assert problems[:5] == [
        f"{a}: document 1 (Workflow a): spec.templates[0].steps[0][0].templateRef.template: "
        "WorkflowTemplate 'lib' has no template 'hi'",
        f"{a}: document 1 (Workflow a): spec.templates[0].steps[0][1].name: "
        "duplicate step name 's' (also spec.templates[0].steps[0][0])",
        f"{a}: document 1 (Workflow a): spec.templates[0].steps[0][1].template: "
        "unknown template 'x'",
        f"{a}: document 2 (Workflow b): spec.templates[0].container.comand: unknown field; "
        "did you mean 'command'?",
        f"{b}: document 1 (Sensor s): kind: unknown kind 'Sensor'; expected one of Workflow, "
        "WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow",
    ]
    assert problems[5].startswith(f"{c}: invalid YAML:")
    assert problems[6].startswith(f"{missing}: cannot read:")
    assert len(problems) == 7


def test_lint_paths_clean(tmp_path: Path) -> None:
    (tmp_path / "lib.yaml").write_text(textwrap.dedent(LIBRARY))
    assert lint_paths([tmp_path]) == []
    assert lint_paths(str(tmp_path / "lib.yaml")) == []

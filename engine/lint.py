"""``sluice lint`` for workflows: the mistakes a schema cannot see, all reported in one pass.

The models catch shapes and typos. This module catches what only the whole resource shows: a
step calling a template that does not exist, a DAG task depending on a missing task or on
itself through others, a template using an input it never declares. Every problem is reported,
each as ``FILE: document N (Kind name): PATH: message`` with PATH pointing at the spot to fix.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from engine.depends import DependsError, evaluate, task_names
from engine.models import (
    TEMPLATE_KINDS,
    Arguments,
    ClusterWorkflowTemplate,
    CronWorkflow,
    DAGTask,
    DAGTemplate,
    Inputs,
    LifecycleHook,
    Parameter,
    Template,
    TemplateRef,
    Workflow,
    WorkflowResource,
    WorkflowStep,
    WorkflowTemplate,
    parse_resource,
)
from sluice.core.errors import SpecError
from sluice.core.resources import RawResource, iter_resource_files, load_file

KnownTemplates = Mapping[str, WorkflowTemplate | ClusterWorkflowTemplate]

_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
# inputs.parameters.NAME or inputs.parameters['NAME'] (likewise artifacts), not steps.x.inputs...
_INPUT_REF = re.compile(
    r"(?<![\w.])inputs\.(parameters|artifacts)"
    r"(?:\.([A-Za-z0-9_][A-Za-z0-9_\-]*)|\[\s*['\"]([^'\"]+)['\"]\s*\])"
)


def lint_paths(paths: Iterable[str | Path]) -> list[str]:
    """Every problem in every workflow resource under ``paths`` (files or folders)."""
    if isinstance(paths, str | Path):
        paths = [paths]  # one path, not the characters of one
    loaded: list[RawResource | list[str]] = []
    for file in iter_resource_files(paths):
        try:
            loaded.extend(load_file(file))
        except SpecError as exc:
            loaded.append(exc.problems)
    return lint_documents(loaded)


def lint_documents(documents: Iterable[RawResource | list[str]]) -> list[str]:
    """Every problem of loaded documents, in order; a list stands for problems found already.

    Pass one parses everything, so a Workflow can be checked against WorkflowTemplates that
    sit in other files; pass two lints each resource in document order.
    """
    loaded: list[tuple[str, WorkflowResource] | list[str]] = []
    for doc in documents:
        if isinstance(doc, list):
            loaded.append(doc)
            continue
        try:
            loaded.append((doc.where(), parse_resource(doc)))
        except SpecError as exc:
            loaded.append(exc.problems)
    known: dict[str, WorkflowTemplate | ClusterWorkflowTemplate] = {}
    for entry in loaded:
        if isinstance(entry, tuple):
            obj = entry[1]
            if isinstance(obj, WorkflowTemplate | ClusterWorkflowTemplate) and obj.metadata.name:
                known[obj.metadata.name] = obj
    problems: list[str] = []
    for entry in loaded:
        if isinstance(entry, tuple):
            problems.extend(lint_resource(entry[1], entry[0], known))
        else:
            problems.extend(entry)
    return problems


def lint_resource(
    obj: WorkflowResource, where: str, known_templates: KnownTemplates | None = None
) -> list[str]:
    """The problems of one validated resource, each prefixed with ``where``."""
    linter = _Linter(obj, known_templates or {})
    linter.run()
    return [f"{where}: {path}: {message}" for path, message in linter.problems]


def _did_you_mean(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _unknown_task(name: str, tasks: Iterable[str]) -> str:
    return f"unknown task '{name}'{_did_you_mean(name, tasks)}"


def _templated(value: str) -> bool:
    return "{{" in value


class _Linter:
    """One pass over one resource, collecting ``(path, message)`` for every problem seen."""

    def __init__(self, obj: WorkflowResource, known: KnownTemplates) -> None:
        self.obj = obj
        self.known = known
        if isinstance(obj, CronWorkflow):
            self.spec, self.prefix = obj.spec.workflow_spec, "spec.workflowSpec"
        else:
            self.spec, self.prefix = obj.spec, "spec"
        self.problems: list[tuple[str, str]] = []
        # None: names cannot be checked (they may live in a workflowTemplateRef we do not know).
        self.names: set[str] | None = set()

    def add(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def run(self) -> None:
        templates = self.spec.templates or []
        first: dict[str, int] = {}
        for i, tmpl in enumerate(templates):
            path = f"{self.prefix}.templates[{i}]"
            if not tmpl.name:
                self.add(f"{path}.name", "required field is missing")
            elif tmpl.name in first:
                self.add(
                    f"{path}.name",
                    f"duplicate template name '{tmpl.name}'"
                    f" (also {self.prefix}.templates[{first[tmpl.name]}])",
                )
            else:
                first[tmpl.name] = i
        self.names = self._callable_names(set(first))
        self._entrypoint()
        self._arguments()
        self._reference(f"{self.prefix}.onExit", self.spec.on_exit)
        self._hooks(self.prefix, self.spec.hooks)
        for i, tmpl in enumerate(templates):
            self._template(tmpl, f"{self.prefix}.templates[{i}]")

    def _callable_names(self, local: set[str]) -> set[str] | None:
        ref = self.spec.workflow_template_ref
        if ref is None:
            return local
        # A workflowTemplateRef brings the referenced template's templates into scope.
        target = self._known(ref.name, ref.cluster_scope)
        if target is None:
            return None
        return local | {t.name for t in target.spec.templates or [] if t.name}

    def _known(
        self, name: str | None, cluster_scope: bool | None
    ) -> WorkflowTemplate | ClusterWorkflowTemplate | None:
        target = self.known.get(name or "")
        wanted = ClusterWorkflowTemplate if cluster_scope else WorkflowTemplate
        return target if isinstance(target, wanted) else None

    def _entrypoint(self) -> None:
        path = f"{self.prefix}.entrypoint"
        if self.spec.entrypoint:
            self._reference(path, self.spec.entrypoint)
            return
        needs_entrypoint = isinstance(self.obj, Workflow | CronWorkflow)
        if needs_entrypoint and self.spec.workflow_template_ref is None:
            self.add(path, "required field is missing: name the template to run first")

    def _arguments(self) -> None:
        args = self.spec.arguments or Arguments()
        for i, param in enumerate(args.parameters or []):
            self._enum(param, f"{self.prefix}.arguments.parameters[{i}]", ("value",))

    def _enum(self, param: Parameter, path: str, fields: tuple[str, ...]) -> None:
        if param.enum is None:
            return
        if not param.enum:
            self.add(f"{path}.enum", "enum must list at least one value")
            return
        for field in fields:
            value = getattr(param, field)
            if value is not None and not _templated(value) and value not in param.enum:
                allowed = ", ".join(param.enum)
                self.add(
                    f"{path}.{field}", f"'{value}' is not one of the allowed values: {allowed}"
                )

    # ---- references to templates ------------------------------------------------------------

    def _reference(self, path: str, name: str | None) -> None:
        if not name or _templated(name) or self.names is None or name in self.names:
            return
        self.add(path, f"unknown template '{name}'{_did_you_mean(name, self.names)}")

    def _template_ref(self, path: str, ref: TemplateRef) -> None:
        if not ref.name or not ref.template:
            self.add(path, "templateRef needs both name and template")
            return
        target = self._known(ref.name, ref.cluster_scope)
        if target is None or _templated(ref.template):
            return  # defined elsewhere: only the cluster can tell
        names = {t.name for t in target.spec.templates or [] if t.name}
        if ref.template not in names:
            self.add(
                f"{path}.template",
                f"{target.kind} '{ref.name}' has no template '{ref.template}'"
                + _did_you_mean(ref.template, names),
            )

    def _hooks(self, path: str, hooks: Mapping[str, LifecycleHook] | None) -> None:
        for event, hook in (hooks or {}).items():
            hook_path = f"{path}.hooks.{event}"
            if hook.template and hook.template_ref:
                self.add(hook_path, "set either template or templateRef, not both")
            elif hook.template_ref:
                self._template_ref(f"{hook_path}.templateRef", hook.template_ref)
            elif hook.template:
                self._reference(f"{hook_path}.template", hook.template)
            else:
                self.add(hook_path, "hook needs a template or a templateRef")

    def _call(self, call: WorkflowStep | DAGTask, path: str, what: str) -> None:
        given = [
            key
            for key, value in (
                ("template", call.template),
                ("templateRef", call.template_ref),
                ("inline", call.inline),
            )
            if value
        ]
        if not given:
            self.add(path, f"{what} needs one of template, templateRef or inline")
        elif len(given) > 1:
            self.add(path, f"{what} sets {' and '.join(given)}; use exactly one")
        self._reference(f"{path}.template", call.template)
        if call.template_ref:
            self._template_ref(f"{path}.templateRef", call.template_ref)
        if call.inline:
            self._template(call.inline, f"{path}.inline")
        self._reference(f"{path}.onExit", call.on_exit)
        self._hooks(path, call.hooks)

    # ---- one template ---------------------------------------------------------------------

    def _template(self, tmpl: Template, path: str) -> None:
        kinds = tmpl.kinds()
        if len(kinds) != 1:
            found = ", ".join(kinds) if kinds else "none"
            self.add(
                path,
                f"a template defines exactly one of {', '.join(TEMPLATE_KINDS)}; found {found}",
            )
        self._inputs_used(tmpl, path)
        for i, param in enumerate((tmpl.inputs or Inputs()).parameters or []):
            self._enum(param, f"{path}.inputs.parameters[{i}]", ("value", "default"))
        if tmpl.steps:
            self._steps(tmpl.steps, f"{path}.steps")
        if tmpl.dag:
            self._dag(tmpl.dag, f"{path}.dag")

    def _inputs_used(self, tmpl: Template, path: str) -> None:
        inputs = tmpl.inputs or Inputs()
        declared = {
            "parameters": {p.name for p in inputs.parameters or []},
            "artifacts": {a.name for a in inputs.artifacts or []},
        }
        body = tmpl.model_dump(by_alias=True, exclude_none=True, mode="json")
        seen: set[tuple[str, str]] = set()
        for sub, text in _strings(body, path):
            for expr in _EXPRESSION.findall(text):
                for m in _INPUT_REF.finditer(expr):
                    group, name = m.group(1), m.group(2) or m.group(3)
                    if name in declared[group] or (sub, name) in seen:
                        continue
                    seen.add((sub, name))
                    kind = group[:-1]
                    self.add(
                        sub,
                        f"'inputs.{group}.{name}' is used but the template declares no input"
                        f" {kind} '{name}'" + _did_you_mean(name, declared[group]),
                    )

    def _steps(self, groups: list[list[WorkflowStep]], path: str) -> None:
        first: dict[str, str] = {}
        for g, group in enumerate(groups):
            for s, step in enumerate(group):
                step_path = f"{path}[{g}][{s}]"
                if step.name in first:
                    self.add(
                        f"{step_path}.name",
                        f"duplicate step name '{step.name}' (also {first[step.name]})",
                    )
                else:
                    first[step.name] = step_path
                self._call(step, step_path, "a step")

    def _dag(self, dag: DAGTemplate, path: str) -> None:
        index: dict[str, int] = {}
        for i, task in enumerate(dag.tasks):
            if task.name in index:
                self.add(
                    f"{path}.tasks[{i}].name",
                    f"duplicate task name '{task.name}' (also {path}.tasks[{index[task.name]}])",
                )
            else:
                index[task.name] = i
        edges: dict[str, list[str]] = {name: [] for name in index}
        for i, task in enumerate(dag.tasks):
            task_path = f"{path}.tasks[{i}]"
            self._call(task, task_path, "a task")
            deps = self._dependencies(task, task_path, index)
            if index.get(task.name) == i:
                edges[task.name] = deps
        for name in (dag.target or "").split():
            if name not in index and not _templated(name):
                self.add(f"{path}.target", _unknown_task(name, index))
        for cycle in _cycles(edges, index):
            self.add(f"{path}.tasks[{index[cycle[0]]}]", f"dependency cycle: {' -> '.join(cycle)}")

    def _dependencies(self, task: DAGTask, path: str, index: Mapping[str, int]) -> list[str]:
        """The known tasks ``task`` waits for; unknown ones are reported."""
        if task.dependencies and task.depends:
            self.add(path, "use either depends or dependencies, not both")
        out: list[str] = []
        for name in task.dependencies or []:
            if name in index:
                out.append(name)
            else:
                self.add(
                    f"{path}.dependencies", f"unknown task '{name}'{_did_you_mean(name, index)}"
                )
        if task.depends:
            try:
                evaluate(task.depends, lambda _task, _result: True)
                names = task_names(task.depends)
            except DependsError as exc:
                self.add(f"{path}.depends", str(exc))
                names = []
            for name in names:
                if name in index:
                    out.append(name)
                else:
                    self.add(
                        f"{path}.depends", f"unknown task '{name}'{_did_you_mean(name, index)}"
                    )
        return out


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, text) of every string in a dumped template, skipping inline templates."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "inline":  # an inline template has its own inputs; it is linted on its own
                yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, f"{path}[{i}]")


def _cycles(edges: Mapping[str, list[str]], order: Mapping[str, int]) -> list[list[str]]:
    """Each dependency cycle once, as ``[a, b, a]`` (a waits for b, b for a).

    A cycle starts at its earliest task, so the same cycle found twice is reported once.
    """
    found: dict[tuple[str, ...], list[str]] = {}
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    stack: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        stack.append(name)
        for dep in edges.get(name, []):
            if state.get(dep) == 1:
                loop = stack[stack.index(dep) :]
                start = min(range(len(loop)), key=lambda k: order[loop[k]])
                loop = loop[start:] + loop[:start]
                found.setdefault(tuple(loop), [*loop, loop[0]])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[name] = 2

    for name in sorted(edges, key=lambda n: order[n]):
        if name not in state:
            visit(name)
    return list(found.values())

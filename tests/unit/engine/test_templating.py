"""The {{...}} resolver: simple tags, deferred roots, errors naming the variable."""

from __future__ import annotations

import pytest

from engine.templating import Scope, UnresolvedError, resolve, resolve_text, to_text, unresolved

SCOPE = Scope(
    {
        "inputs.parameters.message": "hello",
        "workflow.name": "wf-abc",
        "workflow.creationTimestamp": "2026-11-22T03:49:18Z",
        "steps.flip-coin.outputs.result": "heads",
        "item": {"image": "debian", "tag": "9.1"},
        "retries": "2",
    }
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("echo {{inputs.parameters.message}}", "echo hello"),
        ("{{ inputs.parameters.message }}", "hello"),
        ("{{workflow.name}}-x", "wf-abc-x"),
        ("{{steps.flip-coin.outputs.result}} == heads", "heads == heads"),
        ("{{item.image}}:{{item.tag}}", "debian:9.1"),
        ("{{item}}", '{"image":"debian","tag":"9.1"}'),
        ("{{workflow.creationTimestamp.Y}}/{{workflow.creationTimestamp.m}}", "2026/11"),
        ("{{workflow.creationTimestamp.s}}", "1795319358"),
        ("no tags", "no tags"),
        ("{{ .Values.helm }}", "{{ .Values.helm }}"),
        ("{{unknown.root}}", "{{unknown.root}}"),
    ],
    ids=[
        "param",
        "spaces",
        "workflow",
        "dashed-step",
        "item-field",
        "item-map",
        "strftime",
        "epoch",
        "plain",
        "foreign-template",
        "unknown-root",
    ],
)
def test_resolve_text(text: str, expected: str) -> None:
    assert resolve_text(text, SCOPE) == expected


@pytest.mark.parametrize(
    ("text", "variable"),
    [
        ("{{inputs.parameters.missing}}", "inputs.parameters.missing"),
        ("{{steps.nope.outputs.result}}", "steps.nope.outputs.result"),
        ("{{workflow.parameters.x}}", "workflow.parameters.x"),
        ("{{item.nope}}", "item.nope"),
    ],
    ids=["input", "step", "workflow-param", "item-field"],
)
def test_undefined_variable_is_an_error_naming_it(text: str, variable: str) -> None:
    with pytest.raises(UnresolvedError) as err:
        resolve_text(text, SCOPE)
    assert err.value.variable == variable
    assert variable in str(err.value)


def test_deferred_roots_are_kept_for_later() -> None:
    obj = {"args": ["{{steps.later.outputs.result}}", "{{item}}", "{{inputs.parameters.message}}"]}
    out = resolve(obj, Scope({"inputs.parameters.message": "m"}), ("steps", "item"))
    assert out == {"args": ["{{steps.later.outputs.result}}", "{{item}}", "m"]}
    assert unresolved(out) == ["steps.later.outputs.result", "item"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("s", "s"),
        (True, "true"),
        (3, "3"),
        (3.0, "3"),
        (1.5, "1.5"),
        ([1, "a"], '[1,"a"]'),
        (None, "null"),
    ],
    ids=["str", "bool", "int", "whole-float", "float", "list", "none"],
)
def test_to_text(value: object, text: str) -> None:
    assert to_text(value) == text


def test_expression_tags_use_nested_env() -> None:
    scope = Scope({"steps.flip-coin.outputs.result": "heads", "inputs.parameters.n": "3"})
    assert resolve_text("{{=steps['flip-coin'].outputs.result == 'heads'}}", scope) == "true"
    assert resolve_text("{{=asInt(inputs.parameters.n) + 1}}", scope) == "4"
    with pytest.raises(UnresolvedError):
        resolve_text("{{=nope.x}}", scope)

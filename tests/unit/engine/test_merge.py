"""Spec merging for workflowDefaults and workflowTemplateRef."""

from __future__ import annotations

from typing import Any

import pytest

from engine.merge import apply_defaults, apply_template_ref, merge


@pytest.mark.parametrize(
    ("base", "override", "expected"),
    [
        ({"a": 1, "b": {"c": 2}}, {"b": {"d": 3}}, {"a": 1, "b": {"c": 2, "d": 3}}),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
        (
            {"p": [{"name": "x", "value": "1"}, {"name": "y", "value": "2"}]},
            {"p": [{"name": "y", "value": "9"}, {"name": "z", "value": "3"}]},
            {
                "p": [
                    {"name": "x", "value": "1"},
                    {"name": "y", "value": "9"},
                    {"name": "z", "value": "3"},
                ]
            },
        ),
        ({"a": {"b": 1}}, {"a": "scalar"}, {"a": "scalar"}),
    ],
    ids=["nested-maps", "plain-list-replaced", "named-list-by-name", "type-change"],
)
def test_merge(base: Any, override: Any, expected: Any) -> None:
    assert merge(base, override) == expected


def test_defaults_add_an_exit_handler_to_every_workflow() -> None:
    defaults = {
        "metadata": {"labels": {"team": "data"}},
        "spec": {
            "onExit": "exit-handler",
            "templates": [{"name": "exit-handler", "container": {"command": ["echo", "bye"]}}],
        },
    }
    wf = {
        "metadata": {"name": "w", "labels": {"app": "x"}},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "suspend": {}}]},
    }
    out = apply_defaults(wf, defaults)
    assert out["spec"]["onExit"] == "exit-handler"
    assert [t["name"] for t in out["spec"]["templates"]] == ["exit-handler", "main"]
    assert out["metadata"]["labels"] == {"team": "data", "app": "x"}
    assert apply_defaults(wf, None) is wf


def test_template_ref_arguments_merge_by_name() -> None:
    template = {
        "spec": {
            "entrypoint": "print",
            "arguments": {
                "parameters": [
                    {"name": "message", "value": "default"},
                    {"name": "other", "value": "o"},
                ]
            },
            "templates": [{"name": "print", "container": {"command": ["echo"]}}],
        }
    }
    wf = {
        "metadata": {"name": "w"},
        "spec": {
            "workflowTemplateRef": {"name": "t"},
            "arguments": {"parameters": [{"name": "message", "value": "hi"}]},
        },
    }
    out = apply_template_ref(wf, template)
    assert out["spec"]["entrypoint"] == "print"
    assert out["spec"]["arguments"]["parameters"] == [
        {"name": "message", "value": "hi"},
        {"name": "other", "value": "o"},
    ]
    assert out["spec"]["workflowTemplateRef"] == {"name": "t"}
    assert out["spec"]["templates"][0]["name"] == "print"

"""gjson paths (Argo's syntax) and JSONPath into event payloads, and gjson's String()."""

from __future__ import annotations

from typing import Any

import pytest

from sensor.paths import PathNotFound, PathSyntaxError, compile_path, lookup, render

# The document of gjson's SYNTAX.md, whose examples most cases below replay.
DOC: dict[str, Any] = {
    "name": {"first": "Tom", "last": "Anderson"},
    "age": 37,
    "children": ["Sara", "Alex", "Jack"],
    "fav.movie": "Deer Hunter",
    "friends": [
        {"first": "Dale", "last": "Murphy", "age": 44, "nets": ["ig", "fb", "tw"]},
        {"first": "Roger", "last": "Craig", "age": 68, "nets": ["fb", "tw"]},
        {"first": "Jane", "last": "Murphy", "age": 47, "nets": ["ig", "tw"]},
    ],
    "a*b": 1,
    "0": "zero",
    "flags": [True, False, True],
}

WEBHOOK: dict[str, Any] = {
    "header": {"X-Github-Event": ["push"], "Content-Type": ["application/json"]},
    "body": {
        "ref": "refs/heads/main",
        "bucket": {"name": "uploads"},
        "notification": [{"s3": {"object": {"key": "a/b.csv", "size": 12}}}],
        "labels": {"app.kubernetes.io/name": "web"},
        "items": [{"id": 1, "name": "x"}, {"id": 2, "name": "y", "tags": [{"id": 3}]}],
    },
}

FOUND = [
    # plain keys and indexes
    ("name.last", DOC, "Anderson"),
    ("age", DOC, 37),
    ("children", DOC, ["Sara", "Alex", "Jack"]),
    ("children.0", DOC, "Sara"),
    ("children.1", DOC, "Alex"),
    ("friends.1.first", DOC, "Roger"),
    ("0", DOC, "zero"),  # a number is a plain key on an object
    ("body.bucket.name", WEBHOOK, "uploads"),
    ("body.notification.0.s3.object.key", WEBHOOK, "a/b.csv"),
    ("header.X-Github-Event", WEBHOOK, ["push"]),
    ("header.X-Github-Event.0", WEBHOOK, "push"),
    # escapes and wildcards
    ("fav\\.movie", DOC, "Deer Hunter"),
    ("body.labels.app\\.kubernetes\\.io/name", WEBHOOK, "web"),
    ("a\\*b", DOC, 1),
    ("child*.2", DOC, "Jack"),
    ("c?ildren.0", DOC, "Sara"),
    ("na*.f*", DOC, "Tom"),
    # '#': lengths and maps
    ("friends.#", DOC, 3),
    ("friends.#.age", DOC, [44, 68, 47]),
    ("friends.#.nets.0", DOC, ["ig", "fb", "ig"]),
    ("friends.#.nope", DOC, []),
    ("body.items.#.tags.#.id", WEBHOOK, [[3]]),
    # queries
    ('friends.#(last=="Murphy").first', DOC, "Dale"),
    ('friends.#(last="Murphy").first', DOC, "Dale"),
    ('friends.#(last=="Murphy")#.first', DOC, ["Dale", "Jane"]),
    ('friends.#(last!="Murphy").first', DOC, "Roger"),
    ("friends.#(age>45)#.last", DOC, ["Craig", "Murphy"]),
    ("friends.#(age>=47)#.first", DOC, ["Roger", "Jane"]),
    ("friends.#(age<45).first", DOC, "Dale"),
    ("friends.#(age<=47)#.first", DOC, ["Dale", "Jane"]),
    ('friends.#(first%"D*").last', DOC, "Murphy"),
    ('friends.#(first!%"D*").last', DOC, "Craig"),
    ('children.#(!%"*a*")', DOC, "Alex"),
    ('children.#(%"*a*")#', DOC, ["Sara", "Jack"]),
    ('friends.#(nets.#(=="fb"))#.first', DOC, ["Dale", "Roger"]),
    ("friends.#(nets)#.first", DOC, ["Dale", "Roger", "Jane"]),
    ('friends.#(last=="Nobody")#', DOC, []),
    ("flags.#(==true)#", DOC, [True, True]),
    ("body.items.#(id==2).name", WEBHOOK, "y"),
    ('body.items.#(id=="2").name', WEBHOOK, "y"),  # a number compares as a number
    # dot vs pipe (SYNTAX.md's table)
    ("friends|0.first", DOC, "Dale"),
    ("friends.0|first", DOC, "Dale"),
    ("friends|#", DOC, 3),
    ('friends.#(last="Murphy")#.0', DOC, []),
    ('friends.#(last="Murphy")#|0', DOC, DOC["friends"][0]),
    ('friends.#(last="Murphy")#.#', DOC, []),
    ('friends.#(last="Murphy")#|#', DOC, 2),
    # multipaths, as Argo's filter tests use them
    ("[name.first,age]", DOC, ["Tom", 37]),
    ("[name.first,nope,age]", DOC, ["Tom", 37]),
    ("[name.first,,age]", DOC, ["Tom", 37]),
    (
        '{name.first,age,"the_murphys":friends.#(last="Murphy")#.first}',
        DOC,
        {"first": "Tom", "age": 37, "the_murphys": ["Dale", "Jane"]},
    ),
    ("{friends.#}", DOC, {"_": 3}),
    ("[age,children.0].#", DOC, 2),
    # JSONPath
    ("$.body.items[*].name", WEBHOOK, ["x", "y"]),
    ("$.body.bucket.name", WEBHOOK, "uploads"),
    ("$..id", WEBHOOK, [1, 2, 3]),
    ("$.body.items[?(@.id > 1)].name", WEBHOOK, "y"),
    ("$.body.notification[0].s3.object.size", WEBHOOK, 12),
    ("$['body']['labels']['app.kubernetes.io/name']", WEBHOOK, "web"),
]


@pytest.mark.parametrize(("path", "doc", "expected"), FOUND, ids=[c[0] for c in FOUND])
def test_lookup_finds(path: str, doc: Any, expected: Any) -> None:
    assert lookup(doc, path) == expected


MISSING = [
    ("name.middle", DOC),
    ("children.3", DOC),
    ("children.x", DOC),
    ("age.value", DOC),
    ("fav.movie", DOC),  # the dot must be escaped
    ('friends.#(last=="Nobody").first', DOC),
    ('friends.#(last="Murphy")#|first', DOC),
    ("name.#", DOC),
    ("zz*", DOC),
    ("body.items.#(id>5)", WEBHOOK),
    ("$.body.nope", WEBHOOK),
    ("$.body.items[9]", WEBHOOK),
]


@pytest.mark.parametrize(("path", "doc"), MISSING, ids=[c[0] for c in MISSING])
def test_lookup_missing(path: str, doc: Any) -> None:
    with pytest.raises(PathNotFound) as caught:
        lookup(doc, path)
    assert caught.value.path == path
    assert path in str(caught.value)


@pytest.mark.parametrize(
    "data", [None, "text", 3, [1, 2]], ids=["null", "string", "number", "array"]
)
def test_lookup_on_non_objects(data: Any) -> None:
    with pytest.raises(PathNotFound):
        lookup(data, "body.x")


INVALID = ["", "a.", "a..b", "a.#(b==1", 'a.#(b=="x)', "a.#(b==1)x", "[a,b", "$[["]


@pytest.mark.parametrize("path", INVALID, ids=INVALID)
def test_invalid_paths_fail_at_compile_time(path: str) -> None:
    with pytest.raises(PathSyntaxError) as caught:
        compile_path(path)
    assert isinstance(caught.value, PathNotFound)  # gjson finds nothing at such a path
    assert "invalid" in str(caught.value) or "empty" in str(caught.value)


def test_compiled_paths_are_cached() -> None:
    assert compile_path("body.bucket.name") is compile_path("body.bucket.name")
    assert compile_path("$.body.items[*].name") is compile_path("$.body.items[*].name")


def test_not_found_names_the_key() -> None:
    with pytest.raises(PathNotFound, match="no key 'nope'"):
        lookup(WEBHOOK, "body.nope.deeper")


RENDERED = [
    ("string", 'héllo "x"', 'héllo "x"'),
    ("int", 42, "42"),
    ("float", 3.5, "3.5"),
    ("float integral", 10.0, "10.0"),
    ("true", True, "true"),
    ("false", False, "false"),
    ("null", None, ""),
    ("object", {"a": 1, "b": [True, None]}, '{"a":1,"b":[true,null]}'),
    ("array", ["x", 1], '["x",1]'),
    ("unicode kept", {"k": "é"}, '{"k":"é"}'),
]


@pytest.mark.parametrize(("value", "text"), [c[1:] for c in RENDERED], ids=[c[0] for c in RENDERED])
def test_render_is_gjson_string(value: Any, text: str) -> None:
    assert render(value) == text


SIMPLE_DATA = [
    {"body": {"items": [{"name": "a"}, {"name": None}], "n": 0, "0": "key"}},
    {"body": {"items": {"0": {"name": "dict"}}}},
    {"body": [1, 2]},
    {"body": None},
    [{"body": 1}],
    "text",
]


@pytest.mark.parametrize(
    "path",
    ["$.body", "$.body.items[0].name", "$.body.items[1].name", "$.body.items[5]", "$.body.n",
     "$.body.items.name", "$.body[0]", "$[0].body", "$.missing"],
)  # fmt: skip
@pytest.mark.parametrize("data", SIMPLE_DATA, ids=range(len(SIMPLE_DATA)))
def test_simple_jsonpath_finds_what_jsonpath_ng_finds(path: str, data: Any) -> None:
    """``$.a.b[0].c`` is walked without jsonpath-ng; the value (or its absence) is the same.
    (jsonpath-ng raises on an index into an object: that is "not found" too.)"""
    from jsonpath_ng import ext

    try:
        matches = ext.parse(path).find(data)
    except (KeyError, TypeError):
        matches = []
    expected = matches[0].value if len(matches) == 1 else None
    try:
        found = compile_path(path)(data)
    except PathNotFound:
        assert not matches
    else:
        assert len(matches) == 1 and found == expected

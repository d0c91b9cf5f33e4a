"""sluice.core.sprig: each function against the result sprig gives in a Go template."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from sluice.core.sprig import FUNCTIONS, SprigError

WHEN = datetime(2024, 3, 5, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2)))

CASES: list[tuple[str, str, tuple[Any, ...], Any]] = [
    # strings
    ("upper", "upper", ("hello",), "HELLO"),
    ("lower", "lower", ("HeLLo",), "hello"),
    ("title", "title", ("hello world-foo_bar",), "Hello World-Foo_bar"),
    ("title-keeps-rest", "title", ("hELLO",), "HELLO"),
    ("untitle", "untitle", ("Hello World",), "hello world"),
    ("trim", "trim", ("  hi \n",), "hi"),
    ("trimAll", "trimAll", ("$", "$5.00$"), "5.00"),
    ("trimPrefix", "trimPrefix", ("-", "-hello"), "hello"),
    ("trimPrefix-absent", "trimPrefix", ("x", "hello"), "hello"),
    ("trimSuffix", "trimSuffix", ("-", "hello-"), "hello"),
    ("nospace", "nospace", ("hello w o r\tl d",), "helloworld"),
    ("repeat", "repeat", (3, "ab"), "ababab"),
    ("substr", "substr", (0, 5, "hello world"), "hello"),
    ("substr-negative-start", "substr", (-1, 3, "hello"), "hel"),
    ("substr-end-past-length", "substr", (2, 99, "hello"), "llo"),
    ("trunc", "trunc", (5, "hello world"), "hello"),
    ("trunc-negative", "trunc", (-5, "hello world"), "world"),
    ("trunc-short", "trunc", (20, "hi"), "hi"),
    ("abbrev", "abbrev", (5, "hello world"), "he..."),
    ("abbrev-fits", "abbrev", (20, "hello"), "hello"),
    ("replace", "replace", (" ", "-", "I Am Henry VIII"), "I-Am-Henry-VIII"),
    ("contains", "contains", ("cat", "catch"), True),
    ("contains-not", "contains", ("dog", "catch"), False),
    ("hasPrefix", "hasPrefix", ("cat", "catch"), True),
    ("hasSuffix", "hasSuffix", ("ch", "catch"), True),
    ("quote", "quote", ("hi", None, 3), '"hi" "3"'),
    ("quote-escapes", "quote", ('say "hi"\n',), '"say \\"hi\\"\\n"'),
    ("squote", "squote", ("a", 1.5), "'a' '1.5'"),
    ("cat", "cat", ("hello", "beautiful", "world"), "hello beautiful world"),
    ("cat-skips-nil", "cat", ("a", None, 2.0), "a 2"),
    ("indent", "indent", (4, "a\nb"), "    a\n    b"),
    ("nindent", "nindent", (2, "a"), "\n  a"),
    ("split", "split", ("$", "foo$bar$baz"), {"_0": "foo", "_1": "bar", "_2": "baz"}),
    ("splitList", "splitList", ("$", "foo$bar$baz"), ["foo", "bar", "baz"]),
    ("splitList-empty-sep", "splitList", ("", "abc"), ["a", "b", "c"]),
    ("join", "join", ("_", ["a", "b", None, 3]), "a_b_3"),
    ("join-scalar", "join", (",", "one"), "one"),
    ("toString-float", "toString", (1.0,), "1"),
    ("toString-big-float", "toString", (1e6,), "1e+06"),
    ("toString-bool", "toString", (True,), "true"),
    ("toString-nil", "toString", (None,), "<nil>"),
    ("toString-map", "toString", ({"b": 1, "a": [1, 2]},), "map[a:[1 2] b:1]"),
    ("toStrings", "toStrings", ([1, "a", None, 2.5],), ["1", "a", "2.5"]),
    # encoding
    ("toJson", "toJson", ({"b": 1, "a": [1, 2.0, "<x>"]},), '{"a":[1,2,"\\u003cx\\u003e"],"b":1}'),
    ("toJson-unencodable", "toJson", (float("nan"),), ""),
    (
        "toPrettyJson",
        "toPrettyJson",
        ({"a": 1, "b": [1]},),
        '{\n  "a": 1,\n  "b": [\n    1\n  ]\n}',
    ),
    ("fromJson", "fromJson", ('{"a": [1, "x"]}',), {"a": [1, "x"]}),
    ("fromJson-invalid-is-nil", "fromJson", ("{",), None),
    ("b64enc", "b64enc", ("hello",), "aGVsbG8="),
    ("b64dec", "b64dec", ("aGVsbG8=",), "hello"),
    ("b64dec-garbage", "b64dec", ("ab%%",), "illegal base64 data at input byte 2"),
    ("b64dec-padding", "b64dec", ("aGVsbG8gd29ybGQ",), "illegal base64 data at input byte 12"),
    (
        "sha256sum",
        "sha256sum",
        ("hello",),
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    ),
    # defaults and flow
    ("default-nil", "default", ("foo", None), "foo"),
    ("default-missing", "default", ("foo",), "foo"),
    ("default-given", "default", ("foo", "bar"), "bar"),
    ("default-zero", "default", ("foo", 0), "foo"),
    ("default-false", "default", ("foo", False), "foo"),
    ("default-empty-list", "default", ("foo", []), "foo"),
    ("empty-zero", "empty", (0,), True),
    ("empty-string", "empty", ("x",), False),
    ("empty-map", "empty", ({},), True),
    ("coalesce", "coalesce", (None, "", 0, "x"), "x"),
    ("coalesce-none", "coalesce", (), None),
    ("ternary-true", "ternary", ("yes", "no", True), "yes"),
    ("ternary-false", "ternary", ("yes", "no", False), "no"),
    # lists and dicts
    ("list", "list", (1, "a"), [1, "a"]),
    ("dict", "dict", ("a", 1, "b"), {"a": 1, "b": ""}),
    ("dict-key-strval", "dict", (1, 2), {"1": 2}),
    ("get", "get", ({"a": 1}, "a"), 1),
    ("get-missing", "get", ({"a": 1}, "b"), ""),
    ("hasKey", "hasKey", ({"a": 1}, "a"), True),
    ("hasKey-missing", "hasKey", ({"a": 1}, "b"), False),
    ("keys", "keys", ({"a": 1}, {"b": 2}), ["a", "b"]),
    ("first", "first", ([1, 2],), 1),
    ("first-empty", "first", ([],), None),
    ("last", "last", ([1, 2],), 2),
    ("len-string-bytes", "len", ("héllo",), 6),
    ("len-list", "len", ([1, 2],), 2),
    # math
    ("add", "add", (1, 2, "3"), 6),
    ("add1", "add1", (1,), 2),
    ("sub", "sub", (5, 7), -2),
    ("mul", "mul", (2, 3, 4), 24),
    ("div", "div", (7, 2), 3),
    ("div-truncates-toward-zero", "div", (-7, 2), -3),
    ("mod-sign-of-dividend", "mod", (-7, 3), -1),
    ("max", "max", (1, 5, 3), 5),
    ("min", "min", (4, "2"), 2),
    ("floor", "floor", (1.7,), 1.0),
    ("ceil", "ceil", ("1.2",), 2.0),
    ("round", "round", (3.14159, 2), 3.14),
    ("round-half-up", "round", (2.5, 0), 3.0),
    ("round-negative-floors", "round", (-2.5, 0), -3.0),
    ("round-on", "round", (3.7, 0, 0.8), 3.0),
    ("int", "int", ("42",), 42),
    ("int-hex", "int", ("0x1A",), 26),
    ("int-octal", "int", ("012",), 10),
    ("int-zero-decimal", "int", ("3.0",), 3),
    ("int-invalid-is-zero", "int", ("3.5",), 0),
    ("int-float-truncates", "int", (3.9,), 3),
    ("int-bool", "int", (True,), 1),
    ("int-nil", "int", (None,), 0),
    ("int64", "int64", ("-8",), -8),
    ("float64", "float64", ("1.5",), 1.5),
    ("float64-invalid-is-zero", "float64", ("x",), 0.0),
    ("atoi", "atoi", ("42",), 42),
    ("atoi-invalid-is-zero", "atoi", ("4x",), 0),
    # regular expressions
    ("regexMatch", "regexMatch", ("^[a-z]+$", "abc"), True),
    ("regexMatch-unanchored", "regexMatch", ("b", "abc"), True),
    ("regexMatch-bad-pattern-false", "regexMatch", ("(", "abc"), False),
    ("regexFind", "regexFind", ("[a-zA-Z][1-9]", "abcd1234"), "d1"),
    ("regexFind-none", "regexFind", ("z", "abc"), ""),
    ("regexFindAll", "regexFindAll", ("[2,4,6,8]", "123456789", -1), ["2", "4", "6", "8"]),
    ("regexFindAll-limit", "regexFindAll", ("[2,4,6,8]", "123456789", 3), ["2", "4", "6"]),
    ("regexReplaceAll", "regexReplaceAll", ("a(x*)b", "-ab-axxb-", "${1}W"), "-W-xxW-"),
    ("regexReplaceAll-go-name-rule", "regexReplaceAll", ("a(x*)b", "-ab-axxb-", "$1W"), "---"),
    ("regexReplaceAll-named", "regexReplaceAll", ("(?P<d>\\d)", "a1", "<$d>$$"), "a<1>$"),
    (
        "regexReplaceAllLiteral",
        "regexReplaceAllLiteral",
        ("a(x*)b", "-ab-axxb-", "${1}"),
        "-${1}-${1}-",
    ),
    # dates
    ("date", "date", ("2006-01-02", WHEN), "2024-03-05"),
    ("date-rfc3339", "date", ("2006-01-02T15:04:05Z07:00", WHEN), "2024-03-05T07:08:09+02:00"),
    ("date-names", "date", ("Mon Jan _2 3:04PM", WHEN), "Tue Mar  5 7:08AM"),
    ("date-fraction", "date", ("05.000|05.999999999|.9", WHEN), "09.123|09.123456|.1"),
    ("date-unix-seconds", "date", ("2006-01-02 15:04 MST", 0), "1970-01-01 00:00 UTC"),
]


@pytest.mark.parametrize(
    ("name", "args", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_function(name: str, args: tuple[Any, ...], expected: Any) -> None:
    result = FUNCTIONS[name](*args)
    assert result == expected
    assert type(result) is type(expected)


ERRORS: list[tuple[str, str, tuple[Any, ...], str]] = [
    ("not-a-string", "upper", (1,), "upper: expected a string, got int '1'"),
    ("too-few-arguments", "upper", (), "upper: wrong number of arguments (0)"),
    ("too-many-arguments", "trimPrefix", ("a", "b", "c"), "trimPrefix: wrong number of arguments"),
    ("substr-out-of-range", "substr", (4, 2, "hello"), "substr: slice bounds out of range [4:2]"),
    ("repeat-negative", "repeat", (-1, "x"), "repeat: negative repeat count"),
    ("repeat-count-type", "repeat", ("2", "x"), "repeat: expected an int, got string '2'"),
    ("div-by-zero", "div", (1, 0), "div: integer divide by zero"),
    ("mod-by-zero", "mod", (1, "0"), "mod: integer divide by zero"),
    ("regexFind-bad-pattern", "regexFind", ("(", "x"), "regexFind: error parsing regexp '('"),
    ("first-of-string", "first", ("abc",), "first: cannot find first on type string"),
    ("ternary-condition", "ternary", (1, 2, "yes"), "ternary: expected a bool condition"),
    ("get-not-a-map", "get", ([], "a"), "get: expected a map, got list"),
    ("date-of-string", "date", ("2006", "2024"), "date: expected a time or unix seconds"),
    ("len-of-int", "len", (5,), "len: len of type int"),
]


@pytest.mark.parametrize(
    ("name", "args", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_function_error(name: str, args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(SprigError, match=re.escape(message)) as info:
        FUNCTIONS[name](*args)
    assert info.value.function == name
    assert isinstance(info.value, ValueError)


def test_now_is_an_aware_current_time() -> None:
    now = FUNCTIONS["now"]()
    assert isinstance(now, datetime)
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


def test_uuidv4_is_random_and_well_formed() -> None:
    first, second = FUNCTIONS["uuidv4"](), FUNCTIONS["uuidv4"]()
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first
    )
    assert first != second


def test_registry_has_every_documented_function_and_is_read_only() -> None:
    documented = {
        *("upper", "lower", "title", "untitle", "trim", "trimAll", "trimPrefix", "trimSuffix"),
        *("nospace", "repeat", "substr", "trunc", "abbrev", "replace", "contains", "hasPrefix"),
        *("hasSuffix", "quote", "squote", "cat", "indent", "nindent", "split", "splitList"),
        *("join", "toString", "toJson", "toPrettyJson", "fromJson", "b64enc", "b64dec"),
        *("sha256sum", "default", "empty", "coalesce", "ternary", "list", "dict", "get"),
        *("hasKey", "keys", "first", "last", "len", "add", "add1", "sub", "mul", "div", "mod"),
        *("max", "min", "floor", "ceil", "round", "int", "int64", "float64", "atoi", "toStrings"),
        *("regexMatch", "regexFind", "regexFindAll", "regexReplaceAll", "now", "date", "uuidv4"),
    }
    assert documented <= set(FUNCTIONS)
    with pytest.raises(TypeError):
        FUNCTIONS["upper"] = str.upper  # type: ignore[index]

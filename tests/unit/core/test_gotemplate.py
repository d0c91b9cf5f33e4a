"""sluice.core.gotemplate: templates against what Go's text/template + sprig renders in Argo Events.

Argo Events executes a trigger parameter's ``dataTemplate`` over ``{"Input": <event data>}``
with the event JSON decoded by Go, so every number in ``EVENT`` is a float64 when the template
runs: ``{{ .Input.body.n }}`` prints ``1e+06`` and ``eq .Input.body.x 3`` is an error.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sluice.core.errors import SluiceError
from sluice.core.gotemplate import Template, TemplateError, parse, render

EVENT: dict[str, Any] = {
    "Input": {
        "body": {
            "message": "hello world",
            "padded": "  pad  ",
            "encoded": "aGVsbG8=",
            "n": 1000000,
            "x": 3,
            "f": 1.5,
            "neg": -2,
            "flag": True,
            "off": False,
            "null": None,
            "empty": "",
            "list": ["a", "b", "c"],
            "nulls": [None, 1],
            "m": {"z": 1, "a": 2, "m": 3},
            "html": "<b>&",
            "my-key": "dashed",
        },
        "header": {"X-Id": ["42"]},
    }
}


def _cases(*rows: tuple[str, str, str]) -> Any:
    return pytest.mark.parametrize(
        ("template", "expected"), [row[1:] for row in rows], ids=[row[0] for row in rows]
    )


@_cases(
    ("field", "{{ .Input.body.message }}", "hello world"),
    ("field-no-spaces", "{{.Input.body.message}}", "hello world"),
    ("nested-map", "{{ .Input.body.m.z }}", "1"),
    ("missing-key", "{{ .Input.body.nope }}", "<no value>"),
    ("missing-parent", "{{ .Input.nope.deeper }}", "<no value>"),
    ("json-null", "{{ .Input.body.null }}", "<no value>"),
    ("null-in-list", "{{ range .Input.body.nulls }}{{ . }},{{ end }}", "<no value>,1,"),
    ("dashed-key-via-index", '{{ index .Input.body "my-key" }}', "dashed"),
    ("header-list", '{{ index .Input.header "X-Id" 0 }}', "42"),
    ("map-prints-sorted", "{{ .Input.body.m }}", "map[a:2 m:3 z:1]"),
    ("list-prints", "{{ .Input.body.list }}", "[a b c]"),
    ("root-variable", "{{ $.Input.body.x }}", "3"),
    ("parenthesized-field", "{{ (.Input.body).x }}", "3"),
    ("text-only", "plain text", "plain text"),
    ("braces-in-string", '{{ "}}" }}{{ "{{" }}', "}}{{"),
)
def test_fields(template: str, expected: str) -> None:
    assert render(template, EVENT) == expected


@_cases(
    ("int-is-float64", "{{ .Input.body.x }}", "3"),
    ("million-is-1e06", "{{ .Input.body.n }}", "1e+06"),
    ("fraction", "{{ .Input.body.f }}", "1.5"),
    ("negative", "{{ .Input.body.neg }}", "-2"),
    ("float-literal-exponent", "{{ 1e6 }}", "1e+06"),
    ("float-literal-integral", "{{ 100000.0 }}", "100000"),
    ("float-literal-small", "{{ 0.00001 }}", "1e-05"),
    ("int-literal", "{{ 1000000 }}", "1000000"),
    ("negative-literal-no-trim", "{{-3}}", "-3"),
    (
        "hex-octal-binary",
        "{{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 0b101 }} {{ 1_000 }}",
        "31 15 15 5 1000",
    ),
    ("hex-float", "{{ 0x1p4 }}", "16"),
    ("leading-dot", "{{ .5 }} {{ -.5 }}", "0.5 -0.5"),
    ("char-constant", "{{ 'a' }} {{ '\\n' }}", "97 10"),
    ("string-escapes", '{{ "a\\tb\\u00e9" }}|{{ `raw\\n` }}', "a\tbé|raw\\n"),
    ("bools", "{{ true }} {{ false }} {{ .Input.body.flag }}", "true false true"),
    ("sprig-int", "{{ .Input.body.n | int }}", "1000000"),
    ("printf-f0", '{{ printf "%.0f" .Input.body.n }}', "1000000"),
    ("toJson-number", "{{ toJson .Input.body.n }}", "1000000"),
)
def test_numbers(template: str, expected: str) -> None:
    assert render(template, EVENT) == expected


@_cases(
    ("upper", "{{ .Input.body.message | upper }}", "HELLO WORLD"),
    ("lower", '{{ lower "ABC" }}', "abc"),
    ("title", "{{ .Input.body.message | title }}", "Hello World"),
    ("nospace", '{{ nospace "a b  c" }}', "abc"),
    ("trim", "[{{ .Input.body.padded | trim }}]", "[pad]"),
    ("trimAll", '{{ trimAll "$" "$$5.00$" }}', "5.00"),
    ("substr", "{{ substr 0 5 .Input.body.message }}", "hello"),
    ("substr-piped", "{{ .Input.body.message | substr 6 11 }}", "world"),
    ("replace", '{{ .Input.body.message | replace "world" "there" }}', "hello there"),
    ("default-missing", '{{ .Input.body.nope | default "dflt" }}', "dflt"),
    ("default-null", '{{ default "dflt" .Input.body.null }}', "dflt"),
    ("default-empty", '{{ default "d" "" }} {{ default "d" 0 }} {{ default "d" "v" }}', "d d v"),
    ("b64enc", "{{ .Input.body.message | b64enc }}", "aGVsbG8gd29ybGQ="),
    ("b64dec", "{{ .Input.body.encoded | b64dec }}", "hello"),
    ("toJson-map", "{{ .Input.body.m | toJson }}", '{"a":2,"m":3,"z":1}'),
    ("toJson-list", "{{ toJson .Input.body.list }}", '["a","b","c"]'),
    ("toJson-html-escaped", "{{ toJson .Input.body.html }}", '"\\u003cb\\u003e\\u0026"'),
    ("toJson-missing", "{{ toJson .Input.body.nope }}", "null"),
    ("quote", "{{ .Input.body.message | quote }}", '"hello world"'),
    ("quote-many-skips-nil", '{{ quote "a" 1 .Input.body.nope }}', '"a" "1"'),
    ("squote", "{{ .Input.body.message | squote }}", "'hello world'"),
    ("splitList-join", '{{ splitList "," "a,b,c" | join "-" }}', "a-b-c"),
    ("join-list", '{{ .Input.body.list | join "," }}', "a,b,c"),
    ("contains", '{{ contains "ell" .Input.body.message }}', "true"),
    ("hasPrefix", '{{ hasPrefix "hel" .Input.body.message }}', "true"),
    ("hasSuffix", '{{ hasSuffix "x" .Input.body.message }}', "false"),
    ("add-int64", "{{ add 1 2 .Input.body.x }}", "6"),
    ("add-float-data", "{{ add .Input.body.n 1 }}", "1000001"),
    ("math", "{{ mul 2 .Input.body.x }} {{ div 7 2 }} {{ mod 7 3 }} {{ sub 5 1 }}", "6 3 1 4"),
    ("first", "{{ .Input.body.list | first }}", "a"),
    ("chained", '{{ "abc" | upper | lower }}', "abc"),
    ("builtin-len-wins", "{{ len .Input.body.message }}", "11"),
)
def test_sprig(template: str, expected: str) -> None:
    assert render(template, EVENT) == expected


@_cases(
    ("printf", '{{ printf "%s-%d-%v-%.2f" "a" 3 .Input.body.n 3.14159 }}', "a-3-1e+06-3.14"),
    ("printf-piped", '{{ .Input.body.message | printf "%s!" }}', "hello world!"),
    ("printf-final-last", '{{ "a" | printf "%s-%s" "b" }}', "b-a"),
    ("printf-d-of-float64", '{{ printf "%d" .Input.body.x }}', "%!d(float64=3)"),
    ("printf-missing", '{{ printf "%d %s" 1 }}', "1 %!s(MISSING)"),
    ("printf-extra", '{{ printf "%d" 1 2 }}', "1%!(EXTRA int=2)"),
    (
        "printf-flags",
        '{{ printf "%05.1f|%x|%q|%t|%3s|%-4d|" 3.14159 255 "hi" true "r" 7 }}',
        '003.1|ff|"hi"|true|  r|7   |',
    ),
    (
        "printf-ints",
        '{{ printf "%c|%U|%o|%b|%X|%#x|%+d" 65 65 8 5 255 255 3 }}',
        "A|U+0041|10|101|FF|0xff|+3",
    ),
    (
        "printf-floats",
        '{{ printf "%e|%g|%8.3f" 1000000.0 100000.0 3.14159 }}',
        "1.000000e+06|100000|   3.142",
    ),
    ("printf-bad-rune", '{{ printf "%c" -1 }}', "\ufffd"),
    ("printf-huge-width", '{{ printf "%100000000d|" 1 }}', "%!(NOVERB)%!(EXTRA int=1)"),
    ("printf-huge-precision", '{{ printf "%.100000000f" 1.5 }}', "%!(NOVERB)%!(EXTRA float64=1.5)"),
    (
        "printf-T",
        '{{ printf "%T %T %T" .Input.body.x "s" .Input.body.nope }}',
        "float64 string <nil>",
    ),
    ("printf-v-null", '{{ printf "%v" .Input.body.null }}', "<nil>"),
    ("print-spacing", '{{ print 1 2 "a" 3 }}', "1 2a3"),
    ("println", '{{ println "a" 1 }}', "a 1\n"),
    ("len", "{{ len .Input.body.list }} {{ .Input.body.m | len }}", "3 3"),
    ("len-bytes", '{{ len "héllo" }}', "6"),
    ("index-list", "{{ index .Input.body.list 1 }}", "b"),
    ("index-map", '{{ index .Input.body.m "z" }}', "1"),
    ("index-map-missing", '{{ index .Input.body.m "nope" }}', "<no value>"),
    ("index-nested", '{{ index .Input "body" "list" 0 }}', "a"),
    ("index-string-byte", "{{ index .Input.body.message 0 }}", "104"),
    ("slice", '{{ slice "hello" 1 3 }} {{ slice .Input.body.list 1 }}', "el [b c]"),
    ("eq-float", "{{ eq .Input.body.x 3.0 }}", "true"),
    ("eq-string", '{{ eq .Input.body.message "hello world" }}', "true"),
    ("eq-any-of", '{{ eq "b" "a" "b" }}', "true"),
    ("eq-missing", '{{ eq .Input.body.nope "x" }} {{ eq .Input.body.nope nil }}', "false true"),
    ("eq-piped", '{{ "a" | eq "a" }}', "true"),
    ("ne", "{{ ne 1 2 }}", "true"),
    ("lt-le-gt-ge", "{{ lt 1 2 }} {{ le 2 2 }} {{ gt 3 2 }} {{ ge 1 2 }}", "true true true false"),
    ("lt-strings", '{{ lt "a" "b" }}', "true"),
    ("and-returns-falsy", "{{ and 1 0 2 }}", "0"),
    ("and-returns-last", '{{ and 1 "x" }}', "x"),
    ("or-returns-truthy", '{{ or 0 "" "x" }}', "x"),
    ("or-short-circuits", "{{ or 1 .Input.body.message.nofield }}", "1"),
    (
        "not",
        "{{ not true }} {{ not .Input.body.nope }} {{ not .Input.body.list }}",
        "false true false",
    ),
    ("html", '{{ html "<a>" }}', "&lt;a&gt;"),
    ("urlquery", '{{ urlquery "a b&c" }}', "a+b%26c"),
    ("js", '{{ js "it\'s" }}', "it\\'s"),
)
def test_builtins(template: str, expected: str) -> None:
    assert render(template, EVENT) == expected


@_cases(
    ("if", "{{ if .Input.body.flag }}yes{{ end }}", "yes"),
    ("if-false", "{{ if .Input.body.off }}yes{{ end }}", ""),
    ("if-else", "{{ if .Input.body.nope }}yes{{ else }}no{{ end }}", "no"),
    ("if-empty-string", "{{ if .Input.body.empty }}y{{ else }}n{{ end }}", "n"),
    ("if-list", "{{ if .Input.body.list }}y{{ end }}", "y"),
    (
        "if-else-if",
        "{{ if eq .Input.body.x 1.0 }}one{{ else if eq .Input.body.x 3.0 }}three"
        "{{ else }}other{{ end }}",
        "three",
    ),
    ("if-else-if-else", "{{ if false }}a{{ else if false }}b{{ else }}c{{ end }}", "c"),
    (
        "if-and-or",
        "{{ if and .Input.body.flag (or .Input.body.off .Input.body.x) }}y{{ end }}",
        "y",
    ),
    ("with", "{{ with .Input.body.message }}{{ . }}{{ end }}", "hello world"),
    ("with-else", "{{ with .Input.nope }}x{{ else }}none{{ end }}", "none"),
    ("with-else-with", "{{ with .Input.nope }}a{{ else with .Input.body.x }}{{ . }}{{ end }}", "3"),
    (
        "with-dollar",
        "{{ with .Input.body }}{{ .message }} {{ $.Input.body.x }}{{ end }}",
        "hello world 3",
    ),
    ("range-list", "{{ range .Input.body.list }}[{{ . }}]{{ end }}", "[a][b][c]"),
    ("range-map-sorted", "{{ range .Input.body.m }}{{ . }}{{ end }}", "231"),
    (
        "range-map-kv",
        "{{ range $k, $v := .Input.body.m }}{{ $k }}={{ $v }};{{ end }}",
        "a=2;m=3;z=1;",
    ),
    (
        "range-index",
        "{{ range $i, $v := .Input.body.list }}{{ $i }}:{{ $v }} {{ end }}",
        "0:a 1:b 2:c ",
    ),
    ("range-one-var", "{{ range $v := .Input.body.list }}{{ $v }}{{ end }}", "abc"),
    ("range-else", "{{ range .Input.body.nope }}x{{ else }}empty{{ end }}", "empty"),
    ("range-dollar", "{{ range .Input.body.list }}{{ $.Input.body.x }}{{ end }}", "333"),
    ("range-int", "{{ range 3 }}{{ . }}{{ end }}", "012"),
    (
        "range-break",
        '{{ range .Input.body.list }}{{ if eq . "b" }}{{ break }}{{ end }}{{ . }}{{ end }}',
        "a",
    ),
    (
        "range-continue",
        '{{ range .Input.body.list }}{{ if eq . "b" }}{{ continue }}{{ end }}{{ . }}{{ end }}',
        "ac",
    ),
    (
        "range-join-idiom",
        "{{- range $i, $e := .Input.body.list -}}\n{{ if $i }},{{ end }}{{ $e }}\n{{- end }}",
        "a,b,c",
    ),
)
def test_control(template: str, expected: str) -> None:
    assert render(template, EVENT) == expected


@_cases(
    ("declare", "{{ $x := .Input.body.message }}{{ $x }}", "hello world"),
    ("declare-prints-nothing", "a{{ $x := 1 }}b", "ab"),
    ("assign", '{{ $x := "a" }}{{ $x = "b" }}{{ $x }}', "b"),
    ("assign-in-if-outlives-it", "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", "2"),
    ("redeclare-shadows", "{{ $x := 1 }}{{ $x := 2 }}{{ $x }}", "2"),
    ("field-of-variable", "{{ $b := .Input.body }}{{ $b.m.a }}", "2"),
    ("with-declare", "{{ with $b := .Input.body }}{{ $b.message }}{{ end }}", "hello world"),
    ("if-declare", "{{ if $x := .Input.body.x }}{{ $x }}{{ end }}", "3"),
    ("range-assign", '{{ $a := "x" }}{{ range $a = .Input.body.list }}{{ end }}{{ $a }}', "c"),
    (
        "range-var-in-else",
        "{{ range $v := .Input.body.nope }}x{{ else }}[{{ $v }}]{{ end }}",
        "[<no value>]",
    ),
    ("dollar-is-data", "{{ $.Input.body.list }}", "[a b c]"),
)
def test_variables(template: str, expected: str) -> None:
    assert render(template, EVENT) == expected


@_cases(
    ("trim-both", 'a  {{- "b" -}}  c', "abc"),
    ("trim-left", 'a  {{- "b" }}  c', "ab  c"),
    ("trim-right", 'a  {{ "b" -}}  c', "a  bc"),
    ("trim-newlines", '{{ "a" }}{{ "b" -}}\n\n  c', "abc"),
    ("trim-needs-space", "{{ 3 }}{{-3 }}", "3-3"),
    ("comment", "a{{/* comment */}}b", "ab"),
    ("comment-trimmed", "a {{- /* c */ -}} b", "ab"),
    ("comment-multiline", "a{{/* one\ntwo */}}b", "ab"),
    (
        "text-around-actions",
        "id={{ .Input.body.x }}, msg={{ .Input.body.message }}.",
        "id=3, msg=hello world.",
    ),
)
def test_whitespace_and_comments(template: str, expected: str) -> None:
    assert render(template, EVENT) == expected


DEEP = "{{ " + "(" * 150 + "1" + ")" * 150 + " }}"

# str(TemplateError) is "template: LINE:COLUMN: problem", 1-based, at the offending token.
PARSE_ERRORS = [
    (
        "define",
        '{{ define "x" }}{{ end }}',
        "1:4: {{define}} is not supported: a trigger parameter is a single template",
    ),
    (
        "template",
        '{{ template "x" }}',
        "1:4: {{template}} is not supported: a trigger parameter is a single template",
    ),
    (
        "block",
        '{{ block "x" . }}{{ end }}',
        "1:4: {{block}} is not supported: a trigger parameter is a single template",
    ),
    ("unknown-function", "{{ nosuch 1 }}", '1:4: function "nosuch" not defined'),
    ("unknown-function-piped", "{{ .Input | nosuch }}", '1:13: function "nosuch" not defined'),
    (
        "unknown-function-line-2",
        "a\n  {{ if 1 }}{{ nosuch }}{{ end }}",
        '2:16: function "nosuch" not defined',
    ),
    ("unclosed-action", "{{ .Input.body.message ", "1:1: unclosed action"),
    ("unclosed-action-later", "ok {{ .a }} {{ .b", "1:13: unclosed action"),
    ("unclosed-if", "{{ if true }}x", "1:15: unexpected EOF: no {{end}} for the {{if}} at 1:4"),
    ("unclosed-comment", "{{/* unclosed ", "1:1: unclosed comment"),
    ("comment-then-action", "{{/* x */ .Input }}", "1:1: comment ends before closing delimiter"),
    ("unclosed-paren", "{{ (1 }}", "1:7: unclosed left paren"),
    ("stray-paren", "{{ ) }}", "1:4: unexpected right paren"),
    ("unterminated-string", '{{ "abc }}', "1:4: unterminated quoted string"),
    ("stray-end", "{{ end }}", "1:4: unexpected {{end}}"),
    ("stray-else", "{{ else }}", "1:4: unexpected {{else}}"),
    (
        "double-else",
        "{{ if 1 }}a{{ else }}b{{ else }}c{{ end }}",
        "1:26: expected end; found {{else}}",
    ),
    (
        "else-if-in-range",
        "{{ range .a }}{{ else if 1 }}{{ end }}",
        "1:23: unexpected <if> in input",
    ),
    ("empty-if", "{{ if }}x{{ end }}", "1:7: missing value for if"),
    ("empty-action", "{{ }}", "1:4: missing value for command"),
    ("undefined-variable", "{{ $nope }}", '1:4: undefined variable "$nope"'),
    (
        "variable-out-of-scope",
        "{{ if 1 }}{{ $y := 1 }}{{ end }}{{ $y }}",
        '1:36: undefined variable "$y"',
    ),
    ("break-outside-range", "{{ break }}", "1:4: {{break}} outside {{range}}"),
    (
        "too-many-range-vars",
        "{{ range $a, $b, $c := .x }}{{ end }}",
        "1:16: too many declarations in range",
    ),
    (
        "literal-in-later-stage",
        '{{ printf "%d" | 3 }}',
        "1:18: non executable command in pipeline stage 2",
    ),
    ("dash-in-field", "{{ .my-key }}", "1:7: bad character U+002D '-'"),
    ("index-like-field", "{{ .Input.list.0 }}", '1:15: unexpected ".0" in operand'),
    ("slash-outside-comment", "{{ /* x */ }}", '1:4: unexpected "/" in command'),
    ("complex-number", "{{ 1+2i }}", "1:4: complex number 1+2i is not supported"),
    ("int-overflow", "{{ 9223372036854775808 }}", '1:4: integer overflow: "9223372036854775808"'),
    ("too-deep", DEEP, "1:104: max nesting depth exceeded"),
]

# The position, then the problem after Go's "executing at <failing node>: ".
EXEC_ERRORS = [
    (
        "field-with-args",
        "{{ .Input.body.message 1 }}",
        "1:4: message is not a method but has arguments",
    ),
    ("literal-with-args", '{{ "x" 1 }}', '1:4: can\'t give argument to non-function "x"'),
    ("number-with-args", "{{ 1 2 }}", "1:4: can't give argument to non-function 1"),
    (
        "variable-with-args",
        "{{ $x := 1 }}{{ $x 2 }}",
        "1:17: can't give argument to non-function $x",
    ),
    (
        "piped-into-field",
        "{{ 1 | .Input.body.message }}",
        "1:8: message is not a method but has arguments",
    ),
    ("nil-command", "{{ nil }}", "1:4: nil is not a command"),
    (
        "call-non-function",
        "{{ call .Input.body.x }}",
        "1:4: error calling call: non-function of type float64",
    ),
    (
        "field-of-string",
        "{{ .Input.body.message.foo }}",
        "1:4: can't evaluate field foo in type string",
    ),
    ("field-of-null", "{{ .Input.body.null.x }}", "1:4: nil pointer evaluating interface {}.x"),
    (
        "eq-int-float64",
        "{{ eq .Input.body.x 3 }}",
        "1:4: error calling eq: incompatible types for comparison: float64 and int",
    ),
    (
        "lt-int-float64",
        "{{ lt 1 2.0 }}",
        "1:4: error calling lt: incompatible types for comparison: int and float64",
    ),
    ("eq-one-arg", "{{ eq 1 }}", "1:4: error calling eq: missing argument for comparison"),
    ("not-arg-count", "{{ not }}", "1:4: wrong number of args for not: want 1 got 0"),
    (
        "index-out-of-range",
        "{{ index .Input.body.list 5 }}",
        "1:4: error calling index: index out of range: 5",
    ),
    (
        "index-float64",
        "{{ index .Input.body.list 1.0 }}",
        "1:4: error calling index: cannot index slice/array with type float64",
    ),
    (
        "index-missing",
        "{{ index .Input.body.nope 0 }}",
        "1:4: error calling index: index of untyped nil",
    ),
    ("range-over-number", "{{ range .Input.body.x }}{{ end }}", "1:4: range can't iterate over 3"),
    (
        "range-over-string",
        "{{ range .Input.body.message }}{{ end }}",
        "1:4: range can't iterate over hello world",
    ),
    (
        "sprig-wrong-type",
        "{{ upper .Input.body.x }}",
        "1:4: error calling upper: expected a string, got float64 '3'",
    ),
    (
        "printf-non-string",
        "{{ printf 1 }}",
        "1:4: error calling printf: wrong type for value; expected string; got int",
    ),
    (
        "error-on-line-2",
        "line1\n  {{ .Input.body.message.x }}",
        "2:6: can't evaluate field x in type string",
    ),
]


def _error_cases(rows: list[tuple[str, str, str]]) -> Any:
    return pytest.mark.parametrize(
        ("template", "expected"), [row[1:] for row in rows], ids=[row[0] for row in rows]
    )


@_error_cases(PARSE_ERRORS)
def test_parse_errors(template: str, expected: str) -> None:
    with pytest.raises(TemplateError) as info:
        parse(template)  # rejected before anything runs: a Sensor can be checked at load
    assert str(info.value) == f"template: {expected}"
    line, column, message = expected.split(":", 2)
    assert (info.value.line, info.value.column) == (int(line), int(column))
    assert info.value.message == message.strip()


@_error_cases(EXEC_ERRORS)
def test_exec_errors(template: str, expected: str) -> None:
    compiled = parse(template)  # these parse, as in Go, and fail only when executed
    with pytest.raises(TemplateError) as info:
        compiled.execute(EVENT)
    where, problem = expected.split(": ", 1)
    assert str(info.value).startswith(f"template: {where}: executing at <")
    assert str(info.value).endswith(f">: {problem}")


def test_sprig_arity_error_names_the_function() -> None:
    with pytest.raises(TemplateError, match=r"error calling contains: wrong number of arg"):
        render('{{ contains "x" }}', EVENT)


def test_error_types() -> None:
    with pytest.raises(TemplateError) as info:
        render("{{ nosuch }}", EVENT)
    assert isinstance(info.value, SluiceError)
    assert isinstance(info.value, ValueError)


def test_parse_is_cached_and_reusable() -> None:
    template = parse("{{ .Input.v }}")
    assert isinstance(template, Template)
    assert parse("{{ .Input.v }}") is template
    assert template.execute({"Input": {"v": "a"}}) == "a"
    assert template.execute({"Input": {"v": 2}}) == "2"


def test_execute_does_not_change_the_data() -> None:
    data = copy.deepcopy(EVENT)
    render("{{ $x := .Input.body }}{{ $x.n }}{{ range .Input.body.list }}{{ . }}{{ end }}", data)
    assert data == EVENT
    assert isinstance(data["Input"]["body"]["n"], int)


def test_json_numbers_off_keeps_ints() -> None:
    template = parse("{{ .Input.n }} {{ eq .Input.n 1000000 }}")
    assert template.execute({"Input": {"n": 1000000}}, json_numbers=False) == "1000000 true"


def test_input_can_be_any_json() -> None:
    assert render("{{ index .Input 1 }} {{ len .Input }}", {"Input": [1, "b"]}) == "b 2"
    assert render("{{ .Input | upper }}", {"Input": "raw body"}) == "RAW BODY"
    assert render("{{ .Input }}", {"Input": None}) == "<no value>"

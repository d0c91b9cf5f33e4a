"""The payload filters of a dependency, ``data`` and ``exprs``, compiled once per sensor.

Argo Events' ``filterData`` and ``filterExpr`` (``pkg/sensors/dependencies/filter.go``) are
reproduced rule by rule: a value is found with gjson and read the way gjson reads it
(``String()`` for regexes, ``Float()`` for numbers, ``Bool()`` for bools, ``Value()`` for
expressions), filter values are parsed with Go's ``strconv`` rules, and the errors come in
Argo's order. Each rule is parsed when the sensor starts (paths, regexes, templates,
expressions), so an event costs only lookups and comparisons; a rule that cannot be compiled
fails every event with the reason, as Argo would when it reached it.

:class:`Verdict` lives here because the rules produce it; :mod:`sensor.filters` re-exports it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sensor.models import DataFilter, ExprFilter
from sensor.paths import PathNotFound, compile_path, render
from sluice.core import gotemplate, govaluate
from sluice.core.govalue import go_float, go_quote, is_number

__all__ = ["DataRule", "ExprRule", "Verdict"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """One rule's decision on one event, with what it saw and why."""

    kind: str  # "data" | "exprs" | "context" | "time"
    index: int  # position of the rule in its list (context: the attribute's position)
    passed: bool
    detail: str  # e.g. 'body.bucket.name = "uploads" (value "^up") matched'
    value: Any = None  # the value the rule compared
    rule: str = ""  # the rule as written, e.g. 'string = ["^up"]'


# ---- Go's strconv and gjson conversions ----------------------------------------------------
_GO_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_GO_SPECIAL = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)
_GO_HEX = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+")
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def go_parse_float(text: str) -> float | None:
    """``strconv.ParseFloat(text, 64)``; None where Go reports a syntax error."""
    if _GO_DECIMAL.fullmatch(text) or _GO_SPECIAL.fullmatch(text):
        return float(text)  # out of range gives ±Inf, as Go's value does
    if _GO_HEX.fullmatch(text):
        return float.fromhex(text)
    return None


def go_parse_bool(text: str) -> bool | None:
    """``strconv.ParseBool``; None where Go reports a syntax error."""
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    return None


def gjson_float(value: Any) -> float:
    """gjson's ``Result.Float()``: numbers, true as 1, numeric strings; anything else 0."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        return go_parse_float(value) or 0.0
    return 0.0


def gjson_bool(value: Any) -> bool:
    """gjson's ``Result.Bool()``: true, non-zero numbers, strings ParseBool reads as true."""
    if isinstance(value, bool):
        return value
    if is_number(value):
        return bool(value != 0)
    if isinstance(value, str):
        return go_parse_bool(value.lower()) is True
    return False


def go_regex(pattern: str) -> re.Pattern[str]:
    """A Go (RE2) pattern as a Python one; ``\\z`` is Go's end of text."""
    return re.compile(re.sub(r"(?<!\\)((?:\\\\)*)\\z", r"\1\\Z", pattern))


def _shown(value: Any) -> str:
    """A value in a verdict's text: strings quoted, the rest as gjson prints them."""
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, float):
        return go_float(value)
    return render(value)


def _listed(items: list[str]) -> str:
    return "[" + ", ".join(items) + "]"


# ---- govaluate, parsed once ----------------------------------------------------------------
@lru_cache(maxsize=1024)
def _parse_expr(text: str) -> Any:
    """govaluate's AST of ``text``. ``sluice.core.govaluate`` has no public parse-once API
    yet, so its parser and evaluator are used directly (as ``sensor.validation`` does)."""
    return govaluate._parse(text, False)


def _evaluate_expr(node: Any, parameters: Mapping[str, Any]) -> Any:
    return None if node is None else govaluate._Evaluator(parameters).eval(node)


# ---- data ----------------------------------------------------------------------------------
_NOT_FOUND = "path {path} not found"


class DataRule:
    """``filters.data[index]``: a path, a type, values, a comparator, maybe a template."""

    def __init__(self, index: int, spec: DataFilter) -> None:
        self.index = index
        self.path = spec.path or ""
        self.type = spec.type or ""
        self.comparator = spec.comparator or "="
        self.values = list(spec.value or [])
        self.problems: list[str] = []
        shown = [go_quote(v) if self.type == "string" else v for v in self.values]
        self.rule = f"{self.type or '?'} {self.comparator} {_listed(shown)}"
        self._get: Callable[[Any], Any] | None = None
        self._path_error = ""
        try:
            self._get = compile_path(self.path)
        except PathNotFound as exc:
            self._path_error = str(exc)
            self.problems.append(f"path: {exc}")
        self._template: gotemplate.Template | None = None
        self._template_error = ""
        if spec.template:
            self.rule += f" after template {go_quote(spec.template)}"
            try:
                self._template = gotemplate.parse(spec.template)
            except gotemplate.TemplateError as exc:
                self._template_error = f"template: {exc}"
                self.problems.append(self._template_error)
        self._parsed: list[Any] = [self._parse_value(v) for v in self.values]
        self.problems += [
            f"value[{k}]: {p}" for k, p in enumerate(self._parsed) if isinstance(p, str)
        ]
        if self.type not in ("string", "number", "bool"):
            self.problems.append(f"unsupported JSON type '{self.type}'")

    def _parse_value(self, value: str) -> Any:
        """The value as its type reads it, or (a str) the error Argo reports for it."""
        if self.type == "bool":
            flag = go_parse_bool(value)
            return f'strconv.ParseBool: parsing "{value}": invalid syntax' if flag is None else flag
        if self.type == "number":
            number = go_parse_float(value)
            if number is None:
                return f'strconv.ParseFloat: parsing "{value}": invalid syntax'
            return number
        if self.type == "string":
            try:
                return go_regex(value)
            except re.error as exc:
                return f"error parsing regexp: {exc}: `{value}`"
        return None

    def _fail(self, detail: str, value: Any = None) -> Verdict:
        return Verdict("data", self.index, False, detail, value, self.rule)

    def check(self, payload: Any) -> Verdict:
        if self._get is None:
            return self._fail(self._path_error)
        try:
            found = self._get(payload)
        except PathNotFound:
            return self._fail(_NOT_FOUND.format(path=self.path))
        if not self.values:
            return self._fail(f"{self.path} = {_shown(found)}: no values specified", found)
        subject = f"{self.path} = {_shown(found)}"
        if self._template_error:
            return self._fail(f"{subject}: {self._template_error}", found)
        if self._template is not None:
            try:
                out = self._template.execute({"Input": render(found)})
            except gotemplate.TemplateError as exc:
                return self._fail(f"{subject}: template: {exc}", found)
            if out in ("", "<no value>"):
                return self._fail(f"{subject}: template evaluated to empty string or no value")
            found = out  # Argo reads the output as a JSON string: gjson.Parse(strconv.Quote(out))
            subject += f" → template → {go_quote(out)}"
        if self.type == "string":
            return self._strings(subject, found)
        if self.type == "number":
            return self._numbers(subject, found)
        if self.type == "bool":
            return self._bools(subject, found)
        return self._fail(f"{subject}: unsupported JSON type '{self.type}'", found)

    def _strings(self, subject: str, found: Any) -> Verdict:
        text = render(found)
        negate = self.comparator == "!="
        for value, parsed in zip(self.values, self._parsed, strict=True):
            if isinstance(parsed, str):
                return self._fail(f"{subject}: {parsed}", text)
            if parsed.search(text) is None:
                continue
            if negate:  # '!=' is NOT IN: any match fails (argo-events#3808)
                return self._fail(f"{subject} (not {go_quote(value)}) matched", text)
            if self.comparator == "=":
                detail = f"{subject} (value {go_quote(value)}) matched"
                return Verdict("data", self.index, True, detail, text, self.rule)
        shown = ", ".join(go_quote(v) for v in self.values)
        if negate:
            detail = f"{subject} (not {shown}) matched none"
            return Verdict("data", self.index, True, detail, text, self.rule)
        if self.comparator != "=":
            return self._fail(f"{subject}: comparator '{self.comparator}' never matches a string")
        label = "value" if len(self.values) == 1 else "values"
        return self._fail(f"{subject} ({label} {shown}) did not match", text)

    def _numbers(self, subject: str, found: Any) -> Verdict:
        number = gjson_float(found)
        op = self.comparator
        compare = _NUMBER_COMPARATORS.get(op)
        seen: list[str] = []
        for value, parsed in zip(self.values, self._parsed, strict=True):
            if isinstance(parsed, str):
                return self._fail(f"{subject}: {parsed}", number)
            seen.append(value)
            if compare is None:
                continue
            hit = compare(number, parsed)
            if op == "!=" and not hit:  # NOT IN: equal to one value fails
                return self._fail(f"{subject} (!= {value}) is equal", number)
            if op != "!=" and hit:
                return Verdict(
                    "data", self.index, True, f"{subject} ({op} {value}) passed", number, self.rule
                )
        if op == "!=" and compare is not None:
            detail = f"{subject} (!= {', '.join(seen)}) passed"
            return Verdict("data", self.index, True, detail, number, self.rule)
        if compare is None:
            return self._fail(f"{subject}: unknown comparator '{op}'", number)
        many = "any of " if len(seen) > 1 else ""
        return self._fail(f"{subject} ({op} {many}{', '.join(seen)}) failed", number)

    def _bools(self, subject: str, found: Any) -> Verdict:
        flag = gjson_bool(found)  # Argo ignores the comparator for bools: always equality
        for value, parsed in zip(self.values, self._parsed, strict=True):
            if isinstance(parsed, str):
                return self._fail(f"{subject}: {parsed}", flag)
            if parsed is flag:
                return Verdict(
                    "data", self.index, True, f"{subject} (value {value}) matched", flag, self.rule
                )
        label = "value" if len(self.values) == 1 else "values"
        return self._fail(f"{subject} ({label} {', '.join(self.values)}) did not match", flag)


_NUMBER_COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


# ---- exprs ---------------------------------------------------------------------------------
class ExprRule:
    """``filters.exprs[index]``: a govaluate expression over payload fields bound by name."""

    def __init__(self, index: int, spec: ExprFilter) -> None:
        self.index = index
        self.expr = spec.expr or ""
        self.rule = self.expr
        self.problems: list[str] = []
        self.fields: list[tuple[str, str, Callable[[Any], Any] | str]] = []
        for field in spec.fields or []:
            path, name = field.path or "", field.name or ""
            try:
                self.fields.append((name, path, compile_path(path)))
            except PathNotFound as exc:
                self.fields.append((name, path, str(exc)))
                self.problems.append(f"fields: {exc}")
        self._node: Any = None
        self._parse_error = ""
        try:
            self._node = _parse_expr(self.expr)
        except govaluate.ExpressionError as exc:
            self._parse_error = str(exc)
            self.problems.append(f"expr: {exc}")

    def check(self, payload: Any) -> Verdict | None:
        """The verdict, or None when the rule has no fields: Argo skips such a rule."""
        parameters: dict[str, Any] = {}
        for name, path, get in self.fields:
            if isinstance(get, str):
                return self._fail(get)
            try:
                value = get(payload)
            except PathNotFound:
                return self._fail(_NOT_FOUND.format(path=path))
            parameters[name] = float(value) if is_number(value) else value  # gjson's Value()
        if not parameters:
            return None
        bound = ", ".join(f"{name}={_shown(value)}" for name, value in parameters.items())
        if self._parse_error:
            return self._fail(f"{self.expr} with {bound}: {self._parse_error}", parameters)
        try:
            result = _evaluate_expr(self._node, parameters)
        except govaluate.ExpressionError as exc:
            return self._fail(f"{self.expr} with {bound}: {exc}", parameters)
        passed = result is True
        detail = f"{self.expr} with {bound} is {_shown(result) if result is not None else 'nil'}"
        return Verdict("exprs", self.index, passed, detail, parameters, self.rule)

    def _fail(self, detail: str, value: Any = None) -> Verdict:
        return Verdict("exprs", self.index, False, detail, value, self.rule)

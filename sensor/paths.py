"""Paths into event payloads: Argo's gjson syntax, and JSONPath when a path starts with ``$``.

Argo Events finds every filter value and trigger parameter with ``gjson.GetBytes(data, path)``,
so users write ``body.bucket.name``, ``headers.X-Github-Event.0``, ``items.#.name`` or
``items.#(kind=="file")#.name``. The gjson subset Argo's users reach for is reproduced here:

* ``.`` separates keys, ``\\`` escapes the next character (``labels.app\\.kubernetes\\.io/name``);
* a number indexes an array (and is a plain key on an object);
* ``*`` and ``?`` in a key match any run of characters / one character; the first key that
  matches wins, in the object's order;
* ``#`` is an array's length; ``#.rest`` applies ``rest`` to every element and collects what it
  finds;
* ``#(key op value)`` is the first element matching, ``#(...)#`` all of them, with the ops
  ``==`` (or ``=``), ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``%`` (like, with ``*``/``?``) and
  ``!%``; ``#(key)`` only asks that ``key`` exists and an empty key compares the element itself;
* ``|`` applies the rest of the path to the whole result so far (``a.#(x>1)#|#`` counts);
* ``[p1,p2]`` and ``{p1,"name":p2}`` (multipaths) build an array / object of the values that
  exist, as Argo's own tests use (``[k,k1.a.#(k2=="v2").k2]`` matched against a regex).

gjson's modifiers (``@reverse``), static values (``!true``) and JSON-lines (``..``) are not
supported; ``@`` and ``!`` are ordinary key characters here.

A path starting with ``$`` is JSONPath, evaluated by ``jsonpath_ng.ext``: one match is the
value, several are the list of values, none is :class:`PathNotFound`.

Sensors evaluate the same few paths on every event, so :func:`compile_path` parses a path once
(cached) into a plain function of the payload.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonpath_ng import ext as jsonpath_ext

from sluice.core.govalue import go_float

__all__ = ["PathNotFound", "PathSyntaxError", "compile_path", "lookup", "render"]


class PathNotFound(KeyError):
    """Nothing is at ``path`` in the payload; ``reason`` says where the walk stopped."""

    def __init__(self, path: str, reason: str = "") -> None:
        self.path = path
        self.reason = reason or f"path {path} not found"
        super().__init__(self.reason)

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.reason


class PathSyntaxError(PathNotFound):
    """A path that cannot be parsed. gjson finds nothing at such a path, hence the base class."""


_MISSING: Any = object()


# ---- gjson: parsed form --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Key:
    name: str


@dataclass(frozen=True, slots=True)
class _Wild:
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class _Hash:  # '#': a length, or with steps after it, a map over the elements
    pass


@dataclass(frozen=True, slots=True)
class _Query:
    key: tuple[tuple[_Step, ...], ...] | None  # a path into each element; None: the element
    op: str  # "" (exists), "==", "!=", "<", "<=", ">", ">=", "%", "!%"
    value: str  # gjson's right-hand value, unquoted
    like: re.Pattern[str] | None
    all: bool  # '#(...)#'


@dataclass(frozen=True, slots=True)
class _Multi:  # '[a,b]' builds an array of what exists, '{a,"n":b}' an object
    obj: bool
    items: tuple[tuple[str, _Segments | None], ...]  # (key in an object, path; None if empty)


_Step = _Key | _Wild | _Hash | _Query | _Multi
_Segments = tuple[tuple[_Step, ...], ...]  # '|'-separated segments of '.'-separated steps


def _json_string(text: str) -> str | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _name_of_last(path: str) -> str:
    """The key gjson gives an unnamed ``{...}`` member: its last component, if simple, else _."""
    last = path
    for i in range(len(path) - 1, -1, -1):
        if path[i] in ".|" and not (i > 0 and path[i - 1] == "\\"):
            last = path[i + 1 :]
            break
    simple = bool(last) and not any(ch < " " or ch in "[]{}()#|" for ch in last)
    return last if simple else "_"


def _wild_regex(chars: Sequence[tuple[str, bool]]) -> re.Pattern[str]:
    """gjson's ``match.Match``: ``*`` any run, ``?`` one character; escaped ones are literal."""
    out = []
    for ch, escaped in chars:
        if ch == "*" and not escaped:
            out.append(".*")
        elif ch == "?" and not escaped:
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def _like_regex(pattern: str) -> re.Pattern[str]:
    chars, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            chars.append((pattern[i + 1], True))
            i += 2
        else:
            chars.append((pattern[i], False))
            i += 1
    return _wild_regex(chars)


_QUERY_OPS = ("==", "!=", "<=", ">=", "!%", "=", "<", ">", "%")


class _Parser:
    """Reads a gjson path into segments of steps, raising PathSyntaxError on what gjson rejects."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, why: str) -> PathSyntaxError:
        return PathSyntaxError(self.path, f"invalid path {self.path!r}: {why}")

    def parse(self, text: str) -> _Segments:
        if text == "":
            raise self.fail("empty path")
        segments: list[tuple[_Step, ...]] = []
        steps: list[_Step] = []
        i = 0
        while True:
            if text[i] in "[{":  # a multipath applies to the whole result so far, as '|' does
                if steps:
                    segments.append(tuple(steps))
                    steps = []
                multi, i = self.multipath(text, i)
                segments.append((multi,))
            elif text.startswith("#(", i):
                step, i = self.query(text, i)
                steps.append(step)
            else:
                step, i = self.key(text, i)
                steps.append(step)
            if i == len(text):
                break
            sep = text[i]
            i += 1
            if i == len(text):
                raise self.fail(f"nothing after '{sep}'")
            if sep == "|" and steps:
                segments.append(tuple(steps))
                steps = []
        if steps:
            segments.append(tuple(steps))
        return tuple(segments)

    def multipath(self, text: str, start: int) -> tuple[_Multi, int]:
        """``[p1,p2]`` or ``{p1,"name":p2}``: gjson's ``parseSubSelectors``."""
        depth, colon, item_start, i = 1, -1, start + 1, start + 1
        items: list[tuple[str, _Segments | None]] = []

        def push(end: int) -> None:
            name, sub = "", text[item_start:end]
            if colon >= 0:
                name, sub = text[item_start:colon], text[colon + 1 : end]
                if name.startswith('"'):
                    name = _json_string(name) or name
            else:
                name = _name_of_last(sub)
            items.append((name, self.parse(sub) if sub else None))

        while i < len(text):
            ch = text[i]
            if ch == "\\":
                i += 1
            elif ch == ":" and colon < 0 and depth == 1:
                colon = i
            elif ch == "," and depth == 1:
                push(i)
                colon, item_start = -1, i + 1
            elif ch == '"':
                i += 1
                while i < len(text) and text[i] != '"':
                    i += 2 if text[i] == "\\" else 1
            elif ch in "[({":
                depth += 1
            elif ch in "])}":
                depth -= 1
                if depth == 0:
                    push(i)
                    i += 1
                    if i < len(text) and text[i] not in ".|":
                        raise self.fail(f"unexpected {text[i]!r} after multipath at position {i}")
                    return _Multi(text[start] == "{", tuple(items)), i
            i += 1
        raise self.fail(f"unclosed multipath at position {start}")

    def key(self, text: str, i: int) -> tuple[_Step, int]:
        chars: list[tuple[str, bool]] = []
        while i < len(text) and text[i] not in ".|":
            if text[i] == "\\" and i + 1 < len(text):
                chars.append((text[i + 1], True))
                i += 2
            else:
                chars.append((text[i], False))
                i += 1
        if not chars:
            raise self.fail(f"empty key at position {i}")
        if chars == [("#", False)]:
            return _Hash(), i
        if any(ch in "*?" and not escaped for ch, escaped in chars):
            return _Wild(_wild_regex(chars)), i
        return _Key("".join(ch for ch, _ in chars)), i

    def query(self, text: str, start: int) -> tuple[_Step, int]:
        depth, i, quote = 0, start + 1, False
        while i < len(text):
            ch = text[i]
            if quote:
                if ch == "\\":
                    i += 1
                elif ch == '"':
                    quote = False
            elif ch == '"':
                quote = True
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        else:
            raise self.fail(f"unclosed query at position {start}")
        body, i = text[start + 2 : i], i + 1
        every = i < len(text) and text[i] == "#"
        if every:
            i += 1
        if i < len(text) and text[i] not in ".|":
            raise self.fail(f"unexpected {text[i]!r} after query at position {i}")
        return self.query_body(body, every), i

    def query_body(self, body: str, every: bool) -> _Query:
        depth, quote, i = 0, False, 0
        while i < len(body):
            ch = body[i]
            if quote:
                if ch == "\\":
                    i += 1
                elif ch == '"':
                    quote = False
            elif ch == '"':
                quote = True
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif depth == 0 and ch in "=!<>%":
                break
            i += 1
        key_text = body[:i].strip()
        rest = body[i:]
        written = next((op for op in _QUERY_OPS if rest.startswith(op)), "")
        if rest and not written:
            raise self.fail(f"unknown operator in query '{body}'")
        op = "==" if written == "=" else written
        raw = rest[len(written) :].strip()
        value = raw
        if raw.startswith('"'):
            unquoted = _json_string(raw)
            if unquoted is None:
                raise self.fail(f"bad string {raw} in query '{body}'")
            value = unquoted
        key = self.parse(key_text) if key_text else None
        like = _like_regex(value) if op in ("%", "!%") else None
        return _Query(key, op, value, like, every)


# ---- gjson: evaluation ---------------------------------------------------------------------
def _run(value: Any, segments: _Segments) -> Any:
    for steps in segments:
        value = _walk(value, steps, 0)
        if value is _MISSING:
            break
    return value


def _walk(value: Any, steps: tuple[_Step, ...], i: int) -> Any:
    while i < len(steps):
        step = steps[i]
        if isinstance(step, _Key):
            if isinstance(value, Mapping):
                value = value.get(step.name, _MISSING)
            elif isinstance(value, list) and step.name.isdigit():
                n = int(step.name)
                value = value[n] if n < len(value) else _MISSING
            else:
                return _MISSING
        elif isinstance(step, _Wild):
            if not isinstance(value, Mapping):
                return _MISSING
            value = next((v for k, v in value.items() if step.pattern.fullmatch(str(k))), _MISSING)
        elif isinstance(step, _Hash):
            if isinstance(value, Mapping):
                value = value.get("#", _MISSING)
            elif not isinstance(value, list):
                return _MISSING
            elif i + 1 == len(steps):
                return len(value)
            else:
                found = (_walk(item, steps, i + 1) for item in value)
                return [v for v in found if v is not _MISSING]
        elif isinstance(step, _Multi):
            value = _build(value, step)
        else:
            if not isinstance(value, list):
                return _MISSING
            if not step.all:
                value = next((item for item in value if _matches(item, step)), _MISSING)
            else:
                hits = [item for item in value if _matches(item, step)]
                if i + 1 == len(steps):
                    return hits
                found = (_walk(item, steps, i + 1) for item in hits)
                return [v for v in found if v is not _MISSING]
        if value is _MISSING:
            return value
        i += 1
    return value


def _build(value: Any, multi: _Multi) -> Any:
    found = [(name, _MISSING if path is None else _run(value, path)) for name, path in multi.items]
    if multi.obj:
        return {name: v for name, v in found if v is not _MISSING}
    return [v for _, v in found if v is not _MISSING]


def _matches(item: Any, query: _Query) -> bool:
    """gjson's ``queryMatches``: the comparison follows the type of the element's value."""
    value = item if query.key is None else _run(item, query.key)
    if value is _MISSING:
        return False
    op, rhs = query.op, query.value
    if op == "":
        return True
    if isinstance(value, bool):  # before numbers: Python's bools are ints
        if value:
            return {"==": rhs == "true", "!=": rhs != "true", ">": rhs == "false"}.get(
                op, op == ">="
            )
        return {"==": rhs == "false", "!=": rhs != "false", "<": rhs == "true"}.get(op, op == "<=")
    if isinstance(value, str):
        left: Any = value
        right: Any = rhs
    elif isinstance(value, int | float):
        left = value
        try:
            right = float(rhs)
        except ValueError:
            right = 0.0  # strconv.ParseFloat's zero value on error
    else:
        return False
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if not isinstance(value, str) or query.like is None:
        return False
    like = query.like.fullmatch(value) is not None
    return like if op == "%" else not like


# ---- compiling -----------------------------------------------------------------------------
_SIMPLE_JSONPATH = re.compile(r"\$(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])+")
_SIMPLE_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def _simple_jsonpath(path: str) -> Callable[[Any], Any]:
    """``$.a.b[0].c``, the common case, walked directly: the value jsonpath-ng finds (a key
    only in an object, an index only in a list), without its per-event cost."""
    steps = tuple(
        (name, None) if name else (None, int(index)) for name, index in _SIMPLE_STEP.findall(path)
    )

    def get(data: Any) -> Any:
        value = data
        for key, index in steps:
            if key is not None and isinstance(value, Mapping) and key in value:
                value = value[key]
            elif index is not None and isinstance(value, list) and index < len(value):
                value = value[index]
            else:
                raise PathNotFound(path)
        return value

    return get


def _compile_jsonpath(path: str) -> Callable[[Any], Any]:
    if _SIMPLE_JSONPATH.fullmatch(path):
        return _simple_jsonpath(path)
    try:
        expr = jsonpath_ext.parse(path)
    except Exception as exc:  # JsonPathLexerError, JsonPathParserError, and ply's own errors
        raise PathSyntaxError(path, f"invalid JSONPath {path!r}: {exc}") from None

    def find(data: Any) -> Any:
        try:
            matches = expr.find(data)
        except Exception as exc:  # a filter on a value of the wrong type, say
            raise PathNotFound(path, f"path {path} not found: {exc}") from None
        if not matches:
            raise PathNotFound(path)
        if len(matches) == 1:
            return matches[0].value
        return [m.value for m in matches]

    return find


@lru_cache(maxsize=4096)
def compile_path(path: str) -> Callable[[Any], Any]:
    """A function returning the value at ``path`` in a payload, raising PathNotFound.

    Raises PathSyntaxError (a PathNotFound) here, at compile time, for a path that does not
    parse, so a caller can reject it once instead of on every event.
    """
    if path.startswith("$"):
        return _compile_jsonpath(path)
    segments = _Parser(path).parse(path)
    if len(segments) == 1 and all(isinstance(s, _Key) for s in segments[0]):
        return _plain_keys(path, tuple(s.name for s in segments[0] if isinstance(s, _Key)))

    def get(data: Any) -> Any:
        value = _run(data, segments)
        if value is _MISSING:
            raise PathNotFound(path)
        return value

    return get


def _plain_keys(path: str, keys: tuple[str, ...]) -> Callable[[Any], Any]:
    """The common case, ``body.bucket.name``: no wildcards, counts or queries."""
    indexes = tuple(int(k) if k.isdigit() else None for k in keys)

    def get(data: Any) -> Any:
        value = data
        for key, index in zip(keys, indexes, strict=True):
            if isinstance(value, Mapping):
                value = value.get(key, _MISSING)
                if value is _MISSING:
                    raise PathNotFound(path, f"path {path} not found: no key {key!r}")
            elif index is not None and isinstance(value, list) and index < len(value):
                value = value[index]
            else:
                raise PathNotFound(path, f"path {path} not found: nothing at {key!r}")
        return value

    return get


def lookup(data: Any, path: str) -> Any:
    """The value at ``path`` (gjson, or JSONPath if it starts with ``$``) in ``data``."""
    return compile_path(path)(data)


def render(value: Any) -> str:
    """gjson's ``Result.String()``: strings raw, null empty, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json.dumps(value) if math.isfinite(value) else go_float(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)

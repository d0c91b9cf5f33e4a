"""expr-lang, the language of Argo's ``{{=...}}`` expression tags and ``expression:`` fields.

Argo evaluates these with expr-lang (antonmedv/expr) over nested maps - ``inputs.parameters.x``,
``steps['flip-coin'].outputs.result``, ``item``, ``lastRetry.exitCode`` - plus ``asInt``,
``asFloat``, ``jsonpath``, ``toJson`` and every sprig function under ``sprig.``. This module is
the subset of expr that Argo documents, with expr's semantics: ints stay ints except under ``/``
and ``**``, ``==`` compares numbers by value and never equates a number with a string, a missing
map key is nil, an unknown top-level name is an error, ``#`` is the element in a closure.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sluice.core.exprlang_builtins import BUILTINS, type_name
from sluice.core.exprlang_parser import (
    Array,
    Binary,
    Call,
    Chain,
    Conditional,
    Ident,
    Literal,
    MapLit,
    Member,
    Node,
    Pointer,
    Predicate,
    PredicateCall,
    Slice,
    Unary,
)
from sluice.core.exprlang_parser import ExprError as ExprError
from sluice.core.exprlang_parser import parse as parse
from sluice.core.govalue import go_equal, is_number
from sluice.core.sprig import FUNCTIONS as SPRIG
from sluice.core.sprig import SprigError

__all__ = ["ExprError", "evaluate", "parse"]


class _NilChain(Exception):
    """Raised by ``a?.b`` when ``a`` is nil; the enclosing chain evaluates to nil."""


def _mismatch(op: str, a: Any, b: Any, node: Node) -> ExprError:
    return ExprError(
        f"invalid operation: {op} (mismatched types {type_name(a)} and {type_name(b)})", node.pos
    )


def _index(value: Any, length: int, node: Node) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ExprError(f"array index must be an int, got {type_name(value)}", node.pos)
    index = value + length if value < 0 else value
    if not 0 <= index < length:
        raise ExprError(f"index out of range: {value} (array length is {length})", node.pos)
    return index


def _fetch(obj: Any, key: Any, node: Member) -> Any:
    if obj is None:
        if node.optional:
            raise _NilChain
        raise ExprError(f"cannot fetch {key} from nil", node.pos)
    if isinstance(obj, Mapping):
        try:
            return obj.get(key)
        except TypeError:  # an unhashable key cannot be in the map
            return None
    if isinstance(obj, list | tuple | str) and not isinstance(key, str):
        return obj[_index(key, len(obj), node)]
    raise ExprError(f"cannot fetch {key} from {type_name(obj)}", node.pos)


def _slice_bound(value: Any, default: int, length: int, node: Node) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise ExprError(f"slice index must be an int, got {type_name(value)}", node.pos)
    if value < 0:
        value += length
    return min(max(value, 0), length)


class Duration(dict[str, Any]):
    """A time difference as expr's Go ``time.Duration`` shows it: ``d.Seconds()`` and so on."""

    def __init__(self, delta: timedelta) -> None:
        secs = delta.total_seconds()
        super().__init__(
            Hours=lambda: secs / 3600,
            Minutes=lambda: secs / 60,
            Seconds=lambda: secs,
            Milliseconds=lambda: int(secs * 1000),
        )
        self.delta = delta


def _arith(op: str, a: Any, b: Any, node: Node) -> Any:
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, datetime) and isinstance(b, datetime) and op == "-":
        return Duration(a - b)
    if isinstance(a, datetime) and isinstance(b, Duration) and op in ("+", "-"):
        return a + b.delta if op == "+" else a - b.delta
    if not (is_number(a) and is_number(b)):
        raise _mismatch(op, a, b, node)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        x, y = float(a), float(b)
        if y == 0:  # Go float division: ±Inf, or NaN for 0/0
            return float("nan") if x == 0 else float("inf") if x > 0 else float("-inf")
        return x / y
    if op == "%":
        if not (isinstance(a, int) and isinstance(b, int)):
            raise _mismatch(op, a, b, node)
        if b == 0:
            raise ExprError("integer divide by zero", node.pos)
        rem = abs(a) % abs(b)  # Go's remainder takes the sign of the dividend
        return rem if a >= 0 else -rem
    try:  # ** and ^ are float exponentiation
        return float(a) ** float(b)
    except ZeroDivisionError:
        return float("inf")
    except OverflowError:
        return float("inf")


def _compare(op: str, a: Any, b: Any, node: Node) -> bool:
    comparable = (
        (is_number(a) and is_number(b))
        or (isinstance(a, str) and isinstance(b, str))
        or (isinstance(a, datetime) and isinstance(b, datetime))
    )
    if not comparable:
        raise _mismatch(op, a, b, node)
    try:
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        return bool(a >= b)
    except TypeError:
        raise _mismatch(op, a, b, node) from None


def _strings(op: str, a: Any, b: Any, node: Node) -> bool:
    if not (isinstance(a, str) and isinstance(b, str)):
        raise _mismatch(op, a, b, node)
    if op == "contains":
        return b in a
    if op == "startsWith":
        return a.startswith(b)
    if op == "endsWith":
        return a.endswith(b)
    try:
        return re.search(b, a) is not None
    except re.error as exc:
        raise ExprError(f"invalid regexp {b!r}: {exc}", node.pos) from exc


def _member_of(a: Any, b: Any, node: Node) -> bool:
    if isinstance(b, list | tuple):
        return any(go_equal(a, item) for item in b)
    if isinstance(b, Mapping):
        try:
            return a in b
        except TypeError:
            return False
    raise ExprError(f"operator in not defined on {type_name(b)}", node.pos)


def _bool(value: Any, what: str, node: Node) -> bool:
    if not isinstance(value, bool):
        raise ExprError(f"{what} needs a bool, got {type_name(value)}", node.pos)
    return value


class _Evaluator:
    def __init__(self, env: Mapping[str, Any]) -> None:
        self.env = env
        self.scopes: list[tuple[Any, int]] = []

    def eval(self, node: Node) -> Any:
        match node:
            case Literal():
                return node.value
            case Ident():
                if node.name in self.env:
                    return self.env[node.name]
                if node.name == "sprig":
                    return SPRIG
                raise ExprError(f"unknown name {node.name}", node.pos)
            case Pointer():
                item, index = self.scopes[-1]
                return index if node.name == "index" else item
            case Array():
                return [self.eval(item) for item in node.items]
            case MapLit():
                return {self.eval(k): self.eval(v) for k, v in node.pairs}
            case Member():
                return _fetch(self.eval(node.obj), self.eval(node.key), node)
            case Slice():
                obj = self.eval(node.obj)
                if not isinstance(obj, list | tuple | str):
                    raise ExprError(f"cannot slice {type_name(obj)}", node.pos)
                n = len(obj)
                start = _slice_bound(self.eval_opt(node.start), 0, n, node)
                end = _slice_bound(self.eval_opt(node.end), n, n, node)
                return obj[start : max(start, end)]
            case Chain():
                try:
                    return self.eval(node.node)
                except _NilChain:
                    return None
            case Unary():
                return self.unary(node)
            case Binary():
                return self.binary(node)
            case Conditional():
                cond = _bool(self.eval(node.cond), "ternary condition", node)
                return self.eval(node.then if cond else node.otherwise)
            case Call():
                return self.call(node)
            case PredicateCall():
                return self.predicate(node)
        raise ExprError(f"cannot evaluate {type(node).__name__}", node.pos)  # pragma: no cover

    def eval_opt(self, node: Node | None) -> Any:
        return None if node is None else self.eval(node)

    def unary(self, node: Unary) -> Any:
        value = self.eval(node.operand)
        if node.op in ("!", "not"):
            return not _bool(value, f"operator {node.op}", node)
        if not is_number(value):
            raise ExprError(
                f"invalid operation: {node.op} (mismatched type {type_name(value)})", node.pos
            )
        return -value if node.op == "-" else value

    def binary(self, node: Binary) -> Any:
        op = node.op
        left = self.eval(node.left)
        if op in ("&&", "and", "||", "or"):
            is_and = op in ("&&", "and")
            if _bool(left, f"operator {op}", node) is not is_and:
                return left
            return _bool(self.eval(node.right), f"operator {op}", node)
        if op == "??":
            return left if left is not None else self.eval(node.right)
        right = self.eval(node.right)
        if op == "==":
            return go_equal(left, right)
        if op == "!=":
            return not go_equal(left, right)
        if op in ("<", "<=", ">", ">="):
            return _compare(op, left, right, node)
        if op in ("contains", "startsWith", "endsWith", "matches"):
            return _strings(op, left, right, node)
        if op == "in":
            return _member_of(left, right, node)
        if op == "..":
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (left, right)):
                raise _mismatch(op, left, right, node)
            return list(range(left, right + 1))
        return _arith(op, left, right, node)

    def call(self, node: Call) -> Any:
        name = node.name
        fn: Any
        if isinstance(node.callee, Ident) and name not in self.env:
            if name not in BUILTINS:
                raise ExprError(f"unknown func {name}", node.pos)
            fn = BUILTINS[name]
        else:
            fn = self.eval(node.callee)
            if fn is None:
                raise ExprError(f"unknown func {name}", node.pos)
            if not callable(fn):
                raise ExprError(f"{name} is not a function but {type_name(fn)}", node.pos)
        args = [self.eval(arg) for arg in node.args]
        _check_arity(name, fn, args, node)
        try:
            return fn(*args)
        except SprigError as exc:
            raise ExprError(f"sprig.{exc}", node.pos) from exc
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise ExprError(f"{name}: {exc}", node.pos) from exc

    def closure(self, pred: Predicate, item: Any, index: int) -> Any:
        self.scopes.append((item, index))
        try:
            return self.eval(pred.body)
        finally:
            self.scopes.pop()

    def predicate(self, node: PredicateCall) -> Any:
        items = self.eval(node.items)
        if isinstance(items, Mapping):
            items = list(items.values())
        if not isinstance(items, list | tuple):
            raise ExprError(f"{node.name}: expected array, got {type_name(items)}", node.pos)
        name, pred = node.name, node.predicate
        if name == "map":
            return [self.closure(pred, v, i) for i, v in enumerate(items)] if pred else []
        if pred is None:  # count(list) and sum(list) take the elements themselves
            results = list(items)
        else:
            results = [self.closure(pred, v, i) for i, v in enumerate(items)]
        if name == "sum":
            if not all(is_number(r) for r in results):
                raise ExprError("sum: expected numbers", node.pos)
            return sum(results)
        flags = [_bool(r, f"predicate of {name}", node) for r in results]
        if name == "filter":
            return [v for v, keep in zip(items, flags, strict=True) if keep]
        if name == "all":
            return all(flags)
        if name == "any":
            return any(flags)
        if name == "none":
            return not any(flags)
        if name == "one":
            return flags.count(True) == 1
        if name == "count":
            return flags.count(True)
        hits = [i for i, keep in enumerate(flags) if keep]
        at = (hits[0] if name in ("find", "findIndex") else hits[-1]) if hits else None
        if name in ("findIndex", "findLastIndex"):
            return -1 if at is None else at
        return None if at is None else items[at]


def _check_arity(name: str, fn: Callable[..., Any], args: list[Any], node: Node) -> None:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature check themselves
        return
    try:
        signature.bind(*args)
    except TypeError:
        raise ExprError(
            f"{name}: wrong number of arguments ({len(args)}), expected {signature}", node.pos
        ) from None


def evaluate(source: str, env: Mapping[str, Any]) -> Any:
    """Evaluate an expr-lang expression against ``env`` (nested maps, as Argo builds them)."""
    try:
        return _Evaluator(env).eval(parse(source))
    except ExprError as exc:
        if exc.source is None:
            exc.bind(source)
        raise

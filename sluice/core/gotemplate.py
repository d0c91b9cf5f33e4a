"""Go's text/template with sprig, as Argo Events renders ``dataTemplate`` and ``contextTemplate``.

Argo Events parses a trigger parameter's template with ``template.New(..).Funcs(sprig.FuncMap())``
and executes it over ``{"Input": <event data or context>}``, the event JSON decoded by gjson.
Parsing (``gotemplate_parser``), the builtins (``gotemplate_funcs``) and execution (here) follow
Go's ``text/template``, so a template renders, and fails, as it would in Argo:

* JSON numbers are float64 in Go. ``execute`` turns every int in the data into a float unless
  ``json_numbers=False``: ``{{ .Input.n }}`` prints ``3`` for 3 and ``1e+06`` for 1000000, and
  ``eq .Input.n 3`` fails ("incompatible types") where ``eq .Input.n 3.0`` works. Number literals
  and what ``len``, ``add`` and friends return stay Go ints.
* A missing map key is Go's invalid value: it prints ``<no value>``, is false, and reaches
  functions as nil. Argo counts an output of exactly ``<no value>`` or ``""`` as a failed
  template and falls back to ``dataKey``/``value``; that check belongs to the caller.
* Values print as ``fmt.Print`` prints them (``map[a:1]``, ``[a b]``, ``<nil>``), via ``go_str``.

Rejected when parsing: ``define``/``template``/``block`` (a parameter is one template) and complex
numbers. Values have no methods (JSON data has none), so ``.Method`` is a missing key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from sluice.core.gotemplate_funcs import BUILTINS, MISSING, as_float64, go_type, truth
from sluice.core.gotemplate_parser import (
    Action,
    Break,
    Chain,
    Command,
    Continue,
    Control,
    Dot,
    Field,
    Identifier,
    Literal,
    Nil,
    Node,
    Pipe,
    TemplateError,
    Text,
    Variable,
    parse_tree,
)
from sluice.core.govalue import go_str
from sluice.core.sprig import FUNCTIONS as SPRIG
from sluice.core.sprig import SprigError

__all__ = ["Template", "TemplateError", "parse", "render"]

_NO_FINAL: Any = object()  # nothing piped into this command (Go's missingVal)


def _from_json(*args: Any) -> Any:
    return as_float64(SPRIG["fromJson"](*args))  # Go's json.Unmarshal: numbers are float64


# Go looks a name up in the template's FuncMap (sprig) before its builtins; sprig defines none
# of the builtins' names, so the builtins win over sluice's extra sprig ``len``.
_FUNCTIONS: Mapping[str, Callable[..., Any]] = MappingProxyType(
    {**SPRIG, "fromJson": _from_json, **{name: fn for name, (fn, _, _) in BUILTINS.items()}}
)


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _State:
    """One execution: the output so far and Go's push-down stack of variables."""

    def __init__(self, source: str, data: Any) -> None:
        self.source = source
        self.out: list[str] = []
        self.vars: list[list[Any]] = [["$", data]]

    def fail(self, node: Node, message: str) -> TemplateError:
        context = self.source[node.pos : node.end]
        return TemplateError(f"executing at <{context}>: {message}", self.source, node.pos)

    # ---- walking the tree ------------------------------------------------------------------
    def walk(self, dot: Any, nodes: tuple[Node, ...]) -> None:
        for node in nodes:
            if isinstance(node, Text):
                self.out.append(node.text)
            elif isinstance(node, Action):
                value = self.pipeline(dot, node.pipe)
                if not node.pipe.decl:  # a declaration prints nothing
                    self.out.append("<no value>" if value is MISSING else go_str(value))
            elif isinstance(node, Control) and node.kind == "range":
                self.range(dot, node)
            elif isinstance(node, Control):
                self.if_or_with(dot, node)
            elif isinstance(node, Break):
                raise _Break
            elif isinstance(node, Continue):
                raise _Continue

    def if_or_with(self, dot: Any, node: Control) -> None:
        mark = len(self.vars)
        try:
            value = self.pipeline(dot, node.pipe)
            if truth(value):
                self.walk(value if node.kind == "with" else dot, node.body)
            elif node.orelse is not None:
                self.walk(dot, node.orelse)
        finally:
            del self.vars[mark:]

    def range(self, dot: Any, node: Control) -> None:
        mark = len(self.vars)
        try:
            value = self.pipeline(dot, node.pipe)
            top, ran = len(self.vars), False
            for index, elem in self.range_items(value, node):
                ran = True
                self.set_range_vars(node, top, index, elem)
                try:
                    self.walk(elem, node.body)
                except _Continue:
                    pass
                except _Break:
                    break
                finally:
                    del self.vars[top:]
            if not ran and node.orelse is not None:
                self.walk(dot, node.orelse)
        finally:
            del self.vars[mark:]

    def range_items(self, value: Any, node: Control) -> Iterable[tuple[Any, Any]]:
        if isinstance(value, list | tuple):
            return enumerate(value)
        if isinstance(value, Mapping):
            return ((key, value[key]) for key in sorted(value, key=go_str))
        if isinstance(value, int) and not isinstance(value, bool):  # Go 1.22: range over an int
            if len(node.pipe.decl) > 1:
                raise self.fail(node, f"can't use {value} to iterate over more than one variable")
            return ((i, i) for i in range(value))
        if value is MISSING:
            return ()
        raise self.fail(node, f"range can't iterate over {go_str(value)}")

    def set_range_vars(self, node: Control, top: int, index: Any, elem: Any) -> None:
        decl = node.pipe.decl
        if node.pipe.is_assign:  # {{range $i, $v = ...}} assigns to existing variables
            values = (index, elem) if len(decl) > 1 else (elem,)
            for name, value in zip(decl, values, strict=False):
                self.set_var(name, value, node)
        elif decl:  # the declared variables are the top of the stack: element on top
            self.vars[top - 1][1] = elem
            if len(decl) > 1:
                self.vars[top - 2][1] = index

    # ---- variables -------------------------------------------------------------------------
    def var(self, node: Variable) -> Any:
        for name, value in reversed(self.vars):
            if name == node.name:
                return value
        raise self.fail(node, f"undefined variable: {node.name}")

    def set_var(self, name: str, value: Any, node: Node) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        raise self.fail(node, f"undefined variable: {name}")

    # ---- pipelines and their parts ---------------------------------------------------------
    def pipeline(self, dot: Any, pipe: Pipe) -> Any:
        value = _NO_FINAL
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
            if value is None:  # Go digs into interface{}: a nil one is the invalid value
                value = MISSING
        for name in pipe.decl:
            if pipe.is_assign:
                self.set_var(name, value, pipe)
            else:
                self.vars.append([name, value])
        return value

    def command(self, dot: Any, cmd: Command, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, Field):
            return self.fields(dot, first.names, cmd.args, final, first)
        if isinstance(first, Chain):
            return self.chain(dot, first, cmd.args, final)
        if isinstance(first, Identifier):
            return self.call(dot, first, cmd.args[1:], final, cmd)
        if isinstance(first, Variable):
            return self.variable(dot, first, cmd.args, final)
        self.not_a_function(first, cmd.args, final)
        if isinstance(first, Pipe):
            return self.pipeline(dot, first)
        if isinstance(first, Nil):
            raise self.fail(first, "nil is not a command")
        return dot if isinstance(first, Dot) else self.arg(dot, first)

    def not_a_function(self, node: Node, args: tuple[Node, ...], final: Any) -> None:
        if len(args) > 1 or final is not _NO_FINAL:
            text = self.source[node.pos : node.end]
            raise self.fail(node, f"can't give argument to non-function {text}")

    def arg(self, dot: Any, node: Node) -> Any:
        """An argument's value; a missing one stays MISSING (callers turn it into nil)."""
        if isinstance(node, Dot):
            return dot
        if isinstance(node, Nil):
            return None
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Field):
            return self.fields(dot, node.names, (node,), _NO_FINAL, node)
        if isinstance(node, Variable):
            return self.variable(dot, node, (), _NO_FINAL)
        if isinstance(node, Pipe):
            return self.pipeline(dot, node)
        if isinstance(node, Identifier):
            return self.call(dot, node, (), _NO_FINAL, node)
        if isinstance(node, Chain):
            return self.chain(dot, node, (), _NO_FINAL)
        raise self.fail(node, f"can't evaluate {type(node).__name__}")

    def variable(self, dot: Any, node: Variable, args: tuple[Node, ...], final: Any) -> Any:
        value = self.var(node)
        if not node.fields:
            self.not_a_function(node, args, final)
            return value
        return self.fields(value, node.fields, args, final, node)

    def chain(self, dot: Any, node: Chain, args: tuple[Node, ...], final: Any) -> Any:
        if isinstance(node.node, Nil):
            raise self.fail(node, "indirection through explicit nil")
        return self.fields(self.arg(dot, node.node), node.fields, args, final, node)

    def fields(
        self, receiver: Any, names: tuple[str, ...], args: tuple[Node, ...], final: Any, node: Node
    ) -> Any:
        """``.A.B.C`` from ``receiver``; only the last name may have arguments (and fail)."""
        has_args = len(args) > 1 or final is not _NO_FINAL
        for i, name in enumerate(names):
            if receiver is MISSING:  # Go: a field of the invalid value is invalid
                return MISSING
            if receiver is None:
                raise self.fail(node, f"nil pointer evaluating interface {{}}.{name}")
            if not isinstance(receiver, Mapping):
                raise self.fail(node, f"can't evaluate field {name} in type {go_type(receiver)}")
            if has_args and i == len(names) - 1:
                raise self.fail(node, f"{name} is not a method but has arguments")
            receiver = receiver.get(name, MISSING)
        return receiver

    def call(
        self, dot: Any, ident: Identifier, arg_nodes: tuple[Node, ...], final: Any, where: Node
    ) -> Any:
        name = ident.name
        count = len(arg_nodes) + (final is not _NO_FINAL)
        if name in BUILTINS:
            _, least, most = BUILTINS[name]
            if count < least or (most is not None and count > most):
                want = f"at least {least}" if most is None else str(least)
                raise self.fail(where, f"wrong number of args for {name}: want {want} got {count}")
        if name in ("and", "or"):  # short-circuit: return the deciding argument itself
            value = MISSING
            for node in arg_nodes:
                value = self.arg(dot, node)
                if truth(value) == (name == "or"):
                    return value
            return value if final is _NO_FINAL else final
        args = [self.arg(dot, node) for node in arg_nodes]
        if final is not _NO_FINAL:
            args.append(final)
        try:
            return _FUNCTIONS[name](*(None if a is MISSING else a for a in args))
        except SprigError as exc:
            problem = str(exc).removeprefix(f"{exc.function}: ")
            raise self.fail(where, f"error calling {name}: {problem}") from exc
        except Exception as exc:  # Go recovers a panicking function into an error, too
            raise self.fail(where, f"error calling {name}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template; ``execute`` may be called any number of times, concurrently too."""

    source: str
    root: tuple[Node, ...]

    def execute(self, data: Any, *, json_numbers: bool = True) -> str:
        """Render over ``data`` (``$`` and the initial ``.``).

        With ``json_numbers`` every int in ``data`` is read as the float64 Go's JSON decoding
        would have produced. Raises ``TemplateError`` as Go's ``Execute`` would return an error.
        """
        state = _State(self.source, as_float64(data) if json_numbers else data)
        state.walk(state.vars[0][1], self.root)
        return "".join(state.out)


@lru_cache(maxsize=256)
def parse(template: str) -> Template:
    """Parse ``template`` (cached), raising ``TemplateError`` where Go's ``Parse`` would fail."""
    return Template(template, parse_tree(template, _FUNCTIONS))


def render(template: str, data: Mapping[str, Any]) -> str:
    """Parse (cached) and execute ``template`` over ``data``, e.g. ``{"Input": event_data}``."""
    return parse(template).execute(data)

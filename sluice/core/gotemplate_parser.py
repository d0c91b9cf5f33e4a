"""Syntax tree and parser for ``sluice.core.gotemplate`` (Go's text/template grammar).

The grammar and the parse-time checks follow Go's ``text/template/parse``: an unknown function,
an undefined variable, a literal in a later pipeline stage, ``{{break}}`` outside ``{{range}}``
and an unclosed control are errors before anything runs, so a Sensor can be checked at load.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sluice.core.gotemplate_lexer import TemplateError, Token, line_column, number, tokens, unquote
from sluice.core.govalue import go_quote

__all__ = ["Action", "Break", "Chain", "Command", "Continue", "Control", "Dot", "Field"]
__all__ += ["Identifier", "Literal", "Nil", "Node", "Pipe", "TemplateError", "Text", "Variable"]
__all__ += ["parse_tree"]

_MAX_DEPTH = 100  # nested controls and parentheses; Go allows more, Python's stack does not
_OPERAND_START = frozenset(
    [
        "bool",
        "char",
        "number",
        "dot",
        "field",
        "ident",
        "nil",
        "string",
        "raw",
        "variable",
        "lparen",
    ]
)


# ---- syntax tree ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)  # source[pos:end] is the node's text


@dataclass(frozen=True, slots=True, kw_only=True)
class Text(Node):
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Literal(Node):
    value: str | int | float | bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Nil(Node):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Dot(Node):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Field(Node):
    names: tuple[str, ...]  # .A.B.C


@dataclass(frozen=True, slots=True, kw_only=True)
class Variable(Node):
    name: str  # "$" or "$x"
    fields: tuple[str, ...] = ()  # $x.A.B


@dataclass(frozen=True, slots=True, kw_only=True)
class Identifier(Node):
    name: str  # a function


@dataclass(frozen=True, slots=True, kw_only=True)
class Command(Node):
    args: tuple[Node, ...]  # args[0] is the function or the operand


@dataclass(frozen=True, slots=True, kw_only=True)
class Pipe(Node):
    decl: tuple[str, ...]  # variables declared (":=") or assigned ("=")
    is_assign: bool
    cmds: tuple[Command, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Chain(Node):
    node: Node  # (pipeline).A.B
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Action(Node):
    pipe: Pipe


@dataclass(frozen=True, slots=True, kw_only=True)
class Control(Node):
    kind: str  # "if", "with" or "range"
    pipe: Pipe
    body: tuple[Node, ...]
    orelse: tuple[Node, ...] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Break(Node):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Continue(Node):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class _End(Node):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class _Else(Node):
    chained: str | None  # "if"/"with" for {{else if ...}} / {{else with ...}}


# ---- parser --------------------------------------------------------------------------------
def _describe(token: Token) -> str:
    if token.kind == "eof":
        return "EOF"
    if token.kind == "keyword":
        return f"<{token.text}>"
    return go_quote(token.text)


class _Parser:
    def __init__(self, source: str, functions: Collection[str]) -> None:
        self.src = source
        self.functions = functions
        self.tokens = tokens(source)
        self.ahead: list[Token] = []
        self.vars = ["$"]
        self.range_depth = 0
        self.depth = 0

    def error(self, message: str, pos: int) -> TemplateError:
        return TemplateError(message, self.src, pos)

    def peek(self, k: int = 0) -> Token:
        while len(self.ahead) <= k:
            self.ahead.append(next(self.tokens))
        return self.ahead[k]

    def next(self) -> Token:
        token = self.peek()
        self.ahead.pop(0)
        return token

    def unexpected(self, token: Token, context: str) -> TemplateError:
        return self.error(f"unexpected {_describe(token)} in {context}", token.pos)

    def expect(self, kind: str, context: str) -> Token:
        token = self.next()
        if token.kind != kind:
            raise self.unexpected(token, context)
        return token

    def parse(self) -> tuple[Node, ...]:
        nodes: list[Node] = []
        while self.peek().kind != "eof":
            node = self.text_or_action()
            if isinstance(node, _End | _Else):
                word = "end" if isinstance(node, _End) else "else"
                raise self.error(f"unexpected {{{{{word}}}}}", node.pos)
            nodes.append(node)
        return tuple(nodes)

    def item_list(self, opener: Token) -> tuple[tuple[Node, ...], _End | _Else]:
        nodes: list[Node] = []
        while self.peek().kind != "eof":
            node = self.text_or_action()
            if isinstance(node, _End | _Else):
                return tuple(nodes), node
            nodes.append(node)
        line, column = line_column(self.src, opener.pos)
        raise self.error(
            f"unexpected EOF: no {{{{end}}}} for the {{{{{opener.text}}}}} at {line}:{column}",
            self.peek().pos,
        )

    def text_or_action(self) -> Node:
        token = self.next()
        if token.kind == "text":
            return Text(text=token.text, pos=token.pos, end=token.end)
        if token.kind == "left":
            return self.action()
        raise self.unexpected(token, "input")

    def action(self) -> Node:
        token = self.peek()
        if token.kind == "keyword":
            self.next()
            word = token.text
            if word in ("if", "with", "range"):
                return self.control(token)
            if word == "else":
                chained = self.peek()
                if chained.kind == "keyword" and chained.text in ("if", "with"):
                    return _Else(chained=chained.text, pos=token.pos, end=token.end)
                self.expect("right", "else")
                return _Else(chained=None, pos=token.pos, end=token.end)
            if word == "end":
                self.expect("right", "end")
                return _End(pos=token.pos, end=token.end)
            if word in ("break", "continue"):
                self.expect("right", f"{{{{{word}}}}}")
                if not self.range_depth:
                    raise self.error(f"{{{{{word}}}}} outside {{{{range}}}}", token.pos)
                kind = Break if word == "break" else Continue
                return kind(pos=token.pos, end=token.end)
            raise self.error(
                f"{{{{{word}}}}} is not supported: a trigger parameter is a single template",
                token.pos,
            )
        pipe = self.pipeline("command", "right")
        return Action(pipe=pipe, pos=pipe.pos, end=pipe.end)

    def control(self, opener: Token) -> Control:
        context, mark = opener.text, len(self.vars)
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error("max nesting depth exceeded", opener.pos)
        try:
            pipe = self.pipeline(context, "right")
            self.range_depth += context == "range"
            body, nxt = self.item_list(opener)
            self.range_depth -= context == "range"
            orelse: tuple[Node, ...] | None = None
            if isinstance(nxt, _Else):
                if nxt.chained == context and context in ("if", "with"):
                    orelse = (self.control(self.next()),)  # {{else if}}: its {{end}} ends both
                else:
                    orelse, last = self.item_list(opener)
                    if not isinstance(last, _End):
                        raise self.error("expected end; found {{else}}", last.pos)
            return Control(
                kind=context, pipe=pipe, body=body, orelse=orelse, pos=opener.pos, end=pipe.end
            )
        finally:
            del self.vars[mark:]
            self.depth -= 1

    def declarations(self, context: str) -> tuple[list[str], bool]:
        decl: list[str] = []
        while self.peek().kind == "variable":
            after = self.peek(1)
            if after.kind in ("declare", "assign"):
                decl.append(self.next().text)
                self.next()
                self.vars.append(decl[-1])
                return decl, after.kind == "assign"
            if after.kind != "char_punct" or after.text != ",":
                break
            decl.append(self.next().text)
            self.next()
            self.vars.append(decl[-1])
            if context != "range" or len(decl) >= 2:
                raise self.error(f"too many declarations in {context}", after.pos)
            if self.peek().kind not in ("variable", "right", "rparen"):
                raise self.error("range can only initialize variables", self.peek().pos)
        return decl, False

    def pipeline(self, context: str, end: str) -> Pipe:
        start = self.peek().pos
        decl, is_assign = self.declarations(context)
        cmds: list[Command] = []
        while (token := self.peek()).kind != end:
            if token.kind not in _OPERAND_START:
                raise self.unexpected(self.next(), context)
            cmds.append(self.command())
        closer = self.next()
        if not cmds:
            raise self.error(f"missing value for {context}", closer.pos)
        for stage, cmd in enumerate(cmds[1:], start=2):
            if isinstance(cmd.args[0], Literal | Dot | Nil):
                raise self.error(f"non executable command in pipeline stage {stage}", cmd.pos)
        end_pos = closer.end if end == "rparen" else cmds[-1].end
        return Pipe(decl=tuple(decl), is_assign=is_assign, cmds=tuple(cmds), pos=start, end=end_pos)

    def command(self) -> Command:
        args: list[Node] = []
        while True:
            operand = self.operand()
            if operand is not None:
                args.append(operand)
            token = self.peek()
            if token.kind == "pipe":
                self.next()
                break
            if token.kind in ("right", "rparen"):
                break
            if not (token.spaced and operand is not None):
                raise self.unexpected(self.next(), "operand")
        if not args:
            raise self.error("empty command", self.peek().pos)
        return Command(args=tuple(args), pos=args[0].pos, end=args[-1].end)

    def operand(self) -> Node | None:
        node = self.term()
        if node is None or self.peek().kind != "field" or self.peek().spaced:
            return node
        fields: list[str] = []
        end = node.end
        while self.peek().kind == "field" and not self.peek().spaced:
            token = self.next()
            fields.append(token.text[1:])
            end = token.end
        if isinstance(node, Field):
            return Field(names=node.names + tuple(fields), pos=node.pos, end=end)
        if isinstance(node, Variable):
            return Variable(name=node.name, fields=tuple(fields), pos=node.pos, end=end)
        if isinstance(node, Literal | Nil | Dot):
            text = self.src[node.pos : node.end]
            raise self.error(f"unexpected . after term {go_quote(text)}", node.end)
        return Chain(node=node, fields=tuple(fields), pos=node.pos, end=end)

    def term(self) -> Node | None:
        token = self.peek()
        pos, end = token.pos, token.end
        kind = token.kind
        if kind not in _OPERAND_START:
            return None
        self.next()
        try:
            if kind == "ident":
                if token.text not in self.functions:
                    raise self.error(f"function {go_quote(token.text)} not defined", token.pos)
                return Identifier(name=token.text, pos=pos, end=end)
            if kind == "variable":
                if token.text not in self.vars:
                    raise self.error(f"undefined variable {go_quote(token.text)}", token.pos)
                return Variable(name=token.text, pos=pos, end=end)
            if kind == "lparen":
                self.depth += 1
                if self.depth > _MAX_DEPTH:
                    raise self.error("max nesting depth exceeded", token.pos)
                try:
                    return self.pipeline("parenthesized pipeline", "rparen")
                finally:
                    self.depth -= 1
            simple: dict[str, Node] = {"dot": Dot(pos=pos, end=end), "nil": Nil(pos=pos, end=end)}
            if kind in simple:
                return simple[kind]
            if kind == "field":
                return Field(names=(token.text[1:],), pos=pos, end=end)
            if kind == "bool":
                return Literal(value=token.text == "true", pos=pos, end=end)
            if kind in ("string", "raw"):
                return Literal(value=unquote(token.text), pos=pos, end=end)
            return Literal(value=number(token.text), pos=pos, end=end)
        except ValueError as exc:
            if isinstance(exc, TemplateError):
                raise
            raise self.error(str(exc), token.pos) from None


def parse_tree(source: str, functions: Collection[str]) -> tuple[Node, ...]:
    """Parse ``source`` into its top-level nodes; ``functions`` are the names callable in it."""
    return _Parser(source, functions).parse()

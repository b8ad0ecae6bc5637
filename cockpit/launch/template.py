"""A small, safe template language for manifest templates (no jinja2, no eval).

Syntax
    {{ name }}                      a value
    {{ name | default("x") }}       filters, chained with `|`; arguments are literals or names
    {{ *name }}                     as a list item: splice the list's items in place;
                                    as the value of a `<<:` key: merge the map into the mapping
    {% if name %} ... {% elif other %} ... {% else %} ... {% endif %}
    {% if not name %}, {% if name == "literal" %}, {% if name != 3 %}
    {% raw %} {{ left alone }} {% endraw %}

How values get in: the text with its conditionals resolved is parsed as YAML with every `{{ }}`
replaced by an inert placeholder, and the values are put into the parsed tree. A value can
therefore never change the YAML structure, and it keeps its type: a plain `{{ gpus }}` becomes
the integer 2, a list parameter becomes a YAML list, while a quoted `"{{ gpus }}"` or text
around a placeholder (`{{ name }}-svc`) gives a string. A tag alone on its line takes its line
with it (its newline stays, so line numbers in errors match the source).
"""

from __future__ import annotations

import copy
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cockpit.launch.errors import TemplateError

__all__ = ["FILTERS", "Template", "TemplateError"]

_TAG = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.DOTALL)
_LEX = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
      | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>==|!=|[|()*,])
    )""",
    re.VERBOSE,
)
_KEYWORD_LITERALS = {"true": True, "false": False, "null": None, "none": None, "True": True, "False": False,
                     "None": None}
_MAX_DEPTH = 64


# -- filters -------------------------------------------------------------------------------------

class FilterError(Exception):
    pass


def _text(value: Any) -> str:
    """A value as it reads inside text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    kind = "a list" if isinstance(value, list) else "a map" if isinstance(value, dict) else type(value).__name__
    raise FilterError(f"is {kind}; it can only stand alone as a whole YAML value (or use `| join`)")


def _f_default(value: Any, fallback: Any = "") -> Any:
    return fallback if value is None or value == "" else value


def _f_join(value: Any, sep: Any = " ") -> str:
    if value is None:
        return ""
    if not isinstance(value, list):
        raise FilterError("join needs a list")
    return _text(sep).join(_text(v) for v in value)


def _f_string(value: Any) -> str:
    return _text(value)


def _need_map(value: Any, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FilterError(f"{what} needs a map")
    return value


def _f_env(value: Any) -> list[dict]:
    return [{"name": str(k), "value": _text(v)} for k, v in _need_map(value, "env").items()]


def _f_secret_env(value: Any) -> list[dict]:
    out = []
    for env, ref in _need_map(value, "secret_env").items():
        if not isinstance(ref, dict) or "secret" not in ref or "key" not in ref:
            raise FilterError("secret_env needs a secretRefs value")
        out.append({"name": str(env), "valueFrom": {"secretKeyRef": {"name": ref["secret"], "key": ref["key"]}}})
    return out


def _ports(value: Any, what: str) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(p, dict) and "port" in p for p in value):
        raise FilterError(f"{what} needs a ports value")
    return value


def _f_container_ports(value: Any) -> list[dict]:
    out = []
    for p in _ports(value, "container_ports"):
        item: dict[str, Any] = {"containerPort": p["port"], "protocol": "TCP"}
        if p.get("name"):
            item["name"] = p["name"]
        out.append(item)
    return out


def _f_service_ports(value: Any) -> list[dict]:
    return [{"name": p.get("name") or f"port-{p['port']}", "port": p["port"], "targetPort": p["port"],
             "protocol": "TCP"} for p in _ports(value, "service_ports")]


_TOLERATION = re.compile(r"(?P<key>[^=:\s]+)(?:=(?P<value>[^:\s]*))?(?::(?P<effect>NoSchedule|PreferNoSchedule|NoExecute))?")


def _f_toleration(value: Any) -> list[dict]:
    """"key=value:Effect", "key:Effect" or "key" -> a list with one toleration (empty for "")."""
    if value in (None, ""):
        return []
    m = _TOLERATION.fullmatch(_text(value).strip())
    if m is None:
        raise FilterError("toleration needs `key[=value][:NoSchedule|PreferNoSchedule|NoExecute]`")
    tol: dict[str, Any] = {"key": m["key"]}
    if m["value"] is not None:
        tol.update(operator="Equal", value=m["value"])
    else:
        tol["operator"] = "Exists"
    if m["effect"]:
        tol["effect"] = m["effect"]
    return [tol]


FILTERS: dict[str, tuple[Callable[..., Any], int, int]] = {
    # name: (function, least arguments, most arguments) - not counting the value itself
    "default": (_f_default, 0, 1),
    "join": (_f_join, 0, 1),
    "string": (_f_string, 0, 0),
    "env": (_f_env, 0, 0),
    "secret_env": (_f_secret_env, 0, 0),
    "container_ports": (_f_container_ports, 0, 0),
    "service_ports": (_f_service_ports, 0, 0),
    "toleration": (_f_toleration, 0, 0),
}


# -- the compiled form --------------------------------------------------------------------------

@dataclass(frozen=True)
class _Name:
    name: str


@dataclass(frozen=True)
class _Expr:
    splice: bool
    subject: Any  # _Name or a literal
    filters: tuple[tuple[str, tuple[Any, ...]], ...]
    line: int
    source: str


@dataclass(frozen=True)
class _Cond:
    negate: bool
    left: Any
    op: str | None = None
    right: Any = None


@dataclass
class _If:
    branches: list[tuple[_Cond, list]]  # (condition, body) for if and every elif
    orelse: list | None
    line: int
    newlines: list[int] = field(default_factory=list)  # per branch, plus the else branch last


class _Raw(str):
    """Text from a {% raw %} block: left exactly as written."""


def _resolve(arg: Any, context: Mapping[str, Any]) -> Any:
    return context.get(arg.name) if isinstance(arg, _Name) else arg


def _newlines(nodes: list) -> int:
    n = 0
    for node in nodes:
        if isinstance(node, str):
            n += node.count("\n")
        elif isinstance(node, _If):
            n += sum(node.newlines)
        elif isinstance(node, _Expr):
            n += node.source.count("\n")
    return n


class _Parser:
    def __init__(self, source: str, error: Callable[[int, str], TemplateError]) -> None:
        self.source = source
        self.error = error

    def line_at(self, offset: int) -> int:
        return self.source.count("\n", 0, offset) + 1

    def tokens(self, text: str, line: int) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            m = _LEX.match(text, pos)
            if m is None or m.end() == pos:
                raise self.error(line, f"cannot read {text[pos:].strip()!r} in {text.strip()!r}")
            pos = m.end()
            if m["str"] is not None:
                raw = m["str"]
                try:
                    value = json.loads(raw) if raw[0] == '"' else raw[1:-1].replace("\\'", "'").replace("\\\\", "\\")
                except ValueError:
                    raise self.error(line, f"bad string literal {raw}") from None
                out.append(("lit", value))
            elif m["num"] is not None:
                num = m["num"]
                out.append(("lit", float(num) if any(c in num for c in ".eE") else int(num)))
            elif m["id"] is not None:
                out.append(("id", m["id"]))
            else:
                out.append(("op", m["op"]))
        return out

    def operand(self, toks: list, i: int, line: int, what: str) -> tuple[Any, int]:
        if i >= len(toks):
            raise self.error(line, f"{what}: a name or a literal is missing")
        kind, value = toks[i]
        if kind == "lit":
            return value, i + 1
        if kind == "id":
            if value in _KEYWORD_LITERALS:
                return _KEYWORD_LITERALS[value], i + 1
            return _Name(value), i + 1
        raise self.error(line, f"{what}: unexpected {value!r}")

    def expr(self, text: str, line: int) -> _Expr:
        toks = self.tokens(text, line)
        where = "{{" + text + "}}"
        if not toks:
            raise self.error(line, f"empty expression {where}")
        i = 0
        splice = False
        if toks[0] == ("op", "*"):
            splice, i = True, 1
        subject, i = self.operand(toks, i, line, where)
        filters: list[tuple[str, tuple[Any, ...]]] = []
        while i < len(toks):
            if toks[i] != ("op", "|"):
                raise self.error(line, f"{where}: expected `|` before {toks[i][1]!r}")
            i += 1
            if i >= len(toks) or toks[i][0] != "id":
                raise self.error(line, f"{where}: a filter name must follow `|`")
            fname = toks[i][1]
            i += 1
            if fname not in FILTERS:
                raise self.error(line, f"{where}: unknown filter {fname!r} (known: {', '.join(sorted(FILTERS))})")
            args: list[Any] = []
            if i < len(toks) and toks[i] == ("op", "("):
                i += 1
                while i < len(toks) and toks[i] != ("op", ")"):
                    arg, i = self.operand(toks, i, line, where)
                    args.append(arg)
                    if i < len(toks) and toks[i] == ("op", ","):
                        i += 1
                if i >= len(toks):
                    raise self.error(line, f"{where}: `)` missing")
                i += 1
            _, least, most = FILTERS[fname]
            if not least <= len(args) <= most:
                raise self.error(line, f"{where}: filter {fname} takes {least}..{most} arguments, got {len(args)}")
            filters.append((fname, tuple(args)))
        return _Expr(splice, subject, tuple(filters), line, where)

    def cond(self, toks: list, line: int, where: str) -> _Cond:
        i = 0
        negate = False
        if i < len(toks) and toks[i] == ("id", "not"):
            negate, i = True, 1
        left, i = self.operand(toks, i, line, where)
        op = right = None
        if i < len(toks) and toks[i] in (("op", "=="), ("op", "!=")):
            op = toks[i][1]
            right, i = self.operand(toks, i + 1, line, where)
        if i != len(toks):
            raise self.error(line, f"{where}: unexpected {toks[i][1]!r}")
        return _Cond(negate, left, op, right)

    def parse(self) -> list:
        src = self.source
        root: list = []
        # open blocks: (the If node, or None for the root; the body being filled)
        stack: list[tuple[_If | None, list]] = [(None, root)]
        pos = 0
        raw_from: int | None = None
        raw_line = 0
        matches = list(_TAG.finditer(src))
        k = 0
        while k < len(matches):
            m = matches[k]
            k += 1
            start, end = m.start(), m.end()
            is_block = m.group(2) is not None
            if is_block:
                # A block tag alone on its line takes the line's blanks with it.
                line_start = src.rfind("\n", 0, start) + 1
                nl = src.find("\n", end)
                line_end = len(src) if nl < 0 else nl
                if not src[line_start:start].strip() and not src[end:line_end].strip():
                    start, end = max(line_start, pos), line_end
            line = self.line_at(m.start())
            if raw_from is not None:
                body = (m.group(2) or "").strip() if is_block else ""
                if body == "endraw":
                    stack[-1][1].append(_Raw(src[raw_from:start]))
                    raw_from = None
                    pos = end
                continue
            if start > pos:
                stack[-1][1].append(src[pos:start])
            pos = end
            if not is_block:
                stack[-1][1].append(self.expr(m.group(1), line))
                continue
            body = m.group(2)
            toks = self.tokens(body, line)
            where = "{%" + body + "%}"
            head = toks[0][1] if toks and toks[0][0] == "id" else None
            if head == "raw" and len(toks) == 1:
                raw_from, raw_line = pos, line
            elif head == "if":
                node = _If([(self.cond(toks[1:], line, where), [])], None, line)
                stack[-1][1].append(node)
                stack.append((node, node.branches[0][1]))
            elif head in ("elif", "else", "endif"):
                node = stack[-1][0]
                if node is None:
                    raise self.error(line, f"{where} without a matching {{% if %}}")
                if head == "elif":
                    if node.orelse is not None:
                        raise self.error(line, f"{where} after {{% else %}}")
                    node.branches.append((self.cond(toks[1:], line, where), []))
                    stack[-1] = (node, node.branches[-1][1])
                elif head == "else":
                    if len(toks) != 1:
                        raise self.error(line, f"{where}: else takes nothing")
                    if node.orelse is not None:
                        raise self.error(line, f"{where}: a second {{% else %}}")
                    node.orelse = []
                    stack[-1] = (node, node.orelse)
                else:
                    if len(toks) != 1:
                        raise self.error(line, f"{where}: endif takes nothing")
                    stack.pop()
            else:
                raise self.error(line, f"unknown tag {where} (known: if, elif, else, endif, raw, endraw)")
        if raw_from is not None:
            raise self.error(raw_line, "{% raw %} is not closed by {% endraw %}")
        if len(stack) > 1:
            raise self.error(stack[-1][0].line, "{% if %} is not closed by {% endif %}")  # type: ignore[union-attr]
        rest = src[pos:]
        for opener in ("{{", "{%"):
            if opener in rest or any(opener in t for t in self._texts(root)):
                at = src.rfind(opener) if opener in rest else src.find(opener)
                raise self.error(self.line_at(at), f"`{opener}` is not closed")
        if rest:
            root.append(rest)
        self._count(root)
        return root

    def _texts(self, nodes: list):
        for n in nodes:
            if isinstance(n, str):
                if not isinstance(n, _Raw):
                    yield n
            elif isinstance(n, _If):
                for _, body in n.branches:
                    yield from self._texts(body)
                yield from self._texts(n.orelse or [])

    def _count(self, nodes: list) -> None:
        for n in nodes:
            if isinstance(n, _If):
                for _, body in n.branches:
                    self._count(body)
                self._count(n.orelse or [])
                n.newlines = [_newlines(body) for _, body in n.branches] + [_newlines(n.orelse or [])]


# -- rendering -----------------------------------------------------------------------------------

def _truthy(value: Any) -> bool:
    return value not in (None, "", 0, False) and value != [] and value != {}


class Template:
    """One compiled manifest template. Errors name `file`, the source line and `field`."""

    def __init__(self, source: str, *, file: str = "<template>", first_line: int = 1,
                 field: str = "template") -> None:
        self.source = source
        self.file = file
        self.first_line = first_line
        self.field = field
        self._nodes = _Parser(source, self._error).parse()
        self.names = frozenset(self._collect_names(self._nodes))

    def _error(self, line: int, message: str) -> TemplateError:
        return TemplateError(self.file, self.first_line + max(line, 1) - 1, self.field, message)

    def _collect_names(self, nodes: list):
        for n in nodes:
            if isinstance(n, _Expr):
                for arg in (n.subject, *(a for _, args in n.filters for a in args)):
                    if isinstance(arg, _Name):
                        yield arg.name
            elif isinstance(n, _If):
                for cond, body in n.branches:
                    for arg in (cond.left, cond.right):
                        if isinstance(arg, _Name):
                            yield arg.name
                    yield from self._collect_names(body)
                yield from self._collect_names(n.orelse or [])

    def name_lines(self) -> dict[str, int]:
        """Each referenced name and the (file) line of its first use."""
        out: dict[str, int] = {}

        def walk(nodes: list) -> None:
            for n in nodes:
                if isinstance(n, _Expr):
                    for arg in (n.subject, *(a for _, args in n.filters for a in args)):
                        if isinstance(arg, _Name):
                            out.setdefault(arg.name, self.first_line + n.line - 1)
                elif isinstance(n, _If):
                    for cond, body in n.branches:
                        for arg in (cond.left, cond.right):
                            if isinstance(arg, _Name):
                                out.setdefault(arg.name, self.first_line + n.line - 1)
                        walk(body)
                    walk(n.orelse or [])

        walk(self._nodes)
        return out

    # text with placeholders
    def _expand(self, nodes: list, context: Mapping[str, Any], out: list[str], slots: dict[str, _Expr],
                prefix: str) -> None:
        for n in nodes:
            if isinstance(n, str):
                out.append(n)
            elif isinstance(n, _Expr):
                token = f"{prefix}{len(slots)}__"
                slots[token] = n
                out.append(token + "\n" * n.source.count("\n"))
            else:
                chosen = None
                for idx, (cond, _body) in enumerate(n.branches):
                    if self._test(cond, context):
                        chosen = idx
                        break
                if chosen is None and n.orelse is not None:
                    chosen = len(n.branches)
                for idx, count in enumerate(n.newlines):
                    if idx == chosen:
                        body = n.branches[idx][1] if idx < len(n.branches) else n.orelse or []
                        self._expand(body, context, out, slots, prefix)
                    else:
                        out.append("\n" * count)

    def _test(self, cond: _Cond, context: Mapping[str, Any]) -> bool:
        left = _resolve(cond.left, context)
        if cond.op is None:
            result = _truthy(left)
        else:
            right = _resolve(cond.right, context)
            result = (left == right) if cond.op == "==" else (left != right)
        return not result if cond.negate else result

    def _value(self, expr: _Expr, context: Mapping[str, Any], line: int) -> Any:
        value = _resolve(expr.subject, context)
        for fname, args in expr.filters:
            fn = FILTERS[fname][0]
            try:
                value = fn(value, *(_resolve(a, context) for a in args))
            except FilterError as e:
                raise self._error(line, f"{expr.source}: {e}") from None
        return copy.deepcopy(value)

    def render_text(self, context: Mapping[str, Any]) -> tuple[str, dict[str, _Expr], str]:
        """The source with conditionals resolved and each {{ }} replaced by a placeholder."""
        nonce = secrets.token_hex(4)
        while nonce in self.source:
            nonce = secrets.token_hex(4)
        prefix = f"ckpt__{nonce}_"
        out: list[str] = []
        slots: dict[str, _Expr] = {}
        self._expand(self._nodes, context, out, slots, prefix)
        return "".join(out), slots, prefix

    def render(self, context: Mapping[str, Any]) -> list[dict]:
        """The documents this template yields for `context` (empty documents are dropped)."""
        text, slots, prefix = self.render_text(context)
        token_re = re.compile(re.escape(prefix) + r"\d+__")
        builder = _Builder(self, context, slots, token_re)
        docs: list[dict] = []
        try:
            nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
            line = mark.line + 1 if mark is not None else 1
            problem = getattr(e, "problem", None) or str(e)
            context_text = getattr(e, "context", None)
            msg = f"{context_text}, {problem}" if context_text else problem
            raise self._error(line, f"the rendered template is not valid YAML: {token_re.sub('{{ }}', msg)}") \
                from None
        for node in nodes:
            if node is None:
                continue
            if not isinstance(node, MappingNode):
                raise self._error(node.start_mark.line + 1, "each document must be a mapping (a manifest)")
            doc = builder.build(node, 0)
            if doc:
                docs.append(doc)
        return docs


class _Builder:
    def __init__(self, template: Template, context: Mapping[str, Any], slots: dict[str, _Expr],
                 token_re: re.Pattern) -> None:
        self.t = template
        self.context = context
        self.slots = slots
        self.token_re = token_re
        self.constructor = SafeConstructor()

    def err(self, node: Node, message: str) -> TemplateError:
        return self.t._error(node.start_mark.line + 1, message)

    def whole(self, node: Node) -> _Expr | None:
        """The expression when `node` is a plain scalar that is exactly one placeholder."""
        if isinstance(node, ScalarNode) and node.style is None and self.token_re.fullmatch(node.value):
            return self.slots[node.value]
        return None

    def build(self, node: Node, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise self.err(node, "the document nests too deep (a recursive alias?)")
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if isinstance(node, SequenceNode):
            items: list[Any] = []
            for item in node.value:
                expr = self.whole(item)
                if expr is not None and expr.splice:
                    value = self.t._value(expr, self.context, item.start_mark.line + 1)
                    if value is None:
                        continue
                    if not isinstance(value, list):
                        raise self.err(item, f"{expr.source}: only a list can be spliced into a list")
                    items.extend(value)
                else:
                    items.append(self.build(item, depth + 1))
            return items
        if isinstance(node, MappingNode):
            out: dict[Any, Any] = {}
            merged: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode) and key_node.tag == "tag:yaml.org,2002:merge":
                    merged.update(self.merge_value(value_node, depth))
                    continue
                key = self.build(key_node, depth + 1)
                try:
                    hash(key)
                except TypeError:
                    raise self.err(key_node, "a mapping key must be a scalar") from None
                if key in out:
                    raise self.err(key_node, f"duplicate key {key!r}")
                out[key] = self.build(value_node, depth + 1)
            return {**merged, **out} if merged else out
        raise self.err(node, "unsupported YAML node")

    def merge_value(self, node: Node, depth: int) -> dict:
        expr = self.whole(node)
        if expr is not None:
            value = self.t._value(expr, self.context, node.start_mark.line + 1)
            if value is None:
                return {}
            if not isinstance(value, dict):
                raise self.err(node, f"{expr.source}: only a map can be merged with `<<`")
            return value
        if isinstance(node, MappingNode):
            return self.build(node, depth + 1)
        if isinstance(node, SequenceNode):
            out: dict = {}
            for item in reversed(node.value):
                out.update(self.merge_value(item, depth + 1))
            return out
        raise self.err(node, "`<<` needs a map")

    def scalar(self, node: ScalarNode) -> Any:
        value = node.value
        if self.token_re.search(value) is None:
            try:
                return self.constructor.construct_object(node, deep=True)
            except ConstructorError as e:
                raise self.err(node, str(e.problem or e)) from None
            except Exception as e:  # noqa: BLE001 - PyYAML's constructors fail in many ways on odd tags
                raise self.err(node, f"cannot read this value ({node.tag}): {e or type(e).__name__}") from None
        expr = self.whole(node)
        line = node.start_mark.line + 1
        if expr is not None:
            if expr.splice:
                raise self.err(node, f"{expr.source}: a splice must be a list item or the value of `<<:`")
            return self.t._value(expr, self.context, line)

        def text(m: re.Match) -> str:
            e = self.slots[m.group()]
            if e.splice:
                raise self.err(node, f"{e.source}: a splice must be a list item or the value of `<<:`")
            try:
                return _text(self.t._value(e, self.context, line))
            except FilterError as err:
                raise self.err(node, f"{e.source} {err}") from None

        return self.token_re.sub(text, value)

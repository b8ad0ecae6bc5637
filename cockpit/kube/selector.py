"""Kubernetes label selectors, parsed the way kubectl and the API server parse them.

Grammar (k8s.io/apimachinery/pkg/labels): requirements joined by commas, each one of
`key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (v1,v2)`, `key notin (v1,v2)`,
`key>N`, `key<N`. Whitespace between tokens is ignored. `!=` and `notin` also match objects
without the label; `in` and `=` need it. Pure: no Textual, no cluster.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Labels = dict[str, str]

_SPECIAL = "!=,()<> \t"
# A label key: optional DNS-subdomain prefix and a name of at most 63 characters.
_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def labels_text(labels: Mapping[str, Any]) -> str:
    """`{"app": "web", "tier": "ui"}` as a selector: "app=web,tier=ui" (sorted, as kubectl shows it)."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


class SelectorError(ValueError):
    """A selector that kubectl would refuse; the message says what is wrong and where."""


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "exists" "!" "=" "!=" "in" "notin" ">" "<"
    values: tuple[str, ...] = ()

    def matches(self, labels: Labels) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        # > and <: the label must hold an integer
        try:
            number = int(value) if value is not None else None
        except ValueError:
            return False
        if number is None:
            return False
        limit = int(self.values[0])
        return number > limit if self.op == ">" else number < limit


@dataclass(frozen=True, slots=True)
class Selector:
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Labels) -> bool:
        return all(r.matches(labels) for r in self.requirements)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "id" "op" "," "(" ")" "end"
    text: str
    pos: int


def _tokens(text: str, start: int = 0) -> list[_Token]:
    out: list[_Token] = []
    i, n = start, len(text)
    while i < n:
        c = text[i]
        if c in " \t":
            i += 1
        elif c in ",()":
            out.append(_Token(c, c, i))
            i += 1
        elif text.startswith(("==", "!="), i):
            out.append(_Token("op", text[i:i + 2], i))
            i += 2
        elif c in "=!<>":
            out.append(_Token("op", c, i))
            i += 1
        else:
            j = i
            while j < n and text[j] not in _SPECIAL:
                j += 1
            word = text[i:j]
            out.append(_Token("op" if word in ("in", "notin") else "id", word, i))
            i = j
    out.append(_Token("end", "", n))
    return out


def _check_key(key: str, pos: int) -> None:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _PREFIX.match(prefix)):
        raise SelectorError(f"invalid label key {key!r} at column {pos + 1}: the prefix must be a DNS subdomain")
    if not _NAME.match(name):
        raise SelectorError(f"invalid label key {key!r} at column {pos + 1}: 1-63 letters, digits, '-', '_', '.', "
                            "starting and ending with a letter or digit")


def _check_value(value: str, pos: int) -> None:
    if not _VALUE.match(value):
        raise SelectorError(f"invalid label value {value!r} at column {pos + 1}: at most 63 letters, digits, "
                            "'-', '_', '.', starting and ending with a letter or digit")


def parse_prefix(text: str, start: int = 0) -> tuple[Selector, int]:
    """Parse a selector at the start of `text[start:]`; return it and where it ended.

    The selector ends at the end of the text or at the first word that cannot continue it (a
    word after a complete requirement that is not joined by a comma), so a filter can hold
    a selector followed by free text: `-l app=web nginx`."""
    toks = _tokens(text, start)
    i = 0
    reqs: list[Requirement] = []

    def take() -> _Token:
        nonlocal i
        t = toks[i]
        i += 1
        return t

    while True:
        t = take()
        if t.kind == "op" and t.text == "!":
            k = take()
            if k.kind != "id":
                raise SelectorError(f"expected a label key after '!' at column {t.pos + 1}")
            _check_key(k.text, k.pos)
            reqs.append(Requirement(k.text, "!"))
        elif t.kind == "id":
            _check_key(t.text, t.pos)
            op = toks[i]
            if op.kind != "op":
                reqs.append(Requirement(t.text, "exists"))
            else:
                take()
                if op.text in ("=", "==", "!="):
                    v = toks[i]
                    value = ""
                    if v.kind == "id":  # `key=` with nothing after it matches an empty value
                        take()
                        value = v.text
                        _check_value(value, v.pos)
                    elif v.kind not in (",", "end"):
                        raise SelectorError(f"expected a value after {op.text!r} at column {op.pos + 1}")
                    reqs.append(Requirement(t.text, "!=" if op.text == "!=" else "=", (value,)))
                elif op.text in ("in", "notin"):
                    if take().kind != "(":
                        raise SelectorError(f"expected '(' after {op.text!r} at column {op.pos + 1}")
                    values: list[str] = []
                    while True:
                        v = take()
                        if v.kind == "id":
                            _check_value(v.text, v.pos)
                            values.append(v.text)
                            v = take()
                        elif v.kind in (",", ")"):
                            values.append("")  # an empty value between commas, as kubectl reads it
                        else:
                            raise SelectorError(f"unclosed '(' after {op.text!r} at column {op.pos + 1}")
                        if v.kind == ")":
                            break
                        if v.kind == "end":
                            raise SelectorError(f"unclosed '(' after {op.text!r} at column {op.pos + 1}")
                        if v.kind != ",":
                            raise SelectorError(f"expected ',' or ')' at column {v.pos + 1}")
                    if values == [""]:
                        raise SelectorError(f"{op.text!r} needs at least one value (column {op.pos + 1})")
                    reqs.append(Requirement(t.text, op.text, tuple(values)))
                elif op.text in (">", "<"):
                    v = take()
                    if v.kind != "id" or not re.fullmatch(r"-?\d+", v.text):
                        raise SelectorError(f"{op.text!r} needs a whole number at column {op.pos + 1}")
                    reqs.append(Requirement(t.text, op.text, (v.text,)))
                else:
                    raise SelectorError(f"unexpected {op.text!r} at column {op.pos + 1}")
        elif t.kind == "end" and not reqs:
            raise SelectorError("empty label selector after -l")
        else:
            raise SelectorError(f"expected a label key at column {t.pos + 1}, found {t.text or 'the end'!r}")
        nxt = toks[i]
        if nxt.kind == ",":
            take()
            continue
        if nxt.kind == "end":
            return Selector(tuple(reqs)), len(text)
        if nxt.kind == "id":
            return Selector(tuple(reqs)), nxt.pos  # free text follows
        raise SelectorError(f"unexpected {nxt.text!r} at column {nxt.pos + 1}")


def parse(text: str) -> Selector:
    """A whole selector; anything left over is an error."""
    selector, end = parse_prefix(text)
    if text[end:].strip():
        raise SelectorError(f"unexpected {text[end:].split()[0]!r} at column {end + 1}")
    return selector

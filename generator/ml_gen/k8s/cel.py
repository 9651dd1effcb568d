"""The small part of CEL that the vendored CRDs' `x-kubernetes-validations` rules use, evaluated offline.

A rule is read into a tree once (`parse`) and run against the value it sits on (`evaluate`, `self`).
The subset: `self`, field selection (`self.a.b`), `has(self.a)`, string, integer and boolean literals,
`==`, `!=`, `!`, `&&`, `||` and parentheses, which is every rule of the CRDs in tools/crds.tsv
(tests/unit/test_crd_check.py parses them all; a rule outside the subset is a `CelError`, so a new CRD
with richer rules fails that test instead of being skipped). As in CEL, selecting a missing field is an
error, and `&&`/`||` absorb an error when the other side decides the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any


class CelError(Exception):
    """A rule outside the subset, or an error while evaluating it (a missing field)."""


@dataclass(frozen=True)
class Node:
    op: str
    """`self`, `lit`, `.` (select), `has`, `!`, `==`, `!=`, `&&`, `||`."""
    args: tuple[Any, ...] = ()


_TOKEN = re.compile(r"\s*(?:(\|\||&&|==|!=|[!().])|('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|(\d+)|([A-Za-z_]\w*))")


def _tokens(rule: str) -> list[str]:
    tokens, at = [], 0
    while at < len(rule.rstrip()):
        match = _TOKEN.match(rule, at)
        if match is None:
            raise CelError(f"not in ml-gen's CEL subset at {rule[at:]!r}")
        tokens.append(match.group(match.lastindex or 0))
        at = match.end()
    return tokens


@cache
def parse(rule: str) -> Node:
    """The tree of a rule; CelError when it is outside the subset."""
    tokens = _tokens(rule)
    node, rest = _or(tokens)
    if rest:
        raise CelError(f"not in ml-gen's CEL subset: {' '.join(rest)!r} after a whole expression")
    return node


def _or(tokens: list[str]) -> tuple[Node, list[str]]:
    return _binary(tokens, "||", _and)


def _and(tokens: list[str]) -> tuple[Node, list[str]]:
    return _binary(tokens, "&&", _equality)


def _binary(tokens: list[str], op: str, operand: Any) -> tuple[Node, list[str]]:
    left, rest = operand(tokens)
    while rest[:1] == [op]:
        right, rest = operand(rest[1:])
        left = Node(op, (left, right))
    return left, rest


def _equality(tokens: list[str]) -> tuple[Node, list[str]]:
    left, rest = _unary(tokens)
    if rest[:1] in (["=="], ["!="]):
        right, after = _unary(rest[1:])
        return Node(rest[0], (left, right)), after
    return left, rest


def _unary(tokens: list[str]) -> tuple[Node, list[str]]:
    if tokens[:1] == ["!"]:
        node, rest = _unary(tokens[1:])
        return Node("!", (node,)), rest
    return _primary(tokens)


def _primary(tokens: list[str]) -> tuple[Node, list[str]]:
    if not tokens:
        raise CelError("not in ml-gen's CEL subset: the rule ends early")
    head, rest = tokens[0], tokens[1:]
    if head == "(":
        node, rest = _or(rest)
        return node, _expect(rest, ")")
    if head == "has":
        node, rest = _selection(_expect(rest, "("))
        if node.op != ".":
            raise CelError("not in ml-gen's CEL subset: has() takes a field selection")
        return Node("has", (node,)), _expect(rest, ")")
    if head[0] in "'\"":
        return Node("lit", (head[1:-1],)), rest
    if head.isdigit():
        return Node("lit", (int(head),)), rest
    if head in ("true", "false"):
        return Node("lit", (head == "true",)), rest
    return _selection(tokens)


def _selection(tokens: list[str]) -> tuple[Node, list[str]]:
    if tokens[:1] != ["self"]:
        raise CelError(f"not in ml-gen's CEL subset: {tokens[0] if tokens else 'the end'!r}")
    node, rest = Node("self"), tokens[1:]
    while rest[:1] == ["."] and len(rest) > 1 and re.fullmatch(r"[A-Za-z_]\w*", rest[1]):
        node, rest = Node(".", (node, rest[1])), rest[2:]
    return node, rest


def _expect(tokens: list[str], token: str) -> list[str]:
    if tokens[:1] != [token]:
        raise CelError(f"not in ml-gen's CEL subset: expected {token!r}")
    return tokens[1:]


def evaluate(rule: str, value: Any) -> bool:
    """Whether the rule holds for `self` = value; CelError when it cannot be evaluated (a missing field)."""
    result = _run(parse(rule), value)
    if not isinstance(result, bool):
        raise CelError("the rule does not give a boolean")
    return result


def _run(node: Node, value: Any) -> Any:
    op, args = node.op, node.args
    if op == "self":
        return value
    if op == "lit":
        return args[0]
    if op == ".":
        parent = _run(args[0], value)
        if not isinstance(parent, dict) or args[1] not in parent:
            raise CelError(f"no such key: {args[1]}")
        return parent[args[1]]
    if op == "has":
        parent = _run(node.args[0].args[0], value)
        return isinstance(parent, dict) and node.args[0].args[1] in parent
    if op == "!":
        return not _boolean(_run(args[0], value))
    if op in ("==", "!="):
        same = _equal(_run(args[0], value), _run(args[1], value))
        return same if op == "==" else not same
    return _logic(op, args, value)


def _logic(op: str, args: tuple[Any, ...], value: Any) -> bool:
    """`&&` and `||` as CEL runs them: commutative, an error on one side absorbed when the other decides."""
    decisive = op == "||"
    results: list[bool | CelError] = []
    for arg in args:
        try:
            results.append(_boolean(_run(arg, value)))
        except CelError as error:
            results.append(error)
    if decisive in results:
        return decisive
    for result in results:
        if isinstance(result, CelError):
            raise result
    return not decisive


def _boolean(result: Any) -> bool:
    if not isinstance(result, bool):
        raise CelError("no matching overload: a logical operator needs booleans")
    return result


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) != isinstance(right, bool) or type(left) is not type(right):
        raise CelError("no matching overload for == between different types")
    return bool(left == right)

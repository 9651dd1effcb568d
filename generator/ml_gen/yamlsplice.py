"""Byte-exact YAML edits: find a node by its source position (libyaml's marks) and splice serialised text in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ml_gen import pyyaml, yamlio

if TYPE_CHECKING:
    import yaml
else:
    yaml = pyyaml.load()

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the parser `render` reads configs with


@dataclass
class Node:
    """One node of a YAML document with where its text is: `start`..`end` spans its anchor, tag and
    content; `text_start` is where a scalar's own text begins (after the anchor and tag)."""

    kind: str  # "scalar", "map", "seq" or "alias"
    start: int
    end: int
    text_start: int
    style: str | None = None  # a scalar's: None (plain), "'", '"', "|" or ">"
    flow: bool = False  # a collection written in flow style ({...} or [...])
    shared: bool = False  # an alias, or anchored and referred to by an alias (or inside such a node)
    value: Any = None  # a scalar's string; a sequence's [node]
    entries: list[tuple[Node, Node]] = field(default_factory=list)

    def get(self, key: str) -> Node | None:
        """A map's value for a (string) key."""
        for key_node, value_node in self.entries:
            if key_node.kind == "scalar" and key_node.value == key:
                return value_node
        return None

    def key_node(self, key: str) -> Node | None:
        for key_node, _ in self.entries:
            if key_node.kind == "scalar" and key_node.value == key:
                return key_node
        return None


def compose(text: str) -> Node | None:
    """The first document of `text` as Nodes whose positions index `text` (libyaml counts code points,
    not bytes, and does not count a leading byte-order mark)."""
    offset = 1 if text.startswith("\ufeff") and _Loader is not yaml.SafeLoader else 0  # PyYAML's own counts it
    events = list(yaml.parse(text, Loader=_Loader))
    starts = {  # a scalar token's end -> its start: where its text begins, after any anchor and tag
        token.end_mark.index: token.start_mark.index
        for token in yaml.scan(text, Loader=_Loader)
        if isinstance(token, yaml.ScalarToken)
    }
    aliased = {event.anchor for event in events if isinstance(event, yaml.AliasEvent)}
    position = 0
    while position < len(events) and not isinstance(events[position], yaml.DocumentStartEvent):
        position += 1
    if position >= len(events) or isinstance(events[position + 1], yaml.DocumentEndEvent):
        return None
    queue: Iterator[Any] = iter(events[position + 1 :])

    def build(event: Any, shared: bool) -> Node:
        start, end = event.start_mark.index + offset, event.end_mark.index + offset
        if isinstance(event, yaml.AliasEvent):
            return Node("alias", start, end, start, shared=True)
        shared = shared or (event.anchor is not None and event.anchor in aliased)
        if isinstance(event, yaml.ScalarEvent):
            text_start = starts.get(end - offset, end - offset) + offset
            return Node("scalar", start, end, text_start, event.style, shared=shared, value=event.value)
        flow = bool(event.flow_style)
        node = Node(
            "map" if isinstance(event, yaml.MappingStartEvent) else "seq", start, end, start, None, flow, shared
        )
        items: list[Node] = []
        for child in queue:
            if isinstance(child, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                node.end = _index(child.end_mark) + offset
                break
            items.append(build(child, shared))
        if node.kind == "map":
            node.entries = list(zip(items[::2], items[1::2], strict=True))
        else:
            node.value = items
        return node

    return build(next(queue), False)


def _index(mark: Any) -> int:
    return int(mark.index)


# -- serialising one string scalar ---------------------------------------------------------------


def scalar_text(value: str, like: str | None) -> str:
    """A string as YAML text that reads back as itself in every parser: quoted as `like` (the style of the
    scalar it replaces, or of its neighbour) where that is safe, else plain when plain is safe, else double-quoted."""
    if like == "'" and value.isprintable() and not _UNSAFE_SINGLE.search(value):
        return "'" + value.replace("'", "''") + "'"
    if like == '"' or not yamlio.is_plain(value):
        return yamlio.double_quoted(value)
    return value


_UNSAFE_SINGLE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")


# -- splices -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Splice:
    """Replace text[start:end] with `new`; with keep_column, an end-of-line comment after it stays in its
    column (the spaces before it absorb the change of length, at least one is kept)."""

    start: int
    end: int
    new: str
    keep_column: bool = False


_CLOSERS_AND_GAP = re.compile(r"((?:[ \t]*[}\],])*)( +)(?=#)")


def apply(text: str, splices: list[Splice]) -> str:
    """Apply non-overlapping splices (positions in `text`)."""
    out: list[str] = []
    written = 0  # characters of `out` so far
    line_start_out = 0  # where the current output line began
    position = 0
    for splice in sorted(splices, key=lambda s: (s.start, s.end)):
        if splice.start < position:
            raise ValueError("overlapping splices")
        for piece in (text[position : splice.start], splice.new):
            out.append(piece)
            written += len(piece)
            line_start_out = _line_start(piece, written, line_start_out)
        position = splice.end
        if splice.keep_column:
            gap = _CLOSERS_AND_GAP.match(text, position)
            if gap is not None:
                comment_column = gap.end() - _line_start(text[: gap.end()], gap.end(), 0)
                closers = gap.group(1)
                column = written + len(closers) - line_start_out
                out.append(closers + " " * max(1, comment_column - column))
                written += len(out[-1])
                position = gap.end()
    out.append(text[position:])
    return "".join(out)


def _line_start(piece: str, written: int, previous: int) -> int:
    """Where, in the whole output, the line the output ends on began."""
    last = max(piece.rfind("\n"), piece.rfind("\r"))
    return previous if last < 0 else written - len(piece) + last + 1


def line_break(text: str, at: int) -> str:
    """The line break of the line around `at` (else the file's first, else \\n)."""
    match = _BREAK.search(text, at) or _BREAK.search(text)
    return match.group() if match else "\n"


_BREAK = re.compile(r"\r\n|\n|\r")


def after_line(text: str, end: int) -> int:
    """Where the line holding position `end - 1` ends, after its line break (a block value ends there)."""
    if end > 0 and text[end - 1] in "\r\n":
        return end
    match = _BREAK.search(text, end)
    return match.end() if match else len(text)


def entry_column(text: str, key: Node) -> int:
    """The column a block mapping's entries start at, from one key (the '?' of an explicit key)."""
    line_start = max(text.rfind("\n", 0, key.start), text.rfind("\r", 0, key.start)) + 1
    prefix = text[line_start : key.start]
    if prefix.strip() == "?":
        return prefix.index("?")
    return key.start - line_start


def flow_map(pairs: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{key}: {value}" for key, value in pairs) + "}"

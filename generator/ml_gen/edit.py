"""`set-image` and `set-model`: change a few scalars of ml-model.yaml in place, keeping its comments and layout."""

from __future__ import annotations

import copy
import io
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

from ml_gen import config as config_mod
from ml_gen import render, yamlio
from ml_gen.config.files import discover, select_environments
from ml_gen.errors import ConfigError, EditError, UsageError
from ml_gen.output import atomic

UNSET = "(unset)"


@dataclass(frozen=True)
class Change:
    """One field of one environment: its effective value before and after the edit (None: not set)."""

    env: str
    field: str
    old: Any
    new: Any

    def __str__(self) -> str:
        old = UNSET if self.old is None else self.old
        if self.old == self.new:
            return f"{self.env}: {self.field} {old} (unchanged)"
        return f"{self.env}: {self.field} {old} -> {UNSET if self.new is None else self.new}"


@dataclass
class Edit:
    """The edited text of one config file, checked like `render` would check it, not yet written."""

    file: str
    original: bytes
    text: str
    envs: list[str]
    changes: list[Change] = field(default_factory=list)

    @property
    def new_bytes(self) -> bytes:
        return self.text.encode("utf-8")

    @property
    def changed(self) -> bool:
        return self.new_bytes != self.original


def _schema_pattern(section: str, key: str) -> re.Pattern[str]:
    return re.compile(config_mod.schema()["$defs"][section]["properties"][key]["pattern"])


def set_image(file: str, envs: list[str], tag: str | None = None, digest: str | None = None) -> Edit:
    """Pin the image of each environment to a tag or a digest (the other one is removed from that environment)."""
    if (tag is None) == (digest is None):
        raise UsageError("give exactly one of --tag or --digest")
    if tag is not None and not _schema_pattern("image", "tag").match(tag):
        raise UsageError(
            f"{file}: image.tag: --tag {tag!r} is not an image tag (letters, digits, '.', '_', '-', "
            "at most 63 characters, starting and ending with a letter or digit); not changed"
        )
    if digest is not None and not _schema_pattern("image", "digest").match(digest):
        raise UsageError(
            f"{file}: image.digest: --digest {digest!r} is not an image digest "
            "('sha256:' and 64 lower-case hex digits); not changed"
        )
    key, value, other = ("tag", tag, "digest") if tag is not None else ("digest", digest, "tag")
    return _edit(file, envs, "image", {key: value}, other)


def set_model(file: str, envs: list[str], version: str, uri: str | None = None) -> Edit:
    """Set model.version (and model.uri) of each environment."""
    updates = {"version": version}
    if uri is not None:
        updates["uri"] = uri
    for key, text in updates.items():
        if not text.strip():
            raise UsageError(f"{file}: model.{key}: --{key} must not be empty; not changed")
    return _edit(file, envs, "model", updates, None)


def _edit(file: str, envs: list[str], section: str, updates: dict[str, Any], replaced: str | None) -> Edit:
    """Set `section.<key>` of every environment to the given values, removing `section.<replaced>` there."""
    text = config_mod.read_text(file)  # a FIFO, device or directory is refused without blocking
    original = text.encode("utf-8")  # the same bytes: the text was decoded from UTF-8
    before = config_mod.parse(text, file)  # the file as it is must load; its rules are checked after the edit
    names = select_environments(before, envs, False)

    layout = _Layout.of(text)
    yaml = _round_trip_yaml()
    try:
        doc = yaml.load(layout.body)
        yaml.indent(**_indents(doc, layout.body))  # measured before new nodes (without positions) exist
        for env in names:
            _apply(doc, env, section, updates, replaced, file, layout.body.split("\n"))
        buffer = io.StringIO()
        yaml.dump(doc, buffer)
    except MarkedYAMLError as err:
        line = err.problem_mark.line + 1 + layout.head.count("\n") if err.problem_mark else None
        raise ConfigError(file, "", f"cannot edit: {err.problem}", line) from None
    except YAMLError as err:
        raise ConfigError(file, "", f"cannot edit: {err}") from None
    new_text = layout.restore(buffer.getvalue())

    _same_data_but_the_edit(file, text, new_text, names, section, updates, replaced)
    after = _check(file, new_text)
    changes = []
    for env in names:
        old, new = _section(before, env, section), _section(after, env, section)
        for key in [*updates, *([replaced] if replaced else [])]:
            if key in updates or old.get(key) is not None:
                changes.append(Change(env, f"{section}.{key}", old.get(key), new.get(key)))
    return Edit(file, original, new_text, names, changes)


def _section(cfg: config_mod.Config, env: str, section: str) -> dict[str, Any]:
    """The effective `section` map of an environment (base merged with its override, no defaults)."""
    base = cfg.data.get(section, {})
    merged: dict[str, Any] = config_mod.merge(
        {section: base}, {section: cfg.data["environments"][env].get(section, {})}
    )
    return merged[section]  # type: ignore[no-any-return]


def _check(file: str, text: str) -> config_mod.Config:
    """The same checks as `render`: load, schema, and every environment resolved and rendered."""
    try:
        cfg = config_mod.parse(text, file)
        for env in cfg.environments:
            render.render_environment(cfg, env)
    except ConfigError as err:
        message = f"{err.message} (after the edit; {file} was not changed)"
        raise ConfigError(err.file, err.path, message, err.line) from None
    return cfg


def _same_data_but_the_edit(
    file: str,
    old_text: str,
    new_text: str,
    envs: list[str],
    section: str,
    updates: dict[str, Any],
    replaced: str | None,
) -> None:
    """Refuse when the rewritten file reads back differently anywhere but the edited fields."""
    expected, _ = yamlio.load_config_yaml(old_text, file)
    for env in envs:
        target = expected["environments"][env].setdefault(section, {})
        if replaced:
            target.pop(replaced, None)
        target.update(updates)
    got, _ = yamlio.load_config_yaml(new_text, file)
    if got != expected:
        raise EditError(f"{file}: the YAML round trip would change other values; edit the file by hand (not changed)")


@dataclass
class _Layout:
    """What ruamel.yaml does not keep by itself: a byte-order mark, CRLF line ends, a missing final newline,
    and the lines up to a '---' start marker and from a '...' end marker (it drops comments there)."""

    body: str
    bom: bool
    crlf: bool
    final_newline: bool
    head: str = ""
    tail: str = ""

    @classmethod
    def of(cls, text: str) -> _Layout:
        bom = text.startswith("\ufeff")
        body = text.removeprefix("\ufeff")
        crlf = "\r\n" in body
        final_newline = body.endswith("\n") or not body
        lines = body.replace("\r\n", "\n").removesuffix("\n").split("\n")
        head = tail = ""
        for index, line in enumerate(lines):
            if _MARKER_LINE.match(line) and line.startswith("---"):
                head, lines = "\n".join(lines[: index + 1]) + "\n", lines[index + 1 :]
            if not _SKIPPED_LINE.match(line):
                break
        for index in range(len(lines) - 1, -1, -1):
            if _MARKER_LINE.match(lines[index]) and lines[index].startswith("..."):
                tail, lines = "\n".join(lines[index:]) + "\n", lines[:index]
            if not _SKIPPED_LINE.match(lines[index] if index < len(lines) else ""):
                break
        return cls("\n".join(lines) + "\n", bom, crlf, final_newline, head, tail)

    def restore(self, text: str) -> str:
        text = self.head + text + self.tail
        if not self.final_newline:
            text = text.removesuffix("\n")
        if self.crlf:
            text = text.replace("\n", "\r\n")
        return ("\ufeff" if self.bom else "") + text


_MARKER_LINE = re.compile(r"(---|\.\.\.)\s*(#.*)?\Z")
_SKIPPED_LINE = re.compile(r"\s*(#.*)?\Z|%|---|\.\.\.")  # blank, comment, directive or marker lines


def _round_trip_yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1 << 30  # never fold a long line
    return yaml


def _indents(doc: Any, body: str) -> dict[str, int]:
    """The file's own indentation: mapping indent, and sequence indent and dash offset, as most of it is written."""
    lines = body.split("\n")
    mapping: Counter[int] = Counter()
    sequence: Counter[tuple[int, int]] = Counter()

    def walk(node: Any, key_col: int | None) -> None:
        if isinstance(node, CommentedMap):
            for key in node:
                line, col = node.lc.key(key)
                if key_col is not None and not node.fa.flow_style():
                    mapping[col - key_col] += 1
                    key_col = None  # one sample per mapping
                walk(node[key], col)
        elif isinstance(node, CommentedSeq) and not node.fa.flow_style() and key_col is not None:
            for index in range(len(node)):
                line, col = node.lc.item(index)
                dash = lines[line].rfind("-", 0, col)
                if dash >= 0:
                    sequence[(col - key_col, dash - key_col)] += 1
                    break
            for index, item in enumerate(node):
                walk(item, node.lc.item(index)[1] if isinstance(item, CommentedSeq) else None)

    if isinstance(doc, CommentedMap):
        for key in doc:
            walk(doc[key], doc.lc.key(key)[1])
    indent = mapping.most_common(1)[0][0] if mapping else 2
    seq_indent, offset = sequence.most_common(1)[0][0] if sequence else (2, 0)
    return {"mapping": indent, "sequence": seq_indent, "offset": offset}


def _apply(
    doc: Any, env: str, section: str, updates: dict[str, Any], replaced: str | None, file: str, lines: list[str]
) -> None:
    """Make the edit in one environment's layer of the round-trip document."""
    env_map = doc["environments"][env]
    base = doc.get(section) if isinstance(doc.get(section), CommentedMap) else {}
    where = f"environments.{env}"
    if _shared(doc, env_map):
        raise ConfigError(file, where, "is a YAML alias shared with another place; edit it by hand")
    if section not in env_map:
        new_map = CommentedMap()
        flow = env_map.fa.flow_style() or (isinstance(doc.get(section), CommentedMap) and doc[section].fa.flow_style())
        if flow:
            new_map.fa.set_flow_style()
        else:
            new_map.fa.set_block_style()
        for key, value in updates.items():
            new_map[key] = _styled(value, base.get(key))
        _insert(env_map, list(env_map).index("namespace") + 1, section, new_map)
        return
    target = env_map[section]
    if not isinstance(target, CommentedMap) or _shared(doc, target):
        raise ConfigError(file, f"{where}.{section}", "is a YAML alias shared with another place; edit it by hand")
    for key, value in updates.items():
        if key in target:
            target[key] = _styled(value, target[key])
        elif replaced and replaced in target:  # the new key takes the old one's place, and its comment
            position = list(target).index(replaced)
            new = _styled(value, target[replaced])
            comment = target.ca.items.pop(replaced, None)
            if comment is not None and len(comment) > 2 and comment[2] is not None and not target.fa.flow_style():
                _keep_gap(comment[2], target, replaced, key, new, lines)
            del target[replaced]
            target.insert(position, key, new)
            if comment is not None:
                target.ca.items[key] = comment
        else:
            _insert(target, len(target), key, _styled(value, base.get(key)))
    if replaced and replaced in target:
        del target[replaced]


def _styled(value: str, like: Any) -> Any:
    """A new string scalar quoted as the one it replaces (or the base layer's) was, else plain when that reads
    back as the same string in every YAML parser, else double-quoted."""
    if isinstance(like, SingleQuotedScalarString) and "\n" not in value:
        return SingleQuotedScalarString(value)
    if isinstance(like, DoubleQuotedScalarString) or not yamlio.is_plain(value):
        return DoubleQuotedScalarString(value)
    return value


def _keep_gap(token: Any, mapping: CommentedMap, old_key: str, new_key: str, new: str, lines: list[str]) -> None:
    """A renamed key's end-of-line comment keeps its distance from the value (not its column, which suited
    the old, longer or shorter, line)."""
    line, value_col = mapping.lc.value(old_key)
    old_end = value_col + len(lines[line][value_col : token.column].rstrip())
    gap = token.column - old_end
    quotes = 2 if isinstance(new, (SingleQuotedScalarString, DoubleQuotedScalarString)) else 0
    token.column = mapping.lc.key(old_key)[1] + len(new_key) + 2 + len(new) + quotes + max(gap, 1)


def _insert(mapping: CommentedMap, position: int, key: str, value: Any) -> None:
    """Insert a key; comment lines and blank lines that followed the previous entry stay after the new one."""
    keys = list(mapping)
    mapping.insert(position, key, value)
    if position == 0 or mapping.fa.flow_style():
        return
    holder, holder_key = _last_entry(mapping, keys[position - 1])
    if isinstance(holder_key, int):
        return  # after a block sequence: ruamel.yaml keeps those comments with the sequence
    tokens = holder.ca.items.get(holder_key)
    token = tokens[2] if tokens and len(tokens) > 2 else None
    if token is None or "\n" not in token.value:
        return
    first, rest = token.value.split("\n", 1)
    if not rest:
        return
    token.value = first + "\n"
    new_holder, new_key = _last_entry(mapping, key)
    moved = copy.copy(token)
    moved.value = "\n" + rest
    new_holder.ca.items[new_key] = [None, None, moved, None]


def _last_entry(mapping: CommentedMap, key: Any) -> tuple[Any, Any]:
    """The innermost last entry of a block value: the one whose end-of-line comment ends the value."""
    holder, holder_key = mapping, key
    value = mapping[key]
    while isinstance(value, CommentedMap) and not value.fa.flow_style() and len(value):
        holder, holder_key = value, list(value)[-1]
        value = value[holder_key]
    if isinstance(value, CommentedSeq) and not value.fa.flow_style() and len(value):
        return value, len(value) - 1
    return holder, holder_key


def _shared(doc: Any, node: Any) -> bool:
    """Whether a node is reachable more than once (a YAML anchor with aliases)."""
    seen = 0
    stack = [doc]
    while stack:
        item = stack.pop()
        if item is node:
            seen += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return seen > 1


def write(edit: Edit) -> bool:
    """Replace the file atomically through the one writer, keeping its mode; False when there is
    nothing to change. The config is the user's own file: a symlink to it stays a link, and the file
    it points to is edited (render, which owns its output, refuses links instead)."""
    if not edit.changed:
        return False
    path = Path(edit.file)
    if os.path.realpath(path) != os.path.abspath(path):
        path = Path(os.path.realpath(path))
    write = atomic.Write(path.parent, Path(path.name), edit.new_bytes, unchanged=edit.original)
    atomic.write_files([write], durable=True)
    return True


def config_file(paths: list[str]) -> str:
    """The one config file an edit acts on (a directory must hold exactly one ml-model.yaml)."""
    files = discover(paths)
    if len(files) != 1:
        raise UsageError(f"set-image and set-model edit one config at a time; {len(files)} given or found")
    try:
        return str(files[0].relative_to(Path.cwd()))
    except ValueError:
        return str(files[0])

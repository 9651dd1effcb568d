"""`set-image`, `set-model` and `promote`: change a few scalars of ml-model.yaml in place, every other byte kept."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml_gen import config as config_mod
from ml_gen import render, yamlio, yamlsplice
from ml_gen.config.files import discover, select_environments
from ml_gen.errors import ConfigError, EditError, UsageError
from ml_gen.output import atomic
from ml_gen.yamlsplice import Node, Splice

UNSET = "(unset)"
_MISSING = object()


@dataclass(frozen=True)
class Change:
    """One field of one environment: its effective value before and after the edit (None: not set), and
    whether the environment's own layer of the file changed."""

    env: str
    field: str
    old: Any
    new: Any
    written: bool = True

    def __str__(self) -> str:
        old = UNSET if self.old is None else self.old
        if self.old == self.new:
            if self.written:
                return f"{self.env}: {self.field} {old} (unchanged; now set in environments.{self.env})"
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
    config: config_mod.Config | None = None
    """The edited config, as `render` will read it."""

    @property
    def new_bytes(self) -> bytes:
        return self.text.encode("utf-8")

    @property
    def changed(self) -> bool:
        return self.new_bytes != self.original

    def writes(self) -> list[atomic.Write]:
        """The atomic write of the edited file, or none when nothing changed. The config is the user's own
        file: a symlink to it stays a link, and the file it points to is edited (render, which owns its
        output, refuses links instead)."""
        if not self.changed:
            return []
        path = Path(self.file)
        if os.path.realpath(path) != os.path.abspath(path):
            path = Path(os.path.realpath(path))
        return [atomic.Write(path.parent, Path(path.name), self.new_bytes, unchanged=self.original)]


@dataclass(frozen=True)
class _Set:
    """Set `section.<key>` of an environment's own layer to each of `updates`, renaming `section.<replaced>`
    (a layer holds a tag or a digest, never both) where the key is not there yet."""

    section: str
    updates: dict[str, str]
    replaced: str | None = None


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
    assert value is not None
    return _edit(file, envs, lambda _: [_Set("image", {key: value}, other)])


def set_model(file: str, envs: list[str], version: str, uri: str | None = None, sha256: str | None = None) -> Edit:
    """Set model.version (and model.uri, model.sha256) of each environment: only the model changes, so the
    rollout swaps the model with the same image."""
    updates = {"version": version}
    if uri is not None:
        updates["uri"] = uri
    for key, text in updates.items():
        if not text.strip():
            raise UsageError(f"{file}: model.{key}: --{key} must not be empty; not changed")
    if sha256 is not None:
        if not _schema_pattern("model", "sha256").fullmatch(sha256):
            raise UsageError(
                f"{file}: model.sha256: --sha256 {sha256!r} is not a sha256 (64 lower-case hex digits); not changed"
            )
        updates["sha256"] = sha256

    def sets(before: config_mod.Config) -> list[_Set]:
        for env in select_environments(before, envs, False) if uri is not None and sha256 is None else []:
            model = _section(before, env, "model")
            if model.get("sha256") and model.get("uri") != uri:
                raise UsageError(
                    f"{file}: environments.{env}.model.sha256: is the checksum of {model.get('uri')}, not of {uri}: "
                    "give --sha256 for the new file; not changed"
                )
        return [_Set("model", updates)]

    return _edit(file, envs, sets)


def promote(file: str, source: str, target: str, allow_tag: bool = False) -> Edit:
    """Set environment `target`'s image (by digest; by tag only with allow_tag) and model version and uri
    to what environment `source` runs: "prod runs what dev ran"."""
    if source == target:
        raise UsageError(f"promote: FROM and TO are both '{source}'; name the environment to copy from and the one to")

    def sets(before: config_mod.Config) -> list[_Set]:
        select_environments(before, [source], False)  # an unknown FROM is refused like an unknown TO
        runs, now = before.resolve(source).settings, before.resolve(target).settings
        image = runs["image"]
        updates = {}
        if image.get("repository") != now["image"].get("repository"):  # a digest names an image of one repository
            updates["repository"] = image["repository"]
        if image.get("digest") is not None:
            image_set = _Set("image", {**updates, "digest": image["digest"]}, "tag")
        elif not allow_tag:
            raise UsageError(
                f"{file}: environments.{source}.image: runs the tag {image.get('tag')!r}, not a digest; promotion is "
                f"by digest (ml-gen set-image {source} --digest sha256:...), or pass --allow-tag to copy the tag"
            )
        else:
            image_set = _Set("image", {**updates, "tag": str(image["tag"])}, "digest")
        model = {key: str(runs["model"][key]) for key in ("version", "uri", "sha256") if runs["model"].get(key)}
        kept = _section(before, target, "model")
        if kept.get("sha256") and "sha256" not in model and model.get("uri", kept.get("uri")) != kept.get("uri"):
            raise UsageError(
                f"{file}: environments.{target}.model.sha256: is the checksum of {kept.get('uri')}, not of "
                f"{model['uri']} ({source} pins none); remove it from {target} by hand first; not changed"
            )
        return [image_set, *([_Set("model", model)] if model else [])]

    return _edit(file, [target], sets)


def _edit(file: str, envs: list[str], plan: Callable[[config_mod.Config], list[_Set]]) -> Edit:
    """Make the sets `plan` asks for (from the config as it is) in every environment's own layer."""
    text = config_mod.read_text(file)  # a FIFO, device or directory is refused without blocking
    original = text.encode("utf-8")  # the same bytes: the text was decoded from UTF-8
    before = config_mod.parse(text, file)  # the file as it is must load; its rules are checked after the edit
    names = select_environments(before, envs, False)
    sets = plan(before)
    new_text = yamlsplice.apply(text, _splices(text, before, names, sets, file))
    _same_data_but_the_edit(file, text, new_text, names, sets)
    after = _check(file, new_text)
    changes = []
    for env in names:
        for item in sets:
            old, new = _section(before, env, item.section), _section(after, env, item.section)
            old_layer = before.data["environments"][env].get(item.section, {})
            new_layer = after.data["environments"][env].get(item.section, {})
            for key in [*item.updates, *([item.replaced] if item.replaced else [])]:
                if key in item.updates or old.get(key) is not None:
                    written = old_layer.get(key, _MISSING) != new_layer.get(key, _MISSING)
                    changes.append(Change(env, f"{item.section}.{key}", old.get(key), new.get(key), written))
    return Edit(file, original, new_text, names, changes, after)


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


def _same_data_but_the_edit(file: str, old_text: str, new_text: str, envs: list[str], sets: list[_Set]) -> None:
    """Refuse when the edited file reads back differently anywhere but the edited fields."""
    expected, _ = yamlio.load_config_yaml(old_text, file)
    for env in envs:
        for item in sets:
            target = expected["environments"][env].setdefault(item.section, {})
            if item.replaced:
                target.pop(item.replaced, None)
            target.update(item.updates)
    got, _ = yamlio.load_config_yaml(new_text, file)
    if got != expected:
        raise EditError(f"{file}: the edit would change other values; edit the file by hand (not changed)")


# -- where the new text goes -------------------------------------------------------------------------


def _splices(text: str, before: config_mod.Config, envs: list[str], sets: list[_Set], file: str) -> list[Splice]:
    """The splices that make the sets in each environment's own layer of the text."""
    doc = yamlsplice.compose(text)
    assert doc is not None  # the text parsed as a config
    environments = _node(doc.get("environments"))
    splices: list[Splice] = []
    for env in envs:
        env_node = _node(environments.get(env))
        where = f"environments.{env}"
        if environments.shared or env_node.shared or env_node.kind != "map":
            raise _error(file, text, env_node, where, "is a YAML alias shared with another place; edit it by hand")
        missing = []
        for item in sets:
            section = env_node.get(item.section)
            if section is None:
                missing.append(item)
                continue
            layer = before.data["environments"][env][item.section]
            splices += _set_in(text, doc, section, layer, item, file, f"{where}.{item.section}")
        if missing:
            splices.append(_new_sections(text, doc, environments, env_node, missing))
    return splices


def _node(node: Node | None) -> Node:
    assert node is not None  # the config passed its schema: the key is there
    return node


def _error(file: str, text: str, node: Node, where: str, message: str) -> ConfigError:
    return ConfigError(file, where, message, text.count("\n", 0, node.start) + 1)


def _set_in(
    text: str, doc: Node, section: Node, layer: dict[str, Any], item: _Set, file: str, where: str
) -> list[Splice]:
    """Splices that set keys of an environment's existing section map."""
    if section.shared or section.kind != "map":
        raise _error(file, text, section, where, "is a YAML alias shared with another place; edit it by hand")
    base = doc.get(item.section)
    splices: list[Splice] = []
    added: list[tuple[str, str]] = []
    for key, value in item.updates.items():
        current = section.get(key)
        old_key = section.key_node(item.replaced) if item.replaced else None
        if current is not None:
            if layer.get(key, _MISSING) != value:
                splices.append(_replace(text, current, value, current.style, True, file, f"{where}.{key}"))
        elif old_key is not None and item.replaced is not None:  # the new key takes the old one's place
            old_value = _node(section.get(item.replaced))
            if old_key.kind != "scalar" or old_key.shared:
                raise _error(file, text, old_key, where, "has a key that is a YAML alias; edit it by hand")
            splices.append(Splice(old_key.text_start, old_key.end, key))
            splices.append(_replace(text, old_value, value, old_value.style, False, file, f"{where}.{item.replaced}"))
        else:
            added.append((key, yamlsplice.scalar_text(value, _style(base, key))))
    if not added:
        return splices
    if section.flow:
        pairs = ", ".join(f"{key}: {value}" for key, value in added)
        if section.entries:
            end = section.entries[-1][1].end
            return [*splices, Splice(end, end, ", " + pairs, keep_column=True)]
        closing = text.rindex("}", section.start, section.end)
        return [*splices, Splice(closing, closing, pairs, keep_column=True)]
    column = yamlsplice.entry_column(text, section.entries[0][0])
    lines = [f"{' ' * column}{key}: {value}" for key, value in added]
    return [*splices, _lines_after(text, section.entries[-1][1].end, lines)]


def _replace(text: str, node: Node, value: str, like: str | None, keep_column: bool, file: str, where: str) -> Splice:
    """Replace a scalar's text (after its anchor and tag), or an alias, with the value."""
    if node.kind == "alias":
        return Splice(node.start, node.end, yamlsplice.scalar_text(value, None), keep_column)
    if node.shared or node.kind != "scalar":
        message = "is a YAML anchor other places refer to (editing it would change them too); edit it by hand"
        raise _error(file, text, node, where, message)
    end = node.end
    if node.style in ("|", ">"):  # a block scalar's text ends at its last character, before its line breaks
        like = None
        end = node.text_start + len(text[node.text_start : node.end].rstrip())
    return Splice(node.text_start, end, yamlsplice.scalar_text(value, like), keep_column)


def _style(base: Node | None, key: str) -> str | None:
    """How the base layer quotes `key` of the same section (new scalars are quoted alike)."""
    if base is None or base.kind != "map":
        return None
    like = base.get(key)
    return like.style if like is not None and like.kind == "scalar" and like.style in ("'", '"') else None


def _new_sections(text: str, doc: Node, environments: Node, env: Node, sets: list[_Set]) -> Splice:
    """One splice adding the sections an environment does not have yet, after its namespace."""
    after = env.get("namespace") or env.entries[-1][1]
    rendered = []
    for item in sets:
        base = doc.get(item.section)
        pairs = [(key, yamlsplice.scalar_text(value, _style(base, key))) for key, value in item.updates.items()]
        flow = env.flow or (base is not None and base.kind == "map" and base.flow)
        rendered.append((item.section, pairs, flow))
    if env.flow:
        new = "".join(f", {section}: {yamlsplice.flow_map(pairs)}" for section, pairs, _ in rendered)
        return Splice(after.end, after.end, new, keep_column=True)
    column = yamlsplice.entry_column(text, env.entries[0][0])
    step = column - yamlsplice.entry_column(text, environments.entries[0][0]) if not environments.flow else 2
    step = step if step > 0 else 2
    lines: list[str] = []
    for section, pairs, flow in rendered:
        if flow:
            lines.append(f"{' ' * column}{section}: {yamlsplice.flow_map(pairs)}")
        else:
            lines.append(f"{' ' * column}{section}:")
            lines += [f"{' ' * (column + step)}{key}: {value}" for key, value in pairs]
    return _lines_after(text, after.end, lines)


def _lines_after(text: str, end: int, lines: list[str]) -> Splice:
    """Whole lines inserted after the line a block value ends on, with that line's line break."""
    at = yamlsplice.after_line(text, end)
    eol = yamlsplice.line_break(text, end)
    if at == len(text) and not text.endswith(("\n", "\r")):  # no final line break: none added either
        return Splice(at, at, "".join(eol + line for line in lines))
    return Splice(at, at, "".join(line + eol for line in lines))


def write(edit: Edit) -> bool:
    """Replace the file atomically through the one writer, keeping its mode; False when there is
    nothing to change."""
    writes = edit.writes()
    atomic.write_files(writes, durable=True)
    return bool(writes)


def config_file(paths: list[str]) -> str:
    """The one config file an edit acts on (a directory must hold exactly one ml-model.yaml)."""
    files = discover(paths)
    if len(files) != 1:
        raise UsageError(f"set-image, set-model and promote edit one config at a time; {len(files)} given or found")
    try:
        return str(files[0].relative_to(Path.cwd()))
    except ValueError:
        return str(files[0])

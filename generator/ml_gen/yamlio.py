"""YAML in and out: loading with line numbers and duplicate-key checks, one canonical dumper."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ml_gen import pyyaml
from ml_gen.errors import ConfigError

if TYPE_CHECKING:
    import yaml
else:
    yaml = pyyaml.load()

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_constructor = yaml.constructor.SafeConstructor()

FieldPath = tuple[str | int, ...]
"""A field path in a config: mapping keys and list indexes."""


MAX_VALUES = 100_000
"""How many values a config may hold once its YAML aliases are expanded (a few hundred is typical)."""
MAX_DEPTH = 64
"""How deep a config may nest (six levels is typical)."""


def load_config_yaml(
    text: str, file: str, written: dict[FieldPath, str] | None = None
) -> tuple[Any, dict[FieldPath, int]]:
    """Parse one YAML document; return the data and a map of field path -> 1-based line.

    `written`, when given, collects the source text of every unquoted scalar that YAML reads as
    something other than a string (so a message can show `1.10`, not `1.1`).
    """
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(file, "", f"YAML syntax error: {err.problem or err}", line) from None
    except yaml.reader.ReaderError as err:  # a raw control character, which YAML does not allow anywhere
        line = text.count("\n", 0, err.position) + 1
        message = (  # PyYAML reads str input, so the character is always a code point
            f"YAML does not allow the control character U+{err.character:04X}: remove it, or write it escaped in "
            "double quotes"
        )
        raise ConfigError(file, "", message, line) from None
    except yaml.YAMLError as err:
        raise ConfigError(file, "", f"YAML error: {err}") from None
    lines: dict[FieldPath, int] = {}
    if node is None:
        return None, lines
    _check_size(node, file)
    return _build(node, (), lines, file, frozenset(), {} if written is None else written), lines


def _check_size(root: yaml.Node, file: str) -> None:
    """Refuse, before building any data, a document whose aliases expand past MAX_VALUES (an alias
    bomb) or that nests deeper than MAX_DEPTH; names the outermost key that is too big."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise ConfigError(file, "", f"nested more than {MAX_DEPTH} levels deep", node.start_mark.line + 1)
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = 0  # a node inside itself: _build reports the loop
        total = 1
        if isinstance(node, yaml.MappingNode):
            total += sum(size(key, depth + 1) + size(value, depth + 1) for key, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(item, depth + 1) for item in node.value)
        sizes[id(node)] = total
        return total

    if size(root, 0) <= MAX_VALUES:
        return
    path: FieldPath = ()
    line = 1
    node = root
    while isinstance(node, yaml.MappingNode):
        big = [(k, v) for k, v in node.value if sizes[id(v)] > MAX_VALUES and isinstance(k, yaml.ScalarNode)]
        if not big:
            break
        key_node, node = big[0]
        path, line = path + (key_node.value,), key_node.start_mark.line + 1
    message = (
        f"YAML aliases expand this to more than {MAX_VALUES} values; write the values out instead of nesting aliases"
    )
    raise ConfigError(file, dotted(path), message, line)


def _build(
    node: yaml.Node,
    path: FieldPath,
    lines: dict[FieldPath, int],
    file: str,
    open_nodes: frozenset[int],
    written: dict[FieldPath, str],
) -> Any:
    """Turn a composed node into plain data, recording lines and rejecting duplicate keys."""
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        if id(node) in open_nodes:
            raise ConfigError(file, dotted(path), "a YAML alias refers to itself", node.start_mark.line + 1)
        open_nodes = open_nodes | {id(node)}
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise ConfigError(file, dotted(path), "YAML merge keys (<<) are not supported", line)
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(file, dotted(path), "mapping keys must be plain strings", line)
            key = _scalar(key_node, path, file)
            if not isinstance(key, str):
                message = f"the key {key_node.value!r} is read as {_show(key)}, not a string: quote it"
                raise ConfigError(file, dotted(path), message, line)
            if key in out:
                first = lines.get(path + (key,))
                raise ConfigError(file, dotted(path + (key,)), f"duplicate key (first defined on line {first})", line)
            lines[path + (key,)] = line
            out[key] = _build(value_node, path + (key,), lines, file, open_nodes, written)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            lines[path + (index,)] = item.start_mark.line + 1
            items.append(_build(item, path + (index,), lines, file, open_nodes, written))
        return items
    value = _scalar(node, path, file)
    if isinstance(node, yaml.ScalarNode) and not isinstance(value, str) and not node.style:  # plain: None or ""
        _check_implicit(node, value, path, file)
        written[path] = node.value
    return value


# Plain scalars that YAML 1.1 (PyYAML) reads as numbers or dates but YAML 1.2 readers (Go's, so
# Helm and kubectl) read differently or not at all, and that surprise people either way.
_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9]*)\Z")
_HEX = re.compile(r"[-+]?0x[0-9a-fA-F]+\Z")


def _check_implicit(node: yaml.ScalarNode, value: Any, path: FieldPath, file: str) -> None:
    """Refuse unquoted base-60 numbers (50:00), leading-zero octals (010), 0b binaries, 1_000 and dates."""
    text = node.value
    why = ""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int) and not (_DECIMAL.match(text) or _HEX.match(text)):
        if ":" in text:
            why = f"YAML 1.1 reads {text} as the base-60 number {value}"
        elif "_" in text:
            why = f"YAML 1.1 reads {text} as {value}, YAML 1.2 as a string"
        elif "0b" in text.lower():
            why = f"YAML 1.1 reads {text} as the binary number {value}"
        else:
            why = f"YAML 1.1 reads {text} as the octal number {value}, YAML 1.2 as {int(text)}"
    elif isinstance(value, float) and (":" in text or "_" in text):
        why = f"YAML 1.1 reads {text} as the number {value}"
    elif not isinstance(value, (int, float)):
        message = f'YAML reads {text} as a {type(value).__name__}: quote it ("{text}")'
        raise ConfigError(file, dotted(path), message, node.start_mark.line + 1)
    if why:
        message = f'{why}: quote it ("{text}") for a string, or write the number in plain decimal'
        raise ConfigError(file, dotted(path), message, node.start_mark.line + 1)


def _show(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return f"{type(value).__name__} {value}"


def _scalar(node: yaml.Node, path: FieldPath, file: str) -> Any:
    try:
        return _constructor.construct_object(node)
    except yaml.constructor.ConstructorError as err:
        raise ConfigError(
            file, dotted(path), f"unsupported YAML value: {err.problem}", node.start_mark.line + 1
        ) from None


def dotted(path: FieldPath) -> str:
    """A field path as written in messages: a.b[0].c."""
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")


# Strings that may be written without quotes: they start with a letter, '_' or '/', use only
# a small safe alphabet, and are not a word that some YAML parser (1.1 or 1.2, PyYAML or Go)
# reads as a boolean or null. Every other string is double-quoted, so it stays a string.
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*\Z")
_SPECIAL_WORDS = {
    "y",
    "n",
    "yes",
    "no",
    "true",
    "false",
    "on",
    "off",
    "null",
    "nan",
    "inf",
    "none",
}


_ESCAPE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")


def is_plain(value: str) -> bool:
    """Whether a string reads back as itself without quotes in every YAML parser."""
    return _PLAIN.match(value) is not None and value.lower() not in _SPECIAL_WORDS


def scalar(value: Any) -> str:
    """One scalar as YAML text that every YAML 1.1 or 1.2 parser reads back as the same value."""
    if isinstance(value, str):
        return _string(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json.dumps(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


@lru_cache(maxsize=8192)
def _string(value: str) -> str:
    if is_plain(value):
        return value
    # JSON string escapes are YAML double-quoted escapes; also escape what YAML would
    # fold or reject raw (NEL, line/paragraph separators, C1 controls, BOM, non-characters).
    return double_quoted(value)


def double_quoted(value: str) -> str:
    """A string double-quoted: JSON escapes, and what a YAML reader would fold or reject raw escaped too."""
    return _escape_breaks(json.dumps(value, ensure_ascii=False))


def _escape_breaks(json_text: str) -> str:
    """Escape in JSON text what a YAML reader would fold or reject raw inside a double-quoted scalar."""
    return _ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


def _emit(data: Any, indent: int, out: list[str]) -> None:
    """Block-style YAML, two-space indent, sequences not indented under their key (as kubectl)."""
    pad = " " * indent
    if isinstance(data, dict):
        for key, value in data.items():
            text = _string(key) if type(key) is str else scalar(key)  # the usual key: straight to the cache
            if isinstance(value, dict) and value:
                out.append(f"{pad}{text}:\n")
                _emit(value, indent + 2, out)
            elif isinstance(value, list) and value:
                out.append(f"{pad}{text}:\n")
                _emit(value, indent, out)
            else:
                out.append(f"{pad}{text}: {_inline(value)}\n")
        return
    for item in data:
        if isinstance(item, (dict, list)) and item:
            inner: list[str] = []
            _emit(item, indent + 2, inner)
            out.append(f"{pad}- {inner[0][indent + 2 :]}")
            out.extend(inner[1:])
        else:
            out.append(f"{pad}- {_inline(item)}\n")


def _inline(value: Any) -> str:
    if type(value) is str:  # most values: straight to the cache
        return _string(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return scalar(value)


def dump(data: Any) -> str:
    """Serialise one document (a mapping) the same way on every run and machine."""
    if not isinstance(data, dict):
        raise TypeError("dump() takes a mapping")
    out: list[str] = []
    _emit(data, 0, out)
    return "".join(out) if out else "{}\n"


def load(text: str) -> Any:
    """Parse YAML text produced by ml-gen's own templates (trusted, no line tracking)."""
    return yaml.load(text, Loader=_Loader)


def load_all(text: str) -> list[Any]:
    """Parse a multi-document YAML stream, dropping empty documents."""
    return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]

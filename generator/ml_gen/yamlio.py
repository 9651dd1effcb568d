"""YAML in and out: loading with line numbers and duplicate-key checks, one canonical dumper."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import yaml

from ml_gen.errors import ConfigError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_constructor = yaml.constructor.SafeConstructor()

Path = tuple  # a field path: keys and list indexes


def load_config_yaml(text: str, file: str) -> tuple[Any, dict[Path, int]]:
    """Parse one YAML document; return the data and a map of field path -> 1-based line."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(file, "", f"YAML syntax error: {err.problem or err}", line) from None
    except yaml.YAMLError as err:
        raise ConfigError(file, "", f"YAML error: {err}") from None
    lines: dict[Path, int] = {}
    if node is None:
        return None, lines
    return _build(node, (), lines, file, frozenset()), lines


def _build(node: yaml.Node, path: Path, lines: dict[Path, int], file: str, open_nodes: frozenset[int]) -> Any:
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
            out[key] = _build(value_node, path + (key,), lines, file, open_nodes)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            lines[path + (index,)] = item.start_mark.line + 1
            items.append(_build(item, path + (index,), lines, file, open_nodes))
        return items
    return _scalar(node, path, file)


def _show(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return f"{type(value).__name__} {value}"


def _scalar(node: yaml.Node, path: Path, file: str) -> Any:
    try:
        return _constructor.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as err:
        raise ConfigError(
            file, dotted(path), f"unsupported YAML value: {err.problem}", node.start_mark.line + 1
        ) from None


def dotted(path: Path) -> str:
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
    return escape_breaks(json.dumps(value, ensure_ascii=False))


def escape_breaks(json_text: str) -> str:
    """Escape in JSON text what a YAML reader would fold or reject raw inside a double-quoted scalar."""
    return _ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


def _emit(data: Any, indent: int, out: list[str]) -> None:
    """Block-style YAML, two-space indent, sequences not indented under their key (as kubectl)."""
    pad = " " * indent
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, dict) and value:
                out.append(f"{pad}{scalar(key)}:\n")
                _emit(value, indent + 2, out)
            elif isinstance(value, list) and value:
                out.append(f"{pad}{scalar(key)}:\n")
                _emit(value, indent, out)
            else:
                out.append(f"{pad}{scalar(key)}: {_inline(value)}\n")
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

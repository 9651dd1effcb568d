"""A fast reader for the narrow YAML that ml-gen's own templates produce.

Every value enters a template as JSON, so each rendered line is `key: <json or plain word>`,
`key:` opening a block, or `- ...` in a sequence. Anything else raises Unsupported and the caller
falls back to PyYAML; the tests check this reader against PyYAML on every template output.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ml_gen import yamlio

_KEY_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_./-]*):(?: (.*))?\Z")
_JSON_START = re.compile(r'[-"{\[0-9]|true\Z|false\Z|null\Z')


class Unsupported(Exception):
    """The text uses YAML this reader does not handle."""


def load(text: str) -> dict[str, Any]:
    """Parse one template-rendered document into data."""
    lines = []
    for raw in text.split("\n"):
        content = raw.strip(" ")
        if content and not content.startswith("#"):
            if "\t" in raw[: len(raw) - len(raw.lstrip())]:
                raise Unsupported("tab indentation")
            lines.append([len(raw) - len(raw.lstrip(" ")), content])
    reader = _Reader(lines)
    data = reader.mapping(0) if lines else None
    if reader.pos != len(lines) or not isinstance(data, dict):
        raise Unsupported("unexpected structure")
    return data


class _Reader:
    def __init__(self, lines: list[list]):
        self.lines, self.pos = lines, 0

    def _at(self, indent: int, item: bool) -> bool:
        if self.pos >= len(self.lines):
            return False
        line_indent, content = self.lines[self.pos]
        return line_indent == indent and content.startswith("- ") == item

    def mapping(self, indent: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while self._at(indent, item=False):
            match = _KEY_LINE.match(self.lines[self.pos][1])
            if not match or match[1] in out:
                raise Unsupported(self.lines[self.pos][1])
            self.pos += 1
            key, rest = match[1], match[2]
            if rest is not None:
                out[key] = _value(rest)
            elif self._at(indent, item=True):
                out[key] = self.sequence(indent)
            elif self.pos < len(self.lines) and self.lines[self.pos][0] > indent:
                nested = self.lines[self.pos][0]
                out[key] = self.sequence(nested) if self._at(nested, item=True) else self.mapping(nested)
            else:
                raise Unsupported(f"empty value of {key}")
        return out

    def sequence(self, indent: int) -> list[Any]:
        out: list[Any] = []
        while self._at(indent, item=True):
            content = self.lines[self.pos][1][2:].lstrip(" ")
            if _KEY_LINE.match(content):
                self.lines[self.pos] = [indent + 2, content]  # "- key: v" opens a mapping at indent + 2
                out.append(self.mapping(indent + 2))
            else:
                self.pos += 1
                out.append(_value(content))
        return out


def _value(text: str) -> Any:
    if _JSON_START.match(text):
        try:
            return json.loads(text)
        except ValueError:
            raise Unsupported(text) from None
    if yamlio.is_plain(text):  # the same rule the emitter uses to leave a string unquoted
        return text
    raise Unsupported(text)

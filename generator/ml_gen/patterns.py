"""JSON Schema "pattern"s read in Python the way Helm (Go RE2) and editors (ECMA-262) read them.

Both read `$` (without a multi-line flag) as the end of the text; Python's `re` also matches it
before a trailing line break, so "ml-dev\\n" would pass `^[a-z-]+$`. Here every `$` outside a
character class becomes `\\Z`. The schemas use only constructs that mean the same in all three
engines (no `\\d`, `\\s`, `\\w`, `\\b`: their Unicode meanings differ); a test checks it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

_LEADING_FLAGS = r"\^\(\?([ims]+)\)"
"""Go flags right after a leading `^` (`^(?i)...`, as CRDs write them); Python takes flags only first.
(Compiled when a pattern has them, not at import: no config pattern does.)"""


def translate(pattern: str) -> str:
    """The Python regex that means what `pattern` means to Go RE2 and ECMA-262: `$` is `\\Z`, and flags
    after a leading `^` move to the front (other flag positions still raise `re.error`)."""
    if pattern.startswith("^(?"):
        pattern = re.sub(_LEADING_FLAGS, r"(?\1)^", pattern, count=1)
    out, in_class, escaped = [], False, False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$" and not in_class:
            char = r"\Z"
        out.append(char)
    return "".join(out)


@lru_cache(maxsize=256)
def compiled(pattern: str) -> re.Pattern[str]:
    """A JSON Schema pattern compiled with Go/ECMA semantics (unanchored search, `$` = end of text)."""
    return re.compile(translate(pattern))


def search(pattern: str, text: str) -> bool:
    """Whether a JSON Schema pattern matches somewhere in text, as Helm and editors decide it."""
    return compiled(pattern).search(text) is not None


def _pattern_keyword(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema import ValidationError

    if validator.is_type(instance, "string") and not search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@lru_cache(maxsize=4)
def validator_class(draft: str) -> Any:
    """jsonschema's validator for a draft ("7" or "2020-12"), with `pattern` read as Go and ECMA read it."""
    import jsonschema
    from jsonschema import validators

    base = {"7": jsonschema.Draft7Validator, "2020-12": jsonschema.Draft202012Validator}[draft]
    return validators.extend(base, {"pattern": _pattern_keyword})


def all_patterns(schema: Any) -> Iterator[str]:
    """Every `pattern` in a schema, in document order."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from all_patterns(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from all_patterns(value)

"""Turn JSON Schema violations into one plain-language message with a field path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ml_gen import patterns
from ml_gen.config import quickschema
from ml_gen.yamlio import FieldPath

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
}


def first_problem(
    schema: dict[str, Any],
    data: Any,
    line_of: Callable[[FieldPath], int | None] = lambda path: None,
    written: Callable[[FieldPath], str | None] = lambda path: None,
) -> tuple[FieldPath, str] | None:
    """The schema violation written first in the file (the most specific on that line), or None.

    `written` gives the source text of a non-string scalar, so messages show what the user typed."""
    if _quick_check_applies(id(schema), schema) and quickschema.is_valid(schema, data):
        return None
    errors = list(_validator(id(schema), schema).iter_errors(data))
    if not errors:
        return None
    leaves = [leaf for error in errors for leaf in _leaves(error)]
    leaf = min(leaves, key=lambda e: (line_of(tuple(e.absolute_path)) or 0, -len(_relevance_path(e)), _order(e)))
    return describe(leaf, written)


_VALIDATORS: dict[int, Any] = {}
_QUICK: dict[int, bool] = {}


def _quick_check_applies(key: int, schema: dict[str, Any]) -> bool:
    """Whether the fast checker implements every keyword of this schema (decided once per schema)."""
    if key not in _QUICK:
        _QUICK[key] = quickschema.supported(schema)
    return _QUICK[key]


def _validator(key: int, schema: dict[str, Any]) -> Any:
    """One compiled validator per schema object, reused for every config of a run."""
    if key not in _VALIDATORS:
        _VALIDATORS[key] = patterns.validator_class("2020-12")(schema)  # jsonschema: imported only here
    return _VALIDATORS[key]


def _leaves(error: Any) -> list[Any]:
    """The deepest sub-errors of an error (anyOf/oneOf and friends nest theirs in `context`)."""
    if not error.context:
        return [error]
    return [leaf for sub in error.context for leaf in _leaves(sub)]


def _relevance_path(error: Any) -> FieldPath:
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        path += ("?",)
    return path


def _order(error: Any) -> tuple[int, str]:
    return (0 if error.validator in ("additionalProperties", "required", "type") else 1, error.validator)


def describe(error: Any, written: Callable[[FieldPath], str | None] = lambda path: None) -> tuple[FieldPath, str]:
    """A field path and a message for one jsonschema ValidationError."""
    path: FieldPath = tuple(error.absolute_path)
    keyword, value, schema = error.validator, error.instance, error.schema
    text = written(path)
    if keyword == "additionalProperties":
        known = list(schema.get("properties", {}))
        unknown = sorted(k for k in value if k not in known)
        key = unknown[0]
        import difflib  # an unknown key only

        hint = difflib.get_close_matches(key, known, n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else f" (expected one of: {', '.join(known)})"
        return path + (key,), f"unknown key '{key}'{suggestion}"
    if keyword == "required":
        missing = [k for k in error.validator_value if k not in value]
        return path, f"missing required key '{missing[0]}'"
    if keyword == "type":
        expected = error.validator_value
        names = " or ".join(_TYPE_NAMES.get(t, t) for t in ([expected] if isinstance(expected, str) else expected))
        extra = ""
        if "secret" in schema.get("properties", {}):
            extra = " ({secret: NAME, key: KEY}); literal secret values are never accepted"
        elif isinstance(value, bool) and "string" in str(expected):
            extra = " (YAML reads yes/no/on/off/true/false as booleans: quote the value)"
        elif value is None:
            return path, f"expected {names}, got an empty value (write one, or remove the key)"
        elif isinstance(value, (int, float)) and "string" in str(expected):
            shown = text if text is not None else _show(value)
            read = f", which YAML reads as the number {_show(value)}" if shown != _show(value) else ""
            return path, f'expected {names}, got {shown}{read}: quote it ("{shown}")'
        return path, f"expected {names}{extra}, got {text if text is not None else _show(value)}"
    if "propertyNames" in error.schema_path:
        return path + (value,), f"invalid name '{value}': {_rule(error)}"
    if keyword == "pattern":
        return path, f"{_show(value)} is not valid: {schema.get('description', 'must match ' + schema['pattern'])}"
    if keyword in ("minimum", "maximum"):
        word = "at least" if keyword == "minimum" else "at most"
        return path, f"must be {word} {error.validator_value}, got {_show(value)}"
    if keyword == "maxLength":
        return path, f"{_show(value)} is longer than {error.validator_value} characters"
    if keyword == "minLength":
        return path, "must not be empty"
    if keyword == "enum":
        return path, f"{_show(value)} is not one of: {', '.join(map(str, error.validator_value))}"
    if keyword == "minProperties":
        return path, "needs at least one entry"
    return path, error.message


def _rule(error: Any) -> str:
    if error.validator == "pattern":
        return f"must match {error.validator_value}"
    if error.validator == "maxLength":
        return f"at most {error.validator_value} characters"
    return str(error.message)


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "an empty value"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return str(value)

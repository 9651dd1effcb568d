"""A fast yes/no check of data against ml-gen's own JSON Schema; jsonschema explains every "no".

It knows only the keywords the bundled schema uses and refuses a schema with any other, so it can
never call a config valid that jsonschema would reject (the tests compare both on every input).
"""

from __future__ import annotations

from typing import Any

from ml_gen import patterns

KEYWORDS = {
    "$schema", "$id", "title", "description", "type", "properties", "additionalProperties", "required",
    "pattern", "minimum", "maximum", "enum", "minLength", "maxLength", "propertyNames", "minProperties", "items",
}  # fmt: skip
_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool) or isinstance(v, float) and v.is_integer(),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


def supported(schema: Any) -> bool:
    """True when every keyword in the schema is one this checker implements."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict) or not set(schema) <= KEYWORDS:
        return False
    subschemas = list(schema.get("properties", {}).values())
    subschemas += [schema[k] for k in ("additionalProperties", "propertyNames", "items") if k in schema]
    return all(supported(s) for s in subschemas)


def is_valid(schema: Any, data: Any) -> bool:
    """Whether data satisfies the schema (draft 2020-12 semantics for the supported keywords)."""
    if schema is True:
        return True
    if schema is False:
        return False
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_TYPES[k](data) for k in kinds):
            return False
    if "enum" in schema and not any(_equal(data, option) for option in schema["enum"]):
        return False
    if isinstance(data, str):
        return _string_ok(schema, data)
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        return not ("minimum" in schema and data < schema["minimum"]) and not (
            "maximum" in schema and data > schema["maximum"]
        )
    if isinstance(data, dict):
        return _object_ok(schema, data)
    if isinstance(data, list) and "items" in schema:
        return all(is_valid(schema["items"], item) for item in data)
    return True


def _string_ok(schema: dict[str, Any], data: str) -> bool:
    if "minLength" in schema and len(data) < schema["minLength"]:
        return False
    if "maxLength" in schema and len(data) > schema["maxLength"]:
        return False
    return "pattern" not in schema or patterns.search(schema["pattern"], data)


def _object_ok(schema: dict[str, Any], data: dict[str, Any]) -> bool:
    if any(key not in data for key in schema.get("required", ())):
        return False
    if "minProperties" in schema and len(data) < schema["minProperties"]:
        return False
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    names = schema.get("propertyNames")
    for key, value in data.items():
        if names is not None and not is_valid(names, key):
            return False
        if not is_valid(properties.get(key, extra), value):
            return False
    return True


def _equal(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b or (a == b and not isinstance(a, bool) and not isinstance(b, bool))

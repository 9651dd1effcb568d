"""A fast yes/no check of data against ml-gen's own JSON Schema; jsonschema explains every "no".

It knows only the keywords the bundled schema uses and refuses a schema with any other, so it can
never call a config valid that jsonschema would reject (the tests compare both on every input).
A `$ref` must be a local JSON pointer (`#/$defs/...`); all of a schema's are resolved once and cached.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from ml_gen import patterns

KEYWORDS = {
    "$schema", "$id", "$ref", "$defs", "title", "description", "type", "properties", "additionalProperties",
    "required", "pattern", "minimum", "maximum", "enum", "minLength", "maxLength", "propertyNames",
    "minProperties", "items",
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
# id of a root schema -> (that root, its references: each `$ref` and the sub-schema it names); the root is kept
# so that its id is never reused by another schema.
_REFERENCES: dict[int, tuple[Any, dict[str, Any]]] = {}


def supported(schema: Any) -> bool:
    """True when every keyword in the schema is one this checker implements and every `$ref` points at a
    sub-schema of it (`$id` only at the root, so no reference is read against another base)."""
    positions: set[int] = set()
    targets: list[Any] = []
    if not _walk(schema, schema, positions, targets):
        return False
    return all(isinstance(target, bool) or id(target) in positions for target in targets)


def _walk(schema: Any, root: Any, positions: set[int], targets: list[Any]) -> bool:
    """Check one sub-schema and those below it; note where sub-schemas sit and what each `$ref` names."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict) or not set(schema) <= KEYWORDS or ("$id" in schema and schema is not root):
        return False
    positions.add(id(schema))
    if "$ref" in schema:
        target = _pointer(root, schema["$ref"])
        if target is None:
            return False
        targets.append(target)
    subschemas = list(schema.get("properties", {}).values()) + list(schema.get("$defs", {}).values())
    subschemas += [schema[k] for k in ("additionalProperties", "propertyNames", "items") if k in schema]
    return all(_walk(s, root, positions, targets) for s in subschemas)


def is_valid(schema: Any, data: Any) -> bool:
    """Whether data satisfies the schema (draft 2020-12 semantics for the supported keywords)."""
    return _valid(schema, data, _references(schema))


def _valid(schema: Any, data: Any, refs: dict[str, Any]) -> bool:
    if schema is True:
        return True
    if schema is False:
        return False
    if "$ref" in schema:
        if len(schema) == 1:  # only a reference: check the sub-schema alone
            return _valid(refs[schema["$ref"]], data, refs)
        if not _valid(refs[schema["$ref"]], data, refs):
            return False
    json_type = schema.get("type")
    if json_type is not None:
        allowed = json_type if isinstance(json_type, list) else [json_type]
        if not any(_TYPES[name](data) for name in allowed):
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
        return _object_ok(schema, data, refs)
    if isinstance(data, list) and "items" in schema:
        return all(_valid(schema["items"], item, refs) for item in data)
    return True


def _references(root: Any) -> dict[str, Any]:
    """Every local `$ref` in a schema and the sub-schema it names, looked up once per schema."""
    found = _REFERENCES.get(id(root))
    if found is None or found[0] is not root:
        refs: dict[str, Any] = {}
        _collect(root, root, refs)
        found = _REFERENCES[id(root)] = (root, refs)
    return found[1]


def _collect(node: Any, root: Any, refs: dict[str, Any]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        target = _pointer(root, ref) if isinstance(ref, str) and ref not in refs else None
        if isinstance(ref, str) and target is not None:
            refs[ref] = target
        for value in node.values():
            _collect(value, root, refs)
    elif isinstance(node, list):
        for value in node:
            _collect(value, root, refs)


def _pointer(root: Any, ref: Any) -> Any:
    """The node a fragment-only JSON pointer (`#`, `#/$defs/name`) names in root, or None."""
    if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
        return None
    node = root
    for part in ref[2:].split("/") if ref != "#" else ():
        part = unquote(part).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node if isinstance(node, (dict, bool)) else None


def _string_ok(schema: dict[str, Any], data: str) -> bool:
    if "minLength" in schema and len(data) < schema["minLength"]:
        return False
    if "maxLength" in schema and len(data) > schema["maxLength"]:
        return False
    return "pattern" not in schema or patterns.search(schema["pattern"], data)


def _object_ok(schema: dict[str, Any], data: dict[str, Any], refs: dict[str, Any]) -> bool:
    if any(key not in data for key in schema.get("required", ())):
        return False
    if "minProperties" in schema and len(data) < schema["minProperties"]:
        return False
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    names = schema.get("propertyNames")
    for key, value in data.items():
        if names is not None and not _valid(names, key, refs):
            return False
        if not _valid(properties.get(key, extra), value, refs):
            return False
    return True


def _equal(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b or (a == b and not isinstance(a, bool) and not isinstance(b, bool))

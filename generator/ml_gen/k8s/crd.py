"""Offline validation of custom resources against their CRD's structural `openAPIV3Schema`.

`problems(obj)` answers as the API server does for a server-side apply (what `validate --server`
sends) with `fieldValidation=Strict`, for the CRDs vendored in `ml_gen/k8s/crds/` (see
`crd_data`):

- `apiVersion`/`kind` must name a served version of a vendored CRD;
- types: an integer is a JSON number without a fraction within int64 (`2.0` is one, `true` and
  2**63 are not), within int32 where its `format` is `int32`; `x-kubernetes-int-or-string`, and
  `null` only where `nullable` (a field that has a `default` takes it instead of a `null`; a plain
  create would drop such `null`s, an apply refuses them); a missing field with a `default` counts as
  given;
- `required`, `enum`, `pattern` (Go RE2 reading: `ml_gen.patterns`),
  `minLength`/`maxLength` (in characters), `minimum`/`maximum` (and exclusive), `multipleOf`,
  `minItems`/`maxItems`, `uniqueItems`, `minProperties`/`maxProperties`, `anyOf`/`allOf`/`oneOf`/`not`;
- `x-kubernetes-list-type: set` and `map` refuse duplicate items and duplicate keys;
- unknown fields are refused wherever the schema lists the fields and does not set
  `x-kubernetes-preserve-unknown-fields`.

Not covered: `metadata` (ml-gen checks names, labels and annotations elsewhere). Stricter than the
API server: any `status` is refused (the controller writes it; an apply checks only its structure,
then drops it, as both CRDs have the status subresource). Not covered either: string `format`s; DEL,
C1 controls and U+FFFE/FFFF in strings, which the YAML reader of an apply refuses (ml-gen's config
rules refuse them before rendering); `x-kubernetes-embedded-resource` (not used here). CEL rules
(`x-kubernetes-validations`, the Flux CRDs have a few) are run by `ml_gen.k8s.cel`, the subset of
CEL those rules use; `cel_rules()` lists every rule (a unit test parses them all).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from ml_gen import patterns
from ml_gen.k8s import cel
from ml_gen.k8s.crd_data import api_resources, by_kind

__all__ = ["api_resources", "by_kind", "cel_rules", "problems"]

NOT_CHECKED = "metadata"
"""The top-level field left to other checks (ml-gen's name, label and annotation rules)."""


def problems(obj: Any) -> list[str]:
    """One line per way the API server would refuse this custom resource; [] when it would accept it."""
    if not isinstance(obj, dict):
        return [f"a custom resource is a mapping, not {_describe(obj)}"]
    crds = by_kind()
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    crd = crds.get(kind) if isinstance(kind, str) else None
    if crd is None:
        return [f"kind: {kind!r} is not a custom resource ml-gen knows ({', '.join(sorted(crds))})"]
    if not isinstance(api_version, str) or not crd.served(api_version):
        served = ", ".join(f"{crd.group}/{v}" for v in crd.schemas)
        return [f"apiVersion: {api_version!r} is not served for {kind} (served: {served})"]
    schema = crd.schemas[api_version.rpartition("/")[2]]
    refused_status = "status" in obj and crd.status_subresource
    body = {key: value for key, value in obj.items() if key != NOT_CHECKED and not (refused_status and key == "status")}
    found = list(_check(body, _without(schema, NOT_CHECKED), ""))
    if refused_status:
        found.append("status: is written by the controller, not by ml-gen (the API server drops it)")
    return found


def cel_rules() -> list[tuple[str, str, str]]:
    """(kind, schema path, rule) of every CEL rule in the vendored CRDs: what this module cannot check."""
    found: list[tuple[str, str, str]] = []
    for kind, crd in sorted(by_kind().items()):
        for version, schema in crd.schemas.items():
            found.extend((kind, f"{version}{path}", rule) for path, rule in _rules(schema, ""))
    return found


def _without(schema: dict[str, Any], field: str) -> dict[str, Any]:
    properties = {k: v for k, v in schema.get("properties", {}).items() if k != field}
    return {**schema, "properties": properties, "required": [r for r in schema.get("required", []) if r != field]}


def _rules(schema: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(schema, dict):
        for rule in schema.get("x-kubernetes-validations", []):
            yield path or ".", rule.get("rule", "")
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                for name, sub in value.items():
                    yield from _rules(sub, f"{path}.{name}")
            elif key in ("items", "additionalProperties"):
                yield from _rules(value, f"{path}[*]" if key == "items" else f"{path}.*")
            elif key in ("anyOf", "allOf", "oneOf"):
                for sub in value:
                    yield from _rules(sub, path)


# -- the walk -------------------------------------------------------------------------------------


def _at(path: str) -> str:
    return path or "(object)"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check(value: Any, schema: dict[str, Any], path: str, strict: bool = True) -> Iterator[str]:
    """Problems of one value against its schema; `strict=False` inside anyOf/allOf/oneOf/not branches."""
    if value is None:
        untyped = "type" not in schema and schema.get("x-kubernetes-preserve-unknown-fields", False)
        if not schema.get("nullable", False) and (strict or "type" in schema) and not untyped:
            yield f"{_at(path)}: must not be null{_expected(schema)}"
        return
    if schema.get("x-kubernetes-int-or-string"):
        if not (_is_integer(value) or isinstance(value, str)):
            yield f"{_at(path)}: must be an integer or a string, not {_describe(value)}"
            return
    elif "type" in schema and not _TYPES[schema["type"]](value):
        yield f"{_at(path)}: must be {_ARTICLE[schema['type']]}, not {_describe(value)}"
        return
    elif schema.get("type") == "integer" and schema.get("format") == "int32" and int(value) not in INT32:
        yield f"{_at(path)}: must be an integer of format int32 ({INT32.start} to {INT32.stop - 1}), not {value}"
        return
    yield from _values(value, schema, path)
    if strict and "x-kubernetes-validations" in schema:
        yield from _cel(value, schema, path)
    if isinstance(value, dict):
        yield from _object(value, schema, path, strict)
    elif isinstance(value, list):
        yield from _array(value, schema, path, strict)


def _object(value: dict[str, Any], schema: dict[str, Any], path: str, strict: bool) -> Iterator[str]:
    properties: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    extra_schema = extra if isinstance(extra, dict) else None
    preserve = schema.get("x-kubernetes-preserve-unknown-fields", False) or extra is True
    given = {}
    for key, item in value.items():
        sub = properties.get(key, extra_schema)
        if item is None and sub is not None and not sub.get("nullable", False) and "default" in sub:
            item = sub["default"]  # the API server drops the null, then defaults the field
        given[key] = item
    for key in schema.get("required", []):
        if key not in given and "default" not in properties.get(key, {}):
            yield f"{_join(path, key)}: required"
    for key, item in given.items():
        if key in properties:
            yield from _check(item, properties[key], _join(path, key), strict)
        elif extra_schema is not None:
            yield from _check(item, extra_schema, _join(path, key), strict)
        elif strict and not preserve:
            yield f"{_join(path, key)}: unknown field"


def _cel(value: Any, schema: dict[str, Any], path: str) -> Iterator[str]:
    """The CEL rules on this value, run against it with the defaults of its missing fields (the API server
    defaults before it validates)."""
    if isinstance(value, dict):
        missing = {
            k: s["default"] for k, s in schema.get("properties", {}).items() if k not in value and "default" in s
        }
        value = {**missing, **value}
    for rule in schema["x-kubernetes-validations"]:
        try:
            holds = cel.evaluate(rule["rule"], value)
        except cel.CelError as error:
            yield f"{_at(path)}: the rule {rule['rule']!r} cannot be evaluated: {error}"
            continue
        if not holds:
            yield f"{_at(path)}: {rule.get('message') or 'must satisfy ' + rule['rule']}"


def _array(value: list[Any], schema: dict[str, Any], path: str, strict: bool) -> Iterator[str]:
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            yield from _check(item, items, f"{path}[{index}]", strict)
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set":
        yield from _duplicates([_canonical(item) for item in value], path, "value")
    elif list_type == "map" and isinstance(items, dict):
        keys = schema.get("x-kubernetes-list-map-keys", [])
        defaults = {k: items.get("properties", {}).get(k, {}).get("default") for k in keys}
        entries = [_canonical({k: item.get(k, defaults[k]) for k in keys}) for item in value if isinstance(item, dict)]
        yield from _duplicates(entries, path, f"entry for {'/'.join(keys)}")


def _duplicates(entries: list[str], path: str, what: str) -> Iterator[str]:
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        if entry in seen:
            yield f"{path}[{index}]: duplicate {what} {entry}"
        seen.add(entry)


def _values(value: Any, schema: dict[str, Any], path: str) -> Iterator[str]:
    """The value validations: enum, string, number, array and object bounds, and the combinators."""
    where = _at(path)
    if "enum" in schema and not any(_same(value, allowed) for allowed in schema["enum"]):
        yield f"{where}: must be one of {', '.join(json.dumps(e) for e in schema['enum'])}, not {json.dumps(value)}"
    if isinstance(value, str):
        if "pattern" in schema and not patterns.search(schema["pattern"], value):
            yield f"{where}: must match {schema['pattern']}"
        if len(value) < schema.get("minLength", 0):
            yield f"{where}: must be at least {schema['minLength']} characters long"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            yield f"{where}: must be at most {schema['maxLength']} characters long"
    elif _is_number(value):
        yield from _bounds(value, schema, where)
    elif isinstance(value, list):
        yield from _counts(len(value), schema, where, "items", "Items")
        if schema.get("uniqueItems"):
            yield from _duplicates([_canonical(item) for item in value], path, "value")
    elif isinstance(value, dict):
        yield from _counts(len(value), schema, where, "fields", "Properties")
    branches = [not any(_check(value, sub, path, strict=False)) for sub in schema.get("anyOf", [])]
    if branches and not any(branches):
        yield f"{where}: must be {' or '.join(_expected_branch(s) for s in schema['anyOf'])}"
    for sub in schema.get("allOf", []):
        yield from _check(value, sub, path, strict=False)
    if "oneOf" in schema and sum(not any(_check(value, s, path, strict=False)) for s in schema["oneOf"]) != 1:
        yield f"{where}: must match exactly one of {len(schema['oneOf'])} forms"
    if "not" in schema and not any(_check(value, schema["not"], path, strict=False)):
        yield f"{where}: must not match {json.dumps(schema['not'])}"


def _bounds(value: float, schema: dict[str, Any], where: str) -> Iterator[str]:
    if "minimum" in schema:
        low, exclusive = schema["minimum"], schema.get("exclusiveMinimum", False)
        if value < low or (exclusive and value == low):
            yield f"{where}: must be {'greater than' if exclusive else 'at least'} {low}"
    if "maximum" in schema:
        high, exclusive = schema["maximum"], schema.get("exclusiveMaximum", False)
        if value > high or (exclusive and value == high):
            yield f"{where}: must be {'less than' if exclusive else 'at most'} {high}"
    if "multipleOf" in schema and value % schema["multipleOf"] != 0:
        yield f"{where}: must be a multiple of {schema['multipleOf']}"


def _counts(count: int, schema: dict[str, Any], where: str, noun: str, keyword: str) -> Iterator[str]:
    if count < schema.get(f"min{keyword}", 0):
        yield f"{where}: must have at least {schema[f'min{keyword}']} {noun}"
    if f"max{keyword}" in schema and count > schema[f"max{keyword}"]:
        yield f"{where}: must have at most {schema[f'max{keyword}']} {noun}"


# -- JSON types -----------------------------------------------------------------------------------


INT64 = range(-(2**63), 2**63)
INT32 = range(-(2**31), 2**31)  # `format: int32` on an integer: the API server checks the range


def _is_integer(value: Any) -> bool:
    """A JSON integer as the API server reads one: no fraction (2.0 is one), within int64."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return isinstance(value, int) and not isinstance(value, bool) and value in INT64


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
}
_ARTICLE = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
}


def _describe(value: Any) -> str:
    for name, is_type in _TYPES.items():
        if name != "number" and is_type(value):
            return _ARTICLE[name]
    return "null" if value is None else "a number" if _is_number(value) else type(value).__name__


def _expected(schema: dict[str, Any]) -> str:
    if schema.get("x-kubernetes-int-or-string"):
        return " (an integer or a string)"
    return f" ({_ARTICLE[schema['type']]})" if schema.get("type") in _ARTICLE else ""


def _expected_branch(schema: dict[str, Any]) -> str:
    return _ARTICLE.get(schema.get("type", ""), json.dumps(schema))


def _same(value: Any, allowed: Any) -> bool:
    """JSON equality: true is not 1, 1 is 1.0."""
    return _canonical(value) == _canonical(allowed)


def _canonical(value: Any) -> str:
    if _is_number(value) and float(value).is_integer():
        value = int(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)

"""The schema fast path must agree with the library it stands in for: quickschema says yes/no where
jsonschema would (`pattern` read as Go and ECMA-262 read it, see ml_gen.patterns)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml_gen import config, patterns
from ml_gen.config import quickschema

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = [ROOT / "ml-model.yaml", *sorted(ROOT.glob("tests/scenarios/*/ml-model.yaml"))]
VALIDATOR = patterns.validator_class("2020-12")(config.schema())


def _agree(data: object) -> None:
    assert quickschema.is_valid(config.schema(), data) == VALIDATOR.is_valid(data)


def test_the_bundled_schema_uses_only_supported_keywords():
    assert quickschema.supported(config.schema())


def test_a_schema_with_another_keyword_is_not_supported():
    assert not quickschema.supported({"type": "object", "properties": {"a": {"oneOf": []}}})


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.parent.name)
def test_valid_configs_agree(path):
    data = yaml.safe_load(path.read_text())
    assert quickschema.is_valid(config.schema(), data)
    _agree(data)


# Values that break types, patterns, bounds, enums and unknown keys at every level.
_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 70000), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "latest", "1GB", "512Mi", "/health", "health", "ml-dev", "Prod", "a..b", "x/y", "0755"]),
    st.just("deployment"),
    st.text(max_size=8), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)  # fmt: skip


# Keys added anywhere: unknown ones, and ones that belong at another level (top level only, per environment only).
_KEYS = ["replica", "namespace", "tag", "digest", "x", "target", "name", "environments"]


def _paths(data: object, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, prefix + (index,))
    return found


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_configs_agree(data):
    base = yaml.safe_load(data.draw(st.sampled_from(CONFIGS)).read_text())
    mutated = copy.deepcopy(base)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(mutated)))
        if not path:
            continue
        parent = mutated
        for key in path[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()):
            parent[path[-1]] = data.draw(_VALUES)
        elif isinstance(parent, dict):
            parent[data.draw(st.sampled_from(_KEYS))] = data.draw(_VALUES)
    _agree(mutated)


def test_a_reference_that_leaves_the_schema_is_not_supported():
    assert quickschema.supported({"$defs": {"a": {"type": "string"}}, "properties": {"x": {"$ref": "#/$defs/a"}}})
    assert not quickschema.supported({"properties": {"x": {"$ref": "#/$defs/missing"}}})
    assert not quickschema.supported({"properties": {"x": {"$ref": "other.json#/$defs/a"}}})
    assert not quickschema.supported({"properties": {"x": {"$ref": "#/properties"}}})  # not a sub-schema's place
    assert not quickschema.supported({"$defs": {"a": {"$id": "https://elsewhere/", "type": "string"}}})


# Schemas built from the keywords quickschema knows, with `$defs` that refer to each other, `$ref` beside other
# keywords, and data shaped to reach them: both checkers must give the same answer. A `$ref` that reads no deeper
# into the data (a sub-schema's own, not one under properties, items, ...) names only a later definition, so no
# reference loops without end (both checkers would recurse until Python stops them).
_NAMES = ["a", "b", "c"]
_BASIC = [
    st.just(True), st.just(False), st.just({}),
    st.builds(lambda t: {"type": t}, st.sampled_from(["string", "integer", "number", "boolean", "null", "object"])),
    st.builds(lambda n: {"type": "integer", "minimum": n, "maximum": n + 5}, st.integers(-2, 2)),
    st.builds(lambda p: {"type": "string", "pattern": p, "maxLength": 4}, st.sampled_from(["^[a-z]+$", "^x", "b$"])),
    st.builds(lambda e: {"enum": e}, st.lists(st.sampled_from([0, 1, 1.0, "a", True, None]), min_size=1, max_size=3)),
]  # fmt: skip


def _refs(names: list[str]) -> st.SearchStrategy:
    return st.sampled_from([f"#/$defs/{n}" for n in names])


def _schema(direct: list[str], depth: int) -> st.SearchStrategy:
    """A sub-schema whose own `$ref` names one of `direct`; below it, any definition."""
    here = [*_BASIC, *([st.builds(lambda r: {"$ref": r}, _refs(direct))] if direct else [])]
    if depth == 0:
        return st.one_of(here)
    child = st.deferred(lambda: _schema(_NAMES, depth - 1))
    optional = {
        "additionalProperties": child,
        "required": st.lists(st.sampled_from(_NAMES), max_size=2, unique=True),
        "minProperties": st.integers(0, 2),
        "propertyNames": st.just({"pattern": "^[ab]$"}),
    }
    if direct:
        optional["$ref"] = _refs(direct)
    obj = st.fixed_dictionaries(
        {"type": st.just("object"), "properties": st.dictionaries(st.sampled_from(_NAMES), child, max_size=3)},
        optional=optional,
    )
    return st.one_of(*here, obj, st.builds(lambda s: {"type": "array", "items": s}, child))


_SCHEMAS = st.fixed_dictionaries(
    {"$defs": st.fixed_dictionaries({n: _schema(_NAMES[i + 1 :], 2) for i, n in enumerate(_NAMES)})},
    optional={"properties": st.dictionaries(st.sampled_from(_NAMES), _schema(_NAMES, 2), max_size=3)},
).map(lambda s: {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", **s})
_DATA = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 8), st.sampled_from([1.0, 2.5, "", "ab", "x1", "b", "abcde"])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from([*_NAMES, "d"]), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_SCHEMAS, _DATA)
def test_generated_schemas_with_references_agree(schema, data):
    assert quickschema.supported(schema)
    assert quickschema.is_valid(schema, data) == patterns.validator_class("2020-12")(schema).is_valid(data)

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
    st.text(max_size=8), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)  # fmt: skip


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
            parent[data.draw(st.sampled_from(["replica", "namespace", "tag", "digest", "x"]))] = data.draw(_VALUES)
    _agree(mutated)

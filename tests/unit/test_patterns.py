"""Schema patterns mean in Python what they mean to Helm (Go RE2) and editors (ECMA-262)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ml_gen import config, patterns
from ml_gen.config import quickschema, schema_errors

ROOT = Path(__file__).resolve().parents[2]
CHART_SCHEMA = json.loads((ROOT / "charts/ml-model-api/values.schema.json").read_text())
CONFIG_SCHEMA = config.schema()
SCHEMAS = {"config": CONFIG_SCHEMA, "chart": CHART_SCHEMA}
NOT_PORTABLE = re.compile(r"(?<!\\)(?:\\\\)*\\[dDsSwWbB]")
"""Escapes whose meaning differs between Python, Go RE2 and ECMA-262."""


@pytest.mark.parametrize(
    ("pattern", "python"),
    [
        ("^a$", r"^a\Z"),
        ("^a\\$$", r"^a\$\Z"),
        ("^[$]$", r"^[$]\Z"),
        ("^(a|b$)c$", r"^(a|b\Z)c\Z"),
        ("^[\\]$]x$", r"^[\]$]x\Z"),
    ],
)
def test_dollar_outside_a_class_is_the_end_of_the_text(pattern, python):
    assert patterns.translate(pattern) == python


@pytest.mark.parametrize("name", SCHEMAS)
def test_schemas_use_only_portable_constructs(name):
    """\\d, \\s, \\w and \\b match Unicode in Python (and \\s in ECMA-262), ASCII in Go: none is used."""
    for pattern in patterns.all_patterns(SCHEMAS[name]):
        assert not NOT_PORTABLE.search(pattern), pattern
        re.compile(patterns.translate(pattern))


def _examples(schema: dict) -> list[tuple[str, str]]:
    """(pattern, a string it accepts) for every pattern of a schema, from its field's known-good values."""
    good = {
        "^[a-z]([-a-z0-9]*[a-z0-9])?$": "ml-model",
        "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": "ml-dev",
        "^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$": "monitoring",
        "^[a-zA-Z0-9_-]*$": "fraud-scorer_prod",
        "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$": "my.secret",
        "^[A-Za-z_][A-Za-z0-9_]*$": "LOG_LEVEL",
        "^\\.?[-_a-zA-Z0-9][-._a-zA-Z0-9]*$": "config.json",
        "^/[^\\x00-\\x20\\x7F-\\x9F\u2028\u2029]*$": "/health",
        "^(/[^\\x00-\\x20\\x7F-\\x9F\u2028\u2029]*)?$": "/health",
        "^sha256:[a-f0-9]{64}$": "sha256:" + "a" * 64,
        "^(sha256:[a-f0-9]{64})?$": "sha256:" + "a" * 64,
        "^(100|[1-9]?[0-9])%$": "25%",
        "^([0-9]+(ms|s|m|h))+$": "1m30s",
        "^(([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}|[0-9a-fA-F:]*:[0-9a-fA-F:.]*/[0-9]{1,3})$": "10.0.0.0/8",
        # the model's store (issue 16)
        "^[a-f0-9]{64}$": "a" * 64,
        "^https?://[^\\x00-\\x20\\x7F-\\x9F\u2028\u2029@/?#]+(/[^\\x00-\\x20\\x7F-\\x9F\u2028\u2029]*)?$": "https://minio.storage:9000",
        "^[a-z0-9][-a-z0-9]*$": "eu-west-1",
        "^[a-z0-9]+([._-]{1,2}[a-z0-9]+|-+[a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]{1,2}[a-z0-9]+|-+[a-z0-9]+)*)*(:[A-Za-z0-9][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$": "myorg/fetcher:1.0",  # noqa: E501
        "^([^/\\x00-\\x20\\x7F-\\x9F\u2028\u2029][^\\x00-\\x20\\x7F-\\x9F\u2028\u2029]*)?$": "models/iris",
        # delivery (issue 18): the Git repository, its revision, paths in it, a Go duration
        "^(https://([^\\x00-\\x20\\x7F-\\x9F\u2028\u2029@/?#]+@)?[A-Za-z0-9][-A-Za-z0-9.]*(:[0-9]{1,5})?/[^\\x00-\\x20\\x7F-\\x9F\u2028\u2029@?#]+|ssh://([^\\x00-\\x20\\x7F-\\x9F\u2028\u2029@/?#]+@)?[A-Za-z0-9][-A-Za-z0-9.]*(:[0-9]{1,5})?/[^\\x00-\\x20\\x7F-\\x9F\u2028\u2029@?#]+|[A-Za-z0-9_][-A-Za-z0-9_.]*@[A-Za-z0-9][-A-Za-z0-9.]*:[^\\x00-\\x20\\x7F-\\x9F\u2028\u2029@?#/][^\\x00-\\x20\\x7F-\\x9F\u2028\u2029@?#]*)$": "https://github.com/acme/models.git",  # noqa: E501
        "^[^\\x00-\\x20\\x7F-\\x9F\u2028\u2029~^:?*\\[\\\\]+$": "main",  # noqa: E501
        "^(\\.|[^/\\x00-\\x20\\x7F-\\x9F\u2028\u2029\\\\][^\\x00-\\x20\\x7F-\\x9F\u2028\u2029\\\\]*)$": "deploy/iris",  # noqa: E501
        "^(oci://[A-Za-z0-9][-A-Za-z0-9.]*(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|[^/\\x00-\\x20\\x7F-\\x9F\u2028\u2029\\\\:][^\\x00-\\x20\\x7F-\\x9F\u2028\u2029\\\\:]*)$": "oci://ghcr.io/acme/charts/ml-model-api:0.3.0",  # noqa: E501
        "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$": "5m",  # noqa: E501
    }
    out = []
    for pattern in dict.fromkeys(patterns.all_patterns(schema)):
        example = good.get(pattern)
        if example is None:
            example = {"quantity": "500m", "repository": "myorg/model", "host": "ml.example.com"}.get(
                "quantity"
                if "Ki|Mi" in pattern
                else "host"
                if "\\*\\." in pattern
                else "repository"
                if "(:[0-9]+)?" in pattern
                else "",
                "v1.0",
            )
        out.append((pattern, example))
    return out


@pytest.mark.parametrize("name", SCHEMAS)
@pytest.mark.parametrize("tail", ["\n", "\r\n", "\x00", "\x85", "\u2028"])
def test_no_pattern_takes_a_trailing_line_break_or_control(name, tail):
    for pattern, example in _examples(SCHEMAS[name]):
        assert patterns.search(pattern, example), (pattern, example)
        assert not patterns.search(pattern, example + tail), (pattern, example)


def test_python_re_alone_would_take_the_trailing_newline():
    """The bug this module exists for: Python's `$` matches before a final line break."""
    assert re.search("^[a-z]+$", "mldev\n") is not None
    assert not patterns.search("^[a-z]+$", "mldev\n")


@pytest.mark.parametrize(
    "path",
    [("name",), ("image", "repository"), ("image", "tag"), ("partOf",), ("imagePullSecrets", 0),
     ("health", "livenessPath"), ("ingress", "host"), ("ingress", "path"), ("ingress", "className"),
     ("ingress", "tlsSecret")],
)  # fmt: skip
def test_the_config_check_refuses_a_trailing_newline(path):
    data = {
        "name": "demo",
        "image": {"repository": "myorg/demo", "tag": "1.0"},
        "partOf": "demo",
        "imagePullSecrets": ["regcred"],
        "health": {"livenessPath": "/health"},
        "ingress": {"host": "demo.example.com", "path": "/", "className": "nginx", "tlsSecret": "tls"},
        "environments": {"prod": {"namespace": "demo-prod"}},
    }
    assert quickschema.is_valid(CONFIG_SCHEMA, data)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] += "\n"
    assert not quickschema.is_valid(CONFIG_SCHEMA, data)
    problem = schema_errors.first_problem(CONFIG_SCHEMA, data)
    assert problem is not None and problem[0] == path


@pytest.mark.parametrize(
    ("where", "value"),
    [("env", {"LOG_LEVEL\n": "x"}), ("secretEnv", {"K": {"secret": "s\n", "key": "k"}}),
     ("secretEnv", {"K": {"secret": "s", "key": "k\n"}}), ("configFiles", {"a.json\n": "x"}),
     ("environments", {"prod": {"namespace": "demo-prod\n"}})],
)  # fmt: skip
def test_keys_and_references_refuse_a_trailing_newline(where, value):
    data = {"name": "demo", "image": {"repository": "r", "tag": "1"}, "environments": {"prod": {"namespace": "p"}}}
    data[where] = value
    assert schema_errors.first_problem(CONFIG_SCHEMA, data) is not None


# Chart values fields whose pattern must be the config field's (the chart accepts "" where ml-gen omits the key).
SAME_PATTERN = [
    (("properties", "image", "properties", "tag"), ("properties", "image", "properties", "tag"), True),
    (("properties", "env", "propertyNames"), ("properties", "env", "items", "properties", "name"), False),
    (
        ("properties", "secretEnv", "additionalProperties", "properties", "secret"),
        ("properties", "env", "items", "properties", "valueFrom", "properties", "secretKeyRef", "properties", "name"),
        False,
    ),
    (
        ("properties", "secretEnv", "additionalProperties", "properties", "key"),
        ("properties", "env", "items", "properties", "valueFrom", "properties", "secretKeyRef", "properties", "key"),
        False,
    ),
    (("properties", "configFiles", "propertyNames"), ("properties", "configFiles", "propertyNames"), False),
    (
        ("properties", "health", "properties", "livenessPath"),
        ("properties", "tests", "properties", "healthPath"),
        True,  # empty when readiness is not an HTTP probe,
    ),
    (
        ("properties", "health", "properties", "livenessPath"),
        ("properties", "livenessProbe", "properties", "httpGet", "properties", "path"),
        False,
    ),
    (
        ("properties", "ingress", "properties", "path"),
        ("properties", "ingress", "properties", "hosts", "items", "properties", "paths", "items", "properties", "path"),
        False,
    ),
    (
        ("properties", "ingress", "properties", "host"),
        ("properties", "ingress", "properties", "hosts", "items", "properties", "host"),
        True,
    ),
    (("properties", "image", "properties", "digest"), ("properties", "image", "properties", "digest"), True),
]


def _at(schema: dict, path: tuple[str, ...]) -> dict:
    """The sub-schema at path, following local `$ref`s (`#/$defs/...`) on the way."""
    node = schema
    for key in path:
        while "$ref" in node and key not in node:
            node = _at(schema, tuple(node["$ref"].removeprefix("#/").split("/")))
        node = node[key]
    return node


@pytest.mark.parametrize(
    ("mine", "chart", "optional"), SAME_PATTERN, ids=[".".join(m[1::2]) for m, _, _ in SAME_PATTERN]
)
def test_the_chart_schema_checks_what_the_config_schema_checks(mine, chart, optional):
    expected = _at(CONFIG_SCHEMA, mine)["pattern"]
    if optional:
        expected = f"^({expected[1:-1]})?$"
    assert _at(CHART_SCHEMA, chart)["pattern"] == expected


def test_the_environment_overrides_use_the_same_patterns():
    """Each override refers to the very definition its top-level key uses, so its patterns are the same."""
    top = CONFIG_SCHEMA["properties"]
    env = CONFIG_SCHEMA["properties"]["environments"]["additionalProperties"]["properties"]
    for key, sub in top.items():
        if key in env:
            assert env[key]["$ref"] == sub["$ref"], key
            assert list(patterns.all_patterns(_at(CONFIG_SCHEMA, ("properties", key)))) == list(
                patterns.all_patterns(
                    _at(CONFIG_SCHEMA, ("properties", "environments", "additionalProperties", "properties", key))
                )
            ), key


def _subschemas(node: object) -> list[dict]:
    if isinstance(node, dict):
        return [node] + [s for value in node.values() for s in _subschemas(value)]
    if isinstance(node, list):
        return [s for value in node for s in _subschemas(value)]
    return []


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_each_schema_writes_a_shape_once(name):
    """A sub-schema of ten lines or more appears once; where it is needed again, a `$ref` names its definition."""
    texts = [json.dumps(s, indent=2, sort_keys=True) for s in _subschemas(SCHEMAS[name])]
    repeated = {" ".join(t.split())[:100] for t in texts if len(t.splitlines()) >= 10 and texts.count(t) > 1}
    assert not repeated, repeated

"""yamlio: loading with line numbers and duplicate-key checks, and the one canonical dumper."""

from __future__ import annotations

import pytest
import yaml

from ml_gen import yamlio
from ml_gen.errors import ConfigError

CONFIG = """\
# a comment
name: demo
image:
  repository: myorg/demo
  tag: "1.0"
tolerations:
  - key: a
  - key: b
environments:
  prod:
    namespace: demo-prod
"""


def test_load_returns_data_and_the_line_of_every_field():
    data, lines = yamlio.load_config_yaml(CONFIG, "m.yaml")
    assert data["image"] == {"repository": "myorg/demo", "tag": "1.0"}
    assert lines[("name",)] == 2
    assert lines[("image",)] == 3
    assert lines[("image", "tag")] == 5
    assert lines[("tolerations", 1)] == 8
    assert lines[("tolerations", 1, "key")] == 8
    assert lines[("environments", "prod", "namespace")] == 11


def test_empty_document_is_none():
    assert yamlio.load_config_yaml("# only a comment\n", "m.yaml") == (None, {})


def test_duplicate_key_names_both_lines():
    with pytest.raises(ConfigError) as caught:
        yamlio.load_config_yaml("name: a\nport: 1\nname: b\n", "m.yaml")
    err = caught.value
    assert (err.file, err.path, err.line) == ("m.yaml", "name", 3)
    assert "first defined on line 1" in err.message


def test_nested_duplicate_key_has_the_full_path():
    text = "environments:\n  prod:\n    namespace: a\n    namespace: b\n"
    with pytest.raises(ConfigError) as caught:
        yamlio.load_config_yaml(text, "m.yaml")
    assert caught.value.path == "environments.prod.namespace"
    assert caught.value.line == 4
    assert str(caught.value).startswith("m.yaml:4: environments.prod.namespace: duplicate key")


def test_same_key_in_different_maps_is_not_a_duplicate():
    data, _ = yamlio.load_config_yaml("a: {x: 1}\nb: {x: 2}\n", "m.yaml")
    assert data == {"a": {"x": 1}, "b": {"x": 2}}


def test_syntax_error_reports_a_line():
    with pytest.raises(ConfigError) as caught:
        yamlio.load_config_yaml("name: demo\nimage: {repository: a\nport: 1\n", "m.yaml")
    assert caught.value.line is not None and caught.value.line >= 2
    assert "YAML syntax error" in caught.value.message


def test_merge_keys_are_refused():
    with pytest.raises(ConfigError, match="merge keys"):
        yamlio.load_config_yaml("base: &b {x: 1}\nother:\n  <<: *b\n", "m.yaml")


def test_non_scalar_keys_are_refused():
    with pytest.raises(ConfigError, match="plain strings") as caught:
        yamlio.load_config_yaml("? [a, b]\n: 1\n", "m.yaml")
    assert caught.value.line == 1


@pytest.mark.parametrize(
    "key, read_as", [("1", "int 1"), ("on", "true"), ("no", "false"), ("~", "null"), ("2024-01-01", "date 2024-01-01")]
)
def test_keys_must_be_strings(key, read_as):
    with pytest.raises(ConfigError) as caught:
        yamlio.load_config_yaml(f"labels:\n  team: a\n  {key}: b\n", "m.yaml")
    assert (caught.value.path, caught.value.line) == ("labels", 3)
    assert f"'{key}' is read as {read_as}" in caught.value.message
    assert "quote it" in caught.value.message


def test_quoted_keys_are_strings():
    assert yamlio.load_config_yaml('"on": 1\n"1": 2\n', "m.yaml")[0] == {"on": 1, "1": 2}


@pytest.mark.parametrize("text", ["x: &a [*a]\n", "x: &a {b: [1, *a]}\n"])
def test_self_referencing_aliases_are_refused(text):
    with pytest.raises(ConfigError, match="refers to itself") as caught:
        yamlio.load_config_yaml(text, "m.yaml")
    assert caught.value.line == 1


def test_shared_anchors_are_fine():
    data, _ = yamlio.load_config_yaml("a: &e {LOG: info}\nb: *e\nc: [*e, *e]\n", "m.yaml")
    assert data == {"a": {"LOG": "info"}, "b": {"LOG": "info"}, "c": [{"LOG": "info"}, {"LOG": "info"}]}


def test_unsafe_tags_are_refused_with_a_line():
    with pytest.raises(ConfigError) as caught:
        yamlio.load_config_yaml("name: demo\nx: !!python/name:os.system ''\n", "m.yaml")
    assert caught.value.line == 2
    assert caught.value.path == "x"


@pytest.mark.parametrize(
    "path, expected",
    [
        (("environments", "prod", "autoscaling", "maxReplicas"), "environments.prod.autoscaling.maxReplicas"),
        (("tolerations", 0, "key"), "tolerations[0].key"),
        ((), ""),
    ],
)
def test_dotted(path, expected):
    assert yamlio.dotted(path) == expected


# Strings that a YAML 1.1 or 1.2 parser (PyYAML, go-yaml in Helm and kubectl) would read as
# something other than the same string if written bare.
LOOK_ALIKES = [
    "no", "No", "NO", "yes", "y", "n", "Y", "on", "off", "true", "True", "false", "null", "Null", "~", "",
    "1.10", "0755", "1e3", "0x1F", "0o17", "1_000", ".inf", "-.inf", ".nan", "NaN", "2001-12-14", "12:30:00",
    "1048576", "-1", "+1", "=", "<<", "---", "...", "key: value", "- item", "# comment", "a #b", "{a: 1}",
    "[1, 2]", "*alias", "&anchor", "!tag", "%YAML", "@at", "`tick", "| lit", "> fold", "?", ":", "'q'", '"q"',
    " lead", "trail ", "line\nbreak", "tab\there", "back\\slash", "\u2028", "\x85", "\ufeff", "\x00", "\x7f",
    "{{ .Values.x }}", "{% raw %}",
]  # fmt: skip


@pytest.mark.parametrize("value", LOOK_ALIKES)
def test_every_look_alike_is_quoted_and_round_trips(value):
    text = yamlio.dump({"k": value})
    assert text.startswith('k: "'), text
    assert yaml.safe_load(text) == {"k": value}
    assert yamlio.load(text) == {"k": value}


@pytest.mark.parametrize("value", ["plain", "myorg/ml-model-api", "/health", "a.b-c_d", "ClusterIP", "_x"])
def test_safe_identifiers_stay_plain(value):
    assert yamlio.dump({"k": value}) == f"k: {value}\n"


def test_keys_are_quoted_like_values():
    assert yamlio.dump({"y": 1, "on": 2}) == '"y": 1\n"on": 2\n'


def test_dump_keeps_insertion_order_and_block_style():
    data = {"b": 1, "a": {"z": [1, "x"], "m": None, "t": True}, "e": {}, "l": []}
    assert yamlio.dump(data) == "b: 1\na:\n  z:\n  - 1\n  - x\n  m: null\n  t: true\ne: {}\nl: []\n"


def test_dump_never_wraps_long_strings():
    long = "word " * 200
    text = yamlio.dump({"k": long})
    assert text.count("\n") == 1
    assert yaml.safe_load(text) == {"k": long}


def test_dump_keeps_unicode_readable():
    assert yamlio.dump({"k": "modèle ✓ 模型"}) == 'k: "modèle ✓ 模型"\n'


def test_load_all_drops_empty_documents():
    assert yamlio.load_all("---\na: 1\n---\n---\nb: 2\n") == [{"a": 1}, {"b": 2}]


def test_what_the_emitter_escapes_and_refuses():
    assert yamlio.scalar("a\u2028b\x85c") == '"a\\u2028b\\u0085c"'
    assert yamlio.dump({}) == "{}\n"
    with pytest.raises(TypeError, match="^cannot serialise set$"):
        yamlio.scalar({1})
    with pytest.raises(TypeError, match="^dump\\(\\) takes a mapping$"):
        yamlio.dump([1])


@pytest.mark.parametrize("budget, refused", [(13, False), (12, True)])
def test_the_alias_budget_counts_every_value_once_expanded(monkeypatch, budget, refused):
    """root, key a, [x, x] (3), key b, [*s, *s] (1 + 3 + 3): 13 values once the aliases are expanded."""
    monkeypatch.setattr(yamlio, "MAX_VALUES", budget)
    text = "a: &s [x, x]\nb: [*s, *s]\n"
    if refused:
        with pytest.raises(ConfigError, match="^m.yaml:1: YAML aliases expand this to more than 12 values"):
            yamlio.load_config_yaml(text, "m.yaml")
    else:
        assert yamlio.load_config_yaml(text, "m.yaml")[0] == {"a": ["x", "x"], "b": [["x", "x"], ["x", "x"]]}


@pytest.mark.parametrize(
    "text, refused",
    [
        ("a: " + "[" * 64 + "]" * 64, False),  # the innermost list is on level 64 (the root is 0)
        ("a: " + "[" * 65 + "]" * 65, True),
        ("a: " + "{k: " * 63 + "x" + "}" * 63, False),  # x is on level 64
        ("a: " + "{k: " * 64 + "x" + "}" * 64, True),
    ],
    ids=["lists-64", "lists-65", "maps-64", "maps-65"],
)
def test_nesting_is_limited_at_64_levels(text, refused):
    if refused:
        with pytest.raises(ConfigError, match="^m.yaml:1: nested more than 64 levels deep$"):
            yamlio.load_config_yaml(text + "\n", "m.yaml")
    else:
        yamlio.load_config_yaml(text + "\n", "m.yaml")


def test_the_key_blamed_for_an_alias_bomb_is_the_one_over_the_budget(monkeypatch):
    """b holds 7 values: at a budget of 7 the whole document (13) is over, b alone is not."""
    monkeypatch.setattr(yamlio, "MAX_VALUES", 7)
    with pytest.raises(ConfigError, match="^m.yaml:1: YAML aliases"):
        yamlio.load_config_yaml("a: &s [x, x]\nb: [*s, *s]\n", "m.yaml")
    monkeypatch.setattr(yamlio, "MAX_VALUES", 6)
    with pytest.raises(ConfigError, match="^m.yaml:2: b: YAML aliases"):
        yamlio.load_config_yaml("a: &s [x, x]\nb: [*s, *s]\n", "m.yaml")

"""config: loading, schema errors with lines, the merge rules, defaults and per-environment resolution."""

from __future__ import annotations

import copy
import json

import pytest

from ml_gen import config, render
from ml_gen.config import DEFAULTS, merge, quickschema, schema_errors
from ml_gen.errors import ConfigError, UsageError

DIGEST = "sha256:" + "ab" * 32

LAYERED = """\
name: demo
image:
  repository: myorg/demo
  tag: "1.0"
replicas: 2
env:
  LOG_LEVEL: info
  WORKERS: "2"
resources:
  requests: {cpu: 500m, memory: 1Gi}
  limits: {memory: 2Gi}
tolerations:
  - {key: a, operator: Exists}
  - {key: b, operator: Exists}
labels:
  team: ml
environments:
  dev:
    namespace: demo-dev
    replicas: 1
    env:
      LOG_LEVEL: debug
    resources:
      requests: {cpu: 250m}
    tolerations:
      - {key: c, operator: Exists}
  prod:
    namespace: demo-prod
    image:
      digest: sha256:%s
""" % ("ab" * 32)


@pytest.fixture
def layered() -> config.Config:
    return config.parse(LAYERED, "layered.yaml")


# -- merge() ------------------------------------------------------------------------------------


def test_maps_merge_deeply():
    base = {"a": {"b": {"c": 1, "d": 2}, "e": 3}}
    assert merge(base, {"a": {"b": {"c": 10}}}) == {"a": {"b": {"c": 10, "d": 2}, "e": 3}}


def test_lists_replace():
    assert merge({"l": [1, 2, 3], "k": 1}, {"l": [4]}) == {"l": [4], "k": 1}
    assert merge({"l": [1, 2, 3]}, {"l": []}) == {"l": []}


def test_scalars_replace_and_new_keys_are_added():
    assert merge({"a": 1}, {"a": 2, "b": 3}) == {"a": 2, "b": 3}


def test_a_map_replaces_a_scalar_and_back():
    assert merge({"a": 1}, {"a": {"x": 1}}) == {"a": {"x": 1}}
    assert merge({"a": {"x": 1}}, {"a": 5}) == {"a": 5}


def test_env_merges_by_name():
    base = {"env": {"A": "1", "B": "2"}}
    assert merge(base, {"env": {"B": "20", "C": "3"}}) == {"env": {"A": "1", "B": "20", "C": "3"}}


@pytest.mark.parametrize(
    "base_image, override, expected",
    [
        ({"repository": "r", "tag": "1"}, {"digest": DIGEST}, {"repository": "r", "digest": DIGEST}),
        ({"repository": "r", "digest": DIGEST}, {"tag": "2"}, {"repository": "r", "tag": "2"}),
        ({"repository": "r", "tag": "1"}, {"tag": "2"}, {"repository": "r", "tag": "2"}),
        (
            {"repository": "r", "tag": "1", "pullPolicy": "Always"},
            {"pullPolicy": "Never"},
            {"repository": "r", "tag": "1", "pullPolicy": "Never"},
        ),
    ],
    ids=["digest-replaces-tag", "tag-replaces-digest", "tag-replaces-tag", "other-keys-keep-the-tag"],
)
def test_an_image_tag_or_digest_replaces_both(base_image, override, expected):
    assert merge({"image": base_image}, {"image": override}) == {"image": expected}


@pytest.mark.parametrize(
    "override, expected",
    [
        ({"podDisruptionBudget": {"maxUnavailable": 1}}, {"enabled": True, "maxUnavailable": 1}),
        ({"podDisruptionBudget": {"enabled": False}}, {"enabled": False, "minAvailable": 2}),
    ],
    ids=["max-replaces-min", "other-keys-keep-min"],
)
def test_a_pdb_min_available_or_max_unavailable_replaces_both(override, expected):
    assert merge({"podDisruptionBudget": {"enabled": True, "minAvailable": 2}}, override) == {
        "podDisruptionBudget": expected
    }


@pytest.mark.parametrize(
    "path", [("env",), ("labels",), ("annotations",), ("nodeSelector",), ("configFiles",), ("service", "annotations")]
)
def test_an_empty_user_keyed_map_clears_the_inherited_one(path):
    def nest(leaf):
        for key in reversed(path):
            leaf = {key: leaf}
        return leaf

    assert merge(nest({"a": "1"}), nest({})) == nest({})


@pytest.mark.parametrize("key", ["security", "probes", "resources", "autoscaling", "health"])
def test_an_empty_settings_map_keeps_what_it_inherits(config_text, key):
    text = config_text(environments={"prod": {"namespace": "p", key: {}}})
    assert config.parse(text).resolve("prod").settings[key] == DEFAULTS[key]


def test_merge_into_defaults_does_not_change_the_defaults(layered):
    before = json.dumps(DEFAULTS, sort_keys=True)
    for env in layered.environments:
        layered.resolve(env)
    assert json.dumps(DEFAULTS, sort_keys=True) == before


# -- resolve() ----------------------------------------------------------------------------------


def test_environment_overrides_the_base_which_overrides_the_defaults(layered):
    dev = layered.resolve("dev").settings
    assert dev["replicas"] == 1
    assert dev["env"] == {"LOG_LEVEL": "debug", "WORKERS": "2"}
    assert dev["resources"] == {
        "requests": {"cpu": "250m", "memory": "1Gi", "ephemeral-storage": "256Mi"},
        "limits": {"memory": "2Gi", "ephemeral-storage": "2Gi"},
    }
    assert dev["tolerations"] == [{"key": "c", "operator": "Exists"}]
    assert dev["labels"] == {"team": "ml"}
    assert dev["image"] == {"repository": "myorg/demo", "tag": "1.0"}

    prod = layered.resolve("prod").settings
    assert prod["replicas"] == 2
    assert prod["tolerations"] == [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]
    assert prod["image"] == {"repository": "myorg/demo", "digest": DIGEST}


def test_defaults_fill_in_everything_not_given(config_text):
    settings = config.parse(config_text()).resolve("prod").settings
    for key in ("port", "replicas", "gpu", "health", "probes", "autoscaling", "service", "ingress", "security"):
        assert settings[key] == DEFAULTS[key], key
    assert settings["resources"]["requests"] == {"cpu": "250m", "memory": "512Mi", "ephemeral-storage": "256Mi"}
    assert settings["security"]["restricted"] is True
    assert settings["security"]["runAsUser"] >= 10000
    assert "initialDelaySeconds" not in settings["probes"]["startup"]


def test_resolved_settings_hold_neither_name_nor_environments_nor_namespace(layered):
    resolved = layered.resolve("dev")
    assert resolved.namespace == "demo-dev"
    assert not {"name", "environments", "namespace"} & set(resolved.settings)


def test_resolve_leaves_the_config_unchanged(layered):
    before = copy.deepcopy(layered.data)
    first = layered.resolve("prod").settings
    first["env"]["LOG_LEVEL"] = "mutated"
    assert layered.data == before
    assert layered.resolve("prod").settings["env"]["LOG_LEVEL"] == "info"


def test_unknown_environment_is_a_usage_error(layered):
    with pytest.raises(UsageError, match=r"unknown environment 'qa' \(known: dev, prod\)"):
        layered.resolve("qa")


def test_environments_keep_their_written_order():
    text = LAYERED.replace("  dev:\n", "  zz:\n").replace("namespace: demo-dev", "namespace: demo-zz")
    assert config.parse(text).environments == ["zz", "prod"]


# -- load() and parse() -------------------------------------------------------------------------


def test_load_reads_a_file(tmp_path):
    path = tmp_path / "ml-model.yaml"
    path.write_text(LAYERED)
    loaded = config.load(path)
    assert loaded.name == "demo"
    assert loaded.directory == tmp_path
    assert loaded.file == str(path)


def test_load_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file") as caught:
        config.load(tmp_path / "nope.yaml")
    assert caught.value.file.endswith("nope.yaml")


def test_schema_error_carries_file_line_and_path():
    text = LAYERED.replace("    replicas: 1\n", "    replicas: -1\n")
    with pytest.raises(ConfigError) as caught:
        config.parse(text, "m.yaml")
    err = caught.value
    assert (err.file, err.line, err.path) == ("m.yaml", 20, "environments.dev.replicas")
    assert "at least 0" in err.message


def test_error_for_a_missing_field_points_at_its_parent():
    text = LAYERED.replace("    namespace: demo-prod\n", "")
    with pytest.raises(ConfigError) as caught:
        config.parse(text, "m.yaml")
    assert caught.value.path == "environments.prod"
    assert caught.value.line == LAYERED.splitlines().index("  prod:") + 1
    assert "namespace" in caught.value.message


def test_tag_and_digest_in_one_layer_are_refused():
    text = LAYERED.replace("      digest:", "      tag: '2'\n      digest:")
    with pytest.raises(ConfigError, match="not both") as caught:
        config.parse(text, "m.yaml")
    assert caught.value.path == "environments.prod.image"


def test_rule_errors_point_at_the_layer_that_set_the_value():
    """The same bad value is reported at the base line or at the environment's line, wherever it was written."""
    in_base = LAYERED.replace('tag: "1.0"', "tag: latest")
    with pytest.raises(ConfigError) as caught:
        render.render_environment(config.parse(in_base), "dev")
    assert (caught.value.path, caught.value.line) == ("image.tag", 4)

    in_env = LAYERED.replace("    replicas: 1\n", "    replicas: 1\n    image: {tag: latest}\n")
    with pytest.raises(ConfigError) as caught:
        render.render_environment(config.parse(in_env), "dev")
    assert (caught.value.path, caught.value.line) == ("environments.dev.image.tag", 21)


def test_schema_is_valid_json_schema():
    import jsonschema

    schema = config.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "image", "environments"}


_MINIMAL = {
    "name": "demo",
    "image": {"repository": "myorg/demo", "tag": "1.0"},
    "environments": {"prod": {"namespace": "p"}},
}
_GONE = object()
TARGETS = config.schema()["$defs"]["target"]["enum"]
TARGET_SECTIONS = "".join(f"{name}, " for name in TARGETS if name in config.schema()["properties"])
"""The targets' own settings (kserve, ...), which sit before security in the schema."""


@pytest.mark.parametrize(
    ("where", "key", "value", "problem"),
    [
        (("environments", "prod"), "name", "x", "unknown key 'name' (did you mean 'namespace'?)"),
        (("environments", "prod"), "environments", {}, "unknown key 'environments' (expected one of: target, model, "
         "image, imagePullSecrets, port, replicas, env, secretEnv, configFiles, resources, gpu, health, probes, "
         "autoscaling, service, ingress, metrics, networkPolicy, nodeSelector, tolerations, strategy, "
         "podDisruptionBudget, labels, annotations, partOf, terminationGracePeriodSeconds, shutdownDelaySeconds, "
         f"tmpSizeLimit, {TARGET_SECTIONS}security, delivery, namespace)"),
        ((), "namespace", "x", "unknown key 'namespace' (did you mean 'name'?)"),
        (("environments", "prod"), "namespace", _GONE, "missing required key 'namespace'"),
        (("image",), "repository", _GONE, "missing required key 'repository'"),
        (("environments", "prod"), "image", {"tag": "2.0"}, None),  # an override needs no repository
        (("environments", "prod"), "image", {"tag": "2.0", "x": 1}, "unknown key 'x' (expected one of: repository, "
         "tag, digest, pullPolicy)"),
        ((), "target", "deployment", None),
        (("environments", "prod"), "target", "deployment", None),
        (("environments", "prod"), "target", "bare-metal", f"'bare-metal' is not one of: {', '.join(TARGETS)}"),
    ],
)  # fmt: skip
def test_which_keys_are_top_level_and_which_per_environment(where, key, value, problem):
    """The environment block refers to the top-level settings' definitions; these are its own differences."""
    data = copy.deepcopy(_MINIMAL)
    node = data
    for step in where:
        node = node[step]
    if value is _GONE:
        del node[key]
    else:
        node[key] = value
    found = schema_errors.first_problem(config.schema(), data)
    assert (found and found[1]) == problem
    assert quickschema.is_valid(config.schema(), data) is (problem is None)


def test_whole_number_floats_are_read_as_integers(config_text):
    text = config_text(replicas=2.0, port=5000.0, metrics={"enabled": True}, resources={"requests": {"cpu": 0.5}})
    settings = config.parse(text).resolve("prod").settings
    assert (settings["replicas"], settings["port"]) == (2, 5000)
    assert type(settings["replicas"]) is int and type(settings["port"]) is int
    assert settings["resources"]["requests"]["cpu"] == 0.5

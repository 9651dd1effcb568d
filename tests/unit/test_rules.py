"""rules: quantities, label syntax and the checks run on each merged environment."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ml_gen import config, render
from ml_gen.errors import ConfigError
from ml_gen.k8s import fields as k8s_fields
from ml_gen.k8s import names as k8s_names
from ml_gen.k8s import quantity as k8s_quantity


@pytest.mark.parametrize(
    "text, value",
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        (2, Decimal(2)),
        (0.5, Decimal("0.5")),
        ("1Gi", Decimal(2**30)),
        ("1024Mi", Decimal(2**30)),
        ("1G", Decimal(10**9)),
        ("1e3", Decimal(1000)),
        ("1.5Ki", Decimal(1536)),
        (".5", Decimal("0.5")),
        ("1E", Decimal(10**18)),  # the exa suffix, not an exponent
        ("1Ei", Decimal(2**60)),
        ("2E6", Decimal(2 * 10**6)),
        ("100n", Decimal("1e-7")),
        ("5u", Decimal("5e-6")),
        ("1.", Decimal(1)),
        ("0.0000000001", Decimal("1e-9")),  # Kubernetes rounds a non-zero value up to 1n
        ("1e-1000000", Decimal("1e-9")),
        ("0e5", Decimal(0)),
        ("+1", Decimal(1)),
        ("1e1000000", Decimal("1e1000000")),  # no decimal overflow
        ("1e99999999999999999999", Decimal("1e1000000")),  # exponents past the cap count as the cap
    ],
)
def test_quantity(text, value):
    assert k8s_quantity.quantity(text) == value


@pytest.mark.parametrize("text", ["1GB", "abc", "", "-1", "++1", "\u0663", "1\n", "1e", "0x10"])
def test_quantity_refuses_garbage(text):
    with pytest.raises((ValueError, KeyError)):
        k8s_quantity.quantity(text)


@pytest.mark.parametrize("key", ["team", "example.com/team", "a", "a.b_c-d", "x" * 63, "k8s.io/" + "x" * 63])
def test_valid_label_keys(key):
    assert k8s_names.label_key_problem(key) is None


@pytest.mark.parametrize("key", ["", "-a", "a-", "x" * 64, "bad key", "Example.com/x", "a/b/c", "/x", "ü"])
def test_invalid_label_keys(key):
    assert k8s_names.label_key_problem(key)


@pytest.mark.parametrize("value", ["", "a", "v1.2.3", "A_b-C.d", "x" * 63])
def test_valid_label_values(value):
    assert k8s_names.label_value_problem(value) is None


@pytest.mark.parametrize("value", ["-a", "a.", "x" * 64, "a b", "a/b", "é", "a:b"])
def test_invalid_label_values(value):
    assert "invalid label value" in k8s_names.label_value_problem(value)


def _resolve(config_text, **top):
    """The prod environment, resolved and rendered: every rule (shared and the target's) has run."""
    loaded = config.parse(config_text(**top), "m.yaml")
    render.render_environment(loaded, "prod")
    return loaded.resolve("prod")


def _error(config_text, **top) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        _resolve(config_text, **top)
    return caught.value


@pytest.mark.parametrize(
    "requests, limits",
    [({"memory": "1Gi"}, {"memory": "1024Mi"}), ({"cpu": "500m", "memory": "1"}, {"cpu": "0.5", "memory": "1"})],
)
def test_requests_equal_to_limits_in_other_units_pass(config_text, requests, limits):
    _resolve(config_text, resources={"requests": {"cpu": "1", "memory": "1", **requests}, "limits": limits})


@pytest.mark.parametrize(
    "requests, limits, field",
    [
        ({"cpu": "1", "memory": "1025Mi"}, {"memory": "1Gi"}, "memory"),
        ({"cpu": "1500m", "memory": "1Mi"}, {"cpu": "1"}, "cpu"),
        ({"cpu": "1", "memory": "1Mi", "ephemeral-storage": "2Gi"}, {"ephemeral-storage": "1G"}, "ephemeral-storage"),
    ],
)
def test_requests_above_limits(config_text, requests, limits, field):
    err = _error(config_text, resources={"requests": requests, "limits": limits})
    assert err.path == f"resources.requests.{field}"
    assert "above the limit" in err.message


def test_resources_are_always_set_a_missing_request_comes_from_the_defaults(config_text):
    settings = _resolve(config_text, resources={"requests": {"cpu": "1"}}).settings
    assert settings["resources"] == {
        "requests": {"cpu": "1", "memory": "512Mi", "ephemeral-storage": "256Mi"},
        "limits": {"memory": "1Gi", "ephemeral-storage": "2Gi"},
    }


def test_a_request_above_the_default_limit_is_refused(config_text):
    assert _error(config_text, resources={"requests": {"memory": "2Gi"}}).path == "resources.requests.memory"


def test_restricted_profile_needs_high_ids(config_text):
    err = _error(config_text, security={"runAsGroup": 9999})
    assert err.path == "security.runAsGroup"
    assert "10000" in err.message


def test_privileged_needs_the_explicit_opt_out(config_text):
    assert _error(config_text, security={"privileged": True}).path == "security.privileged"
    settings = _resolve(config_text, security={"restricted": False, "privileged": True, "runAsUser": 0}).settings
    assert settings["security"]["privileged"] is True


def test_latest_tag_needs_an_explicit_allowance(config_text):
    assert _error(config_text, image={"repository": "r", "tag": "latest"}).path == "image.tag"
    allowed = _resolve(config_text, image={"repository": "r", "tag": "latest"}, security={"allowLatestTag": True})
    assert allowed.settings["image"]["tag"] == "latest"


def test_a_variable_cannot_be_plain_and_secret(config_text):
    err = _error(config_text, env={"A": "x"}, secretEnv={"A": {"secret": "s", "key": "k"}})
    assert err.path == "secretEnv.A"


@pytest.mark.parametrize("where", ["env", "secretEnv"])
def test_model_variables_belong_to_ml_gen(config_text, where):
    value = "x" if where == "env" else {"secret": "s", "key": "k"}
    err = _error(config_text, model={"version": "1"}, **{where: {"MODEL_VERSION": value}})
    assert err.path == f"{where}.MODEL_VERSION"
    assert "model.version" in err.message


@pytest.mark.parametrize("probe", ["startup", "liveness"])
def test_success_threshold_must_be_one_where_kubernetes_requires_it(config_text, probe):
    err = _error(config_text, probes={probe: {"successThreshold": 2}})
    assert err.path == f"probes.{probe}.successThreshold"


def test_readiness_success_threshold_may_be_higher(config_text):
    _resolve(config_text, probes={"readiness": {"successThreshold": 2}})


@pytest.mark.parametrize(
    "settings, path, message",
    [
        ({"health": {"type": "exec"}}, "health.type", "an exec startup probe needs a command"),
        ({"probes": {"readiness": {"type": "exec"}}}, "probes.readiness.type", "an exec readiness probe needs"),
        (
            {"health": {"type": "exec", "command": []}},
            "health.type",
            "health.command or probes.startup.command",
        ),
        ({"probes": {"liveness": {"command": ["true"]}}}, "probes.liveness.command", "only used by exec probes"),
        (
            {"health": {"type": "tcp"}, "probes": {"startup": {"command": ["true"]}}},
            "probes.startup.command",
            "(this one is tcp)",
        ),
    ],
)
def test_exec_probes_need_a_command_and_only_they_take_one(config_text, settings, path, message):
    err = _error(config_text, **settings)
    assert err.path == path and message in err.message


def test_an_unknown_probe_type_is_refused_by_the_schema(config_text):
    with pytest.raises(ConfigError) as caught:
        config.parse(config_text(health={"type": "grpc"}))
    assert caught.value.path == "health.type"


def test_pdb_takes_one_of_min_available_and_max_unavailable(config_text):
    err = _error(config_text, podDisruptionBudget={"minAvailable": 1, "maxUnavailable": 1})
    assert err.path == "podDisruptionBudget"


@pytest.mark.parametrize(
    "field, key, value, problem",
    [
        ("labels", "app.kubernetes.io/version", "1", "set by ml-gen"),
        ("labels", "team", "a b", "invalid label value"),
        ("labels", "bad key", "x", "invalid key"),
        ("nodeSelector", "pool", "-gpu", "invalid label value"),
        ("annotations", "Bad.Prefix/x", "anything at all", "invalid key prefix"),
    ],
)
def test_label_and_annotation_rules(config_text, field, key, value, problem):
    err = _error(config_text, **{field: {key: value}})
    assert err.path == f"{field}.{key}"
    assert problem in err.message


def test_annotation_values_are_free_text(config_text):
    _resolve(config_text, annotations={"example.com/note": "a: b\n- c # d {{ e }}"})


@pytest.mark.parametrize("char", ["\x7f", "\x80", "\x85", "\x9f", "\ufffe", "\uffff"])
def test_characters_helm_cannot_render_are_refused(config_text, char):
    err = _error(config_text, env={"A": f"ok{char}"})
    assert err.path == "env.A"
    assert f"U+{ord(char):04X}" in err.message


@pytest.mark.parametrize("char", ["\x00", "\x1f", "\t", "\n", "\u2028", "\ufeff", "\ufffd", "\xa0"])
def test_other_characters_are_accepted(config_text, char):
    _resolve(config_text, env={"A": f"ok{char}"})


def test_refused_characters_in_an_environment_list_point_at_the_environment(config_text):
    text = config_text(environments={"prod": {"namespace": "p", "tolerations": [{"key": "a"}, {"key": "b\x7f"}]}})
    with pytest.raises(ConfigError) as caught:
        render.render_environment(config.parse(text, "m.yaml"), "prod")
    assert caught.value.path == "environments.prod.tolerations[1].key"
    assert caught.value.line is not None


@pytest.mark.parametrize("strategy", [{"maxSurge": 0}, {"maxSurge": "0%", "maxUnavailable": "0%"}])
def test_a_rollout_needs_surge_or_unavailability(config_text, strategy):
    assert _error(config_text, strategy=strategy).path == "strategy"


@pytest.mark.parametrize("strategy", [{"maxSurge": 0, "maxUnavailable": 1}, {"maxSurge": "25%"}])
def test_rollout_settings_that_can_progress(config_text, strategy):
    _resolve(config_text, strategy=strategy)


@pytest.mark.parametrize("delay", [30, 45])
def test_a_shutdown_delay_must_leave_the_server_time_to_stop(config_text, delay):
    error = _error(config_text, shutdownDelaySeconds=delay, terminationGracePeriodSeconds=30)
    assert error.path == "shutdownDelaySeconds" and "below terminationGracePeriodSeconds (30)" in str(error)


@pytest.mark.parametrize("delay", [0, 29])
def test_shutdown_delays_below_the_grace_period(config_text, delay):
    _resolve(config_text, shutdownDelaySeconds=delay, terminationGracePeriodSeconds=30)


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("memory", "7Ei", None),
        ("memory", "8Ei", "too large"),  # the API server caps binary-SI values at 2^63-1 without a word
        ("memory", "9223372036854775807", None),
        ("memory", "9223372036854775808", "too large"),
        ("memory", "1e1000000", "too large"),
        ("cpu", "9223372036854775", None),
        ("cpu", "9223372036854776", "millicores"),
        ("cpu", ".inf", "not a Kubernetes quantity"),
        ("cpu", "1Gi\n", "not a Kubernetes quantity"),
    ],
)
def test_quantity_problem(name, value, problem):
    found = k8s_quantity.quantity_problem(name, value)
    assert (found is None) if problem is None else (problem in str(found))


@pytest.mark.parametrize(
    ("toleration", "field"),
    [
        ({}, "operator"),
        ({"operator": "Equal"}, "operator"),
        ({"key": "gpu", "operator": "Exists", "value": "x"}, "value"),
        ({"key": "gpu", "value": "a b"}, "value"),
        ({"key": "gpu\n"}, "key"),
        ({"key": "-gpu"}, "key"),
        ({"key": "UPPER.example.com/gpu"}, "key"),
        ({"key": "gpu", "tolerationSeconds": 30}, "tolerationSeconds"),
        ({"key": "gpu", "effect": "NoSchedule", "tolerationSeconds": 30}, "tolerationSeconds"),
    ],
)
def test_tolerations_the_api_server_refuses(toleration, field):
    problem = k8s_fields.toleration_problem(toleration)
    assert problem is not None and problem[0] == field


@pytest.mark.parametrize(
    "toleration",
    [
        {"operator": "Exists"},
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "gpu", "value": "x" * 63},
        {"key": "gpu", "operator": "Equal", "value": ""},
        {"key": "gpu", "effect": "NoExecute", "tolerationSeconds": 0},
    ],
)
def test_tolerations_the_api_server_takes(toleration):
    assert k8s_fields.toleration_problem(toleration) is None


@pytest.mark.parametrize(
    ("path", "path_type", "ok"),
    [
        ("/", "Prefix", True),
        ("/api/v1", "Exact", True),
        ("//api", "Prefix", False),
        ("/a/./b", "Prefix", False),
        ("/a/../b", "Exact", False),
        ("/a%2Fb", "Prefix", False),
        ("/a/..", "Prefix", False),
        ("/a/.", "Exact", False),
        ("//api", "ImplementationSpecific", True),
    ],
)
def test_ingress_paths(path, path_type, ok):
    assert (k8s_fields.ingress_path_problem(path, path_type) is None) == ok


@pytest.mark.parametrize(
    "top",
    [
        {"resources": {"requests": {"memory": "1.5Ki", "ephemeral-storage": "0.5Ki"}}},  # whole bytes
        {"resources": {"requests": {"cpu": "250m"}}},  # 'm' is fine where a fraction is meant
        {"tmpSizeLimit": "64Mi"},
        {"metrics": {"enabled": True, "port": 9090}},
        {"metrics": {"enabled": True, "port": 5000}},  # the server port: metrics served on it, no second port
        {"metrics": {"enabled": False, "port": 80}},  # no metrics: no metrics port rendered
        {"metrics": {"alerts": {"errorRatio": 0.999, "p99LatencySeconds": 9.99}}},
        {"metrics": {"alerts": {"for": "1h30m15s500ms"}, "serviceMonitor": {"interval": "2562047h"}}},
        {"metrics": {"serviceMonitor": {"interval": "9223372036854ms"}}},  # the longest Prometheus duration
        {"image": {"repository": "registry.example.com:5000/team/my__model.v2-x", "tag": "1"}},
        {"image": {"repository": "localhost/a---b", "tag": "1"}},
    ],
)
def test_values_at_the_edge_of_what_runs_are_accepted(config_text, top):
    _resolve(config_text, **top)

"""The offline custom resource check (ml_gen.k8s.crd) on the vendored ServiceMonitor and PrometheusRule CRDs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ml_gen import kinds, patterns
from ml_gen.k8s import cel, crd

SERVICE_MONITOR: dict[str, Any] = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "ServiceMonitor",
    "metadata": {"name": "ml-model-api", "namespace": "ml-dev"},
    "spec": {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "ml-model-api"}},
        "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
    },
}
PROMETHEUS_RULE: dict[str, Any] = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PrometheusRule",
    "metadata": {"name": "ml-model-api", "namespace": "ml-dev"},
    "spec": {
        "groups": [
            {
                "name": "ml-model-api.rules",
                "rules": [
                    {
                        "alert": "MlModelApiPodsNotReady",
                        "expr": "kube_deployment_status_replicas_ready < 1",
                        "for": "5m",
                        "labels": {"severity": "critical"},
                        "annotations": {"summary": "no pod is ready", "description": "{{ $labels.namespace }}"},
                    }
                ],
            }
        ]
    },
}


def edited(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of obj with the dotted path (list indexes as numbers) set to value, or removed when value is ..."""
    out = copy.deepcopy(obj)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = out
    for key in parents:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return out


@pytest.mark.parametrize("obj", [SERVICE_MONITOR, PROMETHEUS_RULE], ids=["ServiceMonitor", "PrometheusRule"])
def test_what_ml_gen_renders_is_accepted(obj):
    assert crd.problems(obj) == []


SM, PR = SERVICE_MONITOR, PROMETHEUS_RULE
REFUSED = [
    (
        "wrong-api-version",
        SM,
        "apiVersion",
        "monitoring.coreos.com/v1beta1",
        "apiVersion: 'monitoring.coreos.com/v1beta1' is not served",
    ),
    ("unknown-kind", SM, "kind", "PodMonitor", "kind: 'PodMonitor' is not a custom resource ml-gen knows"),
    ("missing-spec", SM, "spec", ..., "spec: required"),
    ("missing-required", SM, "spec.selector", ..., "spec.selector: required"),
    ("unknown-field", SM, "spec.endpoints.0.intervall", "30s", "spec.endpoints[0].intervall: unknown field"),
    ("unknown-top-level-field", SM, "extra", {}, "extra: unknown field"),
    ("wrong-type", SM, "spec.endpoints.0.port", 8080, "spec.endpoints[0].port: must be a string, not an integer"),
    ("boolean-is-no-integer", SM, "spec.sampleLimit", True, "spec.sampleLimit: must be an integer, not a boolean"),
    ("past-int64", SM, "spec.sampleLimit", 2**63, "spec.sampleLimit: must be an integer"),
    ("fraction", SM, "spec.endpoints.0.targetPort", 1.5, "targetPort: must be an integer or a string, not a number"),
    ("bad-enum", SM, "spec.endpoints.0.scheme", "ftp", 'spec.endpoints[0].scheme: must be one of "http"'),
    ("bad-pattern", SM, "spec.endpoints.0.interval", "30 s", "spec.endpoints[0].interval: must match ^(0|"),
    ("pattern-end-is-end-of-text", SM, "spec.endpoints.0.interval", "30s\n", "spec.endpoints[0].interval: must match"),
    ("below-minimum", SM, "spec.sampleLimit", -1, "spec.sampleLimit: must be at least 0"),
    ("below-min-length", PR, "spec.groups.0.name", "", "spec.groups[0].name: must be at least 1 characters long"),
    ("null-without-default", SM, "spec.jobLabel", None, "spec.jobLabel: must not be null (a string)"),
    ("null-list-item", SM, "spec.endpoints.1", None, None),  # appended below
    ("duplicate-set-item", SM, "spec.scrapeProtocols", ["PrometheusProto"] * 2, "spec.scrapeProtocols[1]: duplicate"),
    ("status-is-refused", SM, "status", {}, "status: is written by the controller"),
    ("go-flags-after-caret", PR, "spec.groups.0.partial_response_strategy", "maybe", "must match ^(?i)(abort|warn)?$"),
]
ACCEPTED = [
    ("null-takes-the-default", SM, "spec.endpoints.0.relabelings", [{"action": None, "targetLabel": "a"}]),
    ("int-or-string-as-integer", SM, "spec.endpoints.0.targetPort", 8080),
    ("int-or-string-as-string", SM, "spec.endpoints.0.targetPort", "http"),
    ("integral-float-is-an-integer", SM, "spec.sampleLimit", 2.0),
    ("go-flags-case-insensitive", PR, "spec.groups.0.partial_response_strategy", "WARN"),
    ("free-form-labels", PR, "spec.groups.0.rules.0.labels", {"team": "ml", "severity": "page"}),
]


@pytest.mark.parametrize(("case", "obj", "path", "value", "message"), REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_with_one_line_per_problem(case, obj, path, value, message):
    if case == "null-list-item":
        bad = copy.deepcopy(obj)
        bad["spec"]["endpoints"].append(None)
        message = "spec.endpoints[1]: must not be null (a mapping)"
    else:
        bad = edited(obj, path, value)
    problems = crd.problems(bad)
    assert problems, f"{case}: accepted"
    assert any(message in p for p in problems), problems
    assert all("\n" not in p for p in problems)


@pytest.mark.parametrize(("case", "obj", "path", "value"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_accepted(case, obj, path, value):
    assert crd.problems(edited(obj, path, value)) == []


def test_duplicate_keys_of_a_map_list_are_refused():
    """status.conditions is the only map list here, and status is not checked: the walk itself is tested."""
    schema = {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        "items": {"type": "object", "properties": {"type": {"type": "string"}, "x": {"type": "integer"}}},
    }
    problems = list(crd._check([{"type": "a", "x": 1}, {"type": "a", "x": 2}], schema, "conditions"))
    assert problems == ['conditions[1]: duplicate entry for type {"type": "a"}']


def test_every_problem_is_reported_not_only_the_first():
    bad = edited(edited(SERVICE_MONITOR, "spec.endpoints.0.scheme", "ftp"), "spec.extra", 1)
    assert len(crd.problems(bad)) == 2


def test_the_server_addresses_the_custom_resources_by_their_crd():
    for kind, plural in (("ServiceMonitor", "servicemonitors"), ("PrometheusRule", "prometheusrules")):
        assert (kinds.lookup(kind).path_prefix, kinds.lookup(kind).plural) == ("apis/monitoring.coreos.com/v1", plural)
    assert all(d.namespaced for d in crd.by_kind().values())


def test_every_cel_rule_of_the_vendored_crds_is_in_the_subset_the_offline_check_runs():
    """What crd.py's docstring says: ml_gen.k8s.cel reads every x-kubernetes-validations rule (none is skipped)."""
    rules = crd.cel_rules()
    assert {kind for kind, _, _ in rules} >= {"HelmRelease", "GitRepository", "Kustomization"}
    for kind, path, rule in rules:
        assert cel.parse(rule), (kind, path)


@pytest.mark.parametrize(
    ("rule", "value", "holds"),
    [
        ("(has(self.chart) && !has(self.chartRef)) || (!has(self.chart) && has(self.chartRef))", {"chart": {}}, True),
        ("(has(self.chart) && !has(self.chartRef)) || (!has(self.chart) && has(self.chartRef))", {}, False),
        ("(has(self.chart) && !has(self.chartRef)) || (!has(self.chart) && has(self.chartRef))",
         {"chart": {}, "chartRef": {}}, False),
        ("!has(self.retryInterval) || self.name == 'RetryOnFailure'", {"name": "RetryOnFailure", "retryInterval": "1m"},
         True),
        ("!has(self.retryInterval) || self.name == 'RetryOnFailure'", {"name": "x", "retryInterval": "1m"}, False),
        ("!has(self.retryInterval) || self.name == 'RetryOnFailure'", {"name": "x"}, True),
        ("has(self.a) || self.b == 1", {"b": 1}, True),
    ],
)  # fmt: skip
def test_cel_rules_hold_as_cel_says(rule, value, holds):
    assert cel.evaluate(rule, value) is holds


def test_a_cel_rule_on_a_missing_field_is_an_error_unless_the_other_side_decides():
    with pytest.raises(cel.CelError, match="no such key: name"):
        cel.evaluate("self.name == 'x'", {})
    assert cel.evaluate("self.name == 'x' || true", {}) is True
    with pytest.raises(cel.CelError, match="subset"):
        cel.parse("self.items.all(i, i > 0)")


def test_a_null_is_taken_where_the_schema_keeps_anything():
    """HelmRelease spec.values has no type, only x-kubernetes-preserve-unknown-fields: the API server takes null."""
    release = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "x", "namespace": "flux-system"},
        "spec": {"interval": "10m", "chartRef": {"kind": "OCIRepository", "name": "x"}, "values": None},
    }
    assert crd.problems(release) == []


def test_a_helm_release_with_both_or_neither_chart_source_is_refused_offline():
    release = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "x", "namespace": "flux-system"},
        "spec": {"interval": "10m", "chartRef": {"kind": "OCIRepository", "name": "x"}},
    }
    assert crd.problems(release) == []
    release["spec"]["chart"] = {"spec": {"chart": "./c", "sourceRef": {"kind": "GitRepository", "name": "x"}}}
    assert crd.problems(release) == ["spec: either chart or chartRef must be set"]


def test_cel_rules_are_found_where_they_are():
    schema = {"properties": {"spec": {"x-kubernetes-validations": [{"rule": "self.a > 0"}], "type": "object"}}}
    assert list(crd._rules(schema, "")) == [(".spec", "self.a > 0")]


def test_go_flags_after_the_caret_move_to_the_front():
    assert patterns.translate("^(?i)(abort|warn)?$") == "(?i)^(abort|warn)?\\Z"
    assert patterns.translate("^(http|https)://.+$") == "^(http|https)://.+\\Z"

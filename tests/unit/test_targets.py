"""Serving targets: the registry and both schemas agree, and a throwaway second target shows what a target
provides (kinds with a workload, a values section, rules, a pod query) and that nothing else is Deployment-shaped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml_gen import config, kinds, render, targets, values
from ml_gen.check import offline
from ml_gen.errors import ConfigError
from ml_gen.kinds.helpers import Context
from ml_gen.promql import PodQuery
from ml_gen.targets.target import Target

ROOT = Path(__file__).resolve().parents[2]
CONFIG = (
    "name: demo\nimage: {repository: myorg/demo, tag: '1.0'}\nmetrics: {enabled: true, alerts: {enabled: true}}\n"
    "environments:\n  dev: {namespace: demo-dev, target: bare-pod}\n  prod: {namespace: demo-prod}\n"
)


CHART_SCHEMA = json.loads((ROOT / "charts/ml-model-api/values.schema.json").read_text())
CHART_TARGETS = CHART_SCHEMA["properties"]["target"]["enum"]


def test_the_registry_and_both_schemas_name_the_same_targets():
    registered = sorted(targets.TARGETS)
    assert sorted(config.schema()["$defs"]["target"]["enum"]) == registered
    chart_schema = json.loads((ROOT / "charts/ml-model-api/values.schema.json").read_text())
    assert sorted(chart_schema["properties"]["target"]["enum"]) == registered
    assert config.DEFAULTS["target"] == targets.DEFAULT


def _pod(ctx: Context) -> kinds.Object:
    """The throwaway target's workload: one bare Pod with the chart's labels."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": ctx.metadata(labels={**ctx.labels}),
        "spec": {"containers": [{"name": ctx.chart_name, "image": ctx.image, "ports": [{"name": "http",
                 "containerPort": ctx.values["containerPort"]}]}]},
    }  # fmt: skip


def _rules(env: config.EnvConfig) -> None:
    if env.settings["replicas"] != 1:
        raise env.error("replicas", message="a bare pod is one replica")


def _pod_query(name: str, namespace: str) -> PodQuery:
    ready = f'kube_pod_status_ready{{pod="{name}", condition="true"}}'
    return PodQuery(f'namespace="{namespace}", pod="{name}"', f"{ready} == 0", ready, "vector(1)", "Pod")


BARE_POD = Target(
    "bare-pod",
    ("ServiceAccount", "Service", "Pod", "NetworkPolicy", "PrometheusRule"),
    values=lambda env: {"terminationGracePeriodSeconds": 5},  # overrides a shared value: the target decides
    rules=_rules,
    pod_query=_pod_query,
)


@pytest.fixture
def bare_pod(monkeypatch):
    """Register the throwaway target, its workload kind and its name in the config schema's enum."""
    pod = kinds.Kind("Pod", "v1", "pods", None, _pod, name_rule="dns-label", pod_template=lambda p: p)
    monkeypatch.setitem(kinds.KINDS, "Pod", pod)
    monkeypatch.setitem(kinds.WORKLOADS, "Pod", pod.pod_template)
    monkeypatch.setitem(targets.TARGETS, "bare-pod", BARE_POD)
    monkeypatch.setitem(config.schema()["$defs"]["target"], "enum", ["deployment", "bare-pod"])


def test_an_environment_chooses_its_target(bare_pod):
    loaded = config.parse(CONFIG, "ml-model.yaml")
    dev, prod = (render.render_environment(loaded, env) for env in ("dev", "prod"))
    assert [o["kind"] for o in dev.objects] == ["ServiceAccount", "Service", "Pod", "NetworkPolicy", "PrometheusRule"]
    assert "Deployment" in [o["kind"] for o in prod.objects]
    assert dev.values["target"] == "bare-pod" and prod.values["target"] == "deployment"
    assert "replicaCount" not in dev.values and "strategy" not in dev.values  # the Deployment's own section
    assert dev.values["terminationGracePeriodSeconds"] == 5
    assert list(dev.values) == [k for k in values.chart.values_order() if k in dev.values]


def test_companions_find_the_targets_pods(bare_pod):
    """The NetworkPolicy and Service select the Pod through Kind.pod_template; the alerts use the target's query."""
    loaded = config.parse(CONFIG, "ml-model.yaml")
    dev = render.render_environment(loaded, "dev")
    report = offline.offline([dev])
    failures = [line for line in report.lines() if line.startswith("FAIL")]
    # every object passes (schemas, names, wiring); only the chart does not know the target yet
    assert failures == [f"FAIL  ml-model.yaml:dev  values/dev.yaml: target: 'bare-pod' is not one of {CHART_TARGETS}"]
    (rule,) = [o for o in dev.objects if o["kind"] == "PrometheusRule"]
    exprs = {r["alert"]: r["expr"] for r in rule["spec"]["groups"][0]["rules"]}
    assert exprs["ModelServerPodsNotReady"] == 'kube_pod_status_ready{pod="demo", condition="true"} == 0 > 0'
    assert 'namespace="demo-dev", pod="demo"' in exprs["ModelServerErrorRatioHigh"]


def test_a_targets_rules_run_for_its_environments_only(bare_pod):
    loaded = config.parse(CONFIG.replace("target: bare-pod}", "target: bare-pod, replicas: 2}"), "ml-model.yaml")
    with pytest.raises(ConfigError, match="a bare pod is one replica") as caught:
        render.render_environment(loaded, "dev")
    assert caught.value.path == "environments.dev.replicas"
    render.render_environment(loaded, "prod")  # the Deployment target takes two replicas


def test_a_values_key_the_chart_does_not_know_is_a_bug(bare_pod, monkeypatch):
    broken = Target("bare-pod", BARE_POD.kinds, lambda env: {"podSpec": {}}, _rules, _pod_query)
    monkeypatch.setitem(targets.TARGETS, "bare-pod", broken)
    with pytest.raises(ValueError, match="the chart's values.yaml has no podSpec"):
        render.render_environment(config.parse(CONFIG, "ml-model.yaml"), "dev")


def test_an_unregistered_target_is_refused_by_the_schema():
    with pytest.raises(ConfigError, match="target") as caught:
        config.parse(CONFIG, "ml-model.yaml")
    assert caught.value.path == "environments.dev.target"

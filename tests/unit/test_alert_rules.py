"""The alert rules read only metrics the scaffolded model server exports (ml_gen.serving_metrics, which
`ml-gen init` copies into the project) or kube-state-metrics; promtool proves them in tests/test_alerts.py."""

from __future__ import annotations

import re
from pathlib import Path

from ml_gen import alerts, serving_metrics, targets

SETTINGS = {"errorRatio": 0.05, "p99LatencySeconds": 0.25, "for": "5m"}
KUBE_STATE_METRICS = {"kube_deployment_status_replicas_unavailable", "kube_pod_container_status_restarts_total"}
DEPLOYMENT = targets.TARGETS["deployment"]
CHART_TEMPLATE = Path(__file__).resolve().parents[2] / "charts" / "ml-model-api" / "templates" / "prometheusrule.yaml"


def _rules(name: str, namespace: str, container: str, settings: dict) -> list[dict]:
    """The alerts on the pods of the deployment target."""
    return alerts.rules(name, namespace, container, DEPLOYMENT.pod_query(name, namespace), settings)


def _metric_names(expr: str) -> set[str]:
    return {m.removesuffix("_bucket") for m in re.findall(r"\b([a-z_]+)\{", expr)}


def test_every_metric_an_alert_reads_is_exported_by_the_server_or_kube_state_metrics():
    rules = _rules("demo", "ml-prod", "ml-model-api", SETTINGS)
    used = set().union(*(_metric_names(r["expr"]) for r in rules))
    assert used == {serving_metrics.REQUESTS, serving_metrics.REQUEST_SECONDS} | KUBE_STATE_METRICS
    assert used - KUBE_STATE_METRICS <= set(serving_metrics.ALL)


def test_the_chart_template_reads_the_same_server_metrics():
    text = CHART_TEMPLATE.read_text()
    assert set(re.findall(r"\b(model_server_[a-z_]+)\{", text)) == {
        serving_metrics.REQUESTS,
        serving_metrics.REQUEST_SECONDS + "_bucket",
    }


def test_the_label_names_alerts_select_on_are_the_servers():
    rules = {r["alert"]: r["expr"] for r in _rules("demo", "ml-prod", "ml-model-api", SETTINGS)}
    assert 'status=~"5.."' in rules["ModelServerErrorRatioHigh"] and "status" in serving_metrics.REQUESTS_LABELS
    assert 'route="/predict"' in rules["ModelServerLatencyHigh"] and "route" in serving_metrics.REQUEST_SECONDS_LABELS


def test_thresholds_are_written_as_promql_reads_them():
    rules = {r["alert"]: r["expr"] for r in _rules("demo", "ns", "c", {**SETTINGS, "p99LatencySeconds": 2.0})}
    assert rules["ModelServerLatencyHigh"].endswith("> 2")
    assert rules["ModelServerErrorRatioHigh"].endswith("> 0.05")

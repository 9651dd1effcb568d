"""The Grafana dashboard of a model API: its panels' PromQL is the alerts' (ml_gen.promql), and the chart's
templates/grafanadashboard.yaml writes the same dashboard."""

from __future__ import annotations

from typing import Any

from ml_gen import promql
from ml_gen import serving_metrics as metrics
from ml_gen.promql import PodQuery

SCHEMA_VERSION = 39
"""Grafana's dashboard schema version the JSON is written in (Grafana 10.4 and later read it as is)."""
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
"""Every query asks the Prometheus data source the dashboard's `datasource` variable picks."""
QUANTILES = (0.5, 0.95, 0.99)
"""The latency quantiles of POST /predict on the dashboard; the latency alert watches the last."""
LATENCY_LEGEND = {0.5: "p50", 0.95: "p95", 0.99: "p99"}


def _target(ref: str, expr: str, legend: str) -> dict[str, Any]:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref}


def _panel(
    number: int, title: str, unit: str, queries: list[tuple[str, str]], threshold: float | None = None
) -> dict[str, Any]:
    """A time series panel, two to a row of 24 grid units, 8 high; QUERIES are (expression, legend) pairs.
    A threshold (an alert's) is drawn as a red line."""
    defaults: dict[str, Any] = {"min": 0, "unit": unit}
    if threshold is not None:
        defaults["custom"] = {"thresholdsStyle": {"mode": "line"}}
        steps = [{"color": "green", "value": None}, {"color": "red", "value": threshold}]
        defaults["thresholds"] = {"mode": "absolute", "steps": steps}
    return {
        "datasource": DATASOURCE,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "gridPos": {"h": 8, "w": 12, "x": 12 * ((number - 1) % 2), "y": 8 * ((number - 1) // 2)},
        "id": number,
        "options": {
            "legend": {"calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "none"},
        },
        "targets": [_target(chr(ord("A") + i), expr, legend) for i, (expr, legend) in enumerate(queries)],
        "title": title,
        "type": "timeseries",
    }


def panels(query: PodQuery, container: str, error_ratio: float, p99_seconds: float) -> list[dict[str, Any]]:
    """The panels in their order (their ids and places never change): the server's metrics of the release's
    pods, kube-state-metrics' replicas and restarts, cAdvisor's CPU and memory of the server's container."""
    server = promql.container(container)

    def used(metric: str, rate: bool) -> str:
        series = query.of_pods(metric, server)
        return f"sum by (pod) (rate({series}[{promql.RATE_WINDOW}]))" if rate else f"sum by (pod) ({series})"

    def against(resource: str) -> list[tuple[str, str]]:
        """The container's request and limit of a resource (the same in every pod)."""
        which = 'resource="' + resource + '"'
        return [
            (f"max({query.of_pods('kube_pod_container_resource_' + bound, server, which)})", legend)
            for bound, legend in (("requests", "request"), ("limits", "limit"))
        ]

    pods = "{{pod}}"
    latency = [(promql.predict_latency(query, q), LATENCY_LEGEND[q]) for q in QUANTILES]
    load = f"max by (pod) ({query.of_pods(metrics.MODEL_LOAD_SECONDS)})"
    versions = f"count by (name, version) ({query.of_pods(metrics.MODEL_INFO)})"
    cpu = [(used("container_cpu_usage_seconds_total", True), pods), *against("cpu")]
    memory = [(used("container_memory_working_set_bytes", False), pods), *against("memory")]
    replicas = [(query.ready, "ready"), (query.desired, "desired")]
    specs: list[tuple[str, str, list[tuple[str, str]], float | None]] = [
        (
            "Requests per second: POST /predict",
            "reqps",
            [(promql.predict_rate(query, by="status"), "{{status}}")],
            None,
        ),
        (
            "Share of POST /predict answered 5xx",
            "percentunit",
            [(promql.error_ratio(query, zero_without_errors=True), "5xx")],
            error_ratio,
        ),
        ("Latency of POST /predict", "s", latency, p99_seconds),
        ("Model load time", "s", [(load, pods)], None),
        ("Pods serving each model version", "none", [(versions, "{{name}} {{version}}")], None),
        (f"{query.workload} replicas: ready and desired", "none", replicas, None),
        (f"Container restarts in {promql.RESTARTS_WINDOW}", "none", [(promql.restarts(query, container), pods)], None),
        ("CPU (cores) against requests and limits", "none", cpu, None),
        ("Memory (working set) against requests and limits", "bytes", memory, None),
    ]
    return [_panel(number, *spec) for number, spec in enumerate(specs, start=1)]


def dashboard(title: str, uid: str, panel_list: list[dict[str, Any]]) -> dict[str, Any]:
    """The dashboard around its panels, with a `datasource` variable choosing the Prometheus to ask."""
    variable = {"hide": 0, "label": "Data source", "name": "datasource", "query": "prometheus", "type": "datasource"}
    return {
        "annotations": {"list": []},
        "editable": False,
        "graphTooltip": 1,
        "panels": panel_list,
        "refresh": "1m",
        "schemaVersion": SCHEMA_VERSION,
        "tags": ["ml-gen", "model-api"],
        "templating": {"list": [variable]},
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "browser",
        "title": title,
        "uid": uid,
    }

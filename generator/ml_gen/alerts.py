"""The alert rules a model API needs, as PromQL over the metrics of the server `ml-gen init` writes
(ml_gen.serving_metrics) and of kube-state-metrics (pods not ready, restarts)."""

from __future__ import annotations

from typing import Any

from ml_gen import promql
from ml_gen.promql import PodQuery

RESTARTS_IN_15_MINUTES = 2
"""More container restarts than this within 15 minutes (promql.RESTARTS_WINDOW) fire ModelServerRestarting."""


def _number(value: float) -> str:
    """A threshold as PromQL reads it: 1 rather than 1.0, 0.05 as written."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def rules(name: str, namespace: str, container: str, query: PodQuery, settings: dict[str, Any]) -> list[dict[str, Any]]:
    """The alerting rules for the workload `name` in `namespace`, whose pods `query` finds (names are DNS
    labels: safe in PromQL)."""
    hold = settings["for"]
    where = f"{namespace}/{name}"
    model = settings.get("alertLabels", {})  # the model's name and version, on every alert
    ratio, p99 = _number(settings["errorRatio"]), _number(settings["p99LatencySeconds"])
    return [
        {
            "alert": "ModelServerPodsNotReady",
            "expr": f"{query.unavailable} > 0",
            "for": hold,
            "labels": {"severity": "warning", **model},
            "annotations": {
                "summary": f"{where}: pods not ready",
                "description": f"{query.workload} {where} has had unavailable replicas for {hold}.",
            },
        },
        {
            "alert": "ModelServerRestarting",
            "expr": (
                f"{promql.restarts(query, container)} "
                f">= {RESTARTS_IN_15_MINUTES + 1}"  # increase() extrapolates: N restarts read as a bit over N
            ),
            "labels": {"severity": "warning", **model},
            "annotations": {
                "summary": f"{where}: containers restarting",
                "description": f"A {where} container restarted more than {RESTARTS_IN_15_MINUTES} times in 15 minutes.",
            },
        },
        {
            "alert": "ModelServerErrorRatioHigh",
            "expr": f"{promql.error_ratio(query)} > {ratio}",
            "for": hold,
            "labels": {"severity": "critical", **model},
            "annotations": {
                "summary": f"{where}: too many 5xx answers",
                "description": f"More than {ratio} of POST /predict requests to {where} answered 5xx.",
            },
        },
        {
            "alert": "ModelServerLatencyHigh",
            "expr": f"{promql.predict_latency(query, 0.99)} > {p99}",
            "for": hold,
            "labels": {"severity": "warning", **model},
            "annotations": {
                "summary": f"{where}: POST /predict is slow",
                "description": f"The p99 latency of POST /predict on {where} is above {p99} s.",
            },
        },
    ]

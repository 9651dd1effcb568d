"""The alert rules a model API needs, as PromQL over the metrics of the server `ml-gen init` writes
(ml_gen.serving_metrics) and of kube-state-metrics (pods not ready, restarts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ml_gen import serving_metrics as metrics

RESTARTS_IN_15_MINUTES = 2
"""More container restarts than this within 15 minutes fire ModelServerRestarting."""


@dataclass(frozen=True)
class PodQuery:
    """How PromQL finds one release's pods and their readiness; each serving target says (ml_gen.targets)."""

    pods: str
    """Label matchers of the release's pods (namespace and pod name), without braces."""
    unavailable: str
    """An expression that is above 0 while some of the workload's pods are not ready."""
    workload: str
    """The workload's kind, as the alerts' descriptions name it (e.g. Deployment)."""

    @classmethod
    def of_deployments(cls, namespace: str, pods: str, deployments: str, workload: str) -> PodQuery:
        """The pods whose names match PODS, made by the Deployments whose names match DEPLOYMENTS (regexes),
        for a controller that makes Deployments for WORKLOAD (a KServe predictor, a Knative revision)."""
        unavailable = f'namespace="{namespace}", deployment=~"{deployments}"'
        return cls(
            pods=f'namespace="{namespace}", pod=~"{pods}"',
            unavailable=f"kube_deployment_status_replicas_unavailable{{{unavailable}}}",
            workload=workload,
        )


def _number(value: float) -> str:
    """A threshold as PromQL reads it: 1 rather than 1.0, 0.05 as written."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def rules(name: str, namespace: str, container: str, query: PodQuery, settings: dict[str, Any]) -> list[dict[str, Any]]:
    """The alerting rules for the workload `name` in `namespace`, whose pods `query` finds (names are DNS
    labels: safe in PromQL)."""
    pods = query.pods
    hold = settings["for"]
    # Only POST /predict: a pod loading its model answers its readiness probes with 503, not a client.
    predict = f'{pods}, route="/predict"'
    requests = f"sum(rate({metrics.REQUESTS}{{{predict}}}[5m]))"
    errors = f'sum(rate({metrics.REQUESTS}{{{predict}, status=~"5.."}}[5m]))'
    latency = (
        f"histogram_quantile(0.99, sum by (le) "
        f'(rate({metrics.REQUEST_SECONDS}_bucket{{{pods}, route="/predict"}}[5m])))'
    )
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
                f'increase(kube_pod_container_status_restarts_total{{{pods}, container="{container}"}}[15m]) '
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
            "expr": f"{errors} / {requests} > {ratio}",
            "for": hold,
            "labels": {"severity": "critical", **model},
            "annotations": {
                "summary": f"{where}: too many 5xx answers",
                "description": f"More than {ratio} of POST /predict requests to {where} answered 5xx.",
            },
        },
        {
            "alert": "ModelServerLatencyHigh",
            "expr": f"{latency} > {p99}",
            "for": hold,
            "labels": {"severity": "warning", **model},
            "annotations": {
                "summary": f"{where}: POST /predict is slow",
                "description": f"The p99 latency of POST /predict on {where} is above {p99} s.",
            },
        },
    ]

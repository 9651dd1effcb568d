"""HorizontalPodAutoscaler (autoscaling/v2): CPU and/or memory utilisation targets for the Deployment."""

from __future__ import annotations

from typing import Any

from ml_gen.kinds.helpers import Context
from ml_gen.kinds.kind import Kind, Object, ObjectIndex


def _utilisation(resource: str, percent: int) -> dict[str, Any]:
    return {
        "type": "Resource",
        "resource": {"name": resource, "target": {"type": "Utilization", "averageUtilization": percent}},
    }


def build(ctx: Context) -> Object | None:
    hpa = ctx.values["autoscaling"]
    if not hpa["enabled"]:
        return None
    metrics = []
    if hpa["targetCPUUtilizationPercentage"]:
        metrics.append(_utilisation("cpu", hpa["targetCPUUtilizationPercentage"]))
    if hpa["targetMemoryUtilizationPercentage"]:
        metrics.append(_utilisation("memory", hpa["targetMemoryUtilizationPercentage"]))
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": ctx.metadata(),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": ctx.fullname},
            "minReplicas": hpa["minReplicas"],
            "maxReplicas": hpa["maxReplicas"],
            "metrics": metrics,
        },
    }


def wiring(hpa: Object, rendered: ObjectIndex) -> list[str]:
    target = hpa["spec"]["scaleTargetRef"]
    if target["kind"] != "Deployment" or rendered.get("Deployment", target["name"]) is None:
        return [f"scale target {target['kind']}/{target['name']} is not rendered"]
    return []


KIND = Kind("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers", "hpa", build, wiring=wiring)

"""Deployment targets: the kinds an environment renders, in order, and rendering them from chart values.

Today there is one target, `deployment` (a Deployment behind a Service, with its companions). A target
that replaces Deployment + Service + HPA (KServe's InferenceService, a Knative Service) is another
entry here, listing its own kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ml_gen.kinds import Kind, Object, lookup
from ml_gen.kinds.helpers import context


@dataclass(frozen=True)
class Target:
    """A named set of kinds, rendered in this order (the order `helm template` prints them does not matter)."""

    name: str
    kinds: tuple[str, ...]

    def kind_list(self) -> list[Kind]:
        return [lookup(kind) for kind in self.kinds]

    def objects(self, values: dict[str, Any], release: str, namespace: str) -> list[Object]:
        """Every object of this target for one release of the chart values."""
        ctx = context(values, release, namespace)
        built = (kind.build(ctx) for kind in self.kind_list())
        return [obj for obj in built if obj is not None]


DEPLOYMENT = Target(
    "deployment",
    (
        "ServiceAccount",
        "ConfigMap",
        "Service",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Ingress",
        "NetworkPolicy",
        "ServiceMonitor",
        "PrometheusRule",
    ),
)
TARGETS = {target.name: target for target in (DEPLOYMENT,)}
DEFAULT = DEPLOYMENT.name

"""The `deployment` target: a Deployment behind a Service, scaled by an HPA, guarded by a PDB."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ml_gen.k8s.fields import pdb_count
from ml_gen.k8s.names import GENERATE_NAME_BASE
from ml_gen.promql import PodQuery
from ml_gen.targets.target import Target

if TYPE_CHECKING:
    from ml_gen.config import EnvConfig

KINDS = (
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
    "GrafanaDashboard",
)
"""Rendered in this order (the order `helm template` prints them does not matter)."""


def most_replicas(s: dict[str, Any]) -> int:
    """The most pods the Deployment runs: the HPA's maximum, else the fixed replica count."""
    hpa = s["autoscaling"]
    return int(hpa["maxReplicas"] if hpa["enabled"] else s["replicas"])


def pdb_rendered(s: dict[str, Any]) -> bool:
    """A PDB is rendered when it is on and there can be more than one pod (one pod cannot be spared)."""
    return bool(s["podDisruptionBudget"]["enabled"]) and most_replicas(s) > 1


def values(env: EnvConfig) -> dict[str, Any]:
    """The Deployment's section of the chart values: replicas, rollout, spread and disruption budget."""
    s = env.settings
    pdb = s["podDisruptionBudget"]
    min_available = pdb.get("minAvailable")
    return {
        "replicaCount": s["replicas"],
        "strategy": {"type": "RollingUpdate", "rollingUpdate": dict(s["strategy"])},
        "podDisruptionBudget": {
            "enabled": pdb_rendered(s),
            "minAvailable": min_available,
            "maxUnavailable": None if min_available is not None else pdb.get("maxUnavailable", 1),
        },
        "topologySpread": {
            "enabled": most_replicas(s) > 1,
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
        },
    }


def rules(env: EnvConfig) -> None:
    """The rollout can start, the server has time to stop, and node drains can evict a pod."""
    s = env.settings
    if all(str(s["strategy"][key]).rstrip("%") == "0" for key in ("maxSurge", "maxUnavailable")):
        raise env.error("strategy", message="maxSurge and maxUnavailable cannot both be 0 (no rollout could start)")
    shutdown_rules(env, s)
    pdb_rules(env, s)


def shutdown_rules(env: EnvConfig, s: dict[str, Any]) -> None:
    """The preStop sleep (shutdownDelaySeconds) leaves the server time to stop within the grace period."""
    delay, grace = s["shutdownDelaySeconds"], s["terminationGracePeriodSeconds"]
    if delay and delay >= grace:
        raise env.error(
            "shutdownDelaySeconds",
            message=f"{delay} leaves the server no time to stop: keep it below terminationGracePeriodSeconds ({grace})",
        )


def pdb_rules(env: EnvConfig, s: dict[str, Any]) -> None:
    """Both bounds are not given, and a rendered PDB lets a drain evict a pod."""
    pdb = s["podDisruptionBudget"]
    if "minAvailable" in pdb and "maxUnavailable" in pdb:
        raise env.error("podDisruptionBudget", message="give minAvailable or maxUnavailable, not both")
    if not pdb_rendered(s):
        return
    hpa = s["autoscaling"]
    fewest = hpa["minReplicas"] if hpa["enabled"] else s["replicas"]
    pods = f"autoscaling.minReplicas ({fewest})" if hpa["enabled"] else f"replicas ({fewest})"
    if "minAvailable" in pdb:
        wanted = pdb["minAvailable"]
        if pdb_count(wanted, fewest) >= fewest:
            raise env.error(
                "podDisruptionBudget",
                "minAvailable",
                message=f"minAvailable {wanted} keeps every pod of {pods} running, so no pod could ever be "
                "evicted (node drains would hang): lower it, or use maxUnavailable: 1",
            )
    elif pdb_count(pdb.get("maxUnavailable", 1), fewest) == 0:
        wanted = pdb["maxUnavailable"]
        raise env.error(
            "podDisruptionBudget",
            "maxUnavailable",
            message=f"maxUnavailable {wanted} lets no pod be evicted (node drains would hang): use at least 1, "
            "or set podDisruptionBudget.enabled: false",
        )


def pod_name_pattern(name: str) -> str:
    """The names of a Deployment's pods, for any name length: the ReplicaSet is <name>-<hash> (1 to 10
    characters), its pods' generateName <name>-<hash>-, which the API server cuts to 58 characters before it
    appends 5 random ones. So the pattern is the cut base, then a whole hash and its dash, or as much of the
    hash as fits, then the 5 characters (the chart's ml-model-api.podQuery writes the same)."""
    base = f"{name}-"[:GENERATE_NAME_BASE]
    room = GENERATE_NAME_BASE - len(base)
    return f"{base}([a-z0-9]{{1,10}}-|[a-z0-9]{{{room}}})[a-z0-9]{{5}}"


def pod_query(name: str, namespace: str) -> PodQuery:
    """A Deployment's pods by name (pod_name_pattern); kube-state-metrics counts the unavailable replicas
    per Deployment."""
    return PodQuery.run_by_deployments(
        f'namespace="{namespace}", pod=~"{pod_name_pattern(name)}"',
        f'namespace="{namespace}", deployment="{name}"',
        "Deployment",
    )


TARGET = Target("deployment", KINDS, values, rules, pod_query)

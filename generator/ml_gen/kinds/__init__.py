"""The registry of the Kubernetes kinds ml-gen renders: one module per kind, named as its chart template."""

from __future__ import annotations

from ml_gen.errors import UnknownKind
from ml_gen.kinds import (
    configmap,
    delivery,
    deployment,
    grafanadashboard,
    hpa,
    inferenceservice,
    ingress,
    knativeservice,
    networkpolicy,
    pdb,
    prometheusrule,
    service,
    serviceaccount,
    servicemonitor,
)
from ml_gen.kinds.kind import Kind, Object, ObjectIndex

KINDS: dict[str, Kind] = {
    module.KIND.key: module.KIND
    for module in (
        serviceaccount,
        configmap,
        service,
        deployment,
        inferenceservice,
        knativeservice,
        hpa,
        pdb,
        ingress,
        networkpolicy,
        servicemonitor,
        prometheusrule,
        grafanadashboard,
    )
} | {kind.key: kind for kind in delivery.KINDS}
"""Every kind ml-gen writes: the release's, then the delivery tools' (no chart template)."""


WORKLOADS = {name: kind.pod_template for name, kind in KINDS.items() if kind.pod_template is not None}
"""The pod-template accessor of every workload kind."""


def resources() -> list[Kind]:
    """One kind per API resource: the first registered, which `of` answers for its objects (the Grafana
    dashboard's ConfigMap is a ConfigMap to the API server and to whatever lists ConfigMaps)."""
    first: dict[tuple[str, str], Kind] = {}
    for kind in KINDS.values():
        first.setdefault((kind.api_version, kind.plural), kind)
    return list(first.values())


def index(objects: list[Object]) -> ObjectIndex:
    """The rendered objects of one environment by registry name and name, knowing where each workload keeps
    its pods."""
    return ObjectIndex(objects, WORKLOADS, lambda obj: of(obj).key)


def lookup(kind: str) -> Kind:
    """The registered kind of that name (Kind.key), or a clear error naming the kinds ml-gen knows."""
    try:
        return KINDS[kind]
    except KeyError:
        raise UnknownKind(f"unknown kind {kind!r}: ml-gen renders {', '.join(sorted(KINDS))}") from None


def of(obj: Object) -> Kind:
    """The registered kind of an object, by its apiVersion and kind (two groups may both have a Service)."""
    for kind in KINDS.values():
        if kind.kind == obj.get("kind") and kind.api_version == obj.get("apiVersion"):
            return kind
    served = [kind.api_version for kind in KINDS.values() if kind.kind == obj.get("kind")]
    if not served:
        return lookup(str(obj.get("kind")))  # the error naming the kinds ml-gen knows
    raise UnknownKind(f"unknown kind {obj.get('kind')!r} of {obj.get('apiVersion')!r}: ml-gen renders it as {served}")


__all__ = ["KINDS", "WORKLOADS", "Kind", "Object", "ObjectIndex", "UnknownKind", "index", "lookup", "of", "resources"]

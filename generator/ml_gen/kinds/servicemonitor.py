"""ServiceMonitor (prometheus-operator): scrape the metrics path through the Service."""

from __future__ import annotations

from ml_gen.kinds.helpers import Context, data
from ml_gen.kinds.kind import Kind, Object, ObjectIndex, matches


def build(ctx: Context) -> Object | None:
    monitor = ctx.values["serviceMonitor"]
    if not monitor["enabled"]:
        return None
    endpoint = {
        "port": "metrics" if ctx.values["metricsPort"] else "http",
        "path": monitor["path"],
        "interval": monitor["interval"],
    }
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": ctx.metadata(labels=monitor["labels"]),
        "spec": {"selector": {"matchLabels": data(ctx.selector_labels)}, "endpoints": [endpoint]},
    }


def wiring(monitor: Object, rendered: ObjectIndex) -> list[str]:
    """The selector selects a rendered Service, which has each endpoint's port."""
    selector = monitor["spec"]["selector"].get("matchLabels", {})
    services = [s for s in rendered.of_kind("Service") if matches(selector, s["metadata"].get("labels", {}))]
    if not services:
        return ["its selector matches no rendered Service"]
    ports = {p.get("name") for s in services for p in s["spec"]["ports"]}
    return [
        f"endpoint port '{e['port']}' is not a port of the selected Service"
        for e in monitor["spec"]["endpoints"]
        if e.get("port") not in ports
    ]


KIND = Kind(
    "ServiceMonitor",
    "monitoring.coreos.com/v1",
    "servicemonitors",
    "servicemonitor",
    build,
    schema="crd",
    wiring=wiring,
)

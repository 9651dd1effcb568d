"""Service: one port named http in front of the server's container port."""

from __future__ import annotations

from typing import Any

from ml_gen.kinds.helpers import Context, data
from ml_gen.kinds.kind import Kind, Object, ObjectIndex


def _ports(ctx: Context) -> list[dict[str, Any]]:
    """The http port, and the metrics port when the server has a separate one (for a ServiceMonitor)."""
    ports = [{"port": ctx.values["service"]["port"], "targetPort": "http", "protocol": "TCP", "name": "http"}]
    if ctx.values["metricsPort"]:
        ports.append({"port": ctx.values["metricsPort"], "targetPort": "metrics", "protocol": "TCP", "name": "metrics"})
    return ports


def build(ctx: Context) -> Object:
    service = ctx.values["service"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": ctx.metadata(annotations=service["annotations"]),
        "spec": {
            "type": service["type"],
            "ports": _ports(ctx),
            "selector": data(ctx.selector_labels),
        },
    }


def wiring(service: Object, rendered: ObjectIndex) -> list[str]:
    """The selector selects the pods, a named targetPort is a container port of theirs, and no port number
    is listed twice (the API server refuses a duplicate port and protocol)."""
    problems = []
    numbers = [(port.get("port"), port.get("protocol", "TCP")) for port in service["spec"].get("ports", [])]
    for number, protocol in sorted({n for n in numbers if numbers.count(n) > 1}, key=str):
        problems.append(f"port {number}/{protocol} is listed twice")
    if not rendered.selects_pods(service["spec"].get("selector", {})):
        problems.append("its selector matches no pods of a rendered workload")
    names = rendered.container_port_names()
    for port in service["spec"].get("ports", []):
        if isinstance(port.get("targetPort"), str) and port["targetPort"] not in names:
            problems.append(f"targetPort '{port['targetPort']}' is not a container port name")
    return problems


KIND = Kind("Service", "v1", "services", "service", build, name_rule="dns-label", wiring=wiring)

"""NetworkPolicy: ingress only to the server port, from the same namespace and the namespaces the
config names (metrics port: the monitoring namespaces); egress open unless restricted (then DNS and the
named CIDRs and namespaces)."""

from __future__ import annotations

from typing import Any

from ml_gen.kinds.helpers import Context, data
from ml_gen.kinds.kind import Kind, Object, ObjectIndex

DNS_PORT = 53
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
"""The label the API server sets on every namespace to its name."""


def _namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: name}}}


def build(ctx: Context) -> Object | None:
    policy = ctx.values["networkPolicy"]
    if not policy["enabled"]:
        return None
    server = [{"podSelector": {}}] + [_namespace(n) for n in policy["ingressNamespaces"]]
    ingress: list[dict[str, Any]] = [{"from": server, "ports": [{"protocol": "TCP", "port": "http"}]}]
    if policy["metricsNamespaces"]:
        port = "metrics" if ctx.values["metricsPort"] else "http"
        scrapers = [_namespace(n) for n in policy["metricsNamespaces"]]
        ingress.append({"from": scrapers, "ports": [{"protocol": "TCP", "port": port}]})
    egress = policy["egress"]
    spec: dict[str, Any] = {
        "podSelector": {"matchLabels": data(ctx.selector_labels)},
        "policyTypes": ["Ingress", "Egress"] if egress["restricted"] else ["Ingress"],
        "ingress": ingress,
    }
    if egress["restricted"]:
        rules: list[dict[str, Any]] = [
            {"ports": [{"protocol": "UDP", "port": DNS_PORT}, {"protocol": "TCP", "port": DNS_PORT}]}
        ]
        allowed = [{"ipBlock": {"cidr": c}} for c in egress["cidrs"]] + [_namespace(n) for n in egress["namespaces"]]
        if allowed:
            rules.append({"to": allowed})
        spec["egress"] = rules
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": ctx.metadata(), "spec": spec}


def wiring(policy: Object, rendered: ObjectIndex) -> list[str]:
    """The policy selects the pods, and every named port is a port of theirs."""
    problems = []
    if not rendered.selects_pods(policy["spec"]["podSelector"].get("matchLabels", {})):
        problems.append("its podSelector matches no pods of a rendered workload")
    names = rendered.container_port_names()
    for rule in policy["spec"].get("ingress", []):
        for port in rule.get("ports", []):
            if isinstance(port.get("port"), str) and port["port"] not in names:
                problems.append(f"port '{port['port']}' is not a container port name of the selected pods")
    return problems


KIND = Kind("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies", "networkpolicy", build, wiring=wiring)

"""Ingress: host and path rules to the Service's http port, with optional TLS."""

from __future__ import annotations

from typing import Any

from ml_gen.kinds.helpers import Context, data
from ml_gen.kinds.kind import Kind, Object, ObjectIndex


def _backend(ctx: Context) -> dict[str, Any]:
    return {"service": {"name": ctx.fullname, "port": {"name": "http"}}}


def build(ctx: Context) -> Object | None:
    ingress = ctx.values["ingress"]
    if not ingress["enabled"]:
        return None
    spec: dict[str, Any] = {}
    if ingress["className"]:
        spec["ingressClassName"] = ingress["className"]
    if ingress["tls"]:
        spec["tls"] = data(ingress["tls"])
    rules = []
    for host in ingress["hosts"]:
        paths = [{"path": p["path"], "pathType": p["pathType"], "backend": _backend(ctx)} for p in host["paths"]]
        rule: dict[str, Any] = {"http": {"paths": paths}}
        if host.get("host"):
            rule["host"] = host["host"]
        rules.append(rule)
    spec["rules"] = rules
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": ctx.metadata(annotations=ingress["annotations"]),
        "spec": spec,
    }


def wiring(ingress: Object, rendered: ObjectIndex) -> list[str]:
    """Every backend is a rendered Service and one of its port names."""
    problems = []
    for rule in ingress["spec"].get("rules", []):
        for path in rule.get("http", {}).get("paths", []):
            backend = path["backend"]["service"]
            service = rendered.get("Service", backend["name"])
            if service is None:
                problems.append(f"backend Service '{backend['name']}' is not rendered")
            elif backend["port"].get("name") not in {p.get("name") for p in service["spec"]["ports"]}:
                problems.append(f"backend port '{backend['port']}' is not a port of Service '{backend['name']}'")
    return problems


KIND = Kind("Ingress", "networking.k8s.io/v1", "ingresses", "ingress", build, wiring=wiring)

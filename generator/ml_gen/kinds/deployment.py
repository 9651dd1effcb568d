"""Deployment: the model server's pods, their security context, probes, resources and volumes."""

from __future__ import annotations

from typing import Any

from ml_gen.kinds.helpers import Context, data, without_nulls
from ml_gen.kinds.kind import Kind, Object, ObjectIndex, matches, pod_references

PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
FETCH_CONTAINER = "fetch-model"


def _container(ctx: Context) -> dict[str, Any]:
    v = ctx.values
    container: dict[str, Any] = {
        "name": ctx.chart_name,
        "image": ctx.image,
        "imagePullPolicy": v["image"]["pullPolicy"],
    }
    if v["shutdownDelaySeconds"]:
        container["lifecycle"] = {"preStop": {"sleep": {"seconds": v["shutdownDelaySeconds"]}}}
    container["securityContext"] = data(v["securityContext"])
    ports = [{"name": "http", "containerPort": v["containerPort"], "protocol": "TCP"}]
    if v["metricsPort"]:
        ports.append({"name": "metrics", "containerPort": v["metricsPort"], "protocol": "TCP"})
    container["ports"] = ports
    if v["env"]:
        container["env"] = data(v["env"])
    for probe in PROBES:
        container[probe] = data(without_nulls(v[probe]))
    container["resources"] = data(v["resources"])
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    if v["configFiles"]:
        mounts.append({"name": "config", "mountPath": v["configMountPath"], "readOnly": True})
    model = v["model"]
    if model["source"] != "image":
        mount = {"name": "model", "mountPath": model["mountPath"], "readOnly": True}
        if model["source"] == "pvc" and model["pvc"]["subPath"]:
            mount["subPath"] = model["pvc"]["subPath"]
        mounts.append(mount)
    container["volumeMounts"] = mounts
    return container


def fetch_container(ctx: Context) -> dict[str, Any]:
    """The init container that fills the model volume: the fetcher's image (default: the server's own)."""
    v = ctx.values
    fetch = v["model"]["fetch"]
    container: dict[str, Any] = {
        "name": FETCH_CONTAINER,
        "image": fetch["image"] or ctx.image,
        "imagePullPolicy": fetch["pullPolicy"] or v["image"]["pullPolicy"],
        "command": list(fetch["command"]),
    }
    if fetch["env"]:
        container["env"] = data(fetch["env"])
    if fetch["credentialsSecret"]:
        container["envFrom"] = [{"secretRef": {"name": fetch["credentialsSecret"]}}]
    container["resources"] = data(fetch["resources"])
    container["securityContext"] = data(v["securityContext"])
    container["volumeMounts"] = [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "model", "mountPath": v["model"]["mountPath"]},
    ]
    return container


def model_volume(model: dict[str, Any]) -> dict[str, Any]:
    if model["source"] == "pvc":
        return {"name": "model", "persistentVolumeClaim": {"claimName": model["pvc"]["claimName"], "readOnly": True}}
    return {"name": "model", "emptyDir": {"sizeLimit": model["fetch"]["sizeLimit"]}}


def _pod_spec(ctx: Context) -> dict[str, Any]:
    v = ctx.values
    spec: dict[str, Any] = {}
    if v["imagePullSecrets"]:
        spec["imagePullSecrets"] = data(v["imagePullSecrets"])
    spec["serviceAccountName"] = ctx.service_account_name
    spec["automountServiceAccountToken"] = v["serviceAccount"]["automount"]
    spec["securityContext"] = data(v["podSecurityContext"])
    spec["terminationGracePeriodSeconds"] = v["terminationGracePeriodSeconds"]
    if v["model"]["source"] == "fetch":
        spec["initContainers"] = [fetch_container(ctx)]
    spec["containers"] = [_container(ctx)]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": data(v["tmpVolume"])}]
    if v["configFiles"]:
        volumes.append({"name": "config", "configMap": {"name": ctx.fullname}})
    if v["model"]["source"] != "image":
        volumes.append(model_volume(v["model"]))
    spec["volumes"] = volumes
    spread = v["topologySpread"]
    if spread["enabled"]:
        spec["topologySpreadConstraints"] = [
            {
                "maxSkew": spread["maxSkew"],
                "topologyKey": spread["topologyKey"],
                "whenUnsatisfiable": spread["whenUnsatisfiable"],
                "labelSelector": {"matchLabels": data(ctx.selector_labels)},
            }
        ]
    for key in ("nodeSelector", "affinity", "tolerations"):
        if v[key]:
            spec[key] = data(v[key])
    return spec


def build(ctx: Context) -> Object:
    v = ctx.values
    spec: dict[str, Any] = {}
    if not v["autoscaling"]["enabled"]:
        spec["replicas"] = v["replicaCount"]
    spec["strategy"] = data(v["strategy"])
    spec["selector"] = {"matchLabels": data(ctx.selector_labels)}
    template_meta: dict[str, Any] = {}
    if v["podAnnotations"]:
        template_meta["annotations"] = data(v["podAnnotations"])
    template_meta["labels"] = data({**ctx.labels, **v["podLabels"]})
    spec["template"] = {"metadata": template_meta, "spec": _pod_spec(ctx)}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": ctx.metadata(), "spec": spec}


def wiring(deployment: Object, rendered: ObjectIndex) -> list[str]:
    """The selector and spread constraints select the pods; the referenced objects and probe ports exist."""
    problems = []
    spec = deployment["spec"]
    labels = spec["template"]["metadata"].get("labels", {})
    if not matches(spec["selector"].get("matchLabels", {}), labels):
        problems.append("spec.selector does not match the pod template labels")
    pod = spec["template"]["spec"]
    problems += pod_references(pod, rendered)
    for container in pod["containers"]:
        ports = {p.get("name") for p in container.get("ports", [])} | {
            p["containerPort"] for p in container.get("ports", [])
        }
        for probe in PROBES:
            check = container.get(probe, {})
            port = (check.get("httpGet") or check.get("tcpSocket") or {}).get("port")
            if port is not None and port not in ports:
                problems.append(f"{container['name']}.{probe} uses port '{port}', which the container does not expose")
    for constraint in pod.get("topologySpreadConstraints", []):
        if not matches(constraint.get("labelSelector", {}).get("matchLabels", {}), labels):
            problems.append("a topologySpreadConstraint does not select the pods")
    return problems


KIND = Kind(
    "Deployment",
    "apps/v1",
    "deployments",
    "deployment",
    build,
    name_rule="dns-label",
    wiring=wiring,
    pod_template=lambda deployment: deployment["spec"]["template"],
    config_field="env",
)

"""Knative Service (serving.knative.dev/v1): Knative runs revisions of the server behind its own routes,
scales them (min-scale to max-scale on concurrency or rps) and drains them itself."""

from __future__ import annotations

from typing import Any

from ml_gen.kinds.deployment import PROBES, fetch_container, model_volume
from ml_gen.kinds.helpers import Context, data, without_nulls
from ml_gen.kinds.kind import Kind, Object, ObjectIndex, pod_references

PORT_NAME = "http1"
"""Knative accepts only http1 or h2c as the name of the one container port."""


def _probe(values: dict[str, Any], name: str) -> dict[str, Any]:
    """A probe from the values with its named port renamed to the container port's name."""
    check = data(without_nulls(values[name]))
    for how in ("httpGet", "tcpSocket"):
        if how in check and check[how].get("port") == "http":
            check[how] = {**check[how], "port": PORT_NAME}
    return dict(check)


def _container(ctx: Context) -> dict[str, Any]:
    """The server: one port, no lifecycle; without init containers it fetches the model itself (the fetcher's
    environment and the credentials Secret are then the server's, and the model volume is writable)."""
    v, model = ctx.values, ctx.values["model"]
    server_fetches = model["source"] == "fetch" and not v["knative"]["initContainers"]
    container: dict[str, Any] = {
        "name": ctx.chart_name,
        "image": ctx.image,
        "imagePullPolicy": v["image"]["pullPolicy"],
        "securityContext": data(v["securityContext"]),
        "ports": [{"name": PORT_NAME, "containerPort": v["containerPort"], "protocol": "TCP"}],
    }
    env = {e["name"]: e for e in data(v["env"])}
    if server_fetches:
        env.update({e["name"]: e for e in data(model["fetch"]["env"])})
    if env:
        container["env"] = [env[name] for name in sorted(env)]
    if server_fetches and model["fetch"]["credentialsSecret"]:
        container["envFrom"] = [{"secretRef": {"name": model["fetch"]["credentialsSecret"]}}]
    for name in PROBES:
        container[name] = _probe(v, name)
    container["resources"] = data(v["resources"])
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    if v["configFiles"]:
        mounts.append({"name": "config", "mountPath": v["configMountPath"], "readOnly": True})
    if model["source"] == "fetch":
        mount = {"name": "model", "mountPath": model["mountPath"]}
        mounts.append(mount if server_fetches else {**mount, "readOnly": True})
    container["volumeMounts"] = mounts
    return container


def _pod_spec(ctx: Context) -> dict[str, Any]:
    v, knative = ctx.values, ctx.values["knative"]
    spec: dict[str, Any] = {"containerConcurrency": knative["containerConcurrency"]}
    spec["timeoutSeconds"] = knative["timeoutSeconds"]
    if v["imagePullSecrets"]:
        spec["imagePullSecrets"] = data(v["imagePullSecrets"])
    spec["serviceAccountName"] = ctx.service_account_name
    spec["automountServiceAccountToken"] = v["serviceAccount"]["automount"]
    if v["model"]["source"] == "fetch" and knative["initContainers"]:
        spec["initContainers"] = [fetch_container(ctx)]
    spec["containers"] = [_container(ctx)]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": data(v["tmpVolume"])}]
    if v["configFiles"]:
        volumes.append({"name": "config", "configMap": {"name": ctx.fullname}})
    if v["model"]["source"] == "fetch":
        volumes.append(model_volume(v["model"]))
    spec["volumes"] = volumes
    return spec


def scale_annotations(knative: dict[str, Any]) -> dict[str, str]:
    """The revision's autoscaling.knative.dev annotations: its bounds, and what it scales on when it scales."""
    own = {
        "autoscaling.knative.dev/min-scale": str(knative["minScale"]),
        "autoscaling.knative.dev/max-scale": str(knative["maxScale"]),
    }
    if knative["metric"]:
        own["autoscaling.knative.dev/metric"] = knative["metric"]
        own["autoscaling.knative.dev/target"] = str(knative["target"])
    return own


def build(ctx: Context) -> Object:
    v, knative = ctx.values, ctx.values["knative"]
    template_meta: dict[str, Any] = {}
    annotations = {**v["podAnnotations"], **scale_annotations(knative)}
    if annotations:
        template_meta["annotations"] = data(annotations)
    template_meta["labels"] = data({**ctx.labels, **v["podLabels"]})
    spec: dict[str, Any] = {"template": {"metadata": template_meta, "spec": _pod_spec(ctx)}}
    if knative["traffic"]:
        spec["traffic"] = data(knative["traffic"])
    return {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": ctx.metadata(), "spec": spec}


def wiring(service: Object, rendered: ObjectIndex) -> list[str]:
    """The ServiceAccount and ConfigMap it names are rendered."""
    return pod_references(service["spec"]["template"]["spec"], rendered)


KIND = Kind(
    "Service",
    "serving.knative.dev/v1",
    "services",
    "knativeservice",
    build,
    name_rule="dns-label",
    schema="crd",
    wiring=wiring,
    pod_template=lambda service: service["spec"]["template"],
    config_field="env",
    name="KnativeService",
)

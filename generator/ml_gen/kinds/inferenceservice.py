"""InferenceService (serving.kserve.io/v1beta1): KServe runs the predictor, fetches the model (its storage
initializer, from storageUri) and makes the predictor's Deployment, Service and HPA itself."""

from __future__ import annotations

from typing import Any

from ml_gen.kinds.deployment import PROBES
from ml_gen.kinds.helpers import Context, data, without_nulls
from ml_gen.kinds.kind import Kind, Object, ObjectIndex, pod_references

CONTAINER = "kserve-container"
"""The name KServe gives the predictor's container (and mounts the fetched model into)."""
SERVERLESS = "Serverless"


def port_name(values: dict[str, Any]) -> str:
    """The server's container port name: Knative (Serverless mode) accepts only http1 or h2c."""
    return "http1" if values["kserve"]["deploymentMode"] == SERVERLESS else "http"


def probe(values: dict[str, Any], name: str) -> dict[str, Any]:
    """A probe from the values, its named port renamed as the container port is (port_name)."""
    check = data(without_nulls(values[name]))
    for how in ("httpGet", "tcpSocket"):
        if how in check and check[how].get("port") == "http":
            check[how] = {**check[how], "port": port_name(values)}
    return dict(check)


def _container(ctx: Context) -> dict[str, Any]:
    """The server's own container (predictor.containers); STORAGE_URI makes KServe fetch the model."""
    v, kserve = ctx.values, ctx.values["kserve"]
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": ctx.image,
        "imagePullPolicy": v["image"]["pullPolicy"],
        **_lifecycle(v),
        "securityContext": data(v["securityContext"]),
        "ports": [{"name": port_name(v), "containerPort": v["containerPort"], "protocol": "TCP"}],
    }
    env = ([{"name": "STORAGE_URI", "value": kserve["storageUri"]}] if kserve["storageUri"] else []) + data(v["env"])
    if env:
        container["env"] = env
    for name in PROBES:
        container[name] = probe(v, name)
    container["resources"] = data(v["resources"])
    container["volumeMounts"] = _mounts(v)
    return container


def _model(ctx: Context) -> dict[str, Any]:
    """A standard runtime's predictor.model: the format, the runtime (else KServe picks one) and storageUri."""
    v, kserve = ctx.values, ctx.values["kserve"]
    model: dict[str, Any] = {"modelFormat": {"name": kserve["modelFormat"]}}
    if kserve["runtime"]:
        model["runtime"] = kserve["runtime"]
    model["storageUri"] = kserve["storageUri"]
    if v["env"]:
        model["env"] = data(v["env"])
    model["resources"] = data(v["resources"])
    model.update(_lifecycle(v))
    model["securityContext"] = data(v["securityContext"])
    model["volumeMounts"] = _mounts(v)
    return model


def _lifecycle(v: dict[str, Any]) -> dict[str, Any]:
    """The deployment target's preStop sleep (shutdownDelaySeconds): in RawDeployment KServe copies the
    container (predictor.model's merges into the runtime's) into a plain Deployment; Serverless has none
    (Knative refuses a lifecycle hook, targets/knative.py refuse_masked_pod_fields)."""
    if v["kserve"]["deploymentMode"] == SERVERLESS or not v["shutdownDelaySeconds"]:
        return {}
    return {"lifecycle": {"preStop": {"sleep": {"seconds": v["shutdownDelaySeconds"]}}}}


def _mounts(v: dict[str, Any]) -> list[dict[str, Any]]:
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    if v["configFiles"]:
        mounts.append({"name": "config", "mountPath": v["configMountPath"], "readOnly": True})
    return mounts


def _predictor(ctx: Context) -> dict[str, Any]:
    v, kserve = ctx.values, ctx.values["kserve"]
    predictor: dict[str, Any] = {}
    if v["podAnnotations"]:
        predictor["annotations"] = data(v["podAnnotations"])
    predictor["labels"] = data({**ctx.labels, **v["podLabels"]})
    predictor["minReplicas"] = kserve["minReplicas"]
    predictor["maxReplicas"] = kserve["maxReplicas"]
    if kserve["scaleMetric"]:
        predictor["scaleMetric"] = kserve["scaleMetric"]
        predictor["scaleTarget"] = kserve["scaleTarget"]
    if kserve["canaryTrafficPercent"] is not None:
        predictor["canaryTrafficPercent"] = kserve["canaryTrafficPercent"]
    if v["imagePullSecrets"]:
        predictor["imagePullSecrets"] = data(v["imagePullSecrets"])
    predictor["serviceAccountName"] = ctx.service_account_name
    predictor["automountServiceAccountToken"] = v["serviceAccount"]["automount"]
    if kserve["deploymentMode"] != SERVERLESS:  # Knative's PodSpecMask: no pod securityContext (unless a flag
        predictor["securityContext"] = data(v["podSecurityContext"])  # allows it), no grace period (timeoutSeconds)
        predictor["terminationGracePeriodSeconds"] = v["terminationGracePeriodSeconds"]
    if kserve["predictor"] == "model":
        predictor["model"] = _model(ctx)
    else:
        predictor["containers"] = [_container(ctx)]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": data(v["tmpVolume"])}]
    if v["configFiles"]:
        volumes.append({"name": "config", "configMap": {"name": ctx.fullname}})
    predictor["volumes"] = volumes
    for key in ("nodeSelector", "affinity", "tolerations"):
        if v[key]:
            predictor[key] = data(v[key])
    return predictor


def isvc_annotations(kserve: dict[str, Any]) -> dict[str, str]:
    """The deployment mode, and who scales: in RawDeployment KServe's HPA (or none: a fixed count), in
    Serverless Knative's autoscaler, or Knative's HPA class for a CPU target."""
    own = {"serving.kserve.io/deploymentMode": kserve["deploymentMode"]}
    if kserve["deploymentMode"] != SERVERLESS:
        own["serving.kserve.io/autoscalerClass"] = "hpa" if kserve["scaleMetric"] else "none"
    elif kserve["scaleMetric"]:
        own["autoscaling.knative.dev/class"] = "hpa.autoscaling.knative.dev"
    return own


def build(ctx: Context) -> Object:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": ctx.metadata(annotations=isvc_annotations(ctx.values["kserve"])),
        "spec": {"predictor": _predictor(ctx)},
    }


def pod_template(isvc: Object) -> Object:
    """The predictor as a pod template: its labels and annotations, and its pod fields with the model's
    container (predictor.model) among the containers, as KServe builds the pods."""
    predictor = dict(isvc["spec"]["predictor"])
    meta = {key: predictor.pop(key) for key in ("labels", "annotations") if key in predictor}
    for key in ("minReplicas", "maxReplicas", "scaleMetric", "scaleTarget", "canaryTrafficPercent"):
        predictor.pop(key, None)
    model = predictor.pop("model", None)
    if model is not None:
        fields = {k: w for k, w in model.items() if k not in ("modelFormat", "runtime", "storageUri")}
        predictor["containers"] = [{"name": CONTAINER, **fields}]
    return {"metadata": meta, "spec": predictor}


def wiring(isvc: Object, rendered: ObjectIndex) -> list[str]:
    """The ServiceAccount and ConfigMap it names are rendered."""
    return pod_references(pod_template(isvc)["spec"], rendered)


def deployment_mode_kept(live: Object, isvc: Object) -> list[str]:
    """KServe's validateDeploymentMode: the mode the live InferenceService was created in (its status, else
    its annotation) cannot change."""
    mode_key = "serving.kserve.io/deploymentMode"
    was = live.get("status", {}).get("deploymentMode") or live["metadata"].get("annotations", {}).get(mode_key)
    now = isvc["metadata"].get("annotations", {}).get(mode_key)
    if was and now and was != now:
        return [
            f"the live InferenceService runs in {was} mode, which cannot change to {now} (KServe refuses the update): "
            "delete it first, or keep kserve.deploymentMode"
        ]
    return []


KIND = Kind(
    "InferenceService",
    "serving.kserve.io/v1beta1",
    "inferenceservices",
    "inferenceservice",
    build,
    name_rule="dns-label",
    schema="crd",
    wiring=wiring,
    pod_template=pod_template,
    config_field="env",
    live_check=deployment_mode_kept,
)

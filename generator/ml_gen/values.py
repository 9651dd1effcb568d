"""EnvConfig -> chart values: the one place where deployment policy is decided (the serving target
decides its own section)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ml_gen import chart
from ml_gen.config.model import EnvConfig
from ml_gen.config.model_source import MOUNT_PATH, ModelSource, source
from ml_gen.config.rules import MODEL_ENV, probe_type
from ml_gen.k8s.quantity import quantity

if TYPE_CHECKING:
    from ml_gen.targets import Target

MODEL_ANNOTATION_PREFIX = "ml-gen.dev/model-"
CONFIG_MOUNT = "/etc/ml-model"
"""Where the pods see configFiles (the chart's default configMountPath is the same: a test ties them)."""


def build(env: EnvConfig, target: Target) -> dict[str, Any]:
    """The chart values for one environment, in the order of the chart's values.yaml; ml-gen's manifests
    and the chart both render these."""
    values: dict[str, Any] = {"target": target.name, **_shared(env)}
    for key, section in target.values(env).items():  # a target's section adds to a shared one of the same name
        shared = values.get(key)
        values[key] = {**shared, **section} if isinstance(shared, dict) and isinstance(section, dict) else section
    order = chart.values_order()
    unknown = sorted(set(values) - set(order))
    if unknown:  # a target's section the chart's values.yaml does not document: a bug, not bad input
        raise ValueError(f"target {target.name!r}: the chart's values.yaml has no {', '.join(unknown)}")
    return {key: values[key] for key in order if key in values}


def _shared(env: EnvConfig) -> dict[str, Any]:
    """The values every serving target reads."""
    s = env.settings
    image = s["image"]
    return {
        "nameOverride": env.name,
        "fullnameOverride": env.name,
        "component": "model-server",
        "partOf": s.get("partOf", env.name),
        "commonLabels": _sorted(s.get("labels", {})),
        "commonAnnotations": _sorted(s.get("annotations", {})),
        "image": {
            "repository": image["repository"],
            "tag": image.get("tag", ""),
            "digest": image.get("digest", ""),
            "pullPolicy": image.get("pullPolicy") or _default_pull_policy(image),
        },
        "imagePullSecrets": [{"name": n} for n in s.get("imagePullSecrets", [])],
        "serviceAccount": {"create": True, "automount": False, "annotations": {}, "name": ""},
        "podLabels": {},
        "podAnnotations": _pod_annotations(s),
        "podSecurityContext": _pod_security_context(s["security"]),
        "securityContext": _container_security_context(s["security"]),
        "containerPort": s["port"],
        "metricsPort": _metrics_port(s),
        "env": _env(s),
        "configFiles": _sorted(s.get("configFiles", {})),
        "configMountPath": CONFIG_MOUNT,
        "service": {
            "type": s["service"]["type"],
            "port": s["service"]["port"],
            "annotations": _sorted(s["service"].get("annotations", {})),
        },
        "ingress": _ingress(s["ingress"]),
        "resources": _resources(s),
        "startupProbe": _probe(s, "startup"),
        "livenessProbe": _probe(s, "liveness"),
        "readinessProbe": _probe(s, "readiness"),
        "autoscaling": _autoscaling(s["autoscaling"]),
        "nodeSelector": _sorted(s.get("nodeSelector", {})),
        "tolerations": [dict(t) for t in s.get("tolerations", [])],
        "affinity": {},
        "terminationGracePeriodSeconds": s["terminationGracePeriodSeconds"],
        "shutdownDelaySeconds": s["shutdownDelaySeconds"],
        "tests": {"enabled": True, "healthPath": _test_path(s)},
        "tmpVolume": {"sizeLimit": str(s["tmpSizeLimit"])},
        "model": _model(s),
        "networkPolicy": _network_policy(s["networkPolicy"]),
        "serviceMonitor": _service_monitor(s["metrics"]),
        "prometheusRule": _prometheus_rule(s["metrics"]["alerts"], s["model"]),
        **_grafana_dashboard(env),
    }


def _default_pull_policy(image: dict[str, Any]) -> str:
    """What Kubernetes itself defaults to when the config sets no pullPolicy: Always for the tag latest."""
    return "Always" if not image.get("digest") and image.get("tag") == "latest" else "IfNotPresent"


def _sorted(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: mapping[key] for key in sorted(mapping)}


def _pod_annotations(s: dict[str, Any]) -> dict[str, str]:
    model = s["model"]
    annotations = {MODEL_ANNOTATION_PREFIX + k: model[k] for k in MODEL_ENV if k in model}
    if s["metrics"]["enabled"]:
        annotations.update(
            {
                "prometheus.io/scrape": "true",
                "prometheus.io/path": s["metrics"]["path"],
                "prometheus.io/port": str(s["metrics"].get("port", s["port"])),
            }
        )
    if s.get("configFiles"):
        import hashlib  # here: loading OpenSSL's hashes costs a config without configFiles 3-5 ms

        canonical = json.dumps(s["configFiles"], sort_keys=True, ensure_ascii=False).encode()
        annotations["checksum/config"] = hashlib.sha256(canonical).hexdigest()
    return _sorted(annotations)


def _pod_security_context(sec: dict[str, Any]) -> dict[str, Any]:
    context: dict[str, Any] = {
        "runAsNonRoot": sec["runAsUser"] != 0,
        "runAsUser": sec["runAsUser"],
        "runAsGroup": sec["runAsGroup"],
        "fsGroup": sec["runAsGroup"],
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    return context


def _container_security_context(sec: dict[str, Any]) -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": bool(sec["privileged"]),
        "capabilities": {"drop": ["ALL"]},
        "privileged": bool(sec["privileged"]),
        "readOnlyRootFilesystem": sec["readOnlyRootFilesystem"],
        "runAsNonRoot": sec["runAsUser"] != 0,
        "runAsUser": sec["runAsUser"],
        "runAsGroup": sec["runAsGroup"],
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _metrics_port(s: dict[str, Any]) -> int | None:
    port = s["metrics"].get("port")
    return port if s["metrics"]["enabled"] and port and port != s["port"] else None


def _env(s: dict[str, Any]) -> list[dict[str, Any]]:
    variables: dict[str, dict[str, Any]] = {}
    for field, var in MODEL_ENV.items():
        if field in s.get("model", {}):
            variables[var] = {"name": var, "value": s["model"][field]}
    if _model_source(s).how != "image":
        variables["MODEL_PATH"] = {"name": "MODEL_PATH", "value": MOUNT_PATH}
    if s["security"]["readOnlyRootFilesystem"]:
        # The image may have no passwd entry for runAsUser (HOME is then "/", read-only): a writable home for
        # caches; an env or secretEnv HOME replaces it.
        variables["HOME"] = {"name": "HOME", "value": "/tmp"}
    for name, value in s.get("env", {}).items():
        variables[name] = {"name": name, "value": value}
    for name, ref in s.get("secretEnv", {}).items():
        key_ref = {"name": ref["secret"], "key": ref["key"]}
        if "optional" in ref:
            key_ref["optional"] = ref["optional"]
        variables[name] = {"name": name, "valueFrom": {"secretKeyRef": key_ref}}
    return [variables[name] for name in sorted(variables)]


def _model_source(s: dict[str, Any]) -> ModelSource:
    uri = s["model"].get("uri")
    return source(uri) if uri else ModelSource("image", "file")


def _model(s: dict[str, Any]) -> dict[str, Any]:
    """Where the pods get the model (model_source decides), and the fetcher's init container."""
    model, fetch = s["model"], s["model"]["fetch"]
    where = _model_source(s)
    fetched = where.how == "fetch"
    image = fetch.get("image", "")
    return {
        "source": where.how,
        "mountPath": MOUNT_PATH,
        "pvc": {"claimName": where.claim, "subPath": where.sub_path},
        "fetch": {
            "image": image,
            "pullPolicy": ("Always" if image.endswith(":latest") else "IfNotPresent") if image else "",
            "command": list(fetch["command"]),
            "env": _fetch_env(s, where) if fetched else [],
            "credentialsSecret": model.get("credentials", {}).get("secret", "") if fetched else "",
            "sizeLimit": str(fetch["sizeLimit"]),
            "resources": _resource_lists(fetch["resources"]),
        },
    }


def _fetch_env(s: dict[str, Any], where: ModelSource) -> list[dict[str, Any]]:
    """The fetcher's environment (the contract of `python -m model_server.fetch`): only what applies."""
    model = s["model"]
    variables = {
        "MODEL_URI": model["uri"],
        "MODEL_PATH": MOUNT_PATH,
        "MODEL_SIZE_LIMIT": str(int(quantity(model["fetch"]["sizeLimit"]))),
    }
    if "sha256" in model:
        variables["MODEL_SHA256"] = model["sha256"]
    if where.scheme in ("s3", "models"):  # an MLflow registry may keep its artifacts in S3
        s3 = model.get("s3", {})
        for key, var in (
            ("endpoint", "AWS_ENDPOINT_URL"),
            ("region", "AWS_REGION"),
            ("addressing", "S3_ADDRESSING_STYLE"),
        ):
            if key in s3:
                variables[var] = s3[key]
    if where.scheme == "models":
        variables["MLFLOW_TRACKING_URI"] = model["mlflow"]["trackingUri"]
    if where.scheme == "hf" and "endpoint" in model.get("hf", {}):
        variables["HF_ENDPOINT"] = model["hf"]["endpoint"]
    if s["security"]["readOnlyRootFilesystem"]:
        variables["HOME"] = "/tmp"  # as the server's: a writable home for the clients' caches and config
    return [{"name": name, "value": variables[name]} for name in sorted(variables)]


def _ingress(ingress: dict[str, Any]) -> dict[str, Any]:
    host = ingress.get("host")
    rule: dict[str, Any] = {"host": host or ""}  # always present: "" is a rule for every host
    rule["paths"] = [{"path": ingress["path"], "pathType": ingress["pathType"]}]
    tls = []
    if ingress.get("tlsSecret"):
        tls.append({"secretName": ingress["tlsSecret"], "hosts": [host] if host else []})
    return {
        "enabled": ingress["enabled"],
        "className": ingress.get("className", ""),
        "annotations": _sorted(ingress.get("annotations", {})),
        "hosts": [rule],
        "tls": tls,
    }


def _resources(s: dict[str, Any]) -> dict[str, Any]:
    return _resource_lists(s["resources"], s["gpu"])


def _resource_lists(resources: dict[str, Any], gpu: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for bucket in ("requests", "limits"):
        given = {k: str(v) for k, v in resources.get(bucket, {}).items()}
        if gpu:
            given["nvidia.com/gpu"] = str(gpu)
        if given:
            out[bucket] = _sorted(given)
    return out


PROBE_PATHS = {"startup": "livenessPath", "liveness": "livenessPath", "readiness": "readinessPath"}
"""The health path each probe GETs when it is an http probe."""


def _probe(s: dict[str, Any], probe: str) -> dict[str, Any]:
    settings = s["probes"][probe]
    how = probe_type(s, probe)
    check: dict[str, Any]
    if how == "http":
        check = {"httpGet": {"path": s["health"][PROBE_PATHS[probe]], "port": "http"}}
    elif how == "tcp":  # httpGet: null removes the chart's default check (Helm drops keys set to null)
        check = {"httpGet": None, "tcpSocket": {"port": "http"}}
    else:
        check = {"httpGet": None, "exec": {"command": list(settings.get("command") or s["health"]["command"])}}
    timing = {k: v for k, v in settings.items() if k not in ("type", "command")}
    return {**check, **_sorted(timing)}


def _test_path(s: dict[str, Any]) -> str:
    """The path `helm test` fetches: the readiness path, or "" (a TCP connect) when readiness is not http."""
    return s["health"]["readinessPath"] if probe_type(s, "readiness") == "http" else ""


def _autoscaling(hpa: dict[str, Any]) -> dict[str, Any]:
    out = {"enabled": hpa["enabled"], "minReplicas": hpa["minReplicas"], "maxReplicas": hpa["maxReplicas"]}
    cpu = hpa.get("targetCPUUtilizationPercentage")
    memory = hpa.get("targetMemoryUtilizationPercentage")
    if cpu is None and memory is None:
        cpu = 80
    out["targetCPUUtilizationPercentage"] = cpu
    out["targetMemoryUtilizationPercentage"] = memory
    return out


def _network_policy(policy: dict[str, Any]) -> dict[str, Any]:
    egress = policy["egress"]
    return {
        "enabled": policy["enabled"],
        "ingressNamespaces": list(policy["allowNamespaces"]),
        "metricsNamespaces": list(policy["metricsNamespaces"]),
        "egress": {
            "restricted": egress["restricted"],
            "cidrs": list(egress["cidrs"]),
            "namespaces": list(egress["namespaces"]),
        },
    }


def _service_monitor(metrics: dict[str, Any]) -> dict[str, Any]:
    monitor = metrics["serviceMonitor"]
    return {
        "enabled": monitor["enabled"],
        "path": metrics["path"],
        "interval": monitor["interval"],
        "labels": _sorted(monitor["labels"]),
    }


MODEL_ALERT_LABELS = {"name": "model_name", "version": "model_version"}
"""The model's fields every alert carries as labels, so a page names the model version that fired it."""


def _prometheus_rule(alerts: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
    """The alerts' settings; the rules themselves name the release's namespace, so the kind (and the
    chart template) writes them (ml_gen.alerts)."""
    return {
        "enabled": alerts["enabled"],
        "labels": _sorted(alerts["labels"]),
        "alertLabels": {label: model[field] for field, label in MODEL_ALERT_LABELS.items() if field in model},
        "errorRatio": alerts["errorRatio"],
        "p99LatencySeconds": alerts["p99LatencySeconds"],
        "for": alerts["for"],
    }


DASHBOARD_UID_LENGTH = 40
"""The longest uid Grafana accepts."""


def _grafana_dashboard(env: EnvConfig) -> dict[str, Any]:
    """The dashboard's section, only when it is on: the values of a config without one stay as they were (the
    chart's default is off). Its uid and title name the config and the environment: `_` joins them, as no
    DNS label holds one, and a uid too long for Grafana keeps a hash of the whole."""
    dashboard = env.settings["metrics"]["dashboard"]
    if not dashboard["enabled"]:
        return {}
    uid = f"{env.name}_{env.env}"
    if len(uid) > DASHBOARD_UID_LENGTH:
        import hashlib  # here, as above: only a long uid needs it

        uid = f"{uid[: DASHBOARD_UID_LENGTH - 9]}-{hashlib.sha256(uid.encode()).hexdigest()[:8]}"
    return {
        "grafanaDashboard": {
            "enabled": True,
            "uid": uid,
            "title": f"{env.name} ({env.env})",
            "label": dashboard["label"],
            "labelValue": dashboard["labelValue"],
            "folderAnnotation": dashboard["folderAnnotation"],
            "folder": dashboard["folder"],
            "namespace": dashboard["namespace"],
        }
    }

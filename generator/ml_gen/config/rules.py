"""ml-gen's own rules on each environment after merging: what a schema cannot express, in the terms of
the config. Facts about what Kubernetes accepts come from ml_gen.k8s; target-specific rules live with
their target (ml_gen.targets)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ml_gen.config import delivery as delivery_settings
from ml_gen.config.model_source import MOUNT_PATH, service_namespace, source, stores, uri_problem
from ml_gen.k8s.fields import cidr_problem, ingress_path_problem, is_ipv4_address, toleration_problem
from ml_gen.k8s.image import repository_problem
from ml_gen.k8s.names import label_key_problem, label_value_problem
from ml_gen.k8s.quantity import quantity, quantity_problem
from ml_gen.serving_metrics import REQUEST_SECONDS_BUCKETS
from ml_gen.yamlio import FieldPath

if TYPE_CHECKING:
    from ml_gen.config.model import EnvConfig

MIN_RESTRICTED_ID = 10000
BYTE_QUANTITIES = ("memory", "ephemeral-storage", "tmpSizeLimit", "sizeLimit")
"""Resources counted in bytes: a fraction of a byte is a typo (512m is half a byte, not 512 MiB)."""
MODEL_ENV = {"name": "MODEL_NAME", "version": "MODEL_VERSION", "uri": "MODEL_URI", "framework": "MODEL_FRAMEWORK"}
CREDENTIAL_ENV = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_PASSWORD",
    "AZURE_STORAGE_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS_JSON",
)
"""Variables that hold a store's or registry's secret: never a plain env value."""

# Characters Helm's toYaml cannot carry: DEL, the C1 controls (U+0085 comes back mangled) and
# the non-characters U+FFFE/U+FFFF. Helm drops the whole value (every env var, every annotation) without
# an error, so the chart's output would silently differ from ml-gen's manifests: refuse them instead.
_NOT_FOR_HELM = re.compile("[\x7f-\x9f\ufffe\uffff]")


def check(env: EnvConfig) -> None:
    """Raise a ConfigError for the first rule the merged settings break."""
    s = env.settings
    checkers = (_text, _image, _replicas, _resources, _env_names, _security, _probes, _labels, _tolerations)
    more = (_ingress, _pull_secrets, _tmp, _network_policy, _ports, _monitoring, _thresholds, _durations, _model)
    for checker in (*checkers, *more, delivery_settings.check):
        checker(env, s)


def _text(env: EnvConfig, s: dict[str, Any]) -> None:
    if not _NOT_FOR_HELM.search(json.dumps(s, ensure_ascii=False)):  # the usual case, at C speed (keys too)
        return
    for path, text in _strings(s, ()):
        bad = _NOT_FOR_HELM.search(text)
        if bad:
            code = f"U+{ord(bad.group()):04X}"
            raise env.error(*path, message=f"contains {code}, which Helm cannot render (DEL, C1 controls, U+FFFE/FFFF)")


def _strings(node: object, path: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, path + (index,))


def _image(env: EnvConfig, s: dict[str, Any]) -> None:
    image = s["image"]  # required by the schema
    problem = repository_problem(image["repository"])
    if problem:
        raise env.error("image", "repository", message=problem)
    if "tag" not in image and "digest" not in image:
        raise env.error("image", message="needs image.tag or image.digest")
    if image.get("tag") == "latest" and not s["security"]["allowLatestTag"]:
        raise env.error(
            "image",
            "tag",
            message="the tag 'latest' is not reproducible; pin a version, use a digest, "
            "or set security.allowLatestTag: true for this environment",
        )


def _replicas(env: EnvConfig, s: dict[str, Any]) -> None:
    hpa = s["autoscaling"]
    if hpa["minReplicas"] > hpa["maxReplicas"]:  # even while off: turning it on must not be what breaks
        off = "" if hpa["enabled"] else " (autoscaling is off, but the bounds must still agree)"
        raise env.error(
            "autoscaling",
            "minReplicas",
            message=f"minReplicas ({hpa['minReplicas']}) is greater than maxReplicas ({hpa['maxReplicas']}){off}: "
            "lower minReplicas or raise maxReplicas",
        )


def _resources(env: EnvConfig, s: dict[str, Any]) -> None:
    _resource_lists(env, s["resources"], ("resources",))


def _resource_lists(env: EnvConfig, resources: dict[str, Any], where: FieldPath) -> None:
    requests, limits = resources["requests"], resources["limits"]  # DEFAULTS has both, merged into
    for bucket, given in (("requests", requests), ("limits", limits)):
        for name, value in given.items():
            problem = quantity_problem(name, value) or _fraction_of_a_byte(name, value)
            if problem:
                raise env.error(*where, bucket, name, message=problem)
    for name in sorted(set(requests) & set(limits)):
        if quantity(requests[name]) > quantity(limits[name]):
            raise env.error(
                *where,
                "requests",
                name,
                message=f"request {requests[name]} is above the limit {limits[name]}",
            )


def _fraction_of_a_byte(name: str, value: str | int | float) -> str | None:
    """Why a byte count is not a whole number of bytes (the API server rounds it up without a word), or None."""
    if name not in BYTE_QUANTITIES or quantity(value) == quantity(value).to_integral_value():
        return None
    text = str(value)
    if text.endswith("m"):
        return (
            f"{text} is a fraction of a byte ({name} counts bytes; 'm' means thousandths): did you mean {text[:-1]}Mi?"
        )
    return f"{text} is a fraction of a byte ({name} counts bytes)"


def _env_names(env: EnvConfig, s: dict[str, Any]) -> None:
    plain, secret = s.get("env", {}), s.get("secretEnv", {})
    for name in sorted(set(plain) & set(secret)):
        raise env.error("secretEnv", name, message=f"'{name}' is also set in env; give it once")
    for field, var in MODEL_ENV.items():
        if field in s.get("model", {}) and (var in plain or var in secret):
            where = "env" if var in plain else "secretEnv"
            raise env.error(where, var, message=f"'{var}' is set by ml-gen from model.{field}")
    uri = s["model"].get("uri")
    if uri and "MODEL_PATH" in {**plain, **secret} and not uri_problem(uri, True, True) and source(uri).how != "image":
        where = "env" if "MODEL_PATH" in plain else "secretEnv"
        raise env.error(where, "MODEL_PATH", message=f"'MODEL_PATH' is set by ml-gen: the model is at {MOUNT_PATH}")
    for name in plain:
        if name in CREDENTIAL_ENV:
            raise env.error(
                "env",
                name,
                message=f"'{name}' is a credential written inline: put it in a Secret and reference it "
                "(secretEnv for the server, model.credentials.secret for the model fetcher)",
            )


def _security(env: EnvConfig, s: dict[str, Any]) -> None:
    sec = s["security"]
    if not sec["restricted"]:
        return
    for key in ("runAsUser", "runAsGroup"):
        if sec[key] < MIN_RESTRICTED_ID:
            raise env.error(
                "security",
                key,
                message=f"must be at least {MIN_RESTRICTED_ID} under the restricted profile "
                "(set security.restricted: false to opt out)",
            )
    if sec["privileged"]:
        raise env.error("security", "privileged", message="needs security.restricted: false (an explicit opt-out)")


def probe_type(s: dict[str, Any], probe: str) -> str:
    """http, tcp or exec: the probe's own type, else health.type, else http."""
    return str(s["probes"][probe].get("type") or s["health"].get("type", "http"))


def _probes(env: EnvConfig, s: dict[str, Any]) -> None:
    for probe in ("startup", "liveness"):
        if s["probes"][probe].get("successThreshold", 1) != 1:
            raise env.error("probes", probe, "successThreshold", message="must be 1 for liveness and startup probes")
    for probe in ("startup", "liveness", "readiness"):
        settings = s["probes"][probe]
        check = probe_type(s, probe)
        if "command" in settings and check != "exec":
            raise env.error("probes", probe, "command", message=f"is only used by exec probes (this one is {check})")
        if check == "exec" and not (settings.get("command") or s["health"].get("command")):
            where = ("probes", probe, "type") if settings.get("type") else ("health", "type")
            raise env.error(
                *where, message=f"an exec {probe} probe needs a command: health.command or probes.{probe}.command"
            )


def _pull_secrets(env: EnvConfig, s: dict[str, Any]) -> None:
    seen = set()
    for index, name in enumerate(s.get("imagePullSecrets", [])):
        if name in seen:  # server-side apply refuses duplicate keys of a list map
            raise env.error("imagePullSecrets", index, message=f"'{name}' is listed twice")
        seen.add(name)


def _labels(env: EnvConfig, s: dict[str, Any]) -> None:
    for field in ("labels", "nodeSelector"):
        for key, value in s.get(field, {}).items():
            problem = label_key_problem(key) or label_value_problem(value)
            if field == "labels" and key.startswith("app.kubernetes.io/"):
                problem = f"'{key}' is set by ml-gen"
            if problem:
                raise env.error(field, key, message=problem)
    for field in ("annotations",):
        for key in s.get(field, {}):
            problem = label_key_problem(key)
            if problem:
                raise env.error(field, key, message=problem)
    for field in ("service", "ingress"):
        for key in s[field].get("annotations", {}):
            problem = label_key_problem(key)
            if problem:
                raise env.error(field, "annotations", key, message=problem)


def _tolerations(env: EnvConfig, s: dict[str, Any]) -> None:
    for index, toleration in enumerate(s.get("tolerations", [])):
        problem = toleration_problem(toleration)
        if problem:
            field, message = problem
            where = ("tolerations", index, field) if field in toleration else ("tolerations", index)
            raise env.error(*where, message=message)


def _ingress(env: EnvConfig, s: dict[str, Any]) -> None:
    ingress = s["ingress"]
    if not ingress["enabled"]:
        return
    problem = ingress_path_problem(ingress["path"], ingress["pathType"])
    if problem:
        raise env.error("ingress", "path", message=problem)
    host = ingress.get("host", "")
    if is_ipv4_address(host):
        raise env.error("ingress", "host", message=f"'{host}' is an IP address; Kubernetes wants a DNS name")


def _tmp(env: EnvConfig, s: dict[str, Any]) -> None:
    """/tmp's size limit is a quantity, above zero, and within the container's ephemeral-storage limit."""
    size = s["tmpSizeLimit"]
    problem = quantity_problem("tmpSizeLimit", size) or _fraction_of_a_byte("tmpSizeLimit", size)
    if problem or quantity(size) == 0:
        raise env.error("tmpSizeLimit", message=problem or "must be above 0 (the server needs a writable /tmp)")
    limit = s["resources"]["limits"].get("ephemeral-storage")  # DEFAULTS hold limits; maps merge
    if limit is not None and quantity(size) > quantity(limit):
        raise env.error(
            "tmpSizeLimit",
            message=f"{size} is above the ephemeral-storage limit {limit}: the pod would be evicted first",
        )


def _network_policy(env: EnvConfig, s: dict[str, Any]) -> None:
    """Each egress CIDR is an IP network in the form the API server accepts."""
    for i, cidr in enumerate(s["networkPolicy"]["egress"]["cidrs"]):
        problem = cidr_problem(cidr)
        if problem:
            raise env.error("networkPolicy", "egress", "cidrs", i, message=problem)


def _monitoring(env: EnvConfig, s: dict[str, Any]) -> None:
    """A ServiceMonitor, alert rules or a dashboard need the metrics endpoint; their own labels are valid and
    do not repeat a label every object already has."""
    metrics = s["metrics"]
    for threshold in ("errorRatio", "p99LatencySeconds"):
        if not math.isfinite(metrics["alerts"][threshold]):  # YAML's .nan passes every bound of the schema
            raise env.error("metrics", "alerts", threshold, message="must be a number, not .nan")
    for key in ("serviceMonitor", "alerts", "dashboard"):
        if metrics[key]["enabled"] and not metrics["enabled"]:
            raise env.error(
                "metrics", key, "enabled", message="needs metrics.enabled: true (it reads the metrics path)"
            )
        for label, value in metrics[key].get("labels", {}).items():
            problem = _own_label_problem(s, label, value)
            if problem:
                raise env.error("metrics", key, "labels", label, message=problem)
    dashboard = metrics["dashboard"]
    if dashboard["enabled"]:
        problems = {
            "label": _own_label_problem(s, dashboard["label"], ""),
            "labelValue": label_value_problem(dashboard["labelValue"]),
            "folderAnnotation": label_key_problem(dashboard["folderAnnotation"]),  # annotation keys: the same rule
        }
        for field, problem in problems.items():
            if problem:
                raise env.error("metrics", "dashboard", field, message=problem)


def _own_label_problem(s: dict[str, Any], label: str, value: str) -> str | None:
    """Why a label an object adds to the common ones is refused, or None."""
    if label.startswith("app.kubernetes.io/"):
        return f"'{label}' is set by ml-gen"
    if label in s.get("labels", {}):
        return f"'{label}' is already in labels, which every object carries"
    return label_key_problem(label) or label_value_problem(value)


def _ports(env: EnvConfig, s: dict[str, Any]) -> None:
    """A separate metrics port is not the Service port too (the Service would list one port number twice)."""
    metrics, service_port = s["metrics"], s["service"]["port"]
    port = metrics.get("port")
    if metrics["enabled"] and port and port != s["port"] and port == service_port:
        raise env.error(
            "metrics",
            "port",
            message=f"{port} is also service.port: the Service would list port {port} twice (the API server "
            "refuses it); choose another metrics port, or serve metrics on the server port",
        )


def _thresholds(env: EnvConfig, s: dict[str, Any]) -> None:
    """Alert thresholds that the alert's expression can exceed (metrics.alerts is defaulted, so always checked)."""
    alerts, top = s["metrics"]["alerts"], REQUEST_SECONDS_BUCKETS[-1]
    if alerts["errorRatio"] >= 1:
        raise env.error(
            "metrics", "alerts", "errorRatio", message="the alert fires above this ratio, and no ratio is above 1"
        )
    if alerts["p99LatencySeconds"] >= top:
        raise env.error(
            "metrics",
            "alerts",
            "p99LatencySeconds",
            message=f"{alerts['p99LatencySeconds']} s can never be exceeded: the latency histogram's top bucket is "
            f"{top:g} s, the most histogram_quantile returns; choose a threshold below {top:g}",
        )


PROMETHEUS_UNITS = {"h": 3600 * 10**9, "m": 60 * 10**9, "s": 10**9, "ms": 10**6}
"""The units the config allows (the schema's pattern), in the order Prometheus wants them, in nanoseconds."""
MAX_DURATION_NS = 2**63 - 1
"""Prometheus parses durations into Go's time.Duration (int64 nanoseconds, about 292 years)."""


def _durations(env: EnvConfig, s: dict[str, Any]) -> None:
    """Durations as Prometheus (model.ParseDuration) and the prometheus-operator CRDs read them: each unit
    at most once, largest first, and within Go's time.Duration."""
    for path in (("metrics", "alerts", "for"), ("metrics", "serviceMonitor", "interval")):
        text = s[path[0]][path[1]][path[2]]
        problem = _duration_problem(text)
        if problem:
            raise env.error(*path, message=problem)


def _duration_problem(text: str) -> str | None:
    order, total = list(PROMETHEUS_UNITS), 0
    last = -1
    for number, unit in re.findall(r"([0-9]+)(ms|s|m|h)", text):  # the schema's pattern holds
        if order.index(unit) <= last:
            return f"'{text}' is not a Prometheus duration: give each unit once, largest first (e.g. 1h30m)"
        last = order.index(unit)
        total += int(number) * PROMETHEUS_UNITS[unit]
    if total > MAX_DURATION_NS:
        return f"'{text}' is beyond the longest Prometheus duration (about 292 years)"
    return None


def _model(env: EnvConfig, s: dict[str, Any]) -> None:
    """model.uri is a URI ml-gen fetches (or a path), pinned where it must be; a fetched model fits its
    volume, the volume fits the pod's ephemeral storage, and a restricted egress lets the fetcher out."""
    model = s["model"]
    uri = model.get("uri")
    if not uri:
        return
    problem = uri_problem(uri, "sha256" in model, "trackingUri" in model.get("mlflow", {}))
    if problem:
        raise env.error("model", "uri", message=problem)
    where = source(uri)
    if where.how != "fetch":
        if "sha256" in model:
            kind = "a pvc:// model is mounted" if where.how == "pvc" else "a local model is in the image"
            raise env.error("model", "sha256", message=f"is checked by the fetcher, but {kind}, not fetched: remove it")
        return
    tree = where.scheme in ("hf", "models") or uri.endswith("/")
    if "sha256" in model and tree:
        raise env.error(
            "model",
            "sha256",
            message=f"names one file, but {uri} is a tree of files (a repository, a registered model or a prefix/): "
            "remove it, or point model.uri at the one object or archive",
        )
    _fetch(env, s, model["fetch"])
    _egress(env, s, where.scheme)


def _egress(env: EnvConfig, s: dict[str, Any], scheme: str) -> None:
    """A restricted egress lets the fetcher out: ml-gen cannot open it itself (a NetworkPolicy names no host,
    and it sees a Service's pod port, not the port in the URL), but refuses a policy that surely blocks it."""
    egress = s["networkPolicy"]["egress"]
    if not (s["networkPolicy"]["enabled"] and egress["restricted"]) or egress["cidrs"]:
        return
    if not egress["namespaces"]:
        raise env.error(
            "networkPolicy",
            "egress",
            "restricted",
            message=f"allows only DNS, so the fetcher cannot reach {scheme}:// storage: list the store's "
            "addresses in networkPolicy.egress.cidrs (or its namespace in networkPolicy.egress.namespaces)",
        )
    for path, url in stores(s["model"], scheme):
        namespace = service_namespace(url)
        if namespace and namespace not in egress["namespaces"]:
            raise env.error(
                "networkPolicy",
                "egress",
                "namespaces",
                message=f"does not list '{namespace}', the namespace of {'.'.join(path)} ({url}), and no "
                "egress CIDR is given: the fetcher could not reach it; add it",
            )


def _fetch(env: EnvConfig, s: dict[str, Any], fetch: dict[str, Any]) -> None:
    if not fetch["command"]:
        raise env.error(
            "model", "fetch", "command", message="must name a command (default: python -m model_server.fetch)"
        )
    image = fetch.get("image", "")
    if image.endswith(":latest") and not s["security"]["allowLatestTag"]:
        raise env.error(
            "model",
            "fetch",
            "image",
            message="the tag 'latest' is not reproducible; pin a version or a digest, "
            "or set security.allowLatestTag: true",
        )
    _resource_lists(env, fetch["resources"], ("model", "fetch", "resources"))
    size = fetch["sizeLimit"]
    problem = quantity_problem("sizeLimit", size) or _fraction_of_a_byte("sizeLimit", size)
    if problem or quantity(size) == 0:
        raise env.error("model", "fetch", "sizeLimit", message=problem or "must be above 0 (the model is stored there)")
    limit = s["resources"]["limits"].get("ephemeral-storage")
    if limit is not None and quantity(size) + quantity(s["tmpSizeLimit"]) > quantity(limit):
        raise env.error(
            "model",
            "fetch",
            "sizeLimit",
            message=f"{size} plus tmpSizeLimit {s['tmpSizeLimit']} is above the ephemeral-storage limit {limit}: the "
            "pod would be evicted before the volumes are full; raise resources.limits.ephemeral-storage",
        )

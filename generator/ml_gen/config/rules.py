"""Checks a schema cannot express, run on each environment after merging."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from decimal import ROUND_UP, Context, Decimal
from typing import TYPE_CHECKING, Any

from ml_gen.yamlio import FieldPath

if TYPE_CHECKING:
    from ml_gen.config.model import EnvConfig

MIN_RESTRICTED_ID = 10000
MODEL_ENV = {"name": "MODEL_NAME", "version": "MODEL_VERSION", "uri": "MODEL_URI", "framework": "MODEL_FRAMEWORK"}

_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?\Z")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_SUFFIXES: dict[str, Decimal | int] = {
    "": 1,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("0.001"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
# Characters Helm's toYaml cannot carry: DEL, the C1 controls (U+0085 comes back mangled) and
# the non-characters U+FFFE/U+FFFF. Helm drops the whole value (every env var, every annotation) without
# an error, so the chart's output would silently differ from ml-gen's manifests: refuse them instead.
_NOT_FOR_HELM = re.compile("[\x7f-\x9f\ufffe\uffff]")
_QUANTITY = re.compile(r"\+?(?P<num>[0-9]+(\.[0-9]*)?|\.[0-9]+)(?P<suffix>[eE][+-]?[0-9]+|[a-zA-Z]*)\Z")
MAX_QUANTITY = 2**63 - 1
"""Kubernetes reads quantities as int64 (Value() for bytes, MilliValue() for CPU); beyond this they overflow."""
_NANO = Decimal("1e-9")
_EXPONENT_CAP = 10**6  # |exponent| beyond this is out of every range anyway; keeps the arithmetic small


def quantity(value: str | int | float) -> Decimal:
    """The value of a Kubernetes quantity (pattern-checked by the schema), rounded up to 1n as Kubernetes does."""
    match = _QUANTITY.match(str(value))
    if not match:
        raise ValueError(f"not a quantity: {value!r}")
    number, suffix = Decimal(match["num"]), match["suffix"]
    context = Context(prec=len(match["num"]) + 40, Emax=10 * _EXPONENT_CAP, Emin=-10 * _EXPONENT_CAP)
    if suffix in _SUFFIXES:  # before the exponent form: "E" and "Ei" are suffixes too
        amount = context.multiply(number, Decimal(_SUFFIXES[suffix]))
    elif not re.fullmatch("[eE][-+]?[0-9]+", suffix):
        raise ValueError(f"not a quantity: {value!r}")
    else:
        digits = suffix[1:].lstrip("+-").lstrip("0") or "0"
        exponent = min(int(digits[:8]), _EXPONENT_CAP) * (-1 if suffix[1] == "-" else 1)
        amount = number.scaleb(exponent, context)
    if amount and amount < _NANO:
        return _NANO
    return amount if amount > 10**30 else amount.quantize(_NANO, rounding=ROUND_UP, context=context)


def quantity_problem(name: str, value: str | int | float) -> str | None:
    """Why a resource quantity cannot be used, or None: not a quantity, or too large for Kubernetes to count."""
    try:
        amount = quantity(value)
    except ValueError:  # YAML's .inf and .nan are numbers the schema lets through
        return f"{value} is not a Kubernetes quantity"
    scale = 1000 if name == "cpu" else 1  # CPU is counted in millicores
    if amount > Decimal(MAX_QUANTITY) / scale:
        unit = "millicores" if name == "cpu" else "units"
        return f"{value} is too large: Kubernetes counts {name} in int64 {unit} (at most {MAX_QUANTITY})"
    return None


def label_key_problem(key: str) -> str | None:
    """Why `key` is not a valid Kubernetes label or annotation key, or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix)):
        return f"invalid key prefix '{prefix}' (a DNS subdomain)"
    if not _LABEL_NAME.match(name):
        return f"invalid key '{key}' (a name of at most 63 letters, digits, '-', '_', '.', alphanumeric at both ends)"
    return None


def label_value_problem(value: str) -> str | None:
    """Why `value` is not a valid Kubernetes label value, or None."""
    if value == "" or _LABEL_NAME.match(value):
        return None
    return f"invalid label value '{value}' (at most 63 letters, digits, '-', '_', '.', alphanumeric at both ends)"


def check(env: EnvConfig) -> None:
    """Raise a ConfigError for the first rule the merged settings break."""
    s = env.settings
    checkers = (_text, _image, _replicas, _resources, _env_names, _security, _probes, _strategy, _shutdown, _pdb)
    for checker in (*checkers, _labels, _tolerations, _ingress, _pull_secrets, _tmp, _network_policy, _monitoring):
        checker(env, s)


def _shutdown(env: EnvConfig, s: dict[str, Any]) -> None:
    delay, grace = s["shutdownDelaySeconds"], s["terminationGracePeriodSeconds"]
    if delay and delay >= grace:
        raise env.error(
            "shutdownDelaySeconds",
            message=f"{delay} leaves the server no time to stop: keep it below terminationGracePeriodSeconds ({grace})",
        )


def _text(env: EnvConfig, s: dict[str, Any]) -> None:
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
    requests, limits = s["resources"]["requests"], s["resources"]["limits"]  # DEFAULTS has both, merged into
    for kind, given in (("requests", requests), ("limits", limits)):
        for name, value in given.items():
            problem = quantity_problem(name, value)
            if problem:
                raise env.error("resources", kind, name, message=problem)
    for name in sorted(set(requests) & set(limits)):
        if quantity(requests[name]) > quantity(limits[name]):
            raise env.error(
                "resources",
                "requests",
                name,
                message=f"request {requests[name]} is above the limit {limits[name]}",
            )


def _env_names(env: EnvConfig, s: dict[str, Any]) -> None:
    plain, secret = s.get("env", {}), s.get("secretEnv", {})
    for name in sorted(set(plain) & set(secret)):
        raise env.error("secretEnv", name, message=f"'{name}' is also set in env; give it once")
    for field, var in MODEL_ENV.items():
        if field in s.get("model", {}) and (var in plain or var in secret):
            where = "env" if var in plain else "secretEnv"
            raise env.error(where, var, message=f"'{var}' is set by ml-gen from model.{field}")


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


def _probes(env: EnvConfig, s: dict[str, Any]) -> None:
    for probe in ("startup", "liveness"):
        if s["probes"][probe].get("successThreshold", 1) != 1:
            raise env.error("probes", probe, "successThreshold", message="must be 1 for liveness and startup probes")
    for probe in ("startup", "liveness", "readiness"):
        settings = s["probes"][probe]
        kind = settings.get("type") or s["health"].get("type", "http")
        if "command" in settings and kind != "exec":
            raise env.error("probes", probe, "command", message=f"is only used by exec probes (this one is {kind})")
        if kind == "exec" and not (settings.get("command") or s["health"].get("command")):
            where = ("probes", probe, "type") if settings.get("type") else ("health", "type")
            raise env.error(
                *where, message=f"an exec {probe} probe needs a command: health.command or probes.{probe}.command"
            )


def _strategy(env: EnvConfig, s: dict[str, Any]) -> None:
    if all(str(s["strategy"][key]).rstrip("%") == "0" for key in ("maxSurge", "maxUnavailable")):
        raise env.error("strategy", message="maxSurge and maxUnavailable cannot both be 0 (no rollout could start)")


def _pdb(env: EnvConfig, s: dict[str, Any]) -> None:
    pdb = s["podDisruptionBudget"]
    if "minAvailable" in pdb and "maxUnavailable" in pdb:
        raise env.error("podDisruptionBudget", message="give minAvailable or maxUnavailable, not both")
    hpa = s["autoscaling"]
    if not pdb["enabled"] or (hpa["maxReplicas"] if hpa["enabled"] else s["replicas"]) <= 1:
        return  # no PDB is rendered
    fewest = hpa["minReplicas"] if hpa["enabled"] else s["replicas"]
    pods = f"autoscaling.minReplicas ({fewest})" if hpa["enabled"] else f"replicas ({fewest})"
    if "minAvailable" in pdb:
        wanted = pdb["minAvailable"]
        if pdb_count(wanted, fewest) >= fewest:
            raise env.error(
                "podDisruptionBudget",
                "minAvailable",
                message=f"minAvailable {wanted} keeps every pod of {pods} running, so no pod could ever be "
                "evicted (node drains would hang): lower it, or use maxUnavailable: 1",
            )
    elif pdb_count(pdb.get("maxUnavailable", 1), fewest) == 0:
        wanted = pdb["maxUnavailable"]
        raise env.error(
            "podDisruptionBudget",
            "maxUnavailable",
            message=f"maxUnavailable {wanted} lets no pod be evicted (node drains would hang): use at least 1, "
            "or set podDisruptionBudget.enabled: false",
        )


def pdb_count(value: int | str, pods: int) -> int:
    """A PDB's minAvailable or maxUnavailable as a pod count; percentages round up, as Kubernetes does."""
    if isinstance(value, str):
        return -(-int(value.rstrip("%")) * pods // 100)
    return value


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


def toleration_problem(toleration: dict[str, Any]) -> tuple[str, str] | None:
    """(field, why) for the first rule of Kubernetes' ValidateTolerations a toleration breaks, or None."""
    key, value = toleration.get("key", ""), toleration.get("value", "")
    operator = toleration.get("operator", "Equal")
    if key:
        problem = label_key_problem(key)
        if problem:
            return "key", problem
    elif operator != "Exists":
        return "operator", "an empty key needs operator: Exists (which tolerates every taint)"
    if operator == "Exists" and value:
        return "value", "must be empty with operator: Exists"
    if operator == "Equal" and label_value_problem(value):
        return "value", str(label_value_problem(value))
    if "tolerationSeconds" in toleration and toleration.get("effect") != "NoExecute":
        return "tolerationSeconds", "needs effect: NoExecute (Kubernetes refuses it with any other effect)"
    return None


def _tolerations(env: EnvConfig, s: dict[str, Any]) -> None:
    for index, toleration in enumerate(s.get("tolerations", [])):
        problem = toleration_problem(toleration)
        if problem:
            field, message = problem
            where = ("tolerations", index, field) if field in toleration else ("tolerations", index)
            raise env.error(*where, message=message)


_IP_ADDRESS = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}\Z")
BAD_PATH_PARTS = ("//", "/./", "/../", "%2f", "%2F")
BAD_PATH_ENDS = ("/..", "/.")


def ingress_path_problem(path: str, path_type: str) -> str | None:
    """Why Kubernetes refuses an Ingress path of an Exact or Prefix rule, or None."""
    if path_type == "ImplementationSpecific":
        return None
    for part in BAD_PATH_PARTS:
        if part in path:
            return f"must not contain '{part}' (pathType {path_type})"
    for end in BAD_PATH_ENDS:
        if path.endswith(end):
            return f"must not end with '{end}' (pathType {path_type})"
    return None


def _ingress(env: EnvConfig, s: dict[str, Any]) -> None:
    ingress = s["ingress"]
    if not ingress["enabled"]:
        return
    problem = ingress_path_problem(ingress["path"], ingress["pathType"])
    if problem:
        raise env.error("ingress", "path", message=problem)
    host = ingress.get("host", "")
    if _IP_ADDRESS.match(host) and all(int(part) <= 255 for part in host.split(".")):
        raise env.error("ingress", "host", message=f"'{host}' is an IP address; Kubernetes wants a DNS name")


def _tmp(env: EnvConfig, s: dict[str, Any]) -> None:
    """/tmp's size limit is a quantity, above zero, and within the container's ephemeral-storage limit."""
    size = s["tmpSizeLimit"]
    problem = quantity_problem("tmpSizeLimit", size)
    if problem or quantity(size) == 0:
        raise env.error("tmpSizeLimit", message=problem or "must be above 0 (the server needs a writable /tmp)")
    limit = s["resources"]["limits"].get("ephemeral-storage")  # DEFAULTS hold limits; maps merge
    if limit is not None and quantity(size) > quantity(limit):
        raise env.error(
            "tmpSizeLimit",
            message=f"{size} is above the ephemeral-storage limit {limit}: the pod would be evicted first",
        )


def cidr_problem(cidr: str) -> str | None:
    """Why the API server refuses `cidr` in an ipBlock, or None. The schema's pattern already asks for
    ADDRESS/PREFIX; beyond parsing, Kubernetes wants the canonical form (no host bits, no leading zero
    in the prefix, no IPv4-mapped IPv6 address)."""
    import ipaddress

    address, _, prefix = cidr.partition("/")
    try:
        network = ipaddress.ip_network(cidr, strict=False)
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"{cidr!r} is not an IP network (such as 10.0.0.0/8 or fd00::/64)"
    if len(prefix) > 1 and prefix.startswith("0"):
        return f"{cidr!r} has a leading 0 in its prefix length: write {network}"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return f"{cidr!r} is an IPv4-mapped IPv6 address: write the IPv4 network"
    if ip != network.network_address:
        return f"{cidr!r} has bits set beyond the prefix length: write {network}"
    return None


def _network_policy(env: EnvConfig, s: dict[str, Any]) -> None:
    """Each egress CIDR is an IP network in the form the API server accepts."""
    for i, cidr in enumerate(s["networkPolicy"]["egress"]["cidrs"]):
        problem = cidr_problem(cidr)
        if problem:
            raise env.error("networkPolicy", "egress", "cidrs", i, message=problem)


def _monitoring(env: EnvConfig, s: dict[str, Any]) -> None:
    """A ServiceMonitor or alert rules need the metrics endpoint; their own labels are valid and
    do not repeat a label every object already has."""
    metrics = s["metrics"]
    for threshold in ("errorRatio", "p99LatencySeconds"):
        if not math.isfinite(metrics["alerts"][threshold]):  # YAML's .nan passes every bound of the schema
            raise env.error("metrics", "alerts", threshold, message="must be a number, not .nan")
    for key in ("serviceMonitor", "alerts"):
        if metrics[key]["enabled"] and not metrics["enabled"]:
            raise env.error(
                "metrics", key, "enabled", message="needs metrics.enabled: true (it reads the metrics path)"
            )
        for label, value in metrics[key]["labels"].items():
            problem = label_key_problem(label) or label_value_problem(value)
            if label.startswith("app.kubernetes.io/"):
                problem = f"'{label}' is set by ml-gen"
            elif label in s.get("labels", {}):
                problem = f"'{label}' is already in labels, which every object carries"
            if problem:
                raise env.error("metrics", key, "labels", label, message=problem)

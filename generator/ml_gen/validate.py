"""Offline checks of rendered environments: chart values schema, Kubernetes OpenAPI, names, wiring."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ml_gen import chart, patterns
from ml_gen.errors import UsageError
from ml_gen.rules import DNS_SUBDOMAIN, label_key_problem, label_value_problem
from ml_gen.values import PROBE_PATHS

if TYPE_CHECKING:
    from ml_gen.project import Rendered

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_LABEL_NAMED_KINDS = {"Service", "Deployment"}  # names that must be DNS-1035/1123 labels (<= 63)


@dataclass
class Report:
    """Findings per object: ok, or problems; warnings do not fail unless they would block pods."""

    entries: list[tuple[str, str, list[str]]] = field(default_factory=list)
    warnings: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, where: str, obj: str, problems: list[str]) -> None:
        self.entries.append((where, obj, problems))

    def warn(self, where: str, obj: str, message: str) -> None:
        """A finding worth a look that does not fail the check."""
        self.warnings.append((where, obj, message))

    @property
    def ok(self) -> bool:
        return not any(problems for _, _, problems in self.entries)

    def lines(self) -> list[str]:
        out = []
        for where, obj, problems in self.entries:
            if not problems:
                out.append(f"ok    {where}  {obj}")
            for problem in problems:
                out.append(f"FAIL  {where}  {obj}: {problem}")
        out += [f"WARN  {where}  {obj}: {message}" for where, obj, message in self.warnings]
        failed = sum(1 for _, _, p in self.entries if p)
        warned = f", {len(self.warnings)} warning(s)" if self.warnings else ""
        out.append(f"{len(self.entries) - failed} passed, {failed} failed{warned}")
        return out

    def __iadd__(self, other: Report) -> Report:
        self.entries += other.entries
        self.warnings += other.warnings
        return self


def object_id(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def offline(rendered: list[Rendered], kube_version: str | None = None) -> Report:
    """Values schema, Kubernetes OpenAPI schemas, name and label rules and wiring, per environment."""
    version = schema_version(kube_version)
    values_schema = json.loads((chart.directory() / "values.schema.json").read_text("utf-8"))
    values_validator = patterns.validator_class("7")(values_schema)  # Helm reads `$` as Go does
    report = Report()
    for item in rendered:
        where = f"{item.config.file}:{item.env}"
        problems = [
            f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in values_validator.iter_errors(item.values)
        ]
        report.add(where, f"values/{item.env}.yaml", problems)
        wiring = _wiring(item.objects)
        for obj in item.objects:
            report.add(where, object_id(obj), _openapi(obj, version) + _names(obj) + wiring.get(object_id(obj), []))
            if obj["kind"] == "Deployment":
                for message in default_probe_paths(item):
                    report.warn(where, object_id(obj), message)
    return report


def default_probe_paths(item: Rendered) -> list[str]:
    """HTTP probes that GET ml-gen's default path, which the config never names (the server may not have it)."""
    layers = [item.config.data.get("health", {}), item.config.data["environments"][item.env].get("health", {})]
    found: dict[str, tuple[str, list[str]]] = {}
    for probe, key in PROBE_PATHS.items():
        get = item.values[f"{probe}Probe"].get("httpGet")
        if get and not any(key in layer for layer in layers):
            found.setdefault(key, (get["path"], []))[1].append(f"{probe}Probe")
    return [
        f"{' and '.join(probes)} GET {path}, ml-gen's default path, which the config does not name: "
        f"set health.{key} to a route the server answers, or health.type: tcp"
        for key, (path, probes) in found.items()
    ]


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.removeprefix("v").split(".")[:2]
    return int(major), int(minor)


def schema_version(kube_version: str | None) -> str:
    """The Kubernetes version whose bundled schemas check the objects: --kube-version, or the newest shipped."""
    import kubernetes_validate.utils as kv

    shipped = sorted({_minor(v) for v in kv.all_versions()})
    oldest, newest = (f"{major}.{minor}" for major, minor in (shipped[0], shipped[-1]))
    if kube_version is None:
        return newest
    match = re.fullmatch(r"v?(1\.[0-9]{1,4})(\.[0-9]{1,6})?", kube_version)
    if not match or not shipped[0] <= _minor(match[1]) <= shipped[-1]:
        raise UsageError(
            f"--kube-version {kube_version!r}: schemas are bundled for Kubernetes {oldest} to {newest} "
            "(MAJOR.MINOR or MAJOR.MINOR.PATCH)"
        )
    return match[1]


def _openapi(obj: dict[str, Any], version: str) -> list[str]:
    """Problems of one object under the strict OpenAPI schema of its kind for a Kubernetes version."""
    import kubernetes_validate

    try:
        validator = _kube_validator(obj["kind"], obj["apiVersion"], version)
    except kubernetes_validate.utils.VersionNotSupportedError:
        return [f"Kubernetes version {version} is not supported by kubernetes-validate"]
    if validator is None:
        return [f"Kubernetes {version} has no schema for {obj['apiVersion']} {obj['kind']}"]
    error = next(iter(validator.iter_errors(obj)), None)
    if error is None:
        return []
    path = ".".join(str(p) for p in error.absolute_path)
    return [f"Kubernetes {version} schema: {path}: {error.message}"]


@lru_cache(maxsize=64)
def _kube_validator(kind: str, api_version: str, version: str) -> Any:
    """A compiled validator for one kind, from kubernetes-validate's strict schemas (as its validate()
    finds them), built once per run instead of once per object."""
    import kubernetes_validate.utils as kv
    from referencing import Registry, Resource

    shipped = max((v for v in kv.all_versions() if _minor(v) <= _minor(version)), key=_minor)
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    directory = f"kubernetes-json-schema/v{shipped}-local-strict"
    try:
        schema = kv.schema_contents(f"{directory}/{kind.lower()}-{group_version}.json", version)
    except FileNotFoundError:
        return None
    definitions = kv.schema_contents(f"{directory}/_definitions.json", version)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return patterns.validator_class("2020-12")(schema, registry=registry)


def _names(obj: dict[str, Any]) -> list[str]:
    meta = obj.get("metadata", {})
    name = meta.get("name", "")
    problems = []
    pattern, limit = (_DNS_LABEL, 63) if obj["kind"] in _LABEL_NAMED_KINDS else (DNS_SUBDOMAIN, 253)
    if not pattern.match(name) or len(name) > limit:
        problems.append(f"metadata.name '{name}' is not a valid {obj['kind']} name")
    if not meta.get("namespace"):
        problems.append("metadata.namespace is missing")
    for where, labels in _label_maps(obj):
        for key, value in labels.items():
            problem = label_key_problem(key) or label_value_problem(str(value))
            if problem:
                problems.append(f"{where}: {problem}")
    return problems


def _label_maps(obj: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    maps = [("metadata.labels", obj["metadata"].get("labels", {}))]
    template = obj.get("spec", {}).get("template", {})
    if template:
        maps.append(("spec.template.metadata.labels", template.get("metadata", {}).get("labels", {})))
    return maps


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _wiring(objects: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Cross-object checks: selectors select the pods, referenced objects and ports exist."""
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    found: dict[str, list[str]] = {}

    def problem(obj: dict[str, Any], message: str) -> None:
        found.setdefault(object_id(obj), []).append(message)

    deployments = by_kind.get("Deployment", {})
    pod_labels = {}
    for deployment in deployments.values():
        spec = deployment["spec"]
        labels = spec["template"]["metadata"].get("labels", {})
        pod_labels[deployment["metadata"]["name"]] = labels
        if not _matches(spec["selector"].get("matchLabels", {}), labels):
            problem(deployment, "spec.selector does not match the pod template labels")
        pod = spec["template"]["spec"]
        account = pod.get("serviceAccountName")
        if account and account not in by_kind.get("ServiceAccount", {}):
            problem(deployment, f"ServiceAccount '{account}' is not rendered")
        for volume in pod.get("volumes", []):
            ref = volume.get("configMap", {}).get("name")
            if ref and ref not in by_kind.get("ConfigMap", {}):
                problem(deployment, f"ConfigMap '{ref}' is not rendered")
        for container in pod["containers"]:
            ports = {p.get("name") for p in container.get("ports", [])} | {
                p["containerPort"] for p in container.get("ports", [])
            }
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                check = container.get(probe, {})
                port = (check.get("httpGet") or check.get("tcpSocket") or {}).get("port")
                if port is not None and port not in ports:
                    problem(
                        deployment,
                        f"{container['name']}.{probe} uses port '{port}', which the container does not expose",
                    )
        for constraint in pod.get("topologySpreadConstraints", []):
            if not _matches(constraint.get("labelSelector", {}).get("matchLabels", {}), labels):
                problem(deployment, "a topologySpreadConstraint does not select the pods")
    all_pods = list(pod_labels.values())
    for kind in ("Service", "PodDisruptionBudget"):
        for obj in by_kind.get(kind, {}).values():
            selector = obj["spec"].get("selector", {})
            selector = selector.get("matchLabels", {}) if kind == "PodDisruptionBudget" else selector
            if not any(_matches(selector, labels) for labels in all_pods):
                problem(obj, "its selector matches no pods of a rendered Deployment")
    for service in by_kind.get("Service", {}).values():
        names = {
            p.get("name")
            for d in deployments.values()
            for c in d["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
        }
        for port in service["spec"].get("ports", []):
            if isinstance(port.get("targetPort"), str) and port["targetPort"] not in names:
                problem(service, f"targetPort '{port['targetPort']}' is not a container port name")
    for hpa in by_kind.get("HorizontalPodAutoscaler", {}).values():
        target = hpa["spec"]["scaleTargetRef"]
        if target["kind"] != "Deployment" or target["name"] not in deployments:
            problem(hpa, f"scale target {target['kind']}/{target['name']} is not rendered")
    for ingress in by_kind.get("Ingress", {}).values():
        for rule in ingress["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"]["service"]
                backend_service = by_kind.get("Service", {}).get(backend["name"])
                if backend_service is None:
                    problem(ingress, f"backend Service '{backend['name']}' is not rendered")
                elif backend["port"].get("name") not in {p.get("name") for p in backend_service["spec"]["ports"]}:
                    problem(ingress, f"backend port '{backend['port']}' is not a port of Service '{backend['name']}'")
    return found

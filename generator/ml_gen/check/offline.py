"""Offline checks of rendered environments: chart values schema, each object's schema, names, wiring."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ml_gen import chart, kinds, patterns
from ml_gen.check.report import Report, object_id
from ml_gen.errors import UsageError
from ml_gen.k8s.gates import pod_spec_problems
from ml_gen.k8s.names import DNS_LABEL, DNS_SUBDOMAIN, label_key_problem, label_value_problem
from ml_gen.values import PROBE_PATHS

if TYPE_CHECKING:
    from ml_gen.render import Rendered


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
        index = kinds.index(item.objects)
        for obj in item.objects:
            kind = kinds.of(obj)
            problems = _schema(kind, obj, version) + _names(kind, obj) + kind.wiring(obj, index)
            if kind.pod_template is not None:
                problems += [
                    f"pod template: {p}" for p in pod_spec_problems(kind.pod_template(obj)["spec"], _minor(version))
                ]
            report.add(where, object_id(obj), problems)
            if kind.pod_template is not None:
                for message in default_probe_paths(item):
                    report.warn(where, object_id(obj), message)
            if obj["kind"] == "NetworkPolicy":
                for message in closed_doors(item.values):
                    report.warn(where, object_id(obj), message)
    return report


def delivery(environments: list[tuple[Rendered, list[dict[str, Any]]]]) -> Report:
    """The delivery objects of each environment (delivery/<env>/) against their CRDs' schemas and CEL rules,
    and ml-gen's name and label rules."""
    report = Report()
    for item, objects in environments:
        where = f"{item.config.file}:{item.env}"
        for obj in objects:
            kind = kinds.of(obj)
            report.add(where, f"delivery/{object_id(obj)}", _schema(kind, obj, "") + _names(kind, obj))
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


def closed_doors(values: dict[str, Any]) -> list[str]:
    """What the NetworkPolicy keeps out that the config seems to want in: the ingress controller, clients
    outside the cluster (a LoadBalancer or NodePort Service), Prometheus."""
    policy, found = values["networkPolicy"], []
    if values["ingress"]["enabled"] and not policy["ingressNamespaces"]:
        found.append(
            "the Ingress is on, but only this namespace may reach the server port: add the ingress "
            "controller's namespace to networkPolicy.allowNamespaces"
        )
    service_type = values["service"]["type"]
    if service_type in ("LoadBalancer", "NodePort"):
        found.append(
            f"the Service is a {service_type}, but the NetworkPolicy admits only pods of this namespace and of "
            "networkPolicy.allowNamespaces, so traffic from outside the cluster is dropped: route it through the "
            "Ingress (its controller's namespace in networkPolicy.allowNamespaces), or set networkPolicy.enabled: false"
        )
    if values["podAnnotations"].get("prometheus.io/scrape") == "true" and not policy["metricsNamespaces"]:
        found.append(
            "metrics are on, but only this namespace may reach the metrics port: add Prometheus's "
            "namespace to networkPolicy.metricsNamespaces"
        )
    return found


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


def _schema(kind: kinds.Kind, obj: dict[str, Any], version: str) -> list[str]:
    """Problems of one object under its kind's schema: Kubernetes' OpenAPI, or its CRD's."""
    if kind.schema == "crd":
        from ml_gen.k8s import crd

        return [f"CRD schema: {problem}" for problem in crd.problems(obj)]
    return _openapi(obj, version)


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


def _names(kind: kinds.Kind, obj: dict[str, Any]) -> list[str]:
    meta = obj.get("metadata", {})
    name = meta.get("name", "")
    problems = []
    pattern, limit = (DNS_LABEL, 63) if kind.name_rule == "dns-label" else (DNS_SUBDOMAIN, 253)
    if not pattern.match(name) or len(name) > limit:
        problems.append(f"metadata.name '{name}' is not a valid {obj['kind']} name")
    if kind.namespaced and not meta.get("namespace"):
        problems.append("metadata.namespace is missing")
    if not kind.namespaced and "namespace" in meta:
        problems.append(f"metadata.namespace is set, but a {obj['kind']} belongs to no namespace")
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

"""What ml-gen knows about one Kubernetes kind, and the rendered objects one check looks across."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ml_gen.kinds.helpers import Context

Object = dict[str, Any]


def _no_wiring(obj: Object, rendered: ObjectIndex) -> list[str]:
    return []


@dataclass(frozen=True)
class Kind:
    """One kind: how its object is built, how the API server addresses it, its name rule, where its
    schema comes from, and its checks against the other rendered objects."""

    kind: str
    api_version: str
    plural: str
    template: str | None
    """The chart template (charts/ml-model-api/templates/<template>.yaml) that renders the same object from the
    same values; None for a kind that is never part of the release (the objects that deploy it)."""
    build: Callable[[Context], Object | None]
    name_rule: Literal["dns-label", "dns-subdomain"] = "dns-subdomain"
    schema: Literal["kubernetes", "crd"] = "kubernetes"
    wiring: Callable[[Object, ObjectIndex], list[str]] = _no_wiring
    namespaced: bool = True
    pod_template: Callable[[Object], Object] | None = None
    """For a workload: where its pod template (metadata and spec) sits in its object."""
    config_field: str = "annotations"
    """The config field to blame when the object as a whole is over etcd's size limit."""
    live_check: Callable[[Object, Object], list[str]] | None = None
    """validate --server: why the live object (first) cannot become the rendered one, where only the kind's
    admission webhook would say so (a cluster without it accepts the dry run)."""
    name: str = ""
    """The registry's name for the kind when `kind` alone is taken (Knative's Service is KnativeService);
    "": the kind itself. Targets list kinds by this name; objects are matched by apiVersion and kind."""

    @property
    def key(self) -> str:
        """The kind's name in the registry, the targets' lists and ObjectIndex."""
        return self.name or self.kind

    @property
    def path_prefix(self) -> str:
        """The API path before /namespaces/...: api/v1 for the core group, else apis/<group>/<version>."""
        return f"api/{self.api_version}" if "/" not in self.api_version else f"apis/{self.api_version}"


class ObjectIndex:
    """The objects of one environment by registry name (Kind.key) and name, for checks that look across objects."""

    def __init__(
        self,
        objects: list[Object],
        workloads: dict[str, Callable[[Object], Object]],
        key: Callable[[Object], str] = lambda obj: str(obj["kind"]),
    ):
        """`workloads`: the pod-template accessor of every workload kind by registry name; `key`: an object's
        registry name (kinds.index passes the registry's, which reads apiVersion and kind)."""
        self.by_kind: dict[str, dict[str, Object]] = {}
        for obj in objects:
            self.by_kind.setdefault(key(obj), {})[obj["metadata"]["name"]] = obj
        self.workloads = workloads

    def get(self, kind: str, name: str) -> Object | None:
        return self.by_kind.get(kind, {}).get(name)

    def of_kind(self, kind: str) -> list[Object]:
        return list(self.by_kind.get(kind, {}).values())

    def pod_templates(self) -> list[Object]:
        """The pod templates of the rendered workloads (each with metadata and spec)."""
        return [template(obj) for kind, template in self.workloads.items() for obj in self.of_kind(kind)]

    def container_port_names(self) -> set[str | None]:
        """The names of the container ports of the rendered workloads' pods."""
        return {
            p.get("name") for t in self.pod_templates() for c in t["spec"]["containers"] for p in c.get("ports", [])
        }

    def selects_pods(self, selector: dict[str, str]) -> bool:
        """Whether a non-empty label selector selects the pods of some rendered workload."""
        return any(matches(selector, t["metadata"].get("labels", {})) for t in self.pod_templates())


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """A matchLabels selector against labels; an empty selector matches nothing here (ml-gen never means all)."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pod_references(pod: dict[str, Any], rendered: ObjectIndex) -> list[str]:
    """What a pod spec names that must be rendered beside it: its ServiceAccount and ConfigMap volumes."""
    problems = []
    account = pod.get("serviceAccountName")
    if account and rendered.get("ServiceAccount", account) is None:
        problems.append(f"ServiceAccount '{account}' is not rendered")
    for volume in pod.get("volumes", []):
        ref = volume.get("configMap", {}).get("name")
        if ref and rendered.get("ConfigMap", ref) is None:
            problems.append(f"ConfigMap '{ref}' is not rendered")
    return problems

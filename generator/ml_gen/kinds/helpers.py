"""What every kind's object is built from: the chart values plus the helpers of the chart's _helpers.tpl."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ml_gen import chart
from ml_gen.promql import PodQuery

MANAGED_BY = "ml-gen"


def data(value: Any) -> Any:
    """A value from the chart values as it lands in an object: every mapping in key order (as Helm's toYaml)."""
    if isinstance(value, dict):
        return {key: data(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [data(item) for item in value]
    return value


def without_nulls(mapping: dict[str, Any]) -> dict[str, Any]:
    """Helm drops the keys a values file sets to null (that is how it removes a chart default): the same here."""
    return {key: value for key, value in mapping.items() if value is not None}


def image_reference(image: dict[str, Any], app_version: str) -> str:
    """repository@digest when pinned by digest, else repository:tag (chart appVersion by default)."""
    if image.get("digest"):
        return f"{image['repository']}@{image['digest']}"
    return f"{image['repository']}:{image.get('tag') or app_version}"


def _dns_trim(name: str) -> str:
    """The chart's `trunc 63 | trimSuffix "-"`."""
    return name[:63].removesuffix("-")


@dataclass(frozen=True)
class Context:
    """One release of the chart: its values, release name and namespace, and the names and labels
    that _helpers.tpl computes from them."""

    values: dict[str, Any]
    release: str
    namespace: str
    chart_name: str
    name: str
    fullname: str
    selector_labels: dict[str, str]
    labels: dict[str, str]
    service_account_name: str
    image: str
    pods: PodQuery
    """How the alerts and the dashboard find this release's pods (the serving target's; _helpers.tpl's podQuery)."""

    @property
    def server_container(self) -> str:
        """The server's container in the release's pods: the target's name for it, else the chart's name."""
        return self.pods.container or self.chart_name

    def metadata(
        self,
        name: str | None = None,
        annotations: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """An object's metadata: name (default: fullname), namespace, the common labels (with the
        object's own), and the common annotations under the object's own (omitted when there are none)."""
        meta: dict[str, Any] = {
            "name": name or self.fullname,
            "namespace": self.namespace,
            "labels": data({**self.labels, **(labels or {})}),
        }
        merged = {**self.values.get("commonAnnotations", {}), **(annotations or {})}
        if merged:
            meta["annotations"] = data(merged)
        return meta


def context(values: dict[str, Any], release: str, namespace: str, pod_query: Callable[[str, str], PodQuery]) -> Context:
    """The chart's helpers for one release, computed once; `pod_query` is the serving target's."""
    meta = chart.metadata()
    name = _dns_trim(values.get("nameOverride") or meta["name"])
    if values.get("fullnameOverride"):
        fullname = _dns_trim(values["fullnameOverride"])
    elif name in release:
        fullname = _dns_trim(release)
    else:
        fullname = _dns_trim(f"{release}-{name}")
    selector = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": release}
    labels = dict(selector)
    image = values["image"]
    if not image.get("digest"):
        labels["app.kubernetes.io/version"] = image.get("tag") or meta["appVersion"]
    labels["app.kubernetes.io/component"] = values["component"]
    labels["app.kubernetes.io/part-of"] = values.get("partOf") or name
    labels["app.kubernetes.io/managed-by"] = MANAGED_BY
    labels.update(values.get("commonLabels", {}))
    account = values["serviceAccount"]
    account_name = account.get("name") or (fullname if account["create"] else "default")
    return Context(
        values=values,
        release=release,
        namespace=namespace,
        chart_name=meta["name"],
        name=name,
        fullname=fullname,
        selector_labels=selector,
        labels=labels,
        service_account_name=account_name,
        image=image_reference(image, meta["appVersion"]),
        pods=pod_query(fullname, namespace),
    )

"""Where one environment's files and chart sit in its Git repository, from a delivery tool's settings."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any

DEFAULT_CHART = "charts/ml-model-api"
"""The chart's directory under `path` when the settings name none (where `ml-gen chart export .` puts it)."""
HELM_CHART_MEDIA_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"


@dataclass(frozen=True)
class OciChart:
    """A chart in an OCI registry: oci://host/path/name:tag."""

    url: str
    """oci://host/path/name, without the tag."""
    tag: str

    @property
    def name(self) -> str:
        return self.url.rpartition("/")[2]

    @property
    def registry_path(self) -> str:
        """host/path: the chart's repository as Argo CD names a Helm OCI repository (no scheme, no name)."""
        return self.url.removeprefix("oci://").rpartition("/")[0]


@dataclass(frozen=True)
class Repository:
    """The settings every delivery tool shares, resolved: the Git repository, its revision, and where the
    environment's values file, manifests directory and chart are in it."""

    url: str
    revision: str
    path: str
    deploy: str
    values_file: str
    manifests_dir: str
    chart: str | OciChart
    """The chart's directory in the repository, or an OCI chart."""


def resolve(settings: dict[str, Any], values_file: str, manifests_dir: str) -> Repository:
    """The repository layout of one environment: `values_file` and `manifests_dir` are relative to the config's
    directory, which is `path` in the repository (as is the default chart)."""
    root = settings.get("path", ".")
    chart = settings.get("chart", posixpath.join(root, DEFAULT_CHART))
    return Repository(
        url=settings["repoURL"],
        revision=settings["revision"],
        path=root,
        deploy=settings.get("deploy", "chart"),
        values_file=_in(root, values_file),
        manifests_dir=_in(root, manifests_dir),
        chart=_oci(chart) if chart.startswith("oci://") else posixpath.normpath(chart),
    )


def _in(root: str, relative: str) -> str:
    return posixpath.normpath(posixpath.join(root, relative))


def _oci(reference: str) -> OciChart:
    url, _, tag = reference.rpartition(":")
    return OciChart(url, tag)


COMMIT = re.compile(r"^[0-9a-f]{40}$")

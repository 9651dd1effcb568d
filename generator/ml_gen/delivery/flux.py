"""Flux: per environment a source (GitRepository, or OCIRepository for an OCI chart) and a HelmRelease that
installs the chart with the environment's values, or a Kustomization that applies its plain manifests."""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from ml_gen.delivery import repository
from ml_gen.delivery.repository import COMMIT, HELM_CHART_MEDIA_TYPE, OciChart, Repository

if TYPE_CHECKING:
    from ml_gen.delivery.seam import Object, Where

SOURCE_API = "source.toolkit.fluxcd.io/v1"
HELM_API = "helm.toolkit.fluxcd.io/v2"
KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
DEFAULTS = {"namespace": "flux-system", "interval": "10m", "timeout": "5m", "retries": 3, "prune": True}


def build(where: Where) -> list[Object]:
    settings = {**DEFAULTS, **where.settings["delivery"]["flux"]}
    repo = repository.resolve(settings, str(where.values_file), str(where.manifests_dir))
    name = f"{where.release}-{where.env}"
    metadata = {"name": name, "namespace": settings["namespace"]}
    if repo.deploy == "manifests":
        return [git_repository(repo, metadata, settings), kustomization(repo, metadata, settings)]
    if isinstance(repo.chart, OciChart):
        source = oci_repository(repo.chart, metadata, settings)
        chart = {"chartRef": {"kind": "OCIRepository", "name": name}, "values": where.values}
    else:
        source = git_repository(repo, metadata, settings)
        chart = {"chart": {"spec": chart_spec(repo, repo.chart, name)}}
    return [source, helm_release(where, metadata, settings, chart)]


def git_ref(revision: str) -> dict[str, str]:
    """A GitRepository's ref: a 40-character commit, a full ref name (refs/tags/v1), or else a branch."""
    if COMMIT.match(revision):
        return {"commit": revision}
    return {"name": revision} if revision.startswith("refs/") else {"branch": revision}


def git_repository(repo: Repository, metadata: dict[str, Any], settings: dict[str, Any]) -> Object:
    spec = {"interval": settings["interval"], "url": repo.url, "ref": git_ref(repo.revision)}
    return {"apiVersion": SOURCE_API, "kind": "GitRepository", "metadata": dict(metadata), "spec": spec}


def oci_repository(chart: OciChart, metadata: dict[str, Any], settings: dict[str, Any]) -> Object:
    spec = {
        "interval": settings["interval"],
        "url": chart.url,
        "ref": {"tag": chart.tag},
        "layerSelector": {"mediaType": HELM_CHART_MEDIA_TYPE, "operation": "copy"},
    }
    return {"apiVersion": SOURCE_API, "kind": "OCIRepository", "metadata": dict(metadata), "spec": spec}


def chart_spec(repo: Repository, chart: str, source: str) -> dict[str, Any]:
    """The chart from the GitRepository, rebuilt on every new commit, with the chart's defaults and then
    values/<env>.yaml from the same commit: what `helm install -f values/<env>.yaml` does."""
    return {
        "chart": f"./{chart}",
        "reconcileStrategy": "Revision",
        "sourceRef": {"kind": "GitRepository", "name": source},
        "valuesFiles": [f"./{posixpath.join(chart, 'values.yaml')}", f"./{repo.values_file}"],
    }


def helm_release(where: Where, metadata: dict[str, Any], settings: dict[str, Any], chart: Object) -> Object:
    """Install into the release's namespace (created if missing); a failed install is retried, a failed
    upgrade is rolled back, also when the retries ran out on the previous reconcile."""
    retries = settings["retries"]
    spec = {
        "interval": settings["interval"],
        "releaseName": where.release,
        "targetNamespace": where.namespace,
        "storageNamespace": where.namespace,
        "timeout": settings["timeout"],
        **chart,
        "install": {"createNamespace": True, "remediation": {"retries": retries}},
        "upgrade": {
            "cleanupOnFail": True,
            "strategy": {"name": "RemediateOnFailure"},
            "remediation": {"retries": retries, "strategy": "rollback", "remediateLastFailure": True},
        },
        "rollback": {"cleanupOnFail": True},
    }
    return {"apiVersion": HELM_API, "kind": "HelmRelease", "metadata": dict(metadata), "spec": spec}


def kustomization(repo: Repository, metadata: dict[str, Any], settings: dict[str, Any]) -> Object:
    """Apply manifests/<env>/ (no kustomization.yaml: Flux takes every file), prune what is gone, and wait
    for the objects to be ready within the timeout."""
    spec = {
        "interval": settings["interval"],
        "sourceRef": {"kind": "GitRepository", "name": metadata["name"]},
        "path": f"./{repo.manifests_dir}",
        "prune": settings["prune"],
        "wait": True,
        "timeout": settings["timeout"],
    }
    return {"apiVersion": KUSTOMIZE_API, "kind": "Kustomization", "metadata": dict(metadata), "spec": spec}

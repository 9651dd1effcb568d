"""Argo CD: one Application per environment, syncing its chart and values file or its plain manifests."""

from __future__ import annotations

import copy
import posixpath
from typing import TYPE_CHECKING, Any

from ml_gen.delivery import repository
from ml_gen.delivery.repository import OciChart, Repository

if TYPE_CHECKING:
    from ml_gen.delivery.seam import Object, Where

API_VERSION = "argoproj.io/v1alpha1"
IN_CLUSTER = "https://kubernetes.default.svc"
SYNC_OPTIONS = ["CreateNamespace=true", "ServerSideApply=true"]
"""The release's namespace is not one of its objects; server-side apply, as `validate --server` checks the
objects, leaves fields other managers own (an HPA's replicas) alone and fits large ConfigMaps."""
RETRY = {"limit": 5, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}


def build(where: Where) -> list[Object]:
    settings = where.settings["delivery"]["argocd"]
    repo = repository.resolve(settings, str(where.values_file), str(where.manifests_dir))
    sync: dict[str, Any] = {"syncOptions": list(SYNC_OPTIONS), "retry": copy.deepcopy(RETRY)}
    if settings["sync"] == "automated":
        sync = {"automated": {"prune": settings["prune"], "selfHeal": settings["selfHeal"]}, **sync}
    spec: dict[str, Any] = {
        "project": settings.get("project", "default"),
        "destination": {"server": IN_CLUSTER, "namespace": where.namespace},
        **_sources(repo, where.release),
        "syncPolicy": sync,
    }
    metadata = {"name": f"{where.release}-{where.env}", "namespace": settings.get("namespace", "argocd")}
    return [{"apiVersion": API_VERSION, "kind": "Application", "metadata": metadata, "spec": spec}]


def _sources(repo: Repository, release: str) -> dict[str, Any]:
    """One source (the manifests directory, or the chart in the repository with its values file given
    relative to the chart), or two (an OCI chart, and this repository as `$values` for the values file)."""
    git = {"repoURL": repo.url, "targetRevision": repo.revision}
    if repo.deploy == "manifests":
        return {"source": {**git, "path": repo.manifests_dir}}
    if isinstance(repo.chart, OciChart):
        chart = {
            "repoURL": repo.chart.registry_path,
            "chart": repo.chart.name,
            "targetRevision": repo.chart.tag,
            "helm": {"releaseName": release, "valueFiles": [f"$values/{repo.values_file}"]},
        }
        return {"sources": [chart, {**git, "ref": "values"}]}
    values = posixpath.relpath(repo.values_file, repo.chart)
    return {"source": {**git, "path": repo.chart, "helm": {"releaseName": release, "valueFiles": [values]}}}

"""The kinds of the objects that deploy a release (ml_gen.delivery): custom resources, never chart templates."""

from __future__ import annotations

from ml_gen.kinds.kind import Kind, Object


def _not_from_values(ctx: object) -> Object | None:
    """Delivery objects are built by ml_gen.delivery from the output layout, not from chart values."""
    return None


def _kind(kind: str, api_version: str, plural: str) -> Kind:
    return Kind(kind, api_version, plural, None, _not_from_values, schema="crd")


APPLICATION = _kind("Application", "argoproj.io/v1alpha1", "applications")
GIT_REPOSITORY = _kind("GitRepository", "source.toolkit.fluxcd.io/v1", "gitrepositories")
OCI_REPOSITORY = _kind("OCIRepository", "source.toolkit.fluxcd.io/v1", "ocirepositories")
HELM_RELEASE = _kind("HelmRelease", "helm.toolkit.fluxcd.io/v2", "helmreleases")
KUSTOMIZATION = _kind("Kustomization", "kustomize.toolkit.fluxcd.io/v1", "kustomizations")
KINDS = (APPLICATION, GIT_REPOSITORY, OCI_REPOSITORY, HELM_RELEASE, KUSTOMIZATION)

"""Delivery: the objects that deploy a release (an Argo CD Application, a Flux HelmRelease), built once the
output layout is known, from the config, the environment and where its files land.

They are never chart templates, may live in another namespace, and are written to their own folder
(delivery/<env>/), which no other output points at. Each tool is one entry of TOOLS; an environment's
`delivery` setting names the tools that deploy it. See docs/development.md, "Adding a delivery tool".
"""

from __future__ import annotations

from ml_gen.delivery import argocd, flux
from ml_gen.delivery.seam import Object, Tool, Where

TOOLS: dict[str, Tool] = {
    "argocd": Tool("argocd", ("Application",), argocd.build),
    "flux": Tool("flux", ("GitRepository", "OCIRepository", "HelmRelease", "Kustomization"), flux.build),
}
"""Every delivery tool by the name the `delivery` setting uses."""


def objects(where: Where) -> list[Object]:
    """The delivery objects of one environment: those of every tool its `delivery` setting names, in name order."""
    chosen = sorted(where.settings.get("delivery") or {})
    return [obj for name in chosen for obj in TOOLS[name].build(where)]


__all__ = ["TOOLS", "Object", "Tool", "Where", "objects"]

"""Two states of one object made comparable, and their difference as field paths and a unified diff."""

from __future__ import annotations

import copy
import difflib
from typing import Any

from ml_gen import yamlio

SERVER_METADATA = ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink")
"""Metadata the API server keeps for itself: never a change."""
DELIVERY_MARKS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "meta.helm.sh/",
    "argocd.argoproj.io/",
    "kustomize.toolkit.fluxcd.io/",
    "helm.toolkit.fluxcd.io/",
)
"""Annotations and labels (prefixes) the tool that applies a release writes about itself, never rendered: Helm's
release annotations, Argo CD's tracking-id annotation, the labels of Flux's kustomize- and helm-controller. (Argo
CD's older label tracking rewrites app.kubernetes.io/instance, which ml-gen renders: see docs/delivery.md.)"""
MASK = "***"


def comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy without status, the server's own metadata and the delivery tools' marks; a Secret's values masked."""
    obj = copy.deepcopy(obj)
    obj.pop("status", None)
    meta = obj.get("metadata", {})
    for key in SERVER_METADATA:
        meta.pop(key, None)
    for key in ("annotations", "labels"):
        kept = {k: v for k, v in (meta.get(key) or {}).items() if not k.startswith(DELIVERY_MARKS)}
        meta.pop(key, None)
        if kept:
            meta[key] = kept
    return obj


def mask_secrets(live: dict[str, Any] | None, rendered: dict[str, Any] | None) -> None:
    """A Secret's data and stringData values, in place, as *** (and "*** (before)" / "*** (after)" where the value
    changes), so a diff says which keys change and never what they hold."""
    pair = [o for o in (live, rendered) if o is not None and o.get("kind") == "Secret" and o.get("apiVersion") == "v1"]
    for field in ("data", "stringData"):
        was = (live or {}).get(field) or {}
        now = (rendered or {}).get(field) or {}
        for obj, when in ((live, "before"), (rendered, "after")):
            if obj in pair and isinstance(obj.get(field), dict):
                obj[field] = {k: MASK if was.get(k) == now.get(k) else f"{MASK} ({when})" for k in obj[field]}


def changed_fields(live: Any, rendered: Any, path: str = "") -> list[str]:
    """The dotted paths where two states differ; list items with a name by [name], others by [index]."""
    if isinstance(live, dict) and isinstance(rendered, dict):
        return [
            found
            for key in dict.fromkeys([*live, *rendered])
            for found in changed_fields(live.get(key), rendered.get(key), f"{path}.{key}" if path else str(key))
        ]
    if isinstance(live, list) and isinstance(rendered, list):
        names = [_name(item) for item in (*live, *rendered)]
        if None not in names:
            before = {_name(item): item for item in live}
            after = {_name(item): item for item in rendered}
            found = [
                found
                for key in dict.fromkeys([*before, *after])
                for found in changed_fields(before.get(key), after.get(key), f"{path}[{key}]")
            ]
            return found or ([] if live == rendered else [path])  # the same items in another order, say
        if len(live) == len(rendered):
            return [
                found
                for i, pair in enumerate(zip(live, rendered, strict=True))
                for found in changed_fields(*pair, f"{path}[{i}]")
            ]
    return [] if live == rendered else [path]


def _name(item: Any) -> str | None:
    return str(item["name"]) if isinstance(item, dict) and "name" in item else None


def unified(label: str, live: dict[str, Any] | None, rendered: dict[str, Any] | None) -> str:
    """The unified diff of two states as YAML, headed --- live/<label> and +++ rendered/<label>; "" when equal."""
    before = yamlio.dump(live).splitlines(keepends=True) if live is not None else []
    after = yamlio.dump(rendered).splitlines(keepends=True) if rendered is not None else []
    return "".join(difflib.unified_diff(before, after, f"live/{label}", f"rendered/{label}"))

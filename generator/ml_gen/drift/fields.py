"""Who owns which field of a live object: its managedFields (fieldsV1) as paths, and taking paths out."""

from __future__ import annotations

import json
from typing import Any

FieldPath = tuple[str, ...]
"""One field as fieldsV1 spells it: "f:name" (a map key), "k:{...}" (a list item by its keys), "v:..." (a set
item by value), "i:N" (a list index), "." (the node itself)."""

APPLIER_MARK: FieldPath = ("f:metadata", "f:labels", "f:app.kubernetes.io/managed-by")
"""The label ml-gen and its chart put on every object: whoever owns it applied the release."""


def leaves(fields: dict[str, Any], prefix: FieldPath = ()) -> set[FieldPath]:
    """Every owned path of one fieldsV1 tree."""
    found: set[FieldPath] = set()
    for key, child in fields.items():
        path = (*prefix, key)
        if key == "." or not child:
            found.add(path)
        if child:
            found |= leaves(child, path)
    return found


def owners(obj: dict[str, Any]) -> list[tuple[str, str, set[FieldPath]]]:
    """(manager, operation, owned paths) per managedFields entry of an object (a subresource's, such as the
    HPA's writes through /scale, in the main resource's paths)."""
    return [
        (entry.get("manager", ""), entry.get("operation", ""), leaves(entry.get("fieldsV1") or {}))
        for entry in obj.get("metadata", {}).get("managedFields") or []
    ]


def appliers(live: dict[str, Any]) -> set[tuple[str, str]]:
    """The (manager, operation) entries that applied the release to the live object: the owners of its
    app.kubernetes.io/managed-by label (ml-gen, kubectl, Helm, Argo CD, Flux, ...)."""
    return {(manager, operation) for manager, operation, owned in owners(live) if APPLIER_MARK in owned}


def left_behind(result: dict[str, Any], previous: set[tuple[str, str]], me: tuple[str, str]) -> set[FieldPath]:
    """The paths of a dry-run apply's result that only a previous applier owns: fields the release no longer
    renders, which that applier's next apply removes but an apply under another manager's name keeps."""
    stale: set[FieldPath] = set()
    kept: set[FieldPath] = set()
    for manager, operation, owned in owners(result):
        if (manager, operation) in previous and (manager, operation) != me:
            stale |= owned
        else:
            kept |= owned
    # A node ("." path) stays while another manager owns something inside it.
    return {p for p in stale - kept if p[-1] != "." or not any(k[: len(p) - 1] == p[:-1] for k in kept)}


def remove(obj: dict[str, Any], paths: set[FieldPath]) -> None:
    """Take the fields at `paths` out of the object (a "." path: the node itself; a list item's key fields stay
    with it), and the maps and lists that taking them out left empty."""
    for path in sorted(paths, key=len):  # whole nodes first: their key fields still find them
        if path[-1] == ".":
            path = path[:-1]
        elif len(path) > 1 and path[-2].startswith("k:") and path[-1][2:] in json.loads(path[-2][2:]):
            continue
        while path:
            parent = _find(obj, path[:-1])
            if parent is None or not _drop(parent, path[-1]) or parent or len(path) == 1:
                break
            path = path[:-1]  # the parent is empty now: it goes too


def _find(node: Any, path: FieldPath) -> Any:
    for step in path:
        node = _child(node, step)
        if node is None:
            return None
    return node


def _child(node: Any, step: str) -> Any:
    for _, item in _matches(node, step):
        return item
    return None


def _drop(node: Any, step: str) -> bool:
    for index, _ in _matches(node, step):
        if index is None:
            node.pop(step[2:], None)
        else:
            del node[index]
        return True
    return False


def _matches(node: Any, step: str) -> list[tuple[int | None, Any]]:
    """Where one step leads in a node: (None, value) for a map key, (index, item) for a list item."""
    kind, text = step[:2], step[2:]
    if kind == "f:" and isinstance(node, dict) and text in node:
        return [(None, node[text])]
    if not isinstance(node, list):
        return []
    if kind == "k:":
        keys = json.loads(text)
        return [(i, item) for i, item in enumerate(node) if isinstance(item, dict) and _has(item, keys)]
    if kind == "v:":
        value = json.loads(text)
        return [(i, item) for i, item in enumerate(node) if item == value]
    if kind == "i:" and text.isdigit() and int(text) < len(node):
        return [(int(text), node[int(text)])]
    return []


def _has(item: dict[str, Any], keys: dict[str, Any]) -> bool:
    return all(item.get(k) == v for k, v in keys.items())

"""The API server's and etcd's size limits, counted as they count them."""

from __future__ import annotations

import json
from typing import Any, Literal

ANNOTATIONS_LIMIT = 256 * 1024
"""apimachinery ValidateAnnotationsSize: keys plus values, in bytes, per annotation map."""
CONFIGMAP_LIMIT = 1024 * 1024
"""core.MaxSecretSize, which ValidateConfigMap applies to the values (not the keys) of data and binaryData."""
OBJECT_LIMIT = 1536 * 1024
"""etcd's default --max-request-bytes (1.5 MiB). kube-apiserver takes requests up to 3 MiB, and a dry run
never reaches etcd, but a real apply of a larger object fails with "etcdserver: request is too large".
Measured here as compact JSON, which is larger than the protobuf the API server stores: a safe bound."""

Part = Literal["annotations", "data", "object"]
"""What of an object is over a limit: an annotation map, a ConfigMap's data, or the whole object."""


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def annotations_size(annotations: dict[str, Any]) -> int:
    """Bytes an annotation map counts against the limit, as the API server counts them."""
    return sum(_size(key) + _size(str(value)) for key, value in annotations.items())


def object_size(obj: dict[str, Any]) -> int:
    """The object's size as compact JSON, in bytes."""
    return _size(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))


def problems(obj: dict[str, Any]) -> list[tuple[Part, str]]:
    """(part, why) for every size limit one object breaks; the whole object only when no part is to blame."""
    kind_name = f"{obj['kind']}/{obj['metadata']['name']}"
    found: list[tuple[Part, str]] = []
    maps = [("metadata.annotations", obj["metadata"].get("annotations") or {})]
    template = obj.get("spec", {}).get("template", {}).get("metadata")
    if template is not None:
        maps.append(("spec.template.metadata.annotations", template.get("annotations") or {}))
    for where, mapping in maps:
        size = annotations_size(mapping)
        if size > ANNOTATIONS_LIMIT:
            found.append(
                (
                    "annotations",
                    f"the {where} of {kind_name} (with ml-gen's own) total {size} bytes; "
                    f"Kubernetes allows {ANNOTATIONS_LIMIT} (256 KiB)",
                )
            )
    if obj["kind"] == "ConfigMap":
        size = sum(_size(value) for value in (obj.get("data") or {}).values())
        if size > CONFIGMAP_LIMIT:
            found.append(("data", f"contents total {size} bytes; a ConfigMap holds at most {CONFIGMAP_LIMIT}"))
    size = object_size(obj)
    if size > OBJECT_LIMIT and not found:
        found.append(
            ("object", f"{kind_name} would be {size} bytes; etcd stores objects up to {OBJECT_LIMIT} (1.5 MiB)")
        )
    return found

"""Every path ml-gen writes under an output root, and the pointer line that ties values files to their schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

VALUES_DIR = Path("values")
MANIFESTS_DIR = Path("manifests")
DELIVERY_DIR = Path("delivery")
"""Objects that deploy a release (Argo CD, Flux): a folder of its own, which no other output syncs."""
VALUES_SCHEMA = VALUES_DIR / "values.schema.json"
"""A copy of the chart's values schema, which every values file's first line points at."""
SCHEMA_LINE = "# yaml-language-server: $schema=values.schema.json"
"""The first line of every values file: the schema sits beside the values files, so the pointer holds
wherever --out is and whether or not the chart was exported."""


def values_file(env: str) -> Path:
    """values/<env>.yaml: the environment's Helm values."""
    return VALUES_DIR / f"{env}.yaml"


def manifests_dir(env: str) -> Path:
    """manifests/<env>/: the environment's plain manifests, one object a file."""
    return MANIFESTS_DIR / env


def manifest_file(env: str, obj: dict[str, Any]) -> Path:
    """manifests/<env>/<kind>-<name>.yaml."""
    return manifests_dir(env) / f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"


def delivery_dir(env: str) -> Path:
    """delivery/<env>/: the objects that deploy the environment's release."""
    return DELIVERY_DIR / env


def delivery_file(env: str, obj: dict[str, Any]) -> Path:
    """delivery/<env>/<kind>-<name>.yaml."""
    return delivery_dir(env) / f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"

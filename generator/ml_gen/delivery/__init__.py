"""Delivery: the objects that deploy a release (an Argo CD Application, a Flux HelmRelease), built once the
output layout is known, from the config, the environment and where its files land.

They are never chart templates, may live in another namespace, and are written to their own folder
(delivery/<env>/), which no other output points at. Each tool is one entry of TOOLS; an environment's
`delivery` setting names the tools that deploy it. See docs/development.md, "Adding a delivery tool".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Object = dict[str, Any]


@dataclass(frozen=True)
class Where:
    """One environment's release and where ml-gen writes its files, relative to the output root."""

    release: str
    namespace: str
    env: str
    values_file: Path
    manifests_dir: Path
    settings: dict[str, Any]
    """The environment's merged settings (the tool's own section is settings["delivery"][tool])."""


@dataclass(frozen=True)
class Tool:
    """A delivery tool: the kinds it writes and how it builds them for one environment."""

    name: str
    kinds: tuple[str, ...]
    build: Callable[[Where], list[Object]]


TOOLS: dict[str, Tool] = {}
"""Every delivery tool by the name the `delivery` setting uses (none yet: Argo CD and Flux come next)."""


def objects(where: Where) -> list[Object]:
    """The delivery objects of one environment: those of every tool its `delivery` setting names, in name order."""
    chosen = sorted(where.settings.get("delivery") or {})
    return [obj for name in chosen for obj in TOOLS[name].build(where)]

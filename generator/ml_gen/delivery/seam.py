"""The delivery seam's types: where one environment's files land, and what a delivery tool is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Object = dict[str, Any]


@dataclass(frozen=True)
class Where:
    """One environment's release and where ml-gen writes its files, relative to the config's directory (the
    delivery setting's `path` in the repository): values/ and manifests/ there, or under render --out's
    directory when that is inside it."""

    release: str
    namespace: str
    env: str
    values_file: Path
    manifests_dir: Path
    settings: dict[str, Any]
    """The environment's merged settings (the tool's own section is settings["delivery"][tool])."""
    values: dict[str, Any] = field(default_factory=dict)
    """The chart values written to values_file (for a tool that cannot read the file from the repository)."""


@dataclass(frozen=True)
class Tool:
    """A delivery tool: the kinds it writes and how it builds them for one environment."""

    name: str
    kinds: tuple[str, ...]
    build: Callable[[Where], list[Object]]

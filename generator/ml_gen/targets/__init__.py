"""Serving targets: the registry, and the target an environment's `target` setting selects.

A target owns what differs between ways of serving the model: the kinds it renders (its workload and the
companions that fit it), its section of the chart values, its own config rules and how the alerts find its
pods. The chart switches on the same `target` value. See docs/development.md, "Adding a target".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ml_gen.targets import deployment, knative, kserve
from ml_gen.targets.target import Target

if TYPE_CHECKING:
    from ml_gen.config import EnvConfig

TARGETS: dict[str, Target] = {target.name: target for target in (deployment.TARGET, kserve.TARGET, knative.TARGET)}
"""Every target ml-gen renders, by the name the config's `target` setting and the chart's `target` value use."""
DEFAULT = deployment.TARGET.name


def select(env: EnvConfig) -> Target:
    """The target an environment's settings choose (`target`, default deployment)."""
    return TARGETS[env.settings["target"]]


__all__ = ["DEFAULT", "TARGETS", "Target", "select"]

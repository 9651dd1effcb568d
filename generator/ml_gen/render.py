"""One environment of one config, rendered in memory: config -> target -> chart values -> objects -> limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ml_gen import kinds, targets, values
from ml_gen.config import Config, EnvConfig, rules
from ml_gen.k8s import limits


@dataclass
class Rendered:
    """One environment of one config, rendered in memory."""

    config: Config
    env: str
    namespace: str
    values: dict[str, Any]
    objects: list[dict[str, Any]]
    settings: dict[str, Any]
    """The environment's merged settings (delivery tools read their own section)."""


def render_environment(config: Config, env: str) -> Rendered:
    """Resolve the environment, check ml-gen's rules and its target's, build the chart values and the
    objects, and check the objects against the API server's size limits."""
    resolved = config.resolve(env)
    rules.check(resolved)
    target = targets.select(resolved)
    target.check(resolved)
    chart_values = values.build(resolved, target)
    objects = target.objects(chart_values, config.name, resolved.namespace)
    check_limits(resolved, objects)
    return Rendered(config, env, resolved.namespace, chart_values, objects, resolved.settings)


def check_limits(env: EnvConfig, objects: list[dict[str, Any]]) -> None:
    """Raise a ConfigError for the first rendered object over a limit of the API server or etcd, at the
    config field that made it large: annotations, else the kind's own (configFiles, env)."""
    for obj in objects:
        for part, message in limits.problems(obj):
            field = "annotations" if part == "annotations" else kinds.of(obj).config_field
            raise env.error(field, message=message)

"""What a serving target is: its kinds, its values section, its rules and how the alerts find its pods."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ml_gen.kinds import Kind, Object, lookup
from ml_gen.kinds.helpers import context
from ml_gen.promql import PodQuery

if TYPE_CHECKING:
    from ml_gen.config import EnvConfig


@dataclass(frozen=True)
class Target:
    """One way of serving the model: its kinds (rendered in this order), its values, its rules, its pods."""

    name: str
    kinds: tuple[str, ...]
    values: Callable[[EnvConfig], dict[str, Any]]
    """The target's own section of the chart values (merged with the shared values by values.build)."""
    rules: Callable[[EnvConfig], None]
    """Raise a ConfigError for the first of the target's own rules the settings break."""
    pod_query: Callable[[str, str], PodQuery]
    """How the alerts find the pods of a release (fullname, namespace)."""

    def check(self, env: EnvConfig) -> None:
        """The target's own rules, after the rules every target shares (ml_gen.config.rules)."""
        self.rules(env)

    def kind_list(self) -> list[Kind]:
        return [lookup(kind) for kind in self.kinds]

    def objects(self, values: dict[str, Any], release: str, namespace: str) -> list[Object]:
        """Every object of this target for one release of the chart values."""
        ctx = context(values, release, namespace, self.pod_query)
        built = (kind.build(ctx) for kind in self.kind_list())
        return [obj for obj in built if obj is not None]


def asks(env: EnvConfig, *path: str) -> bool:
    """Whether the config itself (the environment, else the top level) turns a setting on, not a default."""
    for layer in (env.override, env.config.data):
        node: Any = layer
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None:
            return bool(node)
    return False

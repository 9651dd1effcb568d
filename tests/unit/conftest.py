"""Fixtures for the unit tests: small configs built as data and rendered in memory."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ml_gen import config, render, yamlio

BASE: dict[str, Any] = {
    "name": "demo",
    "image": {"repository": "myorg/demo", "tag": "1.0"},
    "environments": {"prod": {"namespace": "demo-prod"}},
}


def _config_text(**top: Any) -> str:
    """YAML text of BASE with top-level keys replaced by `top`."""
    data = copy.deepcopy(BASE)
    data.update(copy.deepcopy(top))
    return yamlio.dump(data)


@dataclass
class Env:
    """One rendered environment, with its objects indexed by kind."""

    values: dict[str, Any]
    objects: list[dict[str, Any]]
    namespace: str

    def kinds(self) -> list[str]:
        return [o["kind"] for o in self.objects]

    def get(self, kind: str) -> dict[str, Any]:
        found = [o for o in self.objects if o["kind"] == kind]
        assert len(found) == 1, f"expected one {kind}, got {self.kinds()}"
        return found[0]

    @property
    def pod(self) -> dict[str, Any]:
        return self.get("Deployment")["spec"]["template"]

    @property
    def container(self) -> dict[str, Any]:
        return self.pod["spec"]["containers"][0]


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo_root: Path) -> Path:
    """The working directory holds a copy of the bundled example config, which this returns."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(repo_root / "ml-model.yaml", tmp_path / "ml-model.yaml")
    return tmp_path / "ml-model.yaml"


@pytest.fixture
def render_env() -> Callable[..., Env]:
    """render_env(**top_level_settings) -> the rendered 'prod' Env of a config built from BASE."""

    def rendered_env(**top: Any) -> Env:
        cfg = config.parse(_config_text(**top), "ml-model.yaml")
        rendered = render.render_environment(cfg, "prod")
        return Env(rendered.values, rendered.objects, rendered.namespace)

    return rendered_env


@pytest.fixture
def config_text() -> Callable[..., str]:
    """config_text(**top_level_settings) -> YAML text of a small valid config with those keys replaced."""
    return _config_text

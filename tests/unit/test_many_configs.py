"""Many configs in one run: the worker-process path (PARALLEL_MIN_CONFIGS and up) behaves as one process."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ml_gen import project

ROOT = Path(__file__).resolve().parents[2]
COUNT = project.PARALLEL_MIN_CONFIGS + 4


@pytest.fixture
def models(tmp_path: Path) -> Path:
    base = (ROOT / "ml-model.yaml").read_text()
    for i in range(COUNT):
        model = tmp_path / "models" / f"m{i:02d}"
        model.mkdir(parents=True)
        (model / "ml-model.yaml").write_text(base.replace("name: ml-model-api ", f"name: model-{i:02d} ", 1))
    return tmp_path / "models"


def _ml_gen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ml_gen", *args], capture_output=True, text=True, timeout=300)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_many_configs_render_beside_each_config_like_one_by_one(models, tmp_path):
    assert _ml_gen("render", "--all", "-c", str(models)).returncode == 0
    one_by_one = tmp_path / "one-by-one"
    shutil.copytree(models, one_by_one, ignore=shutil.ignore_patterns("values", "manifests"))
    for config in sorted(one_by_one.glob("*/ml-model.yaml")):
        assert _ml_gen("render", "--all", "-c", str(config)).returncode == 0
    assert _tree(models) == _tree(one_by_one)
    assert (
        len(list(models.glob("*/manifests/prod/*.yaml"))) == COUNT * 7
    )  # ServiceAccount, Service, Deployment, HPA, PDB, Ingress, NetworkPolicy
    assert _ml_gen("render", "--all", "--check", "-c", str(models)).returncode == 0


def test_an_error_in_one_of_many_names_its_file_and_writes_nothing(models):
    assert _ml_gen("render", "--all", "-c", str(models)).returncode == 0
    bad = models / "m13" / "ml-model.yaml"
    bad.write_text(bad.read_text().replace("replicas: 2", "replicas: -2"))
    for model in ("m02", "m17"):  # make other trees stale, so a partial write would show
        config = models / model / "ml-model.yaml"
        config.write_text(config.read_text().replace("LOG_LEVEL: info", "LOG_LEVEL: warning"))
    before = _tree(models)
    result = _ml_gen("render", "--all", "-c", str(models))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "m13/ml-model.yaml:" in result.stderr and "replicas: must be at least 0" in result.stderr
    assert _tree(models) == before

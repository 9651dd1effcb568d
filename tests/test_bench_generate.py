"""bench/generate.py: deterministic, varied, and every generated config passes `ml-gen validate --all`."""

from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner

from ml_gen.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import generate  # noqa: E402

N = 20


def _in_any_env(config: dict, key: str) -> bool:
    return any(key in env for env in config["environments"].values())


FEATURES = {
    "HPA": lambda c: _in_any_env(c, "autoscaling"),
    "PDB": lambda c: "podDisruptionBudget" in c or _in_any_env(c, "podDisruptionBudget"),
    "ingress": lambda c: _in_any_env(c, "ingress"),
    "secretEnv": lambda c: "secretEnv" in c,
    "configFiles": lambda c: "configFiles" in c,
    "GPU": lambda c: c.get("gpu", 0) > 0,
    "digest": lambda c: "digest" in c["image"],
}


def test_model_i_is_the_same_at_every_n(tmp_path: Path) -> None:
    small = generate.generate(tmp_path / "small", 5)
    large = generate.generate(tmp_path / "large", N)
    assert [p.read_text() for p in small] == [p.read_text() for p in large[:5]]
    assert generate.model_config(3, seed=1) != generate.model_config(3, seed=0)


def test_configs_are_varied() -> None:
    configs = [generate.model_config(i) for i in range(N)]
    for feature, has in FEATURES.items():
        assert any(has(c) for c in configs), f"no {feature} in the first {N} models"
        assert not all(has(c) for c in configs), f"every one of the first {N} models has {feature}"
    assert len({c["name"] for c in configs}) == N


def test_generated_configs_validate(tmp_path: Path) -> None:
    generate.generate(tmp_path, N)
    result = CliRunner().invoke(main, ["validate", "--all", "-c", str(tmp_path / "models")])
    assert result.exit_code == 0, result.output

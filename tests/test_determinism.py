"""Determinism: the same config gives byte-identical files in fresh processes with different hash seeds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SEEDS = ["0", "1", "4242"]


def _render(config: Path, out: Path, seed: str) -> dict[str, bytes]:
    out.mkdir()
    env = {**os.environ, "PYTHONHASHSEED": seed}
    proc = subprocess.run(
        [sys.executable, "-m", "ml_gen", "render", "--all", "-c", str(config), "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_output_is_byte_identical_across_hash_seeds(scenario_config, tmp_path):
    runs = [_render(scenario_config, tmp_path / f"seed-{seed}", seed) for seed in SEEDS]
    assert len(runs[0]) >= 4
    for seed, other in zip(SEEDS[1:], runs[1:], strict=True):
        assert sorted(other) == sorted(runs[0]), seed
        for name, data in runs[0].items():
            assert other[name] == data, f"{name} differs between PYTHONHASHSEED={SEEDS[0]} and {seed}"

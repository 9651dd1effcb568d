"""Golden files: every scenario's rendered output (the bundled example and tests/scenarios/*), per environment,
compared byte for byte.

The parity test shows that helm and ml-gen agree, but both read the same values (values.py), so a bug there
passes it; only these files and the hand-written expectations in test_scenario_objects.py see it.

After an intended change to the output, regenerate the goldens (that run fails, so nothing regenerated passes
unreviewed), review their diff, and run again without the switch:

    ML_GEN_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py

Layout: tests/golden/<scenario>/<env>/values.yaml, tests/golden/<scenario>/<env>/manifests/<kind>-<name>.yaml and,
for a scenario with a delivery tool, tests/golden/<scenario>/<env>/delivery/<kind>-<name>.yaml,
where <scenario> is `example` for the bundled ml-model.yaml and the directory name for tests/scenarios/<name>/.
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ml_gen import kinds as registry
from ml_gen.cli import main

SWITCH = "ML_GEN_UPDATE_GOLDEN"
UPDATE_COMMAND = f"{SWITCH}=1 python -m pytest tests/test_golden.py"
UPDATE = os.environ.get(SWITCH) == "1"
REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO_ROOT / "ml-model.yaml"
GOLDEN = REPO_ROOT / "tests" / "golden"
MAX_DIFF_LINES = 40


def _scenario(config: Path) -> str:
    """The scenario's name, as the test ids give it: `example` for the bundled config, else its directory's."""
    return "example" if config == EXAMPLE_CONFIG else config.parent.name


def _environments(config: Path) -> list[str]:
    """Read without ml-gen, so a broken ml-gen cannot hide an environment's goldens."""
    return list(yaml.safe_load(config.read_text("utf-8"))["environments"])


def _golden_dir(config: Path, env: str) -> Path:
    return GOLDEN / _scenario(config) / env


def _actual(out: Path, env: str) -> dict[str, str]:
    files = {"values.yaml": (out / "values" / f"{env}.yaml").read_text("utf-8")}
    for path in sorted((out / "manifests" / env).iterdir()):
        files[f"manifests/{path.name}"] = path.read_text("utf-8")
    delivery = out / "delivery" / env
    for path in sorted(delivery.iterdir()) if delivery.is_dir() else []:
        files[f"delivery/{path.name}"] = path.read_text("utf-8")
    return files


def _golden(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text("utf-8") for p in sorted(root.rglob("*")) if p.is_file()}


def _write_golden(root: Path, files: dict[str, str]) -> int:
    """Makes root hold exactly `files`; returns how many files it wrote or removed."""
    old = _golden(root)
    changed = sorted(name for name in set(old) | set(files) if old.get(name) != files.get(name))
    for name in changed:
        path = root / name
        if name in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[name], "utf-8")
        else:
            path.unlink()
    return len(changed)


def _short_diff(name: str, expected: str | None, actual: str | None) -> str:
    lines = list(
        difflib.unified_diff(
            (expected or "").splitlines(keepends=True),
            (actual or "").splitlines(keepends=True),
            fromfile=f"golden/{name}" if expected is not None else "/dev/null",
            tofile=f"rendered/{name}" if actual is not None else "/dev/null",
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        lines = lines[:MAX_DIFF_LINES] + [f"... ({len(lines) - MAX_DIFF_LINES} more diff lines)\n"]
    return "".join(lines)


def test_output_matches_the_golden_files(scenario_env, rendered, regenerated):
    config, env = scenario_env
    root = _golden_dir(config, env)
    actual = _actual(rendered(config), env)
    if UPDATE:
        regenerated(_write_golden(root, actual), SWITCH)
    expected = _golden(root)
    where = root.relative_to(GOLDEN)
    diffs = [
        _short_diff(f"{where}/{name}", expected.get(name), actual.get(name))
        for name in sorted(set(expected) | set(actual))
        if expected.get(name) != actual.get(name)
    ]
    if diffs:
        pytest.fail(
            f"the {_scenario(config)} scenario's {env} output differs from tests/golden/{where}/:\n\n"
            + "\n".join(diffs)
            + f"\nIf the change is intended, regenerate with\n    {UPDATE_COMMAND}\nand review the diff.",
            pytrace=False,
        )


def test_no_golden_files_for_scenarios_or_environments_that_do_not_exist(scenario_configs, regenerated):
    wanted = {Path(".")}
    for config in scenario_configs:
        wanted |= {Path(_scenario(config)), *(Path(_scenario(config), env) for env in _environments(config))}
    stale = [
        path
        for path in sorted(GOLDEN.glob("*")) + sorted(GOLDEN.glob("*/*"))
        if path.relative_to(GOLDEN) not in wanted and path.parent.relative_to(GOLDEN) in wanted
    ]
    if UPDATE and stale:
        removed = sum(1 for path in stale for p in [path, *path.rglob("*")] if p.is_file())
        for path in stale:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        regenerated(removed, SWITCH)
    names = [str(path.relative_to(REPO_ROOT)) for path in stale]
    assert not stale, f"golden files for no scenario or environment: {names}; remove them or run {UPDATE_COMMAND}"


def test_goldens_are_not_trivially_empty(scenario_env):
    """Guards against a regeneration that wrote nothing useful."""
    config, env = scenario_env
    files = _golden(_golden_dir(config, env))
    assert "values.yaml" in files
    objects = [yaml.safe_load(text) for name, text in files.items() if name.startswith("manifests/")]
    kinds = {obj["kind"] for obj in objects}
    workloads = [obj for obj in objects if registry.of(obj).pod_template is not None]  # the target's workload
    assert "ServiceAccount" in kinds and workloads, f"{_scenario(config)}/{env}"


def test_committed_example_output_is_up_to_date():
    """values/ and manifests/ at the repository root are what `ml-gen render --all` writes (CI's check)."""
    result = CliRunner().invoke(main, ["render", "--all", "--check", "-c", str(EXAMPLE_CONFIG)])
    assert result.exit_code == 0, f"run `ml-gen render --all` at the repository root and commit:\n{result.output}"
    assert result.stdout.startswith("up to date: ")

"""Golden files: the bundled example's rendered output, per environment, compared byte for byte.

After an intended change to the output, regenerate the goldens and review their diff:

    ML_GEN_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py

Layout: tests/golden/<env>/values.yaml and tests/golden/<env>/manifests/<kind>-<name>.yaml.
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ml_gen.cli import main

UPDATE_COMMAND = "ML_GEN_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py"
UPDATE = os.environ.get("ML_GEN_UPDATE_GOLDEN") == "1"
REPO_ROOT = Path(__file__).resolve().parent.parent
GOLDEN = REPO_ROOT / "tests" / "golden"
EXAMPLE_ENVS = list(yaml.safe_load((REPO_ROOT / "ml-model.yaml").read_text("utf-8"))["environments"])
MAX_DIFF_LINES = 40


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """The example rendered into a fresh directory (so the committed output cannot mask a change)."""
    out = tmp_path_factory.mktemp("example-output")
    result = CliRunner().invoke(main, ["render", "--all", "-c", str(REPO_ROOT / "ml-model.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _actual(rendered: Path, env: str) -> dict[str, str]:
    files = {"values.yaml": (rendered / "values" / f"{env}.yaml").read_text("utf-8")}
    for path in sorted((rendered / "manifests" / env).iterdir()):
        files[f"manifests/{path.name}"] = path.read_text("utf-8")
    return files


def _golden(env: str) -> dict[str, str]:
    root = GOLDEN / env
    return {str(p.relative_to(root)): p.read_text("utf-8") for p in sorted(root.rglob("*")) if p.is_file()}


def _write_golden(env: str, files: dict[str, str]) -> None:
    root = GOLDEN / env
    shutil.rmtree(root, ignore_errors=True)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, "utf-8")


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


@pytest.mark.parametrize("env", EXAMPLE_ENVS)
def test_example_output_matches_the_golden_files(rendered, env):
    actual = _actual(rendered, env)
    if UPDATE:
        _write_golden(env, actual)
    expected = _golden(env)
    diffs = [
        _short_diff(f"{env}/{name}", expected.get(name), actual.get(name))
        for name in sorted(set(expected) | set(actual))
        if expected.get(name) != actual.get(name)
    ]
    if diffs:
        pytest.fail(
            f"the example's {env} output differs from tests/golden/{env}/:\n\n"
            + "\n".join(diffs)
            + f"\nIf the change is intended, regenerate with\n    {UPDATE_COMMAND}\nand review the diff.",
            pytrace=False,
        )


def test_no_golden_files_for_environments_the_example_does_not_have():
    if UPDATE:
        for stale in sorted(p for p in GOLDEN.iterdir() if p.name not in EXAMPLE_ENVS):
            shutil.rmtree(stale)
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(EXAMPLE_ENVS), f"regenerate with {UPDATE_COMMAND}"


def test_goldens_are_not_trivially_empty():
    """Guards against a regeneration that wrote nothing useful."""
    for env in EXAMPLE_ENVS:
        files = _golden(env)
        assert "values.yaml" in files
        kinds = {yaml.safe_load(text)["kind"] for name, text in files.items() if name.startswith("manifests/")}
        assert {"Deployment", "Service", "ServiceAccount"} <= kinds, env


def test_committed_example_output_is_up_to_date():
    """values/ and manifests/ at the repository root are what `ml-gen render --all` writes (CI's check)."""
    result = CliRunner().invoke(main, ["render", "--all", "--check", "-c", str(REPO_ROOT / "ml-model.yaml")])
    assert result.exit_code == 0, f"run `ml-gen render --all` at the repository root and commit:\n{result.output}"
    assert result.stdout.startswith("up to date: ")

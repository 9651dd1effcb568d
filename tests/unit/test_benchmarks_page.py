"""docs/benchmarks.md measures the code as it is: its recorded fingerprint is that of the measured files now."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import freshness  # noqa: E402


def test_the_benchmarks_page_was_generated_from_the_current_code():
    if shutil.which("git") is None or not (freshness.ROOT / ".git").exists():
        pytest.skip("not a git checkout: the measured files are those git tracks")
    now, page = freshness.fingerprint(), freshness.recorded()
    assert page == now, (
        f"docs/benchmarks.md was generated from other code than {', '.join(freshness.MEASURED)} hold now "
        f"(fingerprint {page}, now {now}): run `{freshness.REGENERATE}` (docs/benchmarks.md#reproduce) and commit "
        "the page with bench/results/"
    )


def test_the_fingerprint_follows_measured_files_only(tmp_path: Path):
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    for name in (*freshness.MEASURED[:2], "generator/ml_gen/scaffold", "docs"):
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
    (tmp_path / "generator/ml_gen/render.py").write_text("a = 1\n")
    (tmp_path / "generator/ml_gen/scaffold/app.py").write_text("b = 1\n")
    (tmp_path / "docs/page.md").write_text("text\n")
    git("init", "-q")
    git("add", ".")
    first = freshness.fingerprint(tmp_path)
    (tmp_path / "generator/ml_gen/scaffold/app.py").write_text("b = 2\n")
    (tmp_path / "docs/page.md").write_text("other text\n")
    (tmp_path / "generator/ml_gen/untracked.py").write_text("c = 1\n")
    assert freshness.fingerprint(tmp_path) == first
    (tmp_path / "generator/ml_gen/render.py").write_text("a = 2\n")
    assert freshness.fingerprint(tmp_path) != first
    (tmp_path / "page.md").write_text(f"- {freshness.record(first)} (SHA-256 of ...)\n")
    assert freshness.recorded(tmp_path / "page.md") == first

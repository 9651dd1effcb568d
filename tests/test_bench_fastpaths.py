"""bench/fastpaths.py compares like with like: every path it names exists, and both routes of each fast path
give the same answers on the same inputs (the emitter's output reads back as the data it was given)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import fastpaths, startup  # noqa: E402


@pytest.mark.parametrize("key", sorted(fastpaths.PATHS))
def test_every_path_resolves(key: str) -> None:
    """After a move, the table at the top of bench/fastpaths.py must follow (or drop the fast path)."""
    fastpaths.resolve(key)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return fastpaths.inputs(3, tmp_path_factory.mktemp("fastpaths"))


def test_inputs_cover_configs_and_documents(inputs: dict) -> None:
    assert len(inputs["configs"]) == 4  # the bundled example and 3 generated
    assert all(isinstance(c, dict) and "environments" in c for c in inputs["configs"])
    # per environment a values file and at least ServiceAccount, Service, Deployment, NetworkPolicy
    assert len(inputs["documents"]) >= 4 * 3 * 5


@pytest.mark.parametrize("name", sorted(fastpaths.FAST_PATHS))
def test_both_routes_agree(name: str, inputs: dict) -> None:
    found = fastpaths.in_process(name, inputs, repeat=1)
    assert found["items"] > 0
    if name == "yaml emitter":
        assert found["fast_reads_back"] == found["library_reads_back"] == found["of"]
    else:
        assert found["same_result"] == found["of"]
    assert all(len(passes) == 1 and passes[0] > 0 for passes in found["passes"].values())


def test_invalid_config_is_invalid_on_both_routes(inputs: dict) -> None:
    broken = dict(inputs["configs"][0], replicas="two")
    data = dict(inputs, configs=[broken])
    answers = {route: build(data)() for route, build in fastpaths.FAST_PATHS["quickschema"]["routes"].items()}
    assert answers == {"fast": [False], "library": [False]}


def test_percentiles() -> None:
    samples = [float(i) for i in range(1, 11)]
    assert startup.percentile(samples, 0.5) == 5.5
    assert startup.percentile(samples, 0.1) == pytest.approx(1.9)
    assert startup.summary(samples)["p90"] == pytest.approx(9.1)


@pytest.mark.parametrize("serial", [True, False])
def test_pool_command_runs_with_and_without_workers(serial: bool, tmp_path: Path) -> None:
    """The "one process" mode really starts no workers (it would import multiprocessing), the other does."""
    fastpaths.generate.generate(tmp_path, 16)
    python, *rest = fastpaths.pool_command(tmp_path / "models", serial=serial)
    proc = subprocess.run([python, "-X", "importtime", *rest], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported_pool = re.search(r"\|\s+multiprocessing$", proc.stderr, re.MULTILINE) is not None
    assert imported_pool is not serial
    assert len(list(tmp_path.glob("models/*/manifests/*/*.yaml"))) > 16 * 3 * 3


def test_the_schema_check_section_sets_the_runs_side_by_side() -> None:
    """docs/benchmarks.md's schema-check table: the committed before and after runs, each with its command."""
    from bench import before_after

    text = before_after.schemacheck_section()
    assert "| before | 1701 | 65 configs |" in text and "| after |" in text
    assert "same answer 65/65" in text and "--only quickschema" in text

"""Shared fixtures: an isolated HOME for every test, the repository, the pinned helm, the scenario configs and
their rendered output, the model server `ml-gen init` writes (its metrics drive the alert and dashboard tests),
the regeneration switches' failure; how the tests spread over pytest-xdist's workers; Hypothesis' profiles."""

from __future__ import annotations

import collections
import functools
import importlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, settings

from ml_gen import starter
from ml_gen.cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO_ROOT / "ml-model.yaml"
SCENARIO_CONFIGS = [EXAMPLE_CONFIG, *sorted((REPO_ROOT / "tests" / "scenarios").glob("*/ml-model.yaml"))]

# Hypothesis: in CI (the variable CI set to anything, as Hypothesis itself reads it) every run draws the same
# examples, so a red CI run is red again on a rerun and locally with `CI=true` or `--hypothesis-profile ci`;
# elsewhere runs are random. Either way a failure prints the @reproduce_failure blob that replays it. Set
# here, before any test module is imported, so a test's own @settings inherits what it does not set.
settings.register_profile(
    "ci",
    settings.get_profile("default"),
    derandomize=True,
    database=None,
    print_blob=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", settings.get_profile("default"), print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# Captured before any test points HOME elsewhere: the tool cache of scripts/install-tools lives under
# the real HOME (unless ML_GEN_TOOLS_DIR or XDG_CACHE_HOME say otherwise).
_REAL_ENV = dict(os.environ)


def scenario_id(config: Path) -> str:
    """'example' for the bundled config, else the scenario's directory name."""
    return "example" if config == EXAMPLE_CONFIG else config.parent.name


def config_environments(config: Path) -> list[str]:
    """Environment names of a config, read without ml-gen so a broken ml-gen cannot hide scenarios."""
    return list(yaml.safe_load(config.read_text("utf-8"))["environments"])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`scenario_config` runs a test per config; `scenario_env` per (config, environment) pair."""
    if "scenario_config" in metafunc.fixturenames:
        metafunc.parametrize("scenario_config", SCENARIO_CONFIGS, ids=[scenario_id(c) for c in SCENARIO_CONFIGS])
    if "scenario_env" in metafunc.fixturenames:
        pairs = [(c, e) for c in SCENARIO_CONFIGS for e in config_environments(c)]
        metafunc.parametrize("scenario_env", pairs, ids=[f"{scenario_id(c)}-{e}" for c, e in pairs])


# -- parallel runs (pytest-xdist: `scripts/test` runs three workers) -------------------------------

# Tests whose session fixtures are expensive run together on one worker, so each set-up happens once, and
# these groups start first, the longest first (their usual durations), so that the run ends about when its
# longest group does: the real-node tests (a cluster with the machine's one real node, the demo image, the
# model stores; every test file that uses the real node joins them: the mark or the fixture in it), the
# other live tests (a cluster of fake nodes), the workflow's registry test (its own images and registry),
# the scaffold tests (a trained project), the model fetcher's tests (their stores: versitygw, an MLflow
# server), the container tests (images built with podman). Every other test goes where there is room.
REAL_NODE = "the real node"
RUN_TOGETHER = (
    REAL_NODE,
    "tests/live/",
    "tests/container/test_workflow_registry.py",
    "tests/scaffold/test_model_fetch.py",
    "tests/scaffold/",
    "tests/container/",
)
GROUP_RANK = {group: index for index, group in enumerate(RUN_TOGETHER)}
USES_THE_REAL_NODE = re.compile(r"\bmark\.real_node\b|[(,]\s*real_node\s*[:,)]")  # the mark, or the fixture
_relayed_summary: list[str] = []


@functools.cache
def uses_the_real_node(path: str) -> bool:
    """The test file at PATH (relative to the repository) marks its tests real_node or asks for the fixture."""
    file = REPO_ROOT / path
    return file.suffix == ".py" and file.is_file() and bool(USES_THE_REAL_NODE.search(file.read_text("utf-8")))


def run_together(nodeid: str) -> str:
    """The group of RUN_TOGETHER a test belongs to, else its own node id."""
    path = nodeid.split("::", 1)[0]
    if uses_the_real_node(path):
        return REAL_NODE
    return next((group for group in RUN_TOGETHER if path.startswith(group)), nodeid)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class RunTogether(LoadScopeScheduling):  # type: ignore[misc]
        """xdist's scheduling by scope, with RUN_TOGETHER's groups as scopes, queued first in its order. While a
        worker still has a test of a group to run, what it gets next is the last unit in the queue (a test of its
        own): no group waits behind a long test."""

        in_order = False

        def _split_scope(self, nodeid: str) -> str:
            return run_together(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            rank = GROUP_RANK
            if not self.in_order:
                units = sorted(self.workqueue.items(), key=lambda unit: rank.get(unit[0], len(rank)))
                self.workqueue, self.in_order = collections.OrderedDict(units), True
            assigned = self.assigned_work.get(node, {})
            if any(group in rank and False in unit.values() for group, unit in assigned.items()):
                self.workqueue.move_to_end(next(reversed(self.workqueue)), last=False)
            super()._assign_work_unit(node)

    return RunTogether(config, log)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """A worker's summary lines (the live tests' cluster, where its logs were kept) reach the report."""
    _relayed_summary.extend(getattr(node, "workeroutput", {}).get("summary_lines", []))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _relayed_summary:
        terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own HOME, so nothing a test runs can read or write the user's dotfiles."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository checkout the tests run from."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def scenario_configs() -> list[Path]:
    """The example ml-model.yaml plus every tests/scenarios/*/ml-model.yaml."""
    return list(SCENARIO_CONFIGS)


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Path]:
    """rendered(config) -> a directory holding `ml-gen render --all` of that config (rendered once per run)."""
    cache: dict[Path, Path] = {}

    def render(config: Path) -> Path:
        if config not in cache:
            out = tmp_path_factory.mktemp(scenario_id(config))
            result = CliRunner().invoke(main, ["render", "--all", "-c", str(config), "--out", str(out)])
            assert result.exit_code == 0, result.output
            cache[config] = out
        return cache[config]

    return render


def fail_after_regenerating(count: int, switch: str) -> NoReturn:
    """The end of a run with a regeneration switch set: it fails, so regenerated files never pass unreviewed."""
    files = "file" if count == 1 else "files"
    pytest.fail(f"regenerated {count} {files}; review the diff and run again without {switch}", pytrace=False)


@pytest.fixture(scope="session")
def regenerated() -> Callable[[int, str], NoReturn]:
    """regenerated(count, switch): fails the test after it rewrote `count` files because `switch` was set."""
    return fail_after_regenerating


@pytest.fixture(scope="session")
def tools_bin() -> Path:
    """The bin directory of the pinned tools built by scripts/install-tools (outside the repo)."""
    out = subprocess.run(
        [str(REPO_ROOT / "scripts" / "install-tools"), "--print-dir"],
        env=_REAL_ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


def pinned_tool(tools_bin: Path, name: str) -> str:
    """Path of a tool scripts/install-tools builds; fails (never skips) when it has not been built."""
    path = tools_bin / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"the pinned {name} is missing at {path}: run `scripts/install-tools`", pytrace=False)
    return str(path)


@pytest.fixture(scope="session")
def pinned(tools_bin: Path) -> Callable[[str], str]:
    """Looks up a tool scripts/install-tools builds, by name (see pinned_tool)."""
    return lambda name: pinned_tool(tools_bin, name)


@pytest.fixture(scope="session")
def helm(tools_bin: Path) -> str:
    """Path of the pinned helm binary."""
    return pinned_tool(tools_bin, "helm")


@pytest.fixture
def snapshot() -> Callable[[Path], dict[str, bytes | None]]:
    """A function that records every file (bytes) and directory (None) below a root."""

    def take(root: Path) -> dict[str, bytes | None]:
        tree: dict[str, bytes | None] = {}
        for path in sorted(root.rglob("*")):
            rel = str(path.relative_to(root))
            tree[rel] = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        return tree

    return take


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """model_server.server of a project `ml-gen init` wrote, imported without disturbing another copy's modules."""
    project = tmp_path_factory.mktemp("project") / "demo"
    starter.write("demo", project)

    def ours(module: str) -> bool:
        return module == "model_server" or module.startswith("model_server.")

    saved = {name: sys.modules.pop(name) for name in [m for m in sys.modules if ours(m)]}
    sys.path.insert(0, str(project))
    try:
        module = importlib.import_module("model_server.server")
        assert Path(module.__file__ or "").is_relative_to(project)
        yield module
    finally:
        sys.path.remove(str(project))
        for name in [m for m in sys.modules if ours(m)]:
            del sys.modules[name]
        sys.modules.update(saved)

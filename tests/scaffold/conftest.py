"""Fixtures for the tests of `ml-gen init`'s project: one project written and trained per session, its server."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from ml_gen import starter


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project written by `ml-gen init demo` whose model was trained by its own train.py (read-only: copy it)."""
    root = tmp_path_factory.mktemp("scaffold") / "demo"
    starter.write("demo", root)
    done = subprocess.run(
        [sys.executable, "train.py"], cwd=root, capture_output=True, text=True, env={"PYTHONDONTWRITEBYTECODE": "1"}
    )
    assert done.returncode == 0, done.stderr
    return root


@pytest.fixture(scope="session")
def artifact(project: Path) -> Path:
    """The model artifact train.py wrote."""
    return project / "model" / "model.joblib"


@pytest.fixture(scope="session")
def server(project: Path) -> Iterator[ModuleType]:
    """The project's model_server.server module, imported from the written files (not from ml-gen's package)."""
    sys.path.insert(0, str(project))
    dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        module = importlib.import_module("model_server.server")
        assert Path(module.__file__ or "").is_relative_to(project)
        yield module
    finally:
        sys.dont_write_bytecode = dont_write
        sys.path.remove(str(project))


@pytest.fixture(scope="session")
def actionlint(pinned: Callable[[str], str]) -> str:
    """The pinned actionlint built by scripts/install-tools."""
    return pinned("actionlint")


@pytest.fixture(scope="session")
def shellcheck() -> str:
    """Debian's shellcheck (tools/debian-packages.txt), which actionlint runs on every run: script."""
    path = shutil.which("shellcheck")
    if path is None:
        pytest.fail("shellcheck is missing: run scripts/install-packages", pytrace=False)
    return path

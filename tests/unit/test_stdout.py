"""The real `ml-gen` script when its stdout fails: a closed pipe ends it quietly with 141, a full or closed
stdout is one line on stderr and exit 1; never exit 3, never a traceback; files written before are complete."""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ml_gen.errors import EXIT_BROKEN_PIPE, EXIT_FAILED, EXIT_USAGE

ROOT = Path(__file__).resolve().parents[2]
ML_GEN = Path(sys.executable).parent / "ml-gen"  # the console script of this environment
COMMANDS = [["envs"], ["render", "--all"], ["validate", "dev"], ["schema"], ["--help"], ["--version"], ["render", "-h"]]


def _closed_pipe() -> int:
    """The write end of a pipe whose read end is already closed: the first write fails with EPIPE."""
    read, write = os.pipe()
    os.close(read)
    return write


def _run(args: list[str], cwd: Path, stdout: str, stderr: str = "capture") -> subprocess.CompletedProcess[str]:
    """ml-gen ARGS in CWD with stdout (and stderr) 'pipe-closed', 'full' or 'closed' (`>&-`)."""
    command = [str(ML_GEN), *args]
    fds: list[int] = []
    if stdout == "closed":
        command = ["sh", "-c", 'exec "$0" "$@" >&-', *command]
        out: int | None = None
    elif stdout == "full":
        out = os.open("/dev/full", os.O_WRONLY)
        fds.append(out)
    else:
        out = _closed_pipe()
        fds.append(out)
    err = subprocess.PIPE if stderr == "capture" else out
    try:
        return subprocess.run(command, cwd=cwd, stdout=out, stderr=err, text=True, timeout=120, check=False)
    finally:
        for fd in fds:
            os.close(fd)


def _project(tmp_path: Path, name: str) -> Path:
    directory = tmp_path / name
    directory.mkdir()
    shutil.copy(ROOT / "ml-model.yaml", directory / "ml-model.yaml")
    return directory


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The example rendered with a working stdout."""
    directory = _project(tmp_path_factory.mktemp("reference"), "project")
    subprocess.run([str(ML_GEN), "render", "--all"], cwd=directory, capture_output=True, check=True, timeout=120)
    return directory


def _same_tree(left: Path, right: Path) -> None:
    """Every file under both directories, byte for byte (and nothing else, no temporary file left)."""
    assert sorted(p.relative_to(left) for p in left.rglob("*")) == sorted(
        p.relative_to(right) for p in right.rglob("*")
    )
    files = [str(p.relative_to(left)) for p in left.rglob("*") if p.is_file()]
    match, mismatch, errors = filecmp.cmpfiles(left, right, files, shallow=False)
    assert (mismatch, errors) == ([], [])
    assert len(match) > 1


CASES = [(args, stdout) for stdout in ("pipe-closed", "full") for args in COMMANDS]
CASES += [(["--version"], "closed"), (["envs"], "closed")]  # the fast path and click, when Python had no stdout


@pytest.mark.parametrize(("args", "stdout"), CASES, ids=[f"{stdout}-{' '.join(args)}" for args, stdout in CASES])
def test_a_failing_stdout_is_never_an_internal_error(args, stdout, tmp_path, reference):
    project = _project(tmp_path, "project")
    result = _run(args, project, stdout)
    if stdout == "pipe-closed":  # the reader went away: nothing to say, 128 + SIGPIPE
        assert (result.returncode, result.stderr) == (EXIT_BROKEN_PIPE, "")
    else:
        reason = "No space left on device" if stdout == "full" else "Bad file descriptor"
        assert (result.returncode, result.stderr) == (
            EXIT_FAILED,
            f"ml-gen: error: cannot write to standard output: {reason}\n",
        )
    if args == ["render", "--all"]:  # written before the summary line failed, and complete
        _same_tree(project, reference)


def test_python_dash_m_fails_the_same_way():
    out = _closed_pipe()
    try:
        command = [sys.executable, "-m", "ml_gen", "schema"]
        result = subprocess.run(command, stdout=out, stderr=subprocess.PIPE, text=True, timeout=120, check=False)
    finally:
        os.close(out)
    assert (result.returncode, result.stderr) == (EXIT_BROKEN_PIPE, "")


def test_stderr_on_the_closed_pipe_too(tmp_path, reference):
    """`2>&1 | true`: the notes and errors stderr cannot take are dropped; the exit code is the command's."""
    project = _project(tmp_path, "project")
    result = _run(["render", "nope"], project, "pipe-closed", stderr="same")
    assert result.returncode == EXIT_USAGE
    result = _run(["render", "--all"], project, "pipe-closed", stderr="same")
    assert result.returncode == EXIT_BROKEN_PIPE
    _same_tree(project, reference)


def test_an_edit_with_render_is_done_whole_before_it_says_so(tmp_path):
    """set-image --render: the config and the output are written before the first line fails."""
    project = _project(tmp_path, "project")
    result = _run(["set-image", "dev", "--tag", "abc123", "--render"], project, "full")
    assert (result.returncode, result.stderr) == (
        EXIT_FAILED,
        "ml-gen: error: cannot write to standard output: No space left on device\n",
    )
    check = subprocess.run([str(ML_GEN), "render", "dev", "--check"], cwd=project, capture_output=True, timeout=120)
    assert check.returncode == 0, check.stdout
    assert "abc123" in (project / "values" / "dev.yaml").read_text()

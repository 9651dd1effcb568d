"""The one atomic writer: render, set-image/set-model and init refuse FIFOs, sockets and symlinked
directories in one place, before anything is written and without ever blocking on a FIFO."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ml_gen import edit
from ml_gen.cli import main
from ml_gen.errors import OutputError
from ml_gen.output import atomic
from ml_gen.output.atomic import Removal, Write


def ml_gen(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """ml-gen in a real process, killed after 20 s: a FIFO opened for reading or writing would block it."""
    return subprocess.run(
        [sys.executable, "-m", "ml_gen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=20,
    )


def refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 2 and one line naming what was refused; nothing on stdout."""
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith("ml-gen: error: ") and done.stderr.count("\n") == 1, done.stderr
    for word in words:
        assert word in done.stderr, done.stderr


def make_socket(path: Path) -> None:
    """A UNIX socket file at path (bound from its directory: a socket path has a 108-byte limit)."""
    here = os.getcwd()
    os.chdir(path.parent)
    try:
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(path.name)
    finally:
        os.chdir(here)


def symlinked_dir(path: Path) -> None:
    """path, a symlink to an empty directory beside its parent."""
    elsewhere = path.parent.parent / f"elsewhere-{path.name}"
    elsewhere.mkdir()
    path.symlink_to(elsewhere, target_is_directory=True)


MAKERS = {"fifo": os.mkfifo, "socket": make_socket, "symlinked-directory": symlinked_dir}


@contextlib.contextmanager
def no_hang(seconds: int = 20) -> Iterator[None]:
    """Fail the test instead of hanging when a FIFO is opened in this process."""

    def hung(*_: object) -> None:
        raise AssertionError(f"blocked for {seconds} s (a FIFO opened?)")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def example(tmp_path, repo_root) -> Path:
    """A copy of the repository's example config, rendered once."""
    root = tmp_path / "p"
    root.mkdir()
    shutil.copy(repo_root / "ml-model.yaml", root / "ml-model.yaml")
    result = CliRunner().invoke(main, ["render", "--all", "-c", str(root / "ml-model.yaml")])
    assert result.exit_code == 0, result.output
    return root


# -- through the command line, in a real process -----------------------------------------------------


@pytest.mark.parametrize("command", [["set-image", "dev", "--tag", "2.0"], ["set-model", "dev", "--version", "2.0"]])
def test_an_edit_of_a_fifo_is_refused_without_blocking(tmp_path, snapshot, command):
    os.mkfifo(tmp_path / "ml-model.yaml")
    before = snapshot(tmp_path)
    refused(ml_gen(tmp_path, *command, "-c", "ml-model.yaml"), "ml-model.yaml: is a FIFO, not a regular file")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("what", MAKERS)
@pytest.mark.parametrize("where", ["Dockerfile", "model_server", "ml-model.yaml"])
def test_init_into_a_fifo_socket_or_symlinked_directory_is_refused(tmp_path, snapshot, what, where):
    root = tmp_path / "p"
    root.mkdir()
    MAKERS[what](root / where)
    before = snapshot(tmp_path)
    for force in ([], ["--force"]):
        done = ml_gen(tmp_path, "init", "demo", "p", *force)
        if what == "symlinked-directory":
            refused(done, f"p/{where}: is a symlink; ml-gen does not write through links")
        elif where == "model_server":
            refused(done, f"p/{where}: is a {what.upper() if what == 'fifo' else what}, where ml-gen needs a directory")
        else:
            refused(done, f"p/{where}: is a {what.upper() if what == 'fifo' else what}; ml-gen will not replace it")
        assert snapshot(tmp_path) == before


def test_init_into_a_directory_that_is_a_fifo_is_refused(tmp_path):
    os.mkfifo(tmp_path / "p")
    refused(ml_gen(tmp_path, "init", "demo", "p"), "p: is a FIFO, where ml-gen needs a directory")


@pytest.mark.parametrize("what", MAKERS)
@pytest.mark.parametrize("where", ["values/dev.yaml", "manifests/dev"])
def test_render_over_a_fifo_socket_or_symlinked_directory_is_refused(example, snapshot, what, where):
    target = example / where
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink()
    MAKERS[what](target)
    before = snapshot(example.parent)
    kind = "FIFO" if what == "fifo" else what
    words = {
        "symlinked-directory": f"{where}: is a symlink; ml-gen does not write through links",
        "values/dev.yaml": f"{where}: is a {kind}; ml-gen will not replace it",
        "manifests/dev": f"{where}: is a {kind}, where ml-gen needs a directory",
    }
    for check in ([], ["--check"]):
        refused(ml_gen(example, "render", "--all", *check), words.get(what, words[where]))
        assert snapshot(example.parent) == before


# -- the writer itself --------------------------------------------------------------------------------


def test_an_edit_refuses_a_config_replaced_by_a_fifo_meanwhile(tmp_path, monkeypatch, repo_root):
    monkeypatch.chdir(tmp_path)
    shutil.copy(repo_root / "ml-model.yaml", "ml-model.yaml")
    pending = edit.set_image("ml-model.yaml", ["dev"], tag="9.9")
    os.unlink("ml-model.yaml")
    os.mkfifo("ml-model.yaml")
    with no_hang(), pytest.raises(OutputError, match=r"^ml-model.yaml: is a FIFO; ml-gen will not replace it$"):
        edit.write(pending)
    assert sorted(os.listdir(tmp_path)) == ["home", "ml-model.yaml"]


@pytest.mark.parametrize("what", ["fifo", "socket"])
def test_a_removal_or_a_read_never_opens_a_fifo_or_socket(tmp_path, what):
    MAKERS[what](tmp_path / "x")
    kind = "FIFO" if what == "fifo" else what
    with no_hang():
        with pytest.raises(OutputError, match=f"x: is a {kind}; ml-gen will not replace it"):
            atomic.write_files([], [Removal(tmp_path, Path("x"))])
        if what == "fifo":  # a socket cannot be opened at all (ENXIO)
            with pytest.raises(OutputError, match="x: is a FIFO; ml-gen will not replace it"):
                atomic.read_file(tmp_path / "x")
    assert atomic.file_type(tmp_path / "x") == kind


def test_a_device_is_refused(tmp_path):
    with pytest.raises(OutputError, match="null: is a character device; ml-gen will not replace it"):
        atomic.write_files([Write(Path("/dev"), Path("null"), b"x")])


def test_symlinks_below_the_root_are_refused_and_the_root_is_followed(tmp_path, snapshot):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "file").write_text("mine\n")
    (tmp_path / "real" / "sub").symlink_to(".")
    (tmp_path / "real" / "link").symlink_to("file")
    (tmp_path / "root").symlink_to("real")  # a directory the user named, e.g. --out root
    (tmp_path / "nowhere").symlink_to("gone")
    before = snapshot(tmp_path)
    for root, relative in [("real", "sub/new"), ("real", "link"), ("root", "link")]:
        with pytest.raises(OutputError, match="is a symlink; ml-gen does not write through links"):
            atomic.write_files([Write(tmp_path / root, Path(relative), b"x")])
    with pytest.raises(OutputError, match="nowhere: is a dangling symlink, where ml-gen needs a directory"):
        atomic.write_files([Write(tmp_path / "nowhere", Path("new"), b"x")])
    assert snapshot(tmp_path) == before
    atomic.write_files([Write(tmp_path / "root", Path("new"), b"x")])
    assert (tmp_path / "real" / "new").read_bytes() == b"x"


def test_a_missing_root_is_made_in_a_directory_and_only_there(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"file: is a file, where ml-gen needs a directory$"):
        atomic.write_files([Write(tmp_path / "file" / "a" / "b", Path("c"), b"x")])
    atomic.write_files([Write(tmp_path / "a" / "b", Path("c/d"), b"x")])
    assert (tmp_path / "a/b/c/d").read_bytes() == b"x"


def test_modes_new_replaced_and_given(tmp_path):
    (tmp_path / "kept").write_text("old\n")
    os.chmod(tmp_path / "kept", 0o640)
    (tmp_path / "given").write_text("old\n")
    umask = os.umask(0o022)
    try:
        atomic.write_files(
            [
                Write(tmp_path, Path("new"), b"x"),
                Write(tmp_path, Path("kept"), b"x"),
                Write(tmp_path, Path("given"), b"x", mode=0o600),
            ]
        )
    finally:
        os.umask(umask)
    modes = {name: stat.S_IMODE(os.stat(tmp_path / name).st_mode) for name in ("new", "kept", "given")}
    assert modes == {"new": 0o644, "kept": 0o640, "given": 0o600}


def test_a_file_changed_since_it_was_read_is_not_written(tmp_path, snapshot):
    (tmp_path / "a").write_text("changed\n")
    before = snapshot(tmp_path)
    writes = [Write(tmp_path, Path("new"), b"x"), Write(tmp_path, Path("a"), b"mine\n", unchanged=b"read\n")]
    with pytest.raises(OutputError, match="a: changed on disk since ml-gen read it; nothing was changed"):
        atomic.write_files(writes)
    assert snapshot(tmp_path) == before


def test_a_removal_takes_its_emptied_directory_but_never_a_root(tmp_path):
    for rel in ("d/a", "d/b", "e/a", "top"):
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text("x")
    atomic.write_files(
        [Write(tmp_path, Path("e/new"), b"x")],
        [Removal(tmp_path, Path(rel)) for rel in ("d/a", "d/b", "e/a", "top")],
    )
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == ["e", "e/new", "home"]


def test_a_symlinked_output_root_or_project_directory_is_followed(example, tmp_path):
    """The directory a user names may be a link (README: "the output root itself may be a link")."""
    from ml_gen import starter

    for name in ("out", "project"):
        (tmp_path / f"real-{name}").mkdir()
        (tmp_path / name).symlink_to(f"real-{name}")
    result = CliRunner().invoke(
        main, ["render", "--all", "-c", str(example / "ml-model.yaml"), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "real-out" / "values" / "dev.yaml").is_file()
    starter.write("demo", tmp_path / "project")
    assert (tmp_path / "real-project" / "Dockerfile").is_file()

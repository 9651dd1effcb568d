"""The one atomic writer: files written and removed below their roots all together or not at all."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ml_gen.errors import OutputError, os_reason

_TYPES = {
    stat.S_IFREG: "file",
    stat.S_IFDIR: "directory",
    stat.S_IFLNK: "symlink",
    stat.S_IFIFO: "FIFO",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
}


@dataclass(frozen=True, slots=True)  # slots: no dict per file, which weighs on a large transaction
class Write:
    """A file to write: the directory it belongs to, its path below that root, and its bytes (or text,
    encoded as UTF-8 only when the file is written: a large transaction then holds no second copy of
    every file)."""

    root: Path
    relative: Path
    data: bytes | str
    mode: int | None = None  # None: the replaced file's mode, or for a new file 0o666 less the umask (as open())
    unchanged: bytes | None = None  # the bytes the file held when the caller read it: refused if it holds others

    @property  # joined when asked, not kept: a large transaction would hold a Path a file
    def path(self) -> Path:
        return self.root / self.relative


@dataclass(frozen=True, slots=True)
class Removal:
    """A file to remove; its directory goes too when it is left empty (unless it is the root)."""

    root: Path
    relative: Path
    path: Path = field(init=False, repr=False, compare=False)  # asked for several times a file: joined once

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", self.root / self.relative)


def _token() -> str:
    """8 random hex digits for a hidden temporary name (as secrets.token_hex(4), without importing secrets)."""
    return os.urandom(4).hex()


def file_type(path: Path, follow: bool = False) -> str:
    """What is at a path: file, directory, symlink, FIFO, socket, character device, block device, or
    missing; a symlink is followed only with `follow` (then a dangling one is missing)."""
    try:
        mode = (os.stat if follow else os.lstat)(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except OSError as err:
        raise OutputError(f"{path}: cannot read ({os_reason(err)})") from None
    return _TYPES.get(stat.S_IFMT(mode), "special file")


Checked = dict[tuple[Path, tuple[str, ...]], bool]
"""What one pass over many paths found: (root, directory below it) -> there (True) or missing (False)."""


def check_path(root: Path, relative: Path, checked: Checked | None = None) -> bool:
    """Refuse, before anything is written, a path ml-gen must not write: below the root, a symlink or
    anything but a directory on the way, and a symlink or anything but a regular file at the path.
    The root is the caller's (a directory the user named): it may be a link, and when it is missing
    the nearest thing above it must be a directory. Whether a file is there now.

    Only stat and lstat are used: a FIFO, socket or device is never opened. `checked`: what one pass over
    many paths found so far (filled in here), so that no directory is looked at twice: the root and each
    directory that passed, with whether it is there (True) or missing (False)."""
    checked = {} if checked is None else checked
    if (root, ()) not in checked:
        _check_root(root)
        checked[root, ()] = True
    parts = relative.parts
    for depth in range(1, len(parts)):
        there = checked.get((root, parts[:depth]))
        if there is None:
            directory = root.joinpath(*parts[:depth])
            found = file_type(directory)
            if found == "symlink":
                raise OutputError(f"{directory}: is a symlink; ml-gen does not write through links")
            if found not in ("missing", "directory"):
                raise OutputError(f"{directory}: is a {found}, where ml-gen needs a directory")
            there = checked[root, parts[:depth]] = found == "directory"
        if not there:
            return False  # everything below is missing too, and will be made
    found = file_type(root / relative)
    if found == "symlink":
        raise OutputError(f"{root / relative}: is a symlink; ml-gen does not write through links")
    if found not in ("missing", "file"):
        raise OutputError(f"{root / relative}: is a {found}; ml-gen will not replace it")
    return found == "file"


def _check_root(root: Path) -> None:
    """The root may be a link; when it is missing, the nearest thing above it must be a directory."""
    existing = root
    while (found := file_type(existing, follow=True)) == "missing" and existing != existing.parent:
        if file_type(existing) == "symlink":
            raise OutputError(f"{existing}: is a dangling symlink, where ml-gen needs a directory")
        existing = existing.parent
    if found != "directory":
        raise OutputError(f"{existing}: is a {found}, where ml-gen needs a directory")


def read_file(path: Path) -> bytes | None:
    """A regular file's bytes, or None when nothing is there; never follows a symlink at the path, and
    never blocks on a FIFO (it opens at once and is refused)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        raise OutputError(f"{path}: cannot read ({os_reason(err)}); nothing was changed") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            found = _TYPES.get(stat.S_IFMT(mode), "special file")
            raise OutputError(f"{path}: is a {found}; ml-gen will not replace it")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as err:
        raise OutputError(f"{path}: cannot read ({os_reason(err)}); nothing was changed") from None
    finally:
        os.close(fd)


def write_files(writes: Iterable[Write], removals: Iterable[Removal] = (), *, durable: bool = False) -> None:
    """Write and remove every file, or none.

    First every path is checked (check_path) and every `unchanged` file compared, before anything is
    written. Phase 1 writes temporaries beside the targets (making missing directories). Phase 2 swaps
    them in, keeping a hard-link backup of every file it replaces and moving every file it removes
    aside, so a failure part-way is rolled back. With durable, every file is flushed to disk before it
    is swapped in (for a user's own files; generated output can be generated again, faster)."""
    writes, removals = list(writes), list(removals)
    existed: dict[str, int] = {}  # the mode of every file that is replaced
    checked: Checked = {}
    for write in writes:
        if check_path(write.root, write.relative, checked):
            path = str(write.path)
            existed[path] = stat.S_IMODE(os.lstat(path).st_mode)
        if write.unchanged is not None and read_file(write.path) != write.unchanged:
            raise OutputError(f"{write.path}: changed on disk since ml-gen read it; nothing was changed")
    for removal in removals:
        check_path(removal.root, removal.relative, checked)
    emptied = _emptied(writes, removals)
    token = _token()
    asides = [(r.path, r.root / f".ml-gen.{token}.{n}.bak") for n, r in enumerate(removals)]
    # paths as plain strings from here on: a Path a file would weigh on a large transaction
    pending: list[tuple[str, str, bool]] = []  # (temporary, target, a file is there now)
    created: list[Path] = []
    ready: set[str] = set()  # directories known to be there now
    target = ""
    try:
        for write in writes:
            target = str(write.path)
            directory = os.path.dirname(target)
            if directory not in ready:
                _make_dirs(Path(directory), created)
                ready.add(directory)
            mode = write.mode if write.mode is not None else existed.get(target)
            pending.append((_write_temporary(target, write.data, mode, durable), target, target in existed))
    except OSError as err:
        _undo_phase_one(pending, created)
        raise OutputError(f"{target}: cannot write ({os_reason(err)}); nothing was changed") from None
    except BaseException:
        _undo_phase_one(pending, created)
        raise
    try:
        _swap(pending, asides, emptied)
    except _SwapFailed as failed:
        _undo_phase_one(pending, created)
        raise OutputError(f"{failed.target}: cannot write ({failed.reason}); nothing was changed") from None


def _emptied(writes: list[Write], removals: list[Removal]) -> list[Path]:
    """The directories (never a root) whose every entry is removed and into which nothing is written."""
    if not removals:
        return []
    removed = {r.path for r in removals}
    written_into = {w.path.parent for w in writes}
    found = []
    for directory in sorted({r.path.parent for r in removals} - {r.root for r in removals} - written_into):
        if {directory / name for name in os.listdir(directory)} <= removed:
            found.append(directory)
    return found


def _write_temporary(path: str, data: bytes | str, mode: int | None, durable: bool) -> str:
    """DATA in a new hidden file beside PATH (created, never opened if something is there), with MODE."""
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".{name}.{_token()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    try:
        view = memoryview(data.encode() if isinstance(data, str) else data)
        while view:  # os.write may write less than asked
            view = view[os.write(fd, view) :]
        if mode is not None:
            os.fchmod(fd, mode)
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    os.close(fd)
    return temporary


class _SwapFailed(Exception):
    """A step of phase 2 failed (and was rolled back); names the target, never a temporary."""

    def __init__(self, target: str | Path, reason: str):
        self.target, self.reason = target, reason


def _undo_phase_one(pending: list[tuple[str, str, bool]], created: list[Path]) -> None:
    """Remove the temporaries that are still there and the directories phase 1 made."""
    for temporary, _, _ in pending:
        with contextlib.suppress(OSError):  # renamed in and rolled back, or never written
            os.unlink(temporary)
    for directory in reversed(created):
        with contextlib.suppress(OSError):  # a rollback step that fails must not hide the first error
            directory.rmdir()


def _swap(pending: list[tuple[str, str, bool]], asides: list[tuple[Path, Path]], emptied: list[Path]) -> None:
    """Rename temporaries over targets, move removed files aside (to their root, so their directory
    can go) and remove emptied directories, undoing all of it if one step fails. Backups are dropped
    only after the last step succeeded."""
    done: list[tuple[str | Path, str | Path | None]] = []  # steps: (target, where its old content is, or None)
    removed_dirs: list[Path] = []
    current: str | Path = ""
    try:
        for temporary, target, existed in pending:
            current = target
            backup = _backup(target) if existed else None
            try:
                os.replace(temporary, target)
            except OSError:
                if backup is not None:
                    os.unlink(backup)
                raise
            done.append((target, backup))
        for path, aside in asides:
            current = path
            os.replace(path, aside)
            done.append((path, aside))
        for directory in emptied:
            current = directory
            directory.rmdir()
            removed_dirs.append(directory)
    except OSError as err:
        for directory in reversed(removed_dirs):
            directory.mkdir()
        for undone, old in reversed(done):
            if old is not None:
                os.replace(old, undone)
            else:
                os.unlink(undone)
        raise _SwapFailed(current, os_reason(err)) from None
    for _, old in done:
        if old is not None:
            with contextlib.suppress(OSError):  # committed: a backup that cannot go is a harmless hidden link
                os.unlink(old)


def _backup(path: str) -> str:
    """A hard link to the file's current content."""
    directory, name = os.path.split(path)
    backup = os.path.join(directory, f".{name}.{_token()}.bak")
    os.link(path, backup)
    return backup


def _make_dirs(directory: Path, created: list[Path]) -> None:
    """mkdir -p that remembers what it made, so a failed commit can take it back."""
    if os.path.isdir(directory):
        return
    _make_dirs(directory.parent, created)
    directory.mkdir()
    created.append(directory)

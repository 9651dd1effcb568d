"""Writing plans as one transaction: every changed file of every plan, or none."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ml_gen.errors import OutputError, os_reason
from ml_gen.output.plan import Plan, preflight


def commit(plans: list[Plan]) -> list[Path]:
    """Write every changed file of every plan, or none, and remove stale files.

    Phase 1 writes temporaries beside the targets. Phase 2 swaps them in, keeping a hard-link
    backup of every file it replaces and moving every file it removes aside, so a failure part-way
    is rolled back. On any error every tree is left as it was. Returns the paths written or removed.
    """
    stale: list[tuple[Path, Path]] = []  # (output root, stale file)
    emptied: list[Path] = []  # leftover environment directories to remove once empty
    for plan in plans:  # all checks and reads before the first write
        preflight(plan.root)
        plan.refuse_foreign()
        gone = plan.stale()
        stale += [(plan.root, rel) for rel in gone]
        for directory in sorted({rel.parent for rel in gone if rel.parent.parent == Path("manifests")}):
            if {directory / name for name in os.listdir(plan.root / directory)} == {
                r for r in gone if r.parent == directory
            }:
                emptied.append(plan.root / directory)
    removals = [(root / rel, root / f".ml-gen.{os.getpid()}.{n}.bak") for n, (root, rel) in enumerate(stale)]
    changed = [(plan, plan.differing()) for plan in plans]
    pending: list[tuple[Path, Path, bool]] = []  # (temporary, target, a file is there now)
    created: list[Path] = []
    try:
        for plan, differing in changed:
            for rel, existed in differing:
                target = plan.root / rel
                _make_dirs(target.parent, created)
                tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)  # mode as open() gives
                pending.append((tmp, target, existed))
                _write_all(fd, plan.files[rel].encode())
    except OSError as err:
        _undo_phase_one(pending, created)
        raise OutputError(f"{target}: cannot write ({os_reason(err)}); nothing was changed") from None
    try:
        _swap(pending, removals, emptied)
    except _SwapFailed as failed:
        _undo_phase_one(pending, created)
        raise OutputError(f"{failed.target}: cannot write ({failed.reason}); nothing was changed") from None
    return [target for _, target, _ in pending] + [path for path, _ in removals]


class _SwapFailed(Exception):
    """A step of phase 2 failed (and was rolled back); names the target, never a temporary."""

    def __init__(self, target: Path, reason: str):
        self.target, self.reason = target, reason


def _undo_phase_one(pending: list[tuple[Path, Path, bool]], created: list[Path]) -> None:
    """Remove the temporaries that are still there and the directories phase 1 made."""
    for tmp_path, _, _ in pending:
        with contextlib.suppress(OSError):  # renamed in and rolled back, or never written
            tmp_path.unlink()
    for directory in reversed(created):
        with contextlib.suppress(OSError):  # a rollback step that fails must not hide the first error
            directory.rmdir()


def _write_all(fd: int, data: bytes) -> None:
    """Write and close a file descriptor (os.write may write less than asked)."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _swap(pending: list[tuple[Path, Path, bool]], removals: list[tuple[Path, Path]], emptied: list[Path]) -> None:
    """Rename temporaries over targets, move stale files aside (to the output root, so their directory
    can go) and remove emptied leftover directories, undoing all of it if one step fails. Backups are
    dropped only after the last step succeeded."""
    done: list[tuple[Path, Path | None]] = []  # steps taken: (target, where its old content is, or None)
    removed_dirs: list[Path] = []
    current = Path()
    try:
        for tmp_path, target, existed in pending:
            current = target
            backup = _backup(target) if existed else None
            try:
                os.replace(tmp_path, target)
            except OSError:
                if backup is not None:
                    backup.unlink()
                raise
            done.append((target, backup))
        for path, aside in removals:
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
        for target, backup in reversed(done):
            if backup is not None:
                os.replace(backup, target)
            else:
                target.unlink()
        raise _SwapFailed(current, os_reason(err)) from None
    for _, backup in done:
        if backup is not None:
            with contextlib.suppress(OSError):  # committed: a backup that cannot go is a harmless hidden link
                backup.unlink()


def _backup(path: Path) -> Path:
    """A hard link to the file's current content."""
    backup = path.with_name(f".{path.name}.{os.getpid()}.bak")
    backup.unlink(missing_ok=True)
    os.link(path, backup)
    return backup


def _make_dirs(directory: Path, created: list[Path]) -> None:
    """mkdir -p that remembers what it made, so a failed commit can take it back."""
    if directory.is_dir():
        return
    _make_dirs(directory.parent, created)
    directory.mkdir()
    created.append(directory)

"""Unpack one downloaded .tar/.tar.gz/.tgz/.zip in place: regular files and directories only, all inside it."""

from __future__ import annotations

import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from model_server.sources import FetchError

SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")


def is_archive(name: str) -> bool:
    """Whether a downloaded file is unpacked rather than kept (by its name, as KServe decides)."""
    return name.lower().endswith(SUFFIXES)


def unpack(archive: Path, into: Path, take: Callable[[int], None]) -> None:
    """Extract ARCHIVE into INTO; TAKE(bytes) is told each file's size first (it raises when over the limit)."""
    try:
        if archive.name.lower().endswith(".zip"):
            _unzip(archive, into, take)
        else:
            _untar(archive, into, take)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as err:
        raise FetchError(f"cannot unpack {archive.name}: {type(err).__name__}: {err}") from None


def _untar(archive: Path, into: Path, take: Callable[[int], None]) -> None:
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for member in members:
            _check_name(member.name, archive)
            if not (member.isfile() or member.isdir()):  # a link could lead out, a device is no model
                raise FetchError(f"archive escapes MODEL_PATH ({archive.name}: {member.name} is not a file)")
            # No setuid, setgid or world-writable files; the fetcher (not root) must be able to move and remove
            # what it unpacked, so its directories stay rwx and its files rw for their owner.
            member.mode = (member.mode & 0o755) | (0o700 if member.isdir() else 0o600)
            take(member.size if member.isfile() else 0)
        # Python's own check as well where it has one (3.11.4 and later; Debian bookworm's 3.11.2 has not).
        extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(into, members=members, **extra)  # type: ignore[arg-type]


def _unzip(archive: Path, into: Path, take: Callable[[int], None]) -> None:
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            parts = _check_name(info.filename, archive)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise FetchError(f"archive escapes MODEL_PATH ({archive.name}: {info.filename} is a link)")
            destination = into.joinpath(*parts)
            if info.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(info) as source, destination.open("xb") as out:
                while chunk := source.read(1024 * 1024):
                    take(len(chunk))  # counted as written: a header's size can lie, the data cannot
                    out.write(chunk)


def _check_name(name: str, archive: Path) -> tuple[str, ...]:
    """A member's path parts; FetchError for an absolute path, '..', or the archive's own name."""
    path = PurePosixPath(name.replace("\\", "/"))
    parts = tuple(p for p in path.parts if p != ".")
    if path.is_absolute() or ".." in parts or (parts and parts[0] == archive.name):
        raise FetchError(f"archive escapes MODEL_PATH ({archive.name}: {name})")
    return parts

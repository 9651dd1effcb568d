"""Standard output that fails in one documented way: a reader that went away ends ml-gen quietly (exit 141),
any other write error (a full disk, a closed stdout) is one line on stderr (exit 1); stderr never fails."""

from __future__ import annotations

import errno
import io
import os
import sys

from ml_gen.errors import EXIT_BROKEN_PIPE, EXIT_FAILED

TYPE_CHECKING = False  # not typing's: it imports re, a quarter of what `ml-gen --help` costs (ml_gen.launch)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

    from typing_extensions import Buffer


class StdoutFailed(Exception):
    """A write to standard output failed; raised once, every later write is dropped."""

    def __init__(self, err: OSError):
        self.errno = err.errno
        super().__init__(err.strerror or os.strerror(err.errno or errno.EIO))


class _Descriptor(io.RawIOBase):
    """File descriptor 1 or 2 as a raw stream (None: closed when ml-gen started). The first failed write
    raises StdoutFailed (stdout) or is dropped (stderr); once failed, every write is dropped, so the buffer
    empties and nothing fails again when Python flushes at exit."""

    def __init__(self, fd: int | None, raises: bool):
        super().__init__()
        self.fd, self.raises, self.failed = fd, raises, False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        if self.fd is None:
            raise io.UnsupportedOperation("standard stream closed")
        return self.fd

    def isatty(self) -> bool:
        return self.fd is not None and os.isatty(self.fd)

    def write(self, data: Buffer) -> int:
        if self.failed:
            return memoryview(data).nbytes
        try:
            if self.fd is None:  # never write to descriptor 1 then: a file ml-gen opens may hold it
                raise OSError(errno.EBADF, os.strerror(errno.EBADF))
            return os.write(self.fd, data)
        except OSError as err:
            self.failed = True
            if self.raises:
                raise StdoutFailed(err) from None
            return memoryview(data).nbytes


def _guarded(stream: TextIO | None, fd: int, raises: bool) -> TextIO:
    """A text stream like `stream` (the one Python opened on `fd`) over a _Descriptor; a stream on no
    descriptor or on another one (a caller's capture) is left as it is."""
    if stream is not None:
        try:
            if stream.fileno() != fd:
                return stream
        except (AttributeError, ValueError, OSError):
            return stream
        stream.flush()
    raw = _Descriptor(fd if stream is not None else None, raises)
    return io.TextIOWrapper(
        io.BufferedWriter(raw),
        encoding=stream.encoding if stream is not None else "utf-8",
        errors=stream.errors if stream is not None else "strict",
        line_buffering=bool(stream.line_buffering) if stream is not None else False,
    )


def run(command: Callable[[], object]) -> None:
    """Run `command` (the ml-gen command line) with guarded standard streams; exit as documented in
    docs/commands.md when stdout fails, whatever the command was doing (its files are written by then)."""
    sys.stdout = _guarded(sys.stdout, 1, raises=True)
    sys.stderr = _guarded(sys.stderr, 2, raises=False)
    try:
        try:
            command()
        finally:
            sys.stdout.flush()
    except StdoutFailed as failed:
        if failed.errno == errno.EPIPE:
            sys.exit(EXIT_BROKEN_PIPE)
        sys.stderr.write(f"ml-gen: error: cannot write to standard output: {failed}\n")
        sys.exit(EXIT_FAILED)

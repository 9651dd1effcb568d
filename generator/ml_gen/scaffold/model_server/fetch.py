"""`python -m model_server.fetch`: download the model MODEL_URI names into the directory MODEL_PATH (an init container).

The contract, for this server or any other (a bring-your-own server's fetcher implements the same):
  in:  MODEL_URI         s3://bucket/key, s3://bucket/prefix/, gs://bucket/path, hf://org/repo[@revision],
                         https://... (MODEL_SHA256 required), models:/name/version or models:/name@alias
       MODEL_PATH        the directory to fill (empty, or holding an earlier complete fetch, which is replaced)
       MODEL_SHA256      optional: hex sha256 of the one downloaded file (of an archive: before unpacking)
       MODEL_SIZE_LIMIT  optional: bytes the fetched files may take in MODEL_PATH in all (archive and unpacked)
       and each store's standard variables: AWS_* and S3_ADDRESSING_STYLE, STORAGE_EMULATOR_HOST, HF_ENDPOINT and
       HF_TOKEN, MLFLOW_TRACKING_URI and MLFLOW_TRACKING_TOKEN (or _USERNAME/_PASSWORD)
  out: the files under MODEL_PATH, relative paths kept (an S3/GCS prefix, a Hub repository, an MLflow model
       directory); one downloaded .tar/.tar.gz/.tgz/.zip is unpacked there instead (KServe's storage
       initializer does the same): files and directories only, none outside MODEL_PATH.
  One line on stderr (and in /dev/termination-log, which `kubectl describe pod` shows) on failure,
  `fetch-model: <what failed>: <MODEL_URI>`, exit 1 (2: the settings cannot work, e.g. an unsupported
  scheme); one line on stdout on success, naming what was fetched and its size, exit 0.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path, PurePosixPath

from model_server import unpack
from model_server.sources import BadSetting, FetchError, Remote, remotes

PARTIAL = ".fetch-partial"  # the download's staging directory inside MODEL_PATH
DONE = ".fetched"  # written after a complete fetch: the URI it fetched
CHUNK = 1024 * 1024
TERMINATION_LOG = Path("/dev/termination-log")
REMOTE = ("s3://", "gs://", "hf://", "https://", "models:/")  # the schemes fetched (others are paths or claims)


class Budget:
    """The bytes MODEL_PATH may still take (MODEL_SIZE_LIMIT); FetchError when a write would pass it."""

    def __init__(self, limit: int | None):
        self.limit = limit
        self.used = 0

    def take(self, size: int) -> None:
        self.used += size
        if self.limit is not None and self.used > self.limit:
            raise FetchError(f"too large (more than MODEL_SIZE_LIMIT={self.limit} bytes)")


def fetch(environ: dict[str, str]) -> str:
    """Fetch MODEL_URI into MODEL_PATH; the success line. FetchError/BadSetting says what failed."""
    uri, target, sha256, budget = settings(environ)
    if uri.startswith("https://") and not sha256:
        raise BadSetting("MODEL_SHA256 is required for an https:// download (an unpinned download is refused)")
    partial = prepare(target)
    try:
        files = remotes(uri, environ)
        if sha256 and len(files) != 1:
            raise BadSetting(f"MODEL_SHA256 names one file, but the URI holds {len(files)}")
        for remote in files:
            digest = download(remote, partial, budget)
            if sha256 and digest != sha256:
                raise FetchError(f"checksum mismatch ({remote.relative}: sha256 {digest}, MODEL_SHA256 {sha256})")
        unpacked = ""
        if len(files) == 1 and unpack.is_archive(files[0].relative):
            archive = partial / files[0].relative
            unpack.unpack(archive, partial, budget.take)
            archive.unlink()
            unpacked = f", unpacked {files[0].relative}"
        publish(partial, target, uri)
    except BaseException:
        remove(partial)  # a retry starts from an empty directory
        raise
    count = f"{len(files)} file" + ("s" if len(files) != 1 else "")
    return f"fetch-model: fetched {count} ({budget.used} bytes{unpacked}) into {target}: {uri}"


def settings(environ: dict[str, str]) -> tuple[str, Path, str, Budget]:
    """(MODEL_URI, MODEL_PATH, MODEL_SHA256 in lower case, the size budget), checked."""
    uri, path = environ.get("MODEL_URI", ""), environ.get("MODEL_PATH", "")
    if not uri:
        raise BadSetting("MODEL_URI is not set")
    if not path:
        raise BadSetting("MODEL_PATH is not set (the directory to fetch into)")
    sha256 = environ.get("MODEL_SHA256", "").strip().lower()
    if sha256 and (len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256)):
        raise BadSetting("MODEL_SHA256 must be 64 hex digits")
    limit = environ.get("MODEL_SIZE_LIMIT", "")
    if limit and not limit.isdigit():
        raise BadSetting(f"MODEL_SIZE_LIMIT={limit!r} must be a number of bytes")
    return uri, Path(path), sha256, Budget(int(limit) if limit else None)


def prepare(target: Path) -> Path:
    """An empty staging directory inside TARGET, left-overs of an earlier attempt removed."""
    if not target.is_dir():
        raise BadSetting(f"MODEL_PATH={target} is not a directory")
    partial = target / PARTIAL
    remove(partial)
    others = [p.name for p in target.iterdir() if p.name != DONE]
    if others and not (target / DONE).exists():
        raise BadSetting(f"MODEL_PATH={target} is not empty ({', '.join(sorted(others)[:3])})")
    partial.mkdir()
    return partial


def download(remote: Remote, into: Path, budget: Budget) -> str:
    """Write one remote file below INTO (its relative path checked); its sha256."""
    destination = into.joinpath(*safe_parts(remote.relative))
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    try:
        with remote.open() as source, destination.open("xb") as out:
            while chunk := source.read(CHUNK):
                budget.take(len(chunk))
                digest.update(chunk)
                out.write(chunk)
    except FetchError:
        raise
    except Exception as err:  # a connection cut mid-file, a store's own exception
        raise FetchError(f"download of {remote.relative} failed: {type(err).__name__}: {err}") from None
    return digest.hexdigest()


def remove(tree: Path) -> None:
    """Remove TREE if it is there, directories its owner made read-only included."""

    def writable_then_retry(function, path, _):  # type: ignore[no-untyped-def]
        os.chmod(os.path.dirname(path), 0o700)
        function(path)

    if tree.exists():
        shutil.rmtree(tree, onerror=writable_then_retry)


def safe_parts(relative: str) -> tuple[str, ...]:
    """The parts of a store's relative path; FetchError for one that would leave MODEL_PATH."""
    parts = PurePosixPath(relative).parts
    if not parts or relative.startswith("/") or any(p in ("..", ".") for p in parts) or "\\" in relative:
        raise FetchError(f"the store names a file outside MODEL_PATH: {relative!r}")
    return parts


def publish(partial: Path, target: Path, uri: str) -> None:
    """Replace TARGET's contents (an earlier fetch, if any) with the staged files; mark the fetch complete."""
    for old in target.iterdir():
        if old != partial:
            shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
    for staged in partial.iterdir():
        staged.rename(target / staged.name)
    partial.rmdir()
    (target / DONE).write_text(uri + "\n", "utf-8")


def needed(environ: dict[str, str]) -> bool:
    """Whether the server must fetch for itself: a remote MODEL_URI and a MODEL_PATH directory still empty (a
    Knative Service without init containers gives the server the fetcher's settings and an empty volume)."""
    path, uri = environ.get("MODEL_PATH", ""), environ.get("MODEL_URI", "")
    if not path or not uri.startswith(REMOTE) or not Path(path).is_dir():
        return False
    return all(p.name == PARTIAL for p in Path(path).iterdir())


def fail(line: str) -> None:
    """Report a failure as one line (a store's message may hold line breaks): stderr, and the container's
    termination message when there is one."""
    line = " ".join(line.split())
    print(line, file=sys.stderr, flush=True)
    try:
        if TERMINATION_LOG.exists():
            TERMINATION_LOG.write_text(line + "\n", "utf-8")
    except OSError:
        pass


def main() -> int:
    """The init container's entry point: exit 0 fetched, 1 the fetch failed, 2 the settings cannot work."""
    environ = dict(os.environ)
    uri = environ.get("MODEL_URI", "")
    try:
        print(fetch(environ), flush=True)
    except BadSetting as err:
        fail(f"fetch-model: {err}: {uri}")
        return 2
    except FetchError as err:
        fail(f"fetch-model: {err}: {uri}")
        return 1
    except Exception as err:  # anything unforeseen is still one line, never a traceback
        fail(f"fetch-model: {type(err).__name__}: {err}: {uri}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

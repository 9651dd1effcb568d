"""`ml-gen init`: a serving project (config, model server, Dockerfile, CI workflow), written all or nothing."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from ml_gen import __version__, config, serving_metrics
from ml_gen.errors import ConfigError, OutputError, UsageError

SCHEMA_FILE = "ml-model.schema.json"
CONFIG_FILE = "ml-model.yaml"
SCAFFOLD = Path(__file__).parent / "scaffold"
CONFIG_TEMPLATE = "ml-model.yaml.j2"
WORKFLOW = "deploy.yaml"
_NAME = re.compile(r"[a-z]([-a-z0-9]{0,51}[a-z0-9])?\Z")

# The values init writes into several files at once (the tests check the files agree).
PORT = 5000
UID = GID = 10001
TERMINATION_GRACE = 30
SHUTDOWN_DELAY = 5  # a preStop sleep: the Service stops routing to a stopping pod before SIGTERM
GRACEFUL_TIMEOUT = 20  # gunicorn drain; with SHUTDOWN_DELAY below TERMINATION_GRACE, so never killed mid-request
MODEL_PATH = "/app/model/model.joblib"  # where the Dockerfile puts the artifact train.py writes


@dataclass(frozen=True)
class Target:
    """One file init writes: its path under the project directory and its text."""

    relative: PurePosixPath
    text: str


def check_name(name: str, file: str) -> None:
    """NAME must be a DNS-1035 label of at most 53 characters (it names the release and its objects)."""
    if not _NAME.match(name):
        raise ConfigError(
            file,
            "name",
            f"'{name}' is not a DNS-1035 label of at most 53 characters "
            "(lower-case letters, digits and '-', starting with a letter)",
        )


def project_files(name: str, config_file: str = CONFIG_FILE, config_only: bool = False) -> list[Target]:
    """Every file of a new project, rendered in memory; the config is schema-checked before anything is written."""
    check_name(name, config_file)
    config_path = PurePosixPath(config_file)
    schema = config_path.parent / SCHEMA_FILE
    context = {
        "name": name,
        "config": str(config_path),
        "schema_file": SCHEMA_FILE,
        "image": f"ghcr.io/myorg/{name}",
        "port": PORT,
        "uid": UID,
        "gid": GID,
        "termination_grace": TERMINATION_GRACE,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "shutdown_delay": SHUTDOWN_DELAY,
        "model_uri": f"file://{MODEL_PATH}",
        "workflow": WORKFLOW,
        "ml_gen_version": __version__,
    }
    text = _render(CONFIG_TEMPLATE, context)
    config.parse(text, config_file)
    files = [Target(config_path, text), Target(schema, config.schema_text())]
    if config_only:
        return files
    for source in sorted(p for p in SCAFFOLD.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        relative = source.relative_to(SCAFFOLD)
        if relative.as_posix() == CONFIG_TEMPLATE:
            continue
        target = _undotted(relative)
        if target.suffix == ".j2":
            files.append(Target(target.with_suffix(""), _render(relative.as_posix(), context)))
        else:
            files.append(Target(target, source.read_text("utf-8")))
    metrics_source = Path(serving_metrics.__file__).read_text("utf-8")
    files.append(Target(PurePosixPath("model_server/metrics.py"), metrics_source))
    return sorted(files, key=lambda t: t.relative)


def _undotted(relative: Path) -> PurePosixPath:
    """scaffold/dot-github/... -> .github/...: package data keeps no hidden files, so they are stored as dot-*."""
    return PurePosixPath(*("." + part[4:] if part.startswith("dot-") else part for part in relative.parts))


@lru_cache(maxsize=1)
def _templates() -> Any:
    """The Jinja2 environment of the project files (text, not YAML data: the manifests are built in Python)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(SCAFFOLD),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def _render(template: str, context: dict[str, object]) -> str:
    return str(_templates().get_template(template).render(context))


def write(
    name: str,
    directory: str | Path = ".",
    config_file: str = CONFIG_FILE,
    *,
    force: bool = False,
    config_only: bool = False,
) -> list[Path]:
    """Write the project into DIRECTORY, all or nothing; return the paths written (relative to DIRECTORY)."""
    root = Path(directory)
    relative_config = PurePosixPath(config_file)
    if not config_only and (relative_config.is_absolute() or ".." in relative_config.parts):
        raise UsageError(f"--config {config_file}: must be a file name inside the project directory")
    files = project_files(name, config_file, config_only)
    plan = _plan(root, files, force)
    _commit(root, plan)
    return [Path(t.relative) for t in files if t in plan.writes]


@dataclass
class _Plan:
    """What the checks found: directories to create, files to write, and the old text of files replaced."""

    directories: list[Path]
    writes: list[Target]
    replaced: dict[Path, bytes]


def _plan(root: Path, files: list[Target], force: bool) -> _Plan:
    """Check every target before anything is written: symlinks, non-files and existing files are refused."""
    directories: list[Path] = []
    existing = root
    while _lstat(existing) is None and existing != existing.parent:  # DIR and its missing parents are created
        directories.insert(0, existing)
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{existing}: exists and is not a directory")
    writes: list[Target] = []
    replaced: dict[Path, bytes] = {}
    for target in files:
        path = root / target.relative
        for parent in reversed([root / p for p in target.relative.parents if p != PurePosixPath(".")]):
            mode = _lstat(parent)
            if mode is None:
                if parent not in directories:
                    directories.append(parent)
            elif stat.S_ISLNK(mode):
                raise OutputError(f"{parent}: is a symbolic link; init writes only into real directories")
            elif not stat.S_ISDIR(mode):
                raise OutputError(f"{parent}: exists and is not a directory")
        mode = _lstat(path)
        if mode is None:
            writes.append(target)
        elif stat.S_ISLNK(mode):
            raise OutputError(f"{path}: is a symbolic link{'' if path.exists() else ' (dangling)'}; remove it first")
        elif not stat.S_ISREG(mode):
            raise OutputError(f"{path}: exists and is not a regular file")
        else:
            old = path.read_bytes()
            if old == target.text.encode("utf-8"):
                continue  # already there, byte for byte (e.g. the schema of a second config)
            if not force:
                raise OutputError(f"{path}: already exists (--force overwrites)")
            replaced[path] = old
            writes.append(target)
    return _Plan(list(dict.fromkeys(directories)), writes, replaced)


def _lstat(path: Path) -> int | None:
    """The file mode of PATH itself (a symlink is not followed), or None when nothing is there."""
    try:
        return os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as err:
        raise OutputError(f"{path}: cannot inspect ({err.strerror})") from None


def _commit(root: Path, plan: _Plan) -> None:
    """Create the directories, write every file to a temporary beside its target, then rename them all.

    On any failure everything done so far is undone: temporaries and new files removed, replaced files
    restored, created directories removed; then the error is raised."""
    made: list[Path] = []
    temporaries: dict[Path, Path] = {}
    renamed: list[Path] = []
    try:
        for directory in plan.directories:
            directory.mkdir()
            made.append(directory)
        for target in plan.writes:
            path = root / target.relative
            temporaries[path] = _write_temporary(path, target.text)
        for path, temporary in temporaries.items():
            os.replace(temporary, path)
            renamed.append(path)
    except OSError as err:
        _undo(temporaries, renamed, plan.replaced, made)
        where = err.filename or root
        raise OutputError(f"{where}: cannot write ({err.strerror or err}); nothing was written") from None
    except BaseException:
        _undo(temporaries, renamed, plan.replaced, made)
        raise


def _write_temporary(path: Path, text: str) -> Path:
    """TEXT in a new hidden file beside PATH (mode 0644), flushed to disk."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".ml-gen-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(name, 0o644)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return Path(name)


def _undo(temporaries: dict[Path, Path], renamed: list[Path], replaced: dict[Path, bytes], made: list[Path]) -> None:
    """Put the tree back as it was before _commit (best effort: every step is tried)."""
    for temporary in temporaries.values():
        with contextlib.suppress(OSError):
            temporary.unlink()
    for path in renamed:
        with contextlib.suppress(OSError):
            if path in replaced:
                path.write_bytes(replaced[path])
            else:
                path.unlink()
    for directory in reversed(made):
        with contextlib.suppress(OSError):
            directory.rmdir()

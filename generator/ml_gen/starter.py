"""`ml-gen init`: a serving project (config, model server, Dockerfile, CI workflow), written all or nothing."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from ml_gen import __version__, config, origin, serving_metrics
from ml_gen.errors import ConfigError, OutputError, UsageError, one_line
from ml_gen.output import atomic

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
class ScaffoldFile:
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


def project_files(
    name: str, config_file: str = CONFIG_FILE, config_only: bool = False, ml_gen_requirement: str | None = None
) -> list[ScaffoldFile]:
    """Every file of a new project, rendered in memory; the config is schema-checked before anything is written.
    ML_GEN_REQUIREMENT: where the workflow installs ml-gen from (default: where this one came from, if pinned)."""
    check_name(name, config_file)
    config_path = PurePosixPath(config_file)
    schema = config_path.parent / SCHEMA_FILE
    context = {
        "name": name,
        "config": str(config_path),
        "output_dir": "" if config_path.parent == PurePosixPath(".") else f"{config_path.parent}/",  # render's root
        "config_arg": "" if str(config_path) == CONFIG_FILE else f" -c {shlex.quote(str(config_path))}",
        "schema_path": str(schema),
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
        "pinned_pattern": origin.PINNED,
        **_ml_gen_source(ml_gen_requirement),
    }
    text = _render(CONFIG_TEMPLATE, context)
    config.parse(text, config_file)
    files = [ScaffoldFile(config_path, text), ScaffoldFile(schema, config.schema_text())]
    if not config_only:
        files += _project_files(context)
    _refuse_clash(config_file, config_path, files, config_only)
    return sorted(files, key=lambda t: t.relative)


def _ml_gen_source(given: str | None) -> dict[str, str]:
    """The workflow's ML_GEN_REQUIREMENT: the repository variable, else the given or recorded requirement."""
    if given is not None:
        requirement: str | None = origin.check_pinned(given)
        where = "the requirement given to `ml-gen init --ml-gen-requirement`"
    else:
        requirement = origin.installed_requirement()
        where = f"where the ml-gen {__version__} that wrote this project was installed from"
    if requirement is None:
        return {
            "ml_gen_expression": "${{ vars.ML_GEN_REQUIREMENT }}",
            "ml_gen_origin": "nothing: the ml-gen that wrote this project was not installed from a pinned source",
        }
    return {"ml_gen_expression": f"${{{{ vars.ML_GEN_REQUIREMENT || '{requirement}' }}}}", "ml_gen_origin": where}


# Directories the project's .gitignore leaves out: a config there would never reach the repository.
IGNORED_DIRS = ("model", ".venv", "__pycache__", ".pytest_cache")


def _project_files(context: dict[str, object]) -> list[ScaffoldFile]:
    """The files of the project besides the config and its schema."""
    files = []
    for source in sorted(p for p in SCAFFOLD.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        relative = source.relative_to(SCAFFOLD)
        if relative.as_posix() == CONFIG_TEMPLATE:
            continue
        target = _undotted(relative)
        if target.suffix == ".j2":
            files.append(ScaffoldFile(target.with_suffix(""), _render(relative.as_posix(), context)))
        else:
            files.append(ScaffoldFile(target, source.read_text("utf-8")))
    metrics_source = Path(serving_metrics.__file__).read_text("utf-8")
    files.append(ScaffoldFile(PurePosixPath("model_server/metrics.py"), metrics_source))
    return files


def _refuse_clash(config_file: str, config_path: PurePosixPath, files: list[ScaffoldFile], config_only: bool) -> None:
    """--config must name a file of its own: not one init writes, nor a directory of one, nor a file below one."""
    for file in files[1:]:
        if file.relative == config_path or config_path in file.relative.parents:
            raise UsageError(f"--config {config_file}: init writes {file.relative} there; choose another path")
        if file.relative in config_path.parents:
            raise UsageError(f"--config {config_file}: init writes the file {file.relative}; choose another path")
    if not config_only and config_path.parts[0] in IGNORED_DIRS:
        ignored = config_path.parts[0]
        raise UsageError(f"--config {config_file}: the project's .gitignore leaves out {ignored}/; choose another path")


def _undotted(relative: Path) -> PurePosixPath:
    """scaffold/dot-github/... -> .github/...: package data keeps no hidden files, so they are stored as dot-*."""
    return PurePosixPath(*("." + part[4:] if part.startswith("dot-") else part for part in relative.parts))


@lru_cache(maxsize=1)
def _templates() -> Any:
    """The Jinja2 environment of the project files (text, not YAML data: the manifests are built in Python)."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(SCAFFOLD),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    # Every value is placed through the serialiser of the language it lands in, never pasted.
    environment.filters.update(yaml=yaml_scalar, sh=shlex.quote, py=python_literal, code=markdown_code)
    return environment


def yaml_scalar(value: str | int) -> str:
    """VALUE as one YAML scalar: plain when YAML reads it back as the same string, else quoted."""
    import yaml

    text: str = yaml.safe_dump(value, default_flow_style=True, width=float("inf"))
    return text.removesuffix("\n...\n").removesuffix("\n")


def python_literal(value: str | int) -> str:
    """VALUE as a Python literal (a double-quoted string for text)."""
    return json.dumps(value)


def markdown_code(value: str) -> str:
    """VALUE as a Markdown code span, fenced by more backticks than it holds."""
    fence = "`" * (max((len(run) for run in re.findall("`+", value)), default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def _render(template: str, context: dict[str, object]) -> str:
    return str(_templates().get_template(template).render(context))


def write(
    name: str,
    directory: str | Path = ".",
    config_file: str = CONFIG_FILE,
    *,
    force: bool = False,
    config_only: bool = False,
    ml_gen_requirement: str | None = None,
) -> list[Path]:
    """Write the project into DIRECTORY, all or nothing; return the paths written (relative to DIRECTORY)."""
    root = Path(directory)
    check_config_path(config_file, config_only)
    writes = _writes(root, project_files(name, config_file, config_only, ml_gen_requirement), force)
    atomic.write_files(writes, durable=True)
    return [write.relative for write in writes]


def check_config_path(config_file: str, config_only: bool = False) -> None:
    """--config names a file inside the project (any file for --config-only), on one line."""
    relative = PurePosixPath(config_file)
    if not config_file.isprintable():
        raise UsageError(f"--config {one_line(config_file)}: a file name with a line break or control character")
    if config_only:
        return
    if relative.is_absolute() or ".." in relative.parts or relative == PurePosixPath("."):
        raise UsageError(f"--config {config_file}: must be a file name inside the project directory")


def next_steps(directory: Path, config_file: str, config_only: bool) -> str:
    """The commands to run after init, with the paths the user chose, quoted for a POSIX shell."""
    if config_only:
        return f"ml-gen render --all -c {shlex.quote(str(directory / config_file))}"
    cd = "" if str(directory) == "." else f"cd {shlex.quote(str(directory))} && "
    config_path = str(PurePosixPath(config_file))
    config = "" if config_path == CONFIG_FILE else f" -c {shlex.quote(config_path)}"
    return f"{cd}python train.py && pytest tests && ml-gen render --all{config} (see README.md)"


def _writes(root: Path, files: list[ScaffoldFile], force: bool) -> list[atomic.Write]:
    """The files to write, checked before anything is written: what the atomic writer refuses (symlinks,
    non-files), and existing files unless --force (a file already there byte for byte is left)."""
    writes = []
    for file in files:
        relative, data = Path(file.relative), file.text.encode("utf-8")
        if atomic.check_path(root, relative):
            if atomic.read_file(root / relative) == data:
                continue  # already there (e.g. the schema of a second config)
            if not force:
                raise OutputError(f"{root / relative}: already exists (--force overwrites)")
        writes.append(atomic.Write(root, relative, data, mode=0o644))
    return writes

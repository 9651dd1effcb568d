"""Which config files and environments a command acts on: files named or found below directories, and
environment names or --all."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from ml_gen.config.model import DEFAULT_CONFIG, Config
from ml_gen.errors import ConfigError, UsageError, os_reason


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Config files named on the command line: files as given, directories searched for ml-model.yaml."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        try:
            is_dir = stat.S_ISDIR(os.stat(path).st_mode)
        except FileNotFoundError:
            is_dir = False  # load() says "no such file"
        except OSError as err:  # a symlink loop, a name over the OS limit, ...
            raise ConfigError(str(path), "", f"cannot read: {os_reason(err)}") from None
        if is_dir:
            below = sorted(p for p in path.rglob(DEFAULT_CONFIG) if ".git" not in p.parts)
            if not below:
                raise UsageError(f"{path}: no {DEFAULT_CONFIG} found below this directory")
            found += below
        else:
            found.append(path)
    # a missing file (or a dangling symlink) keeps the name it was given, for the message
    unique = list(dict.fromkeys(os.path.realpath(p) if os.path.exists(p) else os.path.abspath(p) for p in found))
    return [Path(p) for p in unique]


def display(path: Path) -> str:
    """A path as messages show it: relative to the working directory when it is below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def select_environments(config: Config, envs: Iterable[str], all_envs: bool) -> list[str]:
    """The environments a command acts on: --all, or the names given (each must exist)."""
    names = list(envs)
    if all_envs and names:
        raise UsageError("give environment names or --all, not both")
    if all_envs:
        return config.environments
    if not names:
        raise UsageError(f"name an environment ({', '.join(config.environments)}) or use --all")
    for env in names:
        if env not in config.data["environments"]:
            raise UsageError(f"{config.file}: unknown environment '{env}' (known: {', '.join(config.environments)})")
    return list(dict.fromkeys(names))

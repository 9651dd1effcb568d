"""The `ml-gen` console script: `--help`, `-h` and `--version` are answered without importing click (a
third of the start-up), from the text click prints, which tests/unit/test_launch.py keeps equal; every
other command line goes to the click commands (ml_gen.cli)."""

import os
import sys

from ml_gen import __version__, stdout

HELP_FILE = os.path.join(os.path.dirname(__file__), "cli", "help.txt")
"""`ml-gen --help` as click prints it for a terminal of 80 columns or more (click wraps at 78 then)."""


def _columns() -> int:
    """The terminal width as click reads it (shutil.get_terminal_size, without importing shutil)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def main() -> None:
    """Run ml-gen with sys.argv; a failing stdout ends it as ml_gen.stdout documents."""
    stdout.run(_main)


def _main() -> None:
    args = sys.argv[1:]
    if args == ["--version"]:
        sys.stdout.write(f"ml-gen, version {__version__}\n")
        return
    if args in (["--help"], ["-h"]) and _columns() >= 80:
        with open(HELP_FILE, encoding="utf-8") as text:
            sys.stdout.write(text.read())
        return
    from ml_gen.cli import main as commands

    commands()

"""The console script answers `--help` and `--version` without click, with exactly click's text."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ml_gen import launch

ML_GEN = Path(sys.executable).parent / "ml-gen"  # the console script of this environment
CLICK = "import sys; sys.argv[0] = 'ml-gen'; from ml_gen.cli import main; main()"
UPDATE = "ML_GEN_UPDATE_HELP=1 python -m pytest tests/unit/test_launch.py"
# Runs the launcher with the arguments after -c, then says (even after click's sys.exit) whether click was imported.
LAUNCH = (
    "import atexit, sys; atexit.register(lambda: print('click' in sys.modules)); "
    "sys.argv = ['ml-gen', *sys.argv[1:]]; from ml_gen import launch; launch.main()"
)


def _run(command: list[str], columns: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": columns}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=True)


def test_the_stored_help_is_what_click_prints(regenerated):
    """ML_GEN_UPDATE_HELP=1 rewrites the stored text from click (after a change to a command's help) and fails."""
    clicks = _run([sys.executable, "-c", CLICK, "--help"], "80").stdout
    stored = Path(launch.HELP_FILE).read_text(encoding="utf-8")
    if os.environ.get("ML_GEN_UPDATE_HELP"):
        Path(launch.HELP_FILE).write_text(clicks, encoding="utf-8")
        regenerated(int(stored != clicks), "ML_GEN_UPDATE_HELP")
    assert stored == clicks, f"stale help text: run {UPDATE}"


@pytest.mark.parametrize("columns", ["80", "200", "60", "0", "wide"])
@pytest.mark.parametrize("args", [["--help"], ["-h"], ["--version"]])
def test_the_console_script_prints_what_click_prints(args, columns):
    assert _run([str(ML_GEN), *args], columns).stdout == _run([sys.executable, "-c", CLICK, *args], columns).stdout


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_the_fast_answers_do_not_import_click(args):
    assert _run([sys.executable, "-c", LAUNCH, *args], "80").stdout.splitlines()[-1] == "False"


def test_a_narrow_terminal_and_every_other_command_line_go_to_click():
    assert _run([sys.executable, "-c", LAUNCH, "--help"], "60").stdout.splitlines()[-1] == "True"
    assert _run([sys.executable, "-c", LAUNCH, "render", "--help"], "80").stdout.splitlines()[-1] == "True"

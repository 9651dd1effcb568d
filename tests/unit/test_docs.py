"""The README and docs/: links that resolve, the set-up commands CI runs, and commands and scripts that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ml_gen.cli import main

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _prose(page: Path) -> str:
    """The page without code (whose brackets and '#' lines are not Markdown); a code span becomes 'code'."""
    return CODE_SPAN.sub("code", FENCE.sub("", page.read_text("utf-8")))


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors for the page's headings: lower case, punctuation dropped, spaces as '-'."""
    headings = re.findall(r"^#+ (.+)$", FENCE.sub("", page.read_text("utf-8")), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def _code_blocks(page: Path, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", page.read_text("utf-8"), re.M | re.S)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_an_existing_file_and_heading(page):
    broken = []
    for target in LINK.findall(_prose(page)):
        if re.match(r"[a-z]+:", target):  # https:, mailto:: not ours to check offline
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.relative_to(ROOT)}")
    assert not broken, broken


def test_the_readme_gives_the_two_set_up_commands_and_ci_runs_the_second():
    blocks = _code_blocks(ROOT / "README.md", "sh")
    assert blocks[:2] == ["pip install . && ml-gen render dev\n", "scripts/test\n"]
    commands = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line and not line.startswith("#")]
    assert commands[-1] == "exec scripts/test"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_scripts_and_commands_the_docs_name_exist(page):
    scripts = set(re.findall(r"\bscripts/([\w.-]+)", page.read_text("utf-8")))
    assert not [s for s in scripts if not (ROOT / "scripts" / s).is_file()]
    lines = [line.split(" #", 1)[0] for block in _code_blocks(page, "sh") for line in block.splitlines()]
    named = set(re.findall(r"(?:^|[\s;&|(])ml-gen ([a-z][\w-]*)", "\n".join(lines), re.M))
    assert named <= set(main.commands), named - set(main.commands)

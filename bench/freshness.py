"""The fingerprint of the code docs/benchmarks.md measures, and the page's own record of it.

The run (bench/run.py) hashes every tracked file of MEASURED as it is on disk when it starts and the page
names that hash; tests/unit/test_benchmarks_page.py fails when the files hold anything else now. A hash of
content, not a commit: it holds on a shallow clone, through rebases and merges, and an unrelated commit
(docs, tests, the scaffold) does not make the page stale.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "benchmarks.md"
MEASURED = ("generator/ml_gen", "charts/ml-model-api", "bench/generate.py", "bench/run.py")
"""What the figures depend on: ml-gen's code and data, the chart helm renders, the inputs and the timing."""
NOT_MEASURED = ("generator/ml_gen/scaffold/",)
"""The project `ml-gen init` writes: no part of rendering."""
REGENERATE = "python -m bench.run"
"""The one command that measures the current code and writes the page (docs/benchmarks.md#reproduce)."""
_RECORD = re.compile(r"measured code fingerprint `([0-9a-f]{16})`")


def fingerprint(root: Path = ROOT) -> str:
    """16 hex digits of a SHA-256 over the path and bytes of every tracked file of MEASURED in `root`."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--", *MEASURED], capture_output=True, check=True
    ).stdout.decode()
    digest = hashlib.sha256()
    for name in sorted(n for n in listed.split("\0") if n and not n.startswith(NOT_MEASURED)):
        path = root / name
        if path.is_file():  # a tracked file deleted on disk is not measured
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def record(value: str) -> str:
    """The page's line naming the fingerprint (what `recorded` reads back)."""
    return f"measured code fingerprint `{value}`"


def recorded(page: Path = PAGE) -> str | None:
    """The fingerprint the page names, or None when it names none."""
    found = _RECORD.search(page.read_text("utf-8"))
    return found[1] if found else None

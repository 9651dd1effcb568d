"""Where this ml-gen was installed from, as a pinned pip requirement the scaffold's CI can install again."""

from __future__ import annotations

import json
import re
from importlib import metadata

from ml_gen.errors import UsageError

DISTRIBUTION = "ml-gen"
_URL = "[-A-Za-z0-9._~:/?&=%+,;!*()@]+"  # no quote, brace, space or '#': safe in a GitHub expression's string
PINNED = f"^ml-gen @ (git\\+(https|ssh)://{_URL}@[0-9a-f]{{40}}|https://{_URL}#sha256=[0-9a-f]{{64}})$"
"""A requirement pinned to bytes: a git commit (40 hex digits) or a file's sha256. The same text is a POSIX
extended regular expression, which the workflow's first step checks ML_GEN_REQUIREMENT against."""
EXAMPLE = "ml-gen @ git+https://github.com/<org>/ml-gen@<commit sha>"


def is_pinned(requirement: str) -> bool:
    return re.fullmatch(PINNED.strip("^$"), requirement) is not None


def check_pinned(requirement: str) -> str:
    """REQUIREMENT when it is pinned; else one line (exit 2) saying what a pinned one looks like."""
    if not is_pinned(requirement):
        raise UsageError(
            f"--ml-gen-requirement {requirement!r}: not pinned to a commit or a sha256 (e.g. '{EXAMPLE}' "
            "or 'ml-gen @ https://.../ml_gen-<version>-py3-none-any.whl#sha256=<64 hex>')"
        )
    return requirement


def installed_requirement() -> str | None:
    """The pinned requirement this ml-gen was installed from (pip's direct_url.json, PEP 610): a VCS
    URL and commit, or an archive URL and its sha256; None for anything else (a local or editable
    checkout, an index), which CI could not install again byte for byte."""
    try:
        text = metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    return requirement_from_direct_url(text) if text else None


def requirement_from_direct_url(text: str) -> str | None:
    """The pinned requirement a direct_url.json describes, or None."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    url = data.get("url", "") if isinstance(data, dict) else ""
    if not isinstance(url, str) or url.startswith("file:"):
        return None
    vcs = data.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs") == "git":
        requirement = f"{DISTRIBUTION} @ git+{url}@{vcs.get('commit_id', '')}"
    elif isinstance(data.get("archive_info"), dict):
        hashes = data["archive_info"].get("hashes") or {}
        requirement = f"{DISTRIBUTION} @ {url}#sha256={hashes.get('sha256', '')}"
    else:
        return None
    return requirement if is_pinned(requirement) else None

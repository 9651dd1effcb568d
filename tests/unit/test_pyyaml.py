"""PyYAML imported through ml_gen.pyyaml (regexes compiled on first use) reads what PyYAML imported plainly reads."""

from __future__ import annotations

import re
import subprocess
import sys

from ml_gen import pyyaml

# Every implicit type PyYAML resolves by regex, and scalars that only look like one.
DOCUMENT = """
ints: [0, 12, -3, +4, 010, 0o17, 0x1F, 0b101, 1_000, 190:20:30, "7"]
floats: [1.5, -2., .5, 1e3, 1.0e+3, 6.8523015e+5, 685.230_15e+03, 190:20:30.15, .inf, -.Inf, .NaN, 1.10]
bools: [yes, No, TRUE, false, on, OFF, y, n]
nulls: [~, null, Null, ]
dates: [2001-12-14, 2001-12-14t21:59:43.10-05:00, 2001-12-14 21:59:43.10 -5, 2002-1-1 1:2:3]
strings: [ml-dev, 1.2.3, 0x, "yes", 12abc, "=", <<x, "\\u0085"]
"""

_READ = "import sys; {setup}; print(repr(yaml.load(sys.stdin.read(), Loader=yaml.CSafeLoader)))"


def _read(setup: str) -> str:
    code = _READ.format(setup=setup)
    return subprocess.run(
        [sys.executable, "-c", code], input=DOCUMENT, capture_output=True, text=True, check=True
    ).stdout


def test_the_lazily_imported_yaml_reads_every_implicit_type_as_plain_pyyaml_does():
    lazy = _read(
        "from ml_gen import pyyaml; yaml = pyyaml.load(); assert not yaml.reader.Reader.NON_PRINTABLE.compiled"
    )
    assert lazy == _read("import yaml")
    assert "datetime.datetime(2001, 12, 14" in lazy  # the document does reach every resolver


def test_a_pattern_compiled_on_first_use_matches_as_the_compiled_one():
    source = "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
    lazy, now = pyyaml.OnFirstUse(source), re.compile(source)
    assert lazy.compiled is None

    def span(found: re.Match[str] | None) -> tuple[int, int] | None:
        return found.span() if found else None

    for text in ("plain", "a\x07b", "\x85", "\ufffe", "x" * 10 + "\x00", "\x00"):
        assert span(lazy.search(text)) == span(now.search(text))
        assert span(lazy.match(text)) == span(now.match(text))
    assert lazy.pattern == source and lazy.sub("?", "a\x07") == now.sub("?", "a\x07")
    assert lazy.compiled is not None

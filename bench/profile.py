"""Profile `ml-gen render --all` of N generated models in-process (cProfile), and the imports of two commands.

python -m bench.profile [--models 100] [--out bench/results/profile.txt]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import site
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from bench import generate
from bench.run import compile_bytecode

ROOT = Path(__file__).resolve().parent.parent
ML_GEN = Path(sys.executable).parent / "ml-gen"


def render_profile(n: int, seed: int, top: int) -> str:
    """cProfile of one render --all of n fresh models (files written), as the top functions two ways.

    os.cpu_count() is patched to 1 so that ml-gen keeps all work in this process, where cProfile sees it.
    """
    from ml_gen.cli import main

    os.cpu_count = lambda: 1

    with tempfile.TemporaryDirectory(prefix="ml-gen-profile-") as tmp:
        generate.generate(Path(tmp), n, seed)
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.runcall(main, ["render", "--all", "-c", str(Path(tmp) / "models")], standalone_mode=False)
        wall = time.perf_counter() - start
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    text.write(f"== ml-gen render --all of {n} models x 3 environments, one process: {wall:.2f}s under cProfile\n")
    text.write(f"== top {top} by own time (tottime)\n")
    stats.sort_stats("tottime").print_stats(top)
    text.write(f"== top {top} by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(top)
    return text.getvalue()


def import_profile(label: str, args: list[str], top: int) -> str:
    """`python -X importtime` of one ml-gen command: the slowest imports, in milliseconds."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-X", "importtime", ML_GEN, *args], capture_output=True, text=True)
    wall = time.perf_counter() - start
    rows = []
    for line in proc.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            rows.append((int(match[2]), int(match[1]), len(match[3]) // 2, match[4]))
    total = sum(cum for cum, _, depth, _ in rows if depth == 0)
    lines = [f"== {label}: {len(rows)} modules imported in {total / 1000:.0f} ms, of {wall * 1000:.0f} ms wall"]
    lines.append(f"{'cumulative ms':>14} {'self ms':>8}  module (nesting depth)")
    for cum, own, depth, name in sorted(rows, reverse=True)[:top]:
        lines.append(f"{cum / 1000:14.1f} {own / 1000:8.1f}  {name} ({depth})")
    return "\n".join(lines) + "\n"


def process_profile(label: str, args: list[str], top: int) -> str:
    """cProfile of one whole ml-gen process (imports, template compilation and all), top functions by own time."""
    cmd = [sys.executable, "-m", "cProfile", "-s", "tottime", ML_GEN, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()
    head = next(i for i, line in enumerate(out) if "function calls" in line)
    table = next(i for i, line in enumerate(out) if line.strip().startswith("ncalls"))
    return "\n".join([f"== {label}, whole process under cProfile", out[head], *out[table : table + top + 1]]) + "\n"


# Run as `python -c` before ml-gen's console script: times every regex compilation (re's cache misses) and says
# where it was asked for; what PyYAML leaves to compile on first use (ml_gen.pyyaml) shows where it is first used.
_REGEX_TRACE = """
import atexit, re, runpy, sys, time
compile_now, found = re._compile, []
def timed(pattern, flags):
    start = time.perf_counter()
    compiled = compile_now(pattern, flags)
    took = time.perf_counter() - start
    frame = sys._getframe(1)
    while frame.f_code.co_filename.endswith(("re/__init__.py", "ml_gen/pyyaml.py")):
        frame = frame.f_back
    if took > 2e-5:  # a cache hit takes ~1 us
        found.append((took, f"{frame.f_code.co_filename}:{frame.f_lineno}", str(pattern)[:60]))
    return compiled
re._compile = timed
def report():
    total = sum(t for t, _, _ in found)
    print(f"== regular expressions compiled: {len(found)} in {total * 1000:.1f} ms", file=sys.stderr)
    print(f"{'ms':>6}  where  (pattern)", file=sys.stderr)
    for took, where, pattern in sorted(found, reverse=True):
        print(f"{took * 1000:6.2f}  {where}  ({pattern!r})", file=sys.stderr)
atexit.register(report)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def regex_profile(label: str, args: list[str], runs: int = 5) -> str:
    """The regexes one ml-gen process compiles, where, and how long each took (the median run of `runs`)."""
    reports = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-c", _REGEX_TRACE, ML_GEN, *args], capture_output=True, text=True)
        reports.append(proc.stderr[proc.stderr.index("== regular expressions") :])
    total = [float(re.search(r"in ([0-9.]+) ms", r)[1]) for r in reports]  # type: ignore[index]
    median = sorted(zip(total, reports, strict=True))[len(reports) // 2][1]
    return median.replace("== regular expressions", f"== {label}: regular expressions", 1)


def _shorten(text: str) -> str:
    """Drop long install prefixes from file names."""
    prefixes = [*site.getsitepackages(), str(ROOT / "generator"), sysconfig.get_paths()["stdlib"], sys.prefix]
    for prefix in sorted(prefixes, key=len, reverse=True):
        text = text.replace(prefix + "/", "")
    return re.sub(r"\n{3,}", "\n\n", text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "profile.txt")
    args = parser.parse_args()
    compile_bytecode()
    text = render_profile(args.models, args.seed, args.top)
    text += "\n" + import_profile("ml-gen --help", ["--help"], args.top)
    with tempfile.TemporaryDirectory(prefix="ml-gen-profile-") as tmp:
        generate.generate(Path(tmp), 1, args.seed)
        one = ["render", "--all", "-c", str(Path(tmp) / "models")]
        text += "\n" + process_profile("ml-gen render --all of one model", one, args.top)
        text += "\n" + import_profile("ml-gen render --all of one model", one, args.top)
        text += "\n" + regex_profile("ml-gen render --all of one model", one)
    text = _shorten(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

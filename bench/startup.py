"""Start-up of single ml-gen commands on the bundled example, and the imports that cost the most.

    python -m bench.startup                        # 30 interleaved runs of each command
    python -m bench.startup --runs 5 --out /tmp/startup.json   # a quick try
    python -m bench.startup --out bench/results/startup-before.json   # the frozen "before" figures

Every command is its own process of the venv's console script (as bench/run.py times them), run on a copy of
the bundled example ml-model.yaml (3 environments) of the checkout that script runs, in a temporary directory.
The commands take turns, run after run, so a burst of load from elsewhere on the machine hits all of them
alike. `python -X importtime` of `--help` and of `render --all` is run a few times; per module, the median is
kept. When valgrind is installed, each command also runs once under callgrind, which counts the instructions it
executes: a figure that, unlike times, does not change with the machine's load, so runs taken on a busy machine
can be compared by it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.run import ML_GEN, ROOT, output, run

EXAMPLE = "ml-model.yaml"  # the bundled example, at the root of the checkout the console script runs
RESULTS = ROOT / "bench" / "results" / "startup.json"

# (key, arguments after the program, what the directory holds before the run: "fresh" or "rendered")
COMMANDS: list[tuple[str, list[str], str]] = [
    ("python -c pass", [], "fresh"),  # the interpreter alone: the floor
    ("ml-gen --help", ["--help"], "fresh"),
    ("ml-gen --version", ["--version"], "fresh"),
    ("ml-gen render --all", ["render", "--all"], "fresh"),
    ("ml-gen render --all --check", ["render", "--all", "--check"], "rendered"),
    ("ml-gen validate --all", ["validate", "--all"], "rendered"),
]
IMPORT_PROFILES: list[tuple[str, list[str]]] = [
    ("ml-gen --help", ["--help"]),
    ("ml-gen render --all", ["render", "--all"]),
]
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of the samples lie (linear interpolation)."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * fraction
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summary(samples: list[float]) -> dict[str, float]:
    """Median, p10 and p90 of a list of seconds."""
    return {
        "median": statistics.median(samples),
        "p10": percentile(samples, 0.1),
        "p90": percentile(samples, 0.9),
        "min": min(samples),
        "max": max(samples),
    }


def fresh_copy(work: Path, label: str) -> Path:
    """A new directory holding only a copy of the bundled example (copied into `work` by main)."""
    directory = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=work))
    shutil.copy(work / EXAMPLE, directory / "ml-model.yaml")
    return directory


def command_line(args: list[str], ml_gen: Path) -> list[str | Path]:
    """The console script with args; without args, `python -c pass` of the console script's Python."""
    return [ml_gen.parent / "python", "-c", "pass"] if not args else [ml_gen, *args]


def time_commands(runs: int, work: Path, ml_gen: Path) -> dict[str, dict]:
    """Every command `runs` times, interleaved; wall, CPU and peak RSS of each run."""
    rendered = fresh_copy(work, "rendered")
    run([ml_gen, "render", "--all"], cwd=rendered)  # also the warm-up: byte-compiles, fills the page cache
    samples: dict[str, list[dict]] = {key: [] for key, _, _ in COMMANDS}
    for rep in range(runs):
        for key, args, state in COMMANDS:
            directory = rendered if state == "rendered" else fresh_copy(work, "fresh")
            samples[key].append(run(command_line(args, ml_gen), cwd=directory))
            if state == "fresh":
                shutil.rmtree(directory)
        if rep % 10 == 9 or rep == runs - 1:
            done = ", ".join(f"{k} {statistics.median(s['wall'] for s in v) * 1000:.0f}" for k, v in samples.items())
            print(f"  {rep + 1}/{runs} runs, medians so far (ms): {done}", flush=True)
    return {
        key: {
            "args": args,
            "wall": [s["wall"] for s in runs_of],
            "cpu": [s["cpu"] for s in runs_of],
            "maxrss_kib": [s["maxrss_kib"] for s in runs_of],
            "summary": summary([s["wall"] for s in runs_of]),
        }
        for (key, args, _), runs_of in zip(COMMANDS, samples.values(), strict=True)
    }


def instructions(work: Path, ml_gen: Path) -> dict[str, int]:
    """Instructions each command executes (valgrind's callgrind, one run each): a count that does not grow with
    the machine's load, unlike the times. `validate --all` is left out (minutes under valgrind)."""
    valgrind = shutil.which("valgrind")
    if not valgrind:
        return {}
    rendered = fresh_copy(work, "rendered-valgrind")
    run([ml_gen, "render", "--all"], cwd=rendered)
    found = {}
    for key, args, state in COMMANDS:
        if args[:1] == ["validate"]:
            continue
        directory = rendered if state == "rendered" else fresh_copy(work, "valgrind")
        cmd = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", *command_line(args, ml_gen)]
        proc = subprocess.run([str(c) for c in cmd], cwd=directory, capture_output=True, text=True)
        match = re.search(r"Collected : (\d+)", proc.stderr)
        if proc.returncode != 0 or not match:
            raise RuntimeError(f"{' '.join(map(str, cmd))} exited {proc.returncode}: {proc.stderr[-2000:]}")
        found[key] = int(match[1])
        print(f"  {key}: {found[key] / 1e6:.0f} M instructions", flush=True)
    return found


def import_times(args: list[str], repeat: int, work: Path, ml_gen: Path) -> dict:
    """`python -X importtime` of one command, `repeat` times: per module the median self and cumulative ms."""
    per_module: dict[str, list[tuple[int, int, int]]] = {}
    totals = []
    for _ in range(repeat):
        directory = fresh_copy(work, "importtime")
        proc = subprocess.run(
            [ml_gen.parent / "python", "-X", "importtime", ml_gen, *args], cwd=directory, capture_output=True, text=True
        )
        shutil.rmtree(directory)
        total = 0
        for line in proc.stderr.splitlines():
            match = _IMPORT_LINE.match(line)
            if match:
                own, cumulative, depth = int(match[1]), int(match[2]), len(match[3]) // 2
                per_module.setdefault(match[4], []).append((own, cumulative, depth))
                total += cumulative if depth == 0 else 0
        totals.append(total)
    modules = {
        name: {
            "self_ms": statistics.median(r[0] for r in rows) / 1000,
            "cumulative_ms": statistics.median(r[1] for r in rows) / 1000,
            "depth": rows[0][2],
        }
        for name, rows in per_module.items()
    }
    return {"modules_imported": len(modules), "total_ms": statistics.median(totals) / 1000, "modules": modules}


def machine(ml_gen: Path = ML_GEN) -> dict:
    """What the figures were taken on, and how busy the machine was."""
    cpu = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln),
        "?",
    )
    # the checkout the console script runs: the nearest directory above its package with the example config
    where = output([ml_gen.parent / "python", "-c", "import ml_gen; print(ml_gen.__file__)"])
    above = Path(where).parents if where else []
    source = next((d for d in above if (d / EXAMPLE).is_file()), ROOT)
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "os": platform.platform(),
        "python": output([ml_gen.parent / "python", "-c", "import platform; print(platform.python_version())"]),
        "ml_gen": output([ml_gen, "--version"]),
        "ml_gen_path": str(ml_gen),
        "checkout": str(source),
        "commit": output(["git", "-C", source, "rev-parse", "--short", "HEAD"]),
        "dirty": bool(output(["git", "-C", source, "status", "--porcelain", "generator", "charts"])),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_start": list(os.getloadavg()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="runs of each command (default 30)")
    parser.add_argument("--import-runs", type=int, default=7, help="-X importtime runs of each command (default 7)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON (default bench/results/startup.json)")
    parser.add_argument(
        "--ml-gen",
        type=Path,
        default=ML_GEN,
        help="console script to time, e.g. another checkout's venv's (default: this venv's)",
    )
    parser.add_argument("--no-instructions", action="store_true", help="skip the instruction counts (valgrind)")
    args = parser.parse_args()
    ml_gen = args.ml_gen.absolute()  # not resolved: a venv's python is a symlink that must stay the venv's
    if not ml_gen.exists():
        sys.exit(f"bench: {ml_gen} not found: pip install -e '.[bench]' with this Python")
    results: dict = {"command": " ".join(["python -m bench.startup", *sys.argv[1:]]), "machine": machine(ml_gen)}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ml-gen-startup-") as tmp:
        shutil.copy(Path(results["machine"]["checkout"]) / EXAMPLE, Path(tmp) / EXAMPLE)
        print(f"startup: {len(COMMANDS)} commands x {args.runs} runs, interleaved", flush=True)
        results["commands"] = time_commands(args.runs, Path(tmp), ml_gen)
        print(f"importtime: {args.import_runs} runs each", flush=True)
        results["imports"] = {
            label: import_times(argv, args.import_runs, Path(tmp), ml_gen) for label, argv in IMPORT_PROFILES
        }
        if not args.no_instructions:
            print("instructions: one run of each command under valgrind", flush=True)
            results["instructions"] = instructions(Path(tmp), ml_gen)
    results["machine"]["loadavg_end"] = list(os.getloadavg())
    results["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    for key, r in results["commands"].items():
        s = r["summary"]
        print(f"  {key:32} median {s['median'] * 1000:6.1f} ms (p10 {s['p10'] * 1000:.1f}, p90 {s['p90'] * 1000:.1f})")
    load = results["machine"]
    print(f"load average {load['loadavg_start']} at the start, {load['loadavg_end']} at the end")
    print(f"wrote {args.out} ({results['seconds']}s)")


if __name__ == "__main__":
    main()

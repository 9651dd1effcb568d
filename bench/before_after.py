"""The start-up and fast-path sections of docs/benchmarks.md: the frozen "before" run beside the latest one.

bench/results/startup-before.json and fastpaths-before.json were taken before issue 10's restructure;
startup.json and fastpaths.json are what `python -m bench.startup` and `python -m bench.fastpaths` write now.
schemacheck-before.json and schemacheck.json: the schema check alone before and after issue 14's `$ref`/`$defs`.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
HELP_TARGET_MS = 60.0  # issue 10: `ml-gen --help` under 60 ms


def runs(name: str, results: Path = RESULTS) -> list[tuple[str, dict]]:
    """("before", data) and ("after", data) of bench/results/<name>-before.json and <name>.json, where present."""
    found = []
    for label, path in (("before", results / f"{name}-before.json"), ("after", results / f"{name}.json")):
        if path.exists():
            found.append((label, json.loads(path.read_text())))
    return found


def _ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _spread(s: dict) -> str:
    """`123 (110–140)`: median and p10–p90 of a summary, in ms."""
    return f"{_ms(s['median'])} ({_ms(s['p10'])}–{_ms(s['p90'])})"


def taken(label: str, data: dict) -> str:
    """One line saying where and when a run was taken, and how busy the machine was."""
    m = data["machine"]
    load = " / ".join(f"{a:.1f}" for a in m["loadavg_start"])
    end = " / ".join(f"{a:.1f}" for a in m["loadavg_end"])
    dirty = ", generator/ or charts/ modified" if m["dirty"] else ""
    return (
        f"- **{label}**: `{data['command']}`, commit {m['commit']}{dirty}, {m['date']}, {m['nproc']} CPUs, "
        f"Python {m['python']}; load average (1/5/15 min) {load} at the start, {end} at the end"
    )


def startup_section(results: Path = RESULTS) -> str:
    """Commands' wall times before and after, the --help target, and the slowest imports."""
    found = runs("startup", results)
    if not found:
        return "(no start-up run: `python -m bench.startup`)"
    labels = [label for label, _ in found]
    columns = ["wall ms, median (p10–p90)", "CPU ms", "M instructions"]
    head = "| command | " + " | ".join(f"{label}: {column}" for label in labels for column in columns)
    head += " | after / before: wall, instructions |" if len(found) == 2 else " |"
    lines = [head, "|---|" + "---:|" * (len(columns) * len(found) + (len(found) == 2))]
    for command in found[-1][1]["commands"]:
        cells = []
        for _, d in found:
            timed, count = d["commands"].get(command), d.get("instructions", {}).get(command)
            cells += [_spread(timed["summary"]), _ms(statistics.median(timed["cpu"]))] if timed else ["–", "–"]
            cells.append(f"{count / 1e6:.0f}" if count else "–")
        if len(found) == 2:
            wall = [d["commands"].get(command, {}).get("summary", {}).get("median") for _, d in found]
            counts = [d.get("instructions", {}).get(command) for _, d in found]
            cells.append(", ".join(f"{b / a:.2f}×" if a and b else "–" for a, b in (wall, counts)))
        lines.append(f"| `{command}` | " + " | ".join(cells) + " |")
    runs_of = "\n".join(taken(label, data) for label, data in found)
    latest = found[-1][1]["commands"]["ml-gen --help"]["summary"]["median"] * 1000
    verdict = "met" if latest < HELP_TARGET_MS else "**not met**"
    target = (
        f"Target of issue 10, `ml-gen --help` under {HELP_TARGET_MS:.0f} ms: {latest:.0f} ms ({labels[-1]}), {verdict}."
    )
    machine = found[-1][1]["machine"]
    if machine["loadavg_start"][0] > machine["nproc"]:
        target += (
            f" That run was taken at a load average of {machine['loadavg_start'][0]:.1f} on {machine['nproc']} CPUs, "
            "so its wall times are far from idle ones: judge the target on a quiet machine, and compare runs "
            "taken at different loads by their instructions."
        )
    runs_count = ", ".join(f"{len(next(iter(d['commands'].values()))['wall'])} ({label})" for label, d in found)
    return "\n\n".join(
        [
            "\n".join(lines),
            f"Runs per command: {runs_count}, the commands taking turns. {target}",
            runs_of,
            imports_tables(found),
        ]
    )


def imports_tables(found: list[tuple[str, dict]], top: int = 15) -> str:
    """Per profiled command, the modules with the largest cumulative import time (median of the runs)."""
    out = []
    for command in found[-1][1]["imports"]:
        profiles = [(label, d["imports"].get(command)) for label, d in found]
        totals = ", ".join(
            f"{p['total_ms']:.0f} ms, {p['modules_imported']} modules ({label})" for label, p in profiles if p
        )
        names: dict[str, float] = {}
        for _, p in profiles:
            for name, row in (p or {}).get("modules", {}).items():
                names[name] = max(names.get(name, 0.0), row["cumulative_ms"])
        chosen = sorted(names, key=lambda n: -names[n])[:top]
        head = "| module | " + " | ".join(f"{label}: cumulative (self) ms" for label, _ in profiles) + " |"
        lines = [f"`python -X importtime` of `{command}`: {totals}.", "", head, "|---|" + "---:|" * len(profiles)]
        for name in chosen:
            cells = []
            for _, p in profiles:
                row = (p or {}).get("modules", {}).get(name)
                cells.append(f"{row['cumulative_ms']:.1f} ({row['self_ms']:.1f})" if row else "–")
            lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
        out.append("\n".join(lines))
    return "\n\n".join(out)


def _per_item_us(path: dict, route: str) -> float:
    return float(path["summary"][route]["median"]) / path["items"] * 1e6


def _agreement(path: dict) -> str:
    if "same_bytes" in path:
        return (
            f"same bytes {path['same_bytes']}/{path['of']}; both read back equal: "
            f"{path['fast_reads_back']}/{path['of']} and {path['library_reads_back']}/{path['of']}"
        )
    return f"same answer {path['same_result']}/{path['of']}"


def fastpaths_section(results: Path = RESULTS) -> str:
    """Each fast path against its library route, and render with and without the process pool."""
    found = runs("fastpaths", results)
    if not found:
        return "(no fast-path run: `python -m bench.fastpaths`)"
    lines = [
        "| fast path | run | work | library route, CPU µs each | fast path, CPU µs each | speed-up "
        "| fresh process, library / fast, CPU ms | outputs |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for name in found[-1][1]["fast_paths"] | found[0][1]["fast_paths"]:
        for label, data in found:
            lines.append(f"| {name} | {label} | {_fast_path_cells(data['fast_paths'].get(name))} |")
    routes = "\n".join(
        f"- {name}: fast path `{p['fast']}`, library route {p['library']}"
        for name, p in found[-1][1]["fast_paths"].items()
        if "gone" not in p
    )
    return "\n\n".join(
        ["\n".join(lines), routes, pool_table(found), "\n".join(taken(label, data) for label, data in found)]
    )


def _fast_path_cells(path: dict[str, Any] | None) -> str:
    """Work, library and fast CPU µs per item, speed-up, fresh-process CPU ms and agreement, as table cells."""
    if path is None or "gone" in path:
        return f"gone | | | | | {path['gone'] if path else ''}"
    library, fast = _per_item_us(path, "library"), _per_item_us(path, "fast")
    fresh = {r: p.get("cpu_summary", p["summary"]) for r, p in path["fresh_process"].items()}
    return (
        f"{path['items']} {path['unit']}s | {library:.0f} | {fast:.0f} | **{library / fast:.1f}×** "
        f"| {_ms(fresh['library']['median'])} / {_ms(fresh['fast']['median'])} | {_agreement(path)}"
    )


def schemacheck_section(results: Path = RESULTS) -> str:
    """quickschema against jsonschema on the config schema before and after it was written once with `$defs`."""
    found = runs("schemacheck", results)
    if not found:
        return (
            "(no schema-check run: `python -m bench.fastpaths --only quickschema --out bench/results/schemacheck.json`)"
        )
    lines = [
        "| run | schema, lines | work | jsonschema, CPU µs each | quickschema, CPU µs each | speed-up "
        "| fresh process, jsonschema / quickschema, CPU ms | outputs |",
        "|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for label, data in found:
        lines.append(
            f"| {label} | {data.get('schema_lines', '–')} | {_fast_path_cells(data['fast_paths'].get('quickschema'))} |"
        )
    return "\n\n".join(["\n".join(lines), "\n".join(taken(label, data) for label, data in found)])


def pool_table(found: list[tuple[str, dict]]) -> str:
    """render --all of N configs in one process against worker processes."""
    lines = [
        "| N configs | run | workers | one process: wall s, median (p10–p90) | with workers, wall s "
        "| one process / workers | CPU s: one process / with workers |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for label, data in found:
        pool = data.get("process_pool", {})
        if "gone" in pool:
            notes.append(f"Process pool {label}: gone ({pool['gone']}).")
            continue
        notes.append(
            f"Process pool {label}: workers from {pool['parallel_min_configs']} configs, {pool['cpu_count']} CPUs."
        )
        for n, r in pool.get("sizes", {}).items():
            one, workers = r["one process"]["summary"], r["with workers"]["summary"]
            cpu = {mode: statistics.median(r[mode]["cpu"]) for mode in ("one process", "with workers")}
            lines.append(
                f"| {n} | {label} | {r['worker_processes']} | {_spread_s(one)} | {_spread_s(workers)} "
                f"| **{one['median'] / workers['median']:.2f}×** "
                f"| {cpu['one process']:.2f} / {cpu['with workers']:.2f} |"
            )
    return "\n".join(lines) + "\n\n" + " ".join(notes)


def _spread_s(s: dict) -> str:
    return f"{s['median']:.2f} ({s['p10']:.2f}–{s['p90']:.2f})"

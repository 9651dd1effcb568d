"""Turn bench/results/results.json into docs/benchmarks.md (from bench/benchmarks.md.in) and docs/benchmarks.png.

python -m bench.report [bench/results/results.json] [--no-plot]   # --no-plot: the page only, the plot as it is
"""

from __future__ import annotations

import json
import statistics
import string
import sys
from pathlib import Path

from bench import before_after, freshness, serving_report
from bench.run import QUIET_MS

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "bench" / "benchmarks.md.in"
PROFILE = ROOT / "bench" / "results" / "profile.txt"
DOCS = ROOT / "docs"


def med(series: dict | None, key: str = "wall") -> float | None:
    """Median of one metric of a measurement, None when it was not measured."""
    return statistics.median(series[key]) if series and series.get(key) else None


def secs(series: dict | None) -> str:
    """Median seconds with the range of the samples: `1.23 (1.20–1.31)`."""
    if not series or not series.get("wall"):
        return "–"
    w = series["wall"]
    return f"{med(series):.3g} ({min(w):.3g}–{max(w):.3g})" if len(w) > 1 else f"{w[0]:.3g} (1 run)"


def ms(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:.0f}" if value >= 0.1 else f"{value * 1000:.1f}"


def mib(series: dict | None) -> str:
    return "–" if not series else f"{max(series['maxrss_kib']) / 1024:.0f}"


def size_table(sizes: dict) -> str:
    rows = [
        "| N models | files | ml-gen `render --all`, s | per model, ms | helm loop, s | per model, ms "
        "| helm loop / ml-gen | `render --all --check`, s | ml-gen peak RSS, MiB | helm peak RSS, MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, r in sizes.items():
        ours, theirs = med(r["render"]), med(r["helm_loop"])
        ratio = f"**{theirs / ours:.1f}×**" if ours and theirs else "–"
        helm = secs(r["helm_loop"]) + (" ¹" if r["helm_loop_repeat"] == 1 and r["helm_loop"] else "")
        rows.append(
            f"| {n} | {r['files']} | {secs(r['render'])} | {ms(ours / int(n))} | {helm} "
            f"| {ms(theirs / int(n) if theirs else None)} | {ratio} | {secs(r['check'])} | {mib(r['render'])} "
            f"| {mib(r['helm_call'])} |"
        )
    return "\n".join(rows)


def startup_table(results: dict) -> str:
    s, one = results["startup"], results["sizes"].get("1", {})
    rows = [
        ("`python -c pass` (this Python's own start-up, a floor)", s.get("python")),
        ("`ml-gen --help`", s["help"]),
        ("`ml-gen render dev` (one model, one environment, files written)", s["render_dev"]),
        ("`ml-gen render --all` (one model, 3 environments; N = 1 above)", one.get("render")),
        ("`helm template` (one model, one environment, to /dev/null)", s["helm_one"]),
    ]
    lines = ["| process | median wall, ms (min–max) | peak RSS, MiB |", "|---|---:|---:|"]
    for label, series in rows:
        if series:
            w = series["wall"]
            lines.append(f"| {label} | {ms(med(series))} ({ms(min(w))}–{ms(max(w))}) | {mib(series)} |")
    return "\n".join(lines)


def targets(results: dict) -> list[tuple[str, str, bool | None]]:
    """The targets of issues 4 and 19: (target, what was measured, met or None when not measured)."""
    sizes, s = results["sizes"], results["startup"]
    found = []

    def at(n: str, key: str) -> float | None:
        return med(sizes[n][key]) if n in sizes else None

    ours, theirs = at("100", "render"), at("100", "helm_loop")
    label = "100 models × 3 envs ≥ 30× faster than the helm loop (issue 19; issue 4 asked 20×)"
    if ours and theirs:
        found.append((label, f"{theirs / ours:.1f}×", theirs / ours >= 30))
    else:
        found.append((label, "not measured (N = 100)", None))
    one, helm_one = at("1", "render"), med(s["helm_one"])
    label = "one model's 3 envs no slower than one `helm template`"
    if one:
        found.append((label, f"{ms(one)} ms vs {ms(helm_one)} ms", one <= helm_one))
    else:
        found.append((label, "not measured (N = 1)", None))
    help_ = med(s["help"])
    found.append(("`ml-gen --help` under 100 ms", f"{ms(help_)} ms", help_ < 0.1))
    if "1000" in sizes:
        rss = max(sizes["1000"]["render"]["maxrss_kib"]) / 1024
        found.append(("peak RSS under 100 MiB at N = 1000", f"{rss:.0f} MiB", rss < 100))
        growth = (at("1000", "render") / 1000) / (at("100", "render") / 100) if "100" in sizes else None
        label = "time per model at N = 1000 ≤ 1.2× that at N = 100"
        found.append((label, f"{growth:.2f}×", growth <= 1.2) if growth else (label, "not measured (N = 100)", None))
    else:
        found.append(("peak RSS under 100 MiB at N = 1000", "not measured (N = 1000)", None))
        found.append(("time per model at N = 1000 ≤ 1.2× that at N = 100", "not measured (N = 1000)", None))
    return found


def targets_table(found: list) -> str:
    verdict = {True: "met", False: "**not met**", None: "not measured"}
    rows = ["| target (issues 4 and 19) | measured (medians) | verdict |", "|---|---:|---|"]
    rows += [f"| {t} | {m} | {verdict[ok]} |" for t, m, ok in found]
    return "\n".join(rows)


def cluster_section(cluster: dict) -> str:
    if "skipped" in cluster:
        return f"Not measured in this run: {cluster['skipped']}."
    rows = [
        "| N models | ml-gen `validate --all` (offline), s | ml-gen `validate --all --server`, s "
        "| `kubectl apply --dry-run=server`, s | kubectl / ml-gen `--server` |",
        "|---:|---:|---:|---:|---:|",
    ]
    errors = {}
    for n, r in cluster["sizes"].items():
        ours, theirs = med(r["validate_server"]), med(r["kubectl_dry_run"])
        ratio = f"{theirs / ours:.2f}×" if ours and theirs else "–"
        rows.append(
            f"| {n} | {secs(r['validate_offline'])} | {secs(r['validate_server'])} | {secs(r['kubectl_dry_run'])} "
            f"| {ratio} |"
        )
        for key, message in r.get("errors", {}).items():
            errors.setdefault((key, message), []).append(n)
    notes = [f"- `{key}` failed at N = {', '.join(ns)}: `{msg}`" for (key, msg), ns in errors.items()]
    return "\n".join(rows + ([""] + notes if notes else []))


def machine_text(m: dict) -> str:
    load = " / ".join(f"{a:.2f}" for a in m["loadavg_start"])
    end = " / ".join(f"{a:.2f}" for a in m.get("loadavg_end", []))
    dirty = ", generator/ or charts/ modified" if m["dirty"] else ""
    lines = [
        f"- {m['nproc']} CPUs: {m['cpu']}; {m['memory_gib']} GiB memory; {m['os']}",
        f"- Python {m['python']}, ml-gen {m['ml_gen'].split()[-1]} (commit {m['commit']}{dirty})",
        f"- helm {m['helm']}" + (f"; {m['kubectl']}" if m.get("kubectl") else ""),
        f"- taken {m['date']}; load average (1/5/15 min) {load} at the start, {end} at the end",
    ]
    if m.get("filesystem"):
        fs = m["filesystem"]
        journal = {True: " with a journal", False: " without a journal", None: ""}[fs["journal"]]
        probes = fs["create_2000_ms"] if isinstance(fs["create_2000_ms"], list) else [fs["create_2000_ms"]]
        quiet = "" if probes[-1] < QUIET_MS else ", still not quiet: these figures include that cost"
        waited = f" (first {probes[0]:.0f} ms; the run waited {fs['waited_s']} s{quiet})" if len(probes) > 1 else ""
        lines.append(
            f"- scratch directory on {fs['type']}{journal} (mounted at `{fs['mount']}`); creating 2,000 empty "
            f"files in 100 directories there took {probes[-1]:.0f} ms before the run{waited}; see "
            "[On a RAM disk](#on-a-ram-disk)"
        )
    if m.get("fingerprint"):
        lines.append(
            f"- {freshness.record(m['fingerprint'])} (SHA-256 of {', '.join(freshness.MEASURED)} but "
            f"{', '.join(freshness.NOT_MEASURED)}, as on disk when the run started)"
        )
    return "\n".join(lines)


def profile_excerpt(rows: int = 12) -> str:
    """The head of each section of bench/results/profile.txt."""
    if not PROFILE.exists():
        return "(no profile: run `python -m bench.profile`)"
    out, left = [], 0
    for line in PROFILE.read_text().splitlines():
        if line.startswith("== "):
            left = rows + 6
        if left > 0 and line.strip():
            out.append(line)
            left -= 1
    return "\n".join(out)


def plot(results: dict, path: Path) -> None:
    """Time against N, log-log: ml-gen render --all, --check and the helm template loop."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = results["sizes"]
    ns = [int(n) for n in sizes]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    series = [
        ("helm template loop (1 process per model and env)", "helm_loop", "o-"),
        ("ml-gen render --all", "render", "s-"),
    ]
    series.append(("ml-gen render --all --check", "check", "^--"))
    for label, key, style in series:
        points = [(n, med(sizes[str(n)][key])) for n in ns if med(sizes[str(n)][key])]
        ax.plot([p[0] for p in points], [p[1] for p in points], style, label=label)
    for label, key, style in [
        ("ml-gen validate --server", "validate_server", "d:"),
        ("kubectl --dry-run=server", "kubectl_dry_run", "x:"),
    ]:
        cl = results["cluster"].get("sizes", {})
        points = [(int(n), med(r[key])) for n, r in cl.items()]
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], style, label=label)
    ax.set(xscale="log", yscale="log", xlabel="models (3 environments each)", ylabel="wall time, s (median)")
    ax.set_title(f"ml-gen vs helm template, {results['machine']['nproc']} CPUs")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results: dict, docs: Path = DOCS, with_plot: bool = True) -> None:
    """Regenerate docs/benchmarks.md and docs/benchmarks.png (or only the page)."""
    docs.mkdir(exist_ok=True)
    if with_plot:
        plot(results, docs / "benchmarks.png")
    found = targets(results)
    unmet = [t for t, _, ok in found if ok is False]
    once = [n for n, r in results["sizes"].items() if r["helm_loop_repeat"] == 1 and r["helm_loop"]]
    text = string.Template(TEMPLATE.read_text()).substitute(
        command=results["command"],
        cluster_note=f" with KUBECONFIG={results['cluster']['kubeconfig']}"
        if "kubeconfig" in results["cluster"]
        else "",
        machine=machine_text(results["machine"]),
        repeat=results["settings"]["repeat"],
        more=more_repetitions(results),
        once=f"¹ the helm loop ran once at N = {', '.join(once)} (thousands of helm processes). " if once else "",
        seconds=f"{results['seconds'] / 60:.1f}"
        + ("" if results.get("complete") else " (it stopped early: incomplete)"),
        targets=targets_table(found),
        unmet=("Not met in this run: " + "; ".join(unmet) + ".") if unmet else "All measured targets are met.",
        sizes=size_table(results["sizes"]),
        kinds=kinds_text(results["sizes"]),
        startup=startup_table(results),
        cluster=cluster_section(results["cluster"]),
        profile=profile_excerpt(),
        tmpfs=tmpfs_section(docs.parent / "bench" / "results" / "results-tmpfs.json"),
        serving=serving_report.section(docs.parent / "bench" / "results" / "serving.json"),
        startup_commands=before_after.startup_section(),
        fast_paths=before_after.fastpaths_section(),
        schema_check=before_after.schemacheck_section(),
    )
    (docs / "benchmarks.md").write_text(text)
    print(f"wrote {docs / 'benchmarks.md'}" + (f" and {docs / 'benchmarks.png'}" if with_plot else ""))


def tmpfs_section(path: Path) -> str:
    """The same sizes rendered on a RAM disk, when `results-tmpfs.json` exists: what the disk costs."""
    if not path.exists():
        return "(no tmpfs run: see the command above)"
    tmpfs = json.loads(path.read_text())
    rows = ["| N models | ml-gen `render --all`, s | helm loop, s | helm loop / ml-gen |", "|---:|---:|---:|---:|"]
    for n, r in sorted(tmpfs["sizes"].items(), key=lambda kv: int(kv[0])):
        mine, helm = med(r["render"]), med(r["helm_loop"])
        ratio = f"**{helm / mine:.1f}×**" if mine and helm else "–"
        rows.append(f"| {n} | {secs(r['render'])} | {secs(r['helm_loop'])} | {ratio} |")
    return (
        f"From `{tmpfs['command']}`, taken {tmpfs['machine']['date']} (commit {tmpfs['machine']['commit']}):\n\n"
        + "\n".join(rows)
    )


def more_repetitions(results: dict) -> str:
    """ " (10 at N = 1)" for the sizes timed more often than --repeat, else ""."""
    repeat = results["settings"]["repeat"]
    more = [f"{r['repeat']} at N = {n}" for n, r in results["sizes"].items() if r.get("repeat", repeat) > repeat]
    return f" ({', '.join(more)})" if more else ""


def kinds_text(sizes: dict) -> str:
    n, r = max(sizes.items(), key=lambda kv: int(kv[0]))
    kinds = ", ".join(f"{count} {kind}" for kind, count in r["kinds"].items())
    return f"At N = {n}: {r['files']} files, {r['objects']} objects ({kinds})."


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--no-plot"]
    path = Path(args[0]) if args else ROOT / "bench" / "results" / "results.json"
    write(json.loads(path.read_text()), with_plot="--no-plot" not in sys.argv)


if __name__ == "__main__":
    main()

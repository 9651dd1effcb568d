"""The tables of docs/benchmarks.md's "Serving on the real node", from bench/results/serving.json (bench/serving.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT, SCAFFOLD, FLASK = "ml-gen default probes", "scaffold probes", "flask"


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _failed(change: dict[str, Any]) -> str:
    return f"{change['failed']} of {change['requests']}"


def timing_table(runs: dict[str, Any]) -> str:
    """Seconds to Ready and to the new version, and failed requests, with ml-gen's probes and the scaffold's."""
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("`helm upgrade --install --wait` returned: every pod Ready", lambda r: _s(r["install_s"])),
        ("`set-image` + `helm upgrade`: first new pod Ready", lambda r: _s(r["set_image"]["first_new_pod_ready_s"])),
        ("`set-image` + `helm upgrade --wait` returned", lambda r: _s(r["set_image"]["helm_returned_s"])),
        (
            "`set-model` + `helm upgrade`: first answer of the new version through the Service",
            lambda r: _s(r["set_model"].get("first_answer_of_new_version_s")),
        ),
        ("`set-model` + `helm upgrade --wait` returned", lambda r: _s(r["set_model"]["helm_returned_s"])),
        ("`helm rollback --wait` returned", lambda r: _s(r["rollback"]["helm_returned_s"])),
        ("requests failed during the `set-image` rolling update", lambda r: _failed(r["set_image"])),
        ("requests failed during the `set-model` rolling update", lambda r: _failed(r["set_model"])),
        ("requests failed during the `helm rollback`", lambda r: _failed(r["rollback"])),
    ]
    present = [runs[k] for k in (DEFAULT, SCAFFOLD) if k in runs]
    lines = [
        "| seconds from the command, 2 replicas | " + " | ".join(k for k in (DEFAULT, SCAFFOLD) if k in runs) + " |"
    ]
    lines.append("|---|" + "---:|" * len(present))
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in present) + " |")
    return "\n".join(lines)


def probes_text(runs: dict[str, Any]) -> str:
    out = []
    for label in (DEFAULT, SCAFFOLD):
        if label in runs:
            probes = "; ".join(
                f"{kind} every {p['periodSeconds']} s, {p['failureThreshold']} failures in a row"
                for kind, p in runs[label]["probes"].items()
            )
            out.append(f"- {label}: {probes}")
    return "\n".join(out)


def throughput_table(results: dict[str, Any]) -> str:
    runs, gunicorn = results["runs"], results["settings"]["gunicorn"]
    threads = _default_threads(gunicorn.get("threads", "?"))
    servers = [
        (f"`ml-gen init` server: gunicorn, {gunicorn.get('workers', '?')} worker, {threads} threads", runs[SCAFFOLD])
    ]
    servers += [
        (f"`ml-gen init` server, `GUNICORN_THREADS={key.rsplit('_', 1)[1]}`", {"throughput": value})
        for key, value in runs[SCAFFOLD].items()
        if key.startswith("throughput_threads_")
    ]
    servers.append(("one-file Flask app: `app.run()`, the model pickled", runs.get(FLASK, {})))
    lines = [
        "| server | concurrency | requests/s | p50, ms | p99, ms | server CPU per request, ms | failed |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, run in servers:
        for level in run.get("throughput", []):
            lat = level["latency_ms"]
            lines.append(
                f"| {label} | {level['concurrency']} | {level['per_second']:.0f} | {lat['p50']:.1f} | {lat['p99']:.1f} "
                f"| {_ms(level.get('server_cpu_ms_per_request'))} | {level['failed']} of {level['requests']} |"
            )
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _default_threads(line: str) -> str:
    """'int(os.environ.get("GUNICORN_THREADS", "4"))' -> '4'."""
    return line.rsplit('"', 2)[-2] if line.count('"') >= 4 else line


def memory_table(runs: dict[str, Any]) -> str:
    lines = ["| server | working set per pod, MiB | RSS per pod, MiB |", "|---|---:|---:|"]
    for label, key in (("`ml-gen init` server", SCAFFOLD), ("one-file Flask app", FLASK)):
        pods = list(runs.get(key, {}).get("memory", {}).get("pods", {}).values())
        if pods:
            ws = ", ".join(f"{p['working_set_mib']:.0f}" for p in pods)
            rss = ", ".join(f"{p['rss_mib']:.0f}" for p in pods)
            lines.append(f"| {label} | {ws} | {rss} |")
    return "\n".join(lines)


def flask_text(runs: dict[str, Any]) -> str:
    flask = runs.get(FLASK)
    if not flask or "restart" not in flask:
        return ""
    restart = flask["restart"]
    return (
        f"The Flask app (TCP probes at ml-gen's default periods) had every pod Ready {_s(flask['install_s'])} s after "
        f"`helm upgrade --install`; during `kubectl rollout restart` (its pods replaced one by one, as in a rolling "
        f"update, {_s(restart['rollout_s'])} s) {restart['failed']} of {restart['requests']} requests failed."
    )


def section(path: Path) -> str:
    """The figures, or a line saying how to make them."""
    if not path.exists():
        return "(no serving run yet: `python -m bench.serving` writes bench/results/serving.json)"
    results = json.loads(path.read_text())
    m, runs = results["machine"], results["runs"]
    load = " / ".join(f"{a:.1f}" for a in m["loadavg_start"])
    dirty = " with changes to generator/, charts/ or bench/" if m.get("dirty") else ""
    end = " / ".join(f"{a:.1f}" for a in m.get("loadavg_end", []))
    parts = [
        f"From `{results['command'].strip()}`, taken {m['date']} (commit {m['commit']}{dirty}) on {m['nproc']} CPUs "
        f"({m['cpu']}), load average (1/5/15 min) {load} at the start and {end} at the end; the whole run took "
        f"{results['seconds'] / 60:.1f} minutes ({results['image_build_s']['scaffold_image']:.0f} s of them building "
        "the scaffold's image).",
        timing_table(runs),
        probes_text(runs),
        throughput_table(results),
        memory_table(runs),
        flask_text(runs),
    ]
    return "\n\n".join(p for p in parts if p)

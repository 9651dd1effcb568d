"""This checkout's ml-gen beside another checkout's and `helm template`, taking turns, run after run.

    python -m bench.side_by_side --before /tmp/base            # /tmp/base: e.g. `git archive main | tar -x -C ...`
    python -m bench.side_by_side --before /tmp/base --runs 5 --loop-runs 1   # a quick try

(a) one model's three environments: `ml-gen render --all` in a directory `ml-gen init` wrote, beside one
`helm template` of one environment; (b) `ml-gen render --all` of N generated models (default 100, three
environments each), beside the `helm template` loop over the same values (as bench/run.py times it). The other
checkout runs with this venv's Python and its own generator/ first on PYTHONPATH, so only ml-gen's code differs.
Every run of (b) starts from a fresh copy of the configs. Medians, with the load average before and after: the
machine is shared, and a burst of load from elsewhere hits the commands alike because they take turns.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

from bench import generate
from bench.run import CHART, ML_GEN, compile_bytecode, find_tool, helm_loop, run, settle, targets_of


def commands(before: Path | None) -> dict[str, tuple[list, dict[str, str]]]:
    """label -> (ml-gen command line, environment) of each checkout timed."""
    found = {"after": ([ML_GEN], dict(os.environ))}
    if before is not None:
        env = dict(os.environ, PYTHONPATH=str(before / "generator"))
        found = {"before": ([sys.executable, before / "generator" / "bin" / "ml-gen"], env), **found}
    return found


def timed(cmd: list, env: dict[str, str], cwd: Path | None = None) -> float:
    """Wall seconds of one process (bench.run.run reads the environment of this process: set it for the child)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        return run(cmd, cwd=cwd)["wall"]
    finally:
        os.environ.clear()
        os.environ.update(saved)


def one_model(work: Path, runs: int, helm: Path, checkouts: dict) -> dict[str, list[float]]:
    """(a): render --all of a scaffolded model, and one helm template of its first environment."""
    project = work / "one"
    run([ML_GEN, "init", "iris", project])
    run([ML_GEN, "render", "--all"], cwd=project)  # the values files helm reads; also a warm-up
    config = yaml.safe_load((project / "ml-model.yaml").read_text())
    name, (env, settings) = config["name"], next(iter(config["environments"].items()))
    samples: dict[str, list[float]] = {label: [] for label in checkouts} | {"helm template": []}
    for _ in range(runs):
        for label, (cmd, env_vars) in checkouts.items():
            for d in ("values", "manifests"):
                shutil.rmtree(project / d, ignore_errors=True)
            samples[label].append(timed([*cmd, "render", "--all"], env_vars, cwd=project))
        cmd = [
            helm,
            "template",
            name,
            CHART,
            "-n",
            settings["namespace"],
            "--skip-tests",
            "-f",
            project / "values" / f"{env}.yaml",
        ]
        samples["helm template"].append(run(cmd)["wall"])
    return samples


def many_models(work: Path, n: int, runs: int, loop_runs: int, helm: Path, checkouts: dict) -> dict[str, list[float]]:
    """(b): render --all of n generated models from a fresh copy each run; the helm loop `loop_runs` times."""
    generate.generate(work / "source", n, 0)
    samples: dict[str, list[float]] = {label: [] for label in checkouts} | {"helm loop": []}
    for rep in range(runs):
        for label, (cmd, env_vars) in checkouts.items():
            tree = work / f"{label}-{rep}" / "models"
            shutil.copytree(work / "source" / "models", tree)
            settle()
            samples[label].append(timed([*cmd, "render", "--all", "-c", tree], env_vars))
            if rep < loop_runs and label == "after":
                settle()
                samples["helm loop"].append(helm_loop(helm, targets_of(tree))[0])
            shutil.rmtree(tree.parent)
        print(f"  run {rep + 1}/{runs}: " + ", ".join(f"{k} {v[-1]:.3f}s" for k, v in samples.items() if v), flush=True)
    return samples


def report(title: str, samples: dict[str, list[float]], reference: str) -> None:
    print(f"{title}")
    ref = statistics.median(samples[reference])
    for label, values in samples.items():
        median = statistics.median(values)
        spread = f"{min(values) * 1000:.0f}-{max(values) * 1000:.0f}"
        ratio = f", {reference} / this = {ref / median:.2f}" if label != reference else ""
        print(f"  {label:14} median {median * 1000:8.1f} ms (min-max {spread}, {len(values)} runs){ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="another checkout (its generator/ is put on PYTHONPATH)")
    parser.add_argument("--runs", type=int, default=21, help="runs of (a) (default 21)")
    parser.add_argument("--models", type=int, default=100, help="N of (b) (default 100; 0: (a) only)")
    parser.add_argument("--many-runs", type=int, default=5, help="runs of (b) (default 5)")
    parser.add_argument("--loop-runs", type=int, default=3, help="runs of the helm loop (default 3)")
    args = parser.parse_args()
    helm = find_tool("helm", None)
    compile_bytecode()
    checkouts = commands(args.before.resolve() if args.before else None)
    if args.before:
        run([sys.executable, "-m", "compileall", "-q", args.before / "generator" / "ml_gen"])
    print(f"load average at the start: {' / '.join(f'{a:.1f}' for a in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="ml-gen-side-by-side-") as tmp:
        one = one_model(Path(tmp), args.runs, helm, checkouts)
        report(
            "(a) one model, three environments: ml-gen render --all, against one helm template", one, "helm template"
        )
        if args.models:  # 0: (a) only
            many = many_models(Path(tmp), args.models, args.many_runs, args.loop_runs, helm, checkouts)
            title = f"(b) {args.models} models x 3 environments: ml-gen render --all, against the helm loop"
            report(title, many, "helm loop")
    print(f"load average at the end: {' / '.join(f'{a:.1f}' for a in os.getloadavg())}")


if __name__ == "__main__":
    main()

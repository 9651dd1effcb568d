"""Peak RSS and time of `ml-gen render --all` over N generated models, this code against another (interleaved).

    python -m bench.render_rss --sizes 100,1000 --repeat 3 --before /path/to/other/generator

Measured as bench/run.py measures (its run(): os.wait4 of the child, whose ru_maxrss is the largest of
the child and the worker processes it waited for). --before: a PYTHONPATH holding the other ml_gen.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from bench import generate
from bench.run import ML_GEN, run, settle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000", help="numbers of models (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per size and code (default 3)")
    parser.add_argument("--before", help="PYTHONPATH of the code to compare with (default: this code alone)")
    args = parser.parse_args()
    codes = {"before": args.before, "after": os.environ.get("PYTHONPATH", "")} if args.before else {"this": None}
    work = Path(tempfile.mkdtemp(prefix="ml-gen-rss-"))
    try:
        for n in (int(s) for s in args.sizes.split(",")):
            generate.generate(work / "source", n)
            samples: dict[str, list[dict]] = {label: [] for label in codes}
            for rep in range(args.repeat):
                for label, path in codes.items():
                    if path is not None:  # run() passes this process's environment on
                        os.environ["PYTHONPATH"] = path
                    tree = work / f"{label}-{rep}"
                    shutil.copytree(work / "source" / "models", tree)
                    settle()
                    samples[label].append(run([ML_GEN, "render", "--all", "-c", tree]))
                    shutil.rmtree(tree)
            shutil.rmtree(work / "source")
            for label, runs in samples.items():
                wall = [s["wall"] for s in runs]
                cpu = [s["cpu"] for s in runs]
                rss = [s["maxrss_kib"] / 1024 for s in runs]
                print(
                    f"N={n} {label}: wall s {statistics.median(wall):.2f} {[round(w, 2) for w in wall]}, "
                    f"CPU s {statistics.median(cpu):.2f}, peak RSS MiB {statistics.median(rss):.1f} "
                    f"{[round(r, 1) for r in rss]}",
                    flush=True,
                )
            print(f"  load average at the end: {' / '.join(f'{a:.2f}' for a in os.getloadavg())}", flush=True)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

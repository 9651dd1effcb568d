"""Benchmark ml-gen against a `helm template` loop; write bench/results/results.json and docs/benchmarks.{md,png}.

    python -m bench.run                                  # N = 1, 10, 100, 1000; 5 repetitions
    python -m bench.run --sizes 1,10 --repeat 2 --no-docs --no-profile   # a quick try

Every process is timed alone (wall clock) and its peak RSS is read from os.wait4's rusage of that child.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench import freshness, generate

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "charts" / "ml-model-api"
RESULTS = ROOT / "bench" / "results" / "results.json"
ML_GEN = Path(sys.executable).parent / "ml-gen"  # the console script itself, not a pyenv shim


class Failed(RuntimeError):
    """A benchmarked command exited non-zero."""


def run(cmd: list, stdout=subprocess.DEVNULL, ok=(0,), cwd: Path | None = None) -> dict:
    """Run one process; its wall time (s), CPU time (s) and peak RSS (KiB), from this child alone."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in cmd], stdout=stdout, stderr=err, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in ok:
            err.seek(0)
            raise Failed(f"{' '.join(map(str, cmd))} exited {proc.returncode}: {err.read().decode()[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kib": usage.ru_maxrss}


def settle() -> None:
    """Flush the page cache's dirty data before a timed step, so no step pays for the writes of the one
    before it (16,000 files a repetition at N = 1000 otherwise throttle whatever runs next)."""
    os.sync()


def collect(samples: list[dict]) -> dict:
    """Samples as lists per metric: {"wall": [...], "cpu": [...], "maxrss_kib": [...]}."""
    return {key: [s[key] for s in samples] for key in samples[0]} if samples else {}


def output(cmd: list) -> str:
    """stdout of a helper command (versions and the like), or '' when it fails."""
    try:
        return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def find_tool(name: str, given: str | None) -> Path:
    """A pinned tool from scripts/install-tools' bin directory (building helm if missing), else PATH."""
    if given:
        return Path(given)
    tools = Path(output([ROOT / "scripts" / "install-tools", "--print-dir"]))
    if not (tools / name).exists() and name == "helm":
        subprocess.run([ROOT / "scripts" / "install-tools", "helm"], check=True)
    if (tools / name).exists():
        return tools / name
    found = shutil.which(name)
    if not found:
        sys.exit(f"bench: {name} not found: run scripts/install-tools")
    return Path(found)


def machine(helm: Path) -> dict:
    """What the figures were taken on."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")), "?")
    meminfo = Path("/proc/meminfo").read_text().split()
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "memory_gib": round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "ml_gen": output([ML_GEN, "--version"]),
        "helm": output([helm, "version", "--short"]),
        "commit": output(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
        "dirty": bool(output(["git", "-C", ROOT, "status", "--porcelain", "generator", "charts"])),
        "fingerprint": freshness.fingerprint(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_start": list(os.getloadavg()),
    }


SMALL, SMALL_REPEAT = 1, 10  # N = 1 is timed at least 10 times, as one helm template call is
QUIET_MS = 100  # 2,000 empty files in 100 directories: 40-90 ms on this machine's quiet disk, 0.2-1.3 s when not
QUIET_WAIT = 360  # seconds: ext4 skips an inode 60 s after it was freed, 360 s while its inode table is unwritten


def create_files(directory: Path, dirs: int = 100, files: int = 20) -> float:
    """Milliseconds to create DIRS new directories of FILES empty files each under a new DIRECTORY, shaped
    like a rendered tree so that it lands where a render's files would (they stay until the run ends)."""
    directory.mkdir()
    start = time.perf_counter()
    for d in range(dirs):
        sub = directory / str(d)
        sub.mkdir()
        for i in range(files):
            os.close(os.open(sub / str(i), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    return (time.perf_counter() - start) * 1000


def filesystem(work: Path) -> dict:
    """The scratch directory's file system, once creating files there is as fast as on a quiet disk.

    ext4 without a journal (this machine's root) will not reuse an inode freed in the last minute (six
    while its inode table block is not yet written), and checks every such inode it passes while looking
    for a free one (`recently_deleted` in the kernel's fs/ext4/ialloc.c): creating files soon after
    thousands were removed nearby (by the last run's clean-up, say) costs ten to twenty times as much
    system time. So the run waits, probing, until creating 2,000 files in 100 directories takes under
    QUIET_MS (at most QUIET_WAIT seconds), and removes nothing until it ends."""
    kind, mount = mount_of(work)
    journal = None
    if kind == "ext4":  # /proc/fs/jbd2 names a journal by the kernel's name of its block device
        device = os.path.realpath(f"/sys/dev/block/{os.major(work.stat().st_dev)}:{os.minor(work.stat().st_dev)}")
        jbd2 = Path("/proc/fs/jbd2")
        journal = jbd2.is_dir() and any(p.name.startswith(os.path.basename(device) + "-") for p in jbd2.iterdir())
    start = time.perf_counter()
    probes = [create_files(work / "fs-probe-0")]
    while probes[-1] > QUIET_MS and time.perf_counter() - start + 15 < QUIET_WAIT:
        print(f"  creating 2,000 files took {probes[-1]:.0f} ms: waiting for the disk to be quiet", flush=True)
        time.sleep(15)
        probes.append(create_files(work / f"fs-probe-{len(probes)}"))
    waited = round(time.perf_counter() - start - sum(probes) / 1000)
    return {"type": kind, "mount": mount, "journal": journal, "create_2000_ms": probes, "waited_s": waited}


def mount_of(path: Path) -> tuple[str, str]:
    """(file system type, mount point) of the mount PATH is on: the longest mount point above it, the last
    one mounted when several share it (/proc/mounts escapes a space as \\040)."""
    here = str(path.resolve()).rstrip("/") + "/"
    found = ("?", "/")
    for line in Path("/proc/mounts").read_text().splitlines():
        _, point, kind = (re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), f) for f in line.split()[:3])
        if here.startswith(point.rstrip("/") + "/") and len(point) >= len(found[1]):
            found = (kind, point)
    return found


def compile_bytecode() -> None:
    """Byte-compile ml-gen's modules before anything is timed, as `pip install` does: an editable install
    writes them on its first run, unless PYTHONDONTWRITEBYTECODE is set, when every process would compile
    every module from source again (about 40 ms a process on the machine of docs/benchmarks.md)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", ROOT / "generator" / "ml_gen"], check=True)


def targets_of(models: Path) -> list[tuple[str, Path, str, str]]:
    """(release name, model dir, env, namespace) of every model and environment under models/."""
    found = []
    for config in sorted(models.glob("*/ml-model.yaml")):
        data = yaml.safe_load(config.read_text())
        for env, settings in data["environments"].items():
            found.append((data["name"], config.parent, env, settings["namespace"]))
    return found


def helm_loop(helm: Path, targets: list) -> tuple[float, list[dict]]:
    """One `helm template ... --skip-tests -f values/<env>.yaml > rendered/<env>.yaml` per model and environment."""
    calls = []
    start = time.perf_counter()
    for name, model_dir, env, ns in targets:
        (model_dir / "rendered").mkdir(exist_ok=True)
        with open(model_dir / "rendered" / f"{env}.yaml", "w") as out:
            cmd = [helm, "template", name, CHART, "-n", ns, "--skip-tests", "-f", model_dir / "values" / f"{env}.yaml"]
            calls.append(run(cmd, stdout=out))
    return time.perf_counter() - start, calls


def same_objects(model_dir: Path, env: str) -> bool:
    """Does helm's output for one model and environment hold ml-gen's manifests (but for the managed-by label)?"""

    def normal(obj):
        if isinstance(obj, dict):
            return {k: normal(v) for k, v in obj.items() if k != "app.kubernetes.io/managed-by"}
        return [normal(v) for v in obj] if isinstance(obj, list) else obj

    def key(o: dict) -> tuple:
        return o["kind"], o["metadata"]["name"]

    helm_objs = [normal(o) for o in yaml.safe_load_all((model_dir / "rendered" / f"{env}.yaml").read_text()) if o]
    ours = [normal(yaml.safe_load(p.read_text())) for p in (model_dir / "manifests" / env).glob("*.yaml")]
    return sorted(helm_objs, key=key) == sorted(ours, key=key)


def inventory(models: Path) -> dict:
    """How many files and objects of each kind one render wrote."""
    kinds: dict[str, int] = {}
    for path in models.glob("*/manifests/*/*.yaml"):
        kind = path.name.split("-", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    files = sum(1 for _ in models.glob("*/values/*.yaml")) + sum(kinds.values())
    return {"files": files, "objects": sum(kinds.values()), "kinds": dict(sorted(kinds.items()))}


def bench_size(n: int, args, helm: Path, work: Path) -> tuple[dict, Path]:
    """(a) render --all of n models, (d) --check of the fresh tree, (b) the helm loop on the same values."""
    source = work / f"n{n}-source"
    generate.generate(source, n, args.seed)
    repeat = max(args.repeat, SMALL_REPEAT) if n <= SMALL else args.repeat  # a tenth of a second: noisy
    helm_reps = repeat if n <= args.helm_once_above else 1
    render, check, loop, calls, result = [], [], [], [], {"models": n, "repeat": repeat}
    for rep in range(repeat):  # every repetition's tree stays until the run ends (see filesystem())
        tree = work / f"n{n}-rep{rep}" / "models"
        shutil.copytree(source / "models", tree)
        settle()
        render.append(run([ML_GEN, "render", "--all", "-c", tree]))
        settle()
        check.append(run([ML_GEN, "render", "--all", "--check", "-c", tree]))
        if rep < helm_reps:
            targets = targets_of(tree)
            settle()
            wall, rep_calls = helm_loop(helm, targets)
            loop.append({"wall": wall})
            calls += rep_calls
            if rep == 0:
                result["helm_equals_manifests"] = all(same_objects(d, e) for _, d, e, _ in targets[:30])
                if not result["helm_equals_manifests"]:
                    print("  warning: helm template's objects differ from ml-gen's manifests", flush=True)
                result["helm_calls"] = len(targets)
        print(
            f"  N={n} rep {rep + 1}/{repeat}: render {render[-1]['wall']:.3f}s, check {check[-1]['wall']:.3f}s"
            + (f", helm loop {loop[-1]['wall']:.3f}s" if rep < helm_reps else ""),
            flush=True,
        )
    result.update(inventory(tree))
    result.update(render=collect(render), check=collect(check), helm_loop=collect(loop), helm_call=collect(calls))
    result["helm_loop_repeat"] = helm_reps
    return result, tree


def bench_startup(args, helm: Path, work: Path) -> dict:
    """(c) `ml-gen --help`, `ml-gen render dev` of one model, one `helm template` of it, `python -c pass`."""
    generate.generate(work / "one", 1, args.seed)
    source = next((work / "one" / "models").iterdir())
    name, _, env, ns = targets_of(work / "one" / "models")[0]
    reps = max(args.repeat, 10)
    python, help_, render_dev, helm_one = [], [], [], []
    run([ML_GEN, "render", "--all", "-c", source])  # warm-up: byte-compiles, fills the page cache
    for rep in range(reps):
        python.append(run([sys.executable, "-c", "pass"]))
        help_.append(run([ML_GEN, "--help"]))
        model = work / "one" / f"rep{rep}"  # a fresh copy of the config: nothing is removed before a render
        model.mkdir()
        shutil.copy(source / "ml-model.yaml", model)
        render_dev.append(run([ML_GEN, "render", "dev", "-c", model]))
        cmd = [helm, "template", name, CHART, "-n", ns, "--skip-tests", "-f", model / "values" / f"{env}.yaml"]
        helm_one.append(run(cmd))
    return {
        "python": collect(python),
        "help": collect(help_),
        "render_dev": collect(render_dev),
        "helm_one": collect(helm_one),
    }


def cluster_kubeconfig(args, kubectl: Path) -> tuple[str | None, str]:
    """The kubeconfig of a reachable cluster, or None and why the cluster part is skipped."""
    kubeconfig = args.kubeconfig or os.environ.get("KUBECONFIG")
    if not kubeconfig:
        return None, "no cluster given (set KUBECONFIG or pass --kubeconfig; `scripts/local-cluster up` starts one)"
    try:
        run([kubectl, "--kubeconfig", kubeconfig, "--request-timeout=10s", "get", "--raw", "/readyz"])
    except Failed as err:
        return None, f"cluster of {kubeconfig} not reachable: {err}"
    return kubeconfig, ""


def bench_cluster(n: int, tree: Path, args, kubectl: Path, kubeconfig: str) -> dict:
    """(f) `ml-gen validate --all --server` against one `kubectl apply --dry-run=server` of the same files."""
    namespaces = sorted({ns for *_, ns in targets_of(tree)})
    docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in namespaces]
    (tree.parent / "namespaces.yaml").write_text(yaml.safe_dump_all(docs))
    run([kubectl, "--kubeconfig", kubeconfig, "apply", "-f", tree.parent / "namespaces.yaml"])
    files = []
    for d in sorted(tree.glob("*/manifests/*")):
        files += ["-f", d]
    kubectl_cmd = [kubectl, "--kubeconfig", kubeconfig, "apply", "--dry-run=server", "--server-side"]
    kubectl_cmd += ["--force-conflicts", "--field-manager=bench", "--validate=strict", *files]
    commands = {
        "validate_offline": [ML_GEN, "validate", "--all", "-c", tree],
        "validate_server": [ML_GEN, "validate", "--all", "--server", "--kubeconfig", kubeconfig, "-c", tree],
        "kubectl_dry_run": kubectl_cmd,
    }
    samples: dict[str, list] = {key: [] for key in commands}
    errors: dict[str, str] = {}
    for rep in range(args.cluster_repeat):
        for key, cmd in commands.items():
            if key not in errors:
                try:
                    samples[key].append(run(cmd))
                except Failed as err:  # reported in the results and the docs; the other commands go on
                    errors[key] = str(err).strip().splitlines()[-1][:300]
        done = ", ".join(f"{k} {v[-1]['wall']:.2f}s" for k, v in samples.items() if v)
        print(f"  cluster N={n} rep {rep + 1}/{args.cluster_repeat}: {done}", flush=True)
    return {key: collect(v) for key, v in samples.items()} | {"errors": errors}


def save(results: dict, path: Path, started: float, complete: bool) -> None:
    """Write the results so far (after every N, so that a failure keeps what was measured)."""
    results["machine"]["loadavg_end"] = list(os.getloadavg())
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["complete"] = complete
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")


def sizes(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=sizes, default=[1, 10, 100, 1000], help="numbers of models (default 1,10,100,1000)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="repetitions per measurement; medians are reported")
    parser.add_argument(
        "--helm-once-above", type=int, default=100, help="run the helm loop once for N above this (default 100)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated configs")
    parser.add_argument("--kubeconfig", help="cluster for ml-gen validate --server (default: $KUBECONFIG)")
    parser.add_argument("--cluster-sizes", type=sizes, default=[1, 10, 100], help="N for the cluster part")
    parser.add_argument("--cluster-repeat", type=int, default=3, help="repetitions of the cluster part")
    parser.add_argument("--helm", help="helm binary (default: the pinned one of scripts/install-tools)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON (default bench/results/results.json)")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="where the run makes its scratch directory, kept (default: a temporary one, removed)",
    )
    parser.add_argument("--no-profile", action="store_true", help="skip bench/profile.py")
    parser.add_argument("--no-docs", action="store_true", help="skip docs/benchmarks.md and .png")
    args = parser.parse_args()
    if not ML_GEN.exists():
        sys.exit(f"bench: {ML_GEN} not found: pip install -e '.[bench]' with this Python")
    helm = find_tool("helm", args.helm)
    compile_bytecode()
    results = {
        "command": " ".join(["python -m bench.run", *sys.argv[1:]]),
        "machine": machine(helm),
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "workdir", "kubeconfig")},
    }
    if args.workdir:  # a new directory inside it each run: a run removes nothing until it ends
        args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ml-gen-bench-", dir=args.workdir))
    started = time.perf_counter()
    try:
        results["machine"]["filesystem"] = filesystem(work)
        print("startup: ml-gen --help, ml-gen render dev, helm template (one model)", flush=True)
        results["startup"] = bench_startup(args, helm, work)
        kubectl = find_tool("kubectl", None)
        kubeconfig, why = cluster_kubeconfig(args, kubectl)
        results["machine"]["kubectl"] = output([kubectl, "version", "--client"]).splitlines()[0] if kubeconfig else ""
        results["sizes"] = {}
        results["cluster"] = {"skipped": why} if why else {"kubeconfig": kubeconfig, "sizes": {}}
        for n in args.sizes:
            print(f"N={n}", flush=True)
            results["sizes"][str(n)], tree = bench_size(n, args, helm, work)
            if kubeconfig and n in args.cluster_sizes:
                results["cluster"]["sizes"][str(n)] = bench_cluster(n, tree, args, kubectl, kubeconfig)
            save(results, args.out, started, complete=False)
        save(results, args.out, started, complete=True)
        print(f"wrote {args.out} ({results['seconds']}s)")
        if not args.no_profile:  # before the clean-up, which would slow the profile's file writes
            subprocess.run([sys.executable, "-m", "bench.profile"], check=True, cwd=ROOT)
    except Failed as err:
        sys.exit(f"bench: {err}\nbench: the sizes done so far are in {args.out}")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    if not args.no_docs:
        from bench import report

        report.write(results)


if __name__ == "__main__":
    main()

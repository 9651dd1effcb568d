"""Serve on the local cluster's real node and measure it; write bench/results/serving.json.

    python -m bench.serving     # as root (podman, the real node), about 6 minutes; see docs/benchmarks.md

Starts its own cluster with the real node (scripts/local-cluster, as the live tests do), builds the `ml-gen init`
project's image, a second version of it and a one-file Flask app of the same model with scripts/local-image (podman,
the same stand-in base image), pushes them to the node's registry and deploys them by digest with the repository's
chart. Measures: seconds from `helm upgrade --install` to every pod Ready (helm --wait) with ml-gen's default probes
and with the scaffold's; from `ml-gen set-image` / `set-model` (+ helm upgrade) to the new version serving; requests
failed during those rolling updates and a `helm rollback`; `/predict` throughput, p50/p99 latency and the server's
CPU time per request through the Service at fixed concurrencies, the two servers taking turns (bench/loadgen.py in
a pod of each namespace, one connection per request, bounded in requests and seconds); memory per pod from the
kubelet's /stats/summary. The cluster is deleted at the end (`--keep` leaves it for a run with the same `--cluster`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import pickle
import platform
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from bench.real_node import NODE_LABEL, PINNED, restricted_pod

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "charts" / "ml-model-api"
LOCAL_CLUSTER = ROOT / "scripts" / "local-cluster"
LOCAL_IMAGE = ROOT / "scripts" / "local-image"
FLASK_APP = ROOT / "bench" / "flask_app"
LOADGEN = (ROOT / "bench" / "loadgen.py").read_text()
RESULTS = ROOT / "bench" / "results" / "serving.json"
SETOSA = [5.1, 3.5, 1.4, 0.2]
BODY = {"instances": [SETOSA]}
HELM_TIMEOUT = "180s"
SECOND_VERSION = 'FROM {image}\nLABEL dev.ml-gen.bench.version="2"\n'  # another digest, the same layers
ENV = "bench"
CGROUPS = Path("/sys/fs/cgroup")
# Both apps' pods and a rollout's extra pod must fit the node's CPUs (the CPU request is all that differs from
# the scaffold's resources; there is no CPU limit, so it does not change how much CPU a pod may use).
CPU_REQUEST = "200m"


class Failed(RuntimeError):
    """A step of the benchmark failed."""


def sh(*cmd: str | Path, env: dict[str, str] | None = None, timeout: float = 900, **kw: Any) -> str:
    """Run a command; its stdout. Fails with its output."""
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, timeout=timeout, **kw)
    if proc.returncode != 0:
        raise Failed(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return proc.stdout


def ml_gen(*args: str | Path) -> str:
    return sh(sys.executable, "-m", "ml_gen", *args)


class Cluster:
    """The benchmark's own local cluster with its real node, and kubectl and helm for it."""

    def __init__(self, name: str, work: Path) -> None:
        self.name = name
        self.bin = Path(sh(ROOT / "scripts" / "install-tools", "--print-dir").strip())
        self.base_env = dict(os.environ, ML_GEN_CLUSTER_NAME=name, ML_GEN_CLUSTER_REAL_NODE="1")
        self.helm_home = work / "helm"
        self.kubeconfig = ""

    def up(self) -> float:
        started = time.monotonic()
        sh(LOCAL_CLUSTER, "up", env=self.base_env, timeout=1800)
        line = sh(LOCAL_CLUSTER, "env", env=self.base_env).splitlines()[0]
        self.kubeconfig = line.split("=", 1)[1].strip("'\"")
        return time.monotonic() - started

    def down(self) -> None:
        sh(LOCAL_CLUSTER, "down", env=self.base_env, timeout=300)

    def env(self) -> dict[str, str]:
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, PATH=f"{self.bin}{os.pathsep}{os.environ['PATH']}")
        for kind in ("CACHE", "CONFIG", "DATA"):
            env[f"HELM_{kind}_HOME"] = str(self.helm_home / kind.lower())
        return env

    def kubectl(self, *args: str, **kw: Any) -> str:
        return sh(self.bin / "kubectl", *args, env=self.env(), **kw)

    def helm(self, *args: str, **kw: Any) -> str:
        return sh(self.bin / "helm", *args, env=self.env(), **kw)

    def get(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def push(self, *images: str) -> list[str]:
        return sh(LOCAL_CLUSTER, "push", *images, env=self.base_env, timeout=600).split()

    def node(self) -> str:
        (node,) = self.get("nodes", "-l", NODE_LABEL)["items"]
        return str(node["metadata"]["name"])


def wait_until(what: str, check: Any, timeout: float = 120, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Failed, KeyError, ValueError, IndexError):
            found = check()
            if found:
                return found
        time.sleep(interval)
    raise Failed(f"timed out after {timeout}s waiting for {what}")


# -- images ---------------------------------------------------------------------------------------


def build_images(work: Path, tag: str) -> tuple[Path, dict[str, str], dict[str, float]]:
    """`ml-gen init` project, its image (v1), a second version (v2: a label more) and the Flask app's image."""
    project = work / "demo"
    ml_gen("init", "demo", project)
    seconds = {}
    started = time.monotonic()
    sh(LOCAL_IMAGE, "build", project, f"{tag}-demo:1", timeout=1800)
    seconds["scaffold_image"] = time.monotonic() - started
    second = work / "second"
    second.mkdir()
    (second / "Containerfile").write_text(SECOND_VERSION.format(image=f"{tag}-demo:1"))
    sh(LOCAL_IMAGE, "podman", "build", "--pull=never", "--quiet", "-t", f"{tag}-demo:2", second)
    # The Flask app serves the very model the scaffold's image holds, pickled.
    import joblib

    context = work / "flask"
    shutil.copytree(FLASK_APP, context)
    model = joblib.load(project / "model" / "model.joblib")
    (context / "model.pkl").write_bytes(pickle.dumps(model))
    started = time.monotonic()
    sh(LOCAL_IMAGE, "build", context, f"{tag}-flask:1", timeout=1800)
    seconds["flask_image"] = time.monotonic() - started
    return project, {"1": f"{tag}-demo:1", "2": f"{tag}-demo:2", "flask": f"{tag}-flask:1"}, seconds


def untag(*images: str) -> None:
    for image in images:
        subprocess.run([str(LOCAL_IMAGE), "podman", "untag", image, image], capture_output=True)


# -- releases -------------------------------------------------------------------------------------


def by_digest(reference: str) -> dict[str, str]:
    repository, digest = reference.split("@")
    return {"repository": repository, "digest": digest}


def resources(project: Path) -> dict[str, Any]:
    """The scaffold's resources with a CPU request of CPU_REQUEST."""
    scaffold = yaml.safe_load((project / "ml-model.yaml").read_text())["resources"]
    return {**scaffold, "requests": {**scaffold["requests"], "cpu": CPU_REQUEST}}


def scaffold_config(project: Path, namespace: str, image: str, **overrides: Any) -> dict[str, Any]:
    """The project's ml-model.yaml as `ml-gen init` wrote it, pinned to the real node, one environment."""
    config = yaml.safe_load((project / "ml-model.yaml").read_text())
    config["image"] = by_digest(image)
    config.update(PINNED, resources=resources(project), **overrides)
    config["environments"] = {ENV: {"namespace": namespace}}
    return dict(config)


def flask_config(project: Path, namespace: str, image: str) -> dict[str, Any]:
    """The Flask app as a bring-your-own image: the scaffold's replicas and resources, TCP probes, no metrics."""
    scaffold = yaml.safe_load((project / "ml-model.yaml").read_text())
    return {
        "name": "flask-app",
        "image": by_digest(image),
        "port": 5000,
        "replicas": scaffold["replicas"],
        "resources": resources(project),
        "health": {"type": "tcp"},
        "metrics": {"enabled": False},
        **PINNED,
        "environments": {ENV: {"namespace": namespace}},
    }


class Release:
    """One app's config file in its own directory, rendered and installed with the repository's chart."""

    def __init__(self, cluster: Cluster, directory: Path, config: dict[str, Any]) -> None:
        self.cluster, self.dir, self.name = cluster, directory, config["name"]
        self.namespace = config["environments"][ENV]["namespace"]
        directory.mkdir(parents=True)
        self.config = directory / "ml-model.yaml"
        self.config.write_text(yaml.safe_dump(config, sort_keys=False))
        ml_gen("render", ENV, "-c", self.config)

    def upgrade(self, *extra: str) -> float:
        """helm upgrade --install --wait; its seconds."""
        started = time.monotonic()
        self.cluster.helm(
            "upgrade", "--install", self.name, str(CHART), "-n", self.namespace, "--create-namespace",
            "-f", str(self.dir / "values" / f"{ENV}.yaml"), "--wait", "--timeout", HELM_TIMEOUT, *extra, timeout=400,
        )  # fmt: skip
        return time.monotonic() - started

    def pods(self) -> list[dict[str, Any]]:
        items = self.cluster.get("pods", "-n", self.namespace, "-l", f"app.kubernetes.io/instance={self.name}")
        return [p for p in items["items"] if not p["metadata"].get("deletionTimestamp")]

    def service_url(self, path: str) -> str:
        spec = self.cluster.get("service", self.name, "-n", self.namespace)["spec"]
        return f"http://{spec['clusterIP']}:{spec['ports'][0]['port']}{path}"


def ready_since(pod: dict[str, Any]) -> float | None:
    """When the pod last became Ready (epoch seconds, the API's one-second resolution), None if it is not."""
    for c in pod["status"].get("conditions", []):
        if c["type"] == "Ready" and c["status"] == "True":
            return datetime.datetime.fromisoformat(c["lastTransitionTime"].replace("Z", "+00:00")).timestamp()
    return None


# -- the load generator ---------------------------------------------------------------------------


class LoadPod:
    """A pod in the app's namespace on the real node that runs bench/loadgen.py against the Service."""

    def __init__(self, cluster: Cluster, namespace: str, image: str, uid: int) -> None:
        self.cluster, self.namespace, self.name = cluster, namespace, f"loadgen-{uuid.uuid4().hex[:6]}"
        command = ["python3", "-c", "import time; time.sleep(3600)"]  # exits by itself
        pod = restricted_pod(self.name, namespace, "loadgen", uid, "loadgen", image, command)
        cluster.kubectl("create", "-f", "-", input=json.dumps(pod))
        cluster.kubectl("wait", "--for=condition=Ready", f"pod/{self.name}", "-n", namespace, "--timeout=120s")

    def command(self, settings: dict[str, Any]) -> list[str]:
        kubectl = str(self.cluster.bin / "kubectl")
        return [
            kubectl,
            "exec",
            "-i",
            "-n",
            self.namespace,
            self.name,
            "--",
            "python3",
            "-c",
            LOADGEN,
            json.dumps(settings),
        ]

    def run(self, **settings: Any) -> dict[str, Any]:
        proc = subprocess.run(
            self.command(settings), capture_output=True, text=True, env=self.cluster.env(), timeout=300, stdin=None
        )
        if proc.returncode != 0:
            raise Failed(f"loadgen exited {proc.returncode}: {proc.stderr[-2000:]}")
        return dict(json.loads(proc.stdout.splitlines()[-1]))

    def reaches(self, url: str) -> None:
        """Wait until a request from the pod is answered (the node's firewall admits a new pod a moment late)."""
        wait_until(
            f"{url} answering {self.name}",
            lambda: self.run(url=url, body=BODY, expect="setosa", concurrency=1, seconds=2, max_requests=1)["ok"],
        )

    @contextlib.contextmanager
    def watching(self, **settings: Any) -> Iterator[dict[str, Any]]:
        """Load running in the background until the block ends (its stdin closes, 3 s later); fills the dict."""
        result: dict[str, Any] = {}
        settings = {"stop_on_eof": True, "concurrency": 2, "pause": 0.02, "max_requests": 50000, **settings}
        proc = subprocess.Popen(
            self.command(settings),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.cluster.env(),
        )
        try:
            time.sleep(1)  # it is sending before the change starts
            yield result
            time.sleep(3)  # requests just after the change count too
        finally:
            out, err = proc.communicate(input="", timeout=30)  # stdin closed: it stops at once
        if proc.returncode != 0:
            raise Failed(f"loadgen exited {proc.returncode}: {err[-2000:]}")
        result.update(json.loads(out.splitlines()[-1]))


def throughput(apps: list[tuple[str, Release, LoadPod]], args: Any) -> dict[str, list[dict[str, Any]]]:
    """/predict at each concurrency, the apps taking turns level by level (so that load from elsewhere on the
    machine hits them alike): a 1-second warm-up, then the measured run, with the CPU time the app's pods
    used for it (their cgroups' counters)."""
    out: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in apps}
    for c in args.concurrency:
        for name, release, load in apps:
            common = {"url": release.service_url("/predict"), "body": BODY, "expect": "setosa"}
            common.update(processes=args.client_processes, concurrency=c, max_requests=args.max_requests)
            load.run(**common, seconds=1)
            before = cpu_seconds(release)
            result = load.run(**common, seconds=args.seconds)
            used = cpu_seconds(release) - before
            result["server_cpu_ms_per_request"] = round(used * 1000 / result["ok"], 3) if result["ok"] else None
            print(
                f"  {name} c={c}: {result['per_second']} req/s, p50 {result['latency_ms']['p50']} ms, "
                f"p99 {result['latency_ms']['p99']} ms, {result['server_cpu_ms_per_request']} CPU ms/request, "
                f"{result['failed']} failed",
                flush=True,
            )
            out[name].append(result)
    return out


# -- the kubelet's figures --------------------------------------------------------------------------


def kubelet_summary(cluster: Cluster) -> dict[str, Any]:
    """The real node's kubelet /stats/summary, asked on the node's own port with the cluster's admin
    certificate (the API server's node proxy refuses the node's loopback address)."""
    workdir = Path(cluster.kubeconfig).parent
    port = yaml.safe_load((workdir / "node" / "kubelet.yaml").read_text())["port"]
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE  # the kubelet's self-signed serving certificate
    tls.load_cert_chain(workdir / "pki" / "admin.crt", workdir / "pki" / "admin.key")
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/stats/summary", context=tls, timeout=30) as response:
        return dict(json.load(response))


def pod_stats(release: Release) -> dict[str, dict[str, Any]]:
    """Per pod of the release: its memory as the kubelet reports it (MiB)."""
    names = {p["metadata"]["name"] for p in release.pods()}
    pods = {}
    for pod in kubelet_summary(release.cluster).get("pods", []):
        ref = pod["podRef"]
        if ref["namespace"] == release.namespace and ref["name"] in names:
            mem = pod.get("memory", {})
            pods[ref["name"]] = {
                "working_set_mib": round(mem.get("workingSetBytes", 0) / 2**20, 1),
                "rss_mib": round(mem.get("rssBytes", 0) / 2**20, 1),
            }
    return pods


def cpu_seconds(release: Release) -> float:
    """The CPU time the release's pods have used, read from their cgroups on this machine (the real node): the
    kubelet's own figures are refreshed only every few seconds. cgroup v1 (cpuacct.usage, ns) or v2 (cpu.stat)."""
    total = 0.0
    for pod in release.pods():
        uid = pod["metadata"]["uid"]
        found = [*CGROUPS.glob(f"cpuacct/kubepods/*/pod{uid}/cpuacct.usage")]
        found += [*CGROUPS.glob(f"cpuacct/kubepods/pod{uid}/cpuacct.usage")]
        if found:
            total += int(found[0].read_text()) / 1e9
            continue
        stat = [*CGROUPS.glob(f"kubepods/*/pod{uid}/cpu.stat"), *CGROUPS.glob(f"kubepods/pod{uid}/cpu.stat")]
        if not stat:
            raise Failed(f"no cgroup of pod {pod['metadata']['name']} ({uid}) under {CGROUPS}")
        usage = dict(line.split() for line in stat[0].read_text().splitlines())
        total += int(usage["usage_usec"]) / 1e6
    return total


def memory(release: Release) -> dict[str, Any]:
    pods = pod_stats(release)
    return {"source": "the kubelet's /stats/summary: each pod's cgroup, working set and RSS", "pods": pods}


# -- the changes ------------------------------------------------------------------------------------


def change(release: Release, load: LoadPod, edit: list[str | Path], version: str | None = None) -> dict[str, Any]:
    """An edit (ml-gen set-image/set-model --render, then helm upgrade; or a helm command) rolled out under a
    watching client: seconds to the first new pod Ready and to helm's return, failed requests."""
    cluster = release.cluster
    url = release.service_url("/predict")
    extra = {"version_url": release.service_url("/ready"), "version": version} if version else {}
    before = {p["metadata"]["name"] for p in release.pods()}
    with load.watching(url=url, body=BODY, expect="setosa", seconds=240, **extra) as watched:
        started = time.time()
        if edit[0] == "helm":
            cluster.helm(*map(str, edit[1:]), "--wait", "--timeout", HELM_TIMEOUT, timeout=400)
        else:
            ml_gen(*edit)
            release.upgrade()
        done = time.time() - started
        new = [p for p in release.pods() if p["metadata"]["name"] not in before]
    first_ready = min((t for t in map(ready_since, new) if t), default=None)
    result = {
        "helm_returned_s": round(done, 1),
        "first_new_pod_ready_s": round(first_ready - started, 1) if first_ready else None,
        "requests": watched["requests"],
        "failed": watched["failed"],
        "failures": watched["failures"],
    }
    if version:
        seen = watched.get("first_version_at")
        result["first_answer_of_new_version_s"] = round(seen - started, 1) if seen else None
    print(f"  {' '.join(map(str, edit[:2]))}: {result}", flush=True)
    return result


def changes(release: Release, load: LoadPod, digest: str) -> dict[str, Any]:
    """set-image to the second version, set-model to version 0.2.0 (the same file), helm rollback to revision 1."""
    config = release.config
    return {
        "set_image": change(release, load, ["set-image", ENV, "--digest", digest, "-c", config, "--render"]),
        "set_model": change(
            release, load, ["set-model", ENV, "--version", "0.2.0", "-c", config, "--render"], version="0.2.0"
        ),
        "rollback": change(release, load, ["helm", "rollback", release.name, "1", "-n", release.namespace]),
    }


def restart(release: Release, load: LoadPod) -> dict[str, Any]:
    """`kubectl rollout restart` (every pod replaced, as in a rolling update) under the watching client."""
    cluster, deployment = release.cluster, f"deployment/{release.name}"
    with load.watching(url=release.service_url("/predict"), body=BODY, expect="setosa", seconds=240) as watched:
        started = time.time()
        cluster.kubectl("rollout", "restart", deployment, "-n", release.namespace)
        cluster.kubectl("rollout", "status", deployment, "-n", release.namespace, "--timeout=180s", timeout=240)
        done = time.time() - started
    result = {"rollout_s": round(done, 1), **{k: watched[k] for k in ("requests", "failed", "failures")}}
    print(f"  rollout restart: {result}", flush=True)
    return result


def deploy(
    cluster: Cluster, work: Path, config: dict[str, Any], image: str, uid: int
) -> tuple[Release, LoadPod, float]:
    """Install a release (timed: helm upgrade --install --wait) and a load pod beside it that reaches it."""
    release = Release(cluster, work / config["environments"][ENV]["namespace"], config)
    print(f"{release.name} in {release.namespace}: helm upgrade --install", flush=True)
    seconds = release.upgrade()
    print(f"  every pod Ready after {seconds:.1f} s", flush=True)
    load = LoadPod(cluster, release.namespace, image, uid)
    load.reaches(release.service_url("/predict"))
    return release, load, round(seconds, 1)


def measure(cluster: Cluster, project: Path, refs: dict[str, str], work: Path, args: Any, out: dict) -> None:
    """Everything, into OUT as it is measured."""
    config = yaml.safe_load((project / "ml-model.yaml").read_text())
    uid, probes = config["security"]["runAsUser"], config.get("probes") or CANDIDATE_PROBES
    digest = refs["2"].split("@")[1]
    ns = {key: f"bench-{key}-{uuid.uuid4().hex[:4]}" for key in ("default", "scaffold", "flask")}
    # The scaffold with ml-gen's default probes: installs and changes only (probes do not change throughput).
    release, load, install = deploy(
        cluster, work, scaffold_config(project, ns["default"], refs["1"], probes=DEFAULT_PROBES), refs["1"], uid
    )
    out[DEFAULT] = {"probes": DEFAULT_PROBES, "install_s": install}
    out[DEFAULT].update(changes(release, load, digest))
    cluster.kubectl("delete", "namespace", ns["default"], "--wait=false")
    # The scaffold as `ml-gen init` writes it, and the Flask app, side by side.
    scaffold, scaffold_load, install = deploy(
        cluster, work, scaffold_config(project, ns["scaffold"], refs["1"], probes=probes), refs["1"], uid
    )
    effective = {kind: {**DEFAULT_PROBES[kind], **probes.get(kind, {})} for kind in DEFAULT_PROBES}
    out[SCAFFOLD] = {"probes": effective, "install_s": install}
    flask, flask_load, install = deploy(
        cluster, work, flask_config(project, ns["flask"], refs["flask"]), refs["1"], uid
    )
    out["flask"] = {"install_s": install}
    apps = [(SCAFFOLD, scaffold, scaffold_load), ("flask", flask, flask_load)]
    for threads in args.threads:  # the scaffold with other thread counts, beside the others
        config = scaffold_config(project, f"bench-threads-{threads}-{uuid.uuid4().hex[:4]}", refs["1"], probes=probes)
        config["env"] = {**config.get("env", {}), "GUNICORN_THREADS": str(threads)}
        release, load, _ = deploy(cluster, work, config, refs["1"], uid)
        apps.append((f"threads {threads}", release, load))
    for name, levels in throughput(apps, args).items():
        if name.startswith("threads "):
            out[SCAFFOLD][f"throughput_threads_{name.split()[1]}"] = levels
        else:
            out[name]["throughput"] = levels
    for name, release, _ in apps[:2]:
        out[name]["memory"] = memory(release)
    for _, release, _ in apps[2:]:  # their CPU requests would keep a rollout's extra pod off the node
        cluster.kubectl("delete", "namespace", release.namespace, "--wait=false")
    out[SCAFFOLD].update(changes(scaffold, scaffold_load, digest))
    out["flask"]["restart"] = restart(flask, flask_load)


DEFAULT, SCAFFOLD = "ml-gen default probes", "scaffold probes"
DEFAULT_PROBES = {  # ml-gen's defaults (ml_gen.config.model.DEFAULTS), what a config without `probes` gets
    "startup": {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 30},
    "liveness": {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3},
    "readiness": {"periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 3},
}
CANDIDATE_PROBES = {  # to compare while the scaffold's config has no probes of its own
    "startup": {"periodSeconds": 1, "timeoutSeconds": 5, "failureThreshold": 300},
    "liveness": {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3},
    "readiness": {"periodSeconds": 2, "timeoutSeconds": 3, "failureThreshold": 3},
}


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")), "?")
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "os": platform.platform(),
        "commit": sh("git", "-C", ROOT, "rev-parse", "--short", "HEAD").strip(),
        "dirty": bool(sh("git", "-C", ROOT, "status", "--porcelain", "generator", "charts", "bench").strip()),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_start": list(os.getloadavg()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=lambda s: [int(c) for c in s.split(",")], default=[1, 4, 16])
    parser.add_argument("--seconds", type=float, default=6, help="seconds per concurrency level (default 6)")
    parser.add_argument("--max-requests", type=int, default=20000, help="request budget per level (default 20000)")
    parser.add_argument(
        "--threads",
        type=lambda s: [int(c) for c in s.split(",") if c],
        default=[8],
        help="other GUNICORN_THREADS to measure the scaffold's throughput with, each a release of its own (default 8)",
    )
    parser.add_argument(
        "--client-processes", type=int, default=2, help="processes the load generator spreads its threads over"
    )
    parser.add_argument("--cluster", default=f"ml-gen-bench-{os.getpid()}", help="cluster name")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ml-gen-serving-"))
    cluster = Cluster(args.cluster, work)
    tag = f"localhost/ml-gen-bench-{uuid.uuid4().hex[:6]}"
    results: dict[str, Any] = {"command": " ".join(["python -m bench.serving", *sys.argv[1:]]), "machine": machine()}
    started = time.monotonic()
    images: list[str] = []
    try:
        print("images: ml-gen init project, its second version, the Flask app (scripts/local-image)", flush=True)
        project, built, results["image_build_s"] = build_images(work, tag)
        images = list(built.values())
        print("cluster: scripts/local-cluster up with the real node", flush=True)
        results["cluster_up_s"] = round(cluster.up(), 1)
        keys = list(built)
        refs = dict(zip(keys, cluster.push(*(built[k] for k in keys)), strict=True))
        results["settings"] = {
            "concurrency": args.concurrency,
            "seconds": args.seconds,
            "max_requests": args.max_requests,
            "threads": args.threads,
            "client_processes": args.client_processes,
            "cpu_request": CPU_REQUEST,
            "scaffold": {
                k: v
                for k, v in yaml.safe_load((project / "ml-model.yaml").read_text()).items()
                if k
                in ("replicas", "resources", "probes", "env", "shutdownDelaySeconds", "terminationGracePeriodSeconds")
            },
            "gunicorn": gunicorn_settings(project),
        }
        measure(cluster, project, refs, work, args, results.setdefault("runs", {}))
        results["complete"] = True
    finally:
        results["seconds"] = round(time.monotonic() - started, 1)
        results["machine"]["loadavg_end"] = list(os.getloadavg())
        if not args.keep and cluster.kubeconfig:
            cluster.down()
        untag(*images)
        shutil.rmtree(work, ignore_errors=True)
        out = args.out if results.get("complete") else args.out.with_suffix(".incomplete.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {out} ({results['seconds'] / 60:.1f} min)")


def gunicorn_settings(project: Path) -> dict[str, str]:
    """workers, threads and timeouts as the project's gunicorn.conf.py sets them (the lines themselves)."""
    keep = ("workers", "threads", "timeout", "graceful_timeout", "keepalive", "worker_class")
    lines = (project / "gunicorn.conf.py").read_text().splitlines()
    return {
        ln.split("=", 1)[0].strip(): ln.split("=", 1)[1].strip() for ln in lines if ln.split("=")[0].strip() in keep
    }


if __name__ == "__main__":
    main()

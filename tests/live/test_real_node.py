"""The release really serves: ``ml-gen init``'s model server on the local cluster's real node.

These tests run containers. The session's cluster gets its real node for them (the ``real_node``
fixture of conftest.py): containerd, kubelet, kube-proxy and kube-router on this machine, and the image
registry on loopback its containerd pulls from. The images are built once per session with
``scripts/local-image`` (podman) and pushed to that registry with ``scripts/local-cluster push``, as CI
pushes; the releases name them by the digest the registry returned, and the node pulls them by that
digest (nothing is imported into containerd but the pause image). Pods are pinned to the node by its
label and toleration.

What they prove, beyond the KWOK tests in test_helm_live.py: Helm's ``--wait`` waits for real
startup and readiness probes; ``helm test`` fetches the health path through the Service; the model
answers ``/predict`` and ``/metrics``; the process runs as the configured user with no capabilities
and a read-only root; a bad version is rolled back by Helm while the old pods keep serving; a rolling
update loses no request through the Service (kube-proxy); the GitOps path gives the same Ready pods;
a bring-your-own image (one Flask file, a single-stage Dockerfile, root) deploys with TCP probes
under the restricted security context; and ml-gen's NetworkPolicy selects exactly the server's pods,
admits clients of its own and of the allowed namespace and blocks one of another namespace (the node
enforces it with kube-router's firewall).

The model from a store (issue 16): versitygw (S3) and an MLflow tracking server run on this machine,
listening on the node's address (the pods' gateway); MLflow starts with the session, niced, while the
image builds. A release fetches ``models:/iris/1`` or an ``s3://`` object (credentials from a Secret,
egress restricted to the store) in its fetch-model init container and serves that model;
``ml-gen set-model`` to version 2 rolls with no failed request through the Service; bad versions (a
version the registry lacks, wrong credentials, a file that is not a model) never take traffic and
``helm upgrade --rollback-on-failure`` restores the last good release.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import kserve_manager
import pytest
import yaml

import model_stores

if TYPE_CHECKING:
    from conftest import Cluster

pytestmark = pytest.mark.real_node

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from bench.real_node import NODE_LABEL, PINNED, restricted_pod  # noqa: E402  (shared with bench/serving.py)

CHART = REPO / "charts" / "ml-model-api"
LOCAL_IMAGE = REPO / "scripts" / "local-image"
LOCAL_CLUSTER = REPO / "scripts" / "local-cluster"
RUN = uuid.uuid4().hex[:6]
START_ENV = dict(os.environ)  # before any fixture points HOME elsewhere
DEMO = f"localhost/ml-gen-live-demo-{RUN}"
BYO = f"localhost/ml-gen-live-byo-{RUN}"
SETOSA, VIRGINICA = [5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]
HELM_TIMEOUT = "150s"
FAILING_TIMEOUT = "10s"  # a bad version's upgrade: Helm gives up and rolls back after this
Helm = subprocess.CompletedProcess[str]
# A second good version of the demo image: the first plus a label, so a new digest with the same layers.
SECOND_VERSION = 'FROM {image}\nLABEL dev.ml-gen.test.version="2"\n'
FAST_PROBES = {  # short periods keep the suite quick; the server loads the model in about a second
    "startup": {"periodSeconds": 1, "failureThreshold": 60},
    "readiness": {"periodSeconds": 1, "failureThreshold": 2},
    "liveness": {"periodSeconds": 5},
}


# -- helpers ------------------------------------------------------------------------------------


def run(*cmd: str | Path, timeout: float = 900, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("env", START_ENV)  # the scripts find their caches through HOME
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kwargs)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def ml_gen(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, "-m", "ml_gen", *args)


def by_digest(reference: str) -> dict[str, str]:
    """The config's ``image`` for REPOSITORY@sha256:..., as ``set-image --digest`` writes it."""
    repository, digest = reference.split("@")
    return {"repository": repository, "digest": digest}


def write_config(project: Path, out: Path, namespace: str, image: str, **overrides: Any) -> Path:
    """The project's ml-model.yaml with one environment ``live`` in ``namespace`` on the real node,
    running IMAGE (a reference by digest)."""
    config = yaml.safe_load((project / "ml-model.yaml").read_text())
    config["image"] = by_digest(image)
    config.update(PINNED, probes=FAST_PROBES, replicas=2)
    config["resources"] = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}
    config["terminationGracePeriodSeconds"] = 10
    config["shutdownDelaySeconds"] = 3  # without it a rollout lost 7 of 445 requests here (connection refused)
    config["env"] = {**config.get("env", {}), "GRACEFUL_TIMEOUT": "5"}
    config.update(overrides)
    config["environments"] = {"live": {"namespace": namespace}}
    out.mkdir(parents=True, exist_ok=True)
    (out / "ml-model.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    ml_gen("render", "live", "-c", out / "ml-model.yaml", "--out", out)
    return out


def helm_upgrade(
    cluster: Cluster, release: str, namespace: str, rendered: Path, *extra: str, check: bool = True
) -> Helm:
    return cluster.helm(
        "upgrade", "--install", release, str(CHART), "-n", namespace, "-f", str(rendered / "values" / "live.yaml"),
        "--wait", "--timeout", HELM_TIMEOUT, *extra, check=check, timeout=400,
    )  # fmt: skip


def pods(cluster: Cluster, namespace: str, selector: str) -> list[dict[str, Any]]:
    items = cluster.get("pods", "-n", namespace, "-l", selector)["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


@contextlib.contextmanager
def port_forward(cluster: Cluster, namespace: str, target: str, port: int | str) -> Iterator[str]:
    """``kubectl port-forward TARGET :PORT``; yields the local base URL."""
    cmd = [str(cluster.tool_path("kubectl")), "port-forward", "-n", namespace, target, f":{port}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cluster.env())
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert match, f"kubectl port-forward {target}: {line}{proc.stderr.read() if proc.poll() is not None else ''}"
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def http(url: str, body: Any = None) -> tuple[int, str]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


# A client in a pod on the real node: POSTs /predict to the Service's ClusterIP (through kube-proxy)
# every 50 ms and prints one line per request ("ok ANSWER TIME" for an accepted answer), so the test
# counts what it saw and when each model first answered.
CLIENT = """
import json, sys, time, urllib.request
url, body, accepted = sys.argv[1], json.dumps({"instances": [%s]}).encode(), sys.argv[2:]
while True:
    try:
        req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            (answer,) = json.load(r)["predictions"]
            print("ok" if answer in accepted else "wrong", answer, round(time.time(), 3), flush=True)
    except Exception as e:
        print("failed", round(time.time(), 3), repr(e), flush=True)
    time.sleep(0.05)
""" % json.dumps(SETOSA)  # noqa: UP031


class Client:
    """A pod that keeps calling the Service; ``counts()`` tallies its log lines. An answer (the
    prediction for SETOSA) other than ACCEPTED counts as a failure."""

    def __init__(
        self,
        cluster: Cluster,
        namespace: str,
        service: str,
        image: str,
        uid: int,
        accepted: tuple[str, ...] = ("setosa",),
    ) -> None:
        self.cluster, self.namespace, self.name = cluster, namespace, f"client-{uuid.uuid4().hex[:6]}"
        ip = cluster.get("service", service, "-n", namespace)["spec"]["clusterIP"]
        port = cluster.get("service", service, "-n", namespace)["spec"]["ports"][0]["port"]
        command = ["python3", "-c", CLIENT, f"http://{ip}:{port}/predict", *accepted]
        pod = restricted_pod(self.name, namespace, "live-client", uid, "client", image, command)
        cluster.kubectl("create", "-f", "-", input=json.dumps(pod))
        cluster.wait_until(f"client pod {self.name} answered 20 times", lambda: self.counts()["ok"] >= 20, timeout=90)

    def counts(self) -> dict[str, Any]:
        """What the client saw from its first answer on, and when (epoch seconds) each answer came
        first and last. Its very first requests can be refused (a few ms): the node's policy agent allows a new
        pod's IP a moment after the pod starts."""
        lines = self.cluster.kubectl("logs", self.name, "-n", self.namespace, check=False).stdout.splitlines()
        answered = [i for i, line in enumerate(lines) if line.startswith("ok ")]
        lines = lines[answered[0] :] if answered else []
        bad = [line for line in lines if not line.startswith("ok ")]
        first: dict[str, float] = {}
        last: dict[str, float] = {}
        for line in lines:
            if line.startswith("ok "):
                _, answer, at = line.split()
                first.setdefault(answer, float(at))
                last[answer] = float(at)
        return {"ok": len(lines) - len(bad), "bad": bad, "first": first, "last": last}

    def stop(self) -> dict[str, Any]:
        time.sleep(2)  # requests sent just after the rollout count too
        counts = self.counts()
        self.cluster.kubectl("delete", "pod", self.name, "-n", self.namespace, "--wait=false", check=False)
        return counts


def assert_all_served(counts: dict[str, Any]) -> None:
    total = counts["ok"] + len(counts["bad"])
    assert counts["bad"] == [], f"{len(counts['bad'])} of {total} requests failed: {counts['bad'][:5]}"
    assert counts["ok"] >= 50, f"only {counts['ok']} requests: the client did not run through the change"


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _on_the_real_node(real_node: Cluster) -> None:
    """Every test here needs the cluster's real node."""


def local_cluster(cluster: Cluster, *args: str) -> list[str]:
    """``scripts/local-cluster ARGS`` for the session's cluster; its output lines."""
    env = dict(START_ENV)
    if cluster.name:  # else an existing cluster (ML_GEN_TEST_KUBECONFIG): ML_GEN_CLUSTER_NAME names it
        env["ML_GEN_CLUSTER_NAME"] = cluster.name
    return run(LOCAL_CLUSTER, *args, env=env, timeout=600).stdout.splitlines()


def push(cluster: Cluster, *images: str) -> list[str]:
    """Push podman images to the real node's registry; their references by digest. None of them is on
    the node yet: the pods that run them make the node pull them."""
    references = local_cluster(cluster, "push", *images)
    assert len(references) == len(images) and all("@sha256:" in r for r in references), references
    on_node = "\n".join(local_cluster(cluster, "images"))
    assert not [r for r in references if r.split("@")[1] in on_node], f"already on the node: {on_node}"
    return references


def assert_pulled(cluster: Cluster, live: list[dict[str, Any]], reference: str) -> None:
    """The pods run REFERENCE as the node pulled it from the registry: the runtime reports that
    digest as the image's ID, and containerd holds the image under the registry's reference."""
    for pod in live:
        (status,) = pod["status"]["containerStatuses"]
        assert (pod["spec"]["containers"][0]["image"], status["imageID"]) == (reference, reference), status
    assert reference in local_cluster(cluster, "images")


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ml-gen init demo``: the scaffolded serving project (its model trained by the image build)."""
    path = tmp_path_factory.mktemp("demo") / "demo"
    ml_gen("init", "demo", path)
    return path


@pytest.fixture(scope="session")
def demo_image(
    real_node: Cluster, stores: Stores, project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The project's image built once as ``DEMO:1`` and a second good version ``DEMO:2`` (the first
    plus a label: another digest), both pushed to the node's registry; their references by digest.
    The model stores start before the build, so that MLflow's start-up overlaps it."""
    run(LOCAL_IMAGE, "build", project, f"{DEMO}:1", timeout=1800)
    try:
        context = tmp_path_factory.mktemp("second-version")
        (context / "Containerfile").write_text(SECOND_VERSION.format(image=f"{DEMO}:1"))
        run(LOCAL_IMAGE, "podman", "build", "--pull=never", "--quiet", "-t", f"{DEMO}:2", context)
        one, two = push(real_node, f"{DEMO}:1", f"{DEMO}:2")
        assert one.split("@")[1] != two.split("@")[1]
        yield {"1": one, "2": two}
    finally:  # the names only: the layers stay in podman's cache for the next build
        _untag(f"{DEMO}:1", f"{DEMO}:2")


def _untag(*images: str) -> None:
    for image in images:  # `podman untag IMAGE NAME` removes just that name
        subprocess.run([str(LOCAL_IMAGE), "podman", "untag", image, image], env=START_ENV, capture_output=True)


def node_address(cluster: Cluster) -> str:
    """The real node's address: the pods' gateway on its bridge, an address of this machine the pods reach."""
    (node,) = cluster.get("nodes", "-l", NODE_LABEL)["items"]
    return next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")


class Stores:
    """versitygw (S3) and an MLflow tracking server (SQLite; artifacts served by it) for the pods: both
    listen on the node's address only (a bind to it fails unless it is this machine's). MLflow takes
    30-90 s to start and register iris, so that runs in the background from the session's start; a
    test waits for it when it first asks for the tracking URI or the bucket."""

    BUCKET = "models"

    def __init__(self, pinned: Callable[[str], str], root: Path, host: str, train_py: Path) -> None:
        self.host, self.started, self.ready_after = host, time.monotonic(), 0.0
        self.s3 = model_stores.start_versitygw(pinned("versitygw"), root / "s3", host)
        self.mlflow = model_stores.start_mlflow(pinned("mlflow"), root / "mlflow", host, background=True)
        self._pool = ThreadPoolExecutor(1)
        self._ready = self._pool.submit(self._register, pinned("mlflow-python"), train_py, root / "mlflow")

    def _register(self, mlflow_python: str, train_py: Path, root: Path) -> None:
        """iris versions 1 and 2 in MLflow; in the bucket, version 1 as joblib and a file that is not a model."""
        self.mlflow.wait_listening(model_stores.MLFLOW_START_SECONDS)
        version_1 = model_stores.register_iris(mlflow_python, train_py, root, self.mlflow.url, background=True)
        objects = {"iris/model.joblib": version_1.read_bytes(), "broken/model.joblib": b"not a model\n"}
        model_stores.put_objects(self.s3.url, self.BUCKET, objects)
        self.ready_after = time.monotonic() - self.started

    def ready(self) -> Stores:
        waited = time.monotonic()
        self._ready.result(timeout=model_stores.MLFLOW_START_SECONDS + 180)
        print(f"model stores: ready {self.ready_after:.1f}s after the start; waited {time.monotonic() - waited:.1f}s")
        return self

    def stop(self) -> None:
        with contextlib.suppress(BaseException):  # a failed start was reported by the test that waited for it
            self._ready.result(timeout=model_stores.MLFLOW_START_SECONDS + 180)
        self._pool.shutdown()
        self.mlflow.stop()
        self.s3.stop()


@pytest.fixture(scope="session")
def stores(
    real_node: Cluster, project: Path, pinned: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stores]:
    """The model stores on the node's address, started (not waited for) as soon as the node is up."""
    root = tmp_path_factory.mktemp("stores")
    for store in ("s3", "mlflow"):
        (root / store).mkdir()
    started = Stores(pinned, root, node_address(real_node), project / "train.py")
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="session")
def security(project: Path) -> tuple[int, int]:
    s = yaml.safe_load((project / "ml-model.yaml").read_text())["security"]
    return s["runAsUser"], s["runAsGroup"]


@pytest.fixture
def release(
    cluster: Cluster, namespace: str, project: Path, demo_image: dict[str, str], tmp_path: Path
) -> Callable[..., Helm]:
    """Render the demo config for ``namespace`` (version "1" or "2" by digest, overrides as given) and
    helm-install it."""

    def install(version: str = "1", *extra: str, check: bool = True, **overrides: Any) -> Helm:
        out = tmp_path / f"r-{uuid.uuid4().hex[:6]}"
        rendered = write_config(project, out, namespace, demo_image[version], **overrides)
        return helm_upgrade(cluster, "demo", namespace, rendered, *extra, check=check)

    return install


# -- tests --------------------------------------------------------------------------------------


def test_helm_waits_for_real_probes_and_the_model_serves(
    cluster: Cluster, namespace: str, release: Callable[..., Helm], demo_image: dict[str, str],
    security: tuple[int, int],
) -> None:  # fmt: skip
    started = time.monotonic()
    release("1")
    waited = time.monotonic() - started
    live = pods(cluster, namespace, "app.kubernetes.io/instance=demo")
    node = subprocess.run([str(REPO / "scripts" / "local-node"), "name"], capture_output=True, text=True).stdout.strip()
    assert len(live) == 2 and all(ready(p) for p in live), "helm --wait returned before the pods were Ready"
    assert {p["spec"]["nodeName"] for p in live} == {node}
    for pod in live:  # really started: a container ID from the runtime, the readiness gate passed
        (status,) = pod["status"]["containerStatuses"]
        assert status["ready"] and status["started"] and status["containerID"].startswith("containerd://")
        assert status["restartCount"] == 0
    assert_pulled(cluster, live, demo_image["1"])

    # helm test: a Job pod on the same node fetches the health path through the Service.
    test = cluster.helm("test", "demo", "-n", namespace, "--timeout", HELM_TIMEOUT, timeout=300)
    assert re.search(r"^Phase:\s+Succeeded$", test.stdout, re.M), test.stdout

    with port_forward(cluster, namespace, "service/demo", 80) as url:
        assert http(url + "/ready")[0] == 200
        status, body = http(url + "/predict", {"instances": [SETOSA, VIRGINICA]})
        assert (status, json.loads(body)) == (200, {"predictions": ["setosa", "virginica"]})
        status, body = http(url + "/predict", {"instances": "not rows"})
        assert status == 400 and "error" in json.loads(body)

    from ml_gen import serving_metrics

    pod = live[0]
    port = pod["metadata"]["annotations"]["prometheus.io/port"]
    path = pod["metadata"]["annotations"].get("prometheus.io/path", "/metrics")
    with port_forward(cluster, namespace, f"pod/{pod['metadata']['name']}", port) as url:
        status, text = http(url + path)
    assert status == 200
    for name in serving_metrics.ALL:
        assert re.search(rf"^{name}(_bucket|_count|_sum)?(\{{|\s)", text, re.M), f"{name} missing from /metrics"

    # The running server: the configured UID/GID, no capabilities, nothing writable outside /tmp.
    probe = (
        "import os, json\n"
        "status = dict(l.split(':\\t', 1) for l in open('/proc/1/status').read().splitlines() if ':\\t' in l)\n"
        "def writable(p):\n"
        "    try:\n"
        "        open(os.path.join(p, 'x'), 'w').close(); return True\n"
        "    except OSError:\n"
        "        return False\n"
        "print(json.dumps({'uid': status['Uid'].split(), 'gid': status['Gid'].split(),\n"
        "  'caps': [status[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapAmb')],\n"
        "  'nnp': status['NoNewPrivs'].strip(), 'cmd': open('/proc/1/cmdline').read().split('\\0')[:2],\n"
        "  'writable': {p: writable(p) for p in ('/', '/app', '/etc', '/tmp', '/var/tmp', '/home')}}))\n"
    )
    exec_ = cluster.kubectl("exec", "-n", namespace, pod["metadata"]["name"], "--", "python3", "-c", probe)
    seen = json.loads(exec_.stdout)
    uid, gid = security
    assert seen["uid"] == [str(uid)] * 4 and seen["gid"] == [str(gid)] * 4, seen
    assert seen["caps"] == ["0000000000000000"] * 4 and seen["nnp"] == "1", seen
    assert "gunicorn" in " ".join(seen["cmd"]), seen
    assert seen["writable"] == {
        "/": False, "/app": False, "/etc": False, "/tmp": True, "/var/tmp": False, "/home": False,
    }, seen  # fmt: skip
    print(f"helm --wait returned after {waited:.1f}s with 2 Ready pods")


def test_rolling_update_and_bad_version_rollback_lose_no_request(
    cluster: Cluster, namespace: str, release: Callable[..., Helm], demo_image: dict[str, str],
    security: tuple[int, int],
) -> None:  # fmt: skip
    """One client pod calls the Service through both changes (one release, to keep the suite short)."""
    release("1")
    client = Client(cluster, namespace, "demo", demo_image["1"], security[0])

    release("2")  # good -> good; maxSurge 1, maxUnavailable 0: a new pod is Ready before an old one goes
    live = pods(cluster, namespace, "app.kubernetes.io/instance=demo")
    assert_pulled(cluster, live, demo_image["2"])
    during_update = client.counts()
    assert_all_served(during_update)

    # A bad version: the model's artifact cannot be loaded, so the server starts but /ready stays 503.
    # Helm gives up after FAILING_TIMEOUT (the last --timeout wins) and rolls back to revision 2.
    bad_model = {"name": "demo", "version": "0.2.0", "framework": "sklearn", "uri": "file:///app/gunicorn.conf.py"}
    proc = release("1", "--rollback-on-failure", "--timeout", FAILING_TIMEOUT, check=False, model=bad_model)
    assert proc.returncode != 0, "helm upgrade of a version that never gets Ready must fail"
    history = json.loads(cluster.helm("history", "demo", "-n", namespace, "-o", "json").stdout)
    assert [r["status"] for r in history] == ["superseded", "superseded", "failed", "deployed"], history
    assert "Rollback to 2" in history[-1]["description"], history
    cluster.kubectl("rollout", "status", "deployment/demo", "-n", namespace, "--timeout=120s")
    live = pods(cluster, namespace, "app.kubernetes.io/instance=demo")
    assert {p["spec"]["containers"][0]["image"] for p in live} == {demo_image["2"]} and all(ready(p) for p in live)
    env = {e["name"]: e.get("value") for e in live[0]["spec"]["containers"][0]["env"]}
    assert env["MODEL_URI"] == "file:///app/model/model.joblib"

    counts = client.stop()
    assert_all_served(counts)
    print(
        f"rolling update: {during_update['ok']} of {during_update['ok']} requests through the ClusterIP answered; "
        f"with the bad version and its rollback: {counts['ok']} of {counts['ok']}"
    )


def test_gitops_apply_gives_ready_pods(
    cluster: Cluster, namespace: str, project: Path, demo_image: dict[str, str], tmp_path: Path
) -> None:
    rendered = write_config(project, tmp_path / "gitops", namespace, demo_image["1"], replicas=1)
    cluster.kubectl("apply", "--server-side", "--field-manager=ml-gen-live", "-f", str(rendered / "manifests" / "live"))
    cluster.kubectl("rollout", "status", "deployment/demo", "-n", namespace, "--timeout=150s", timeout=200)
    live = pods(cluster, namespace, "app.kubernetes.io/instance=demo")
    assert len(live) == 1 and ready(live[0])
    assert_pulled(cluster, live, demo_image["1"])
    with port_forward(cluster, namespace, "service/demo", 80) as url:
        status, body = http(url + "/predict", {"instances": [VIRGINICA]})
    assert (status, json.loads(body)) == (200, {"predictions": ["virginica"]})


# The classic tutorial's server: one Flask file with only POST /predict, run by `python app.py` as
# root from a single-stage Dockerfile. The "model" is a fixed rule, so the image needs Flask only.
BYO_APP = """\
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route("/predict", methods=["POST"])
def predict():
    rows = request.get_json()["instances"]
    return jsonify(predictions=["big" if sum(row) > 10 else "small" for row in rows])


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000)
"""
BYO_DOCKERFILE = """\
FROM python:3.11-slim
WORKDIR /app
RUN pip install --no-cache-dir flask==3.1.*
COPY app.py .
EXPOSE 5000
CMD ["python", "app.py"]
"""


def test_bring_your_own_image_runs_restricted_with_tcp_probes(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    src = tmp_path / "byo"
    src.mkdir()
    (src / "app.py").write_text(BYO_APP)
    (src / "Dockerfile").write_text(BYO_DOCKERFILE)
    run(LOCAL_IMAGE, "build", src, f"{BYO}:1", timeout=1200)
    try:
        (reference,) = push(cluster, f"{BYO}:1")
    finally:
        _untag(f"{BYO}:1")

    config = {
        "name": "byo",
        "image": by_digest(reference),
        "port": 5000,
        "replicas": 1,
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "health": {"type": "tcp"},  # the app has no health route
        "probes": FAST_PROBES,
        "metrics": {"enabled": False},
        **PINNED,
        "environments": {"live": {"namespace": namespace}},
    }
    out = tmp_path / "out"
    out.mkdir()
    (out / "ml-model.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    ml_gen("render", "live", "-c", out / "ml-model.yaml", "--out", out)
    deployment = yaml.safe_load((out / "manifests" / "live" / "deployment-byo.yaml").read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "tcpSocket" in container["readinessProbe"] and "tcpSocket" in container["livenessProbe"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True

    cluster.helm(
        "upgrade", "--install", "byo", str(CHART), "-n", namespace, "-f", str(out / "values" / "live.yaml"),
        "--wait", "--timeout", HELM_TIMEOUT, timeout=400,
    )  # fmt: skip
    (pod,) = pods(cluster, namespace, "app.kubernetes.io/instance=byo")
    assert ready(pod) and pod["spec"]["securityContext"]["runAsUser"] == 10001
    assert_pulled(cluster, [pod], reference)
    test = cluster.helm("test", "byo", "-n", namespace, "--timeout", HELM_TIMEOUT, timeout=300)  # a TCP connect
    assert re.search(r"^Phase:\s+Succeeded$", test.stdout, re.M), test.stdout
    with port_forward(cluster, namespace, "service/byo", 80) as url:
        status, body = http(url + "/predict", {"instances": [[1, 2], [9, 9]]})
    assert (status, json.loads(body)) == (200, {"predictions": ["small", "big"]})


# -- NetworkPolicy ------------------------------------------------------------------------------

# The real node enforces NetworkPolicy with kube-router's firewall (scripts/local-node): iptables
# chains and ipsets on the bridged and forwarded traffic of its pods. A connection the policy does not
# admit is rejected (REJECT: the client sees "Connection refused"), or times out while dropped.
BLOCKED = ("Connection refused", "timed out")
ALLOW_SECONDS = 15  # how long a probe client keeps trying before it reports its last error


# A probe in a pod: GETs each URL until it answers 200 or ALLOW_SECONDS pass (2 s per attempt, so a
# dropped connection shows as a timeout), then prints {url: "ok" | the last error}.
PROBE = """
import json, sys, time, urllib.request
deadline, results = time.monotonic() + float(sys.argv[1]), {url: "not tried" for url in sys.argv[2:]}
while time.monotonic() < deadline and set(results.values()) != {"ok"}:
    for url in [u for u, r in results.items() if r != "ok"]:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                results[url] = "ok" if response.status == 200 else f"status {response.status}"
        except Exception as e:
            results[url] = repr(e)
    time.sleep(0.5)
print(json.dumps(results))
"""


def start_probe(cluster: Cluster, namespace: str, image: str, uid: int, urls: list[str]) -> str:
    """Start a one-shot probe pod on the real node (restricted, like the app); return its name."""
    name = f"probe-{uuid.uuid4().hex[:6]}"
    command = ["python3", "-c", PROBE, str(ALLOW_SECONDS), *urls]
    pod = restricted_pod(name, namespace, "netpol-probe", uid, "probe", image, command, restartPolicy="Never")
    cluster.kubectl("create", "-f", "-", input=json.dumps(pod))
    return name


def probe_result(cluster: Cluster, namespace: str, name: str) -> dict[str, str]:
    """Wait for the probe pod to finish; its verdict per URL."""

    def finished() -> bool:
        phase = cluster.get("pod", name, "-n", namespace)["status"].get("phase")
        return phase in ("Succeeded", "Failed")

    cluster.wait_until(f"probe pod {namespace}/{name} to finish", finished, timeout=ALLOW_SECONDS + 90)
    logs = cluster.kubectl("logs", name, "-n", namespace).stdout
    result: dict[str, str] = json.loads(logs.splitlines()[-1])
    return result


def test_network_policy_admits_its_namespaces_and_blocks_the_rest(
    cluster: Cluster, namespace: str, make_namespace: Callable[[], str], project: Path,
    demo_image: dict[str, str], security: tuple[int, int], tmp_path: Path,
) -> None:  # fmt: skip
    """ml-gen's NetworkPolicy (``networkPolicy.allowNamespaces`` naming one namespace) is applied as
    rendered, selects exactly the server's pods and is enforced by the node: clients of the server's
    own and of the allowed namespace connect, directly and through the Service; one of another
    namespace is blocked; the kubelet's probes still reach the pods, which stay Ready."""
    allowed, other = make_namespace(), make_namespace()
    policy_config = {"allowNamespaces": [allowed]}
    rendered = write_config(project, tmp_path / "r", namespace, demo_image["1"], networkPolicy=policy_config)
    (manifest,) = (rendered / "manifests" / "live").glob("networkpolicy-*.yaml")
    policy = yaml.safe_load(manifest.read_text())
    helm_upgrade(cluster, "demo", namespace, rendered)
    stored = cluster.get("networkpolicy", policy["metadata"]["name"], "-n", namespace)
    assert stored["spec"] == policy["spec"], "the chart's policy differs from ml-gen's manifest"
    selector_labels = cluster.get("deployment", "demo", "-n", namespace)["spec"]["selector"]["matchLabels"]
    assert policy["spec"]["podSelector"] == {"matchLabels": selector_labels}

    servers = pods(cluster, namespace, "app.kubernetes.io/instance=demo")
    service = cluster.get("service", "demo", "-n", namespace)["spec"]
    urls = [f"http://{servers[0]['status']['podIP']}:5000/ready", f"http://{service['clusterIP']}:80/ready"]
    started = time.monotonic()
    probes = {ns: start_probe(cluster, ns, demo_image["1"], security[0], urls) for ns in (namespace, allowed, other)}

    # The policy's pod selector picks exactly the Deployment's pods: not the probe beside them.
    selector = ",".join(f"{k}={v}" for k, v in sorted(selector_labels.items()))
    selected = {p["metadata"]["name"] for p in pods(cluster, namespace, selector)}
    everything = pods(cluster, namespace, "")
    owners = {p["metadata"]["name"]: [o["kind"] for o in p["metadata"].get("ownerReferences", [])] for p in everything}
    owned = {name for name, kinds in owners.items() if kinds == ["ReplicaSet"]}  # the Deployment's
    assert selected == owned == {p["metadata"]["name"] for p in servers} and len(owned) == 2, (selected, owned)
    assert probes[namespace] in {p["metadata"]["name"] for p in everything} - selected
    # The port name resolves to the server's container port; the namespace selector matches the
    # allowed namespace only (the API server labels every namespace with its name).
    for pod in servers:
        (container,) = pod["spec"]["containers"]
        assert {p["name"]: p["containerPort"] for p in container["ports"]}.get("http") == 5000, container["ports"]
    matched = cluster.get("namespaces", "-l", f"kubernetes.io/metadata.name={allowed}")["items"]
    assert [n["metadata"]["name"] for n in matched] == [allowed]

    results = {ns: probe_result(cluster, ns, name) for ns, name in probes.items()}
    took = time.monotonic() - started
    assert results[namespace] == dict.fromkeys(urls, "ok"), f"client in the server's namespace: {results[namespace]}"
    assert results[allowed] == dict.fromkeys(urls, "ok"), f"client in the allowed namespace: {results[allowed]}"
    blocked = [any(b in r for b in BLOCKED) for r in results[other].values()]
    assert blocked == [True, True], f"client in another namespace: {results[other]}"
    # The kubelet probes from the node's own address: the policy does not cut it off.
    after = pods(cluster, namespace, "app.kubernetes.io/instance=demo")
    assert {p["metadata"]["name"] for p in after} == {p["metadata"]["name"] for p in servers}
    for pod in after:
        (status,) = pod["status"]["containerStatuses"]
        assert ready(pod) and status["restartCount"] == 0, pod["status"]
    print(f"NetworkPolicy: probes from 3 namespaces answered in {took:.1f}s: {results}")


# -- KServe: its own controller makes the pods of the rendered InferenceService ------------------------


@pytest.fixture(scope="module")
def kserve(
    real_node: Cluster, pinned: Callable[[str], str], demo_image: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[kserve_manager.Manager]:  # fmt: skip
    """KServe's controller manager (kserve_manager.py), started once for the KServe tests; each test has it
    serve its namespace."""
    binary = pinned("kserve-manager")  # scripts/install-tools kserve
    initializer = {**STORAGE_INITIALIZER, "image": demo_image["1"]}
    with kserve_manager.running(real_node, binary, tmp_path_factory.mktemp("kserve"), initializer) as manager:
        yield manager
        stopping = time.monotonic()
    print(f"kserve: manager stopped and its objects deleted in {time.monotonic() - stopping:.1f}s")


# KServe's storage initializer image (kserve/storage-initializer, Python) is on Docker Hub, which this machine
# cannot reach: the scaffolded image's own fetcher (model_server.fetch, the Deployment target's fetch-model)
# stands in, given the arguments KServe passes (the storageUri, then /mnt/models) in MODEL_URI and MODEL_PATH.
# It reads the credentials KServe's credential builder injects (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_ENDPOINT_URL from the Secret's serving.kserve.io/s3-* annotations); S3_ADDRESSING_STYLE says what KServe's
# S3_USER_VIRTUAL_BUCKET=false says to its own initializer. The restricted profile, as the namespace enforces it.
STORAGE_INITIALIZER = {
    "command": [
        "python", "-c",
        "import os, sys; os.environ.update(MODEL_URI=sys.argv[1], MODEL_PATH=sys.argv[2]);"
        " from model_server import fetch; sys.exit(fetch.main())",
    ],
    "env": [{"name": "S3_ADDRESSING_STYLE", "value": "path"}],
    "securityContext": {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True,
        "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
    },
}  # fmt: skip


def test_kserve_serves_the_inference_service_and_a_bad_version_takes_no_traffic(
    cluster: Cluster, namespace: str, project: Path, demo_image: dict[str, str], security: tuple[int, int],
    kserve: kserve_manager.Manager, tmp_path: Path,
) -> None:  # fmt: skip
    """``target: kserve`` (RawDeployment, the scaffolded server as predictor.containers) applied as rendered:
    KServe's webhooks default and validate it, its controller makes the Deployment and the Service, the pods
    get Ready on the real node and answer /predict through that Service. A version whose /ready stays 503
    (as in the rollback test above) gets its new pods, which never take traffic: the old ones keep serving."""
    kserve.serve(namespace)
    started = time.monotonic()
    rendered = write_config(project, tmp_path / "r", namespace, demo_image["1"], target="kserve")
    manifests = str(rendered / "manifests" / "live")
    cluster.kubectl("apply", "--server-side", "--field-manager=ml-gen-live", "-f", manifests)

    cluster.wait_until("InferenceService demo Ready", lambda: isvc_ready(cluster, namespace), timeout=150, interval=0.5)
    served = time.monotonic() - started
    isvc = cluster.get("inferenceservice", "demo", "-n", namespace)
    assert isvc["status"]["deploymentMode"] == "RawDeployment", isvc["status"]
    for kind in ("deployment", "service"):  # made by KServe, owned by the InferenceService
        owners = cluster.get(kind, "demo-predictor", "-n", namespace)["metadata"]["ownerReferences"]
        assert [(o["kind"], o["name"], o.get("controller")) for o in owners] == [("InferenceService", "demo", True)]
    selector = "serving.kserve.io/inferenceservice=demo"
    old = pods(cluster, namespace, selector)
    assert len(old) == 2 and all(ready(p) for p in old), [p["status"] for p in old]
    assert_pulled(cluster, old, demo_image["1"])
    assert {p["spec"]["containers"][0]["name"] for p in old} == {"kserve-container"}
    service = cluster.get("service", "demo-predictor", "-n", namespace)["spec"]
    assert [(p["port"], p["targetPort"]) for p in service["ports"]] == [(80, 5000)], service["ports"]
    with port_forward(cluster, namespace, "service/demo-predictor", 80) as url:
        status, body = http(url + "/predict", {"instances": [SETOSA, VIRGINICA]})
    assert (status, json.loads(body)) == (200, {"predictions": ["setosa", "virginica"]})
    client = Client(cluster, namespace, "demo-predictor", demo_image["1"], security[0])

    bad_model = {"name": "demo", "version": "0.2.0", "framework": "sklearn", "uri": "file:///app/gunicorn.conf.py"}
    bad = write_config(project, tmp_path / "bad", namespace, demo_image["1"], target="kserve", model=bad_model)
    cluster.kubectl("apply", "--server-side", "--field-manager=ml-gen-live", "-f", str(bad / "manifests" / "live"))
    old_names = {p["metadata"]["name"] for p in old}

    def bad_pods_refused() -> list[dict[str, Any]]:
        """The bad version's pods, once each has run 3 s (three readiness periods) without becoming Ready."""
        new = [p for p in pods(cluster, namespace, selector) if p["metadata"]["name"] not in old_names]
        running = [s.get("state", {}).get("running") for p in new for s in p["status"].get("containerStatuses", [])]
        since = [time.time() - _epoch(r["startedAt"]) for r in running if r]
        return new if new and len(since) == len(new) and min(since) >= 3 else []

    new = cluster.wait_until("the bad version's pods to run 3 s", bad_pods_refused, timeout=120, interval=0.5)
    assert not any(ready(p) for p in new), [p["status"] for p in new]
    assert {model_of(p) for p in new} == {("0.2.0", bad_model["uri"])}
    still = pods(cluster, namespace, selector)
    assert old_names <= {p["metadata"]["name"] for p in still if ready(p)}, "an old pod left before a new one was Ready"
    endpoints = cluster.get("endpointslices", "-n", namespace, "-l", "kubernetes.io/service-name=demo-predictor")
    serving = [ep for e in endpoints["items"] for ep in e.get("endpoints") or [] if ep["conditions"].get("ready")]
    addresses = {a for ep in serving for a in ep["addresses"]}
    assert addresses == {p["status"]["podIP"] for p in old}, "the Service sends requests to a pod of the bad version"
    counts = client.stop()
    assert_all_served(counts)
    print(
        f"kserve: manager ready {kserve.started_seconds:.1f}s after its start, InferenceService Ready "
        f"{served:.1f}s after the apply; {counts['ok']} of {counts['ok']} requests through the Service "
        f"answered by the old pods while the bad version's {len(new)} ran unready"
    )


def test_kserve_storage_initializer_fetches_the_model_of_a_serving_runtime(
    cluster: Cluster, namespace: str, project: Path, demo_image: dict[str, str], stores: Stores,
    kserve: kserve_manager.Manager, tmp_path: Path,
) -> None:  # fmt: skip
    """``kserve.predictor: model`` (modelFormat sklearn, storageUri ``s3://``, a runtime named): KServe picks
    the ServingRuntime, its pod mutator injects the storage initializer with the credentials of the Secret on
    the rendered ServiceAccount, the model lands in /mnt/models and the runtime serves it through the Service.
    The runtime is the scaffolded server (KServe's sklearnserver image is on Docker Hub, out of reach here)."""
    kserve.serve(namespace)
    stores.ready()
    annotations = {
        "serving.kserve.io/s3-endpoint": stores.s3.url.removeprefix("http://"), "serving.kserve.io/s3-usehttps": "0",
        "serving.kserve.io/s3-region": "us-east-1", "serving.kserve.io/s3-usevirtualbucket": "false",
    }  # fmt: skip
    keys = {"AWS_ACCESS_KEY_ID": model_stores.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": model_stores.SECRET_KEY}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s3-credentials", "annotations": annotations}}
    cluster.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps({**secret, "stringData": keys}))
    runtime_container = {
        "name": "kserve-container", "image": demo_image["1"],
        "ports": [{"name": "http", "containerPort": 5000, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 1},
    }  # fmt: skip
    runtime = {
        "apiVersion": "serving.kserve.io/v1alpha1", "kind": "ServingRuntime", "metadata": {"name": "ml-gen-demo"},
        "spec": {"supportedModelFormats": [{"name": "sklearn"}], "containers": [runtime_container]},
    }  # fmt: skip
    cluster.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(runtime))
    uri = f"s3://{Stores.BUCKET}/iris/model.joblib"
    model = {
        "name": "iris",
        "version": "1",
        "framework": "sklearn",
        "uri": uri,
        "credentials": {"secret": "s3-credentials"},
    }
    kserve_config = {"predictor": "model", "runtime": "ml-gen-demo"}
    rendered = write_config(
        project, tmp_path / "r", namespace, demo_image["1"], target="kserve", kserve=kserve_config, model=model,
        replicas=1,
    )  # fmt: skip
    started = time.monotonic()
    cluster.kubectl("apply", "--server-side", "--field-manager=ml-gen-live", "-f", str(rendered / "manifests" / "live"))
    cluster.wait_until("InferenceService demo Ready", lambda: isvc_ready(cluster, namespace), timeout=150, interval=0.5)
    served = time.monotonic() - started

    (pod,) = pods(cluster, namespace, "serving.kserve.io/inferenceservice=demo")
    (init,) = pod["spec"]["initContainers"]
    assert (init["name"], init["image"], init["args"]) == ("storage-initializer", demo_image["1"], [uri, "/mnt/models"])
    env = {e["name"]: e.get("value", e.get("valueFrom", {}).get("secretKeyRef", {}).get("name")) for e in init["env"]}
    assert env["AWS_ENDPOINT_URL"] == stores.s3.url and env["AWS_SECRET_ACCESS_KEY"] == "s3-credentials", env
    (status,) = pod["status"]["initContainerStatuses"]
    assert status["state"]["terminated"]["exitCode"] == 0, status
    log = cluster.kubectl("logs", pod["metadata"]["name"], "-n", namespace, "-c", "storage-initializer").stdout
    assert log.startswith("fetch-model: fetched 1 file") and log.strip().endswith(f"into /mnt/models: {uri}"), log
    (server,) = pod["spec"]["containers"]
    assert (server["name"], server["image"]) == ("kserve-container", demo_image["1"])
    mounts = {m["mountPath"]: m.get("readOnly", False) for m in server["volumeMounts"]}
    assert mounts["/mnt/models"] is True, mounts
    with port_forward(cluster, namespace, "service/demo-predictor", 80) as url:
        status_code, body = http(url + "/predict", {"instances": [SETOSA, VIRGINICA]})
        assert (status_code, json.loads(body)) == (200, {"predictions": ["setosa", "virginica"]})
        assert json.loads(http(url + "/ready")[1]) == {"status": "ready", "model": "iris", "version": "1"}
    print(f"kserve storage initializer: InferenceService Ready {served:.1f}s after the apply ({log.strip()})")


def isvc_ready(cluster: Cluster, namespace: str, name: str = "demo") -> bool:
    """Whether the InferenceService's Ready condition is True."""
    conditions = cluster.get("inferenceservice", name, "-n", namespace).get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _epoch(timestamp: str) -> float:
    """An API timestamp (2006-01-02T15:04:05Z) in epoch seconds."""
    from datetime import datetime

    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


# -- the model from a store ------------------------------------------------------------------------
# Last in the file: MLflow, started niced with the session, has had the most time to get ready.


def upgrade_while_watching_the_fetch(cluster: Cluster, namespace: str, rendered: Path) -> tuple[Helm, int, str]:
    """``helm upgrade --rollback-on-failure`` of a version whose pods never become Ready, and meanwhile
    what the fetch-model container of its first new pod did: its exit code and its log."""
    before = {p["metadata"]["name"] for p in pods(cluster, namespace, "app.kubernetes.io/instance=demo")}
    with ThreadPoolExecutor(1) as pool:
        upgrade = pool.submit(
            helm_upgrade, cluster, "demo", namespace, rendered, "--rollback-on-failure", "--timeout", FAILING_TIMEOUT,
            check=False,
        )  # fmt: skip
        fetched = None
        while not upgrade.done() and fetched is None:
            fetched = fetch_result(cluster, namespace, before)
            time.sleep(0.5)
        assert fetched is not None, "no new pod's fetch-model container finished before Helm gave up"
        return upgrade.result(), *fetched


def fetch_result(cluster: Cluster, namespace: str, old: set[str]) -> tuple[int, str] | None:
    """The exit code and log of the first finished fetch-model container of a pod not in OLD, if any."""
    for pod in pods(cluster, namespace, "app.kubernetes.io/instance=demo"):
        if pod["metadata"]["name"] in old:
            continue
        for status in pod["status"].get("initContainerStatuses", []):
            for state in (status.get("state", {}), status.get("lastState", {})):
                if "terminated" in state:
                    name = pod["metadata"]["name"]
                    for previous in ([], ["--previous"]):
                        logs = cluster.kubectl(
                            "logs", name, "-n", namespace, "-c", "fetch-model", *previous, check=False
                        )
                        if "fetch-model:" in logs.stdout:
                            return state["terminated"]["exitCode"], logs.stdout.strip()
    return None


def assert_rolled_back(cluster: Cluster, namespace: str, to_revision: int) -> list[dict[str, Any]]:
    """The failed upgrade is recorded and Helm restored revision TO_REVISION; the Deployment's pods, all
    Ready."""
    history = json.loads(cluster.helm("history", "demo", "-n", namespace, "-o", "json").stdout)
    assert [r["status"] for r in history[-2:]] == ["failed", "deployed"], history
    assert f"Rollback to {to_revision}" in history[-1]["description"], history
    cluster.kubectl("rollout", "status", "deployment/demo", "-n", namespace, "--timeout=120s")
    live = pods(cluster, namespace, "app.kubernetes.io/instance=demo")
    assert live and all(ready(p) for p in live), [p["status"] for p in live]
    return live


def model_of(pod: dict[str, Any]) -> tuple[str, str]:
    """The model a pod serves, as its annotations name it: (version, uri)."""
    annotations = pod["metadata"]["annotations"]
    return annotations["ml-gen.dev/model-version"], annotations["ml-gen.dev/model-uri"]


def test_mlflow_model_version_rolls_with_set_model_and_a_missing_one_is_rolled_back(
    cluster: Cluster, namespace: str, project: Path, demo_image: dict[str, str], stores: Stores,
    security: tuple[int, int], tmp_path: Path,
) -> None:  # fmt: skip
    """``models:/iris/1`` from the MLflow registry (the trained iris: SETOSA is "setosa"); ``ml-gen
    set-model`` to ``models:/iris/2`` (a constant "virginica") rolls through the Service with no failed
    request; a version the registry does not have fails in fetch-model, never takes traffic, and Helm
    restores version 2."""
    from ml_gen import serving_metrics

    model = {"name": "iris", "version": "1", "framework": "sklearn", "uri": "models:/iris/1"}
    model["mlflow"] = {"trackingUri": stores.ready().mlflow.url}
    rendered = write_config(project, tmp_path / "r", namespace, demo_image["1"], model=model)
    config = rendered / "ml-model.yaml"
    helm_upgrade(cluster, "demo", namespace, rendered)
    client = Client(cluster, namespace, "demo", demo_image["1"], security[0], accepted=("setosa", "virginica"))
    assert set(client.counts()["first"]) == {"setosa"}

    started = time.time()
    ml_gen("set-model", "live", "--version", "2", "--uri", "models:/iris/2", "-c", config, "--render")
    helm_upgrade(cluster, "demo", namespace, rendered)
    rolled = time.time() - started
    live = pods(cluster, namespace, "app.kubernetes.io/instance=demo")
    assert {model_of(p) for p in live} == {("2", "models:/iris/2")} and len(live) == 2
    assert_pulled(cluster, live, demo_image["1"])  # the same image: only the model changed
    after_set_model = client.counts()
    assert_all_served(after_set_model)
    first_v2 = after_set_model["first"]["virginica"] - started

    ml_gen("set-model", "live", "--version", "9", "--uri", "models:/iris/9", "-c", config, "--render")
    proc, exit_code, log = upgrade_while_watching_the_fetch(cluster, namespace, rendered)
    assert proc.returncode != 0, "helm upgrade of a version that never gets Ready must fail"
    assert exit_code != 0 and log.startswith("fetch-model: not found") and log.endswith(": models:/iris/9"), log
    live = assert_rolled_back(cluster, namespace, 2)
    assert {model_of(p) for p in live} == {("2", "models:/iris/2")}
    with port_forward(cluster, namespace, f"pod/{live[0]['metadata']['name']}", 5000) as url:
        assert json.loads(http(url + "/ready")[1]) == {"status": "ready", "model": "iris", "version": "2"}
        info = rf'^{serving_metrics.MODEL_INFO}\{{framework="sklearn",name="iris",version="2"\}} 1\.0$'
        assert re.search(info, http(url + "/metrics")[1], re.M), "the model's info metric names another version"

    counts = client.stop()
    assert_all_served(counts)
    last_v1 = counts["last"]["setosa"] - started  # old pods serve on through shutdownDelaySeconds
    print(
        f"set-model models:/iris/2: first answer of version 2 through the Service {first_v2:.1f}s after the "
        f"command, every pod on it (helm --wait returned) after {rolled:.1f}s, last answer of version 1 after "
        f"{last_v1:.1f}s; {counts['ok']} of {counts['ok']} "
        f"requests answered through the change and the rolled-back bad version ({log!r})"
    )


def test_s3_model_with_a_secret_and_bad_versions_are_rolled_back(
    cluster: Cluster, namespace: str, project: Path, demo_image: dict[str, str], stores: Stores,
    security: tuple[int, int], tmp_path: Path,
) -> None:  # fmt: skip
    """``s3://`` from versitygw with the credentials in a Secret the release names, under a restricted
    egress that admits the store's address only: the pods serve the trained iris. Two bad versions, each
    rolled back by Helm while the old pod keeps serving: a Secret with the wrong key (fetch-model fails)
    and a file that is not a model (fetched, but the server never becomes Ready)."""
    stores.ready()
    for secret, key in (("s3-credentials", model_stores.SECRET_KEY), ("s3-wrong", "not-the-key")):
        cluster.kubectl(
            "create", "secret", "generic", secret, "-n", namespace,
            f"--from-literal=AWS_ACCESS_KEY_ID={model_stores.ACCESS_KEY}",
            f"--from-literal=AWS_SECRET_ACCESS_KEY={key}",
        )  # fmt: skip
    model = {
        "name": "iris",
        "version": "1",
        "framework": "sklearn",
        "uri": f"s3://{Stores.BUCKET}/iris/model.joblib",
        "s3": {"endpoint": stores.s3.url, "region": "us-east-1", "addressing": "path"},
        "credentials": {"secret": "s3-credentials"},
    }
    egress = {"restricted": True, "cidrs": [f"{stores.host}/32"]}
    policy = {"metricsNamespaces": ["monitoring"], "egress": egress}

    def release(**changes: Any) -> Path:
        out = tmp_path / f"r-{uuid.uuid4().hex[:6]}"
        return write_config(
            project, out, namespace, demo_image["1"], model={**model, **changes}, networkPolicy=policy, replicas=1
        )

    helm_upgrade(cluster, "demo", namespace, release())
    client = Client(cluster, namespace, "demo", demo_image["1"], security[0])

    wrong_key = release(credentials={"secret": "s3-wrong"})
    proc, exit_code, log = upgrade_while_watching_the_fetch(cluster, namespace, wrong_key)
    assert proc.returncode != 0, "helm upgrade of a version that never gets Ready must fail"
    assert exit_code != 0 and log.startswith("fetch-model: access denied") and log.endswith(f": {model['uri']}"), log
    assert_rolled_back(cluster, namespace, 1)

    broken = f"s3://{Stores.BUCKET}/broken/model.joblib"
    proc, exit_code, log = upgrade_while_watching_the_fetch(cluster, namespace, release(uri=broken))
    assert proc.returncode != 0, "helm upgrade of a version that never gets Ready must fail"
    assert exit_code == 0 and log.startswith("fetch-model: fetched") and log.endswith(broken), (
        log
    )  # the server refuses it
    (pod,) = assert_rolled_back(cluster, namespace, 3)
    assert model_of(pod) == ("1", model["uri"])

    counts = client.stop()
    assert_all_served(counts)
    assert set(counts["first"]) == {"setosa"}
    print(f"s3: {counts['ok']} of {counts['ok']} requests answered through two rolled-back bad versions")

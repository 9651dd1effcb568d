"""Fixtures for the live tests: a real control plane, shared by the session, and fresh namespaces.

The session starts its own uniquely named cluster with ``scripts/local-cluster up`` (etcd,
kube-apiserver, kube-controller-manager, kube-scheduler and KWOK on loopback) and always deletes it
at the end. Set ``ML_GEN_TEST_KUBECONFIG`` to run against an existing cluster instead; that cluster
is never torn down. A cluster that cannot start fails the run (with or without ``CI=true``): live
tests are never skipped silently. When a test fails, its report lists the control-plane logs, and
the logs are copied under pytest's base temp directory before the cluster is deleted. When a
test marked ``real_node`` runs, the cluster gets its real node (containerd, kubelet, kube-proxy and
kube-router on this machine: ``scripts/local-cluster node``), whose logs sit beside the others. The node
starts only for such a test, so under pytest-xdist a worker running the other live tests has a cluster
of its own without one (the machine runs one real node at a time).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
LIVE_DIR = Path(__file__).resolve().parent
LOCAL_CLUSTER = REPO / "scripts" / "local-cluster"
INSTALL_TOOLS = REPO / "scripts" / "install-tools"
RUN_ID = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
TEST_LABEL = {"ml-gen.dev/test": "live", "ml-gen.dev/test-run": RUN_ID}
UP_TIMEOUT = 90 * 60  # a first run on a new machine builds the control plane before starting it
# The scripts find the tool cache and KWOK's work dir through HOME: use the environment the session
# started with, even if a function-scoped fixture (e.g. an isolated HOME) has changed os.environ.
_START_ENV = dict(os.environ)


@dataclass
class Cluster:
    """A reachable cluster and the pinned kubectl and helm to talk to it."""

    kubeconfig: Path
    bin_dir: Path
    helm_home: Path
    name: str | None = None  # None: an existing cluster from ML_GEN_TEST_KUBECONFIG
    log_dir: Path | None = None
    log_files: list[str] = field(default_factory=list)
    startup_seconds: float | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig), PATH=f"{self.bin_dir}{os.pathsep}{os.environ['PATH']}")
        for kind in ("CACHE", "CONFIG", "DATA"):  # helm must not read or write the user's own state
            env[f"HELM_{kind}_HOME"] = str(self.helm_home / kind.lower())
        return env

    def run(
        self, tool: str, *args: str, input: str | None = None, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.tool_path(tool)), *args]
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, env=self.env(), timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"`{tool} {' '.join(args)}` exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    def tool_path(self, tool: str) -> Path | str:
        path = self.bin_dir / tool
        return path if path.exists() else tool  # an existing cluster may rely on the PATH's kubectl

    def kubectl(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.run("kubectl", *args, **kwargs)

    def helm(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.run("helm", *args, **kwargs)

    def get(self, *args: str) -> Any:
        """`kubectl get ARGS -o json`, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    @staticmethod
    def wait_until(what: str, check: Callable[[], Any], timeout: float = 120, interval: float = 1.0) -> Any:
        """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                result = check()
                if result:
                    return result
            except (AssertionError, subprocess.SubprocessError, KeyError, ValueError) as exc:
                last_error = exc
            time.sleep(interval)
        raise AssertionError(
            f"timed out after {timeout}s waiting for {what}" + (f": {last_error}" if last_error else "")
        )

    def describe_logs(self) -> str:
        if self.log_dir is None:
            return f"existing cluster from ML_GEN_TEST_KUBECONFIG={self.kubeconfig}: its logs are not ours"
        return "control-plane logs:\n" + "\n".join(f"  {self.log_dir / f}" for f in self.log_files or ["<none yet>"])


# -- markers and reporting ----------------------------------------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if LIVE_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.live)


_session_cluster: Cluster | None = None
_live_failures = 0


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    if report.failed and item.get_closest_marker("live") is not None:
        global _live_failures
        _live_failures += 1
        if _session_cluster is not None:
            report.sections.append(("live cluster", _session_cluster.describe_logs()))
    return report


def _summary_lines() -> list[str]:
    c = _session_cluster
    if c is None:
        return []
    where = f"cluster {c.name}" if c.name else f"existing cluster {c.kubeconfig}"
    started = f", control plane started in {c.startup_seconds:.1f}s" if c.startup_seconds is not None else ""
    lines = [f"live tests: {where}{started}"]
    if _live_failures and c.log_dir is not None:
        lines.append(f"live tests: control-plane logs kept in {c.log_dir}")
    return lines


def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workeroutput"):  # an xdist worker: tests/conftest.py prints them
        session.config.workeroutput["summary_lines"] = _summary_lines()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _summary_lines():
        terminalreporter.write_line(line)


# -- fixtures -----------------------------------------------------------------------------------


def _tools_dir() -> Path:
    out = subprocess.run(
        [str(INSTALL_TOOLS), "--print-dir"], env=_START_ENV, check=True, capture_output=True, text=True
    )
    return Path(out.stdout.strip())


def _log_files(log_dir: Path) -> list[str]:
    return sorted(p.name for p in log_dir.glob("*")) if log_dir.is_dir() else []


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    global _session_cluster
    base = tmp_path_factory.mktemp("live")
    subprocess.run(
        [str(INSTALL_TOOLS), "helm"], env=_START_ENV, check=True, stdout=subprocess.DEVNULL
    )  # fast when cached
    existing = os.environ.get("ML_GEN_TEST_KUBECONFIG")
    if existing:
        c = Cluster(kubeconfig=Path(existing).expanduser().resolve(), bin_dir=_tools_dir(), helm_home=base / "helm")
        _session_cluster = c
        proc = c.kubectl("get", "--raw", "/readyz", check=False, timeout=30)
        if proc.returncode != 0:
            pytest.fail(
                f"ML_GEN_TEST_KUBECONFIG={existing}: the API server does not answer:\n{proc.stderr}", pytrace=False
            )
        yield c  # an existing cluster is never torn down
        return

    name = f"ml-gen-test-{RUN_ID}"
    env = dict(_START_ENV, ML_GEN_CLUSTER_NAME=name, ML_GEN_CLUSTER_REAL_NODE="0")
    paths = subprocess.run([str(LOCAL_CLUSTER), "logs"], env=env, check=True, capture_output=True, text=True)
    log_dir = Path(paths.stdout.splitlines()[0])
    kubeconfig_line = subprocess.run([str(LOCAL_CLUSTER), "env"], env=env, capture_output=True, text=True).stdout
    kubeconfig = Path(re.sub(r"^export KUBECONFIG=", "", kubeconfig_line.strip()))
    c = Cluster(kubeconfig=kubeconfig, bin_dir=_tools_dir(), helm_home=base / "helm", name=name, log_dir=log_dir)
    _session_cluster = c
    up_log = base / "local-cluster-up.log"

    def keep_logs() -> None:  # `down` deletes the cluster's work dir, logs included
        if log_dir.is_dir():
            c.log_dir = tmp_path_factory.getbasetemp() / "control-plane-logs"
            shutil.copytree(log_dir, c.log_dir, dirs_exist_ok=True)
            c.log_files = _log_files(c.log_dir)

    try:
        start = time.monotonic()
        with up_log.open("w") as out:
            proc = subprocess.run(
                [str(LOCAL_CLUSTER), "up"], env=env, stdout=out, stderr=subprocess.STDOUT, timeout=UP_TIMEOUT
            )
        c.startup_seconds = time.monotonic() - start
        c.log_files = _log_files(log_dir)
        if proc.returncode != 0:
            keep_logs()
            pytest.fail(
                "the local control plane did not start, so the live tests fail (they are never skipped; set "
                "ML_GEN_TEST_KUBECONFIG to use an existing cluster). Output of `scripts/local-cluster up`:\n"
                f"{up_log.read_text()[-4000:]}\n{c.describe_logs()}",
                pytrace=False,
            )
        yield c
    finally:
        if _live_failures:
            keep_logs()
        down = subprocess.run([str(LOCAL_CLUSTER), "down"], env=env, capture_output=True, text=True, timeout=300)
        if down.returncode != 0:
            message = f"`scripts/local-cluster down` failed for {name}:\n{down.stdout}{down.stderr}"
            if sys.exc_info()[0] is not None:  # do not hide the error already on its way
                print(message, file=sys.stderr)
            else:
                pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def real_node(cluster: Cluster) -> Cluster:
    """The session's cluster with its real node, started the first time a test asks for it;
    `scripts/local-cluster down` stops it with the cluster. An existing cluster keeps the nodes it has."""
    if cluster.name is not None:
        env = dict(_START_ENV, ML_GEN_CLUSTER_NAME=cluster.name)
        proc = subprocess.run([str(LOCAL_CLUSTER), "node"], env=env, capture_output=True, text=True, timeout=UP_TIMEOUT)
        if cluster.log_dir is not None:
            cluster.log_files = _log_files(cluster.log_dir)
        if proc.returncode != 0:
            pytest.fail(f"the real node did not start:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}", pytrace=False)
    return cluster


@pytest.fixture
def make_namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """A factory of fresh namespaces enforcing the restricted Pod Security profile, deleted afterwards."""
    created: list[str] = []
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")

    def make() -> str:
        name = f"{slug}-{uuid.uuid4().hex[:6]}"
        labels = {
            **TEST_LABEL,
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/warn": "restricted",
        }
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
        cluster.kubectl("create", "-f", "-", input=json.dumps(ns))
        created.append(name)
        # Pods are refused until the ServiceAccount controller has created `default` here.
        cluster.wait_until(
            f"the default ServiceAccount in {name}",
            lambda: cluster.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0,
            timeout=60,
            interval=0.2,
        )
        return name

    yield make
    for name in created:
        cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


@pytest.fixture
def namespace(make_namespace: Callable[[], str]) -> str:
    return make_namespace()

"""Fixtures for the container tests: an `ml-gen init` project built into an image with podman, and
containers run with exactly what the project's rendered dev Deployment gives its container.

They need root and the Debian packages of tools/debian-packages.txt (podman, runc, debootstrap;
scripts/test installs them). A machine without them skips these tests with the reason shown;
with CI=true it fails them instead: they are never skipped silently in CI. Podman runs with the
project's tools/podman/containers.conf. Containers get no network (`--network=none`): requests go
through `podman exec` to the server on the container's own loopback. Everything a run creates
(containers, its image tag) is removed by id or by its unique name; the stand-in base image and
podman's layer cache stay, so a warm run rebuilds nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from podman_run import RunSpec, run_spec

REPO = Path(__file__).resolve().parents[2]
LOCAL_IMAGE = REPO / "scripts" / "local-image"
CONTAINERS_CONF = REPO / "tools" / "podman" / "containers.conf"
RUN_ID = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
ENVIRONMENT = "dev"
# The environment the session started with: the image cache lives under the real HOME, not a test's.
_START_ENV = dict(os.environ)

# Runs inside the container (its own python): one HTTP request to the server, the answer as JSON.
HTTP_CLIENT = """
import json, sys, urllib.error, urllib.request
method, url, body = sys.argv[1:4]
headers = {"Content-Type": "application/json"} if body else {}
request = urllib.request.Request(url, data=body.encode() or None, method=method, headers=headers)
try:
    with urllib.request.urlopen(request, timeout=10) as answer:
        status, text = answer.status, answer.read().decode()
except urllib.error.HTTPError as err:
    status, text = err.code, err.read().decode()
except OSError as err:
    status, text = 0, repr(err)
print(json.dumps({"status": status, "body": text}))
"""


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Podman with ml-gen's containers.conf; a failure raises with podman's output."""
    env = dict(_START_ENV, CONTAINERS_CONF=str(CONTAINERS_CONF))
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"`podman {' '.join(args)}` exited {proc.returncode}:\n{proc.stderr}{proc.stdout}")
    return proc


def ml_gen(*args: str) -> None:
    """Run the ml-gen CLI of this checkout."""
    proc = subprocess.run([sys.executable, "-m", "ml_gen", *args], capture_output=True, text=True, env=_START_ENV)
    assert proc.returncode == 0, f"ml-gen {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}"


@pytest.fixture(scope="session")
def podman_ready() -> None:
    """Podman can run here (root, installed); else skip, or fail when CI=true."""
    problem = None
    if os.geteuid() != 0:
        problem = "the container tests need root (rootful podman)"
    elif shutil.which("podman") is None or shutil.which("runc") is None:
        problem = "podman and runc are not installed (scripts/install-packages installs them)"
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(problem, pytrace=False)
        pytest.skip(problem)


@dataclass
class Project:
    """An `ml-gen init` project, trained, rendered and built into an image."""

    root: Path
    image: str  # the unique tag this run gave it
    deployment: dict[str, Any]  # the rendered dev Deployment
    spec: RunSpec
    artifact: Path  # the model on the host (what train.py wrote)
    artifact_in_image: str  # where MODEL_URI points inside the container


@pytest.fixture(scope="session")
def project(podman_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """`ml-gen init iris`, `ml-gen render --all` and `scripts/local-image build` (which trains the model)."""
    root = tmp_path_factory.mktemp("container") / "iris"
    ml_gen("init", "iris", str(root))
    ml_gen("render", "--all", "-c", str(root / "ml-model.yaml"))
    [deployment_file] = (root / "manifests" / ENVIRONMENT).glob("deployment-*.yaml")
    deployment = yaml.safe_load(deployment_file.read_text("utf-8"))
    spec = run_spec(deployment)
    image = f"localhost/ml-gen-test-{RUN_ID}:good"
    build = subprocess.run(
        [str(LOCAL_IMAGE), "build", str(root), image],
        capture_output=True,
        text=True,
        env=dict(_START_ENV, PYTHON=sys.executable),
        timeout=45 * 60,  # a first run builds the stand-in base image from Debian packages
    )
    if build.returncode != 0:
        pytest.fail(f"scripts/local-image build exited {build.returncode}:\n{build.stderr[-4000:]}", pytrace=False)
    model_uri = spec.env["MODEL_URI"]
    try:
        yield Project(
            root=root,
            image=image,
            deployment=deployment,
            spec=spec,
            artifact=root / "model" / "model.joblib",
            artifact_in_image=model_uri.removeprefix("file://"),
        )
    finally:
        podman("rmi", image, check=False)  # our tag only: the layers stay as the build cache


@dataclass
class Container:
    """A running container of the project's image."""

    id: str
    port: int
    log: list[str] = field(default_factory=list)

    def http(self, method: str, path: str, body: Any = None) -> tuple[int, str]:
        """One request from inside the container to the server on its loopback: (status, body); status 0: no answer."""
        data = "" if body is None else json.dumps(body)
        url = f"http://127.0.0.1:{self.port}{path}"
        out = podman("exec", self.id, "python3", "-c", HTTP_CLIENT, method, url, data, timeout=60)
        answer = json.loads(out.stdout)
        return int(answer["status"]), str(answer["body"])

    def wait_for(self, path: str, status: int, timeout: float) -> float:
        """Poll GET path until it answers status; the seconds it took. Fails with the container's logs."""
        start = time.monotonic()
        last: tuple[int, str] = (0, "")
        while time.monotonic() - start < timeout:
            last = self.http("GET", path)
            if last[0] == status:
                return time.monotonic() - start
            if not self.running():
                break
            time.sleep(0.5)
        raise AssertionError(f"GET {path} never answered {status} (last: {last}); logs:\n{self.logs()}")

    def running(self) -> bool:
        return podman("inspect", "--format", "{{.State.Running}}", self.id).stdout.strip() == "true"

    def logs(self) -> str:
        out = podman("logs", self.id, check=False)
        return (out.stdout + out.stderr)[-4000:]

    def exec_python(self, code: str) -> str:
        """Run python code in the container as its user; its stdout."""
        return podman("exec", self.id, "python3", "-c", code).stdout


@pytest.fixture(scope="module")
def start_container(project: Project) -> Iterator[Callable[..., Container]]:
    """start_container(*extra_flags): the image run like the dev Deployment; removed by id after the module."""
    started: list[str] = []

    def start(*extra: str) -> Container:
        name = f"ml-gen-test-{RUN_ID}-{uuid.uuid4().hex[:6]}"
        flags = ["--detach", "--pull=never", "--network=none", f"--name={name}", *project.spec.flags, *extra]
        out = podman("run", *flags, project.image, *project.spec.args)
        started.append(out.stdout.strip())
        return Container(id=started[-1], port=project.spec.port)

    yield start
    for container_id in started:
        podman("rm", "--force", "--time=0", container_id, check=False)

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

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator

import pytest
import yaml
from podman_run import LOCAL_IMAGE, Container, Project, podman, run_spec

ENVIRONMENT = "dev"
RUN_ID = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
# The environment the session started with: the image cache lives under the real HOME, not a test's.
_START_ENV = dict(os.environ)


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
        tail = "\n".join(build.stderr.splitlines()[-30:])
        pytest.fail(f"scripts/local-image build exited {build.returncode}:\n{tail}", pytrace=False)
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

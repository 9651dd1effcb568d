"""The image of an `ml-gen init` project, built with podman, serves under exactly what its rendered Deployment sets."""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from podman_run import LOCAL_IMAGE, Container, Project, podman

from ml_gen import serving_metrics

pytestmark = pytest.mark.container

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5], [6.3, 2.8, 5.1, 1.5]]
STARTUP_SECONDS = 120  # gunicorn and the model load on a busy 2-core machine


@pytest.fixture(scope="module")
def serving(start_container: Callable[..., Container]) -> Container:
    """One container of the good image, ready (its model loaded)."""
    container = start_container()
    container.wait_for("/health", 200, STARTUP_SECONDS)
    container.wait_for("/ready", 200, STARTUP_SECONDS)
    return container


def proc_status(container: Container) -> dict[str, str]:
    """/proc/1/status of the container's first process (the server), as a dict."""
    text = container.exec_python("print(open('/proc/1/status').read())")
    return {k: v.strip() for k, v in (line.split(":", 1) for line in text.splitlines() if ":" in line)}


def test_the_server_runs_as_the_deployment_says(project: Project, serving: Container) -> None:
    """User and groups, no capabilities at all, no new privileges: the server process itself."""
    status = proc_status(serving)
    spec = project.spec
    assert status["Uid"].split() == [str(spec.uid)] * 4
    assert status["Gid"].split() == [str(spec.gid)] * 4
    assert set(map(int, status["Groups"].split())) >= set(spec.groups)
    for caps in ("CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[caps], 16) == 0, f"{caps} {status[caps]}"
    assert status["NoNewPrivs"] == "1"
    assert "--read-only" in spec.flags and any("destination=/tmp" in f for f in spec.flags)


def test_only_tmp_is_writable(serving: Container) -> None:
    """The root file system is read-only; /tmp (the emptyDir) is writable."""
    code = """
import errno
for path in ("/app/x", "/x", "/tmp/x"):
    try:
        open(path, "w").close()
        print(path, "ok")
    except OSError as err:
        print(path, errno.errorcode[err.errno])
"""
    assert serving.exec_python(code).split("\n")[:3] == ["/app/x EROFS", "/x EROFS", "/tmp/x ok"]


def test_health_and_ready(serving: Container) -> None:
    assert serving.http("GET", "/health")[0] == 200
    status, body = serving.http("GET", "/ready")
    assert status == 200 and json.loads(body)["status"] == "ready"


def test_predict_answers_what_the_model_predicts_on_the_host(project: Project, serving: Container) -> None:
    """The container's predictions equal the same artifact's predictions in the host's Python."""
    import joblib

    expected = joblib.load(project.artifact).predict(ROWS).tolist()
    assert len(set(expected)) > 1  # rows of different species: a constant answer cannot pass
    status, body = serving.http("POST", "/predict", {"instances": ROWS})
    assert status == 200, body
    assert json.loads(body) == {"predictions": expected}
    status, body = serving.http("POST", "/predict", {"instances": [[1, 2]]})
    assert status == 400 and "error" in json.loads(body)


def test_metrics_carry_the_documented_names(project: Project, serving: Container) -> None:
    """Every name of ml_gen.serving_metrics is exported, and the predictions made above are counted."""
    serving.http("POST", "/predict", {"instances": ROWS})
    status, text = serving.http("GET", "/metrics")
    assert status == 200
    samples: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
            assert name is not None, line
            samples.setdefault(name.group(0), []).append(line)
    for name in serving_metrics.ALL:
        assert name in samples or f"{name}_bucket" in samples, f"{name} missing from /metrics"
    assert samples[serving_metrics.MODEL_LOADED] == [f"{serving_metrics.MODEL_LOADED} 1.0"]
    [info] = samples[serving_metrics.MODEL_INFO]
    assert f'version="{project.spec.env["MODEL_VERSION"]}"' in info
    [predictions] = samples[f"{serving_metrics.PREDICTIONS}"]
    assert float(predictions.split()[-1]) >= len(ROWS)
    assert any('route="/predict"' in s and 'status="200"' in s for s in samples[serving_metrics.REQUESTS])


def test_a_corrupt_artifact_keeps_ready_failing_while_health_answers(
    project: Project, start_container: Callable[..., Container], tmp_path: Path
) -> None:
    """The image with garbage where MODEL_URI points: alive, never ready, /predict refused."""
    corrupt = tmp_path / "model.joblib"
    corrupt.write_bytes(b"this is not a joblib file\n" * 100)
    corrupt.chmod(0o644)
    container = start_container(f"--volume={corrupt}:{project.artifact_in_image}:ro")
    container.wait_for("/health", 200, STARTUP_SECONDS)
    deadline = time.monotonic() + STARTUP_SECONDS
    reason = ""
    while not reason.startswith("cannot load") and time.monotonic() < deadline:  # until the load has failed
        status, body = container.http("GET", "/ready")
        assert status == 503, body
        reason = json.loads(body)["reason"]
    assert reason.startswith(f"cannot load {project.artifact_in_image}"), reason
    for _ in range(3):  # and it stays so: the server neither dies nor turns ready
        time.sleep(1)
        assert container.http("GET", "/ready")[0] == 503
    assert container.http("GET", "/health")[0] == 200
    assert container.http("POST", "/predict", {"instances": ROWS})[0] == 503
    assert container.running()


def test_the_stand_in_base_image_carries_its_recipe_key(project: Project) -> None:
    """The cached base image is the one the current recipe makes (rebuilt when the recipe changes)."""
    recipe = LOCAL_IMAGE.parent.parent / "tools" / "podman" / "python-base.sh"
    key = subprocess.run(["sha256sum", str(recipe)], capture_output=True, text=True, check=True).stdout[:16]
    label = podman("image", "inspect", "--format", '{{index .Labels "dev.ml-gen.recipe"}}', "python:3.11-slim")
    assert label.stdout.strip() == key


def test_the_stand_in_behaves_like_the_official_image_where_dockerfiles_rely_on_it(project: Project) -> None:
    """`python` and `pip` on PATH, Python 3.11, pip may install system-wide, useradd/groupadd, UTF-8."""
    script = (
        "python --version; pip --version >/dev/null && echo pip; command -v useradd; command -v groupadd; echo $LANG; "
        "python -c 'import sysconfig, pathlib; "
        'print(any(pathlib.Path(sysconfig.get_path("stdlib")).glob("EXTERNALLY-MANAGED")))\''
    )
    out = podman("run", "--rm", "--network=none", "--pull=never", "python:3.11-slim", "sh", "-c", script)
    lines = out.stdout.split()
    assert lines[:2] == ["Python", lines[1]] and lines[1].startswith("3.11.")
    assert lines[2:] == ["pip", "/usr/sbin/useradd", "/usr/sbin/groupadd", "C.UTF-8", "False"]


def test_a_build_stage_mounted_from_the_layer_cache_gives_fresh_results(project: Project, tmp_path: Path) -> None:
    """The scaffold's `RUN --mount=type=bind,from=build` when the build stage is cached and the step is not.

    Podman 4.3 mounts nothing there (podman issue 16281); scripts/local-image builds the stage first and mounts its
    image by id, so the step sees the stage's files and runs again when they change.
    """
    label = f"ml-gen.dev/test-run={uuid.uuid4().hex}"  # on every layer of both stages, to remove them all
    (tmp_path / "Dockerfile").write_text(
        f"FROM python:3.11-slim AS build\nLABEL {label}\n"
        "RUN mkdir /out && echo built > /out/stage\n"
        f"FROM python:3.11-slim\nLABEL {label}\n"
        "COPY nonce /\n"
        "RUN --mount=type=bind,from=build,source=/out,target=/out cat /out/stage /nonce > /result\n"
        'CMD ["cat", "/result"]\n'
    )
    image = f"{project.image.rsplit(':', 1)[0]}-mount:latest"
    try:
        for _ in range(2):  # the second build finds the build stage in the cache, the changed step not
            nonce = uuid.uuid4().hex
            (tmp_path / "nonce").write_text(nonce + "\n")
            build = subprocess.run([str(LOCAL_IMAGE), "build", str(tmp_path), image], capture_output=True, text=True)
            assert build.returncode == 0, build.stderr
            assert podman("run", "--rm", "--network=none", image).stdout.split() == ["built", nonce]
    finally:
        podman("rmi", image, check=False)
        ours = podman("images", "--all", "--quiet", f"--filter=label={label}").stdout.split()
        if ours:  # the intermediate images of both builds: the next run does not use them
            podman("rmi", *ours, check=False)


def test_local_image_refuses_a_directory_without_dockerfile(podman_ready: None, tmp_path: Path) -> None:
    proc = subprocess.run([str(LOCAL_IMAGE), "build", str(tmp_path), "localhost/x:1"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and f"{tmp_path}/Dockerfile" in proc.stderr

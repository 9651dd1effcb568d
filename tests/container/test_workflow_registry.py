"""The proof that the scaffold's workflow works as written: its jobs' `run:` steps run in order, as the
workflow states them, in a scratch repository with a local bare remote and a real OCI registry on loopback
(the CNCF Distribution registry, scripts/install-tools registry). build, push :<sha>, read the digest the
registry returns, set-image --digest, render, validate, commit and push; a second run while main moves;
a tag that promotes.

What stands in for GitHub (tests/workflow_run.py names the general ones):
- actions/checkout: a clone of the bare remote at the ref the step names (or the event's);
- actions/setup-python: in the test job, this test environment's interpreter (with ml-gen and the server's
  dependencies), where `pip` records its command lines and installs nothing (the test checks them); in the
  deploy-dev and promote-prod jobs, a fresh virtualenv without ml-gen where `pip install "$ML_GEN_REQUIREMENT"`
  runs for real: pip clones the pinned commit, builds ml-gen and installs it, and the job's later steps run
  that ml-gen. ML_GEN_REQUIREMENT names github.com/example/ml-gen at the commit of a local Git repository
  holding this checkout's sources, which Git fetches instead (url.<base>.insteadOf); ml-gen's dependencies
  are this environment's (pip finds them installed), and pip's build isolation gets the build backend
  (setuptools, wheel) from the package index pip is configured with here, as on GitHub;
- docker/setup-buildx-action, docker/login-action: nothing (the loopback registry needs no login);
- docker/build-push-action: `scripts/local-image build` (podman, no registry for the base image), then
  `podman push` of IMAGE:<sha> to the registry; its `digest` output is the manifest digest the registry
  serves for that tag (HTTP HEAD /v2/.../manifests/<sha>), checked equal to what podman pushed;
- `gh pr list` and `gh pr create`: a stand-in that records its arguments and token and finds no open pull
  request; the pushed branch is checked instead;
- IMAGE: the workflow's and the config's image repository point at the loopback registry, as a user
  names their own registry.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from podman_run import _START_ENV, LOCAL_IMAGE, podman

from ml_gen import starter
from workflow_run import (
    Event,
    JobRun,
    checkout,
    fresh_python,
    git,
    libraries_without_ml_gen,
    load,
    ml_gen_repository,
    python_shims,
    run_job,
)

pytestmark = pytest.mark.container

REPO = Path(__file__).resolve().parents[2]
ML_GEN_URL = "https://github.com/example/ml-gen"  # where the requirement says ml-gen comes from (Git: a repo here)
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _head(host: str, path: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(host, timeout=10)
    connection.request("HEAD", path, headers={"Accept": MANIFEST_TYPES})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


@pytest.fixture
def registry(podman_ready: None, pinned, tmp_path: Path) -> Iterator[str]:
    """The Distribution registry serving on 127.0.0.1 (plain HTTP, no auth), storage in TMP_PATH; its address."""
    binary = pinned("registry")
    host = f"127.0.0.1:{_free_port()}"
    config = tmp_path / "registry.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 0.1,
                "log": {"level": "warn"},
                "storage": {"filesystem": {"rootdirectory": str(tmp_path / "registry-data")}},
                "http": {"addr": host, "secret": "loopback-test-only"},
            }
        )
    )
    log = (tmp_path / "registry.log").open("w")
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_SDK_DISABLED": "true"}
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _head(host, "/v2/").status == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "registry.log").read_text()
            time.sleep(0.2)
        yield host
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


class Pipeline:
    """The repository, its remote, the stand-ins' logs, and what each `uses:` step does here."""

    def __init__(self, tmp_path: Path, registry: str):
        self.tmp = tmp_path
        self.registry = registry
        self.image = f"{registry}/myorg/demo"
        self.remote = tmp_path / "remote.git"
        self.pip_log = tmp_path / "pip.log"
        self.ml_gen_source = tmp_path / "ml-gen-source"
        self.ml_gen_commit = ml_gen_repository(REPO, self.ml_gen_source)
        self.requirement = f"ml-gen @ git+{ML_GEN_URL}@{self.ml_gen_commit}"
        self.libraries = libraries_without_ml_gen(tmp_path / "libraries")
        gh_bin = tmp_path / "gh-bin"
        gh_bin.mkdir()
        gh = gh_bin / "gh"
        gh.write_text(f'#!/bin/sh\nprintf "GH_TOKEN=%s %s\\n" "$GH_TOKEN" "$*" >> {tmp_path / "gh.log"}\n')
        gh.chmod(0o755)
        shims = python_shims(tmp_path / "bin", self.pip_log)
        self.env = dict(shims, PATH=f"{gh_bin}{os.pathsep}{shims['PATH']}")
        self.plain_env = dict(os.environ, PATH=f"{gh_bin}{os.pathsep}{os.environ['PATH']}")
        self.pushed: list[str] = []

    def fresh(self, name: str) -> dict[str, str]:
        """A job env whose `pip install` runs for real, into a fresh virtualenv (workflow_run.fresh_python)."""
        venv = self.tmp / "venvs" / name
        return fresh_python(venv, self.libraries, {ML_GEN_URL: self.ml_gen_source}, self.plain_env)

    def installed_from(self, name: str) -> dict:
        """What pip recorded of where the ml-gen in the fresh virtualenv NAME came from (direct_url.json)."""
        (record,) = (self.tmp / "venvs" / name).glob("lib/python*/site-packages/ml_gen-*.dist-info/direct_url.json")
        return dict(json.loads(record.read_text()))

    def workspace(self, name: str) -> Path:
        return self.tmp / "runs" / name

    def run(self, job: str, event: Event, name: str, expressions: dict[str, str] | None = None, **kw) -> JobRun:
        workspace = self.workspace(name)
        workspace.parent.mkdir(exist_ok=True)
        workflow = load(self.tmp / "source/.github/workflows/deploy.yaml")

        def uses(step: dict) -> dict[str, str] | None:
            action = step["uses"].split("@")[0]
            if action == "actions/checkout":
                ref = step.get("with", {}).get("ref", event.ref_name)
                checkout(self.remote, workspace, ref)
                return None
            if action in ("actions/setup-python", "docker/setup-buildx-action", "docker/login-action"):
                return None
            if action == "docker/build-push-action":
                return {"digest": self.build_and_push(workspace, step, event)}
            raise AssertionError(f"no stand-in for {action}")

        return run_job(
            workflow,
            job,
            workspace=workspace,
            event=event,
            expressions=expressions or {},
            base_env=kw.get("env", self.env),
            uses=uses,
            variables={"ML_GEN_REQUIREMENT": self.requirement},
        )

    def build_and_push(self, workspace: Path, step: dict, event: Event) -> str:
        """docker/build-push-action's stand-in: build the context with podman, push the tag, ask the registry."""
        assert step["with"] == {"context": ".", "push": True, "tags": "${{ env.IMAGE }}:${{ github.sha }}"}
        reference = f"{self.image}:{event.sha}"
        build = subprocess.run(
            [str(LOCAL_IMAGE), "build", str(workspace), reference],
            capture_output=True,
            text=True,
            env=dict(_START_ENV, PYTHON=sys.executable),
            timeout=45 * 60,
        )
        assert build.returncode == 0, build.stderr[-3000:]
        digest_file = self.tmp / "pushed-digest"
        podman("push", "--tls-verify=false", "--digestfile", str(digest_file), reference, reference, timeout=600)
        self.pushed.append(reference)
        served = _head(self.registry, f"/v2/myorg/demo/manifests/{event.sha}")
        assert served.status == 200
        digest = served.getheader("Docker-Content-Digest")
        assert digest == digest_file.read_text().strip()  # the registry serves what podman pushed
        return digest

    def dev_digest(self) -> str:
        text = git("show", "main:ml-model.yaml", cwd=self.remote)
        return str(yaml.safe_load(text)["environments"]["dev"]["image"]["digest"])


def _project(pipe: Pipeline) -> str:
    """init, pointed at the loopback registry, rendered, committed and pushed to main; the commit."""
    source = pipe.tmp / "source"
    starter.write("demo", source, ml_gen_requirement=pipe.requirement)
    for rel in ("ml-model.yaml", ".github/workflows/deploy.yaml"):
        path = source / rel
        path.write_text(path.read_text().replace("ghcr.io/myorg/demo", pipe.image))
    render = subprocess.run(
        [sys.executable, "-m", "ml_gen", "render", "--all"], cwd=source, capture_output=True, text=True
    )
    assert render.returncode == 0, render.stderr
    git("init", "--quiet", "--bare", "--initial-branch=main", str(pipe.remote), cwd=pipe.tmp)
    git("init", "--quiet", "--initial-branch=main", cwd=source)
    git("config", "user.name", "Dev", cwd=source)
    git("config", "user.email", "dev@example.com", cwd=source)
    git("remote", "add", "origin", str(pipe.remote), cwd=source)
    return _commit_and_push(source, "initial project")


def _commit_and_push(clone: Path, message: str) -> str:
    git("add", "-A", cwd=clone)
    git("commit", "--quiet", "-m", message, cwd=clone)
    git("push", "--quiet", "origin", "HEAD:main", cwd=clone)
    return git("rev-parse", "HEAD", cwd=clone)


def _assert_ok(run: JobRun) -> None:
    assert run.ok, "\n".join(f"{s.name}: {s.returncode}\n{s.stdout}\n{s.stderr}" for s in run.steps[-1:])


@pytest.fixture
def pipe(tmp_path: Path, registry: str) -> Iterator[Pipeline]:
    pipeline = Pipeline(tmp_path, registry)
    try:
        yield pipeline
    finally:
        for reference in pipeline.pushed:  # the local tags the run made (the layers stay in podman's cache)
            podman("rmi", "--force", reference, check=False)


def test_the_workflow_runs_as_written_against_a_real_registry(tmp_path, registry, pipe):
    first = Event(sha=_project(pipe), ref="refs/heads/main")

    # Run 1: a push to main.
    _assert_ok(pipe.run("test", first, "1-test"))
    build = pipe.run("build", first, "1-build")
    _assert_ok(build)
    digest1 = build.outputs["digest"]
    assert digest1.startswith("sha256:") and len(digest1) == 71
    started = time.monotonic()
    deploy = pipe.run("deploy-dev", first, "1-deploy-dev", {"needs.build.outputs.digest": digest1}, env=pipe.fresh("1"))
    _assert_ok(deploy)
    # pip installed ml-gen from the pinned commit, and that ml-gen did the bump (nothing else was on PATH).
    assert deploy.steps[0].name == 'pip install "$ML_GEN_REQUIREMENT"'
    assert "Successfully installed ml-gen-" in deploy.steps[0].stdout, deploy.steps[0].stdout
    commit = pipe.ml_gen_commit
    vcs = {"vcs": "git", "commit_id": commit, "requested_revision": commit}
    assert pipe.installed_from("1") == {"url": ML_GEN_URL, "vcs_info": vcs}
    print(f"deploy-dev with a real pip install of {pipe.requirement}: {time.monotonic() - started:.1f}s")
    # That ml-gen's `init` records the pinned source it was installed from: the next project's CI installs it again.
    initialised = pipe.tmp / "init-by-installed"
    init = subprocess.run(
        [str(pipe.tmp / "venvs/1/bin/ml-gen"), "init", "again", str(initialised)], capture_output=True, text=True
    )
    assert init.returncode == 0, init.stderr
    assert pipe.requirement in (initialised / ".github/workflows/deploy.yaml").read_text()
    assert pipe.dev_digest() == digest1
    deployment = yaml.safe_load(git("show", "main:manifests/dev/deployment-demo.yaml", cwd=pipe.remote))
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"{pipe.image}@{digest1}"
    assert _head(registry, f"/v2/myorg/demo/manifests/{digest1}").status == 200  # pullable by that digest
    log = git("log", "--format=%s%n%b", "-1", "main", cwd=pipe.remote)
    assert f"deploy: dev runs {pipe.image}@{digest1}" in log and f"Built-from: {first.sha}" in log

    # Run 2: a developer's change to the server (a new image), and main moves again while deploy-dev runs.
    dev = tmp_path / "developer"
    checkout(pipe.remote, dev, "main")
    git("config", "user.name", "Dev", cwd=dev)
    git("config", "user.email", "dev@example.com", cwd=dev)
    server = dev / "model_server/server.py"
    server.write_text(server.read_text() + "\n# a change that makes a new image\n")
    second = Event(sha=_commit_and_push(dev, "server: a change"), ref="refs/heads/main")
    build = pipe.run("build", second, "2-build")
    _assert_ok(build)
    digest2 = build.outputs["digest"]
    assert digest2 != digest1
    (dev / "README.md").write_text((dev / "README.md").read_text() + "\nA note.\n")
    git("commit", "--quiet", "-am", "docs: a note, pushed while deploy-dev runs", cwd=dev)
    mover = pipe.tmp / "bin-moving"
    mover.mkdir()
    real_git = shutil.which("git")
    (mover / "git").write_text(  # main moves just before the job's first push: that push is refused
        "#!/bin/sh\n"
        f'if [ "$1" = push ] && [ ! -e {tmp_path}/moved ]; then touch {tmp_path}/moved;'
        f" {real_git} -C {dev} push --quiet origin HEAD:main; fi\n"
        f'exec {real_git} "$@"\n'
    )
    (mover / "git").chmod(0o755)
    fresh = pipe.fresh("2")
    moving_env = dict(fresh, PATH=f"{mover}{os.pathsep}{fresh['PATH']}")
    run = pipe.run("deploy-dev", second, "2-deploy-dev", {"needs.build.outputs.digest": digest2}, env=moving_env)
    _assert_ok(run)
    assert "main moved during the run (try 1 of 3)" in run.steps[-1].stdout
    assert pipe.dev_digest() == digest2
    subjects = git("log", "--format=%s", "-4", "main", cwd=pipe.remote).splitlines()
    assert subjects[0] == f"deploy: dev runs {pipe.image}@{digest2}"
    assert subjects[1:3] == ["docs: a note, pushed while deploy-dev runs", "server: a change"]
    render_check = subprocess.run(
        [sys.executable, "-m", "ml_gen", "render", "--all", "--check"],
        cwd=pipe.workspace("2-deploy-dev"),
        capture_output=True,
        text=True,
    )
    assert render_check.returncode == 0, render_check.stdout  # the committed output matches its config

    # A release: the tag job promotes, never builds; a tag on a commit dev does not run is refused.
    main_before = git("rev-parse", "main", cwd=pipe.remote)
    tokens = {"github.token": "ghs_stand_in_github_token", "secrets.PROMOTION_TOKEN": "github_pat_stand_in"}
    git("tag", "v0.9.0", first.sha, cwd=dev)
    git("push", "--quiet", "origin", "v0.9.0", cwd=dev)
    stale_tag = Event(sha=first.sha, ref="refs/tags/v0.9.0")
    stale = pipe.run("promote-prod", stale_tag, "3-stale-tag", tokens, env=pipe.fresh("3-stale"))
    assert not stale.ok and stale.steps[-1].name == "Check that dev runs the tagged commit"
    assert stale.steps[-1].stdout.startswith(f"::error::dev does not run v0.9.0 ({first.sha}) but {second.sha}: ")
    assert stale.steps[-1].stdout.count("\n") == 1
    git("tag", "v1.0.0", second.sha, cwd=dev)
    git("push", "--quiet", "origin", "v1.0.0", cwd=dev)
    tag = Event(sha=second.sha, ref="refs/tags/v1.0.0")
    _assert_ok(pipe.run("test", tag, "3-test"))
    promote = pipe.run("promote-prod", tag, "3-promote-prod", tokens, env=pipe.fresh("3"))
    assert [s.name for s in promote.steps][:2] == [
        'pip install "$ML_GEN_REQUIREMENT"',
        "Check that dev runs the tagged commit",
    ]
    assert promote.steps[1].returncode == 0, promote.steps[1].stdout
    assert pipe.pushed == [f"{pipe.image}:{first.sha}", f"{pipe.image}:{second.sha}"]  # no rebuild
    _assert_ok(promote)
    branch = "promote/prod-v1.0.0"
    prod = yaml.safe_load(git("show", f"{branch}:ml-model.yaml", cwd=pipe.remote))["environments"]["prod"]
    assert prod["image"]["digest"] == digest2
    runs = {}
    for env in ("dev", "prod"):
        text = git("show", f"{branch}:manifests/{env}/deployment-demo.yaml", cwd=pipe.remote)
        (container,) = yaml.safe_load(text)["spec"]["template"]["spec"]["containers"]
        model = {e["name"]: e.get("value") for e in container["env"] if e["name"].startswith("MODEL_")}
        runs[env] = (container["image"], model)
    assert runs["prod"] == runs["dev"] == (f"{pipe.image}@{digest2}", runs["dev"][1])  # what dev runs, not rebuilt
    gh = (tmp_path / "gh.log").read_text().splitlines()
    assert gh[0].startswith(f"GH_TOKEN=github_pat_stand_in pr list --head {branch} ")  # none open yet
    assert gh[1].startswith(f"GH_TOKEN=github_pat_stand_in pr create --base main --head {branch} ")  # CI will run on it
    assert git("rev-parse", "main", cwd=pipe.remote) == main_before  # the change waits for review in the PR
    assert pipe.installed_from("3") == {"url": ML_GEN_URL, "vcs_info": vcs}
    server, test_tools = "install --require-hashes -r requirements.txt", f"install pytest==9.2.0 {pipe.requirement}"
    # what the test and build jobs (1-test, 1-build, 2-build, 3-test) asked the recording pip for
    assert pipe.pip_log.read_text().splitlines() == [server, test_tools, server, server, server, test_tools]

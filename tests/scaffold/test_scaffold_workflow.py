"""The scaffold's workflow run here, step by step as it is written (workflow_run.py names the stand-ins for
GitHub), in a scratch repository with a local bare remote; no registry (tests/container has the push)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ml_gen import starter
from workflow_run import Event, checkout, git, load, python_shims, run_job

DIGEST = "sha256:" + "ab" * 32  # stands in for the build job's output (the registry's answer to the push)
PINNED = "ml-gen @ git+https://github.com/example/ml-gen@" + "0123456789" * 4
PR_URL = "https://github.com/example/demo/pull/1"  # what the stand-in `gh` answers for the open pull request
VARIABLES = {"ML_GEN_REQUIREMENT": PINNED}  # the repository variable the README tells the user to set


def _repository(tmp_path: Path, config_file: str) -> tuple[Path, str]:
    """A project written by init with CONFIG_FILE, rendered and pushed to main of a bare remote; its commit."""
    source = tmp_path / "source"
    starter.write("demo", source, config_file)
    render = subprocess.run(
        [sys.executable, "-m", "ml_gen", "render", "--all", "-c", config_file],
        cwd=source,
        capture_output=True,
        text=True,
    )
    assert render.returncode == 0, render.stderr
    remote = tmp_path / "remote.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(remote), cwd=tmp_path)
    git("init", "--quiet", "--initial-branch=main", cwd=source)
    git("add", "-A", cwd=source)
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "init", cwd=source)
    git("push", "--quiet", str(remote), "main", cwd=source)
    return remote, git("rev-parse", "HEAD", cwd=source)


def _no_action(step: dict) -> None:
    raise AssertionError(f"unexpected action {step['uses']}")


@pytest.mark.parametrize("config_file", ["deploy/ml-model.yaml", "deploy #prod.yaml"])
def test_test_and_deploy_dev_jobs_run_as_written_with_the_chosen_config(tmp_path, config_file):
    """A config in a subdirectory (or with a '#' in its name) goes through every step: the server's
    tests as documented (`pytest tests`), render --check, validate, set-image, render, the commit and push."""
    remote, sha = _repository(tmp_path, config_file)
    pip_log = tmp_path / "pip.log"
    env = python_shims(tmp_path / "bin", pip_log)
    workflow = load(tmp_path / "source/.github/workflows/deploy.yaml")
    event = Event(sha=sha, ref="refs/heads/main")

    test_ws = tmp_path / "test"
    checkout(remote, test_ws, "main")  # stands in for actions/checkout (setup-python: python_shims)
    results = run_job(
        workflow,
        "test",
        workspace=test_ws,
        event=event,
        expressions={},
        base_env=env,
        uses=lambda step: None,
        variables=VARIABLES,
    )
    assert results.ok, results.steps[-1]
    assert "29 passed" in next(r.stdout for r in results.steps if r.name == "Test the server")

    dev_ws = tmp_path / "deploy-dev"
    checkout(remote, dev_ws, "main")
    results = run_job(
        workflow,
        "deploy-dev",
        workspace=dev_ws,
        event=event,
        expressions={"needs.build.outputs.digest": DIGEST},
        base_env=env,
        uses=lambda step: None,
        variables=VARIABLES,
    )
    assert results.ok, results.steps[-1]
    changed = git("show", "--name-only", "--format=%s", "main", cwd=remote).splitlines()
    assert changed[0].startswith(f"deploy: dev runs ghcr.io/myorg/demo@{DIGEST}")
    out = Path(config_file).parent
    assert config_file in changed
    assert str(out / "manifests/dev/deployment-demo.yaml") in changed
    assert str(out / "values/dev.yaml") in changed
    shown = git("show", f"main:{config_file}", cwd=remote)
    assert yaml.safe_load(shown)["environments"]["dev"]["image"]["digest"] == DIGEST
    assert git("status", "--porcelain", cwd=dev_ws) == ""  # everything the job changed was committed
    assert pip_log.read_text().splitlines() == [
        "install --require-hashes -r requirements.txt",  # hashes: nothing else on that command line
        f"install pytest==9.2.0 {PINNED}",
        f"install {PINNED}",
    ]

    # A release tag on the commit dev runs: promote-prod, with the config where the user put it. No
    # PROMOTION_TOKEN secret: the pull request is opened with GITHUB_TOKEN and the job warns.
    git("push", "--quiet", str(remote), f"{sha}:refs/tags/v1.0.0", cwd=tmp_path / "source")
    gh_log = tmp_path / "gh.log"
    gh = tmp_path / "bin" / "gh"  # stands in for the GitHub CLI: `gh pr list` answers the PR `pr create` opened
    gh.write_text(
        f'#!/bin/sh\nprintf "GH_TOKEN=%s %s\\n" "$GH_TOKEN" "$*" >> {gh_log}\n'
        f'if [ "$2" = list ] && grep -q " pr create " {gh_log}; then echo {PR_URL}; fi\n'
    )
    gh.chmod(0o755)

    def promote(workspace_name: str):
        """The promote-prod job for the tag, in a fresh checkout of main (with its history)."""
        workspace = tmp_path / workspace_name
        checkout(remote, workspace, "main")
        return run_job(
            workflow,
            "promote-prod",
            workspace=workspace,
            event=Event(sha=sha, ref="refs/tags/v1.0.0"),
            expressions={"github.token": "ghs_stand_in"},
            base_env=env,
            uses=lambda step: None,
            variables=VARIABLES,
        )

    results = promote("promote-prod")
    assert results.ok, results.steps[-1]
    assert results.steps[-1].stdout.splitlines()[-1].startswith("::warning::no PROMOTION_TOKEN secret")
    branch = "promote/prod-v1.0.0"
    promoted = yaml.safe_load(git("show", f"{branch}:{config_file}", cwd=remote))["environments"]["prod"]
    assert promoted["image"]["digest"] == DIGEST
    assert (
        str(out / "manifests/prod/deployment-demo.yaml")
        in git("show", "--name-only", "--format=", branch, cwd=remote).splitlines()
    )
    calls = gh_log.read_text().splitlines()
    assert calls[0].startswith(f"GH_TOKEN=ghs_stand_in pr list --head {branch} --base main --state open ")
    assert calls[1].startswith(f"GH_TOKEN=ghs_stand_in pr create --base main --head {branch} ")

    # Run again before the merge, after main moved: the branch is replaced by the promotion on top of
    # today's main (a forced push of the job's own branch), and the open pull request is not opened twice.
    other = tmp_path / "other"
    checkout(remote, other, "main")
    (other / "NOTES.md").write_text("A note.\n")
    git("add", "NOTES.md", cwd=other)
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "notes", cwd=other)
    git("push", "--quiet", "origin", "HEAD:main", cwd=other)
    results = promote("promote-prod-rerun")
    assert results.ok, results.steps[-1]
    assert f"the promotion pull request is open: {PR_URL}" in results.steps[-1].stdout
    assert git("show", f"{branch}:NOTES.md", cwd=remote) == "A note."
    assert git("rev-parse", f"{branch}~1", cwd=remote) == git("rev-parse", "main", cwd=remote)
    promoted = yaml.safe_load(git("show", f"{branch}:{config_file}", cwd=remote))["environments"]["prod"]
    assert promoted["image"]["digest"] == DIGEST
    # Once more with nothing new: the branch already holds it, nothing is pushed.
    before = git("rev-parse", branch, cwd=remote)
    results = promote("promote-prod-rerun-2")
    assert results.ok, results.steps[-1]
    assert f"{branch} already holds this promotion" in results.steps[-1].stdout
    assert git("rev-parse", branch, cwd=remote) == before
    assert gh_log.read_text().count(" pr create ") == 1

    # The pull request merged, the job runs again for the tag: nothing to promote, nothing pushed or opened.
    git("update-ref", "refs/heads/main", f"refs/heads/{branch}", cwd=remote)  # merged: main fast-forwards
    results = promote("promote-prod-again")
    assert results.ok, results.steps[-1]
    assert results.steps[-1].stdout == "prod already runs what dev runs\n"
    assert gh_log.read_text().count(" pr create ") == 1


def _first_step(tmp_path: Path, variables: dict[str, str], requirement: str | None = None):
    root = tmp_path / "p"
    starter.write("demo", root, ml_gen_requirement=requirement)
    workflow = load(root / ".github/workflows/deploy.yaml")
    workflow["jobs"]["test"]["steps"] = workflow["jobs"]["test"]["steps"][:1]
    env = python_shims(tmp_path / "bin", tmp_path / "pip.log")
    (result,) = run_job(
        workflow,
        "test",
        workspace=root,
        event=Event(sha="0" * 40, ref="refs/heads/main"),
        expressions={},
        base_env=env,
        uses=_no_action,
        variables=variables,
    ).steps
    return result


def test_the_first_step_names_what_to_set_when_ml_gens_source_is_unknown(tmp_path, monkeypatch):
    monkeypatch.setattr("ml_gen.origin.installed_requirement", lambda: None)  # an editable checkout, an index
    result = _first_step(tmp_path, {})
    assert result.returncode == 1 and result.stderr == ""
    assert result.stdout.count("\n") == 1
    assert result.stdout.startswith("::error::set the repository variable ML_GEN_REQUIREMENT to ")


@pytest.mark.parametrize(
    "requirement",
    ["ml-gen", "ml-gen==0.1.0", "ml-gen @ git+https://github.com/example/ml-gen@main", PINNED + " extra"],
)
def test_the_first_step_refuses_an_unpinned_requirement(tmp_path, requirement):
    result = _first_step(tmp_path, {"ML_GEN_REQUIREMENT": requirement})
    assert result.returncode == 1 and result.stdout.count("\n") == 1
    assert result.stdout.startswith("::error::ML_GEN_REQUIREMENT is not pinned to a commit or a sha256")


@pytest.mark.parametrize("variables", [{}, {"ML_GEN_REQUIREMENT": PINNED}])
def test_the_first_step_passes_the_requirement_init_recorded_or_the_variable(tmp_path, variables):
    """init's --ml-gen-requirement (or the recorded source) is the default; the repository variable wins."""
    result = _first_step(tmp_path, variables, requirement="ml-gen @ git+https://example.org/ml-gen@" + "a" * 40)
    assert (result.returncode, result.stdout) == (0, "")

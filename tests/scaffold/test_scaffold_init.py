"""`ml-gen init NAME [DIR]`: the files it writes agree with each other, and it writes all of them or nothing."""

from __future__ import annotations

import json
import os
import re
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from ml_gen import config, starter
from ml_gen.cli import main
from ml_gen.errors import OutputError
from ml_gen.output import atomic

PROJECT_FILES = [
    ".dockerignore",
    ".github/workflows/deploy.yaml",
    ".gitignore",
    "Dockerfile",
    "README.md",
    "gunicorn.conf.py",
    "ml-model.schema.json",
    "ml-model.yaml",
    "model_server/__init__.py",
    "model_server/fetch.py",
    "model_server/logs.py",
    "model_server/metrics.py",
    "model_server/model.py",
    "model_server/server.py",
    "model_server/sources.py",
    "model_server/unpack.py",
    "pyproject.toml",
    "requirements.in",
    "requirements.txt",
    "tests/test_fetch.py",
    "tests/test_server.py",
    "train.py",
]


def files_below(root: Path) -> dict[str, bytes]:
    """Every regular file below ROOT (hidden ones included) by relative path, with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_init_writes_the_project(tmp_path):
    result = run("init", "demo", str(tmp_path / "demo"))
    assert result.exit_code == 0, result.output
    assert sorted(files_below(tmp_path / "demo")) == PROJECT_FILES
    assert result.stdout.startswith(f"wrote {len(PROJECT_FILES)} files in {tmp_path / 'demo'}: ")


def test_init_defaults_to_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("init", "demo").exit_code == 0
    assert (tmp_path / "Dockerfile").is_file() and (tmp_path / "ml-model.yaml").is_file()


def test_every_file_is_commented_for_a_reader(project):
    for rel in PROJECT_FILES:
        text = (project / rel).read_text()
        if rel.endswith(".py"):
            assert text.startswith('"""'), rel  # a module docstring says what the file is
        elif rel.endswith((".json", ".md")):
            continue
        else:
            assert text.lstrip().startswith("#"), rel


def test_config_is_the_starter_with_ready_model_and_metrics(project):
    data = yaml.safe_load((project / "ml-model.yaml").read_text())
    assert set(data["environments"]) == {"dev", "prod"}
    assert data["health"] == {"livenessPath": "/health", "readinessPath": "/ready"}
    assert data["model"]["framework"] == "sklearn"
    assert data["model"]["uri"] == f"file://{starter.MODEL_PATH}"
    assert data["metrics"] == {"enabled": True, "path": "/metrics"}
    # The probe periods bench/serving.py measured (docs/benchmarks.md), with ml-gen's 5 minutes to start.
    startup, readiness = {"periodSeconds": 1, "failureThreshold": 300}, {"periodSeconds": 2}
    assert data["probes"] == {"startup": startup, "readiness": readiness}
    config.load(project / "ml-model.yaml")


def _dockerfile(project: Path) -> str:
    return (project / "Dockerfile").read_text()


def test_the_images_user_is_the_pods_user(project):
    security = yaml.safe_load((project / "ml-model.yaml").read_text())["security"]
    dockerfile = _dockerfile(project)
    (user,) = re.findall(r"^USER (\d+):(\d+)$", dockerfile, re.M)
    assert (int(user[0]), int(user[1])) == (security["runAsUser"], security["runAsGroup"])
    assert f"groupadd --system --gid {security['runAsGroup']} app" in dockerfile
    assert f"useradd --system --uid {security['runAsUser']} --gid {security['runAsGroup']} " in dockerfile


def test_the_port_is_the_same_everywhere(project):
    port = yaml.safe_load((project / "ml-model.yaml").read_text())["port"]
    assert re.findall(r"^EXPOSE (\d+)$", _dockerfile(project), re.M) == [str(port)]
    assert f'bind = "0.0.0.0:{port}"' in (project / "gunicorn.conf.py").read_text()


def test_the_model_is_where_config_dockerfile_and_train_py_say(project):
    data = yaml.safe_load((project / "ml-model.yaml").read_text())
    dockerfile = _dockerfile(project)
    assert f"MODEL_URI={data['model']['uri']}" in dockerfile
    assert re.findall(r"^WORKDIR (\S+)$", dockerfile, re.M)[-1] == "/app"
    assert "COPY model/ model/" in dockerfile
    assert data["model"]["uri"] == "file:///app/model/model.joblib"
    assert (project / "model" / "model.joblib").is_file()  # where the session fixture's train.py run put it


def test_the_drain_fits_in_the_grace_period(project):
    data = yaml.safe_load((project / "ml-model.yaml").read_text())
    assert int(data["env"]["GRACEFUL_TIMEOUT"]) + data["shutdownDelaySeconds"] < data["terminationGracePeriodSeconds"]
    assert f'"GRACEFUL_TIMEOUT", "{data["env"]["GRACEFUL_TIMEOUT"]}"' in (project / "gunicorn.conf.py").read_text()


def test_the_image_repository_is_the_workflows(project):
    data = yaml.safe_load((project / "ml-model.yaml").read_text())
    workflow = yaml.safe_load((project / ".github/workflows/deploy.yaml").read_text())
    assert workflow["env"]["IMAGE"] == data["image"]["repository"]
    assert workflow["env"]["CONFIG"] == "ml-model.yaml"


def _locked(project: Path) -> dict[str, tuple[str, list[str]]]:
    """requirements.txt as {name: (version, [sha256, ...])}."""
    text = (project / "requirements.txt").read_text()
    locked = {}
    for entry in re.split(r"\n(?=[a-z])", "\n".join(line for line in text.splitlines() if not line.startswith("#"))):
        name, version = re.match(r"([a-z0-9-]+)==(\S+)", entry).groups()
        locked[name] = (version, re.findall(r"--hash=sha256:([0-9a-f]{64})", entry))
    return locked


def test_requirements_are_locked_with_hashes_to_what_the_tests_run(project):
    """Every dependency of the server, direct or not, is locked to a version and its files' sha256, the
    versions this test environment runs (setup.cfg's test extra pins the direct ones the same)."""
    locked = _locked(project)
    direct = [line.split("==") for line in (project / "requirements.in").read_text().splitlines() if "==" in line]
    assert {name for name, _ in direct} == {
        *("boto3", "flask", "gunicorn", "joblib", "numpy", "prometheus-client", "pyyaml", "scikit-learn", "skops")
    }
    for name, version in direct:
        assert locked[name][0] == version, name
    for name, (version, hashes) in locked.items():
        assert hashes, name
        assert metadata.version(name) == version, name
        for requirement in metadata.requires(name) or []:  # the lock is closed under dependencies
            if "extra ==" not in requirement and "; " not in requirement:
                assert re.match(r"[A-Za-z0-9_.-]+", requirement)[0].lower().replace("_", "-") in locked, requirement


def test_the_test_extra_pins_what_requirements_in_pins(project, repo_root):
    import configparser

    parser = configparser.ConfigParser()
    parser.read(repo_root / "setup.cfg")
    extra = {line.strip() for line in parser["options.extras_require"]["test"].splitlines() if "==" in line}
    direct = {line for line in (project / "requirements.in").read_text().splitlines() if "==" in line}
    assert direct <= extra


def test_the_dockerfile_is_multi_stage_from_wheels_only(project):
    dockerfile = _dockerfile(project)
    assert re.findall(r"^FROM (.+)$", dockerfile, re.M) == ["python:3.11-slim AS build", "python:3.11-slim"]
    assert "pip wheel --no-cache-dir --require-hashes --wheel-dir /wheels -r requirements.txt" in dockerfile
    assert "--no-index --find-links=/wheels --require-hashes -r requirements.txt" in dockerfile
    assert re.findall(r"^CMD (.+)$", dockerfile, re.M) == ['["gunicorn", "--config", "gunicorn.conf.py"]']
    assert "PYTHONDONTWRITEBYTECODE=1" in dockerfile and "PYTHONUNBUFFERED=1" in dockerfile


def test_the_workflow_pins_every_action_to_a_commit(project):
    text = (project / ".github/workflows/deploy.yaml").read_text()
    uses = re.findall(r"uses: (\S+)(.*)$", text, re.M)
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r"  # v\d+\.\d+\.\d+", comment), (action, comment)


def test_the_workflow_runs_the_pipeline_with_minimal_permissions(project):
    workflow = yaml.safe_load((project / ".github/workflows/deploy.yaml").read_text())
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert list(jobs) == ["test", "build", "deploy-dev", "promote-prod"]
    assert jobs["build"]["permissions"] == {"contents": "read", "packages": "write"}
    assert jobs["deploy-dev"]["permissions"] == {"contents": "write"}
    assert jobs["promote-prod"]["permissions"] == {"contents": "write", "pull-requests": "write"}
    push = next(s for s in jobs["build"]["steps"] if s.get("id") == "push")
    assert push["with"]["tags"] == "${{ env.IMAGE }}:${{ github.sha }}"
    dev = "\n".join(s.get("run", "") for s in jobs["deploy-dev"]["steps"])
    order = ["ml-gen set-image dev --digest", "ml-gen render --all", "ml-gen validate --all", "git commit"]
    assert [dev.index(step) for step in order] == sorted(dev.index(step) for step in order)
    assert "startsWith(github.ref, 'refs/tags/v')" in jobs["promote-prod"]["if"]
    assert jobs["promote-prod"]["needs"] == "test"  # promotes what dev runs: never waits on a build
    prod = "\n".join(s.get("run", "") for s in jobs["promote-prod"]["steps"])
    assert "ml-gen promote dev prod --render" in prod and "gh pr create" in prod
    assert "build-push" not in str(jobs["promote-prod"]) and "set-image" not in prod
    assert jobs["build"]["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"


def test_the_projects_python_is_lint_clean(project):
    import subprocess
    import sys

    ruff = Path(sys.executable).parent / "ruff"
    done = subprocess.run(
        [
            str(ruff),
            "check",
            "--no-cache",
            "--isolated",
            "--select",
            "E,F,W,I,B,UP",
            "--line-length",
            "120",
            "--target-version",
            "py311",
            ".",
        ],
        cwd=project,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# -- all or nothing -----------------------------------------------------------------------------


def _seed(root: Path) -> None:
    """A project directory with a file of the user's in it."""
    root.mkdir()
    (root / "notes.txt").write_text("mine\n")


@pytest.mark.parametrize(
    "existing", ["ml-model.yaml", "model_server/server.py", "train.py", ".github/workflows/deploy.yaml"]
)
def test_an_existing_file_stops_init_before_anything_is_written(tmp_path, existing):
    root = tmp_path / "p"
    root.mkdir()
    (root / existing).parent.mkdir(parents=True, exist_ok=True)
    (root / existing).write_text("mine\n")
    before = files_below(root)
    dirs = sorted(p for p in root.rglob("*") if p.is_dir())
    result = run("init", "demo", str(root))
    assert result.exit_code == 2
    assert result.stderr == f"ml-gen: error: {root / existing}: already exists (--force overwrites)\n"
    assert files_below(root) == before
    assert sorted(p for p in root.rglob("*") if p.is_dir()) == dirs


def test_a_dangling_symlink_at_a_target_is_refused(tmp_path, snapshot):
    root = tmp_path / "p"
    _seed(root)
    (root / "Dockerfile").symlink_to(tmp_path / "nowhere")
    before = snapshot(root)
    for extra in ([], ["--force"]):
        result = run("init", "demo", str(root), *extra)
        assert result.exit_code == 2
        message = f"{root / 'Dockerfile'}: is a symlink; ml-gen does not write through links"
        assert result.stderr == f"ml-gen: error: {message}\n"
        assert not (tmp_path / "nowhere").exists()
        assert snapshot(root) == before


def test_a_symlinked_directory_is_refused(tmp_path, snapshot):
    root = tmp_path / "p"
    _seed(root)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / "model_server").symlink_to(elsewhere, target_is_directory=True)
    before = snapshot(root)
    result = run("init", "demo", str(root), "--force")
    assert result.exit_code == 2
    assert "model_server: is a symlink" in result.stderr
    assert list(elsewhere.iterdir()) == []
    assert snapshot(root) == before


def test_a_file_where_a_directory_goes_is_refused(tmp_path, snapshot):
    root = tmp_path / "p"
    _seed(root)
    (root / ".github").write_text("not a directory\n")
    before = snapshot(root)
    result = run("init", "demo", str(root))
    assert result.exit_code == 2
    assert result.stderr == f"ml-gen: error: {root / '.github'}: is a file, where ml-gen needs a directory\n"
    assert snapshot(root) == before


def test_a_directory_where_a_file_goes_is_refused(tmp_path, snapshot):
    root = tmp_path / "p"
    _seed(root)
    (root / "Dockerfile").mkdir()
    before = snapshot(root)
    result = run("init", "demo", str(root), "--force")
    assert result.exit_code == 2
    assert "Dockerfile: is a directory; ml-gen will not replace it" in result.stderr
    assert snapshot(root) == before


def test_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "p").write_text("x")
    result = run("init", "demo", str(tmp_path / "p"))
    assert result.exit_code == 2
    assert result.stderr == f"ml-gen: error: {tmp_path / 'p'}: is a file, where ml-gen needs a directory\n"


def _fail_on_call(monkeypatch, name: str, call: int) -> None:
    """Make the atomic writer's NAME (an os function or a helper) raise OSError on its CALL-th use."""
    target = os if name == "replace" else atomic
    real = getattr(target, name)
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call:
            raise OSError(28, "No space left on device", str(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, failing)


@pytest.mark.parametrize("step", ["_write_temporary", "replace"])
@pytest.mark.parametrize("call", [1, 7, len(PROJECT_FILES)])
def test_a_failure_midway_leaves_nothing_behind(tmp_path, monkeypatch, snapshot, step, call):
    root = tmp_path / "p"
    _seed(root)
    before = snapshot(root)
    _fail_on_call(monkeypatch, step, call)
    result = run("init", "demo", str(root))
    assert result.exit_code == 2
    assert "No space left on device" in result.stderr and "nothing was changed" in result.stderr
    assert snapshot(root) == before


def test_new_directories_are_created_and_removed_again_on_failure(tmp_path, monkeypatch):
    assert run("init", "demo", str(tmp_path / "made" / "p")).exit_code == 0
    assert (tmp_path / "made" / "p" / "Dockerfile").is_file()
    _fail_on_call(monkeypatch, "replace", 10)
    result = run("init", "demo", str(tmp_path / "new" / "p"))
    assert result.exit_code == 2 and "No space left on device" in result.stderr
    assert not (tmp_path / "new").exists()


def test_a_failure_with_force_restores_the_files_it_replaced(tmp_path, monkeypatch, snapshot):
    root = tmp_path / "p"
    root.mkdir()
    starter.write("demo", root)
    for rel in PROJECT_FILES:
        (root / rel).write_text(f"old {rel}\n")
    before = snapshot(root)
    _fail_on_call(monkeypatch, "replace", 12)
    assert run("init", "demo", str(root), "--force").exit_code == 2
    assert snapshot(root) == before


def test_force_overwrites_files_and_keeps_the_users_others(tmp_path):
    root = tmp_path / "p"
    _seed(root)
    (root / "Dockerfile").write_text("FROM scratch\n")
    result = run("init", "demo", str(root), "--force")
    assert result.exit_code == 0, result.output
    expected = {str(f.relative): f.text for f in starter.project_files("demo")}
    assert (root / "Dockerfile").read_text() == expected["Dockerfile"]
    assert (root / "notes.txt").read_text() == "mine\n"
    assert not [p for p in root.rglob("*ml-gen-tmp*")]


def test_init_again_writes_nothing_and_a_changed_file_is_refused(tmp_path):
    root = tmp_path / "p"
    assert run("init", "demo", str(root)).exit_code == 0
    again = run("init", "demo", str(root))  # every file already there, byte for byte: nothing to do
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith(f"wrote 0 files in {root}: none (all up to date)")
    (root / "train.py").write_text("# my training\n")
    changed = run("init", "demo", str(root))
    assert changed.exit_code == 2 and "train.py: already exists" in changed.stderr
    other = run("init", "other", str(root), "-c", "other.yaml", "--config-only")
    assert other.exit_code == 0, other.output
    assert other.stdout.startswith(f"wrote 1 files in {root}: other.yaml")  # the schema beside it is identical


def test_config_only_writes_the_config_and_its_schema(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("init", "demo", "--config-only", "-c", "conf/svc.yaml")
    assert result.exit_code == 0, result.output
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        "conf/ml-model.schema.json",
        "conf/svc.yaml",
    ]


def test_config_name_is_used_by_the_workflow_and_readme(tmp_path):
    root = tmp_path / "p"
    assert run("init", "demo", str(root), "-c", "svc.yaml").exit_code == 0
    assert not (root / "ml-model.yaml").exists()
    assert yaml.safe_load((root / ".github/workflows/deploy.yaml").read_text())["env"]["CONFIG"] == "svc.yaml"
    readme = (root / "README.md").read_text()
    assert "`svc.yaml`" in readme and "ml-gen render --all -c svc.yaml && ml-gen validate --all -c svc.yaml" in readme


@pytest.mark.parametrize("config_file", ["../out.yaml", "/tmp/abs.yaml", ".", "a\nb.yaml", "tab\there.yaml"])
def test_config_outside_the_project_or_on_two_lines_is_refused(tmp_path, config_file):
    result = run("init", "demo", str(tmp_path / "p"), "-c", config_file)
    assert result.exit_code == 2
    assert result.stderr.startswith("ml-gen: error: --config ") and result.stderr.count("\n") == 1
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize(
    "config_file",
    [
        "model_server/server.py",
        "README.md",
        "./Dockerfile",
        ".gitignore",
        "pyproject.toml",
        ".github/workflows/deploy.yaml",
        "ml-model.schema.json",  # the config's own schema
        "deploy/ml-model.schema.json",
        "model_server",  # a directory init fills
        "tests",
        "Dockerfile/ml-model.yaml",  # below a file init writes
        "model/ml-model.yaml",  # where .gitignore keeps it out of git
    ],
)
def test_config_that_init_writes_or_ignores_is_refused_before_anything_is_written(tmp_path, config_file):
    """A -c that names a file init writes used to lose the config (the other file replaced it)."""
    root = tmp_path / "p"
    for extra in ([], ["--force"]):
        result = run("init", "demo", str(root), "-c", config_file, *extra)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"ml-gen: error: --config {config_file}: ") and result.stderr.count("\n") == 1
        assert result.stdout == ""
        assert not root.exists()


def test_config_only_refuses_the_schemas_own_path(tmp_path):
    result = run("init", "demo", str(tmp_path / "p"), "--config-only", "-c", "ml-model.schema.json")
    assert result.exit_code == 2 and "init writes ml-model.schema.json there" in result.stderr
    assert not (tmp_path / "p").exists()


# Config paths that YAML, a shell or Markdown would read differently if pasted.
AWKWARD_PATHS = [
    "deploy #prod.yaml",
    "it's here.yaml",
    'say "hi".yaml',
    "$(touch pwned).yaml",
    "`id`.yaml",
    "-dash.yaml",
    "yes",
    "123",
    "a: b.yaml",
    "[x], {y}.yaml",
    "*star&amp.yaml",
    "ünï/cödé.yaml",
    "a\\b.yaml",
]


@pytest.mark.parametrize("config_file", AWKWARD_PATHS)
def test_the_config_path_is_serialised_not_pasted(tmp_path, config_file):
    import shlex

    root = tmp_path / "p"
    result = run("init", "demo", str(root), "-c", config_file)
    assert result.exit_code == 0, result.output
    assert (root / config_file).is_file()
    workflow = yaml.safe_load((root / ".github/workflows/deploy.yaml").read_text())
    assert workflow["env"]["CONFIG"] == config_file  # one path, as given
    (next_line,) = [line for line in result.stdout.splitlines() if line.startswith("next: ")]
    steps = shlex.split(next_line.removeprefix("next: ").removesuffix(" (see README.md)"))
    assert steps[:3] == ["cd", str(root), "&&"] and steps[-2:] == ["-c", config_file]
    readme = (root / "README.md").read_text()
    (deploy_line,) = [line for line in readme.splitlines() if line.startswith("ml-gen render --all -c ")]
    assert shlex.split(deploy_line) == ["ml-gen", "render", "--all", "-c", config_file, "&&"] + [
        "ml-gen",
        "validate",
        "--all",
        "-c",
        config_file,
    ]
    render = run("render", "--all", "-c", str(root / config_file))
    assert render.exit_code == 0, render.output


def test_every_value_init_writes_is_serialised(tmp_path):
    """YAML scalars, Python literals and shell words in the files read back as the values init placed."""
    import ast

    starter.write("demo", tmp_path)
    data = yaml.safe_load((tmp_path / "ml-model.yaml").read_text())
    assert data["env"]["GRACEFUL_TIMEOUT"] == str(starter.GRACEFUL_TIMEOUT)
    assert data["environments"]["dev"]["namespace"] == "demo-dev"
    gunicorn = ast.parse((tmp_path / "gunicorn.conf.py").read_text())
    binds = [n.value.value for n in gunicorn.body if isinstance(n, ast.Assign) and n.targets[0].id == "bind"]
    assert binds == [f"0.0.0.0:{starter.PORT}"]
    assert starter.yaml_scalar("deploy #prod.yaml") == "'deploy #prod.yaml'"
    assert starter.yaml_scalar("demo") == "demo"
    assert starter.markdown_code("a`b") == "``a`b``" and starter.markdown_code("`x") == "`` `x ``"


def test_next_steps_name_the_chosen_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plain = run("init", "demo")
    assert (
        plain.stdout.splitlines()[-1] == "next: python train.py && pytest tests && ml-gen render --all (see README.md)"
    )
    sub = run("init", "demo", "my project", "-c", "./deploy/svc.yaml")
    assert sub.stdout.splitlines()[-1] == (
        "next: cd 'my project' && python train.py && pytest tests && ml-gen render --all -c deploy/svc.yaml"
        " (see README.md)"
    )
    only = run("init", "demo", "x", "--config-only", "-c", "a b.yaml")
    assert only.stdout.splitlines()[-1] == "next: ml-gen render --all -c 'x/a b.yaml'"


def test_a_gitignore_keeps_the_model_and_caches_out(project):
    lines = [line for line in (project / ".gitignore").read_text().splitlines() if line and line[0] != "#"]
    assert {"model/", ".venv/", "__pycache__/", ".pytest_cache/"} <= set(lines)


def test_write_returns_what_it_wrote(tmp_path):
    written = starter.write("demo", tmp_path / "p")
    assert sorted(str(p) for p in written) == PROJECT_FILES
    with pytest.raises(OutputError, match="already exists"):
        starter.write("other", tmp_path / "p")


def test_files_are_readable_by_everyone_and_not_executable(tmp_path):
    starter.write("demo", tmp_path / "p")
    for rel in PROJECT_FILES:
        assert os.stat(tmp_path / "p" / rel).st_mode & 0o777 == 0o644, rel


def test_every_scaffold_file_is_shipped_in_the_package(repo_root):
    """setup.cfg's package_data covers every file under ml_gen/scaffold/ (pip install gets the whole project)."""
    import configparser
    import fnmatch

    parser = configparser.ConfigParser()
    parser.read(repo_root / "setup.cfg")
    patterns = [p.strip() for p in parser["options.package_data"]["ml_gen"].splitlines() if p.strip()]
    package = repo_root / "generator" / "ml_gen"
    scaffold = [
        str(p.relative_to(package))
        for p in (package / "scaffold").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert len(scaffold) == len(PROJECT_FILES) - 2  # the schema and metrics.py are copied from ml_gen itself
    for rel in scaffold:
        assert any(
            fnmatch.fnmatchcase(rel, pattern) and rel.count("/") == pattern.count("/") for pattern in patterns
        ), rel


def test_train_py_is_deterministic(project, artifact, tmp_path, capsys, monkeypatch):
    """Training again gives the same model (fixed seeds: equal parameters), and reports its accuracy.

    Pickle bytes are equal between fresh processes, but not always within this test process (pickle
    shares objects by identity), so the parameters are compared."""
    import runpy

    import joblib
    import numpy

    monkeypatch.setattr("sys.dont_write_bytecode", True)
    train = runpy.run_path(str(project / "train.py"), run_name="train")
    train["main"](["--out", str(tmp_path / "again.joblib")])
    first, again = joblib.load(artifact), joblib.load(tmp_path / "again.joblib")
    for step in ("standardscaler", "logisticregression"):
        old, new = vars(first.named_steps[step]), vars(again.named_steps[step])
        assert old.keys() == new.keys()
        for key, value in old.items():
            assert numpy.array_equal(value, new[key]) if isinstance(value, numpy.ndarray) else value == new[key], key
    report = json.loads(capsys.readouterr().out)
    assert report["test_accuracy"] > 0.9
    assert not list(tmp_path.glob("*.partial"))


def test_a_fifo_at_a_target_is_refused_without_opening_it(tmp_path, snapshot):
    root = tmp_path / "p"
    _seed(root)
    os.mkfifo(root / "train.py")
    before = snapshot(root)
    result = run("init", "demo", str(root), "--force")  # opening the FIFO would hang
    assert result.exit_code == 2
    assert result.stderr == f"ml-gen: error: {root / 'train.py'}: is a FIFO; ml-gen will not replace it\n"
    assert snapshot(root) == before


def test_a_directory_name_over_the_os_limit_is_one_line(tmp_path):
    result = run("init", "demo", str(tmp_path / ("d" * 300)))
    assert result.exit_code == 2
    assert result.stderr.startswith("ml-gen: error: ") and result.stderr.count("\n") == 1
    assert "File name too long" in result.stderr


# -- where the workflow installs ml-gen from ----------------------------------------------------

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("direct_url", "requirement"),
    [
        (  # pip install git+https://github.com/example/ml-gen@<commit>
            {"url": "https://github.com/example/ml-gen", "vcs_info": {"vcs": "git", "commit_id": COMMIT}},
            f"ml-gen @ git+https://github.com/example/ml-gen@{COMMIT}",
        ),
        (  # pip install https://.../ml_gen-0.1.0-py3-none-any.whl
            {
                "url": "https://example.org/ml_gen-0.1.0-py3-none-any.whl",
                "archive_info": {"hashes": {"sha256": "f" * 64}},
            },
            f"ml-gen @ https://example.org/ml_gen-0.1.0-py3-none-any.whl#sha256={'f' * 64}",
        ),
        ({"url": "file:///work/ml-gen", "dir_info": {"editable": True}}, None),  # a checkout CI cannot reach
        ({"url": "https://example.org/ml_gen.whl", "archive_info": {}}, None),  # no hash: not verifiable
        ({"url": "https://github.com/x/ml-gen", "vcs_info": {"vcs": "hg", "commit_id": COMMIT}}, None),
        ("not json", None),
    ],
)
def test_the_recorded_source_is_pips_direct_url(direct_url, requirement):
    from ml_gen import origin

    text = direct_url if isinstance(direct_url, str) else json.dumps(direct_url)
    assert origin.requirement_from_direct_url(text) == requirement


def test_init_writes_the_recorded_source_into_the_workflow(tmp_path, monkeypatch):
    recorded = f"ml-gen @ git+https://github.com/example/ml-gen@{COMMIT}"
    monkeypatch.setattr("ml_gen.origin.installed_requirement", lambda: recorded)
    starter.write("demo", tmp_path)
    env = yaml.safe_load((tmp_path / ".github/workflows/deploy.yaml").read_text())["env"]
    assert env["ML_GEN_REQUIREMENT"] == f"${{{{ vars.ML_GEN_REQUIREMENT || '{recorded}' }}}}"


def test_init_takes_a_pinned_requirement_and_refuses_another(tmp_path, monkeypatch):
    monkeypatch.setattr("ml_gen.origin.installed_requirement", lambda: None)
    given = f"ml-gen @ git+ssh://git@example.org/ml-gen@{COMMIT}"
    assert run("init", "demo", str(tmp_path / "a"), "--ml-gen-requirement", given).exit_code == 0
    env = yaml.safe_load((tmp_path / "a/.github/workflows/deploy.yaml").read_text())["env"]
    assert env["ML_GEN_REQUIREMENT"] == f"${{{{ vars.ML_GEN_REQUIREMENT || '{given}' }}}}"
    assert run("init", "demo", str(tmp_path / "b")).exit_code == 0  # unknown: the variable alone
    env = yaml.safe_load((tmp_path / "b/.github/workflows/deploy.yaml").read_text())["env"]
    assert env["ML_GEN_REQUIREMENT"] == "${{ vars.ML_GEN_REQUIREMENT }}"
    for bad in ("ml-gen", "ml-gen==0.1.0", "ml-gen @ git+https://github.com/x/ml-gen@main", "other @ x"):
        result = run("init", "demo", str(tmp_path / "c"), "--ml-gen-requirement", bad)
        assert result.exit_code == 2 and result.stderr.count("\n") == 1, bad
        assert result.stderr.startswith("ml-gen: error: --ml-gen-requirement ")
        assert not (tmp_path / "c").exists()

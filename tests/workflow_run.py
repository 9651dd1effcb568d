"""Runs a job of the scaffold's GitHub workflow here: its `run:` steps in order, as the workflow states them.

What needs GitHub itself is stood in for, and each stand-in is named where it happens:
- `actions/checkout`: the test clones the repository from a local bare remote (`checkout` below);
- `actions/setup-python`: the interpreter running the tests, with ml-gen of this checkout (`python_shims`),
  or a fresh virtualenv in which the job's `pip install` runs for real (`fresh_python`);
- `${{ ... }}` expressions: the values the test gives (`expressions`), e.g. a job output; an expression
  the test does not give fails the run, so nothing is substituted silently;
- GitHub's default variables (GITHUB_SHA, GITHUB_REF, GITHUB_REF_NAME, GITHUB_OUTPUT, ...): set from the
  event the test describes (`Event`);
- `run:` steps run as GitHub runs them on ubuntu: `bash --noprofile --norc -eo pipefail`, in the checkout.
A step with `uses:` is handed to the test's `uses` callback, which does what the action would (or fails)
and returns the step's outputs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class Event:
    """The push the job runs for: the commit, the ref (refs/heads/main or refs/tags/v1.0.0)."""

    sha: str
    ref: str

    @property
    def ref_name(self) -> str:
        return self.ref.split("/", 2)[2]


@dataclass
class JobRun:
    """The run steps' results, in order (up to the first failure), and the job's outputs."""

    steps: list[StepResult]
    outputs: dict[str, str]

    @property
    def ok(self) -> bool:
        return all(step.returncode == 0 for step in self.steps)


@dataclass
class StepResult:
    name: str
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str] = field(default_factory=dict)


def load(workflow: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(workflow.read_text("utf-8"))
    return data


def substitute(text: str, expressions: Mapping[str, str]) -> str:
    """TEXT with every ${{ expr }} replaced by its value (evaluate)."""
    return EXPRESSION.sub(lambda match: evaluate(match.group(1), expressions), text)


def evaluate(expr: str, known: Mapping[str, str]) -> str:
    """The expressions the workflow uses: a name, a 'literal', `a || b` (the first non-empty) and `a != ''`.
    An unset `vars.*` or `secrets.*` is empty, as on GitHub; any other name the test does not give fails."""
    if " != " in expr:
        left, right = expr.split(" != ")
        return "true" if evaluate(left, known) != evaluate(right, known) else "false"
    for operand in (part.strip() for part in expr.split("||")):
        if operand.startswith("'") and operand.endswith("'"):
            value = operand[1:-1].replace("''", "'")
        elif operand in known:
            value = known[operand]
        elif operand.startswith(("vars.", "secrets.")):
            value = ""
        else:
            raise AssertionError(f"the test gives no value for the expression ${{{{ {expr} }}}}")
        if value:
            return value
    return ""


def github_env(event: Event, workspace: Path, scratch: Path) -> dict[str, str]:
    """The default variables GitHub sets for every step (the subset the workflow reads)."""
    return {
        "GITHUB_SHA": event.sha,
        "GITHUB_REF": event.ref,
        "GITHUB_REF_NAME": event.ref_name,
        "GITHUB_EVENT_NAME": "push",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_REPOSITORY": "example/demo",
        "RUNNER_TEMP": str(scratch),
        "CI": "true",
    }


def run_job(
    workflow: dict[str, Any],
    job: str,
    *,
    workspace: Path,
    event: Event,
    expressions: Mapping[str, str],
    base_env: Mapping[str, str],
    uses: Callable[[dict[str, Any]], dict[str, str] | None],
    variables: Mapping[str, str] | None = None,
) -> JobRun:
    """Run JOB's steps in order in WORKSPACE; stop at the first failing step (as GitHub does)."""
    workspace.mkdir(parents=True, exist_ok=True)  # GitHub's workspace exists, empty, before any checkout
    scratch = workspace.parent / f".runner-{job}-{workspace.name}"
    scratch.mkdir(exist_ok=True)
    known = {f"vars.{k}": v for k, v in (variables or {}).items()}
    known.update(expressions)
    env = dict(base_env)
    env.update(github_env(event, workspace, scratch))
    spec = workflow["jobs"][job]
    for level in (workflow.get("env", {}), spec.get("env", {})):
        env.update({k: substitute(str(v), known) for k, v in level.items()})
    results = []
    for index, step in enumerate(spec["steps"]):
        name = step.get("name") or step.get("uses") or step["run"].splitlines()[0]
        if "uses" in step:
            given = uses(step) or {}
            if "id" in step:
                known.update({f"steps.{step['id']}.outputs.{k}": v for k, v in given.items()})
            continue
        output = scratch / f"output-{index}"
        output.write_text("")
        step_env = dict(env, GITHUB_OUTPUT=str(output))
        step_env.update({k: substitute(str(v), known) for k, v in step.get("env", {}).items()})
        script = substitute(step["run"], known)
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=workspace,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        results.append(StepResult(name, done.returncode, done.stdout, done.stderr, outputs))
        if done.returncode != 0:
            return JobRun(results, {})
        if "id" in step:
            known.update({f"steps.{step['id']}.outputs.{k}": v for k, v in outputs.items()})
    return JobRun(results, {k: substitute(str(v), known) for k, v in spec.get("outputs", {}).items()})


def python_shims(bin_dir: Path, log: Path) -> dict[str, str]:
    """Stand-in for actions/setup-python: `python` is the interpreter running the tests, which has this
    checkout's ml-gen and the server's dependencies; `pip` only records what it was asked to install (the
    test checks the requirement), because this machine installs nothing from outside. Returns the env."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    venv = Path(sys.executable).parent
    scripts = {name: f'exec {venv / name} "$@"' for name in ("python", "ml-gen", "pytest")}
    scripts["pip"] = f'printf "%s\\n" "$*" >> {log}'
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONDONTWRITEBYTECODE": "1"}


# The files pip needs to build ml-gen from a Git repository (setup.cfg reads README.md).
PACKAGE_FILES = ("pyproject.toml", "setup.cfg", "README.md", "generator")
FIXED_DATE = "2000-01-01T00:00:00+00:00"  # the commit's id depends on the sources only: pip's wheel cache hits


def ml_gen_repository(checkout: Path, repository: Path) -> str:
    """A Git repository at REPOSITORY holding ml-gen's sources as they are in CHECKOUT (its working tree,
    uncommitted changes included), in one commit; returns the commit id a pinned requirement names."""
    repository.mkdir(parents=True)
    for name in PACKAGE_FILES:
        source = checkout / name
        if source.is_dir():
            shutil.copytree(source, repository / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, repository / name)
    git("init", "--quiet", "--initial-branch=main", cwd=repository)
    git("add", "-A", cwd=repository)
    dates = {"GIT_AUTHOR_DATE": FIXED_DATE, "GIT_COMMITTER_DATE": FIXED_DATE}
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "ml-gen"],
        cwd=repository,
        env={**os.environ, **dates},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return git("rev-parse", "HEAD", cwd=repository)


def fresh_python(venv: Path, libraries: Path, urls: Mapping[str, Path], base_env: Mapping[str, str]) -> dict[str, str]:
    """Stand-in for actions/setup-python where the job's `pip install` runs for real: a new virtualenv at
    VENV (`python`, `pip`; ml-gen not installed), whose pip installs into it. The libraries ml-gen needs come
    from LIBRARIES (a directory of them, without ml-gen: `libraries_without_ml_gen`), so pip finds them
    installed and fetches only ml-gen's build backend for its build; Git fetches each URL prefix in URLS from
    the local repository it maps to (git's url.<base>.insteadOf), so a requirement pinned to github.com
    installs from a repository here. Returns BASE_ENV with VENV's bin first on PATH (BASE_ENV's PATH must
    not hold `python_shims`)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site_packages,) = venv.glob("lib/python*/site-packages")
    (site_packages / "libraries.pth").write_text(f"{libraries}\n")
    pip = venv / "bin" / "pip"
    pip.write_text(f'#!/bin/sh\nexec {venv / "bin" / "python"} -m pip "$@"\n')
    pip.chmod(0o755)
    env = {**base_env, "PATH": f"{venv / 'bin'}{os.pathsep}{base_env['PATH']}", "PYTHONDONTWRITEBYTECODE": "1"}
    env["GIT_CONFIG_COUNT"] = str(len(urls))
    for index, (url, repository) in enumerate(urls.items()):
        env[f"GIT_CONFIG_KEY_{index}"] = f"url.{repository.as_uri()}.insteadOf"
        env[f"GIT_CONFIG_VALUE_{index}"] = url
    return env


def libraries_without_ml_gen(directory: Path) -> Path:
    """DIRECTORY holding links to every library of the interpreter running the tests except ml-gen (pip and
    ml-gen's dependencies among them), for `fresh_python`."""
    directory.mkdir(parents=True)
    (site_packages,) = (p for p in map(Path, sys.path) if p.name == "site-packages" and p.is_relative_to(sys.prefix))
    for entry in site_packages.iterdir():
        if not entry.name.startswith(("ml_gen", "__editable__")):
            (directory / entry.name).symlink_to(entry)
    return directory


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def checkout(remote: Path, workspace: Path, ref: str) -> None:
    """Stand-in for actions/checkout: a clone of the remote at REF (a branch or a tag name), with origin
    pointing at the remote (the action's persisted credentials let `git push origin` work)."""
    git("clone", "--quiet", "--branch", ref, str(remote), str(workspace), cwd=remote.parent)

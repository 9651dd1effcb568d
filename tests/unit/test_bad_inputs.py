"""Bad configs and bad command lines: exit 2, one message naming file, line and field, no traceback, no output."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from ml_gen.cli import main

BASE = """\
name: demo
image:
  repository: myorg/demo
  tag: "1.0"
port: 5000
replicas: 2
environments:
  prod:
    namespace: demo-prod
"""
DIGEST = "sha256:" + "a" * 64


def sub(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def prod(extra: str) -> str:
    """BASE with more lines in the prod environment (which starts on line 10)."""
    return BASE + extra


@dataclass
class Bad:
    id: str
    config: str | bytes
    path: str | None = None  # the field path the message must name
    line: int | None = None  # the line it must name
    words: tuple[str, ...] = ()  # what else the message must say
    args: list[str] = field(default_factory=lambda: ["render", "--all"])
    file: str = "ml-model.yaml"  # the file (or directory) the message must name
    mkdir: str | None = None  # a directory to create before the run
    check_too: bool = True  # also exits 2 with --check (which never writes, so an unwritable --out is fine)


CASES = [
    # YAML itself
    Bad("yaml-syntax-error", sub("port: 5000\n", "port: [5000\n"), line=6, words=("YAML syntax error",)),
    Bad("yaml-bad-indentation", sub('  tag: "1.0"\n', ' tag: "1.0"\n'), line=4, words=("YAML syntax error",)),
    Bad("yaml-tab-indentation", sub('  tag: "1.0"\n', '\ttag: "1.0"\n'), line=4, words=("tab",)),
    Bad("duplicate-key", sub("replicas: 2\n", "replicas: 2\nport: 6000\n"), "port", 7, ("duplicate", "line 5")),
    Bad("duplicate-environment", prod("  prod:\n    namespace: x\n"), "environments.prod", 10, ("duplicate",)),
    Bad("yaml-merge-key", sub("image:\n", "b: &b {x: 1}\nimage:\n  <<: *b\n"), "image", 4, ("merge keys",)),
    Bad("yaml-recursive-alias", sub("port: 5000", "port: 5000\nx: &a [*a]"), "x", 6, ("refers to itself",)),
    Bad("key-read-as-boolean", sub("port: 5000", "port: 5000\nlabels:\n  on: x"), "labels", 7, ("'on'", "quote it")),
    Bad("key-read-as-number", prod("    env:\n      1: x\n"), "environments.prod.env", 11, ("'1'", "quote it")),
    Bad("empty-file", "", line=1, words=("expected a mapping",)),
    Bad("only-comments", "# nothing\n", line=1, words=("expected a mapping",)),
    Bad("top-level-list", "- name: demo\n", line=1, words=("expected a mapping",)),
    Bad("not-utf-8", b"name: d\xe9mo\n", line=1, words=("cannot read", "not UTF-8", "0xe9")),
    # unknown keys and types
    Bad("typo", sub("replicas: 2", "replicsa: 2"), "replicsa", 6, ("unknown key", "did you mean 'replicas'")),
    Bad(
        "typo-in-environment",
        prod("    autoscaling:\n      enabeld: true\n"),
        "environments.prod.autoscaling.enabeld",
        11,
        ("did you mean 'enabled'",),
    ),
    Bad("name-in-environment", prod("    name: other\n"), "environments.prod.name", 10, ("unknown key",)),
    Bad("wrong-type", sub("port: 5000", "port: http"), "port", 5, ("expected an integer", "'http'")),
    Bad("map-expected", sub("replicas: 2", "resources: 2Gi"), "resources", 6, ("expected a mapping",)),
    Bad("env-value-not-a-string", sub("port: 5000", "port: 5000\nenv:\n  WORKERS: 2"), "env.WORKERS", 7, ("quote",)),
    Bad("env-value-yes", sub("port: 5000", "port: 5000\nenv:\n  DEBUG: yes"), "env.DEBUG", 7, ("booleans",)),
    # replicas and autoscaling
    Bad("replicas-negative", sub("replicas: 2", "replicas: -1"), "replicas", 6, ("at least 0", "-1")),
    Bad("replicas-a-string", sub("replicas: 2", 'replicas: "2"'), "replicas", 6, ("expected an integer",)),
    Bad(
        "min-above-max",
        prod("    autoscaling:\n      enabled: true\n      minReplicas: 5\n      maxReplicas: 3\n"),
        "environments.prod.autoscaling.minReplicas",
        12,
        ("greater than maxReplicas (3)",),
    ),
    Bad(
        "max-replicas-zero",
        prod("    autoscaling:\n      maxReplicas: 0\n"),
        "environments.prod.autoscaling.maxReplicas",
        11,
        ("at least 1",),
    ),
    # names
    Bad("invalid-name", sub("name: demo", "name: Demo_Model"), "name", 1, ("'Demo_Model'", "DNS-1035")),
    Bad("name-54-chars", sub("name: demo", "name: " + "a" * 54), "name", 1, ("longer than 53",)),
    Bad("name-starts-with-digit", sub("name: demo", "name: 1demo"), "name", 1, ("'1demo'",)),
    Bad("environment-name-dotdot", prod('  "..":\n    namespace: x\n'), "environments.", 10, ("invalid name '..'",)),
    Bad("environment-name-slash", prod("  a/b:\n    namespace: x\n"), "environments.a/b", 10, ("invalid name",)),
    Bad("environment-no-namespace", sub("namespace: demo-prod", "replicas: 3"), "environments.prod", 8, ("namespace",)),
    Bad("invalid-namespace", sub("namespace: demo-prod", "namespace: Demo_Prod"), "environments.prod.namespace", 9),
    Bad("no-environments", sub("  prod:\n    namespace: demo-prod\n", "  {}\n"), "environments", 7, ("at least one",)),
    # image
    Bad("missing-image", sub('image:\n  repository: myorg/demo\n  tag: "1.0"\n', ""), words=("'image'",)),
    Bad("missing-tag-and-digest", sub('  tag: "1.0"\n', ""), "image", 2, ("image.tag or image.digest",)),
    Bad("tag-and-digest", sub('  tag: "1.0"\n', f'  tag: "1.0"\n  digest: {DIGEST}\n'), "image", 2, ("not both",)),
    Bad("latest-tag", sub('tag: "1.0"', "tag: latest"), "image.tag", 4, ("'latest'", "allowLatestTag")),
    Bad("latest-in-environment", prod("    image:\n      tag: latest\n"), "environments.prod.image.tag", 11),
    Bad("short-digest", sub('tag: "1.0"', "digest: sha256:abc"), "image.digest", 4, ("'sha256:abc'",)),
    # ports, resources, probes
    Bad("port-0", sub("port: 5000", "port: 0"), "port", 5, ("at least 1",)),
    Bad("port-65536", sub("port: 5000", "port: 65536"), "port", 5, ("at most 65535",)),
    Bad(
        "memory-1GB",
        prod("    resources:\n      requests:\n        memory: 1GB\n"),
        "environments.prod.resources.requests.memory",
        12,
        ("'1GB'", "quantity"),
    ),
    Bad(
        "cpu-infinite",
        prod("    resources:\n      requests:\n        cpu: .inf\n"),
        "environments.prod.resources.requests.cpu",
        12,
        ("not a Kubernetes quantity",),
    ),
    Bad(
        "memory-not-a-number",
        prod("    resources:\n      limits:\n        memory: .nan\n"),
        "environments.prod.resources.limits.memory",
        12,
        ("not a Kubernetes quantity",),
    ),
    Bad(
        "requests-above-limits",
        prod("    resources:\n      requests:\n        memory: 4Gi\n      limits:\n        memory: 2Gi\n"),
        "environments.prod.resources.requests.memory",
        12,
        ("above the limit 2Gi",),
    ),
    Bad(
        "probe-path-without-slash",
        sub("port: 5000", "port: 5000\nhealth:\n  livenessPath: health"),
        "health.livenessPath",
        7,
        ("'health'", "starts with '/'"),
    ),
    Bad(
        "liveness-success-threshold",
        sub("port: 5000", "port: 5000\nprobes:\n  liveness: {successThreshold: 2}"),
        "probes.liveness.successThreshold",
        7,
    ),
    # secrets, labels, security
    Bad(
        "literal-secret-value",
        sub("port: 5000", 'port: 5000\nsecretEnv: {API_KEY: "abc"}'),
        "secretEnv.API_KEY",
        6,
        ("literal secret values are never accepted",),
    ),
    Bad(
        "invalid-label-value",
        sub("port: 5000", 'port: 5000\nlabels:\n  team: "data science"'),
        "labels.team",
        7,
        ("invalid label value",),
    ),
    Bad("reserved-label", sub("port: 5000", "port: 5000\nlabels: {app.kubernetes.io/name: x}"), "labels.", 6),
    Bad(
        "root-user-while-restricted",
        prod("    security:\n      runAsUser: 0\n"),
        "environments.prod.security.runAsUser",
        11,
        ("10000", "restricted: false"),
    ),
    Bad("control-character", sub("port: 5000", 'port: 5000\nenv:\n  NOTE: "a\\x7fb"'), "env.NOTE", 7, ("U+007F",)),
    # the command line
    Bad("unknown-environment", BASE, words=("unknown environment 'qa'", "known: prod"), args=["render", "qa"]),
    Bad("unknown-environment-among-known", BASE, words=("'qa'",), args=["render", "prod", "qa"]),
    Bad("missing-config-file", BASE, words=("no such file",), args=["render", "--all", "-c", "nope.yaml"], file="nope"),
    Bad(
        "directory-without-configs",
        BASE,
        words=("no ml-model.yaml found",),
        args=["render", "-c", "models"],
        file="models",
        mkdir="models",
    ),
    Bad(
        "missing-output-directory",
        BASE,
        words=("does not exist",),
        args=["render", "--all", "--out", "missing/out"],
        file="missing/out",
    ),
    # The suite runs as root in CI, where chmod does not stop writes; an --out below a regular file
    # can be written by nobody (and /proc refuses new entries even to root).
    Bad(
        "output-directory-below-a-file",
        BASE,
        words=("ml-model.yaml/out",),
        args=["render", "--all", "--out", "ml-model.yaml/out"],
    ),
    Bad(
        "output-directory-not-writable",
        BASE,
        words=("cannot write", "nothing was changed"),
        args=["render", "--all", "--out", "/proc"],
        file="/proc",
        check_too=False,
    ),
]  # fmt: skip


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def _write(case: Bad, work: Path) -> None:
    data = case.config.encode() if isinstance(case.config, str) else case.config
    (work / "ml-model.yaml").write_bytes(data)
    if case.mkdir:
        (work / case.mkdir).mkdir()


def _check_message(case: Bad, stderr: str) -> None:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one message, got:\n{stderr}"
    message = lines[0]
    assert message.startswith("ml-gen: error: "), message
    assert case.file in message, message
    if case.line is not None:
        assert f"{case.file}:{case.line}: " in message, message
    if case.path is not None:
        assert f" {case.path}" in message, message
    for word in case.words:
        assert word in message, message


def test_there_are_enough_cases():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, workdir, snapshot):
    _write(case, workdir)
    before = snapshot(workdir)
    result = CliRunner().invoke(main, case.args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stdout == ""
    _check_message(case, result.stderr)
    assert snapshot(workdir) == before


@pytest.mark.parametrize("case", [c for c in CASES if c.check_too], ids=[c.id for c in CASES if c.check_too])
def test_bad_input_with_check_writes_nothing_either(case, workdir, snapshot):
    _write(case, workdir)
    before = snapshot(workdir)
    result = CliRunner().invoke(main, [*case.args, "--check"])
    assert result.exit_code == 2, result.output
    _check_message(case, result.stderr)
    assert snapshot(workdir) == before


SUBPROCESS_CASES = ["yaml-syntax-error", "duplicate-key", "typo-in-environment", "min-above-max", "not-utf-8"]


@pytest.mark.parametrize("case", [c for c in CASES if c.id in SUBPROCESS_CASES], ids=SUBPROCESS_CASES)
def test_bad_input_in_a_real_process(case, workdir, snapshot):
    """The same through the installed entry point: real stderr, real exit status."""
    _write(case, workdir)
    before = snapshot(workdir)
    proc = subprocess.run(
        [sys.executable, "-m", "ml_gen", *case.args], capture_output=True, text=True, env=dict(os.environ), timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    _check_message(case, proc.stderr)
    assert snapshot(workdir) == before


def test_a_bad_environment_blocks_only_the_runs_that_include_it(workdir, snapshot):
    """Rule errors are per environment: rendering a good environment works, the bad one is refused."""
    _write(Bad("x", prod("  dev:\n    namespace: demo-dev\n    image: {tag: latest}\n")), workdir)
    assert CliRunner().invoke(main, ["render", "prod"]).exit_code == 0
    before = snapshot(workdir)
    result = CliRunner().invoke(main, ["render", "--all"])
    assert result.exit_code == 2
    assert "environments.dev.image.tag" in result.stderr
    assert snapshot(workdir) == before

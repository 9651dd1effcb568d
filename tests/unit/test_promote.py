"""`ml-gen promote FROM TO`: TO gets the image digest and model FROM runs, as set-image would write them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ml_gen import config
from ml_gen.cli import main

DIGEST = "sha256:" + "ab" * 32


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def dev_built(example) -> Path:
    """The example after CI pinned dev to the digest it pushed and the model it trained."""
    assert run("set-image", "dev", "--digest", DIGEST).exit_code == 0
    assert run("set-model", "dev", "--version", "1.5.0", "--uri", "s3://m/1.5.0/model.joblib").exit_code == 0
    return example


def test_prod_runs_what_dev_ran(dev_built):
    before = dev_built.read_text()
    result = run("promote", "dev", "prod", "--render")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"prod: image.digest (unset) -> {DIGEST}",
        "prod: image.tag 1.4.0 -> (unset)",
        "prod: model.version 1.4.0 -> 1.5.0",
        "prod: model.uri s3://ml-models/iris-classifier/1.4.0/model.joblib -> s3://m/1.5.0/model.joblib",
        "updated ml-model.yaml",
        "rendered 9 files (9 written or removed)",
    ]
    after = dev_built.read_text()
    assert after.replace(
        "    image:\n"
        f'      digest: "{DIGEST}"\n'
        "    model:\n"
        '      version: "1.5.0"\n'
        '      uri: "s3://m/1.5.0/model.joblib"\n',
        "",
        1,
    ).count("\n") == before.count("\n")
    cfg = config.load("ml-model.yaml")
    for key in ("image", "model"):
        assert cfg.resolve("prod").settings[key] | {"name": None} == cfg.resolve("dev").settings[key] | {"name": None}
    deployment = (dev_built.parent / "manifests/prod/deployment-ml-model-api.yaml").read_text()
    assert f"myorg/ml-model-api@{DIGEST}" in deployment


def test_promoting_again_changes_nothing(dev_built):
    assert run("promote", "dev", "prod").exit_code == 0
    before, mtime = dev_built.read_bytes(), dev_built.stat().st_mtime_ns
    result = run("promote", "dev", "prod")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "ml-model.yaml already says so; not rewritten"
    assert all(line.endswith("(unchanged)") for line in result.stdout.splitlines()[:-1])
    assert dev_built.read_bytes() == before and dev_built.stat().st_mtime_ns == mtime


def test_a_tag_is_promoted_only_when_allowed(example):
    before, mtime = example.read_bytes(), example.stat().st_mtime_ns
    result = run("promote", "staging", "prod")
    assert result.exit_code == 2
    assert result.stderr == (
        "ml-gen: error: ml-model.yaml: environments.staging.image: runs the tag '1.4.0', not a digest; promotion "
        "is by digest (ml-gen set-image staging --digest sha256:...), or pass --allow-tag to copy the tag\n"
    )
    assert example.read_bytes() == before and example.stat().st_mtime_ns == mtime
    result = run("promote", "staging", "prod", "--allow-tag")
    assert result.exit_code == 0, result.output
    assert config.load("ml-model.yaml").resolve("prod").settings["image"]["tag"] == "1.4.0"


def test_a_digest_replaces_the_tag_in_its_place(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (
        "name: a\nimage: {repository: r, tag: '1'}\nenvironments:\n"
        f"  dev:\n    namespace: d\n    image: {{digest: '{DIGEST}'}}\n"
        "  prod:\n    namespace: p\n    image:\n      tag: '0.9'   # the last release\n"
    )
    (tmp_path / "ml-model.yaml").write_text(text)
    assert run("promote", "dev", "prod").exit_code == 0
    assert (tmp_path / "ml-model.yaml").read_text() == text.replace("tag: '0.9'", f"digest: '{DIGEST}'")


def test_another_repository_is_copied_with_the_digest(tmp_path, monkeypatch):
    """A digest names an image of one repository: TO gets FROM's repository with it."""
    monkeypatch.chdir(tmp_path)
    text = (
        "name: a\nimage: {repository: r, tag: '1'}\nenvironments:\n"
        f"  dev:\n    namespace: d\n    image: {{repository: dev/r, digest: '{DIGEST}'}}\n"
        "  prod:\n    namespace: p\n"
    )
    (tmp_path / "ml-model.yaml").write_text(text)
    result = run("promote", "dev", "prod")
    assert result.exit_code == 0, result.output
    assert (
        (tmp_path / "ml-model.yaml")
        .read_text()
        .endswith(f'  prod:\n    namespace: p\n    image: {{repository: dev/r, digest: "{DIGEST}"}}\n')
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["promote", "dev", "dev"], "promote: FROM and TO are both 'dev'"),
        (["promote", "nope", "prod"], "unknown environment 'nope'"),
        (["promote", "dev", "nope"], "unknown environment 'nope'"),
        (["promote", "dev"], "Missing argument 'TO'"),
    ],
)
def test_bad_promotions_change_nothing(dev_built, args, message):
    before, mtime = dev_built.read_bytes(), dev_built.stat().st_mtime_ns
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert dev_built.read_bytes() == before and dev_built.stat().st_mtime_ns == mtime


def test_promotion_carries_the_checksum_with_the_uri(dev_built):
    url, sha = "https://models.example.com/iris/1.6.0/model.joblib", "e" * 64
    assert run("set-model", "dev", "--version", "1.6.0", "--uri", url, "--sha256", sha).exit_code == 0
    result = run("promote", "dev", "prod")
    assert result.exit_code == 0, result.output
    assert "prod: model.sha256 (unset) -> " + sha in result.stdout
    model = config.load("ml-model.yaml").resolve("prod").settings["model"]
    assert (model["uri"], model["sha256"]) == (url, sha)


def test_promotion_never_leaves_a_checksum_of_another_file(dev_built):
    """prod pins an https download; dev runs an S3 object without a checksum: copying dev's uri would leave
    prod's checksum on a file it does not belong to (and the edit cannot delete a key)."""
    url = "https://models.example.com/iris/1.4.0/model.joblib"
    assert run("set-model", "prod", "--version", "1.4.0", "--uri", url, "--sha256", "f" * 64).exit_code == 0
    before = dev_built.read_bytes()
    result = run("promote", "dev", "prod")
    assert result.exit_code == 2
    assert f"environments.prod.model.sha256: is the checksum of {url}" in result.stderr
    assert dev_built.read_bytes() == before

"""`ml-gen set-image` and `set-model`: the file keeps every byte but the changed scalars, bad input changes nothing."""

from __future__ import annotations

import difflib
import os
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ml_gen import config, edit, yamlsplice
from ml_gen.cli import main
from ml_gen.errors import OutputError

DIGEST = "sha256:" + "ab" * 32

# Four-space mappings, sequences indented two with the dash, single quotes, flow maps, comments above, beside
# and below keys, blank lines, an environment without an image, one with a flow image map, a comment at the end.
COMMENTED = """\
# yaml-language-server: $schema=ml-model.schema.json
# A config written by hand, the way people do.

name: churn-model   # the release

model:
    name: churn
    version: '0.9'      # bumped by CI
    uri: file:///models/churn/0.9/model.joblib
    framework: sklearn

image: {repository: registry.example.com/ds/churn, tag: '0.9'}

tolerations:
  - key: dedicated          # a dedicated node pool
    operator: Equal
    value: ml
    effect: NoSchedule

resources:
    requests: {cpu: 250m, memory: 256Mi}
    limits: {memory: 512Mi}

environments:
    # development: newest build
    dev:
        namespace: churn-dev   # shared cluster

        # one replica is enough
        replicas: 1
    qa:
        namespace: churn-qa
        image: {tag: '0.8'}     # qa lags one version
    prod:
        namespace: churn-prod
        model:
            version: '0.8'
        image:
            digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000"  # pinned

# end of file: nothing below
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def changed_lines(before: str, after: str) -> list[str]:
    """The lines a unified diff removes (-) and adds (+), in order."""
    return [
        line.rstrip("\n")
        for line in difflib.unified_diff(before.splitlines(True), after.splitlines(True), n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


@pytest.fixture
def commented(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "ml-model.yaml"
    path.write_text(COMMENTED)
    return path


# -- what changes: exactly the edited scalars ------------------------------------------------------


def test_example_tag_changes_one_line(example):
    before = example.read_text()
    result = run("set-image", "dev", "--tag", "1.5.0")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["dev: image.tag latest -> 1.5.0", "updated ml-model.yaml"]
    assert changed_lines(before, example.read_text()) == [
        "-      tag: latest                  # dev follows the newest build, explicitly allowed below",
        '+      tag: "1.5.0"                 # dev follows the newest build, explicitly allowed below',
    ]


def test_example_digest_in_an_environment_without_image(example):
    before = example.read_text()
    result = run("set-image", "staging", "prod", "--digest", DIGEST)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"staging: image.digest (unset) -> {DIGEST}",
        "staging: image.tag 1.4.0 -> (unset)",
        f"prod: image.digest (unset) -> {DIGEST}",
        "prod: image.tag 1.4.0 -> (unset)",
        "updated ml-model.yaml",
    ]
    assert changed_lines(before, example.read_text()) == [
        "+    image:",
        f'+      digest: "{DIGEST}"',
        "+    image:",
        f'+      digest: "{DIGEST}"',
    ]
    after = example.read_text()
    assert f'  staging:\n    namespace: ml-staging\n    image:\n      digest: "{DIGEST}"\n\n  prod:\n' in after
    resolved = config.parse(after).resolve("staging").settings["image"]
    assert resolved["digest"] == DIGEST and "tag" not in resolved


def test_example_set_model(example):
    before = example.read_text()
    result = run("set-model", "prod", "--version", "1.5.0", "--uri", "s3://ml-models/iris-classifier/1.5.0/m.joblib")
    assert result.exit_code == 0, result.output
    assert changed_lines(before, example.read_text()) == [
        "+    model:",
        '+      version: "1.5.0"',
        '+      uri: "s3://ml-models/iris-classifier/1.5.0/m.joblib"',
    ]
    settings = config.load("ml-model.yaml").resolve("prod").settings
    assert settings["model"]["version"] == "1.5.0" and settings["model"]["name"] == "iris-classifier"


def test_set_model_pins_a_download_and_refuses_a_stale_checksum(example):
    """CI's bump after registering a model: only the model changes; a checksum never outlives its file."""
    sha = "d" * 64
    url = "https://models.example.com/iris/1.5.0/model.joblib"
    result = run("set-model", "prod", "--version", "1.5.0", "--uri", url, "--sha256", sha)
    assert result.exit_code == 0, result.output
    settings = config.load("ml-model.yaml").resolve("prod").settings
    assert (settings["model"]["uri"], settings["model"]["sha256"]) == (url, sha)
    assert settings["image"] == config.load("ml-model.yaml").resolve("staging").settings["image"]
    before = example.read_bytes()
    result = run("set-model", "prod", "--version", "1.6.0", "--uri", url.replace("1.5.0", "1.6.0"))
    assert result.exit_code == 2
    assert "environments.prod.model.sha256: is the checksum of " + url in result.stderr
    assert example.read_bytes() == before


def test_commented_config_keeps_its_layout(commented):
    before = commented.read_text()
    assert run("set-image", "dev", "--tag", "1.0", "-c", "ml-model.yaml").exit_code == 0
    assert run("set-image", "qa", "--tag", "0.9").exit_code == 0
    result = run("set-image", "prod", "--tag", "0.9")
    assert result.exit_code == 0, result.output
    assert run("set-model", "prod", "dev", "--version", "1.0").exit_code == 0
    assert changed_lines(before, commented.read_text()) == [
        "+        model:",
        "+            version: '1.0'",  # quoted like the base layer's model.version
        "+        image: {tag: '1.0'}",  # a flow map like the base layer's image
        "-        image: {tag: '0.8'}     # qa lags one version",
        "+        image: {tag: '0.9'}     # qa lags one version",
        "-            version: '0.8'",
        "+            version: '1.0'",
        '-            digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000"  # pinned',
        '+            tag: "0.9"  # pinned',
    ]


def test_commented_config_new_block_keeps_the_blank_line_and_comment_after_it(commented):
    assert run("set-model", "dev", "--version", "1.0").exit_code == 0
    assert (
        "        namespace: churn-dev   # shared cluster\n"
        "        model:\n"
        "            version: '1.0'\n"
        "\n"
        "        # one replica is enough\n"
        "        replicas: 1\n"
    ) in commented.read_text()


@pytest.mark.parametrize(
    "transform",
    [
        lambda t: t.replace("\n", "\r\n"),
        lambda t: t.rstrip("\n"),
        lambda t: "\ufeff" + t,
        lambda t: "# before the start marker\n\n--- # start\n" + t + "...\n# after the end marker\n",
    ],
    ids=["crlf", "no-final-newline", "bom", "document-markers"],
)
def test_line_ends_bom_and_final_newline_are_kept(commented, transform):
    before = transform(COMMENTED)
    commented.write_bytes(before.encode())
    assert run("set-image", "qa", "--tag", "0.9").exit_code == 0
    after = commented.read_bytes().decode()
    assert after == before.replace("{tag: '0.8'}", "{tag: '0.9'}")


def test_flow_style_environment_gets_a_flow_image(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (
        "name: a\nimage:\n  repository: r\n  tag: '1'\n"
        "environments:\n  dev: {namespace: d}   # small\n  qa:\n    namespace: q\n"
    )
    (tmp_path / "ml-model.yaml").write_text(text)
    assert run("set-image", "dev", "qa", "--tag", "2").exit_code == 0
    assert changed_lines(text, (tmp_path / "ml-model.yaml").read_text()) == [
        "-  dev: {namespace: d}   # small",
        "+  dev: {namespace: d, image: {tag: '2'}} # small",  # the comment moves right of the longer line
        "+    image:",
        "+      tag: '2'",
    ]


def test_unchanged_value_is_not_rewritten(example):
    assert run("set-image", "dev", "--tag", "1.5.0").exit_code == 0
    mtime = example.stat().st_mtime_ns
    result = run("set-image", "dev", "--tag", "1.5.0")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "dev: image.tag 1.5.0 (unchanged)",
        "ml-model.yaml already says so; not rewritten",
    ]
    assert example.stat().st_mtime_ns == mtime


def test_mode_is_kept_and_a_symlink_stays_a_link(tmp_path, monkeypatch, repo_root):
    monkeypatch.chdir(tmp_path)
    real = tmp_path / "real.yaml"
    shutil.copy(repo_root / "ml-model.yaml", real)
    real.chmod(0o640)
    (tmp_path / "ml-model.yaml").symlink_to(real.name)
    assert run("set-image", "dev", "--tag", "2.0").exit_code == 0
    assert (tmp_path / "ml-model.yaml").is_symlink()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert 'tag: "2.0"' in real.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "ml-model.yaml", "real.yaml"]


def test_render_flag_renders_the_edited_environments(example):
    result = run("set-image", "staging", "--tag", "1.6.0", "--render")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (example.parent / "values").iterdir() if p.suffix == ".yaml") == ["staging.yaml"]
    deployment = (example.parent / "manifests/staging/deployment-ml-model-api.yaml").read_text()
    assert "myorg/ml-model-api:1.6.0" in deployment


# -- what is refused: exit 2, one line, the file untouched ----------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["set-image", "nope", "--tag", "1"], "unknown environment 'nope'"),
        (["set-image", "dev", "--tag", "a b"], "ml-model.yaml: image.tag: --tag 'a b' is not an image tag"),
        (["set-image", "dev", "--tag", "-x"], "is not an image tag"),
        (["set-image", "dev", "--digest", "sha256:abc"], "ml-model.yaml: image.digest: --digest"),
        (["set-image", "dev", "--digest", "1.0"], "ml-model.yaml: image.digest: --digest"),
        (["set-image", "dev"], "exactly one of --tag or --digest"),
        (["set-image", "dev", "--tag", "1", "--digest", DIGEST], "exactly one of --tag or --digest"),
        (["set-image", "prod", "--tag", "latest"], "environments.prod.image.tag: the tag 'latest' is not"),
        (["set-model", "dev", "--version", " "], "ml-model.yaml: model.version: --version must not be empty"),
        (["set-model", "dev", "--version", "1", "--uri", ""], "ml-model.yaml: model.uri: --uri must not be empty"),
        (["set-image", "dev", "--tag", "1", "-c", "missing.yaml"], "missing.yaml: no such file"),
        (["set-model", "dev", "--version", "2", "--sha256", "abc"], "model.sha256: --sha256 'abc' is not a sha256"),
        (  # an unpinned download is refused after the edit, like in render
            ["set-model", "dev", "--version", "2", "--uri", "https://models.example.com/iris.joblib"],
            "environments.dev.model.uri: an https:// download needs model.sha256",
        ),
    ],
)
def test_bad_input_changes_nothing(example, args, message):
    before, mtime = example.read_bytes(), example.stat().st_mtime_ns
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert example.read_bytes() == before and example.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in example.parent.iterdir()) == ["home", "ml-model.yaml"]


def test_error_after_the_edit_says_the_file_was_not_changed(example):
    result = run("set-image", "prod", "--tag", "latest")
    assert result.stderr.startswith("ml-gen: error: ml-model.yaml:")
    assert result.stderr.rstrip().endswith("(after the edit; ml-model.yaml was not changed)")


def test_a_config_that_is_already_invalid_is_refused(example):
    example.write_text(example.read_text().replace("replicas: 2", "replica: 2"))
    before = example.read_bytes()
    result = run("set-image", "dev", "--tag", "1")
    assert result.exit_code == 2 and "unknown key 'replica'" in result.stderr
    assert example.read_bytes() == before


def test_an_aliased_image_map_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (
        "name: a\nimage: {repository: r, tag: '1'}\nenvironments:\n"
        "  dev:\n    namespace: d\n    image: &img {tag: '2'}\n  qa:\n    namespace: q\n    image: *img\n"
    )
    (tmp_path / "ml-model.yaml").write_text(text)
    result = run("set-image", "dev", "--tag", "3")
    assert result.exit_code == 2
    assert "environments.dev.image: is a YAML alias shared with another place" in result.stderr
    assert (tmp_path / "ml-model.yaml").read_text() == text


def test_several_configs_are_refused(tmp_path, monkeypatch, repo_root):
    monkeypatch.chdir(tmp_path)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        shutil.copy(repo_root / "ml-model.yaml", tmp_path / name / "ml-model.yaml")
    result = run("set-image", "dev", "--tag", "1", "-c", ".")
    assert result.exit_code == 2 and "one config at a time; 2 given or found" in result.stderr


def test_write_refuses_a_file_changed_meanwhile(example):
    pending = edit.set_image("ml-model.yaml", ["dev"], tag="9.9")
    example.write_text(example.read_text() + "# someone else\n")
    with pytest.raises(OutputError, match="changed on disk"):
        edit.write(pending)
    assert "9.9" not in example.read_text()
    assert [p.name for p in example.parent.iterdir() if p.name.startswith(".")] == []


def test_library_edit_is_checked_before_writing(example):
    pending = edit.set_image("ml-model.yaml", ["dev", "staging"], tag="3.1")
    assert pending.changed and pending.envs == ["dev", "staging"]
    assert [str(c) for c in pending.changes] == ["dev: image.tag latest -> 3.1", "staging: image.tag 1.4.0 -> 3.1"]
    assert "3.1" not in example.read_text()
    assert edit.write(pending) is True
    assert config.load("ml-model.yaml").resolve("staging").settings["image"]["tag"] == "3.1"
    assert os.access(example, os.R_OK)


def test_an_edit_that_would_change_other_values_is_refused(example, monkeypatch):
    """The guard behind the splices: the edited file must read back as the old data plus the edit."""
    apply = yamlsplice.apply
    monkeypatch.setattr(
        yamlsplice, "apply", lambda text, splices: apply(text, splices).replace("replicas: 2", "replicas: 3")
    )
    before = example.read_bytes()
    result = run("set-image", "dev", "--tag", "1.5.0")
    assert result.exit_code == 3
    assert result.stderr.strip() == (
        "ml-gen: error: ml-model.yaml: the edit would change other values; edit the file by hand (not changed)"
    )
    assert example.read_bytes() == before


# -- issue 15, point 4: layouts the round trip used to rewrite or refuse ----------------------------

SMALL = "name: a\nimage: {repository: r, tag: '1'}\nenvironments:\n  dev:\n    namespace: d\n"


@pytest.mark.parametrize(
    "before, after",
    [
        (  # mixed sequence indentation: one list indented under its key, one not
            "name: a\nimage: {repository: r, tag: '1'}\ntolerations:\n- key: a\n  operator: Exists\n"
            "environments:\n  dev:\n    namespace: d\n    image: {tag: '2'}\n    tolerations:\n      - key: b\n"
            "        operator: Exists\n",
            "name: a\nimage: {repository: r, tag: '1'}\ntolerations:\n- key: a\n  operator: Exists\n"
            "environments:\n  dev:\n    namespace: d\n    image: {tag: '9'}\n    tolerations:\n      - key: b\n"
            "        operator: Exists\n",
        ),
        (  # mixed line ends: the new lines take the line end of the line they follow
            "name: a\r\nimage: {repository: r, tag: '1'}\nenvironments:\n  dev:\r\n    namespace: d\r\n"
            "    replicas: 1\n",
            "name: a\r\nimage: {repository: r, tag: '1'}\nenvironments:\n  dev:\r\n    namespace: d\r\n"
            "    image: {tag: '9'}\r\n    replicas: 1\n",
        ),
        (  # trailing spaces
            "name: a   \nimage:  \n  repository: r \n  tag: '1'  \nenvironments:  \n  dev: \n    namespace: d  \n"
            "    image:  \n      tag: '2'   \n",
            "name: a   \nimage:  \n  repository: r \n  tag: '1'  \nenvironments:  \n  dev: \n    namespace: d  \n"
            "    image:  \n      tag: '9'   \n",
        ),
        (  # a flow map over several lines
            "name: a\nimage: {repository: r,\n  tag: '1'}\nenvironments: {dev: {namespace: d,\n    image: {\n"
            "      tag: '2'}   # two\n  }}\n",
            "name: a\nimage: {repository: r,\n  tag: '1'}\nenvironments: {dev: {namespace: d,\n    image: {\n"
            "      tag: '9'}   # two\n  }}\n",
        ),
        (  # explicit keys
            "name: a\n? image\n: repository: r\n  tag: '1'\nenvironments:\n  ? dev\n  : namespace: d\n    image:\n"
            "      ? tag\n      : '2'  # two\n",
            "name: a\n? image\n: repository: r\n  tag: '1'\nenvironments:\n  ? dev\n  : namespace: d\n    image:\n"
            "      ? tag\n      : '9'  # two\n",
        ),
        (  # unused anchors, and a tag
            "name: &n a\nimage: &base {repository: r, tag: &t '1'}\nenvironments:\n  dev: &d\n    namespace: d\n"
            "    image: &i {tag: &u !!str '2'}\n",
            "name: &n a\nimage: &base {repository: r, tag: &t '1'}\nenvironments:\n  dev: &d\n    namespace: d\n"
            "    image: &i {tag: &u !!str '9'}\n",
        ),
        (  # a tab before a comment (YAML allows it; render reads it)
            "name: a\nimage: {repository: r, tag: '1'}\t# base\nenvironments:\n  dev:\n    namespace: d\t# ns\n"
            "    image:\n      tag: '2'\t# two\n",
            "name: a\nimage: {repository: r, tag: '1'}\t# base\nenvironments:\n  dev:\n    namespace: d\t# ns\n"
            "    image:\n      tag: '9'\t# two\n",
        ),
        (  # a byte-order mark and no final line break, with a new section
            "\ufeffname: a\nimage: {repository: r, tag: '1'}\nenvironments:\n  dev:\n    namespace: d",
            "\ufeffname: a\nimage: {repository: r, tag: '1'}\nenvironments:\n  dev:\n    namespace: d\n"
            "    image: {tag: '9'}",
        ),
        (  # an alias to the base layer's scalar: the alias is replaced, the anchor kept
            "name: a\nimage: {repository: r, tag: &t '1'}\nenvironments:\n  dev:\n    namespace: d\n"
            "    image: {tag: *t}   # as base\n",
            "name: a\nimage: {repository: r, tag: &t '1'}\nenvironments:\n  dev:\n    namespace: d\n"
            '    image: {tag: "9"}  # as base\n',
        ),
    ],
    ids=[
        "mixed-sequence-indent",
        "mixed-line-ends",
        "trailing-spaces",
        "multi-line-flow-map",
        "explicit-keys",
        "unused-anchors",
        "tab-before-comment",
        "bom-no-final-newline",
        "alias-to-base",
    ],
)
def test_layouts_the_round_trip_rewrote_or_refused(tmp_path, monkeypatch, before, after):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ml-model.yaml").write_bytes(before.encode())
    result = run("set-image", "dev", "--tag", "9")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ml-model.yaml").read_bytes().decode() == after


def test_an_inherited_value_now_set_in_the_environment_says_so(example):
    """Was: "(unchanged)", then the file was rewritten with a new image map."""
    result = run("set-image", "staging", "--tag", "1.4.0")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "staging: image.tag 1.4.0 (unchanged; now set in environments.staging)",
        "updated ml-model.yaml",
    ]
    assert '  staging:\n    namespace: ml-staging\n    image:\n      tag: "1.4.0"\n' in example.read_text()


def test_nothing_is_printed_before_a_write_that_fails(example, monkeypatch):
    """Was: the change printed, then the write failed."""

    def fail(*args, **kwargs):
        raise OutputError("ml-model.yaml: cannot write (Disk quota exceeded); nothing was changed")

    monkeypatch.setattr("ml_gen.output.atomic.write_files", fail)
    before, mtime = example.read_bytes(), example.stat().st_mtime_ns
    result = run("set-image", "dev", "--tag", "1.5.0")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "ml-gen: error: ml-model.yaml: cannot write (Disk quota exceeded); nothing was changed\n"
    assert example.read_bytes() == before and example.stat().st_mtime_ns == mtime


def test_render_that_is_refused_leaves_the_config_too(example):
    """Was: config written, render refused, exit 2 with config and manifests out of sync."""
    (example.parent / "manifests/staging").mkdir(parents=True)
    (example.parent / "manifests/staging/deployment-ml-model-api.yaml").symlink_to("/dev/null")
    before, mtime = example.read_bytes(), example.stat().st_mtime_ns
    result = run("set-image", "staging", "--tag", "1.6.0", "--render")
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "is a symlink; ml-gen does not write through links" in result.stderr
    assert example.read_bytes() == before and example.stat().st_mtime_ns == mtime
    assert not (example.parent / "values").exists()
    assert sorted(p.name for p in (example.parent / "manifests/staging").iterdir()) == ["deployment-ml-model-api.yaml"]


def test_render_writes_the_config_and_the_output_in_one_transaction(example, monkeypatch):
    """One call to the atomic writer carries the config and every rendered file."""
    from ml_gen.output import atomic

    calls = []
    write_files = atomic.write_files

    def recording(writes, removals=(), **kwargs):
        writes = list(writes)
        calls.append(sorted(str(w.relative) for w in writes))
        return write_files(writes, removals, **kwargs)

    monkeypatch.setattr(atomic, "write_files", recording)
    assert run("set-image", "staging", "--tag", "1.6.0", "--render").exit_code == 0
    assert len(calls) == 1 and "ml-model.yaml" in calls[0] and "values/staging.yaml" in calls[0]

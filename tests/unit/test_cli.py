"""The command line through click's CliRunner: every command, exit codes, output trees."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from ml_gen import config
from ml_gen.cli import main

EXAMPLE_ENVS = {"dev": "ml-dev", "staging": "ml-staging", "prod": "ml-prod"}


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def example(tmp_path, monkeypatch, repo_root) -> Path:
    """A working directory holding a copy of the bundled example config (and nothing else)."""
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(repo_root / "ml-model.yaml", work / "ml-model.yaml")
    monkeypatch.chdir(work)
    return work


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _model(root: Path, name: str, envs: dict[str, str] | None = None) -> Path:
    """root/ml-model.yaml for a small model called `name`."""
    root.mkdir(parents=True, exist_ok=True)
    data = {
        "name": name,
        "image": {"repository": f"myorg/{name}", "tag": "1.0"},
        "environments": {env: {"namespace": ns} for env, ns in (envs or {"dev": f"{name}-dev"}).items()},
    }
    path = root / "ml-model.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


# -- render -------------------------------------------------------------------------------------


def test_render_one_environment(example):
    result = run("render", "dev")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("rendered 6 files")
    assert _files(example) == [
        "manifests/dev/deployment-ml-model-api.yaml",
        "manifests/dev/networkpolicy-ml-model-api.yaml",
        "manifests/dev/service-ml-model-api.yaml",
        "manifests/dev/serviceaccount-ml-model-api.yaml",
        "ml-model.yaml",
        "values/dev.yaml",
        "values/values.schema.json",
    ]


def test_render_several_environments(example):
    assert run("render", "dev", "prod").exit_code == 0
    assert sorted(p.name for p in (example / "values").iterdir()) == ["dev.yaml", "prod.yaml", "values.schema.json"]
    assert not (example / "manifests/staging").exists()


@pytest.mark.parametrize("out", [None, "elsewhere/out"], ids=["beside-the-config", "out-elsewhere"])
def test_every_values_file_points_at_a_schema_that_exists_and_accepts_it(example, tmp_path, repo_root, out):
    import jsonschema

    args = ["render", "--all"] + (["--out", str(tmp_path / out)] if out else [])
    if out:
        (tmp_path / out).mkdir(parents=True)
    assert run(*args).exit_code == 0
    root = tmp_path / out if out else example
    for values_file in sorted((root / "values").glob("*.yaml")):
        first = values_file.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema=")
        schema_file = values_file.parent / first.split("$schema=", 1)[1]
        assert schema_file.is_file(), first
        assert schema_file.read_bytes() == (repo_root / "charts/ml-model-api/values.schema.json").read_bytes()
        jsonschema.Draft7Validator(json.loads(schema_file.read_text())).validate(
            yaml.safe_load(values_file.read_text())
        )


def test_committed_values_point_at_the_committed_schema_copy(repo_root):
    first = (repo_root / "values/prod.yaml").read_text().splitlines()[0]
    assert (repo_root / "values" / first.split("$schema=", 1)[1]).is_file()


def test_render_all_matches_the_committed_example_output(example, repo_root):
    result = run("render", "--all")
    assert result.exit_code == 0, result.output
    rendered = [f for f in _files(example) if f != "ml-model.yaml"]
    committed = _files(repo_root / "values") and [
        str(p.relative_to(repo_root)) for d in ("values", "manifests") for p in (repo_root / d).rglob("*.[jy]*")
    ]
    assert rendered == sorted(committed)
    for rel in rendered:
        assert (example / rel).read_bytes() == (repo_root / rel).read_bytes(), rel


def test_render_out(example, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert run("render", "staging", "--out", str(out)).exit_code == 0
    assert (out / "values/staging.yaml").is_file()
    assert _files(example) == ["ml-model.yaml"]


def test_render_needs_environments_or_all(example):
    result = run("render")
    assert result.exit_code == 2
    assert "name an environment (dev, staging, prod) or use --all" in result.stderr
    result = run("render", "dev", "--all")
    assert result.exit_code == 2
    assert "not both" in result.stderr
    assert _files(example) == ["ml-model.yaml"]


def test_render_removes_stale_files_of_the_rendered_environments(example):
    assert run("render", "--all").exit_code == 0
    ingress = example / "manifests/prod/ingress-ml-model-api.yaml"
    notes = example / "manifests/prod/NOTES.md"
    notes.write_text("kept: not a manifest\n")
    assert ingress.exists()
    text = (example / "ml-model.yaml").read_text()
    (example / "ml-model.yaml").write_text(
        text.replace("      enabled: true\n      className", "      enabled: false\n      className")
    )
    dev_before = (example / "manifests/dev").stat().st_mtime_ns, _files(example / "manifests/dev")

    result = run("render", "prod")
    assert result.exit_code == 0, result.output
    assert not ingress.exists()
    assert notes.exists()
    assert ((example / "manifests/dev").stat().st_mtime_ns, _files(example / "manifests/dev")) == dev_before


def test_render_twice_writes_nothing_the_second_time(example):
    assert run("render", "--all").exit_code == 0
    result = run("render", "--all")
    assert result.exit_code == 0
    assert "20 files (0 written or removed)" in result.stdout


# -- render --check -----------------------------------------------------------------------------


def test_check_up_to_date(example, snapshot):
    assert run("render", "--all").exit_code == 0
    before = snapshot(example)
    result = run("render", "--all", "--check")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("up to date: 20 files")
    assert snapshot(example) == before


def test_check_nothing_rendered_yet(example, snapshot):
    before = snapshot(example)
    result = run("render", "dev", "--check")
    assert result.exit_code == 1
    assert "--- /dev/null\n+++ b/values/dev.yaml\n" in result.stdout
    assert "+++ b/manifests/dev/deployment-ml-model-api.yaml\n" in result.stdout
    assert result.stderr == "ml-gen: error: 1 output tree(s) out of date; run the same command without --check\n"
    assert snapshot(example) == before


def test_check_stale_content_changed_and_extra_files(example, snapshot):
    assert run("render", "--all").exit_code == 0
    deployment = example / "manifests/prod/deployment-ml-model-api.yaml"
    deployment.write_text(deployment.read_text().replace("maxSurge: 1", "maxSurge: 3"))
    (example / "manifests/staging/service-ml-model-api.yaml").unlink()
    header = "# Generated by ml-gen from ml-model.yaml (environment dev). Do not edit: change it.\n"
    (example / "manifests/dev/configmap-old.yaml").write_text(header + "kind: ConfigMap\n")
    (example / "manifests/dev/kustomization.yaml").write_text("resources: []\n")  # not ml-gen's: left alone
    before = snapshot(example)

    result = run("render", "--all", "--check")
    assert result.exit_code == 1
    assert "ml-gen: note: left manifests/dev/kustomization.yaml (not written by ml-gen" in result.stderr
    diff = result.stdout
    assert (
        "--- a/manifests/prod/deployment-ml-model-api.yaml\n+++ b/manifests/prod/deployment-ml-model-api.yaml\n" in diff
    )
    assert "-      maxSurge: 3\n+      maxSurge: 1\n" in diff
    assert "--- /dev/null\n+++ b/manifests/staging/service-ml-model-api.yaml\n" in diff
    assert "--- a/manifests/dev/configmap-old.yaml\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-# Generated" in diff
    assert diff.count("\n--- ") + diff.startswith("--- ") == 3
    assert snapshot(example) == before


def test_check_after_a_config_change(example):
    assert run("render", "--all").exit_code == 0
    text = (example / "ml-model.yaml").read_text()
    (example / "ml-model.yaml").write_text(text.replace("LOG_LEVEL: debug", "LOG_LEVEL: trace"))
    result = run("render", "--all", "--check")
    assert result.exit_code == 1
    assert "-          value: debug\n+          value: trace\n" in result.stdout
    assert run("render", "--all").exit_code == 0
    assert run("render", "--all", "--check").exit_code == 0


def test_check_with_a_directory_in_place_of_a_file(example):
    assert run("render", "dev").exit_code == 0
    target = example / "manifests/dev/service-ml-model-api.yaml"
    target.unlink()
    target.mkdir()
    result = run("render", "dev", "--check")
    assert result.exit_code in (1, 2), result.output
    assert "internal error" not in result.stderr
    assert "Traceback" not in result.output


def test_an_output_file_that_is_not_utf8(example):
    assert run("render", "dev").exit_code == 0
    target = example / "manifests/dev/service-ml-model-api.yaml"
    good = target.read_bytes()
    target.write_bytes(good.split(b"\n")[0] + b"\n\xff\xfe binary\n")  # ml-gen's header, then junk
    check = run("render", "dev", "--check")
    assert check.exit_code == 1, check.output
    assert "service-ml-model-api.yaml" in check.stdout
    result = run("render", "dev")
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == good


def test_a_file_ml_gen_did_not_write_is_never_replaced(example, snapshot):
    assert run("render", "dev").exit_code == 0
    target = example / "manifests/dev/service-ml-model-api.yaml"
    target.write_bytes(b"\xff\xfe hand-written, no header\n")
    before = snapshot(example)
    for args in (["render", "dev"], ["render", "dev", "--check"], ["render", "--all", "--prune"]):
        result = run(*args)
        assert result.exit_code == 2, result.output
        assert result.stderr.count("\n") == 1
        assert "manifests/dev/service-ml-model-api.yaml: not written by ml-gen" in result.stderr
        assert snapshot(example) == before


# -- several configs ----------------------------------------------------------------------------


def test_several_configs_render_beside_their_own_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first, second = _model(tmp_path / "a", "alpha"), _model(tmp_path / "b", "beta", {"dev": "b-dev", "prod": "b-prod"})
    result = run("render", "--all", "-c", str(first), "-c", str(second))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a/manifests/dev/deployment-alpha.yaml").is_file()
    assert (tmp_path / "b/manifests/prod/deployment-beta.yaml").is_file()
    assert not (tmp_path / "values").exists()
    assert run("render", "--all", "--check", "-c", str(first), "-c", str(second)).exit_code == 0


def test_a_directory_of_models(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("fraud", "iris", "churn"):
        _model(tmp_path / "models" / name, name)
    result = run("render", "--all", "-c", "models")
    assert result.exit_code == 0, result.output
    for name in ("fraud", "iris", "churn"):
        assert (tmp_path / f"models/{name}/values/dev.yaml").is_file()
        assert (tmp_path / f"models/{name}/manifests/dev/service-{name}.yaml").is_file()
    envs = run("envs", "-c", "models")
    assert envs.stdout.splitlines() == [
        f"models/{name}/ml-model.yaml\tdev\t{name}-dev" for name in ("churn", "fraud", "iris")
    ]


def test_out_takes_one_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _model(tmp_path / "models/a", "a")
    _model(tmp_path / "models/b", "b")
    (tmp_path / "out").mkdir()
    result = run("render", "--all", "-c", "models", "--out", "out")
    assert result.exit_code == 2
    assert result.stderr == (
        "ml-gen: error: --out works with one config; several configs each render beside their own file\n"
    )
    assert list((tmp_path / "out").iterdir()) == []


def test_an_error_in_one_config_leaves_every_tree_untouched(tmp_path, monkeypatch, snapshot):
    monkeypatch.chdir(tmp_path)
    for name in ("alpha", "beta", "gamma"):
        _model(tmp_path / "models" / name, name)
    assert run("render", "--all", "-c", "models").exit_code == 0
    alpha = tmp_path / "models/alpha/ml-model.yaml"
    alpha.write_text(alpha.read_text().replace("tag: '1.0'", "tag: '2.0'"))  # would change alpha's files
    beta = tmp_path / "models/beta/ml-model.yaml"
    beta.write_text(beta.read_text().replace("name: beta", "name: beta\nreplicas: -3"))
    before = snapshot(tmp_path)

    result = run("render", "--all", "-c", "models")
    assert result.exit_code == 2
    assert result.stderr.startswith("ml-gen: error: models/beta/ml-model.yaml:")
    assert "replicas" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert snapshot(tmp_path) == before


# -- envs, schema, init, chart export -----------------------------------------------------------


def test_envs(example):
    result = run("envs")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [f"ml-model.yaml\t{env}\t{ns}" for env, ns in EXAMPLE_ENVS.items()]


def test_schema_prints_the_json_schema():
    result = run("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema == config.schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {"name", "image", "environments", "replicas", "port"} <= set(schema["properties"])


def test_init_writes_a_commented_config_that_renders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("init", "fraud-scorer")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "ml-model.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=")
    assert text.count("#") > 5
    assert yaml.safe_load(text)["name"] == "fraud-scorer"
    rendered = run("render", "--all")
    assert rendered.exit_code == 0, rendered.output
    assert (tmp_path / "manifests/prod/horizontalpodautoscaler-fraud-scorer.yaml").is_file()
    assert run("render", "--all", "--check").exit_code == 0


def test_init_never_overwrites(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ml-model.yaml").write_text("mine\n")
    result = run("init", "demo")
    assert result.exit_code == 2
    assert "already exists" in result.stderr
    assert (tmp_path / "ml-model.yaml").read_text() == "mine\n"


def test_init_with_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run("init", "demo", "-c", "svc.yaml").exit_code == 0
    assert config.load(tmp_path / "svc.yaml").name == "demo"
    assert not (tmp_path / "ml-model.yaml").exists()


@pytest.mark.parametrize("name", ["Demo", "1demo", "a" * 54, "demo_model", "-demo", ""])
def test_init_refuses_bad_names(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    result = run("init", "--", name)
    assert result.exit_code == 2
    assert result.stderr.startswith("ml-gen: error: ")
    assert list(tmp_path.iterdir()) == [tmp_path / "home"]


def test_chart_export(tmp_path, repo_root):
    result = run("chart", "export", str(tmp_path / "charts"))
    assert result.exit_code == 0, result.output
    exported = tmp_path / "charts/ml-model-api"
    source = repo_root / "charts/ml-model-api"
    assert _files(exported) == _files(source)
    assert {"Chart.yaml", "values.yaml", "values.schema.json", ".helmignore"} <= {p.name for p in exported.iterdir()}
    for rel in _files(source):
        assert (exported / rel).read_bytes() == (source / rel).read_bytes(), rel

    again = run("chart", "export", str(tmp_path / "charts"))
    assert again.exit_code == 2
    assert "already exists" in again.stderr


def test_chart_export_into_another_charts_subchart_directory(tmp_path):
    """charts/ of another chart is where a subchart belongs (helm dependency); anywhere else in it is refused."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app/Chart.yaml").write_text("apiVersion: v2\nname: app\nversion: 0.1.0\n")
    result = run("chart", "export", str(tmp_path / "app/charts"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "app/charts/ml-model-api/Chart.yaml").is_file()
    nested = run("chart", "export", str(tmp_path / "app/charts/ml-model-api/templates"))
    assert nested.exit_code == 2 and "inside the Helm chart" in nested.stderr


# -- help and version ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command, mentions",
    [
        ([], ["render", "validate", "envs", "schema", "init", "chart", "Exit codes"]),
        (["render"], ["--all", "--check", "--out", "--config"]),
        (["validate"], ["--all", "--config"]),
        (["envs"], ["--config"]),
        (["schema"], ["JSON Schema"]),
        (["init"], ["NAME", "--config"]),
        (["chart"], ["export"]),
        (["chart", "export"], ["DIRECTORY"]),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) and all(isinstance(x, str) for x in v) and v else None,
)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(command, mentions, flag):
    result = run(*command, flag)
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ")
    for word in mentions:
        assert word in result.stdout


def test_version():
    from ml_gen import __version__

    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout == f"ml-gen, version {__version__}\n"


def test_unknown_command_and_option_are_usage_errors():
    assert run("deploy").exit_code == 2
    assert run("render", "--frobnicate").exit_code == 2


def test_config_reference_is_generated_from_the_schema():
    """docs/config-reference.md's key table is what scripts/config_reference.py makes of the shipped schema."""
    script = Path(__file__).parents[2] / "scripts" / "config_reference.py"
    proc = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr

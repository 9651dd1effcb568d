"""The delivery tools (issue 18): what each writes to delivery/<env>/ for each way of deploying, checked
against the vendored CRDs (schemas and CEL rules) and against the files ml-gen writes beside them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ml_gen import config, project
from ml_gen.cli import main
from ml_gen.delivery import flux
from ml_gen.errors import ConfigError
from ml_gen.k8s import crd
from ml_gen.render import render_environment

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
BASE = """\
name: demo
image: {repository: myorg/demo, tag: '1.0'}
delivery:
  %s
environments:
  prod:
    namespace: demo-prod
%s"""
ARGOCD = "argocd: {repoURL: 'https://git.example.com/ml/models.git', revision: main, path: apps/demo, sync: manual}"
FLUX = "flux: {repoURL: 'https://git.example.com/ml/models.git', revision: main, path: apps/demo}"


def delivered(tool: str, env_layer: str = "") -> list[dict]:
    loaded = config.parse(BASE % (tool, env_layer), "ml-model.yaml")
    objects = project.delivery_objects(render_environment(loaded, "prod"))
    for obj in objects:
        assert crd.problems(obj) == [], obj
    return objects


def test_argocd_chart_in_the_repository_is_one_source_with_the_values_file_beside_the_chart():
    (app,) = delivered(ARGOCD)
    assert app["metadata"] == {"name": "demo-prod", "namespace": "argocd"}
    assert app["spec"]["source"] == {
        "repoURL": "https://git.example.com/ml/models.git",
        "targetRevision": "main",
        "path": "apps/demo/charts/ml-model-api",
        "helm": {"releaseName": "demo", "valueFiles": ["../../values/prod.yaml"]},
    }
    assert "automated" not in app["spec"]["syncPolicy"]  # sync: manual
    assert app["spec"]["syncPolicy"]["syncOptions"] == ["CreateNamespace=true", "ServerSideApply=true"]


def test_argocd_chart_from_oci_takes_the_values_file_through_a_values_ref():
    (app,) = delivered(ARGOCD, "    delivery: {argocd: {chart: 'oci://r.example.com/charts/ml-model-api:1.2.3'}}\n")
    chart, values = app["spec"]["sources"]
    assert chart["repoURL"] == "r.example.com/charts" and chart["chart"] == "ml-model-api"
    assert chart["targetRevision"] == "1.2.3"
    assert chart["helm"]["valueFiles"] == ["$values/apps/demo/values/prod.yaml"]
    assert values == {"repoURL": "https://git.example.com/ml/models.git", "targetRevision": "main", "ref": "values"}


def test_an_environment_that_names_the_other_tool_drops_the_inherited_one():
    objects = delivered(ARGOCD, f"    delivery: {{{FLUX}}}\n")
    assert [o["kind"] for o in objects] == ["GitRepository", "HelmRelease"]


def test_flux_chart_in_the_repository_reads_the_values_file_of_the_same_commit():
    source, release = delivered(FLUX)
    assert source["spec"]["ref"] == {"branch": "main"}
    spec = release["spec"]["chart"]["spec"]
    assert spec["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"]}
    assert spec["valuesFiles"] == ["./apps/demo/charts/ml-model-api/values.yaml", "./apps/demo/values/prod.yaml"]
    assert release["spec"]["upgrade"]["remediation"] == {
        "retries": 3,
        "strategy": "rollback",
        "remediateLastFailure": True,
    }


def test_flux_chart_from_oci_carries_the_values_of_the_values_file(tmp_path):
    (tmp_path / "ml-model.yaml").write_text(
        BASE % (FLUX, "    delivery: {flux: {chart: 'oci://r.example.com/charts/ml-model-api:1.2.3'}}\n")
    )
    result = CliRunner().invoke(main, ["render", "--all", "-c", str(tmp_path / "ml-model.yaml")])
    assert result.exit_code == 0, result.output
    release = yaml.safe_load((tmp_path / "delivery/prod/helmrelease-demo-prod.yaml").read_text())
    assert release["spec"]["values"] == yaml.safe_load((tmp_path / "values/prod.yaml").read_text())
    assert release["spec"]["chartRef"] == {"kind": "OCIRepository", "name": "demo-prod"}


@pytest.mark.parametrize(
    ("revision", "ref"),
    [
        ("main", {"branch": "main"}),
        ("refs/tags/v1.0.0", {"name": "refs/tags/v1.0.0"}),
        ("a" * 40, {"commit": "a" * 40}),
    ],
)
def test_a_revision_becomes_the_git_ref_flux_reads(revision, ref):
    assert flux.git_ref(revision) == ref


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*/*/delivery/*.yaml")), ids=lambda p: str(p.relative_to(GOLDEN)))
def test_every_golden_delivery_object_passes_its_crd_offline(path):
    assert crd.problems(yaml.safe_load(path.read_text("utf-8"))) == []


def test_validate_checks_the_delivery_objects(monkeypatch):
    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "gitops-flux" / "ml-model.yaml"
    report = project.validate([scenario], [], True)
    checked = {obj for _, obj, _ in report.entries}
    assert {"delivery/HelmRelease/iris-flux-prod", "delivery/Kustomization/iris-flux-dev"} <= checked
    assert report.ok


@pytest.mark.parametrize(
    "url",
    [
        "http://oauth2:glpat-S3CRET@gitlab.example.com/acme/models.git",  # refused by the schema's pattern
        "https://oauth2:glpat-S3CRET@gitlab.example.com/acme/models.git",  # by the credentials rule
        "https://glpat-S3CRET@gitlab.example.com/acme/models git",
    ],
)
def test_a_refused_repository_url_never_shows_its_credentials(url):
    with pytest.raises(ConfigError) as refused:
        delivered(f"argocd: {{repoURL: '{url}', revision: main, sync: manual}}")
    assert "S3CRET" not in str(refused.value) and "delivery.argocd.repoURL" in str(refused.value)


def test_the_delivery_paths_follow_render_out_inside_the_configs_directory(tmp_path):
    project_dir, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    inside = project_dir / "out"
    inside.mkdir(parents=True)
    elsewhere.mkdir()
    (project_dir / "ml-model.yaml").write_text(BASE % (ARGOCD.replace("path: apps/demo, ", ""), ""))
    for out in (inside, elsewhere):
        result = CliRunner().invoke(
            main, ["render", "prod", "-c", str(project_dir / "ml-model.yaml"), "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
    source = yaml.safe_load((inside / "delivery/prod/application-demo-prod.yaml").read_text())["spec"]["source"]
    assert source["path"] == "charts/ml-model-api"  # where `ml-gen chart export .` puts it, beside the config
    assert source["helm"]["valueFiles"] == ["../../out/values/prod.yaml"]
    assert (project_dir / "charts/ml-model-api" / source["helm"]["valueFiles"][0]).resolve().parent.parent == inside
    # an --out elsewhere (a preview): the objects a render beside the config writes
    source = yaml.safe_load((elsewhere / "delivery/prod/application-demo-prod.yaml").read_text())["spec"]["source"]
    assert source["helm"]["valueFiles"] == ["../../values/prod.yaml"]


@pytest.mark.parametrize("tool", [ARGOCD, FLUX])
def test_delivery_object_names_of_63_characters_are_written_and_of_64_refused(tool):
    """The tools copy the name <name>-<environment> into label values (63 characters at most)."""
    longest = "e" * (63 - len("demo-"))
    text = (BASE % (tool, "")).replace("  prod:", f"  {longest}:")
    names = {
        o["metadata"]["name"] for o in project.delivery_objects(render_environment(config.parse(text, "m"), longest))
    }
    assert names == {f"demo-{longest}"} and len(names.pop()) == 63
    with pytest.raises(ConfigError, match="here 64 characters.*at most 63"):
        render_environment(config.parse(text.replace(longest, longest + "e"), "m"), longest + "e")

"""The kinds registry: one module per kind, each mirrored by a chart template of the same name; the
chart's own defaults are ml-gen's; an unknown kind is a clear error."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ml_gen import config, kinds, render, targets, values
from ml_gen.check import offline
from ml_gen.cli import main

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "ml-model-api"
MINIMAL = "name: demo\nimage: {repository: myorg/demo, tag: '1.0'}\nenvironments: {dev: {namespace: dev}}\n"


def test_every_release_kind_has_a_chart_template_of_its_name_and_every_template_a_kind():
    """Release kinds only: the objects that deploy a release (Argo CD, Flux) are never chart templates."""
    release_kinds = [kind for kind in kinds.KINDS.values() if kind.template is not None]
    templates = {p.stem for p in (CHART / "templates").glob("*.yaml")}
    assert {kind.template for kind in release_kinds} == templates
    for kind in release_kinds:
        assert f"kind: {kind.kind}\n" in (CHART / "templates" / f"{kind.template}.yaml").read_text()
        assert kind.build.__module__ == f"ml_gen.kinds.{kind.template}"


def test_every_target_lists_registered_kinds_only():
    for target in targets.TARGETS.values():
        assert set(target.kinds) <= set(kinds.KINDS), f"{target.name} lists a kind the registry lacks"
        assert [k.key for k in target.kind_list()] == list(target.kinds)


def test_an_unknown_kind_is_a_clear_error():
    with pytest.raises(kinds.UnknownKind, match="unknown kind 'CronJob': ml-gen renders .*Deployment"):
        kinds.lookup("CronJob")


def test_validate_names_an_object_of_an_unknown_kind(tmp_path):
    loaded = config.parse(MINIMAL, str(tmp_path / "ml-model.yaml"))
    rendered = render.render_environment(loaded, "dev")
    rendered.objects.append(
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "x", "namespace": "dev"}}
    )
    with pytest.raises(kinds.UnknownKind, match="CronJob"):
        offline.offline([rendered])


def _differences(a: object, b: object, path: str = "") -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return {d for k in set(a) | set(b) for d in _differences(a.get(k, KeyError), b.get(k, KeyError), f"{path}{k}.")}
    return set() if a == b else {path.rstrip(".")}


def _leaves(values: object, path: str = "") -> set[str]:
    if isinstance(values, dict) and values:
        return {leaf for k, v in values.items() for leaf in _leaves(v, f"{path}{k}.")}
    return {path.rstrip(".")}


def _minimal(target: str) -> config.Config:
    return config.parse(MINIMAL.replace("environments:", f"target: {target}\nenvironments:"), "ml-model.yaml")


@cache
def _built(target: str) -> dict[str, object]:
    return render.render_environment(_minimal(target), "dev").values


def _decided(target: str) -> set[str]:
    """Shared values a target sets itself (e.g. a controller that scales the pods turns their PDB off): the
    leaves of its own section that every target writes."""
    shared = set.intersection(*(_leaves(_built(t)) for t in targets.TARGETS))
    return _leaves(targets.TARGETS[target].values(_minimal(target).resolve("dev"))) & shared


@pytest.mark.parametrize("target", sorted(targets.TARGETS))
def test_the_charts_defaults_are_ml_gens_defaults(target):
    """config.DEFAULTS (through values.build) and the chart's values.yaml say the same, except what
    names one release (names, image), the chart-only helm test image, the target's name, the values
    only other targets write (each target's own section is checked when that target is the one built), the
    shared values a target other than the default decides itself, and grafanaDashboard, which ml-gen writes
    only when the dashboard is on (the next test compares it)."""
    built = _built(target)
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    only_others = set().union(*(_leaves(_built(t)) for t in targets.TARGETS if t != target)) - _leaves(built)
    if target != targets.DEFAULT:
        only_others |= _decided(target)
    differences = {
        d for d in _differences(built, chart_values) if not any(o == d or o.startswith(f"{d}.") for o in only_others)
    }
    assert differences == {
        "nameOverride",
        "fullnameOverride",
        "partOf",
        "image.repository",
        "image.tag",
        "tests.image",
        "grafanaDashboard",
    } | ({"target"} if target != targets.DEFAULT else set())


def test_the_charts_dashboard_defaults_are_ml_gens_defaults():
    """With the dashboard on, ml-gen's grafanaDashboard is the chart's default but for what names the release."""
    on = config.parse(
        MINIMAL.replace("environments:", "metrics: {enabled: true, dashboard: {enabled: true}}\nenvironments:"),
        "ml-model.yaml",
    )
    built = render.render_environment(on, "dev").values["grafanaDashboard"]
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())["grafanaDashboard"]
    assert _differences(built, chart_values) == {"enabled", "uid", "title"}


def test_changing_a_default_on_one_side_is_noticed(monkeypatch):
    """The comparison above is not vacuous: a default changed in config.DEFAULTS shows up."""
    monkeypatch.setitem(config.DEFAULTS, "port", 8080)
    built = render.render_environment(config.parse(MINIMAL, "ml-model.yaml"), "dev").values
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert "containerPort" in _differences(built, chart_values)


def test_the_config_mount_is_the_chart_value_in_both_renderers(tmp_path):
    config_file = tmp_path / "ml-model.yaml"
    config_file.write_text(MINIMAL.replace("environments:", "configFiles: {a.json: '{}'}\nenvironments:"))
    result = CliRunner().invoke(main, ["render", "--all", "-c", str(config_file)])
    assert result.exit_code == 0, result.output
    deployment = yaml.safe_load((tmp_path / "manifests/dev/deployment-demo.yaml").read_text())
    (mount,) = [
        m for m in deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] if m["name"] == "config"
    ]
    assert (
        mount["mountPath"]
        == values.CONFIG_MOUNT
        == yaml.safe_load((CHART / "values.yaml").read_text())["configMountPath"]
    )


def test_a_custom_resource_kind_is_addressed_as_its_vendored_crd_says():
    from ml_gen.k8s import crd_data

    custom = [kind for kind in kinds.KINDS.values() if kind.schema == "crd"]
    assert {"ServiceMonitor", "PrometheusRule"} <= {k.kind for k in custom} <= set(crd_data.by_kind())
    for kind in custom:
        assert crd_data.api_resources()[kind.kind] == (kind.path_prefix, kind.plural)


def test_a_custom_resource_is_checked_against_its_crd_offline(tmp_path):
    loaded = config.parse(
        MINIMAL.replace("environments:", "metrics: {enabled: true, serviceMonitor: {enabled: true}}\nenvironments:"),
        str(tmp_path / "ml-model.yaml"),
    )
    rendered = render.render_environment(loaded, "dev")
    assert offline.offline([rendered]).ok
    (monitor,) = [o for o in rendered.objects if o["kind"] == "ServiceMonitor"]
    monitor["spec"]["endpoints"][0]["scrapeEvery"] = "30s"
    report = offline.offline([rendered])
    (problems,) = [p for _, obj, p in report.entries if obj.startswith("ServiceMonitor/")]
    assert len(problems) == 1 and problems[0].startswith("CRD schema: ") and "scrapeEvery" in problems[0]


def test_a_namespace_is_required_of_namespaced_kinds_only():
    """Kind.namespaced: delivery tools may write cluster-scoped objects; a namespace there is an error."""
    scoped = kinds.lookup("ServiceAccount")
    cluster = kinds.Kind("ClusterThing", "example.dev/v1", "clusterthings", None, lambda ctx: None, namespaced=False)
    obj = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a"}}
    assert offline._names(scoped, obj) == ["metadata.namespace is missing"]
    thing = {"apiVersion": "example.dev/v1", "kind": "ClusterThing", "metadata": {"name": "a"}}
    assert offline._names(cluster, thing) == []
    thing["metadata"]["namespace"] = "x"
    assert offline._names(cluster, thing) == ["metadata.namespace is set, but a ClusterThing belongs to no namespace"]


def test_each_api_resource_is_listed_once_as_the_kind_its_objects_are_found_as():
    """The dashboard's ConfigMap shares ConfigMap's API resource: whatever lists resources (diff's prune
    listing) lists configmaps once, under the kind `of` gives every ConfigMap."""
    listed = kinds.resources()
    assert len({(k.api_version, k.plural) for k in listed}) == len(listed)
    assert {k.key for k in kinds.KINDS.values()} - {k.key for k in listed} == {"GrafanaDashboard"}
    assert kinds.of({"apiVersion": "v1", "kind": "ConfigMap"}) in listed

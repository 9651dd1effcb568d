"""Parity: `helm template` of the chart with ml-gen's values gives ml-gen's own manifests, as data.

For the example and every scenario, for every environment. Allowed differences: the value of the label
app.kubernetes.io/managed-by ("Helm" against "ml-gen", on objects and pod templates) and the
`helm test` hook objects, which only the chart has.
"""

from __future__ import annotations

import difflib
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ml_gen import kinds

MANAGED_BY = "app.kubernetes.io/managed-by"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def helm_run(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *args], capture_output=True, text=True, timeout=120)


def helm_objects(helm: str, chart: Path, release: str, namespace: str, values: Path) -> list[dict[str, Any]]:
    proc = helm_run(helm, "template", release, str(chart), "--namespace", namespace, "-f", str(values))
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.load_all(proc.stdout, Loader=_Loader) if doc is not None]


def _is_hook(obj: dict[str, Any]) -> bool:
    return "helm.sh/hook" in (obj.get("metadata", {}).get("annotations") or {})


def _normalise(obj: dict[str, Any]) -> dict[str, Any]:
    """The object with the managed-by label's value blanked wherever it appears (its own labels, and its pod
    template's where the kind's pod_template says, e.g. an InferenceService's predictor)."""
    pods = kinds.of(obj).pod_template
    for meta in (obj.get("metadata", {}), pods(obj)["metadata"] if pods else {}):
        labels = meta.get("labels") or {}
        if MANAGED_BY in labels:
            labels[MANAGED_BY] = "<managed-by>"
    return obj


def _by_identity(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for obj in objects:
        key = (obj["kind"], obj["metadata"]["name"])
        assert key not in out, f"two objects {key}"
        out[key] = _normalise(obj)
    return out


def _diff(a: dict[str, Any], b: dict[str, Any]) -> str:
    return "".join(
        difflib.unified_diff(
            yaml.safe_dump(a, sort_keys=True).splitlines(keepends=True),
            yaml.safe_dump(b, sort_keys=True).splitlines(keepends=True),
            fromfile="helm template",
            tofile="ml-gen manifest",
        )
    )


def test_helm_template_equals_ml_gen_manifests(scenario_env, rendered, helm, repo_root):
    config, env = scenario_env
    out = rendered(config)
    data = yaml.safe_load(config.read_text("utf-8"))
    namespace = data["environments"][env]["namespace"]

    from_helm = helm_objects(
        helm, repo_root / "charts/ml-model-api", data["name"], namespace, out / f"values/{env}.yaml"
    )
    hooks = [o for o in from_helm if _is_hook(o)]
    # the test hook, or none where the target's Service has no address in a pod's environment (ml-model-api.testService)
    assert [o["metadata"]["annotations"]["helm.sh/hook"] for o in hooks] in (["test"], [])
    if yaml.safe_load((out / f"values/{env}.yaml").read_text("utf-8"))["target"] == "deployment":
        assert hooks
    chart_objects = _by_identity([o for o in from_helm if not _is_hook(o)])

    manifest_files = sorted((out / "manifests" / env).glob("*.yaml"))
    ml_gen_objects = _by_identity([yaml.load(p.read_text("utf-8"), Loader=_Loader) for p in manifest_files])

    assert sorted(chart_objects) == sorted(ml_gen_objects)
    for key in sorted(chart_objects):
        assert chart_objects[key] == ml_gen_objects[key], (
            f"{key} differs:\n{_diff(chart_objects[key], ml_gen_objects[key])}"
        )


def test_managed_by_is_the_only_label_difference(rendered, helm, repo_root):
    """The normalisation above hides exactly one value: Helm says Helm, ml-gen says ml-gen."""
    out = rendered(repo_root / "ml-model.yaml")
    (deployment,) = [
        o
        for o in helm_objects(
            helm, repo_root / "charts/ml-model-api", "ml-model-api", "ml-prod", out / "values/prod.yaml"
        )
        if o["kind"] == "Deployment"
    ]
    mine = yaml.safe_load((out / "manifests/prod/deployment-ml-model-api.yaml").read_text())
    assert deployment["metadata"]["labels"][MANAGED_BY] == "Helm"
    assert mine["metadata"]["labels"][MANAGED_BY] == "ml-gen"
    assert mine["spec"]["template"]["metadata"]["labels"][MANAGED_BY] == "ml-gen"


def test_helm_lint_strict_is_clean(scenario_env, rendered, helm, repo_root):
    config, env = scenario_env
    values = rendered(config) / f"values/{env}.yaml"
    proc = helm_run(helm, "lint", "--strict", str(repo_root / "charts/ml-model-api"), "-f", str(values))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout
    assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout, proc.stdout


@pytest.mark.parametrize(
    "edit, complaint",
    [
        (lambda v: v.update(replicaCout=3), "replicaCout"),
        (lambda v: v["image"].update(tagg="1.0"), "tagg"),
        (lambda v: v["service"].update(port="80"), "port"),
        (lambda v: v.update(replicaCount=-1), "replicaCount"),
        # Helm's JSON Schema check reads `$` as Go does: the end of the text, not before a final line break
        (lambda v: v["env"].append({"name": "LOG_LEVEL\n", "value": "x"}), "env"),
        (lambda v: v["image"].update(tag="1.0\n"), "tag"),
        (lambda v: v.update(configFiles={"..data": "x"}), "'..data'"),
    ],
    ids=["typo-top-level", "typo-nested", "wrong-type", "out-of-range", "env-newline", "tag-newline", "dot-dot-key"],
)
def test_values_schema_refuses_bad_values(rendered, helm, repo_root, tmp_path, edit, complaint):
    values = yaml.safe_load((rendered(repo_root / "ml-model.yaml") / "values/dev.yaml").read_text())
    edit(values)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(values))
    proc = helm_run(helm, "template", "ml-model-api", str(repo_root / "charts/ml-model-api"), "-f", str(bad))
    assert proc.returncode != 0
    assert complaint in proc.stderr
    assert "schema" in proc.stderr.lower()


def test_the_chart_defaults_render_a_secure_server(helm, repo_root):
    """Without ml-gen's values the chart still renders and lints (its values.yaml is complete)."""
    proc = helm_run(helm, "lint", "--strict", str(repo_root / "charts/ml-model-api"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    objects = helm_objects(
        helm, repo_root / "charts/ml-model-api", "demo", "demo", repo_root / "charts/ml-model-api/values.yaml"
    )
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True

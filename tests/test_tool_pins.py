"""The Go tools' versions in tools/versions.env (cache keys, version stamps) are those tools/go.mod builds."""

from __future__ import annotations

import re
from pathlib import Path

from ml_gen.k8s import crd_data

TOOLS = Path(__file__).resolve().parents[1] / "tools"
MODULES = {
    "HELM_VERSION": "helm.sh/helm/v4",
    "KUBERNETES_VERSION": "k8s.io/kubernetes",
    "ETCD_VERSION": "go.etcd.io/etcd/server/v3",
    "KWOK_VERSION": "sigs.k8s.io/kwok",
    "CONTAINERD_VERSION": "github.com/containerd/containerd/v2",
    "KUBE_ROUTER_VERSION": "github.com/cloudnativelabs/kube-router/v2",
    "PROMTOOL_VERSION": "github.com/prometheus/prometheus",
}
"""The tools built from tools/go.mod (actionlint and the pause program build apart)."""


def pins() -> dict[str, str]:
    lines = (TOOLS / "versions.env").read_text("utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def required(go_mod: str = "go.mod") -> dict[str, str]:
    """Module -> version of each requirement in tools/go.mod (or another go.mod under tools/)."""
    text = (TOOLS / go_mod).read_text("utf-8")
    return dict(re.findall(r"^\t?(?:require )?(\S+) (v\S+)(?: // indirect)?$", text, re.MULTILINE))


def test_each_go_tool_is_built_at_the_version_versions_env_names() -> None:
    versions, modules = pins(), required()
    for variable, module in MODULES.items():
        assert modules.get(module) == versions[variable], f"tools/go.mod: {module} is not {variable}"


def test_the_kubernetes_staging_modules_are_the_release_s_own() -> None:
    staging = re.findall(r"^\t(k8s\.io/\S+) => \1 (v\S+)$", (TOOLS / "go.mod").read_text("utf-8"), re.MULTILINE)
    minor = pins()["KUBERNETES_VERSION"].removeprefix("v1.")
    assert staging, "tools/go.mod replaces no k8s.io staging module"
    assert {version for _, version in staging} == {f"v0.{minor}"}


def test_mlflow_is_locked_at_the_version_versions_env_names() -> None:
    """tools/mlflow/requirements.txt (what scripts/install-tools mlflow installs) holds MLFLOW_VERSION, hashed."""
    version = pins()["MLFLOW_VERSION"]
    assert f"mlflow=={version}\n" in (TOOLS / "mlflow" / "requirements.in").read_text("utf-8")
    lock = (TOOLS / "mlflow" / "requirements.txt").read_text("utf-8")
    assert re.search(rf"^mlflow=={re.escape(version)} \\\n    --hash=sha256:[0-9a-f]{{64}}", lock, re.MULTILINE)
    assert all("--hash=sha256:" in entry for entry in re.split(r"\n(?=[a-z])", lock.split("\n", 2)[2]))


def test_kserve_and_knative_are_built_at_the_versions_of_their_crds() -> None:
    """tools/kserve/go.mod (serving-validate, kserve-manager), versions.env and tools/crds.tsv name one
    version of each module: the webhook code that checks an object is that of the CRD it is checked against."""
    versions, modules = pins(), required("kserve/go.mod")
    crds = {s.module: s.version for s in crd_data.read_sources((TOOLS / "crds.tsv").read_text("utf-8"))}
    for variable, module in {
        "KSERVE_VERSION": "github.com/kserve/kserve",
        "KNATIVE_SERVING_VERSION": "knative.dev/serving",
    }.items():
        assert modules.get(module) == versions[variable], f"tools/kserve/go.mod: {module} is not {variable}"
        assert crds.get(module) == versions[variable], f"tools/crds.tsv: {module} is not {variable}"


def test_the_dashboard_checker_is_built_with_the_sdk_versions_env_names() -> None:
    """tools/dashboard-check builds from its own go.mod: it requires GRAFANA_FOUNDATION_SDK_VERSION."""
    text = (TOOLS / "dashboard-check" / "go.mod").read_text("utf-8")
    version = pins()["GRAFANA_FOUNDATION_SDK_VERSION"]
    assert f"\nrequire github.com/grafana/grafana-foundation-sdk/go {version}\n" in text

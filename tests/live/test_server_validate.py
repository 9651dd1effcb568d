"""`ml-gen validate --server` against the live control plane (see conftest.py).

Every environment of the example and of the richer scenarios is dry-run applied, with strict field
validation, into a fresh namespace that enforces and warns at the restricted Pod Security level.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

if TYPE_CHECKING:
    from conftest import Cluster

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "tests" / "scenarios"
SECURE_CONFIGS = {
    "example": REPO / "ml-model.yaml",
    "serving-stack": SCENARIOS / "serving-stack" / "ml-model.yaml",
    "gpu-digest": SCENARIOS / "gpu-digest" / "ml-model.yaml",
    "tricky-strings": SCENARIOS / "tricky-strings" / "ml-model.yaml",
    "byo-server": SCENARIOS / "byo-server" / "ml-model.yaml",
    "observability": SCENARIOS / "observability" / "ml-model.yaml",
    "model-registry": SCENARIOS / "model-registry" / "ml-model.yaml",  # fetch-model init container, a PVC
    "kserve": SCENARIOS / "kserve" / "ml-model.yaml",  # InferenceService against KServe's CRD (no webhook here)
    "knative": SCENARIOS / "knative" / "ml-model.yaml",  # Knative Service against its CRD (no webhook here)
}
WORKLOADS = {"kserve": "InferenceService/", "knative": "Service/"}
"""The workload line each target's validation prints (default: the Deployment's)."""
INSECURE = SCENARIOS / "insecure-opt-out" / "ml-model.yaml"
ENVIRONMENTS = [
    pytest.param(key, env, id=f"{key}-{env}")
    for key, path in SECURE_CONFIGS.items()
    for env in yaml.safe_load(path.read_text())["environments"]
]


def config_in(source: Path, env: str, namespace: str, tmp_path: Path) -> Path:
    """A copy of a config whose environment `env` deploys into `namespace`."""
    data = yaml.safe_load(source.read_text())
    data["environments"][env]["namespace"] = namespace
    target = tmp_path / "ml-model.yaml"
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def validate_server(cluster: Cluster, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ml_gen", "validate", *args, "--server", "-c", str(config),
         "--kubeconfig", str(cluster.kubeconfig)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(("key", "env"), ENVIRONMENTS)
def test_every_environment_is_accepted_without_warnings(cluster, namespace, tmp_path, key, env):
    config = config_in(SECURE_CONFIGS[key], env, namespace, tmp_path)
    proc = validate_server(cluster, config, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    server_lines = [line for line in proc.stdout.splitlines() if "(server)" in line]
    assert server_lines and all(line.startswith("ok") for line in server_lines), proc.stdout
    offline = [line for line in proc.stdout.splitlines() if line.startswith("ok") and "(server)" not in line]
    assert len(offline) == len(server_lines) + 1, proc.stdout  # the server's verdicts come beside, plus values
    assert WORKLOADS.get(key, "Deployment/") in proc.stdout and "warning" not in "\n".join(server_lines).lower()
    # The only warnings allowed are validate's offline note on HTTP probes left on ml-gen's default path.
    warned = [line for line in proc.stdout.splitlines() if line.startswith("WARN")]
    assert all("ml-gen's default path" in line for line in warned), proc.stdout


def test_an_insecure_opt_out_is_flagged_by_pod_security(cluster, namespace, tmp_path):
    config = config_in(INSECURE, "dev", namespace, tmp_path)
    proc = validate_server(cluster, config, "dev")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failing = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failing) == 1 and "Deployment/legacy-root-model" in failing[0], proc.stdout
    assert 'would violate PodSecurity "restricted' in failing[0] and "runAsUser=0" in failing[0]


def test_a_missing_namespace_is_named_and_can_be_created(cluster, make_namespace, tmp_path):
    missing = make_namespace() + "-absent"
    config = config_in(SECURE_CONFIGS["example"], "dev", missing, tmp_path)
    proc = validate_server(cluster, config, "dev")
    assert proc.returncode == 1
    assert f"namespace '{missing}' does not exist (create it, or pass --create-namespace)" in proc.stdout
    try:
        created = validate_server(cluster, config, "dev", "--create-namespace")
        assert created.returncode == 0, created.stdout + created.stderr
        assert cluster.kubectl("get", "namespace", missing, check=False).returncode == 0
    finally:
        cluster.kubectl("delete", "namespace", missing, "--wait=false", "--ignore-not-found", check=False)


def test_a_changed_selector_is_refused_before_it_reaches_the_cluster(cluster, namespace, tmp_path):
    """The migration case: a hand-written Deployment of the same name selects `app: ml-model-api`.

    A Deployment's selector is immutable, so applying ml-gen's (name + instance) selector over it
    would fail mid-rollout; the dry run reports the API server's refusal first, and nothing changes.
    """
    legacy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "ml-model-api", "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "ml-model-api"}},
            "template": {
                "metadata": {"labels": {"app": "ml-model-api"}},
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [{
                        "name": "api", "image": "myorg/ml-model-api:latest",
                        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                    }],
                },
            },
        },
    }  # fmt: skip
    cluster.kubectl("create", "-f", "-", input=json.dumps(legacy))
    config = config_in(SECURE_CONFIGS["example"], "dev", namespace, tmp_path)
    proc = validate_server(cluster, config, "dev")
    assert proc.returncode == 1, proc.stdout
    deployment_line = next(line for line in proc.stdout.splitlines() if "(server)  Deployment/" in line)
    assert deployment_line.startswith("FAIL") and "rejected by the API server" in deployment_line
    assert "spec.selector" in deployment_line and "field is immutable" in deployment_line
    live = cluster.get("deployment", "ml-model-api", "-n", namespace)
    assert live["spec"]["selector"] == {"matchLabels": {"app": "ml-model-api"}}  # the dry run changed nothing


def test_strict_field_validation_rejects_unknown_fields(cluster, namespace):
    from ml_gen.check import server

    client = server.api_client(str(cluster.kubeconfig), None)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "strict", "namespace": namespace},
        "spec": {"ports": [{"port": 80, "targetPort": "http"}], "selector": {"a": "b"}, "bogusField": 1},
    }
    problems = server.apply(client, service, dry=True)
    assert len(problems) == 1 and ".spec.bogusField: field not declared in schema" in problems[0], problems
    del service["spec"]["bogusField"]
    assert server.apply(client, service, dry=True) == []
    assert cluster.kubectl("get", "service", "strict", "-n", namespace, check=False).returncode != 0

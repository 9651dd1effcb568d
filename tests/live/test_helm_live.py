"""The Helm path and the GitOps path of ml-gen's output, on a live control plane (see conftest.py).

Rendered with ``ml-gen render --all``: the bundled example (``ml-model.yaml``: plain, PDB, HPA and
Ingress environments, secret-referenced env vars) and the scenarios ``serving-stack`` (HPA on CPU and
memory, PDB, Ingress, ConfigMap, secret env) and ``gpu-digest`` (``nvidia.com/gpu`` request,
nodeSelector and toleration for the tainted GPU node, digest-pinned image, pull secret) and
``byo-server`` (TCP and exec probes; the ``helm test`` hook checks a TCP connection).

KWOK fakes the kubelet: pods are scheduled by the real kube-scheduler onto fake nodes and reported
Running and Ready without any container running, so images are never pulled and the Secrets that
env vars reference need not exist. ``helm test`` is included: the chart's test hook is a Job, and
KWOK completes pods owned by a Job (its ``pod-complete`` stage), so the Job controller marks it
Complete. Under KWOK this proves that the hook is admitted by the restricted profile, schedules and
completes; it cannot prove that the health endpoint answers, since nothing runs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

if TYPE_CHECKING:
    from conftest import Cluster

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "ml-model-api"
CONFIGS = {
    "example": REPO / "ml-model.yaml",
    "serving-stack": REPO / "tests" / "scenarios" / "serving-stack" / "ml-model.yaml",
    "gpu-digest": REPO / "tests" / "scenarios" / "gpu-digest" / "ml-model.yaml",
    "byo-server": REPO / "tests" / "scenarios" / "byo-server" / "ml-model.yaml",
    "observability": REPO / "tests" / "scenarios" / "observability" / "ml-model.yaml",
}
INSECURE = REPO / "tests" / "scenarios" / "insecure-opt-out" / "ml-model.yaml"
ENVIRONMENTS = [
    pytest.param(key, env, id=f"{key}-{env}")
    for key, path in CONFIGS.items()
    for env in yaml.safe_load(path.read_text())["environments"]
]
HELM_TIMEOUT = "3m"

# Fields the server fills in, and what legitimately differs between the Helm and GitOps paths.
SERVER_METADATA = {"uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "namespace"}
PATH_ANNOTATIONS = ("meta.helm.sh/", "deployment.kubernetes.io/revision")
MANAGED_BY = "app.kubernetes.io/managed-by"


# -- helpers ------------------------------------------------------------------------------------


def render(config: Path, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "ml_gen", "render", "--all", "-c", str(config), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"ml-gen render failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def manifests(rendered: Path, env: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The rendered manifests of one environment, by (kind, name)."""
    objs = [yaml.safe_load(p.read_text()) for p in sorted((rendered / "manifests" / env).glob("*.yaml"))]
    return {(o["kind"], o["metadata"]["name"]): o for o in objs}


def deployment_of(rendered: Path, env: str) -> dict[str, Any]:
    (deployment,) = [o for (kind, _), o in manifests(rendered, env).items() if kind == "Deployment"]
    return deployment


def desired_replicas(values: dict[str, Any]) -> int:
    """What the Deployment settles at: the HPA's floor when autoscaling is on, else replicaCount."""
    autoscaling = values.get("autoscaling") or {}
    return int(autoscaling["minReplicas"] if autoscaling.get("enabled") else values["replicaCount"])


def helm_install(cluster: Cluster, release: str, namespace: str, values: Path, *extra: str) -> None:
    cluster.helm(
        "upgrade",
        "--install",
        release,
        str(CHART),
        "-n",
        namespace,
        "-f",
        str(values),
        "--wait",
        "--timeout",
        HELM_TIMEOUT,
        *extra,
    )


def live_pods(cluster: Cluster, namespace: str, deployment: dict[str, Any]) -> list[dict[str, Any]]:
    """The Deployment's pods that are not being deleted."""
    selector = ",".join(f"{k}={v}" for k, v in deployment["spec"]["selector"]["matchLabels"].items())
    pods = cluster.get("pods", "-n", namespace, "-l", selector)["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def is_ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return pod["status"].get("phase") == "Running" and any(
        c["type"] == "Ready" and c["status"] == "True" for c in conditions
    )


def wait_rolled_out(cluster: Cluster, namespace: str, name: str, replicas: int, image: str) -> list[dict[str, Any]]:
    """Wait until the Deployment has exactly ``replicas`` Ready pods, all running ``image``."""

    def settled() -> list[dict[str, Any]] | None:
        d = cluster.get("deployment", name, "-n", namespace)
        status = d.get("status", {})
        counts = (
            d["spec"].get("replicas"),
            status.get("readyReplicas"),
            status.get("updatedReplicas"),
            status.get("replicas"),
        )
        if counts != (replicas,) * 4 or status.get("observedGeneration") != d["metadata"]["generation"]:
            return None
        pods = live_pods(cluster, namespace, d)
        images = {c["image"] for p in pods for c in p["spec"]["containers"]}
        ok = len(pods) == replicas and images == {image} and all(is_ready(p) for p in pods)
        return pods if ok else None

    return cluster.wait_until(
        f"deployment/{name} in {namespace}: {replicas} Ready pods of {image}", settled, timeout=120
    )


def comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """An object without what the server fills in or what only tells the two paths apart (its
    namespace, also where a value names it, as alert rules do)."""
    namespace = obj["metadata"]["namespace"]
    obj = json.loads(json.dumps(obj).replace(json.dumps(namespace)[1:-1], "NAMESPACE"))
    obj.pop("status", None)
    meta = obj["metadata"]
    for key in SERVER_METADATA:
        meta.pop(key, None)
    annotations = {k: v for k, v in meta.get("annotations", {}).items() if not k.startswith(PATH_ANNOTATIONS)}
    meta.pop("annotations", None)
    if annotations:
        meta["annotations"] = annotations
    meta.get("labels", {}).pop(MANAGED_BY, None)
    template = obj.get("spec", {}).get("template", {}).get("metadata", {})
    template.get("labels", {}).pop(MANAGED_BY, None)
    if obj["kind"] == "Service":  # allocated by the server, per Service
        for key in ("clusterIP", "clusterIPs"):
            obj["spec"].pop(key, None)
    return obj


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every config rendered once per session with ``ml-gen render --all``."""
    base = tmp_path_factory.mktemp("rendered")
    return {key: render(path, base / key) for key, path in {**CONFIGS, "insecure": INSECURE}.items()}


# -- tests --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("config", "env"), ENVIRONMENTS)
def test_helm_install_reaches_ready_replicas(
    cluster: Cluster, namespace: str, rendered: dict[str, Path], config: str, env: str
) -> None:
    values_file = rendered[config] / "values" / f"{env}.yaml"
    values = yaml.safe_load(values_file.read_text())
    deployment = deployment_of(rendered[config], env)
    name = deployment["metadata"]["name"]
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]

    helm_install(cluster, name, namespace, values_file)
    pods = wait_rolled_out(cluster, namespace, name, desired_replicas(values), image)

    if values.get("nodeSelector"):  # e.g. the GPU pool: the scheduler honoured selector and toleration
        for pod in pods:
            node = cluster.get("node", pod["spec"]["nodeName"])
            assert values["nodeSelector"].items() <= node["metadata"]["labels"].items(), pod["spec"]["nodeName"]
    test = cluster.helm("test", name, "-n", namespace, "--timeout", "2m")
    assert re.search(r"^Phase:\s+Succeeded$", test.stdout, re.M), test.stdout


def test_upgrade_rolls_out_and_rollback_restores(cluster: Cluster, namespace: str, rendered: dict[str, Path]) -> None:
    values_file = rendered["example"] / "values" / "staging.yaml"
    values = yaml.safe_load(values_file.read_text())
    name, replicas = "ml-model-api", desired_replicas(values)
    old_image = f"{values['image']['repository']}:{values['image']['tag']}"
    new_image = f"{values['image']['repository']}:{values['image']['tag']}-live-upgrade"

    helm_install(cluster, name, namespace, values_file)
    wait_rolled_out(cluster, namespace, name, replicas, old_image)

    helm_install(cluster, name, namespace, values_file, "--set", f"image.tag={new_image.rsplit(':', 1)[1]}")
    cluster.kubectl("rollout", "status", f"deployment/{name}", "-n", namespace, "--timeout=120s")
    wait_rolled_out(cluster, namespace, name, replicas, new_image)
    history = json.loads(cluster.helm("history", name, "-n", namespace, "-o", "json").stdout)
    assert [(r["revision"], r["status"]) for r in history] == [(1, "superseded"), (2, "deployed")]

    cluster.helm("rollback", name, "1", "-n", namespace, "--wait", "--timeout", HELM_TIMEOUT)
    cluster.kubectl("rollout", "status", f"deployment/{name}", "-n", namespace, "--timeout=120s")
    live = cluster.get("deployment", name, "-n", namespace)
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == old_image
    wait_rolled_out(cluster, namespace, name, replicas, old_image)
    history = json.loads(cluster.helm("history", name, "-n", namespace, "-o", "json").stdout)
    assert [r["status"] for r in history][-1] == "deployed" and len(history) == 3


@pytest.mark.parametrize(("config", "env"), ENVIRONMENTS)
def test_gitops_apply_matches_helm_release(
    cluster: Cluster, make_namespace: Any, rendered: dict[str, Path], tmp_path: Path, config: str, env: str
) -> None:
    helm_ns, gitops_ns = make_namespace(), make_namespace()
    values_file = rendered[config] / "values" / f"{env}.yaml"
    values = yaml.safe_load(values_file.read_text())
    # Render a copy of the config whose environment targets the fresh namespace.
    copy_config = yaml.safe_load(CONFIGS[config].read_text())
    copy_config["environments"][env]["namespace"] = gitops_ns
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "ml-model.yaml").write_text(yaml.safe_dump(copy_config, sort_keys=False))
    out = render(tmp_path / "config" / "ml-model.yaml", tmp_path / "out")
    objects = manifests(out, env)
    assert {o["metadata"]["namespace"] for o in objects.values()} == {gitops_ns}

    helm_install(cluster, copy_config["name"], helm_ns, values_file)
    cluster.kubectl("apply", "--server-side", "--field-manager=ml-gen-live", "-f", str(out / "manifests" / env))
    deployment = deployment_of(out, env)
    name, image = deployment["metadata"]["name"], deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    for ns in (helm_ns, gitops_ns):  # both settle (an HPA raises replicas to its floor)
        wait_rolled_out(cluster, ns, name, desired_replicas(values), image)

    release = [
        d for d in yaml.safe_load_all(cluster.helm("get", "manifest", copy_config["name"], "-n", helm_ns).stdout) if d
    ]
    assert {(d["kind"], d["metadata"]["name"]) for d in release} == set(objects), "same objects on both paths"
    for kind, obj_name in objects:
        helm_obj = cluster.get(kind, obj_name, "-n", helm_ns)
        gitops_obj = cluster.get(kind, obj_name, "-n", gitops_ns)
        assert helm_obj["metadata"]["labels"][MANAGED_BY] == "Helm"
        assert gitops_obj["metadata"]["labels"][MANAGED_BY] == "ml-gen"
        assert comparable(gitops_obj) == comparable(helm_obj), f"{kind}/{obj_name} differs between the paths"


def test_restricted_namespace_admits_example_and_refuses_root(
    cluster: Cluster, namespace: str, rendered: dict[str, Path]
) -> None:
    def pod_from(deployment: dict[str, Any], name: str) -> dict[str, Any]:
        template = deployment["spec"]["template"]
        # Pods name their ServiceAccount; admission looks it up before Pod Security runs.
        cluster.kubectl(
            "create", "serviceaccount", template["spec"]["serviceAccountName"], "-n", namespace, check=False
        )
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {**template["metadata"], "name": name, "namespace": namespace},
            "spec": template["spec"],
        }

    insecure = deployment_of(rendered["insecure"], "dev")
    refused = cluster.kubectl("create", "-f", "-", input=json.dumps(pod_from(insecure, "root-pod")), check=False)
    assert refused.returncode != 0, "a root pod was admitted into a restricted namespace"
    assert 'violates PodSecurity "restricted:latest"' in refused.stderr, refused.stderr
    assert "runAsNonRoot" in refused.stderr and "runAsUser=0" in refused.stderr, refused.stderr

    # The Deployment itself is admitted (Pod Security checks pods), with a warning naming the violation.
    insecure["metadata"]["namespace"] = namespace
    dry_run = cluster.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", input=json.dumps(insecure))
    assert 'would violate PodSecurity "restricted:latest"' in dry_run.stderr, dry_run.stderr

    example = deployment_of(rendered["example"], "prod")
    admitted = cluster.kubectl("create", "-f", "-", input=json.dumps(pod_from(example, "example-pod")))
    assert "PodSecurity" not in admitted.stderr, admitted.stderr
    cluster.wait_until(
        "the example pod to be Ready", lambda: is_ready(cluster.get("pod", "example-pod", "-n", namespace))
    )

"""Exact expectations, written by hand, on the objects of the scenarios that ask for them.

The parity test cannot see a bug in values.py (helm and ml-gen both read its values) and a careless golden
regeneration could commit one, so what a scenario asks for is checked here against its config: restricted
egress in the NetworkPolicy, a separate metrics port on the container, the Service and the ServiceMonitor, the
ServiceMonitor's interval.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
OBSERVABILITY = SCENARIOS / "observability" / "ml-model.yaml"


def _config(config: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(config.read_text("utf-8")))


def _objects(out: Path, env: str) -> dict[str, dict[str, Any]]:
    """The environment's manifests by kind (each kind once in these scenarios)."""
    objects = [yaml.safe_load(p.read_text("utf-8")) for p in sorted((out / "manifests" / env).glob("*.yaml"))]
    by_kind = {o["kind"]: o for o in objects}
    assert len(by_kind) == len(objects), [o["kind"] for o in objects]
    return by_kind


def test_restricted_egress_is_in_the_network_policy(rendered):
    egress = _config(OBSERVABILITY)["networkPolicy"]["egress"]
    assert egress["restricted"] is True
    policy = _objects(rendered(OBSERVABILITY), "prod")["NetworkPolicy"]["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    dns = {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
    allowed = [{"ipBlock": {"cidr": cidr}} for cidr in egress["cidrs"]] + [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}} for ns in egress["namespaces"]
    ]
    assert allowed == [
        {"ipBlock": {"cidr": "10.20.0.0/16"}},
        {"ipBlock": {"cidr": "fd00:10::/64"}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "feature-store"}}},
    ]
    assert policy["egress"] == [dns, {"to": allowed}]


def test_an_environment_that_opts_out_has_no_network_policy(rendered):
    assert _config(OBSERVABILITY)["environments"]["dev"]["networkPolicy"] == {"enabled": False}
    assert "NetworkPolicy" not in _objects(rendered(OBSERVABILITY), "dev")


@pytest.mark.parametrize("scenario", ["observability", "gpu-digest"])
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_a_separate_metrics_port_is_on_the_container_service_and_policy(rendered, scenario, env):
    config = SCENARIOS / scenario / "ml-model.yaml"
    data = _config(config)
    port, server_port = data["metrics"]["port"], data.get("port", 5000)  # 5000: the default server port
    assert (port, server_port) == (9090, 5000)
    objects = _objects(rendered(config), env)
    container = objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"] == [
        {"name": "http", "containerPort": server_port, "protocol": "TCP"},
        {"name": "metrics", "containerPort": port, "protocol": "TCP"},
    ]
    assert objects["Service"]["spec"]["ports"] == [
        {"port": 80, "targetPort": "http", "protocol": "TCP", "name": "http"},
        {"port": port, "targetPort": "metrics", "protocol": "TCP", "name": "metrics"},
    ]
    if "NetworkPolicy" in objects:
        scrape = {
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
            "ports": [{"protocol": "TCP", "port": "metrics"}],
        }
        assert scrape in objects["NetworkPolicy"]["spec"]["ingress"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_service_monitor_scrapes_the_metrics_port_at_the_configured_interval(rendered, env):
    metrics = _config(OBSERVABILITY)["metrics"]
    assert metrics["serviceMonitor"]["interval"] == "15s"  # not the default (30s)
    monitor = _objects(rendered(OBSERVABILITY), env)["ServiceMonitor"]
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": metrics["path"], "interval": "15s"}]
    assert monitor["metadata"]["labels"]["release"] == "prometheus"


KSERVE = SCENARIOS / "kserve" / "ml-model.yaml"
RESTRICTED_VOLUMES = {"configMap", "emptyDir", "persistentVolumeClaim", "secret", "projected", "downwardAPI"}


def _restricted_problems(template: dict[str, Any]) -> list[str]:
    """The Pod Security Standards' restricted profile (v1.30) on a pod template, as the API server's admission
    reads it: non-root and RuntimeDefault seccomp from the pod or every container, no privilege escalation,
    all capabilities dropped, only the volume types the profile allows."""
    pod, problems = template["spec"], []
    pod_context = pod.get("securityContext", {})
    for container in pod.get("initContainers", []) + pod["containers"]:
        context = {**pod_context, **container.get("securityContext", {})}
        seccomp = context.get("seccompProfile", {}).get("type")
        if context.get("runAsNonRoot") is not True or seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{container['name']}: runAsNonRoot and seccompProfile")
        own = container.get("securityContext", {})
        if own.get("allowPrivilegeEscalation") is not False or own.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{container['name']}: allowPrivilegeEscalation false, capabilities drop ALL")
    for volume in pod.get("volumes", []):
        if not set(volume) - {"name"} <= RESTRICTED_VOLUMES:
            problems.append(f"volume {volume['name']}")
    return problems


@pytest.mark.parametrize("config", sorted(SCENARIOS.glob("*/ml-model.yaml")), ids=lambda p: p.parent.name)
def test_every_workload_of_every_target_passes_the_restricted_profile(rendered, config):
    """Found through each kind's pod_template, so a Deployment's template and an InferenceService's predictor
    are both checked (a config that opts out of the restricted profile is left out)."""
    from ml_gen import kinds

    data = _config(config)
    out = rendered(config)
    for env, settings in data["environments"].items():
        if settings.get("security", data.get("security", {})).get("restricted", True) is False:
            continue
        for kind, obj in _objects_of(out, env):
            pods = kinds.of(obj).pod_template
            if pods is not None:
                assert _restricted_problems(pods(obj)) == [], f"{config.parent.name}/{env} {kind}"


def _objects_of(out: Path, env: str) -> list[tuple[str, dict[str, Any]]]:
    objects = [yaml.safe_load(p.read_text("utf-8")) for p in sorted((out / "manifests" / env).glob("*.yaml"))]
    return [(o["kind"], o) for o in objects]


def test_kserve_maps_the_config_the_kserve_way(rendered):
    """prod: RawDeployment, the server's container with STORAGE_URI, HPA on CPU, the Secret on the
    ServiceAccount; dev: Serverless, a standard runtime, hf:// as KServe writes it, the canary share."""
    out = rendered(KSERVE)
    prod = _objects(out, "prod")
    isvc = prod["InferenceService"]
    assert isvc["metadata"]["annotations"] == {
        "serving.kserve.io/autoscalerClass": "hpa",
        "serving.kserve.io/deploymentMode": "RawDeployment",
    }
    predictor = isvc["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (2, 6)
    assert (predictor["scaleMetric"], predictor["scaleTarget"]) == ("cpu", 70)
    (container,) = predictor["containers"]
    assert container["name"] == "kserve-container"
    assert {"name": "STORAGE_URI", "value": "s3://models/iris/3/"} in container["env"]
    assert {"name": "MODEL_PATH", "value": "/mnt/models"} in container["env"]
    assert "initContainers" not in predictor  # KServe's storage initializer fetches
    assert prod["ServiceAccount"]["secrets"] == [{"name": "iris-model-store"}]
    assert {"Service", "Deployment", "HorizontalPodAutoscaler"}.isdisjoint(prod)  # KServe makes them
    dev = _objects(out, "dev")["InferenceService"]
    assert dev["metadata"]["annotations"] == {"serving.kserve.io/deploymentMode": "Serverless"}
    model = dev["spec"]["predictor"]["model"]
    assert model["modelFormat"] == {"name": "sklearn"} and model["runtime"] == "kserve-sklearnserver"
    assert model["storageUri"] == "hf://acme/iris-sklearn:5f1c0ab3e2d94c7b8a61f0e9d2c3b4a5e6f70819"
    assert dev["spec"]["predictor"]["canaryTrafficPercent"] == 20
    assert "securityContext" not in dev["spec"]["predictor"]  # Knative refuses a pod securityContext by default
    local = _objects(out, "local")["InferenceService"]["spec"]["predictor"]
    assert (local["minReplicas"], local["maxReplicas"]) == (1, 1)
    assert all(e["name"] != "STORAGE_URI" for e in local["containers"][0]["env"])  # the model is in the image


KNATIVE = SCENARIOS / "knative" / "ml-model.yaml"


def test_knative_maps_the_config_the_knative_way(rendered):
    """prod: scale bounds and metric as annotations, one http1 port, the fetch-model init container, the
    canary split with tags; dev: the server fetches the model itself; no companion Knative makes itself."""
    out = rendered(KNATIVE)
    prod = _objects(out, "prod")
    assert set(prod) == {"ServiceAccount", "Service", "PrometheusRule"}
    service = prod["Service"]
    assert service["apiVersion"] == "serving.knative.dev/v1"
    template = service["spec"]["template"]
    scale = {k: v for k, v in template["metadata"]["annotations"].items() if k.startswith("autoscaling.knative.dev/")}
    assert scale == {
        "autoscaling.knative.dev/min-scale": "1",
        "autoscaling.knative.dev/max-scale": "8",
        "autoscaling.knative.dev/metric": "concurrency",
        "autoscaling.knative.dev/target": "15",
    }
    pod = template["spec"]
    assert (pod["containerConcurrency"], pod["timeoutSeconds"]) == (20, 60)
    assert "securityContext" not in pod and "terminationGracePeriodSeconds" not in pod
    (container,) = pod["containers"]
    assert container["ports"] == [{"name": "http1", "containerPort": 8080, "protocol": "TCP"}]
    assert "lifecycle" not in container and container["readinessProbe"]["httpGet"]["port"] == "http1"
    assert [c["name"] for c in pod["initContainers"]] == ["fetch-model"]
    assert service["spec"]["traffic"] == [
        {"percent": 90, "revisionName": "iris-knative-00003", "tag": "stable"},
        {"latestRevision": True, "percent": 10, "tag": "canary"},
    ]
    dev = _objects(out, "dev")["Service"]["spec"]["template"]["spec"]
    assert "initContainers" not in dev
    (server,) = dev["containers"]
    assert {"name": "MODEL_URI", "value": "s3://models/iris/3/"} in server["env"]
    assert server["envFrom"] == [{"secretRef": {"name": "iris-model-store"}}]
    assert {"name": "model", "mountPath": "/mnt/models"} in server["volumeMounts"]  # writable: it fetches


DASHBOARD = SCENARIOS / "dashboard" / "ml-model.yaml"


@pytest.mark.parametrize(
    "env, name, namespace, label, folder",
    [
        ("prod", "fraud-scorer-dashboard", "risk-prod", ("grafana_dashboard", "1"), {"grafana_folder": "Risk"}),
        ("staging", "fraud-scorer-risk-staging-dashboard", "monitoring", ("risk_dashboard", "true"),
         {"grafana.example.com/folder": "Risk (staging)"}),
        ("batch", "fraud-scorer-dashboard", "risk-batch", ("grafana_dashboard", "1"), None),
    ],
)  # fmt: skip
def test_the_dashboard_is_where_and_how_the_sidecar_looks_for_it(rendered, env, name, namespace, label, folder):
    """metrics.dashboard's label, folder and namespace as each environment of the scenario sets them."""
    board = _objects(rendered(DASHBOARD), env)["ConfigMap"]
    meta = board["metadata"]
    assert (meta["name"], meta["namespace"]) == (name, namespace)
    assert meta["labels"][label[0]] == label[1]
    assert meta.get("annotations") == folder
    assert list(board["data"]) == [f"fraud-scorer_{env}.json"]

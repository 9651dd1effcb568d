"""values (and the objects rendered from them): the deployment policy ml-gen decides per environment."""

from __future__ import annotations

import math

import pytest

from ml_gen import config, render

DIGEST = "sha256:" + "0123456789abcdef" * 4
APP_LABELS = {
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
}
SELECTOR = {"app.kubernetes.io/name": "demo", "app.kubernetes.io/instance": "demo"}
HPA = {"enabled": True, "minReplicas": 2, "maxReplicas": 6}


def _selectors(env) -> list[dict]:
    """Every label selector in the rendered objects."""
    found = [env.get("Deployment")["spec"]["selector"]["matchLabels"], env.get("Service")["spec"]["selector"]]
    found += [o["spec"]["selector"]["matchLabels"] for o in env.objects if o["kind"] == "PodDisruptionBudget"]
    found += [t["labelSelector"]["matchLabels"] for t in env.pod["spec"].get("topologySpreadConstraints", [])]
    return found


def test_default_objects(render_env):
    env = render_env(replicas=1)
    assert env.kinds() == ["ServiceAccount", "Service", "Deployment", "NetworkPolicy"]


def test_hpa_on_leaves_replicas_to_the_hpa(render_env):
    env = render_env(replicas=4, autoscaling=HPA)
    assert "replicas" not in env.get("Deployment")["spec"]
    hpa = env.get("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "demo"}


def test_hpa_off_sets_replicas(render_env):
    env = render_env(replicas=4)
    assert env.get("Deployment")["spec"]["replicas"] == 4
    assert "HorizontalPodAutoscaler" not in env.kinds()


@pytest.mark.parametrize(
    "targets, expected",
    [
        ({}, {"cpu": 80}),
        ({"targetMemoryUtilizationPercentage": 75}, {"memory": 75}),
        ({"targetCPUUtilizationPercentage": 60, "targetMemoryUtilizationPercentage": 70}, {"cpu": 60, "memory": 70}),
    ],
)
def test_hpa_metrics(render_env, targets, expected):
    metrics = render_env(autoscaling={**HPA, **targets}).get("HorizontalPodAutoscaler")["spec"]["metrics"]
    assert {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in metrics} == expected


@pytest.mark.parametrize(
    "settings, pdb",
    [
        ({"replicas": 1}, False),
        ({"replicas": 0}, False),
        ({"replicas": 2}, True),
        ({"replicas": 1, "autoscaling": {**HPA, "minReplicas": 1, "maxReplicas": 3}}, True),
        ({"replicas": 5, "autoscaling": {**HPA, "minReplicas": 1, "maxReplicas": 1}}, False),
        ({"replicas": 3, "podDisruptionBudget": {"enabled": False}}, False),
    ],
    ids=["one", "zero", "two", "hpa-up-to-3", "hpa-max-1", "disabled"],
)
def test_pdb_and_topology_spread_only_when_more_than_one_replica_can_run(render_env, settings, pdb):
    env = render_env(**settings)
    assert ("PodDisruptionBudget" in env.kinds()) is pdb
    spread = "topologySpreadConstraints" in env.pod["spec"]
    assert spread is (pdb or settings.get("podDisruptionBudget") == {"enabled": False})


def test_pdb_defaults_to_max_unavailable_one(render_env):
    assert render_env(replicas=3).get("PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def test_pdb_min_available_replaces_max_unavailable(render_env):
    spec = render_env(replicas=3, podDisruptionBudget={"minAvailable": "50%"}).get("PodDisruptionBudget")["spec"]
    assert spec["minAvailable"] == "50%"
    assert "maxUnavailable" not in spec


def test_topology_spread_is_over_hostnames(render_env):
    (spread,) = render_env(replicas=3).pod["spec"]["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["labelSelector"]["matchLabels"] == SELECTOR


def test_gpu_is_requested_and_limited(render_env):
    resources = render_env(gpu=2).container["resources"]
    assert resources["requests"]["nvidia.com/gpu"] == "2"
    assert resources["limits"]["nvidia.com/gpu"] == "2"


def test_no_gpu_by_default(render_env):
    resources = render_env().container["resources"]
    assert "nvidia.com/gpu" not in resources["requests"]
    assert "nvidia.com/gpu" not in resources.get("limits", {})


def test_digest_pins_the_image_and_drops_the_version_label(render_env):
    env = render_env(image={"repository": "reg.example.com/ml/demo", "digest": DIGEST})
    assert env.container["image"] == f"reg.example.com/ml/demo@{DIGEST}"
    for labels in [o["metadata"]["labels"] for o in env.objects] + [env.pod["metadata"]["labels"]]:
        assert "app.kubernetes.io/version" not in labels
        assert not any("sha256" in str(v) for v in labels.values())


def test_tag_sets_the_image_and_the_version_label(render_env):
    env = render_env(image={"repository": "myorg/demo", "tag": "2.1.0"})
    assert env.container["image"] == "myorg/demo:2.1.0"
    assert env.get("Service")["metadata"]["labels"]["app.kubernetes.io/version"] == "2.1.0"


@pytest.mark.parametrize(
    "image, policy",
    [
        ({"repository": "myorg/demo", "tag": "latest"}, "Always"),
        ({"repository": "myorg/demo", "tag": "latest", "pullPolicy": "IfNotPresent"}, "IfNotPresent"),
        ({"repository": "myorg/demo", "tag": "latest", "pullPolicy": "Never"}, "Never"),
        ({"repository": "myorg/demo", "tag": "1.0"}, "IfNotPresent"),
        ({"repository": "myorg/demo", "tag": "1.0", "pullPolicy": "Always"}, "Always"),
        ({"repository": "myorg/demo", "digest": DIGEST}, "IfNotPresent"),
    ],
    ids=["latest", "latest-set-by-user", "latest-never", "tag", "tag-always", "digest"],
)
def test_pull_policy_is_kubernetes_default_unless_the_config_sets_one(render_env, image, policy):
    env = render_env(image=image, security={"allowLatestTag": True})
    assert env.values["image"]["pullPolicy"] == policy
    assert env.container["imagePullPolicy"] == policy


def test_pull_policy_set_in_the_base_holds_for_an_environment_on_latest():
    text = (
        "name: demo\nimage: {repository: r, tag: '1', pullPolicy: IfNotPresent}\nenvironments:\n"
        "  dev: {namespace: d, image: {tag: latest}, security: {allowLatestTag: true}}\n"
        "  qa: {namespace: q}\n"
    )
    cfg = config.parse(text)
    assert render.render_environment(cfg, "dev").values["image"]["pullPolicy"] == "IfNotPresent"
    unset = config.parse(text.replace(", pullPolicy: IfNotPresent", ""))
    assert render.render_environment(unset, "dev").values["image"]["pullPolicy"] == "Always"
    assert render.render_environment(unset, "qa").values["image"]["pullPolicy"] == "IfNotPresent"


def test_labels_on_every_object_and_the_pods(render_env):
    env = render_env(replicas=3, autoscaling=HPA, labels={"team": "ml"}, partOf="platform", ingress={"enabled": True})
    assert set(env.kinds()) >= {"Deployment", "Service", "ServiceAccount", "HorizontalPodAutoscaler", "Ingress"}
    for labels in [o["metadata"]["labels"] for o in env.objects] + [env.pod["metadata"]["labels"]]:
        assert set(labels) == APP_LABELS | {"team"}
        assert labels["app.kubernetes.io/part-of"] == "platform"
        assert labels["app.kubernetes.io/component"] == "model-server"
        assert labels["app.kubernetes.io/managed-by"] == "ml-gen"
        assert labels["team"] == "ml"


def test_selectors_use_only_name_and_instance(render_env):
    env = render_env(replicas=3, labels={"team": "ml"})
    selectors = _selectors(env)
    assert len(selectors) == 4
    for selector in selectors:
        assert selector == SELECTOR
    assert SELECTOR.items() <= env.pod["metadata"]["labels"].items()


def test_selectors_do_not_change_with_the_version(render_env):
    old = _selectors(render_env(replicas=3, image={"repository": "r", "tag": "1"}))
    new = _selectors(render_env(replicas=3, image={"repository": "r", "digest": DIGEST}))
    assert old == new


@pytest.mark.parametrize("scenario", ["plain", "everything"])
def test_every_object_has_the_environment_namespace(render_env, scenario):
    extra = {} if scenario == "plain" else {
        "replicas": 3, "autoscaling": HPA, "ingress": {"enabled": True}, "configFiles": {"a.json": "{}"},
    }  # fmt: skip
    env = render_env(**extra)
    assert len(env.objects) == (4 if scenario == "plain" else 8)
    for obj in env.objects:
        assert obj["metadata"]["namespace"] == "demo-prod", obj["kind"]


def test_restricted_security_context(render_env):
    env = render_env()
    pod, container = env.pod["spec"]["securityContext"], env.container["securityContext"]
    for context in (pod, container):
        assert context["runAsNonRoot"] is True
        assert context["runAsUser"] >= 10000
        assert context["runAsGroup"] >= 10000
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["allowPrivilegeEscalation"] is False
    assert container["privileged"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in env.container["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}} in env.pod["spec"]["volumes"]


def test_explicit_opt_out_is_rendered_as_asked(render_env):
    env = render_env(security={"restricted": False, "runAsUser": 0, "runAsGroup": 0, "readOnlyRootFilesystem": False})
    container = env.container["securityContext"]
    assert container["runAsNonRoot"] is False
    assert container["runAsUser"] == 0
    assert container["readOnlyRootFilesystem"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}


def test_service_account_does_not_mount_a_token(render_env):
    env = render_env()
    account = env.get("ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert env.pod["spec"]["automountServiceAccountToken"] is False
    assert env.pod["spec"]["serviceAccountName"] == account["metadata"]["name"]


def test_probes_suit_slow_model_loading(render_env):
    container = render_env(health={"livenessPath": "/live", "readinessPath": "/ready"}).container
    assert container["startupProbe"]["httpGet"] == {"path": "/live", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/live", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"] >= 300
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert "initialDelaySeconds" not in container[probe]


def test_ports(render_env):
    env = render_env(port=8080, service={"port": 9000, "type": "NodePort"})
    assert env.container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    service = env.get("Service")["spec"]
    assert service["type"] == "NodePort"
    assert service["ports"] == [{"port": 9000, "targetPort": "http", "protocol": "TCP", "name": "http"}]


def test_env_is_sorted_with_model_variables_and_secret_references(render_env):
    env = render_env(
        model={"name": "iris", "version": "1.0"},
        env={"ZED": "z", "ALPHA": "a"},
        secretEnv={"TOKEN": {"secret": "creds", "key": "token", "optional": True}},
    )
    assert env.container["env"] == [
        {"name": "ALPHA", "value": "a"},
        {"name": "HOME", "value": "/tmp"},
        {"name": "MODEL_NAME", "value": "iris"},
        {"name": "MODEL_VERSION", "value": "1.0"},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token", "optional": True}}},
        {"name": "ZED", "value": "z"},
    ]
    annotations = env.pod["metadata"]["annotations"]
    assert annotations["ml-gen.dev/model-name"] == "iris"
    assert annotations["ml-gen.dev/model-version"] == "1.0"


def test_home_is_writable_tmp_unless_the_config_sets_it_or_the_root_filesystem_is_writable(render_env):
    assert {"name": "HOME", "value": "/tmp"} in render_env().container["env"]
    assert {"name": "HOME", "value": "/home/app"} in render_env(env={"HOME": "/home/app"}).container["env"]
    from_secret = render_env(secretEnv={"HOME": {"secret": "s", "key": "k"}}).container["env"]
    assert [v for v in from_secret if v["name"] == "HOME"] == [
        {"name": "HOME", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
    ]
    writable = render_env(security={"readOnlyRootFilesystem": False}).container.get("env", [])
    assert "HOME" not in [v["name"] for v in writable]


@pytest.mark.parametrize(
    "health, probes, expected",
    [
        ({"type": "tcp"}, {}, {p: {"tcpSocket": {"port": "http"}} for p in ("startup", "liveness", "readiness")}),
        (
            {"type": "exec", "command": ["cat", "/tmp/ok"]},
            {"readiness": {"command": ["test", "-f", "/tmp/ready"]}},
            {
                "startup": {"exec": {"command": ["cat", "/tmp/ok"]}},
                "liveness": {"exec": {"command": ["cat", "/tmp/ok"]}},
                "readiness": {"exec": {"command": ["test", "-f", "/tmp/ready"]}},
            },
        ),
        (
            {"readinessPath": "/ready"},
            {"liveness": {"type": "tcp"}, "startup": {"type": "exec", "command": ["true"]}},
            {
                "startup": {"exec": {"command": ["true"]}},
                "liveness": {"tcpSocket": {"port": "http"}},
                "readiness": {"httpGet": {"path": "/ready", "port": "http"}},
            },
        ),
        (
            {"type": "tcp"},
            {"readiness": {"type": "http", "periodSeconds": 2}},
            {
                "startup": {"tcpSocket": {"port": "http"}},
                "liveness": {"tcpSocket": {"port": "http"}},
                "readiness": {"httpGet": {"path": "/health", "port": "http"}},
            },
        ),
    ],
    ids=["tcp-for-all", "exec-with-a-readiness-command", "one-type-each", "tcp-but-http-readiness"],
)
def test_probe_types(render_env, health, probes, expected):
    env = render_env(health=health, probes=probes)
    for probe, check in expected.items():
        rendered = env.container[f"{probe}Probe"]
        assert {k: v for k, v in rendered.items() if k in ("httpGet", "tcpSocket", "exec")} == check
        assert "type" not in rendered and "command" not in rendered
        assert rendered["periodSeconds"] == probes.get(probe, {}).get("periodSeconds", rendered["periodSeconds"])
    readiness_http = "httpGet" in expected["readiness"]
    assert env.values["tests"]["healthPath"] == (expected["readiness"]["httpGet"]["path"] if readiness_http else "")


def test_metrics_annotations_and_port(render_env):
    env = render_env(metrics={"enabled": True, "path": "/metrics", "port": 9090})
    annotations = env.pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "9090"
    assert {"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in env.container["ports"]


def test_no_metrics_annotations_when_disabled(render_env):
    assert "annotations" not in render_env().pod["metadata"]


def test_config_files_make_a_config_map_mounted_read_only_with_a_checksum(render_env):
    env = render_env(configFiles={"a.json": '{"x": 1}'})
    assert env.get("ConfigMap")["data"] == {"a.json": '{"x": 1}'}
    assert {"name": "config", "mountPath": "/etc/ml-model", "readOnly": True} in env.container["volumeMounts"]
    first = env.pod["metadata"]["annotations"]["checksum/config"]
    changed = render_env(configFiles={"a.json": '{"x": 2}'}).pod["metadata"]["annotations"]["checksum/config"]
    assert len(first) == 64 and first != changed


def test_ingress_only_when_enabled(render_env):
    assert "Ingress" not in render_env().kinds()
    ingress = render_env(ingress={"enabled": True, "host": "m.example.com", "tlsSecret": "m-tls", "path": "/v1"})
    spec = ingress.get("Ingress")["spec"]
    assert spec["tls"] == [{"secretName": "m-tls", "hosts": ["m.example.com"]}]
    (rule,) = spec["rules"]
    assert rule["host"] == "m.example.com"
    assert rule["http"]["paths"][0]["path"] == "/v1"
    assert rule["http"]["paths"][0]["backend"] == {"service": {"name": "demo", "port": {"name": "http"}}}


def test_annotations_reach_every_object_and_object_annotations_add_to_them(render_env):
    env = render_env(annotations={"owner": "ml"}, service={"annotations": {"svc.example.com/x": "y"}})
    for obj in env.objects:
        assert obj["metadata"]["annotations"]["owner"] == "ml"
    assert env.get("Service")["metadata"]["annotations"] == {"owner": "ml", "svc.example.com/x": "y"}


def test_node_selector_and_tolerations(render_env):
    toleration = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    env = render_env(nodeSelector={"pool": "gpu"}, tolerations=[toleration])
    assert env.pod["spec"]["nodeSelector"] == {"pool": "gpu"}
    assert env.pod["spec"]["tolerations"] == [toleration]


def test_values_are_plain_data(render_env):
    """Values leave Python through YAML: nothing but dicts, lists, str, int, finite floats, bool and None."""

    def walk(node):
        if isinstance(node, dict):
            assert all(isinstance(k, str) for k in node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        else:
            assert node is None or type(node) in (str, int, bool) or type(node) is float and math.isfinite(node), node

    walk(render_env(replicas=3, autoscaling=HPA, gpu=1, configFiles={"a": "b"}, ingress={"enabled": True}).values)


def test_gpu_scenario_dev_drops_the_gpu_scheduling_it_inherits(repo_root):
    """gpu-digest's dev runs on CPU: `nodeSelector: {}` and `tolerations: []` must clear the GPU pool."""
    cfg = config.load(repo_root / "tests/scenarios/gpu-digest/ml-model.yaml")
    dev = render.render_environment(cfg, "dev")
    pod = next(o for o in dev.objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert "nodeSelector" not in pod and "tolerations" not in pod
    assert "nvidia.com/gpu" not in pod["containers"][0]["resources"]["requests"]
    prod = next(o for o in render.render_environment(cfg, "prod").objects if o["kind"] == "Deployment")
    assert prod["spec"]["template"]["spec"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}


def test_whole_number_floats_reach_the_output_as_integers(render_env):
    env = render_env(replicas=2.0, port=5000.0, gpu=1.0, metrics={"enabled": True})
    assert env.get("Deployment")["spec"]["replicas"] == 2
    assert env.container["ports"][0]["containerPort"] == 5000
    assert env.pod["metadata"]["annotations"]["prometheus.io/port"] == "5000"
    assert env.container["resources"]["limits"]["nvidia.com/gpu"] == "1"

"""Offline validation: values schema, Kubernetes OpenAPI schemas, names and labels, wiring."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from click.testing import CliRunner

from ml_gen import config, render
from ml_gen.check import offline as validate
from ml_gen.cli import main

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = [ROOT / "ml-model.yaml", *sorted(ROOT.glob("tests/scenarios/*/ml-model.yaml"))]


def _rendered(path: Path = ROOT / "ml-model.yaml", env: str = "prod") -> render.Rendered:
    return render.render_environment(config.load(path), env)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.parent.name)
def test_every_bundled_config_validates(path):
    loaded = config.load(path)
    report = validate.offline([render.render_environment(loaded, env) for env in loaded.environments])
    assert report.ok, "\n".join(report.lines())
    assert len(report.entries) > len(loaded.environments)  # values files plus objects


def _problems(rendered: render.Rendered) -> list[str]:
    report = validate.offline([rendered])
    return [line for line in report.lines() if line.startswith("FAIL")]


def test_an_unknown_field_fails_the_kubernetes_schema():
    rendered = _rendered()
    deployment = next(o for o in rendered.objects if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["bogus"] = 1
    (problem,) = _problems(rendered)
    assert "Deployment/ml-model-api" in problem and "'bogus' was unexpected" in problem


def test_a_wrong_type_fails_the_kubernetes_schema():
    rendered = _rendered()
    service = next(o for o in rendered.objects if o["kind"] == "Service")
    service["spec"]["ports"][0]["port"] = "eighty"
    (problem,) = _problems(rendered)
    assert "Service/ml-model-api" in problem and "spec.ports.0.port" in problem


def test_values_are_checked_against_the_chart_schema():
    rendered = _rendered()
    rendered.values["replicaCoutn"] = 3
    (problem,) = _problems(rendered)
    assert "values/prod.yaml" in problem and "replicaCoutn" in problem


@pytest.mark.parametrize(
    "break_it, expected",
    [
        (lambda objs: objs["Service"]["spec"]["selector"].update({"app.kubernetes.io/name": "other"}),
         "Service/ml-model-api: its selector matches no pods"),
        (lambda objs: objs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].update(x="y"),
         "PodDisruptionBudget/ml-model-api: its selector matches no pods"),
        (lambda objs: objs["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"].update(name="gone"),
         "scale target Deployment/gone is not rendered"),
        (lambda objs: objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]
         .update(port="metrics"), "livenessProbe uses port 'metrics'"),
        (lambda objs: objs["Deployment"]["spec"]["selector"]["matchLabels"].update(tier="x"),
         "spec.selector does not match the pod template labels"),
        (lambda objs: objs["Ingress"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"].update(name="x"),
         "backend Service 'x' is not rendered"),
        (lambda objs: objs["Deployment"]["spec"]["template"]["spec"].update(serviceAccountName="nobody"),
         "ServiceAccount 'nobody' is not rendered"),
    ],
)  # fmt: skip
def test_broken_wiring_is_reported(break_it, expected):
    rendered = _rendered()
    break_it({o["kind"]: o for o in rendered.objects})
    problems = _problems(rendered)
    assert any(expected in p for p in problems), problems


def test_invalid_names_and_labels_are_reported():
    rendered = _rendered()
    objects = copy.deepcopy(rendered.objects)
    objects[0]["metadata"]["labels"]["bad key!"] = "v"
    objects[1]["metadata"]["name"] = "Not_A_Name"
    del objects[2]["metadata"]["namespace"]
    rendered.objects = objects
    text = "\n".join(_problems(rendered))
    assert "invalid key 'bad key!'" in text
    assert "metadata.name 'Not_A_Name'" in text
    assert "metadata.namespace is missing" in text


def test_cli_exit_codes(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    runner = CliRunner()
    ok = runner.invoke(main, ["validate", "--all"])
    assert ok.exit_code == 0 and ok.output.rstrip().endswith("19 passed, 0 failed")
    older = runner.invoke(main, ["validate", "dev", "--kube-version", "v1.30"])
    assert older.exit_code == 0
    unsupported = runner.invoke(main, ["validate", "dev", "--kube-version", "1.99"])
    assert unsupported.exit_code == 2 and f"bundled for Kubernetes {SHIPPED}" in unsupported.output


def test_http_probes_on_a_default_path_warn_without_failing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ml-model.yaml").write_text(
        "name: a\nimage: {repository: r, tag: '1'}\nhealth: {readinessPath: /ready}\n"
        "environments:\n  dev: {namespace: d}\n  qa: {namespace: q, health: {livenessPath: /live}}\n"
        "  tcp: {namespace: t, health: {type: tcp}}\n"
    )
    result = CliRunner().invoke(main, ["validate", "--all"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stdout.splitlines() if line.startswith("WARN")]
    assert warnings == [
        "WARN  ml-model.yaml:dev  Deployment/a: startupProbe and livenessProbe GET /health, ml-gen's default path, "
        "which the config does not name: set health.livenessPath to a route the server answers, or health.type: tcp"
    ]
    assert result.stdout.splitlines()[-1] == "15 passed, 0 failed, 1 warning(s)"


def test_a_readiness_path_from_the_defaults_warns_too():
    loaded = config.parse(
        "name: a\nimage: {repository: r, tag: '1'}\nhealth: {livenessPath: /live}\n"
        "environments:\n  dev: {namespace: d, probes: {liveness: {type: tcp}}}\n"
    )
    (message,) = validate.default_probe_paths(render.render_environment(loaded, "dev"))
    assert message.startswith("readinessProbe GET /health, ml-gen's default path")
    assert "health.readinessPath" in message


def test_documented_bring_your_own_server_config_is_the_tested_scenario():
    page = (ROOT / "docs/serving-project.md").read_text()
    section = page.split("## Bring your own server", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    scenario = ROOT / "tests/scenarios/byo-server/ml-model.yaml"
    assert config.parse(block).data == config.load(scenario).data
    loaded = config.parse(block.replace("  type: tcp ", "  readinessPath: /health "))
    report = validate.offline([render.render_environment(loaded, "dev")])
    (warning,) = [line for line in report.lines() if line.startswith("WARN")]
    assert warning.replace("ml-model.yaml:dev", "") in section.replace("ml-model.yaml:dev", "")


def _shipped() -> str:
    """The range of Kubernetes versions whose schemas kubernetes-validate ships, e.g. '1.25 to 1.37'."""
    import kubernetes_validate.utils as kv

    minors = sorted({tuple(int(n) for n in v.split(".")[:2]) for v in kv.all_versions()})
    return "{}.{} to {}.{}".format(*minors[0], *minors[-1])


SHIPPED = _shipped()


@pytest.mark.parametrize("version", ["1.24", "v1.9", "1.99", "2.0", "1.999999999", "1.30.x", "1.30\n", ""])
def test_kube_versions_without_bundled_schemas_are_a_usage_error(version, monkeypatch):
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["validate", "dev", "--kube-version", version])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert f"schemas are bundled for Kubernetes {SHIPPED}" in result.output


@pytest.mark.parametrize("version", ["1.25", "v1.31", "1.37.2"])
def test_every_bundled_kube_version_is_usable(version, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert CliRunner().invoke(main, ["validate", "dev", "--kube-version", version]).exit_code == 0


def test_a_network_policy_that_keeps_out_the_ingress_controller_or_prometheus_warns(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ml-model.yaml").write_text(
        "name: a\nimage: {repository: r, tag: '1'}\nhealth: {livenessPath: /live, readinessPath: /ready}\n"
        "ingress: {enabled: true}\nmetrics: {enabled: true}\n"
        "environments:\n  closed: {namespace: c}\n"
        "  open: {namespace: o, networkPolicy: {allowNamespaces: [ingress-nginx], metricsNamespaces: [monitoring]}}\n"
        "  optout: {namespace: f, networkPolicy: {enabled: false}}\n"
    )
    result = CliRunner().invoke(main, ["validate", "--all"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stdout.splitlines() if line.startswith("WARN")]
    assert len(warnings) == 2
    assert all(w.startswith("WARN  ml-model.yaml:closed  NetworkPolicy/a: ") for w in warnings)
    assert "networkPolicy.allowNamespaces" in warnings[0] and "networkPolicy.metricsNamespaces" in warnings[1]


@pytest.mark.parametrize("service_type", ["LoadBalancer", "NodePort"])
def test_a_service_open_to_the_outside_behind_the_default_network_policy_warns(service_type):
    loaded = config.parse(
        f"name: a\nimage: {{repository: r, tag: '1'}}\nservice: {{type: {service_type}}}\n"
        "environments:\n  closed: {namespace: c}\n  optout: {namespace: o, networkPolicy: {enabled: false}}\n"
    )
    report = validate.offline([render.render_environment(loaded, env) for env in ("closed", "optout")])
    warnings = [line for line in report.lines() if line.startswith("WARN") and "NetworkPolicy" in line]
    assert len(warnings) == 1 and report.ok
    assert warnings[0].startswith("WARN  ml-model.yaml:closed  NetworkPolicy/a: ")
    assert f"the Service is a {service_type}" in warnings[0] and "networkPolicy.enabled: false" in warnings[0]


def test_a_cluster_ip_service_gets_no_network_policy_warning():
    loaded = config.parse("name: a\nimage: {repository: r, tag: '1'}\nenvironments:\n  e: {namespace: e}\n")
    assert validate.closed_doors(render.render_environment(loaded, "e").values) == []


SLEEPS = "name: a\nimage: {repository: r, tag: '1'}\nshutdownDelaySeconds: 5\nenvironments:\n  e: {namespace: e}\n"


@pytest.mark.parametrize(("version", "refused"), [("1.29", True), ("1.29.4", True), ("1.30", False), (None, False)])
def test_a_pre_stop_sleep_needs_kubernetes_1_30(version, refused):
    """PodLifecycleSleepAction is alpha (off by default) in 1.29: that API server refuses the sleep, whose field
    1.29's OpenAPI schema already has (1.28's and older refuse it through their schemas)."""
    rendered = render.render_environment(config.parse(SLEEPS), "e")
    report = validate.offline([rendered], kube_version=version)
    problems = [line for line in report.lines() if line.startswith("FAIL")]
    if refused:
        (problem,) = problems
        assert "Deployment/a: pod template: containers[0].lifecycle.preStop.sleep needs Kubernetes 1.30" in problem
    else:
        assert problems == []


def test_a_service_listing_a_port_twice_is_reported():
    """What the config rule (metrics-port-is-the-service-port) keeps from being rendered, checked on the object too."""
    rendered = _rendered()
    service = next(o for o in rendered.objects if o["kind"] == "Service")
    service["spec"]["ports"].append({**service["spec"]["ports"][0], "name": "metrics", "targetPort": "http"})
    problems = _problems(rendered)
    assert any("Service/ml-model-api: port 80/TCP is listed twice" in p for p in problems), problems


def test_an_unreachable_api_server_exits_4_with_one_line(tmp_path, monkeypatch):
    """Not a usage error and not a failed check: nothing could be checked (exit 4, documented)."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: k, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\nusers: [{name: u, user: {token: t}}]\n"
    )
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["validate", "dev", "--server", "--kubeconfig", str(kubeconfig)])
    assert result.exit_code == 4, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"ml-gen: error: cannot reach the API server at http://127.0.0.1:{port}")


def test_validate_server_uses_the_context_asked_for(tmp_path, monkeypatch):
    """Two contexts, both unreachable: the error names the server of --context, not the current one."""
    import socket

    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: current\n"
        f"clusters: [{{name: a, cluster: {{server: 'http://127.0.0.1:{ports[0]}'}}}},"
        f" {{name: b, cluster: {{server: 'http://127.0.0.1:{ports[1]}'}}}}]\n"
        "contexts: [{name: current, context: {cluster: a, user: u}}, {name: other, context: {cluster: b, user: u}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
    )
    monkeypatch.chdir(ROOT)
    args = ["validate", "dev", "--server", "--kubeconfig", str(kubeconfig), "--context", "other"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 4, result.output
    assert f"cannot reach the API server at http://127.0.0.1:{ports[1]}" in result.stderr

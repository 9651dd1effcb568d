"""The Grafana dashboard ml-gen renders, proven with the real tools, for every serving target of
tests/scenarios/dashboard: promtool evaluates every panel's query on the series a cluster holds for the release
(the scaffolded server's own /metrics after a minute of traffic, kube-state-metrics- and cAdvisor-shaped series)
and each returns data; tools/dashboard-check decodes the JSON strictly with Grafana's dashboard types (the
grafana-foundation-sdk); helm's toPrettyJson writes JSON as ml_gen.gojson does (the parity test compares whole
dashboards).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from ml_gen import gojson, kinds
from ml_gen.k8s.quantity import quantity

SCENARIO = Path(__file__).parent / "scenarios" / "dashboard" / "ml-model.yaml"
ENVIRONMENTS = list(yaml.safe_load(SCENARIO.read_text("utf-8"))["environments"])
MINUTES = 30
"""Samples per synthetic series, one a minute."""
EVAL_MINUTE = 20
"""When the queries are evaluated: past every window (5m rates, 15m restarts)."""
KSM = {"job": "kube-state-metrics"}
CADVISOR = {"job": "kubelet", "metrics_path": "/metrics/cadvisor"}
POD_SUFFIX = "-7d9f8c6b5-x2k4q"
WORKLOADS = {"deployment": "{name}", "knative": "{name}-00001-deployment", "kserve": "{name}-predictor"}
"""The Deployment each target's controller makes for a release (Knative's first revision, KServe's predictor in
RawDeployment); its pods are named after it."""


class TinyModel:
    n_features_in_ = 4

    def predict(self, rows: list[list[float]]) -> list[float]:
        return [sum(row) for row in rows]


def series(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
    selector = ", ".join(f'{name}="{value}"' for name, value in labels.items())
    return {"series": f"{metric}{{{selector}}}", "values": values}


def scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of GET /metrics (counters, histograms, gauges, the info metric)."""
    text = client.get("/metrics").get_data(as_text=True)
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.name.endswith("_created")
    }


@pytest.fixture
def server_series(server: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., list]:
    """server_series(pod labels): the server's samples as promtool series: it loads a model through its own
    loading path, serves a minute of traffic (20 predictions, a bad request, the kubelet's probes), and every
    sample then grows by that minute's increase each minute (gauges stay)."""
    app = server.create_app({"MODEL_URI": str(tmp_path / "model.joblib"), "MODEL_VERSION": "7"}, load=False)
    state = app.extensions["model_state"]
    monkeypatch.setitem(sys.modules["model_server.model"].LOADERS, state.settings.framework, lambda path: TinyModel())
    state.load()
    client = app.test_client()
    assert client.get("/ready").status_code == 200
    before = scrape(client)
    for body in [{"instances": [[1, 2, 3, 4]]}] * 20 + [{"rows": []}]:
        client.post("/predict", json=body)
    for _ in range(12):
        client.get("/ready")
    after = scrape(client)

    def as_series(pod: dict[str, str]) -> list[dict[str, str]]:
        return [
            series(name, {**pod, **dict(labels)}, f"{value:f}+{value - before.get((name, labels), value):f}x{MINUTES}")
            for (name, labels), value in after.items()
        ]

    return as_series


class Release:
    """One environment of the scenario as rendered: its target, dashboard, pods and resources."""

    def __init__(self, out: Path, env: str):
        self.values = yaml.safe_load((out / "values" / f"{env}.yaml").read_text("utf-8"))
        manifests = [yaml.safe_load(p.read_text("utf-8")) for p in sorted((out / "manifests" / env).glob("*.yaml"))]
        (board,) = [m for m in manifests if m["metadata"]["name"].endswith("-dashboard")]
        (self.text,) = board["data"].values()
        self.dashboard: dict[str, Any] = json.loads(self.text)
        (rule,) = [m for m in manifests if m["kind"] == "PrometheusRule"]
        self.namespace = rule["metadata"]["namespace"]
        (workload,) = [m for m in manifests if kinds.of(m).pod_template]
        pod = kinds.of(workload).pod_template(workload)  # type: ignore[misc]
        self.container = pod["spec"]["containers"][0]["name"]  # the server, as the target's controller runs it
        self.deployment = WORKLOADS[self.values["target"]].format(name=self.values["fullnameOverride"])
        self.pods = [f"{self.deployment}{POD_SUFFIX}", f"{self.deployment}-7d9f8c6b5-p9m3z"]

    def cluster_series(self) -> list[dict[str, str]]:
        """kube-state-metrics' and cAdvisor's series of the release's Deployment, pods and server container."""
        deployment = {"namespace": self.namespace, "deployment": self.deployment, **KSM}
        out = [
            series("kube_deployment_spec_replicas", deployment, f"2x{MINUTES}"),
            series("kube_deployment_status_replicas_ready", deployment, f"2x{MINUTES}"),
            series("kube_deployment_status_replicas_unavailable", deployment, f"0x{MINUTES}"),
        ]
        resources = self.values["resources"]
        for pod in self.pods:
            container = {"namespace": self.namespace, "pod": pod, "container": self.container}
            out.append(series("kube_pod_container_status_restarts_total", {**container, **KSM}, f"1x{MINUTES}"))
            out.append(series("container_cpu_usage_seconds_total", {**container, **CADVISOR}, f"0+15x{MINUTES}"))
            out.append(series("container_memory_working_set_bytes", {**container, **CADVISOR}, f"300000000x{MINUTES}"))
            for bound in ("requests", "limits"):
                for resource, amount in resources.get(bound, {}).items():
                    unit = {"cpu": "core", "memory": "byte"}.get(resource, "byte")
                    labels = {**container, **KSM, "resource": resource, "unit": unit}
                    value = float(quantity(amount))
                    out.append(series(f"kube_pod_container_resource_{bound}", labels, f"{value:f}x{MINUTES}"))
        return out

    def queries(self) -> list[tuple[str, str]]:
        """(panel title and query ref, expression) of every query of every panel."""
        return [(f"{p['title']} {t['refId']}", t["expr"]) for p in self.dashboard["panels"] for t in p["targets"]]


@pytest.fixture(scope="module")
def releases(rendered: Callable[[Path], Path]) -> dict[str, Release]:
    out = rendered(SCENARIO)
    return {env: Release(out, env) for env in ENVIRONMENTS}


def returns_data(query: str) -> str:
    """1 when QUERY returns any sample, else 0."""
    return f"(count({query}) > bool 0) or vector(0)"


def promtool_test(promtool: str, tmp_path: Path, input_series: list[dict[str, str]], exprs: list[tuple[str, int]]):
    """`promtool test rules` evaluating each expression at EVAL_MINUTE against the series; expects the values."""
    (tmp_path / "rules.yaml").write_text("groups: []\n", "utf-8")
    checks = [
        {"expr": expr, "eval_time": f"{EVAL_MINUTE}m", "exp_samples": [{"labels": "{}", "value": value}]}
        for expr, value in exprs
    ]
    test = {"interval": "1m", "input_series": input_series, "promql_expr_test": checks}
    spec = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [test]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), "utf-8")
    return subprocess.run([promtool, "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_panel_query_returns_data_on_the_releases_series(
    env: str, releases: dict[str, Release], server_series: Callable[..., list], pinned: Callable[[str], str],
    tmp_path: Path,
) -> None:  # fmt: skip
    release = releases[env]
    input_series = release.cluster_series() + [
        s for pod in release.pods for s in server_series({"namespace": release.namespace, "pod": pod})
    ]
    queries = release.queries()
    assert len(queries) == 16
    done = promtool_test(pinned("promtool"), tmp_path, input_series, [(returns_data(q), 1) for _, q in queries])
    assert done.returncode == 0, f"{[title for title, _ in queries]}\n{done.stdout}{done.stderr}"


def test_without_the_releases_series_no_panel_returns_data(releases: dict[str, Release], pinned, tmp_path) -> None:
    """The check above is not vacuous: the same pods in another namespace, or no series, give no panel data
    (but the 5xx share's `or vector(0)`, which needs requests)."""
    release = releases["prod"]
    stranger = Release.__new__(Release)
    stranger.__dict__.update(release.__dict__, namespace="elsewhere")
    queries = release.queries()
    done = promtool_test(
        pinned("promtool"), tmp_path, stranger.cluster_series(), [(returns_data(q), 0) for _, q in queries]
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_dashboards_pass_grafanas_dashboard_schema(releases: dict[str, Release], pinned, tmp_path) -> None:
    files = []
    for env, release in releases.items():
        files.append(tmp_path / f"{env}.json")
        files[-1].write_text(release.text, "utf-8")
    done = subprocess.run([pinned("dashboard-check"), *map(str, files)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": ok\n") == len(files)


def test_the_checker_refuses_what_grafana_would_not_read(releases: dict[str, Release], pinned, tmp_path) -> None:
    board = json.loads(releases["prod"].text)
    board["panels"][0]["gridPos"]["h"] = "8"
    board["panels"][1]["options"]["legend"]["colour"] = "red"
    del board["panels"][2]["targets"][0]["expr"]
    (tmp_path / "bad.json").write_text(json.dumps(board), "utf-8")
    done = subprocess.run([pinned("dashboard-check"), str(tmp_path / "bad.json")], capture_output=True, text=True)
    assert done.returncode == 1
    for field in ("panels[0].gridPos.h", "unexpected field 'colour'", "panels[2].targets[0].expr"):
        assert field in done.stdout, done.stdout


JSON_VALUES = [
    0.05,
    1,
    1.5,
    0.00005,
    1e-7,
    1e21,
    '<a & b>\u2028ü\t"\\',
    {"b": [1, {"c": None}], "a": {}, "e": []},
    True,
]
"""Values whose JSON Go writes its own way: numbers (float64 in a values file, as the thresholds are), HTML-safe
and control characters, nesting, empty collections."""


def test_helm_writes_json_as_gojson_does(helm: str, tmp_path: Path) -> None:
    """toPrettyJson of each value read from a values file, in one `helm template`."""
    chart_dir = tmp_path / "c"
    (chart_dir / "templates").mkdir(parents=True)
    (chart_dir / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n", "utf-8")
    template = "out:\n{{- range .Values.v }}\n  - {{ toPrettyJson . | toJson }}\n{{- end }}\n"
    (chart_dir / "templates" / "out.yaml").write_text(template, "utf-8")
    (tmp_path / "values.yaml").write_text(json.dumps({"v": JSON_VALUES}), "utf-8")
    done = subprocess.run([helm, "template", "r", str(chart_dir), "-f", str(tmp_path / "values.yaml")],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(done.stdout.split("\n", 2)[2])["out"] == [gojson.dumps(v) for v in JSON_VALUES]

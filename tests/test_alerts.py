"""The PrometheusRule ml-gen renders, proven with the pinned promtool and the scaffolded model server.

promtool checks the rules and unit-tests each alert on synthetic series: it fires when its condition holds
(for the configured time), stays silent below the thresholds, and ignores pods of another Deployment whose
names share the prefix and the same app in another namespace. The server `ml-gen init` writes, run in-process,
must export every metric and label the expressions select on; its scraped samples drive promtool too.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from ml_gen import serving_metrics
from ml_gen.alerts import RESTARTS_IN_15_MINUTES

SCENARIO = Path(__file__).parent / "scenarios" / "observability" / "ml-model.yaml"
ENV = "prod"
TARGET_LABELS = ("namespace", "pod")
"""Labels Prometheus adds to every sample scraped through a ServiceMonitor; the server must not set them."""
KSM = {"job": "kube-state-metrics"}
"""A label kube-state-metrics' series carry besides their own; it passes into the alerts that do not aggregate."""
PREDICT = {"route": "/predict", "method": "POST"}
READY, HEALTH = {"route": "/ready", "method": "GET"}, {"route": "/health", "method": "GET"}

Series = dict[str, str]
"""One promtool input series: {"series": 'name{label="value", ...}', "values": "0+10x25"}."""
RunTests = Callable[[list[dict[str, Any]]], None]
MakeClient = Callable[[bool], FlaskClient]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def configured_alerts() -> dict[str, Any]:
    """metrics.alerts of the scenario's environment: its overrides over the top-level settings."""
    config = yaml.safe_load(SCENARIO.read_text("utf-8"))
    override = config["environments"][ENV].get("metrics", {}).get("alerts", {})
    return {**config["metrics"]["alerts"], **override}


def other_namespace() -> str:
    """The namespace of another environment of the same config: the same app, whose series must not count."""
    environments = yaml.safe_load(SCENARIO.read_text("utf-8"))["environments"]
    return str(next(env["namespace"] for name, env in environments.items() if name != ENV))


def minutes(duration: str) -> int:
    """A Prometheus duration in whole minutes or hours ('10m', '1h') as minutes."""
    match = re.fullmatch(r"(\d+)([mh])", duration)
    assert match, f"cannot read the duration {duration!r}"
    return int(match[1]) * (60 if match[2] == "h" else 1)


def series(metric: str, labels: dict[str, str], values: str) -> Series:
    """A promtool input series."""
    selector = ", ".join(f'{name}="{value}"' for name, value in labels.items())
    return {"series": f"{metric}{{{selector}}}", "values": values}


class Target:
    """The Deployment the rule is for (read from the rendered manifests), its pods and look-alikes."""

    def __init__(self, manifests: list[dict[str, Any]]):
        deployment = next(m for m in manifests if m["kind"] == "Deployment")
        rule = next(m for m in manifests if m["kind"] == "PrometheusRule")
        self.name: str = deployment["metadata"]["name"]
        self.namespace: str = deployment["metadata"]["namespace"]
        self.container: str = deployment["spec"]["template"]["spec"]["containers"][0]["name"]
        self.groups: list[dict[str, Any]] = rule["spec"]["groups"]
        self.pods = [f"{self.name}-7d9f8c6b5-x2k4q", f"{self.name}-7d9f8c6b5-p9m3z"]
        self.other_deployment_pod = f"{self.name}-v2-7d9f8c6b5-x2k4q"  # Deployment "<name>-v2"

    def rule(self, alertname: str) -> dict[str, Any]:
        """The rendered rule of one alert."""
        return next(r for g in self.groups for r in g["rules"] if r.get("alert") == alertname)

    def pod(self, index: int = 0) -> dict[str, str]:
        """Labels Prometheus puts on a sample scraped from one of our pods."""
        return {"namespace": self.namespace, "pod": self.pods[index]}

    def strangers(self) -> list[dict[str, str]]:
        """Pods whose series must never count: another Deployment sharing the prefix, ours in another namespace."""
        return [
            {"namespace": self.namespace, "pod": self.other_deployment_pod},
            {"namespace": other_namespace(), "pod": self.pods[0]},
        ]

    def expected(self, alertname: str, series_labels: dict[str, str] | None = None) -> dict[str, Any]:
        """The alert promtool must see firing: the rendered rule's labels and annotations, plus the labels
        its expression keeps from the input series (none for an aggregation)."""
        rule = self.rule(alertname)
        return {"exp_labels": {**(series_labels or {}), **rule["labels"]}, "exp_annotations": rule["annotations"]}


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Target:
    """The scenario's environment rendered by the ml-gen CLI; its Deployment and PrometheusRule."""
    out = tmp_path_factory.mktemp("rendered")
    done = subprocess.run(
        [sys.executable, "-m", "ml_gen", "render", ENV, "-c", str(SCENARIO), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    manifests = [yaml.safe_load(p.read_text("utf-8")) for p in sorted((out / "manifests" / ENV).glob("*.yaml"))]
    return Target(manifests)


@pytest.fixture(scope="module")
def promtool(pinned: Callable[[str], str]) -> str:
    """The pinned promtool built by scripts/install-tools."""
    return pinned("promtool")


@pytest.fixture
def run_tests(promtool: str, target: Target, tmp_path: Path) -> RunTests:
    """run_tests(tests): `promtool test rules` on the rendered groups with these test groups; fails with its output."""

    def run(tests: list[dict[str, Any]]) -> None:
        (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": target.groups}), "utf-8")
        spec = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests}
        (tmp_path / "tests.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), "utf-8")
        done = subprocess.run([promtool, "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SUCCESS" in done.stdout

    return run


SETTINGS = configured_alerts()
HOLD = minutes(SETTINGS["for"])
"""The rules' `for`, in minutes."""
HORIZON = HOLD + 10
"""Samples per synthetic series, one a minute: long enough for any alert to fire."""


def group(
    name: str, input_series: list[Series], alertname: str, expected: dict[int, list[dict[str, Any]]]
) -> dict[str, Any]:
    """A promtool test group: at each evaluation minute, exactly the expected alerts fire (pending ones do not)."""
    checks = [{"eval_time": f"{t}m", "alertname": alertname, "exp_alerts": alerts} for t, alerts in expected.items()]
    return {"name": name, "interval": "1m", "input_series": input_series, "alert_rule_test": checks}


def test_promtool_accepts_the_rendered_rules(promtool: str, target: Target, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": target.groups}), "utf-8")
    done = subprocess.run(
        [promtool, "check", "rules", "--lint=all", "--lint-fatal", str(rules)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    count = sum(len(g["rules"]) for g in target.groups)
    assert f"SUCCESS: {count} rules found" in done.stdout
    assert {r["alert"] for g in target.groups for r in g["rules"]} == {
        "ModelServerPodsNotReady",
        "ModelServerRestarting",
        "ModelServerErrorRatioHigh",
        "ModelServerLatencyHigh",
    }


def requests(pod: dict[str, str], per_minute: dict[str, int], route: dict[str, str] = PREDICT) -> list[Series]:
    """Request counters of one pod on one route: {status code: requests a minute}."""
    labels = {**pod, **route}
    return [
        series(serving_metrics.REQUESTS, {**labels, "status": status}, f"0+{count}x{HORIZON}")
        for status, count in per_minute.items()
    ]


def test_error_ratio_fires_above_the_configured_share_of_5xx_held_for_the_configured_time(
    run_tests: RunTests, target: Target
) -> None:
    ratio = SETTINGS["errorRatio"]
    above, below = math.ceil(1000 * ratio * 2), math.floor(1000 * ratio / 2)  # 5xx per 1000 answers a minute
    alert = "ModelServerErrorRatioHigh"
    failing = [s for i in (0, 1) for s in requests(target.pod(i), {"200": 1000 - above, "500": above, "400": 50})]
    healthy = [s for i in (0, 1) for s in requests(target.pod(i), {"200": 1000 - below, "503": below, "400": 300})]
    strangers = [s for pod in target.strangers() for s in requests(pod, {"500": 1000})]
    run_tests(
        [
            group(
                "5xx above the ratio: pending, then firing",
                failing,
                alert,
                {HOLD - 1: [], HOLD + 5: [target.expected(alert)]},
            ),
            group("5xx below the ratio, many 4xx", healthy, alert, {HOLD + 5: []}),
            group("only other pods fail", healthy + strangers, alert, {HOLD + 5: []}),
        ]
    )


def test_error_ratio_ignores_failing_readiness_probes(run_tests: RunTests, target: Target) -> None:
    """A pod still loading its model answers /ready with 503 and gets no traffic: no answer to a client failed."""
    serving = requests(target.pod(0), {"200": 60})
    loading = requests(target.pod(1), {"503": 12}, READY) + requests(target.pod(1), {"200": 6}, HEALTH)
    run_tests([group("one pod loading its model", serving + loading, "ModelServerErrorRatioHigh", {HOLD + 5: []})])


def latency_buckets(pod: dict[str, str], seconds: list[float], route: dict[str, str] = PREDICT) -> list[Series]:
    """The histogram's buckets of one pod receiving requests of these latencies on one route every minute."""
    labels = {**pod, **route}
    bounds = [*serving_metrics.REQUEST_SECONDS_BUCKETS, math.inf]
    return [
        series(
            f"{serving_metrics.REQUEST_SECONDS}_bucket",
            {**labels, "le": "+Inf" if bound == math.inf else str(float(bound))},
            f"0+{sum(1 for s in seconds if s <= bound)}x{HORIZON}",
        )
        for bound in bounds
    ]


def test_latency_fires_when_the_p99_of_predict_is_over_the_threshold(run_tests: RunTests, target: Target) -> None:
    limit = SETTINGS["p99LatencySeconds"]
    fast, slow = limit / 4, limit * 2
    alert = "ModelServerLatencyHigh"
    slow_pods = [s for i in (0, 1) for s in latency_buckets(target.pod(i), [fast] * 95 + [slow] * 5)]
    fast_pods = [s for i in (0, 1) for s in latency_buckets(target.pod(i), [fast] * 199 + [slow])]  # 0.5 % slow
    slow_elsewhere = latency_buckets(target.pod(0), [slow] * 100, HEALTH) + [
        s for pod in target.strangers() for s in latency_buckets(pod, [slow] * 100)
    ]
    run_tests(
        [
            group("5 % of predictions slow", slow_pods, alert, {HOLD - 1: [], HOLD + 5: [target.expected(alert)]}),
            group("0.5 % slow: the p99 is fast", fast_pods, alert, {HOLD + 5: []}),
            group("slow elsewhere only", fast_pods + slow_elsewhere, alert, {HOLD + 5: []}),
        ]
    )


def test_the_p99_of_requests_all_slower_than_the_top_bucket_is_the_top_bucket(promtool: str, tmp_path: Path) -> None:
    """histogram_quantile returns at most the highest finite bucket's bound, here when every request took longer:
    a p99LatencySeconds at or above it could never fire, which is why ml-gen refuses one (config/rules.py)."""
    top = serving_metrics.REQUEST_SECONDS_BUCKETS[-1]
    expr = f"histogram_quantile(0.99, sum by (le) (rate({serving_metrics.REQUEST_SECONDS}_bucket[5m])))"
    test = {
        "interval": "1m",
        "input_series": latency_buckets({"namespace": "ns", "pod": "p"}, [top * 100] * 60),
        "promql_expr_test": [{"expr": expr, "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": top}]}],
    }
    (tmp_path / "rules.yaml").write_text("groups: []\n", "utf-8")
    spec = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [test]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), "utf-8")
    done = subprocess.run([promtool, "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_pods_not_ready_fires_when_replicas_stay_unavailable_for_the_configured_time(
    run_tests: RunTests, target: Target
) -> None:
    alert = "ModelServerPodsNotReady"
    metric = "kube_deployment_status_replicas_unavailable"
    ours = {"namespace": target.namespace, "deployment": target.name, **KSM}
    held = series(metric, ours, f"0 1x{HORIZON}")
    blip = series(metric, ours, f"0 1x{HOLD - 2} 0x{HORIZON}")  # unavailable for HOLD - 1 minutes
    others = [
        series(metric, {**ours, "deployment": f"{target.name}-v2"}, f"0 1x{HORIZON}"),
        series(metric, {**ours, "namespace": other_namespace()}, f"0 1x{HORIZON}"),
    ]
    run_tests(
        [
            group("held", [held], alert, {HOLD - 1: [], HOLD + 5: [target.expected(alert, ours)]}),
            group("shorter than the hold", [blip], alert, {HOLD - 1: [], HOLD + 5: []}),
            group("other deployments", others, alert, {HOLD + 5: []}),
        ]
    )


RESTART_HISTORY = 60
"""Minutes of a synthetic restart counter: scraped long before and after the restarts, as in a real cluster."""


def restarts(labels: dict[str, str], minutes: list[int]) -> Series:
    """A container's restart counter, sampled every minute: 4 restarts long ago, one more at each of these minutes."""
    values = [4 + sum(1 for m in minutes if m <= t) for t in range(RESTART_HISTORY)]
    return series("kube_pod_container_status_restarts_total", labels, " ".join(map(str, values)))


def test_restarting_fires_on_more_restarts_than_the_limit_within_15_minutes(
    run_tests: RunTests, target: Target
) -> None:
    """increase() extrapolates to the window's edges (2 restarts read as about 2.14): at the limit, it stays silent
    at every minute, also when more restarts are spread wider than 15 minutes."""
    alert = "ModelServerRestarting"
    ours = {**target.pod(), "container": target.container, **KSM}
    burst = [20 + i for i in range(RESTARTS_IN_15_MINUTES + 1)]  # one a minute from minute 20
    after = burst[-1] + 1
    at_limit, spread = burst[:-1], [20 + 8 * i for i in range(RESTARTS_IN_15_MINUTES + 1)]
    every_minute: dict[int, list[dict[str, Any]]] = {t: [] for t in range(RESTART_HISTORY)}
    others = [
        restarts({**ours, "container": "log-shipper"}, burst),
        *(restarts({**pod, "container": target.container, **KSM}, burst) for pod in target.strangers()),
    ]
    run_tests(
        [
            group("over the limit", [restarts(ours, burst)], alert, {19: [], after: [target.expected(alert, ours)]}),
            group("at the limit", [restarts(ours, at_limit)], alert, every_minute),
            group("more, but over more than 15 minutes", [restarts(ours, spread)], alert, every_minute),
            group("other containers and pods", others, alert, {after: []}),
        ]
    )


# --- pod names as the API server makes them ----------------------------------------------------------------------

HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
"""The characters of a ReplicaSet's pod-template hash and of generateName's suffix (k8s.io/apimachinery util/rand)."""


def api_server_pod_name(deployment: str, pod_hash: str, suffix: str) -> str:
    """A Deployment's pod as Kubernetes names it: its ReplicaSet is <deployment>-<hash> (the hash is the template's
    FNV-32 sum in decimal, spelled in HASH_ALPHABET: 1 to 10 characters), the pod's generateName is the ReplicaSet's
    name and '-', which the API server cuts to 58 characters before it appends 5 random ones."""
    assert len(suffix) == 5 and 1 <= len(pod_hash) <= 10
    return f"{deployment}-{pod_hash}-"[:58] + suffix


def sized_name(length: int) -> str:
    """A Deployment name (a DNS label) of exactly this many characters."""
    return ("model" * 13)[:length]


OLD_PATTERN = "{name}-[a-z0-9]+-[a-z0-9]+"
"""The pattern the alerts used before issue 15: it misses every pod whose generateName the API server cut."""

NAME_LENGTHS = [1, 20, 40, 46, 47, 48, 50, 52, 53]
"""Up to 53, ml-gen's name limit (Helm's release name limit): from 47 a 10-character hash no longer fits."""
CHART_ONLY_LENGTHS = [54, 55, 56, 57, 58, 60, 63]
"""Longer fullnames only the chart makes (release name plus chart name, cut to 63)."""


@pytest.mark.parametrize("length", NAME_LENGTHS + CHART_ONLY_LENGTHS)
def test_the_alerts_find_pods_whatever_the_length_of_their_names(promtool: str, tmp_path: Path, length: int) -> None:
    """ModelServerRestarting (its pod matcher is every pod alert's) fires for pods named as the API server names
    them, with hashes of every length, whether or not their generateName was cut; up to 53 characters it ignores a
    Deployment named <name>-v2 (from 54, its pods can be named exactly as ours: only the owner can tell)."""
    from ml_gen import alerts
    from ml_gen.config.model import DEFAULTS
    from ml_gen.targets.deployment import pod_query

    name, namespace, container = sized_name(length), "ns", "ml-model-api"
    rules = alerts.rules(name, namespace, container, pod_query(name, namespace), DEFAULTS["metrics"]["alerts"])
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": rules}]}), "utf-8")
    restarting = next(r for r in rules if r["alert"] == "ModelServerRestarting")
    burst = [20 + i for i in range(RESTARTS_IN_15_MINUTES + 1)]
    hashes = [HASH_ALPHABET[: n + 1] for n in range(10)]  # 1 to 10 characters
    ours = [
        {"namespace": namespace, "pod": api_server_pod_name(name, h, f"x2k4{h[-1]}"), "container": container, **KSM}
        for h in hashes
    ]  # each pod its own random suffix: cut hashes can leave two pods the same base
    assert length < 47 or not any(re.fullmatch(OLD_PATTERN.format(name=name), labels["pod"]) for labels in ours[-1:])
    expected = [{"exp_labels": {**labels, **restarting["labels"]}, "exp_annotations": restarting["annotations"]}
                for labels in ours]  # fmt: skip
    tests = [
        group("ours", [restarts(labels, burst) for labels in ours], "ModelServerRestarting", {burst[-1] + 1: expected})
    ]
    if length <= 53:
        sibling = [
            {**labels, "pod": api_server_pod_name(f"{name}-v2", h, f"x2k4{h[-1]}")}
            for labels, h in zip(ours, hashes, strict=True)
        ]
        tests.append(
            group("<name>-v2", [restarts(s, burst) for s in sibling], "ModelServerRestarting", {burst[-1] + 1: []})
        )
    spec = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), "utf-8")
    done = subprocess.run([promtool, "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("length", NAME_LENGTHS + CHART_ONLY_LENGTHS)
def test_the_chart_matches_pods_as_ml_gen_does(helm: str, repo_root: Path, length: int) -> None:
    """The chart's ml-model-api.podQuery writes ml-gen's pattern for a fullname of any length."""
    from ml_gen.targets.deployment import pod_name_pattern

    name = sized_name(length)
    done = subprocess.run(
        [helm, "template", "r", str(repo_root / "charts" / "ml-model-api"), "--namespace", "ns",
         "--set", f"fullnameOverride={name}", "--set", "prometheusRule.enabled=true",
         "--show-only", "templates/prometheusrule.yaml"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rule = yaml.safe_load(done.stdout)
    restarting = next(r for r in rule["spec"]["groups"][0]["rules"] if r["alert"] == "ModelServerRestarting")
    assert f'pod=~"{pod_name_pattern(name)}"' in restarting["expr"]


# --- the real server -------------------------------------------------------------------------------------------


class TinyModel:
    """Predicts each row's sum; a row of zeros makes it raise, as a broken model would (the server answers 500)."""

    n_features_in_ = 4

    def predict(self, rows: list[list[float]]) -> list[float]:
        if any(not any(row) for row in rows):
            raise RuntimeError("the model failed")
        return [sum(row) for row in rows]


@pytest.fixture
def make_client(server: ModuleType, tmp_path: Path) -> MakeClient:
    """make_client(ready): a test client of the server, serving TinyModel if ready, else still loading."""

    def make(ready: bool) -> FlaskClient:
        environ = {"MODEL_URI": str(tmp_path / "model.joblib"), "MODEL_NAME": "churn", "MODEL_VERSION": "3"}
        app = server.create_app(environ, load=False)
        if ready:
            app.extensions["model_state"].model = TinyModel()
        client: FlaskClient = app.test_client()
        return client

    return make


GOOD, BAD, FAILING = {"instances": [[1, 2, 3, 4]]}, {"rows": [[1, 2, 3, 4]]}, {"instances": [[0, 0, 0, 0]]}


def scrape(client: FlaskClient) -> Samples:
    """GET /metrics, parsed: {(sample name, sorted labels): value} of the counters and histograms."""
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        if family.type in ("counter", "histogram")
        for s in family.samples
        if not s.name.endswith("_created")
    }


SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')


def matches(labels: dict[str, str], matcher: tuple[str, str, str]) -> bool:
    """Whether labels satisfy one PromQL label matcher (regular expressions are anchored, as in PromQL)."""
    name, op, value = matcher
    actual = labels.get(name, "")
    hit = re.fullmatch(value, actual) is not None if "~" in op else actual == value
    return hit if op in ("=", "=~") else not hit


def test_the_server_exports_every_metric_and_label_the_alerts_select(target: Target, make_client: MakeClient) -> None:
    client = make_client(True)
    statuses = [client.post("/predict", json=body).status_code for body in (GOOD, BAD, FAILING)]
    assert statuses == [200, 400, 500]
    client.get("/ready")
    samples = scrape(client)
    assert all(label not in dict(labels) for _, labels in samples for label in TARGET_LABELS)
    checked = []
    for rule in target.groups[0]["rules"]:
        grouped = [label.strip() for by in re.findall(r"by \(([^)]*)\)", rule["expr"]) for label in by.split(",")]
        for metric, selector in SELECTOR.findall(rule["expr"]):
            if metric.startswith("kube_"):
                continue  # kube-state-metrics' series, not the server's
            wanted = [m for m in MATCHER.findall(selector) if m[0] not in TARGET_LABELS]
            found = [dict(labels) for name, labels in samples if name == metric]
            found = [labels for labels in found if all(matches(labels, m) for m in wanted)]
            assert found, f"{rule['alert']}: the server exports no {metric} with {wanted}"
            assert all(label in labels for labels in found for label in grouped), (rule["alert"], grouped)
            checked.append(metric)
    assert sorted(checked) == sorted([serving_metrics.REQUESTS] * 2 + [f"{serving_metrics.REQUEST_SECONDS}_bucket"])


def as_series(before: Samples, after: Samples, pod: dict[str, str]) -> list[Series]:
    """The scraped samples of one pod as promtool input: `after`, then growing by after - before every minute."""
    result = []
    for (name, labels), value in after.items():
        step = value - before.get((name, labels), 0.0)
        result.append(series(name, {**pod, **dict(labels)}, f"{value:f}+{step:f}x{HORIZON}"))
    return result


def traffic_minute(client: FlaskClient, bodies: list[dict[str, Any]]) -> None:
    """One minute of a pod's traffic: these prediction requests and the kubelet's probes (readiness every 5 s,
    liveness every 10 s, as ml-gen renders them by default)."""
    for body in bodies:
        client.post("/predict", json=body)
    for _ in range(12):
        client.get("/ready")
    for _ in range(6):
        client.get("/health")


class SlowModel(TinyModel):
    """TinyModel taking `seconds` for a row starting with 9."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def predict(self, rows: list[list[float]]) -> list[float]:
        if any(row[0] == 9 for row in rows):
            time.sleep(self.seconds)
        return super().predict(rows)


def test_the_servers_own_samples_fire_the_alerts_of_a_failing_slow_model(
    run_tests: RunTests, target: Target, make_client: MakeClient
) -> None:
    """A minute of real traffic, repeated: 1 of 23 predictions fails with 500 and 1 is slower than the threshold."""
    limit = SETTINGS["p99LatencySeconds"]
    slow = min(b for b in serving_metrics.REQUEST_SECONDS_BUCKETS if b >= limit) * 1.05  # lands above the threshold
    client = make_client(True)
    client.application.extensions["model_state"].model = SlowModel(slow)
    before = scrape(client)
    traffic_minute(client, [GOOD] * 20 + [BAD, FAILING, {"instances": [[9, 1, 1, 1]]}])
    pod = as_series(before, scrape(client), target.pod())
    run_tests(
        [
            group("5xx", pod, "ModelServerErrorRatioHigh", {HOLD + 5: [target.expected("ModelServerErrorRatioHigh")]}),
            group("slow", pod, "ModelServerLatencyHigh", {HOLD + 5: [target.expected("ModelServerLatencyHigh")]}),
        ]
    )


def test_the_servers_own_samples_of_a_healthy_pod_and_a_loading_one_fire_nothing(
    run_tests: RunTests, target: Target, make_client: MakeClient
) -> None:
    serving, loading = make_client(True), make_client(False)
    before = [scrape(serving), scrape(loading)]
    traffic_minute(serving, [GOOD] * 20 + [BAD])
    traffic_minute(loading, [])  # not ready: the Service sends it no predictions, the kubelet probes it
    assert loading.get("/ready").status_code == 503
    pods = as_series(before[0], scrape(serving), target.pod(0)) + as_series(before[1], scrape(loading), target.pod(1))
    run_tests(
        [
            group(f"healthy: {alert}", pods, alert, {HOLD + 5: []})
            for alert in ("ModelServerErrorRatioHigh", "ModelServerLatencyHigh")
        ]
    )

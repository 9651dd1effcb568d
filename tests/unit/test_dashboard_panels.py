"""The Grafana dashboard: its queries are the alerts' expressions, its JSON is written as Helm writes it, and it
is rendered only when metrics.dashboard is on (tests/test_dashboard.py runs the queries and checks the schema)."""

from __future__ import annotations

import json
import re

import pytest

from ml_gen import config, dashboard, gojson, render, targets
from ml_gen.config.model import DEFAULTS

CONFIG = """\
name: demo
image: {repository: myorg/demo, tag: '1.0'}
metrics: {enabled: true, alerts: {enabled: true}, dashboard: {enabled: true}}
environments: {dev: {namespace: ml-dev}}
"""


def _render(text: str = CONFIG, env: str = "dev") -> render.Rendered:
    return render.render_environment(config.parse(text, "ml-model.yaml"), env)


def _board(rendered: render.Rendered) -> dict:
    (map_,) = [o for o in rendered.objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-dashboard")]
    (text,) = map_["data"].values()
    return json.loads(text)


def _exprs(board: dict) -> dict[str, list[str]]:
    return {p["title"]: [t["expr"] for t in p["targets"]] for p in board["panels"]}


@pytest.mark.parametrize("target", sorted(targets.TARGETS))
def test_the_panels_query_what_the_alerts_alert_on(target):
    """Each alert's expression, without its threshold, is a panel's query (the share of 5xx: its parts, the
    panel's 0 before any 5xx): one source for both."""
    rendered = _render(CONFIG.replace("metrics:", f"target: {target}\nmetrics:"))
    (rule,) = [o for o in rendered.objects if o["kind"] == "PrometheusRule"]
    alerts = {r["alert"]: r["expr"].rsplit(" ", 2)[0] for r in rule["spec"]["groups"][0]["rules"]}
    queries = [expr for exprs in _exprs(_board(rendered)).values() for expr in exprs]
    for name in ("ModelServerLatencyHigh", "ModelServerRestarting"):
        assert alerts[name] in queries, name
    errors, requests = alerts["ModelServerErrorRatioHigh"].split(" / ")
    assert f"({errors} or vector(0)) / {requests}" in queries
    pods = re.search(r"\{(namespace=[^}]*?pod=~\"[^\"]*\")", alerts["ModelServerRestarting"])[1]  # type: ignore[index]
    deployments = re.search(r"\{([^}]*)\}", alerts["ModelServerPodsNotReady"])[1]  # type: ignore[index]
    for expr in queries:  # every query selects the alerts' pods, or the Deployments that run them
        assert pods in expr or f"{{{deployments}}}" in expr, expr


def test_the_thresholds_drawn_are_the_alerts():
    board = _board(
        _render(CONFIG.replace("alerts: {enabled: true}", "alerts: {errorRatio: 0.02, p99LatencySeconds: 2}"))
    )
    steps = {p["title"]: p["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"]
             for p in board["panels"] if "thresholds" in p["fieldConfig"]["defaults"]}  # fmt: skip
    assert steps == {"Share of POST /predict answered 5xx": 0.02, "Latency of POST /predict": 2}


def test_panel_ids_and_places_are_stable_and_do_not_overlap():
    panels = _board(_render())["panels"]
    assert [p["id"] for p in panels] == list(range(1, len(panels) + 1))
    cells = [(p["gridPos"]["x"], p["gridPos"]["y"]) for p in panels]
    assert len(set(cells)) == len(cells) and all(p["gridPos"]["w"] == 12 for p in panels)


def test_the_configmap_is_labelled_for_the_sidecar_and_named_per_environment():
    rendered = _render(CONFIG.replace("dashboard: {enabled: true}", "dashboard: {enabled: true, folder: Models}"))
    (map_,) = [o for o in rendered.objects if o["metadata"]["name"] == "demo-dashboard"]
    assert map_["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert map_["metadata"]["annotations"] == {"grafana_folder": "Models"}
    assert list(map_["data"]) == ["demo_dev.json"]
    board = _board(rendered)
    assert (board["uid"], board["title"]) == ("demo_dev", "demo (dev)")


def test_in_grafanas_namespace_the_name_says_whose_release_it_is():
    rendered = _render(
        CONFIG.replace("dashboard: {enabled: true}", "dashboard: {enabled: true, namespace: monitoring}")
    )
    (map_,) = [o for o in rendered.objects if o["metadata"]["name"].endswith("-dashboard")]
    assert (map_["metadata"]["name"], map_["metadata"]["namespace"]) == ("demo-ml-dev-dashboard", "monitoring")
    assert "annotations" not in map_["metadata"]


def test_a_uid_too_long_for_grafana_is_cut_and_keeps_a_hash_of_the_whole():
    long = CONFIG.replace("name: demo", "name: " + "m" * 50)
    uids = {_board(_render(long.replace("dev", env), env))["uid"] for env in ("dev", "prod")}
    assert len(uids) == 2 and all(len(uid) == 40 for uid in uids)


def test_off_by_default_nothing_is_rendered_and_the_values_do_not_change():
    assert DEFAULTS["metrics"]["dashboard"]["enabled"] is False
    rendered = _render(CONFIG.replace(", dashboard: {enabled: true}", ""))
    assert not [o for o in rendered.objects if o["metadata"]["name"].endswith("-dashboard")]
    assert "grafanaDashboard" not in rendered.values


@pytest.mark.parametrize(
    "value, text",
    [
        (0.05, "0.05"),
        (1.0, "1"),
        (0.00005, "0.00005"),  # Python writes 5e-05
        (1e-7, "1e-7"),
        (1e21, "1e+21"),
        (123456789012345678.0, "123456789012345680"),
        ("<a & b>", '"\\u003ca \\u0026 b\\u003e"'),
        ("\u2028", '"\\u2028"'),
        ("ü\n", '"ü\\n"'),
        ({}, "{}"),
        ([], "[]"),
        (None, "null"),
        (True, "true"),
    ],
)
def test_json_is_written_as_gos_encoding_json_writes_it(value, text):
    """encoding/json's choices, which the chart's toPrettyJson makes (the parity test compares whole dashboards)."""
    assert gojson.dumps(value) == text


def test_nested_json_is_indented_by_two_spaces_with_keys_in_order():
    assert (
        gojson.dumps({"b": [1, {"c": None}], "a": {}})
        == '{\n  "a": {},\n  "b": [\n    1,\n    {\n      "c": null\n    }\n  ]\n}'
    )
    assert json.loads(gojson.dumps(dashboard.dashboard("t", "u", []))) == dashboard.dashboard("t", "u", [])

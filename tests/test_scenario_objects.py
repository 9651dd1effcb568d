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

"""PrometheusRule (prometheus-operator): the model API's alerts (ml_gen.alerts), as one rule group."""

from __future__ import annotations

from ml_gen import alerts
from ml_gen.kinds.helpers import Context, data
from ml_gen.kinds.kind import Kind, Object


def build(ctx: Context) -> Object | None:
    """The rules name the release's namespace (as `.Release.Namespace` does in the chart), so a
    values file installed into another namespace still alerts on its own pods."""
    rule = ctx.values["prometheusRule"]
    if not rule["enabled"]:
        return None
    rules = alerts.rules(ctx.fullname, ctx.namespace, ctx.server_container, ctx.pods, rule)
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": ctx.metadata(labels=rule["labels"]),
        "spec": {"groups": [{"name": f"{ctx.fullname}.rules", "rules": data(rules)}]},
    }


KIND = Kind("PrometheusRule", "monitoring.coreos.com/v1", "prometheusrules", "prometheusrule", build, schema="crd")

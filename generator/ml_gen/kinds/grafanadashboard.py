"""ConfigMap of the model API's Grafana dashboard (ml_gen.dashboard), labelled for the Grafana sidecar."""

from __future__ import annotations

from ml_gen import dashboard, gojson
from ml_gen.kinds.helpers import Context, data
from ml_gen.kinds.kind import Kind, Object


def name(ctx: Context) -> str:
    """<fullname>-dashboard; in another namespace than the release's (Grafana's, say, where every
    environment's dashboard may land) the release's namespace is part of it."""
    other = ctx.values["grafanaDashboard"]["namespace"]
    return f"{ctx.fullname}-{ctx.namespace}-dashboard" if other else f"{ctx.fullname}-dashboard"


def build(ctx: Context) -> Object | None:
    """The dashboard JSON as Helm's toPrettyJson writes it, under <uid>.json: the sidecar writes every
    ConfigMap's files into one folder, and the uid is unique per config and environment."""
    board = ctx.values.get("grafanaDashboard", {})
    if not board.get("enabled"):
        return None
    alerts = ctx.values["prometheusRule"]
    panels = dashboard.panels(ctx.pods, ctx.server_container, alerts["errorRatio"], alerts["p99LatencySeconds"])
    text = gojson.dumps(dashboard.dashboard(board["title"], board["uid"], panels))
    meta = ctx.metadata(
        name=name(ctx),
        labels={board["label"]: board["labelValue"]},
        annotations={board["folderAnnotation"]: board["folder"]} if board["folder"] else None,
    )
    meta["namespace"] = board["namespace"] or ctx.namespace
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data({f"{board['uid']}.json": text})}


KIND = Kind(
    "ConfigMap",
    "v1",
    "configmaps",
    "grafanadashboard",
    build,
    config_field="metrics",
    name="GrafanaDashboard",
)

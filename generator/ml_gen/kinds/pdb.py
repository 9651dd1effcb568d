"""PodDisruptionBudget: how many pods a voluntary eviction (a node drain) may take at once."""

from __future__ import annotations

from ml_gen.kinds.helpers import Context, data
from ml_gen.kinds.kind import Kind, Object, ObjectIndex


def build(ctx: Context) -> Object | None:
    pdb = ctx.values["podDisruptionBudget"]
    if not pdb["enabled"]:
        return None
    spec: Object = {}
    if pdb.get("minAvailable") is not None:
        spec["minAvailable"] = pdb["minAvailable"]
    else:
        spec["maxUnavailable"] = pdb.get("maxUnavailable")
    spec["selector"] = {"matchLabels": data(ctx.selector_labels)}
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": ctx.metadata(), "spec": spec}


def wiring(pdb: Object, rendered: ObjectIndex) -> list[str]:
    if not rendered.selects_pods(pdb["spec"].get("selector", {}).get("matchLabels", {})):
        return ["its selector matches no pods of a rendered workload"]
    return []


KIND = Kind("PodDisruptionBudget", "policy/v1", "poddisruptionbudgets", "pdb", build, wiring=wiring)

"""ConfigMap: the config files the pods mount read-only (values configFiles)."""

from __future__ import annotations

from ml_gen.kinds.helpers import Context, data
from ml_gen.kinds.kind import Kind, Object


def build(ctx: Context) -> Object | None:
    if not ctx.values["configFiles"]:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": ctx.metadata(),
        "data": data(ctx.values["configFiles"]),
    }


KIND = Kind("ConfigMap", "v1", "configmaps", "configmap", build, config_field="configFiles")

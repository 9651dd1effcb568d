"""ServiceAccount: the pods' own identity, with no API token mounted unless the values ask for one."""

from __future__ import annotations

from ml_gen.kinds.helpers import Context, data
from ml_gen.kinds.kind import Kind, Object


def build(ctx: Context) -> Object | None:
    account = ctx.values["serviceAccount"]
    if not account["create"]:
        return None
    obj = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": ctx.metadata(ctx.service_account_name, account["annotations"]),
        "automountServiceAccountToken": account["automount"],
    }
    if account.get("secrets"):  # KServe reads the storage credentials from the Secrets listed here
        obj["secrets"] = data(account["secrets"])
    return obj


KIND = Kind("ServiceAccount", "v1", "serviceaccounts", "serviceaccount", build)

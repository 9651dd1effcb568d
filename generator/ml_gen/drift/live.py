"""One environment against its live cluster: a dry-run apply per rendered object compared with the live object,
and the release's live objects no longer rendered."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ml_gen import kinds
from ml_gen.check import server
from ml_gen.drift import compare, fields

if TYPE_CHECKING:
    from ml_gen.render import Rendered

MANAGED_BY = "app.kubernetes.io/managed-by"
HELM = "Helm"
"""The managed-by label's value on the objects of a Helm release (the chart's .Release.Service)."""
INSTANCE = "app.kubernetes.io/instance"
"""The label naming the release (the config's name) on every object ml-gen renders, and the chart too."""

Action = Literal["same", "change", "create", "prune", "refused"]


@dataclass
class Change:
    """What applying would do to one object: its label (Kind/namespace/name), the changed field paths, the
    unified diff, and why it would be refused."""

    label: str
    action: Action
    fields: list[str] = field(default_factory=list)
    diff: str = ""
    problems: list[str] = field(default_factory=list)

    def text(self) -> str:
        """What `ml-gen diff` prints for the object: a comment line naming the changed fields (or the pruning),
        then its unified diff."""
        if self.action == "prune":
            return f"# {self.label}: live, no longer rendered: would be pruned\n"
        head = f"# {self.label}: {', '.join(self.fields)}\n" if self.fields else ""
        return head + self.diff


def summary(changes: list[Change]) -> str:
    """How many objects would change, be created, be pruned, or stay."""
    counts = {action: sum(1 for c in changes if c.action == action) for action in ("change", "create", "prune")}
    same = len(changes) - sum(counts.values())
    return f"{counts['change']} changed, {counts['create']} to create, {counts['prune']} to prune, {same} unchanged"


def diff(rendered: Rendered, kubeconfig: str | None, context: str | None) -> list[Change]:
    """Every rendered object of one environment against the live cluster, then the live objects to prune."""
    client = server.api_client(kubeconfig, context)
    exists = _namespace_exists(client, rendered.namespace)
    with ThreadPoolExecutor(max_workers=server.CONCURRENT_REQUESTS) as pool:
        changes = list(pool.map(lambda obj: compare_object(client, obj, exists), rendered.objects))
        if exists:
            wanted = {label(obj) for obj in rendered.objects}
            changes += leftovers(client, rendered.config.name, rendered.namespace, wanted, pool)
    return changes


def removed(release: str, namespace: str, kubeconfig: str | None, context: str | None) -> list[Change]:
    """The live objects of a release in the namespace of an environment no longer in the config: all to prune."""
    client = server.api_client(kubeconfig, context)
    if not _namespace_exists(client, namespace):
        return []
    with ThreadPoolExecutor(max_workers=server.CONCURRENT_REQUESTS) as pool:
        return leftovers(client, release, namespace, set(), pool)


def label(obj: dict[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{kinds.of(obj).key}/{meta.get('namespace', '')}/{meta['name']}"


READS = 5
"""How often an object is read and dry-run applied when it changes in between (an HPA scaling it, say)."""


def version(obj: dict[str, Any]) -> str | None:
    found = obj["metadata"].get("resourceVersion")
    return None if found is None else str(found)


def is_helms(live: dict[str, Any]) -> bool:
    return (live["metadata"].get("labels") or {}).get(MANAGED_BY) == HELM


def compare_object(client: Any, obj: dict[str, Any], namespace_exists: bool = True) -> Change:
    """What a server-side apply of one rendered object would change in its live state. The live object is
    read again when the dry run answered from a newer version of it, so both sides are the same moment."""
    where = label(obj)
    if not namespace_exists:  # nothing to dry-run against: the object as rendered is what is created
        return Change(where, "create", diff=compare.unified(where, None, compare.comparable(obj)))
    kind = kinds.of(obj)
    for _ in range(READS):  # until the live object and the dry run's result are the same version of it
        try:
            live = server.live_object(client, server.object_path(obj))
        except server.HTTPError as err:
            return Change(where, "refused", problems=[f"cannot read the live object: {err.message}"])
        applied = as_helm_renders(obj) if live is not None and is_helms(live) else obj
        problems = kind.live_check(live, applied) if live is not None and kind.live_check is not None else []
        try:
            result = json.loads(server.apply_patch(client, applied, dry=True).data)
        except server.HTTPError as err:
            problems.append(_refusal(client, applied, err, live is not None))
            break
        if live is None or version(result) == version(live):
            break
    if problems:
        return Change(where, "refused", problems=problems)
    if live is None:
        return Change(where, "create", diff=compare.unified(where, None, compare.comparable(result)))
    fields.remove(result, fields.left_behind(result, fields.appliers(live), (server.FIELD_MANAGER, "Apply")))
    before, after = compare.comparable(live), compare.comparable(result)
    compare.mask_secrets(before, after)
    changed = compare.changed_fields(before, after)
    if not changed:
        return Change(where, "same")
    return Change(where, "change", changed, compare.unified(where, before, after))


def _refusal(client: Any, obj: dict[str, Any], err: server.HTTPError, exists: bool) -> str:
    """Why the dry-run apply of an object failed. A 404 for an object not yet live is its namespace missing (one
    other than the environment's, which is created with the release: the dashboard's, say), as kubectl diff fails
    on it, or else its kind not served."""
    if err.status != 404 or exists:
        return f"rejected by the API server: {err.message}"
    namespace = obj["metadata"].get("namespace")
    if kinds.of(obj).namespaced and namespace and not _namespace_exists(client, namespace):
        return f"namespace '{namespace}' does not exist: create it before applying"
    return f"the API server does not serve {obj['apiVersion']} {obj['kind']} (is its CRD installed?)"


def as_helm_renders(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as the chart renders it in a Helm release: the managed-by label says Helm (on the object and
    its pod template), as the parity test between chart and manifests allows."""
    text = json.dumps(obj)
    return dict(json.loads(text.replace(f'"{MANAGED_BY}": "ml-gen"', f'"{MANAGED_BY}": "{HELM}"')))


def leftovers(client: Any, release: str, namespace: str, wanted: set[str], pool: ThreadPoolExecutor) -> list[Change]:
    """The live objects of the release (its instance label, managed by ml-gen or Helm) in the namespace that are
    not among the `wanted` labels: an apply with pruning, or a Helm upgrade, deletes them."""
    selector = f"{INSTANCE}={release},{MANAGED_BY} in (ml-gen,{HELM})"
    release_kinds = [kind for kind in kinds.resources() if kind.template is not None and kind.namespaced]

    def listed(kind: kinds.Kind) -> list[Change]:
        path = f"/{kind.path_prefix}/namespaces/{namespace}/{kind.plural}"
        try:
            items = json.loads(server.request(client, "GET", path, [("labelSelector", selector)]).data)["items"]
        except server.HTTPError as err:
            if err.status == 404:  # the kind is not served here (a CRD not installed): nothing to prune
                return []
            problem = f"cannot list them to find the ones to prune: {err.message}"
            return [Change(f"{kind.key}/{namespace}/*", "refused", problems=[problem])]
        found = [f"{kind.key}/{namespace}/{item['metadata']['name']}" for item in items]
        return [Change(where, "prune") for where in found if where not in wanted]

    return [change for changes in pool.map(listed, release_kinds) for change in changes]


def _namespace_exists(client: Any, namespace: str) -> bool:
    try:
        server.request(client, "GET", f"/api/v1/namespaces/{namespace}")
    except server.HTTPError as err:
        return err.status != 404  # forbidden to read it: the dry runs will say what they may do
    return True

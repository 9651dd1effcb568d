"""`ml-gen diff` without a cluster: managedFields ownership, what is compared, the masking, the per-object verdict
against a fake API server, and the exit codes (tests/live/test_diff_live.py runs it against the API server)."""

from __future__ import annotations

import copy
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from click.testing import CliRunner

from ml_gen import config, project, render
from ml_gen.check import server
from ml_gen.cli import main
from ml_gen.drift import compare, fields, live

ENV = 'k:{"name":"WORKERS"}'
CONTAINER = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"api"}')


def _entry(manager: str, operation: str, tree: dict[str, Any], subresource: str = "") -> dict[str, Any]:
    entry = {"manager": manager, "operation": operation, "fieldsV1": tree}
    return {**entry, "subresource": subresource} if subresource else entry


def _tree(*paths: tuple[str, ...]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        for step in path:
            node = node.setdefault(step, {})
    return root


MARK = fields.APPLIER_MARK
WORKERS = (*CONTAINER, "f:env", ENV)


def _deployment(managed: list[dict[str, Any]], env: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "demo",
            "namespace": "demo",
            "labels": {"app.kubernetes.io/managed-by": "ml-gen"},
            "managedFields": managed,
        },
        "spec": {"replicas": 4, "template": {"spec": {"containers": [{"name": "api", "env": env}]}}},
    }


def test_the_applier_owns_the_managed_by_label_and_what_only_it_owns_is_left_behind():
    kubectl = _tree(MARK, (*WORKERS, "."), (*WORKERS, "f:name"), (*WORKERS, "f:value"), (*CONTAINER, "f:image"))
    mine = _tree(MARK, (*CONTAINER, "f:image"))
    hpa = _tree(("f:spec", "f:replicas"))
    managed = [_entry("kubectl", "Apply", kubectl), _entry("ml-gen", "Apply", mine),
               _entry("kube-controller-manager", "Update", hpa, "scale")]  # fmt: skip
    result = _deployment(managed, [{"name": "LEVEL", "value": "info"}, {"name": "WORKERS", "value": "2"}])
    assert fields.appliers(result) == {("kubectl", "Apply"), ("ml-gen", "Apply")}
    stale = fields.left_behind(result, {("kubectl", "Apply")}, ("ml-gen", "Apply"))
    assert stale == {(*WORKERS, "."), (*WORKERS, "f:name"), (*WORKERS, "f:value")}
    fields.remove(result, stale)
    assert result["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "LEVEL", "value": "info"}]
    assert result["spec"]["replicas"] == 4  # the HPA's, through /scale: never left behind


def test_a_node_stays_while_another_manager_owns_inside_it_and_emptied_parents_go():
    kubectl = _tree(MARK, (*WORKERS, "."), (*WORKERS, "f:name"), ("f:metadata", "f:annotations", "f:a"))
    other = _tree((*WORKERS, "f:value"))
    result = _deployment([_entry("kubectl", "Apply", kubectl), _entry("kubectl-edit", "Update", other)],
                         [{"name": "WORKERS", "value": "2"}])  # fmt: skip
    result["metadata"]["annotations"] = {"a": "1"}
    stale = fields.left_behind(result, {("kubectl", "Apply")}, ("ml-gen", "Apply"))
    fields.remove(result, stale)
    assert result["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "WORKERS", "value": "2"}]
    assert "annotations" not in result["metadata"]


def test_what_is_never_a_change_is_left_out():
    obj = {
        "kind": "Service",
        "metadata": {
            "name": "s",
            "uid": "u",
            "resourceVersion": "9",
            "managedFields": [],
            "annotations": {
                "meta.helm.sh/release-name": "r",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
                "argocd.argoproj.io/tracking-id": "iris-prod:/Service:ns/s",
            },
            "labels": {
                "kustomize.toolkit.fluxcd.io/name": "x",
                "helm.toolkit.fluxcd.io/name": "iris-prod",  # helm-controller's, on every object of a HelmRelease
                "helm.toolkit.fluxcd.io/namespace": "flux-system",
                "app": "s",
            },
        },
        "status": {"loadBalancer": {}},
    }
    assert compare.comparable(obj) == {"kind": "Service", "metadata": {"name": "s", "labels": {"app": "s"}}}


def test_secret_values_are_masked_and_a_changed_one_says_so():
    before = {"apiVersion": "v1", "kind": "Secret", "data": {"same": "YQ==", "old": "Yg=="}}
    after = {"apiVersion": "v1", "kind": "Secret", "data": {"same": "YQ==", "old": "Yw=="}, "stringData": {"n": "x"}}
    compare.mask_secrets(before, after)
    assert before["data"] == {"same": "***", "old": "*** (before)"}
    assert after == {**after, "data": {"same": "***", "old": "*** (after)"}, "stringData": {"n": "*** (after)"}}
    text = compare.unified("Secret/ns/s", before, after)
    assert text.startswith("--- live/Secret/ns/s\n+++ rendered/Secret/ns/s\n") and "YQ" not in text


def test_changed_fields_name_list_items_by_name():
    before = {"spec": {"containers": [{"name": "api", "image": "a:1", "ports": [80]}]}}
    after = {"spec": {"containers": [{"name": "api", "image": "a:2", "ports": [80, 81]}]}}
    assert compare.changed_fields(before, after) == ["spec.containers[api].image", "spec.containers[api].ports"]
    assert compare.changed_fields(before, copy.deepcopy(before)) == []


def test_the_same_named_items_in_another_order_are_a_change_of_the_list():
    before = {"spec": {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}}
    after = {"spec": {"env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]}}
    assert compare.changed_fields(before, after) == ["spec.env"]
    twice = {"spec": {"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "1"}]}}
    assert compare.changed_fields(twice, {"spec": {"env": [{"name": "A", "value": "1"}]}}) == ["spec.env"]


# -- one object against a fake API server ---------------------------------------------------------------------

KSERVE = (
    "name: demo\ntarget: kserve\nimage: {repository: myorg/demo, tag: '1.0'}\n"
    "environments:\n  raw: {namespace: demo}\n"
    "  serverless: {namespace: demo-next, kserve: {deploymentMode: Serverless}, networkPolicy: {enabled: false}}\n"
)


class _Response:
    def __init__(self, body: dict[str, Any]):
        self.status, self.reason, self.headers, self.data = 200, "", {}, json.dumps(body).encode()


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The objects (and lists) a fake API server holds, by path; a dry-run apply returns the object sent; a path
    under "refuse" gets that (status, message)."""
    held: dict[str, Any] = {"refuse": {}}

    def request(client: Any, method: str, path: str, query: Any = None, body: Any = None, *rest: Any) -> Any:
        if path in held["refuse"]:
            raise server.HTTPError(*held["refuse"][path])
        if method == "GET":
            if path not in held:
                raise server.HTTPError(404, "not found")
            return _Response(held[path])
        return _Response(json.loads(body))

    monkeypatch.setattr(server, "request", request)
    return held


def _isvc(env: str) -> dict[str, Any]:
    objects = render.render_environment(config.parse(KSERVE, "ml-model.yaml"), env).objects
    isvc = next(o for o in objects if o["kind"] == "InferenceService")
    isvc["metadata"]["namespace"] = "demo"  # one object, rendered as either environment
    return isvc


ISVC = "/apis/serving.kserve.io/v1beta1/namespaces/demo/inferenceservices/demo"


def test_a_new_object_is_created_and_an_equal_one_is_the_same(cluster):
    created = live.compare_object(None, _isvc("raw"))
    assert created.action == "create" and created.diff.startswith("--- live/InferenceService/demo/demo\n")
    assert all(line.startswith(("+", "-", "@")) for line in created.diff.splitlines())
    assert live.compare_object(None, _isvc("raw"), namespace_exists=False).diff == created.diff  # as rendered
    cluster[ISVC] = {**_isvc("raw"), "status": {"url": "http://demo"}}
    assert live.compare_object(None, _isvc("raw")).action == "same"


def test_a_live_object_changed_between_the_read_and_the_dry_run_is_read_again(cluster, monkeypatch):
    """Another writer (an HPA scaling through /scale, say) changes the object after ml-gen read it: the dry
    run answers from the newer version, which is then read too, so that change is not ml-gen's."""
    cluster[ISVC] = {**_isvc("raw"), "metadata": {**_isvc("raw")["metadata"], "resourceVersion": "1"}}
    dry_runs = []

    def apply_patch(client: Any, obj: dict[str, Any], dry: bool) -> Any:
        if not dry_runs:  # the other writer, between ml-gen's read and its first dry run
            newer = copy.deepcopy(cluster[ISVC])
            newer["metadata"].update(resourceVersion="2", annotations={"scaled-by": "hpa"})
            cluster[ISVC] = newer
        dry_runs.append(obj)
        meta = cluster[ISVC]["metadata"]
        return _Response({**obj, "metadata": {**obj["metadata"], **meta}})

    monkeypatch.setattr(server, "apply_patch", apply_patch)
    assert live.compare_object(None, _isvc("raw")).action == "same"
    assert len(dry_runs) == 2


def test_a_deployment_mode_that_cannot_change_is_said_as_validate_says_it(cluster):
    cluster[ISVC] = {**_isvc("raw"), "status": {"deploymentMode": "RawDeployment"}}
    change = live.compare_object(None, _isvc("serverless"))
    assert change.action == "refused"
    (problem,) = change.problems
    assert problem == server.apply(None, _isvc("serverless"))[0]  # one message, shared with validate --server
    assert "RawDeployment mode, which cannot change to Serverless" in problem


def test_a_live_object_that_cannot_be_read_is_named(cluster):
    cluster["refuse"][ISVC] = (422, "spec.predictor: Required value")
    change = live.compare_object(None, _isvc("raw"))
    assert change.action == "refused"
    assert change.problems == ["cannot read the live object: spec.predictor: Required value"]


def test_a_dry_run_refused_or_not_served_is_named(cluster, monkeypatch):
    def refuse(client: Any, obj: Any, dry: bool) -> Any:
        raise server.HTTPError(*cluster["apply"])

    monkeypatch.setattr(server, "apply_patch", refuse)
    cluster["apply"] = (422, "spec.predictor: Required value")
    (refused,) = live.compare_object(None, _isvc("raw")).problems
    assert refused == "rejected by the API server: spec.predictor: Required value"
    cluster["apply"] = (404, "the server could not find the requested resource")
    cluster["/api/v1/namespaces/demo"] = {"metadata": {"name": "demo"}}
    (unserved,) = live.compare_object(None, _isvc("raw")).problems
    assert (
        unserved == "the API server does not serve serving.kserve.io/v1beta1 InferenceService (is its CRD installed?)"
    )


def test_an_object_in_a_namespace_that_does_not_exist_says_so(cluster, monkeypatch):
    def refuse(client: Any, obj: Any, dry: bool) -> Any:
        raise server.HTTPError(404, 'namespaces "monitoring" not found')

    monkeypatch.setattr(server, "apply_patch", refuse)
    dashboard = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d", "namespace": "monitoring"}}
    change = live.compare_object(None, dashboard)
    assert change.action == "refused"  # as kubectl diff fails on it: applying would fail too
    assert change.problems == ["namespace 'monitoring' does not exist: create it before applying"]


def test_the_releases_live_objects_no_longer_rendered_are_to_prune(cluster):
    cluster[ISVC.rsplit("/", 1)[0]] = {"items": [{"metadata": {"name": "demo"}}, {"metadata": {"name": "old"}}]}
    cluster["refuse"]["/api/v1/namespaces/demo/configmaps"] = (403, "configmaps is forbidden")
    with ThreadPoolExecutor() as pool:
        changes = live.leftovers(None, "demo", "demo", {"InferenceService/demo/demo"}, pool)
    assert [(c.label, c.action, c.problems) for c in changes] == [
        ("ConfigMap/demo/*", "refused", ["cannot list them to find the ones to prune: configmaps is forbidden"]),
        ("InferenceService/demo/old", "prune", []),
    ]  # the kinds not served (404 here) have nothing to prune


def test_a_helm_release_is_compared_with_what_the_chart_renders(cluster):
    cluster[ISVC] = live.as_helm_renders(_isvc("raw"))
    assert cluster[ISVC]["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    assert live.compare_object(None, _isvc("raw")).action == "same"


# -- the command: exit codes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ([live.Change("Deployment/ns/d", "same")], 0),
        ([live.Change("Deployment/ns/d", "change", ["spec.replicas"], "--- live/x\n+++ rendered/x\n")], 1),
        ([live.Change("Ingress/ns/i", "prune")], 1),
        ([live.Change("Deployment/ns/d", "refused", problems=["rejected by the API server: no"])], 2),
    ],
)
def test_exit_codes(example, monkeypatch, changes, code):
    monkeypatch.setattr(project, "diff", lambda *args: changes)
    result = CliRunner().invoke(main, ["diff", "dev"])
    assert result.exit_code == code, result.output
    if code == 2:
        assert result.stderr == "ml-gen: error: Deployment/ns/d: rejected by the API server: no\n"
    if changes[0].action == "prune":
        assert result.stdout == "# Ingress/ns/i: live, no longer rendered: would be pruned\n"


def test_an_unreachable_cluster_is_exit_4_in_one_line(example, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
    )
    result = CliRunner().invoke(main, ["diff", "dev", "--kubeconfig", str(kubeconfig)])
    assert result.exit_code == 4, result.output
    assert result.stderr.startswith("ml-gen: error: cannot reach the API server at https://127.0.0.1:1: ")
    assert result.stderr.count("\n") == 1 and result.stdout == ""


def test_namespace_is_for_an_environment_no_longer_in_the_config(example):
    kept = CliRunner().invoke(main, ["diff", "dev", "--namespace", "ml-dev"])
    assert kept.exit_code == 2
    assert (
        "environment 'dev' is in the config (namespace 'ml-dev'): --namespace is for one no longer there" in kept.stderr
    )
    gone = CliRunner().invoke(main, ["diff", "qa"])
    assert gone.exit_code == 2 and "unknown environment 'qa'" in gone.stderr and "--namespace NS lists" in gone.stderr

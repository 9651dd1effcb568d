"""Differential test: offline `ml_gen.k8s.crd` against the live API server, for every vendored CRD.

Hypothesis builds custom resources from the vendored CRD schemas themselves (a few optional fields
at a time, values drawn from each field's type, enum, pattern and bounds), then mostly breaks them
once: a value of the wrong type, `null`, an unknown field, a field removed (required ones too), an
enum or pattern value nearly right, a list item repeated. For each object:

- offline: `ml_gen.k8s.crd.problems(obj)`;
- oracle: server-side apply, dry run, with strict field validation (`ml_gen.check.server.apply`, as
  `validate --server` does) into a fresh namespace of the session's control plane, which has the
  pinned CRDs installed (`scripts/local-cluster up`).

Whatever one accepts the other must accept. Disagreements found so far are kept in REGRESSIONS and
run on every run. DEFAULT_EXAMPLES objects (derandomized) within TIME_BUDGET seconds;
ML_GEN_CRD_DIFF_EXAMPLES=2000 runs more, ML_GEN_DIFF_RANDOM=1 new ones.
"""

from __future__ import annotations

import copy
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml_gen import patterns
from ml_gen.check import server
from ml_gen.k8s import crd, crd_data

DEFAULT_EXAMPLES = 200
EXAMPLES = int(os.environ.get("ML_GEN_CRD_DIFF_EXAMPLES", DEFAULT_EXAMPLES))
TIME_BUDGET = float(os.environ.get("ML_GEN_CRD_DIFF_SECONDS", 90 if EXAMPLES <= DEFAULT_EXAMPLES else 3600))
LABELS = {"ml-gen.dev/test": "live"}
GOLDEN = Path(__file__).resolve().parents[1] / "golden"
KINDS = sorted(crd_data.by_kind().keys() - {"ServingRuntime", "ApplicationSet", "HelmRepository"})  # ml-gen renders
"""The kinds ml-gen renders (and so the registry's, through which check.server addresses them):
ServingRuntime, Argo CD's ApplicationSet and Flux's HelmRepository are installed, and their vendored form
is checked against the installed CRD, but no object of theirs is rendered."""
MAX_DEPTH = 5

# -- what ml-gen will render ----------------------------------------------------------------------


def service_monitor(namespace: str) -> dict[str, Any]:
    """A ServiceMonitor as ml-gen will render it: a Service selected by labels, one metrics endpoint."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "ml-model-api", "namespace": namespace, "labels": LABELS},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "ml-model-api", "app.kubernetes.io/instance": "x"}},
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
        },
    }


def prometheus_rule(namespace: str) -> dict[str, Any]:
    """A PrometheusRule as ml-gen will render it: one group of alerts a model API needs."""
    alert = {
        "alert": "MlModelApiHighErrorRate",
        "expr": 'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.05',
        "for": "10m",
        "labels": {"severity": "warning"},
        "annotations": {"summary": "5xx ratio over 5%", "description": "{{ $value | humanizePercentage }} of requests"},
    }
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "ml-model-api", "namespace": namespace, "labels": LABELS},
        "spec": {"groups": [{"name": "ml-model-api.rules", "rules": [alert]}]},
    }


def golden(path: str) -> Callable[[str], dict[str, Any]]:
    """An object ml-gen renders, as a golden file of a scenario holds it, moved into the test's namespace."""

    def example(namespace: str) -> dict[str, Any]:
        obj = yaml.safe_load((GOLDEN / path).read_text("utf-8"))
        obj["metadata"] = {"name": obj["metadata"]["name"], "namespace": namespace, "labels": LABELS}
        return dict(obj)

    return example


EXAMPLES_BY_KIND = {
    "ServiceMonitor": service_monitor,
    "PrometheusRule": prometheus_rule,
    "InferenceService": golden("kserve/prod/manifests/inferenceservice-iris-kserve.yaml"),
    "Service": golden("knative/prod/manifests/service-iris-knative.yaml"),  # Knative's (the CRDs' kinds only)
    "Application": golden("gitops-argocd/prod/delivery/application-iris-argocd-prod.yaml"),
    "GitRepository": golden("gitops-flux/prod/delivery/gitrepository-iris-flux-prod.yaml"),
    "HelmRelease": golden("gitops-flux/prod/delivery/helmrelease-iris-flux-prod.yaml"),
    "OCIRepository": golden("gitops-flux/stage/delivery/ocirepository-iris-flux-stage.yaml"),
    "Kustomization": golden("gitops-flux/dev/delivery/kustomization-iris-flux-dev.yaml"),
}
DELIVERED = sorted(GOLDEN.glob("*/*/delivery/*.yaml"))
"""Every delivery object of the scenarios' goldens (delivery/<env>/)."""

# -- objects from the schema ----------------------------------------------------------------------

# DEL, the C1 controls and U+FFFE/FFFF are left out: JSON carries them raw, the YAML reader of a
# server-side apply refuses them ("control characters are not allowed"), and ml-gen's config rules
# refuse them before anything is rendered (rules._NOT_FOR_HELM), so they never reach a custom resource.
NOT_FOR_YAML = "".join(map(chr, range(0x7F, 0xA0))) + "\ufffe\uffff"
CHARACTERS = st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters=NOT_FOR_YAML)
TEXT = st.text(CHARACTERS, max_size=8)
NAME = st.from_regex(r"[a-z][a-z0-9-]{0,6}", fullmatch=True)
ODD_VALUES = [None, 0, -1, 1, 1.5, 2.0, 2**63 - 1, 2**63, -(2**63) - 1, True, False, "", "x", "30s", "http", "HTTP",
              "Keep", [], ["a"], {}, {"a": "b"}]  # fmt: skip


def value_for(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values that mostly satisfy `schema` (enums, patterns and bounds are aimed at, not guaranteed)."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if schema.get("x-kubernetes-int-or-string"):
        return st.one_of(st.integers(0, 100), _string(schema))
    kind = schema.get("type")
    if kind == "object":
        return _object(schema, depth)
    if kind == "array":
        items = schema.get("items", {})
        if depth >= MAX_DEPTH:
            return st.just([])
        unique = schema.get("x-kubernetes-list-type") in ("set", "map")
        return st.lists(value_for(items, depth + 1), max_size=2, unique_by=json.dumps if unique else None)
    if kind == "integer":
        return st.integers(int(schema.get("minimum", -5)), int(schema.get("maximum", 1000)))
    if kind == "number":
        return st.floats(-10, 10, allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "string":
        return _string(schema)
    return st.none()


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    if "pattern" in schema:
        pattern = patterns.translate(schema["pattern"])
        return st.from_regex(pattern, alphabet=st.characters(codec="ascii", exclude_characters="\x7f"))
    low = schema.get("minLength", 0)
    return st.text(CHARACTERS, min_size=low, max_size=low + 8)


@st.composite
def _object(draw: st.DrawFn, schema: dict[str, Any], depth: int) -> dict[str, Any]:
    properties: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    if not properties:
        if isinstance(extra, dict) and depth < MAX_DEPTH:
            return draw(st.dictionaries(NAME, value_for(extra, depth + 1), max_size=2))
        return {}
    required = list(schema.get("required", []))
    optional = [] if depth >= MAX_DEPTH else sorted(set(properties) - set(required))
    chosen = draw(st.lists(st.sampled_from(optional), max_size=3, unique=True)) if optional else []
    return {name: draw(value_for(properties[name], depth + 1)) for name in required + chosen}


# -- near misses ----------------------------------------------------------------------------------


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """Every (path, node) under a value, itself included."""
    found = [(path, value)]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_nodes(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_nodes(item, (*path, index)))
    return found


def _replace(obj: Any, path: tuple[Any, ...], value: Any) -> None:
    node = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


@st.composite
def near_miss(draw: st.DrawFn, obj: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The object broken once (under `spec`, or one unknown field at the top): how, and the result."""
    obj = copy.deepcopy(obj)
    nodes = [(("spec", *path), node) for path, node in _nodes(obj["spec"])]
    how = draw(st.sampled_from(["wrong value", "text", "unknown field", "remove", "repeat", "top-level field"]))
    if how == "top-level field":
        obj[draw(st.sampled_from(["extra", "Spec", "specs"]))] = {}
        return how, obj
    path, node = draw(st.sampled_from(nodes))
    if how == "wrong value" and len(path) > 1:
        _replace(obj, path, draw(st.sampled_from(ODD_VALUES)))
    elif how == "text" and len(path) > 1:
        _replace(obj, path, draw(st.one_of(TEXT, st.sampled_from(["30x", "1h30m", "http ", "Https", "TLS14"]))))
    elif how == "unknown field" and isinstance(node, dict):
        node[draw(st.sampled_from(["unknown", "Port", "interval_", "x"]))] = draw(st.sampled_from(ODD_VALUES))
    elif how == "remove" and isinstance(node, dict) and node:
        del node[draw(st.sampled_from(sorted(node)))]
    elif how == "repeat" and isinstance(node, list) and node:
        node.append(copy.deepcopy(node[draw(st.integers(0, len(node) - 1))]))
    else:
        return "unchanged", obj
    return how, obj


@st.composite
def resources(draw: st.DrawFn, namespace: str) -> tuple[str, dict[str, Any]]:
    """A custom resource, valid or broken once: the ml-gen example or one built from the schema."""
    kind = draw(st.sampled_from(KINDS))
    if draw(st.booleans()):
        obj = EXAMPLES_BY_KIND[kind](namespace)
    else:
        definition = crd_data.by_kind()[kind]
        spec_schema = definition.schemas[definition.storage_version]["properties"]["spec"]
        obj = EXAMPLES_BY_KIND[kind](namespace)
        obj["spec"] = draw(value_for(spec_schema))
    if draw(st.integers(0, 3)) == 0:
        return "valid", obj
    return draw(near_miss(obj))


# -- the two verdicts -----------------------------------------------------------------------------


def compare(client: Any, obj: dict[str, Any], counts: Counter) -> str | None:
    """The disagreement between offline and the API server on one object, if any."""
    offline = crd.problems(obj)
    online = server.apply(client, obj, dry=True)
    counts[f"{'offline refuses' if offline else 'offline accepts'}, {'server refuses' if online else 'accepts'}"] += 1
    if bool(offline) == bool(online):
        return None
    side = "offline accepts, the API server refuses" if not offline else "the API server accepts, offline refuses"
    return f"{side}: {(online or offline)[0]}\n  object: {json.dumps(obj)[:2000]}"


# Disagreements the generated runs found (fixed since), and the cases that settled them: kind, spec.
SM_SELECTOR = {"matchLabels": {"app": "x"}}
REGRESSIONS: list[tuple[str, str, dict[str, Any]]] = [
    # A server-side apply keeps a null the schema does not allow (a plain create would drop it).
    ("null-required-list", "PrometheusRule", {"groups": None}),
    ("null-optional-string", "ServiceMonitor", {"selector": SM_SELECTOR, "endpoints": [], "jobLabel": None}),
    ("null-label-value", "ServiceMonitor", {"selector": {"matchLabels": {"a": None}}, "endpoints": []}),
    # ... unless the field has a default, which the null gets instead.
    (
        "null-with-default",
        "ServiceMonitor",
        {"selector": SM_SELECTOR, "endpoints": [{"relabelings": [{"action": None}]}]},
    ),
    # JSON integers: a number without a fraction is one, past int64 it is not.
    (
        "integral-float",
        "ServiceMonitor",
        {"selector": SM_SELECTOR, "endpoints": [{"targetPort": 2.0}], "sampleLimit": 2.0},
    ),
    ("past-int64", "ServiceMonitor", {"selector": SM_SELECTOR, "endpoints": [], "sampleLimit": 2**63}),
    # ... and past int32 where the schema says `format: int32` (found by the draw on Knative's probes).
    (
        "past-int32",
        "Service",
        {"template": {"spec": {"containers": [{"image": "i", "startupProbe": {"periodSeconds": 2**31}}]}}},
    ),
    # A Go pattern with flags after `^` (Python takes them only first).
    ("go-flags-after-caret", "PrometheusRule", {"groups": [{"name": "g", "partial_response_strategy": "WARN"}]}),
    # A null where the schema keeps anything (no type, x-kubernetes-preserve-unknown-fields) is taken.
    (
        "null-untyped-values",
        "HelmRelease",
        {"interval": "5m", "chartRef": {"kind": "OCIRepository", "name": "o"}, "values": None},
    ),
    # CEL rules (ml_gen.k8s.cel): a HelmRelease needs chart or chartRef, not both, not neither.
    ("cel-neither-chart-nor-chart-ref", "HelmRelease", {"interval": "5m"}),
    (
        "cel-both-chart-and-chart-ref",
        "HelmRelease",
        {
            "interval": "5m",
            "chart": {"spec": {"chart": "./c", "sourceRef": {"kind": "GitRepository", "name": "g"}}},
            "chartRef": {"kind": "OCIRepository", "name": "o"},
        },
    ),
    (
        "cel-retry-interval-with-remediate",
        "HelmRelease",
        {
            "interval": "5m",
            "chartRef": {"kind": "OCIRepository", "name": "o"},
            "upgrade": {"strategy": {"name": "RemediateOnFailure", "retryInterval": "1m"}},
        },
    ),
    (
        "cel-service-account-without-provider",
        "GitRepository",
        {"interval": "5m", "url": "https://h/r", "serviceAccountName": "a"},
    ),
]


@pytest.fixture(scope="module")
def crds_established(cluster: Any) -> None:
    """The pinned CRDs are installed and Established (scripts/local-cluster up installs them)."""
    names = [f"crd/{d.plural}.{d.group}" for d in crd_data.by_kind().values()]
    proc = cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names, check=False)
    assert proc.returncode == 0, (
        f"the pinned CRDs are not Established ({proc.stderr.strip()}); `scripts/local-cluster up` "
        "installs them; into an existing cluster: kubectl apply --server-side -f "
        "~/.cache/ml-gen/tools/prometheus-operator-crds-<version>/"
    )


@pytest.fixture(scope="module")
def client(cluster: Any, crds_established: None) -> Any:
    return server.api_client(str(cluster.kubeconfig), None)


@pytest.fixture(scope="module")
def namespace(cluster: Any) -> Iterator[str]:
    """One labelled namespace for the module's dry runs (custom resources need no ServiceAccount in it)."""
    name = f"crd-differential-{uuid.uuid4().hex[:6]}"
    labels = {**LABELS, "ml-gen.dev/test-run": name}
    cluster.kubectl(
        "create",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}),
    )
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


def test_the_installed_crds_are_the_vendored_ones(cluster, crds_established):
    """The cluster validates against the same schemas as the offline check (one pin, two copies)."""
    for data in crd_data.vendored_files().values():
        definition = crd_data.from_data(data)
        live = cluster.get("crd", f"{definition.plural}.{definition.group}")
        assert crd_data.vendored_form(live, data["source"]) == data


def test_a_vendored_crd_turned_back_into_a_manifest_is_accepted(client, crds_established):
    """For clusters without the tool cache: the vendored data makes a CRD the API server takes."""
    for data in crd_data.vendored_files().values():
        obj = crd_data.manifest(data)
        problems = _dry_run_crd(client, obj)
        assert problems == [], problems


def _dry_run_crd(client: Any, obj: dict[str, Any]) -> list[str]:
    path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{obj['metadata']['name']}"
    query = [("fieldManager", "ml-gen-test"), ("fieldValidation", "Strict"), ("force", "true"), ("dryRun", "All")]
    try:
        server.request(client, "PATCH", path, query, json.dumps(obj).encode(), "application/apply-patch+yaml")
    except server.HTTPError as err:
        return [err.message]
    return []


@pytest.mark.parametrize("kind", sorted(EXAMPLES_BY_KIND))
def test_what_ml_gen_will_render_is_accepted_both_ways(client, namespace, kind):
    obj = EXAMPLES_BY_KIND[kind](namespace)
    assert crd.problems(obj) == []
    assert server.apply(client, obj, dry=True) == []


@pytest.mark.parametrize("path", DELIVERED, ids=lambda p: str(p.relative_to(GOLDEN)))
def test_every_rendered_delivery_object_is_accepted(client, namespace, path):
    """The scenarios' Applications, sources, HelmReleases and Kustomizations, as rendered (in the test's
    namespace), pass the installed CRDs: schemas and CEL rules, server-side apply with strict validation."""
    obj = golden(str(path.relative_to(GOLDEN)))(namespace)
    assert crd.problems(obj) == []
    assert server.apply(client, obj, dry=True) == []


@pytest.mark.parametrize(("case", "kind", "spec"), REGRESSIONS, ids=[c for c, _, _ in REGRESSIONS])
def test_regressions_agree(client, namespace, case, kind, spec):
    obj = EXAMPLES_BY_KIND[kind](namespace)
    obj["spec"] = spec
    problem = compare(client, obj, Counter())
    assert problem is None, problem


def test_offline_crd_check_agrees_with_the_api_server(client, namespace, request):
    counts: Counter = Counter()
    started = time.monotonic()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=os.environ.get("ML_GEN_DIFF_RANDOM") != "1",
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(resources(namespace))
    def check(case: tuple[str, dict[str, Any]]) -> None:
        if time.monotonic() - started > TIME_BUDGET:
            counts["skipped: over the time budget"] += 1
            return
        how, obj = case
        counts[f"case: {how}"] += 1
        problem = compare(client, obj, counts)
        assert problem is None, f"{how}: {problem}"

    check()
    summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
    request.node.user_properties.append(("crd differential", summary))
    print(f"\ncrd differential: {time.monotonic() - started:.1f}s: {summary}")
    checked = sum(n for what, n in counts.items() if what.startswith("case:"))
    assert checked >= min(EXAMPLES, 50), f"only {checked} objects checked within {TIME_BUDGET}s"
    both_ways = [what for what in counts if what.startswith("offline refuses, server refuses")]
    assert both_ways and counts["offline accepts, accepts"], f"the run saw one verdict only: {summary}"

"""Differential test: offline `ml-gen validate` of `target: kserve` and `target: knative` against KServe's and
Knative Serving's own webhook code (`serving-validate`, tools/kserve/servingvalidate, built by
`scripts/install-tools kserve`).

Configs are drawn from a fixed seed (the same ones on every run): each target's base config with one to four
fields set to values near what its webhook refuses (replica and autoscaling bounds, scale targets, canary
shares, reserved ports and env names, probes, resources, model URIs and formats, a custom container or a
standard runtime, RawDeployment or Serverless, Knative with and without init containers, pod fields Knative's
feature flags mask). For each one:

- offline: what `ml-gen validate` decides (load, schema, rules, render, offline checks), in process;
- oracle: the InferenceService or Knative Service ml-gen renders with its own checks switched off, through
  KServe's mutating and validating webhook code, or Knative's SetDefaults and Validate (with
  kubernetes.podspec-init-containers enabled when the config says the cluster enables it).

ml-gen refuses exactly what the oracle refuses, except where ml-gen refuses for reasons outside the
object's validity, listed in BEYOND_THE_WEBHOOKS with the reason and matched on ml-gen's message. Every
object of the run goes to one oracle invocation. Disagreements found so far are kept in REGRESSIONS.
ML_GEN_SERVING_DIFF_CONFIGS=2000 runs more configs, ML_GEN_SERVING_DIFF_SEED another draw.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

import verdicts
from verdicts import ENV, offline_verdict

CONFIGS = int(os.environ.get("ML_GEN_SERVING_DIFF_CONFIGS", 400))
SEED = int(os.environ.get("ML_GEN_SERVING_DIFF_SEED", 17))
INIT_CONTAINERS = "kubernetes.podspec-init-containers=enabled"
CHECKED_KINDS = {("serving.kserve.io/v1beta1", "InferenceService"), ("serving.knative.dev/v1", "Service")}

# ml-gen refuses these although the webhooks take the object: what they guard is not the object's
# validity. Matched on "<subject>: <ml-gen's message>" (subject: knative, or kserve, its mode and predictor).
BEYOND_THE_WEBHOOKS: list[tuple[str, str]] = [
    (
        r"^[^:]*: target: (Knative|KServe) names .* shorten the name$",
        "a name too long for the alerts' and the dashboard's pod pattern (tests/unit/test_target_names.py)",
    ),
    (
        r"^[^:]*: ingress\.enabled: an Ingress needs a Service",
        "KServe makes the predictor's Service and Ingress itself",
    ),
    (
        r"^[^:]*: (ingress|metrics\.serviceMonitor)\.enabled: Knative makes",
        "Knative makes the routes and Services itself",
    ),
    (
        r"^[^:]*: metrics\.serviceMonitor\.enabled: a ServiceMonitor needs",
        "KServe makes the predictor's Service itself",
    ),
    (r"^[^:]*: service: (KServe|Knative) makes", "the target's controller makes the Service (its type and port)"),
    (
        r"^[^:]*: networkPolicy\.enabled: requests reach",
        "Knative's activator would be blocked: a policy of the cluster's",
    ),
    (r"^[^:]*: kserve\.canaryTrafficPercent: KServe ignores", "KServe takes it in RawDeployment and ignores it"),
    (r"^[^:]*: autoscaling\.targetMemoryUtilizationPercentage: KServe scales", "one metric per InferenceService"),
    (r"^[^:]*: model\.(uri|sha256|s3|hf)(\.\w+)?: KServe", "what KServe's storage initializer cannot fetch or check"),
    (r"^[^:]*: model\.fetch\.\w+: without init containers", "a fetcher that would never run"),
    (
        r"^[^:]*: kserve\.runtime: a runtime serves predictor: model",
        "a runtime for a container that is not a runtime's",
    ),
    # The rules every target shares: what the API server refuses of the pods later, or ml-gen's own sense.
    (
        r"^[^:]*: resources\.\S+: request .* is above the limit",
        "the API server refuses such a pod (after the webhooks)",
    ),
    (r"is also set in env; give it once", "a variable set twice keeps one of the values silently"),
    (r"^[^:]*: model\.uri: .* is not a", "a model URI no fetcher reads"),
    (r"CRD schema: ", "the API server's CRD schema check, before the webhooks (tests/live/test_crd_differential.py)"),
    # Settings the knative target does not render because Knative refuses them (LEFT_OUT proves it does).
    (
        r"^knative: (shutdownDelaySeconds|nodeSelector|tolerations|metrics\.port): Knative (refuses|gives)",
        "see LEFT_OUT",
    ),
    (r"^knative: autoscaling\.target\w+: Knative's autoscaler scales on", "see LEFT_OUT"),
    (r"^knative: model\.uri: Knative refuses a persistentVolumeClaim", "see LEFT_OUT"),
    (r"^[^:]*: networkPolicy\.enabled: a standard runtime's container", "ml-gen's NetworkPolicy would open no port"),
    # kserve Serverless: what the Knative Service that KServe's controller makes would hold, where the
    # oracle does not make it (a standard runtime's pod needs its ServingRuntime) or Knative refuses it
    # after admission (the revision's name).
    (
        r"^kserve Serverless model: ((nodeSelector|tolerations): Knative refuses|(env|secretEnv)\.\w+: Knative sets"
        r"|port: Knative reserves)",
        "as the Knative Service of a custom predictor (the oracle makes that one) and LEFT_OUT show",
    ),
    (r"^kserve \w+ model: kserve\.predictor: predictor: model needs", "a standard runtime with no model to serve"),
    (r"^kserve Serverless \w+: shutdownDelaySeconds: Knative refuses", "the hook is left out; see LEFT_OUT"),
    (r"^kserve Serverless \w+: kserve\.deploymentMode: Knative names the revision", "refused at the revision"),
]


# -- configs ----------------------------------------------------------------------------------------

SHA = "0123456789abcdef0123456789abcdef01234567"
MODEL_URIS = [
    "s3://models/m/1/",
    "gs://models/m/1",
    f"hf://acme/m@{SHA}",
    "hf://m@main",
    "pvc://claim/models/m",
    "/models/m.joblib",
    "models:/m/1",
]
AUTOSCALING = [
    {"enabled": True, "minReplicas": 1, "maxReplicas": 5},
    {"enabled": True, "minReplicas": 3, "maxReplicas": 2},
    {"enabled": True, "minReplicas": 2, "maxReplicas": 2, "targetCPUUtilizationPercentage": 70},
    {"enabled": True, "minReplicas": 1, "maxReplicas": 4, "targetCPUUtilizationPercentage": 100},
    {"enabled": True, "minReplicas": 1, "maxReplicas": 4, "targetCPUUtilizationPercentage": 101},
    {"enabled": True, "minReplicas": 1, "maxReplicas": 4, "targetCPUUtilizationPercentage": 1000},
    {"enabled": True, "minReplicas": 1, "maxReplicas": 4, "targetMemoryUtilizationPercentage": 80},
    {"enabled": True, "minReplicas": 1, "maxReplicas": 10000},
    {"enabled": False},
]
# Each field: where it goes in the config, and the values drawn for it.
SHARED: dict[str, tuple[tuple[str, ...], list[Any]]] = {
    "name": (("name",), ["m", "a" * 47, "a" * 48, "a" * 53]),
    "replicas": (("replicas",), [0, 1, 3, 10000]),
    "autoscaling": (("autoscaling",), AUTOSCALING),
    "port": (("port",), [8080, 8012, 8013, 8022, 9090, 9091, 8008, 80, 1, 65535]),
    "metrics": (("metrics",), [{"enabled": True, "port": 9100}, {"enabled": False}, {"enabled": True, "path": "/m"}]),
    "health": (
        ("health",),
        [{"type": "tcp"}, {"type": "exec", "command": ["cat", "/tmp/ready"]}, {"livenessPath": "/live"}],
    ),
    "probes": (
        ("probes",),
        [
            {"readiness": {"successThreshold": 2}},
            {"liveness": {"periodSeconds": 1, "timeoutSeconds": 5}},
            {"startup": {"initialDelaySeconds": 0, "failureThreshold": 1}},
            {"readiness": {"type": "tcp"}, "liveness": {"type": "exec", "command": ["true"]}},
        ],
    ),
    "resources": (
        ("resources",),
        [
            {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}},
            {"limits": {"memory": "64Mi"}},
            {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "200m"}},
        ],
    ),
    "gpu": (("gpu",), [0, 1]),
    "env": (
        ("env",),
        [
            {"PORT": "1"},
            {"K_SERVICE": "x"},
            {"K_REVISION": "x"},
            {"K_CONFIGURATION": "x"},
            {"A": "b"},
            {"STORAGE_URI": "x"},
        ],
    ),
    "secretEnv": (("secretEnv",), [{"K_SERVICE": {"secret": "s", "key": "k"}}, {"TOKEN": {"secret": "s", "key": "k"}}]),
    "shutdownDelaySeconds": (("shutdownDelaySeconds",), [0, 5]),
    "terminationGracePeriodSeconds": (("terminationGracePeriodSeconds",), [0, 30, 120]),
    "nodeSelector": (("nodeSelector",), [{"disk": "ssd"}, {}]),
    "tolerations": (("tolerations",), [[{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}], []]),
    "security": (
        ("security",),
        [{"restricted": False}, {"readOnlyRootFilesystem": False}, {"runAsUser": 20000, "runAsGroup": 20000}],
    ),
    "modelUri": (("model", "uri"), MODEL_URIS),
    "framework": (
        ("model", "framework"),
        ["sklearn", "xgboost", "pytorch", "tensorflow", "onnx", "triton", "lightgbm", "huggingface", "my-format"],
    ),
    "networkPolicy": (("networkPolicy", "enabled"), [True, False]),
    "ingress": (("ingress", "enabled"), [True, False]),
    "serviceType": (("service", "type"), ["NodePort", "ClusterIP"]),
    "configFiles": (("configFiles",), [{"labels.json": "{}"}]),
    "imagePullSecrets": (("imagePullSecrets",), [["regcred"]]),
    "annotations": (
        ("annotations",),
        [
            {"autoscaling.knative.dev/max-scale": "abc"},
            {"autoscaling.knative.dev/min-scale": "3"},
            {"autoscaling.knative.dev/class": "hpa.autoscaling.knative.dev"},
            {"serving.knative.dev/creator": "x"},
            {"serving.kserve.io/autoscalerClass": "external"},
            {"serving.kserve.io/deploymentMode": "ModelMesh"},
            {"example.com/team": "ml"},
        ],
    ),
    "labels": (("labels",), [{"serving.knative.dev/service": "x"}, {"team": "ml"}]),
}
KSERVE: dict[str, tuple[tuple[str, ...], list[Any]]] = {
    "deploymentMode": (("kserve", "deploymentMode"), ["RawDeployment", "Serverless"]),
    "predictor": (("kserve", "predictor"), ["server", "model"]),
    "runtime": (("kserve", "runtime"), ["kserve-sklearnserver", "my-runtime"]),
    "canaryTrafficPercent": (("kserve", "canaryTrafficPercent"), [0, 20, 100]),
}
KNATIVE: dict[str, tuple[tuple[str, ...], list[Any]]] = {
    "initContainers": (("knative", "initContainers"), [True, False]),
    "containerConcurrency": (("knative", "containerConcurrency"), [0, 1, 1000]),
    "timeoutSeconds": (("knative", "timeoutSeconds"), [1, 600]),
    "metric": (("knative", "metric"), ["concurrency", "rps"]),
    "target": (("knative", "target"), [1, 100, 100000]),
    "canary": (("knative", "canary"), [{"percent": 10, "stableRevision": "m-00001"}]),
}
FIELDS = {"kserve": {**SHARED, **KSERVE}, "knative": {**SHARED, **KNATIVE}}


def base_config(target: str) -> dict[str, Any]:
    """What the scenarios of the target hold, in one environment: a fetched model, metrics on the port."""
    return {
        "name": "m",
        "target": target,
        "model": {"name": "m", "version": "1", "uri": "s3://models/m/1/", "framework": "sklearn"},
        "image": {"repository": "myorg/m", "tag": "1.0"},
        "port": 8080,
        "metrics": {"enabled": True},
        "environments": {ENV: {"namespace": "ns"}},
    }


def put(cfg: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = cfg
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def make_config(target: str, fields: dict[str, Any]) -> dict[str, Any]:
    cfg = base_config(target)
    for name, value in fields.items():
        put(cfg, FIELDS[target][name][0], value)
    return cfg


AXES = {"kserve": ("deploymentMode", "predictor"), "knative": ("initContainers",)}
"""Drawn for every config of the target: what decides which of the webhooks' rules apply."""


def drawn_cases(count: int, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """`count` (target, fields) pairs drawn from `seed`: the target's axes and one to four other fields."""
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        target = rng.choice(sorted(FIELDS))
        others = sorted(set(FIELDS[target]) - set(AXES[target]))
        names = [*AXES[target], *rng.sample(others, rng.randint(1, 4))]
        cases.append((target, {name: rng.choice(FIELDS[target][name][1]) for name in sorted(names)}))
    return cases


# -- the two verdicts -------------------------------------------------------------------------------


def unchecked_objects(text: str) -> list[dict[str, Any]] | None:
    """The InferenceService or Knative Service ml-gen renders with its own checks off (None: none)."""
    objects = verdicts.unchecked_objects(text) or []
    return [o for o in objects if (o.get("apiVersion"), o.get("kind")) in CHECKED_KINDS] or None


def oracle(tmp_path: Path, serving_validate: str, batches: list[tuple[bool, list[dict[str, Any]]]]) -> list[str | None]:
    """One serving-validate run over every batch (whether the cluster enables init containers, its
    objects): for each batch None when every object is accepted, else the first refusal."""
    files: list[tuple[bool, Path]] = []
    for index, (init_containers, objects) in enumerate(batches):
        path = tmp_path / f"{index:05d}.yaml"
        path.write_text("\n---\n".join(map(json.dumps, objects)), "utf-8")  # JSON is YAML, and quick to write
        files.append((init_containers, path))
    args = [str(p) for init, p in files if not init]
    args += ["--knative-feature", INIT_CONTAINERS, *[str(p) for init, p in files if init]]
    proc = subprocess.run([serving_validate, *args], capture_output=True, text=True, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    verdicts: dict[str, str | None] = {}
    for line in proc.stdout.splitlines():
        verdict = json.loads(line)
        assert verdict["checked"], verdict
        if not verdict["ok"] and verdicts.get(verdict["file"]) is None:
            verdicts[verdict["file"]] = f"{verdict['kind']}: {'; '.join(verdict['errors'])}"
        verdicts.setdefault(verdict["file"], None)
    assert len(verdicts) == len(files), proc.stdout[-2000:]
    return [verdicts[str(path)] for _, path in files]


def subject(target: str, fields: dict[str, Any]) -> str:
    """What BEYOND_THE_WEBHOOKS matches before ml-gen's message: the target (and KServe's mode, predictor)."""
    if target == "knative":
        return target
    return f"kserve {fields.get('deploymentMode', 'RawDeployment')} {fields.get('predictor', 'server')}"


def beyond_the_webhooks(complaint: str) -> str | None:
    for pattern, reason in BEYOND_THE_WEBHOOKS:
        if re.search(pattern, complaint):
            return reason
    return None


def disagreements(
    tmp_path: Path, serving_validate: str, cases: list[tuple[str, dict[str, Any]]], counts: Counter
) -> list[str]:
    """Both verdicts on every case (one oracle run); each disagreement, described."""
    offline, rendered, batches = [], [], []
    for target, fields in cases:
        cfg = make_config(target, fields)
        text = yaml.safe_dump(cfg, sort_keys=False)
        offline.append(offline_verdict(text))
        objects = unchecked_objects(text)
        rendered.append(objects is not None)
        if objects is not None:
            batches.append((target == "knative" and bool(cfg.get("knative", {}).get("initContainers")), objects))
    verdicts = iter(oracle(tmp_path, serving_validate, batches) if batches else [])
    found = []
    for (target, fields), mine, was_rendered in zip(cases, offline, rendered, strict=True):
        if not was_rendered:
            counts["ml-gen refuses; nothing to render"] += 1
            if mine is None:
                found.append(f"ml-gen accepts a config it cannot render: {target} {fields}")
            continue
        theirs = next(verdicts)
        if (mine is None) == (theirs is None):
            counts["both accept" if mine is None else "both refuse"] += 1
        elif mine is not None and beyond_the_webhooks(f"{subject(target, fields)}: {mine}"):
            counts["ml-gen refuses beyond the webhooks"] += 1
        else:
            counts["disagree"] += 1
            side = "ml-gen accepts, the webhooks refuse" if mine is None else "the webhooks accept, ml-gen refuses"
            found.append(f"{side}: {theirs or mine}\n  {target}: {json.dumps(fields)}")
    return found


# What the knative target leaves out of the Service, because Knative refuses it (with its default feature
# flags): the config fields ml-gen refuses instead, and the same setting put into a rendered Service.
TEMPLATE = ("spec", "template", "spec")
CONTAINER = (*TEMPLATE, "containers", 0)
LEFT_OUT: list[tuple[str, dict[str, Any], tuple[Any, ...], Any]] = [
    ("lifecycle", {"shutdownDelaySeconds": 5}, (*CONTAINER, "lifecycle"), {"preStop": {"sleep": {"seconds": 5}}}),
    ("node-selector", {"nodeSelector": {"disk": "ssd"}}, (*TEMPLATE, "nodeSelector"), {"disk": "ssd"}),
    (
        "tolerations",
        {"tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]},
        (*TEMPLATE, "tolerations"),
        [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
    ),
    (
        "second-port",
        {"metrics": {"enabled": True, "port": 9100}},
        (*CONTAINER, "ports", 1),
        {"name": "metrics", "containerPort": 9100},
    ),
    (
        "cpu-target",
        {"autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 4, "targetCPUUtilizationPercentage": 70}},
        ("spec", "template", "metadata", "annotations", "autoscaling.knative.dev/metric"),
        "cpu",
    ),
    (
        "persistent-volume-claim",
        {"modelUri": "pvc://claim/models/m"},
        (*TEMPLATE, "volumes", 1),
        {"name": "model", "persistentVolumeClaim": {"claimName": "claim"}},
    ),
]


def put_at(obj: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        obj = obj[key]
    if isinstance(obj, list) and path[-1] == len(obj):
        obj.append(value)
    else:
        obj[path[-1]] = value


# -- the tests --------------------------------------------------------------------------------------

# Disagreements the drawn runs found (fixed since): target, fields.
CPU = {"enabled": True, "minReplicas": 1, "maxReplicas": 4}
REGRESSIONS: list[tuple[str, str, dict[str, Any]]] = [
    # KServe's scaleTarget for cpu is a percentage: 1-100 (ml-gen took up to 1000, as for an HPA).
    ("kserve-cpu-target-101", "kserve", {"autoscaling": {**CPU, "targetCPUUtilizationPercentage": 101}}),
    (
        "kserve-serverless-cpu-target-1000",
        "kserve",
        {"deploymentMode": "Serverless", "autoscaling": {**CPU, "targetCPUUtilizationPercentage": 1000}},
    ),
    ("kserve-cpu-target-100", "kserve", {"autoscaling": {**CPU, "targetCPUUtilizationPercentage": 100}}),
    # The config's annotations go onto the Knative Service, where Knative takes no autoscaling annotation.
    ("knative-min-scale-annotation", "knative", {"annotations": {"autoscaling.knative.dev/min-scale": "3"}}),
    ("knative-class-annotation", "knative", {"annotations": {"autoscaling.knative.dev/class": "x"}}),
    # A standard runtime's container names no port: ml-gen's default NetworkPolicy (port http) failed
    # ml-gen's own validate; now left out, and refused when the config asks for it.
    ("kserve-model-predictor-default-policy", "kserve", {"predictor": "model"}),
    ("kserve-model-predictor-asks-for-a-policy", "kserve", {"predictor": "model", "networkPolicy": True}),
    # A Serverless predictor runs as a Knative Service: Knative's reserved ports and env names apply.
    ("kserve-serverless-reserved-port", "kserve", {"deploymentMode": "Serverless", "port": 8012}),
    ("kserve-serverless-reserved-env", "kserve", {"deploymentMode": "Serverless", "env": {"PORT": "1"}}),
    ("kserve-raw-port-8012", "kserve", {"port": 8012}),
]


@pytest.fixture(scope="module")
def serving_validate(pinned: Any) -> str:
    return str(pinned("serving-validate"))


def test_the_scenarios_objects_pass_the_webhooks(serving_validate: str, repo_root: Path) -> None:
    """The kserve and knative scenarios' golden objects, as their clusters run them."""
    golden = repo_root / "tests" / "golden"
    plain = sorted(golden.glob("kserve/*/manifests/*.yaml")) + sorted(golden.glob("knative/dev/manifests/*.yaml"))
    init = sorted(golden.glob("knative/prod/manifests/*.yaml"))  # the scenario's cluster enables init containers
    args = [*map(str, plain), "--knative-feature", INIT_CONTAINERS, *map(str, init)]
    proc = subprocess.run([serving_validate, *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checked = [json.loads(line) for line in proc.stdout.splitlines() if json.loads(line)["checked"]]
    assert len(checked) == len(list(golden.glob("kserve/*/manifests/inferenceservice-*.yaml"))) + 2


def test_init_containers_are_refused_unless_the_cluster_enables_them(serving_validate: str, repo_root: Path) -> None:
    service = repo_root / "tests" / "golden" / "knative" / "prod" / "manifests" / "service-iris-knative.yaml"
    proc = subprocess.run([serving_validate, str(service)], capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "init-containers is off" in json.loads(proc.stdout)["errors"][-1]


@pytest.mark.parametrize("text", ["a: [", "- 1\n"], ids=["not-yaml", "not-an-object"])
def test_bad_input_exits_2(serving_validate: str, text: str) -> None:
    proc = subprocess.run([serving_validate, "-"], input=text, capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and proc.stdout == "" and proc.stderr.startswith("serving-validate: -:"), proc


def test_what_the_knative_target_leaves_out_knative_refuses(tmp_path: Path, serving_validate: str) -> None:
    """ml-gen refuses each setting for the knative target, and Knative refuses it in a Service."""
    base = unchecked_objects(yaml.safe_dump(make_config("knative", {})))
    assert base is not None
    batches = []
    for case, fields, path, value in LEFT_OUT:
        refusal = offline_verdict(yaml.safe_dump(make_config("knative", fields)))
        assert refusal is not None and beyond_the_webhooks(f"knative: {refusal}") == "see LEFT_OUT", (case, refusal)
        service = json.loads(json.dumps(base[0]))
        put_at(service, path, value)
        batches.append((False, [service]))
    verdicts = oracle(tmp_path, serving_validate, [(False, base), *batches])
    assert verdicts[0] is None, verdicts[0]
    refused = {case: verdict for (case, *_), verdict in zip(LEFT_OUT, verdicts[1:], strict=True)}
    assert all(refused.values()), refused


def test_regressions_agree(tmp_path: Path, serving_validate: str) -> None:
    """Every case of REGRESSIONS, in one oracle run."""
    counts: Counter = Counter()
    found = disagreements(tmp_path, serving_validate, [(target, fields) for _, target, fields in REGRESSIONS], counts)
    assert not found, "\n".join(found)
    assert counts["both accept"] and counts["both refuse"], counts


def test_offline_validation_agrees_with_the_webhooks(tmp_path: Path, serving_validate: str, request: Any) -> None:
    counts: Counter = Counter()
    found = disagreements(tmp_path, serving_validate, drawn_cases(CONFIGS, SEED), counts)
    summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
    request.node.user_properties.append(("serving differential", summary))
    print(f"\nserving differential: {summary}")
    assert not found, f"{len(found)} disagreements:\n" + "\n".join(found)
    assert counts["both accept"] and counts["both refuse"], summary

"""Differential test: offline `ml-gen validate` against the live API server's server-side dry run.

Hypothesis generates model configs, valid and near-valid (boundary lengths, control characters and
line breaks in every string field, quantities at the edges, tolerations, ConfigMap keys, annotation
and ConfigMap sizes at the limits). For each one:

- offline: what `ml-gen validate` decides (load, schema, rules, render, size limits, values schema,
  Kubernetes OpenAPI schemas, names, wiring), in process;
- oracle: the objects ml-gen would render with every check of its own switched off, dry-run applied
  with strict field validation (`ml_gen.server.apply`, as `validate --server` does) into a fresh
  namespace of the session's control plane.

Whatever offline accepts, the API server must accept; whatever the API server accepts, offline must
accept too, except where ml-gen is stricter on purpose: those refusals are listed in
STRICTER_BY_DESIGN with the reason, matched on ml-gen's message. Disagreements found so far are kept
in REGRESSIONS and run on every run.

The default run checks DEFAULT_EXAMPLES configs (derandomized: the same ones on every run) within
TIME_BUDGET seconds. ML_GEN_DIFF_EXAMPLES=2000 runs more (and, with no fixed seed, new ones when
ML_GEN_DIFF_RANDOM=1); ML_GEN_DIFF_KEEP_GOING=1 collects every disagreement instead of stopping at the
first (and shrinking it).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml_gen.check import offline as checks
from ml_gen.check import server
from ml_gen.k8s import limits
from verdicts import ENV, offline_verdict, unchecked_objects

DEFAULT_EXAMPLES = 150
EXAMPLES = int(os.environ.get("ML_GEN_DIFF_EXAMPLES", DEFAULT_EXAMPLES))
TIME_BUDGET = float(os.environ.get("ML_GEN_DIFF_SECONDS", 120 if EXAMPLES <= DEFAULT_EXAMPLES else 3600))
KEEP_GOING = os.environ.get("ML_GEN_DIFF_KEEP_GOING") == "1"
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

# ml-gen refuses these on purpose although the API server takes them; matched on ml-gen's message.
STRICTER_BY_DESIGN: list[tuple[str, str]] = [
    (r"which Helm cannot render", "Helm's toYaml drops values holding DEL, C1 controls or U+FFFE/U+FFFF"),
    (r"^name: .* longer than 53", "the name is also the Helm release name, which Helm limits to 53 characters"),
    (r"is too large: Kubernetes counts", "quantities past int64 overflow Value()/MilliValue() in the scheduler"),
    (r"etcd stores objects up to", "a dry run never reaches etcd, whose 1.5 MiB request limit a real apply hits"),
    (r"^(env|secretEnv)\.[^:]*: invalid name", "env names are kept to C identifiers, which every shell can read"),
    (r"(Path|^metrics\.path): .* no spaces or control", "probe and metrics paths go into HTTP requests unescaped"),
    (r"^ingress\.path: .* no spaces or control", "Ingress paths go into HTTP routing unescaped"),
    (r"^image\.repository: ", "an image reference that no registry accepts (upper case, spaces) is refused early"),
    (r"^imagePullSecrets\[[0-9]+\]: ", "Secret names are checked, though the API server does not check these"),
    (
        r"^resources\.[^:]+: '((\s|\\[nrt]).*|.*(\s|\\[nrt]))' is not valid",
        "the API server trims white space around a quantity without a word; ml-gen asks for the plain value",
    ),
    (r"^ingress\.tlsSecret: ", "Secret names are checked, though the API server does not check these"),
    (r"^model\.\w+: ", "model metadata is kept to short non-empty strings"),
    (r"is also set in env; give it once", "the API server keeps a variable set twice, with one value silently"),
    (r"node drains would hang", "a PodDisruptionBudget that lets no pod be evicted blocks every node drain"),
    (
        r"is a fraction of a byte",
        "the API server rounds a fraction of a byte up (512m: 1 byte), a limit no container runs in",
    ),
]


# -- strategies ---------------------------------------------------------------------------------

ODD = ["\n", "\r", "\r\n", "\t", " ", "\x00", "\x1b", "\x7f", "\x85", "\u00a0", "\u2028", "\ufeff", "é", "٣",
       "A", "-", ".", "..", "_", "/", ":", "=", "%2f", "*", "//"]  # fmt: skip


def sized(length: int, alphabet: str = "ab") -> str:
    """A string of exactly `length` characters drawn from a cycle of `alphabet`."""
    return (alphabet * (length // len(alphabet) + 1))[:length]


@st.composite
def near(draw: st.DrawFn, valid: st.SearchStrategy[str]) -> str:
    """A valid string with one odd character put at its start, end or middle."""
    text, odd, where = draw(valid), draw(st.sampled_from(ODD)), draw(st.sampled_from(["start", "end", "middle"]))
    if where == "start":
        return odd + text
    if where == "end":
        return text + odd
    return text[: len(text) // 2] + odd + text[len(text) // 2 :]


def regex(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True, alphabet=st.characters(codec="ascii"))


DNS_LABEL = regex(r"[a-z]([-a-z0-9]{0,10}[a-z0-9])?")
DNS_SUBDOMAIN = st.one_of(
    regex(r"[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?){0,2}"),
    st.sampled_from([sized(253, "a.b"), sized(254, "a.b"), sized(63), sized(64)]),
)
LABEL_VALUE = st.one_of(
    regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,10}[A-Za-z0-9])?"), st.sampled_from(["", sized(63), sized(64)])
)
LABEL_KEY = st.one_of(
    regex(r"([a-z0-9]{1,5}(\.[a-z0-9]{1,5}){0,2}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,8}[A-Za-z0-9])?"),
    st.sampled_from([sized(63), sized(64), sized(253, "a.b") + "/x", sized(254, "a.b") + "/x"]),
)
ENV_NAME = st.one_of(regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}"), st.sampled_from([sized(253, "AB"), "A-B", "A.B"]))
USER_ENV_NAME = ENV_NAME.filter(lambda n: not n.startswith("MODEL_"))  # ml-gen sets MODEL_* itself
CONFIGMAP_KEY = st.one_of(
    regex(r"[-._a-zA-Z0-9]{1,12}"),
    st.sampled_from([".", "..", "..data", "...", ".a", "a..", sized(253), sized(254)]),
)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
QUANTITY = st.one_of(
    st.builds(
        "{}{}".format,
        st.sampled_from(["0", "1", "2", "250", "1.5", ".5", "1.", "0.0000000001", "123456789012345678901"]),
        st.sampled_from(["", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
                         "e3", "E3", "e-3", "e+2", "e18", "e19"]),
    ),
    st.sampled_from(["9223372036854775807", "9223372036854775808", "9223372036854775", "9223372036854776",
                     "8Ei", "7Ei", "1e1000000", "1e-1000000", "1e4294967296", "+1", "-1", "1E", "1i", "1.2.3",
                     "0x10", "1_000", " 1", "1Gi\n", "٣", "1e", "1ee3", "1KI", "1mi"]),
)  # fmt: skip
PATH = st.one_of(regex(r"/[-a-z0-9_./%]{0,12}"), st.sampled_from(["/", "//x", "/a/./b", "/a/..", "/a/.", "/%2F"]))
PERCENT = regex(r"(100|[1-9]?[0-9])%")
HOST = st.one_of(
    regex(r"(\*\.)?[a-z0-9]([-a-z0-9]{0,6}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,6}[a-z0-9])?){0,3}"),
    st.sampled_from(["1.2.3.4", "999.1.1.1", "a.1.2.3", "*.a", "a.*.b", sized(253, "a.b"), sized(254, "a.b")]),
)

_ADDRESS_PREFIX = st.one_of(
    st.tuples(st.ip_addresses(v=4), st.integers(0, 33)), st.tuples(st.ip_addresses(v=6), st.integers(0, 129))
)
CIDR = st.one_of(
    _ADDRESS_PREFIX.map(lambda ap: str(ipaddress.ip_network(f"{ap[0]}/{min(ap[1], ap[0].max_prefixlen)}", False))),
    _ADDRESS_PREFIX.map(lambda ap: f"{ap[0]}/{ap[1]}"),  # host bits set, prefix one too long, sometimes
    st.sampled_from(["10.0.0.0/08", "010.0.0.0/8", "::ffff:10.0.0.0/104", "::ffff:a00:0/104", "10.0.0.0",
                     "10.0.0.0/255.0.0.0", "fe80::1%eth0/64", "10.0.0.0/8 ", "0.0.0.0/0", "::/0"]),
)  # fmt: skip


def either(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly valid strings, some near misses."""
    return st.one_of(valid, valid, near(valid))


TOLERATION = st.fixed_dictionaries(
    {},
    optional={
        "key": st.one_of(st.just(""), either(LABEL_KEY)),
        "operator": st.sampled_from(["Exists", "Equal"]),
        "value": st.one_of(st.just(""), either(LABEL_VALUE)),
        "effect": st.sampled_from(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
        "tolerationSeconds": st.sampled_from([0, 30, 3600]),
    },
)


def _sized_map(key: str, limit: int) -> st.SearchStrategy[dict[str, str]]:
    """One entry whose key plus value is `limit` bytes give or take a few (and well below, sometimes)."""
    return st.integers(-400, 8).map(lambda delta: {key: "x" * (limit - len(key) + delta)})


# Each field: a strategy for its value, and where it goes in the config.
FIELDS: dict[str, tuple[tuple[str, ...], st.SearchStrategy[Any]]] = {
    "name": (("name",), either(st.one_of(DNS_LABEL, st.sampled_from([sized(53), sized(54)])))),
    "repository": (("image", "repository"), either(regex(r"[a-z0-9]{1,6}(/[a-z0-9]{1,6}){0,2}"))),
    "tag": (("image", "tag"), either(LABEL_VALUE.filter(bool))),
    "env": (("env",), st.dictionaries(either(USER_ENV_NAME), st.one_of(TEXT, st.just("x" * 1_600_000)), max_size=3)),
    "secretEnv": (
        ("secretEnv",),
        st.dictionaries(
            USER_ENV_NAME,
            st.fixed_dictionaries({"secret": either(DNS_SUBDOMAIN), "key": either(CONFIGMAP_KEY)}),
            max_size=2,
        ),
    ),
    "configFiles": (
        ("configFiles",),
        st.one_of(
            st.dictionaries(either(CONFIGMAP_KEY), TEXT, min_size=1, max_size=3),
            _sized_map("model.json", limits.CONFIGMAP_LIMIT),
        ),
    ),
    "cpu": (("resources", "requests", "cpu"), QUANTITY),
    "memory": (("resources", "limits", "memory"), QUANTITY),
    "storage": (("resources", "requests", "ephemeral-storage"), QUANTITY),
    "tolerations": (("tolerations",), st.lists(TOLERATION, max_size=2)),
    "annotations": (
        ("annotations",),
        st.one_of(st.dictionaries(either(LABEL_KEY), TEXT, max_size=2), _sized_map("a.b/c", limits.ANNOTATIONS_LIMIT)),
    ),
    "labels": (
        ("labels",),
        st.dictionaries(either(LABEL_KEY).filter(lambda k: "kubernetes.io/" not in k), either(LABEL_VALUE), max_size=2),
    ),
    "nodeSelector": (("nodeSelector",), st.dictionaries(either(LABEL_KEY), either(LABEL_VALUE), max_size=2)),
    "host": (("ingress", "host"), either(HOST)),
    "ingressPath": (("ingress", "path"), either(PATH)),
    "pathType": (("ingress", "pathType"), st.sampled_from(["Prefix", "Exact", "ImplementationSpecific"])),
    "className": (("ingress", "className"), either(DNS_SUBDOMAIN)),
    "tlsSecret": (("ingress", "tlsSecret"), either(DNS_SUBDOMAIN)),
    "healthPath": (("health", "livenessPath"), either(PATH)),
    "partOf": (("partOf",), either(LABEL_VALUE.filter(bool))),
    "imagePullSecrets": (("imagePullSecrets",), st.lists(either(DNS_SUBDOMAIN), max_size=2)),
    "modelName": (("model", "name"), either(regex(r"[a-z]{1,8}"))),
    "modelUri": (("model", "uri"), st.one_of(TEXT.filter(bool), _sized_map("k", limits.ANNOTATIONS_LIMIT).map(
        lambda m: m["k"]))),
    "modelVersion": (("model", "version"), either(regex(r"[0-9]{1,2}(\.[0-9]{1,2}){0,2}"))),
    "metricsPath": (("metrics",), either(PATH).map(lambda path: {"enabled": True, "path": path})),
    "maxSurge": (("strategy", "maxSurge"), st.one_of(st.integers(0, 3), either(PERCENT))),
    "minAvailable": (("podDisruptionBudget", "minAvailable"), st.one_of(st.integers(0, 3), either(PERCENT))),
    "ingressAnnotations": (("ingress", "annotations"), st.dictionaries(either(LABEL_KEY), TEXT, max_size=2)),
    "serviceAnnotations": (("service", "annotations"), st.dictionaries(either(LABEL_KEY), TEXT, max_size=2)),
    "egressCidrs": (("networkPolicy", "egress"), st.lists(CIDR, min_size=1, max_size=2).map(
        lambda cidrs: {"restricted": True, "cidrs": cidrs})),
}  # fmt: skip


def base_config(namespace: str) -> dict[str, Any]:
    return {
        "name": "diff",
        "image": {"repository": "myorg/model", "tag": "1.0"},
        "replicas": 2,
        "ingress": {"enabled": True},
        "environments": {ENV: {"namespace": namespace}},
    }


def put(cfg: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = cfg
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


@st.composite
def edits(draw: st.DrawFn) -> dict[str, Any]:
    """1 to 3 fields of the config and their values."""
    names = draw(st.lists(st.sampled_from(sorted(FIELDS)), min_size=1, max_size=3, unique=True))
    return {name: draw(FIELDS[name][1]) for name in names}


def make_config(namespace: str, fields: dict[str, Any]) -> dict[str, Any]:
    cfg = base_config(namespace)
    for name, value in fields.items():
        put(cfg, FIELDS[name][0], value)
    return cfg


# -- the two verdicts ---------------------------------------------------------------------------


def server_verdict(client: Any, objects: list[dict[str, Any]]) -> str | None:
    """None when the API server accepts every object in a dry run, else its first complaint."""
    with ThreadPoolExecutor(max_workers=server.CONCURRENT_REQUESTS) as pool:
        answers = list(pool.map(lambda obj: server.apply(client, obj, dry=True), objects))
    problems = [f"{checks.object_id(o)}: {p[0]}" for o, p in zip(objects, answers, strict=True) if p]
    return problems[0] if problems else None


def by_design(complaint: str) -> str | None:
    for pattern, reason in STRICTER_BY_DESIGN:
        if re.search(pattern, complaint):
            return reason
    return None


@dataclass
class Tally:
    """What a run saw: verdict pairs, and every disagreement."""

    counts: Counter = field(default_factory=Counter)
    disagreements: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)


def compare(client: Any, cfg: dict[str, Any], tally: Tally) -> str | None:
    """Run both verdicts on one config; the disagreement, if any (also tallied)."""
    text = yaml.dump(cfg, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 30)
    offline = offline_verdict(text)
    objects = unchecked_objects(text)
    if objects is None:
        tally.counts["offline refuses; nothing to render"] += 1
        return None if offline else f"offline accepts a config it cannot render: {cfg!r}"
    verdict = server_verdict(client, objects)
    if offline is None and verdict is None:
        tally.counts["both accept"] += 1
    elif offline is not None and verdict is not None:
        tally.counts["both refuse"] += 1
    elif offline is not None and by_design(offline):
        tally.counts["offline stricter by design"] += 1
    else:
        tally.counts["disagree"] += 1
        side = (
            "offline accepts, the API server refuses" if offline is None else "the API server accepts, offline refuses"
        )
        problem = f"{side}: {verdict or offline}\n  config: {json.dumps(_short(cfg))}"
        tally.disagreements.append(problem)
        return problem
    return None


def _short(node: Any) -> Any:
    """The config with long strings cut, for messages."""
    if isinstance(node, str) and len(node) > 80:
        return f"{node[:20]}...({len(node)} chars)"
    if isinstance(node, dict):
        return {_short(k): _short(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_short(v) for v in node]
    return node


# -- the tests ----------------------------------------------------------------------------------

# Disagreements the generated runs found (fixed since), kept as fields -> values of one config.
REGRESSIONS: list[tuple[str, dict[str, Any]]] = [
    ("quantity-with-a-leading-space", {"storage": " 1"}),
    ("quantity-with-a-trailing-newline", {"memory": "1Gi\n"}),
    ("pull-secret-over-253-characters", {"imagePullSecrets": [sized(254, "a.b")]}),
    ("pull-secret-listed-twice", {"imagePullSecrets": ["t.0.0", "t.0.0"]}),
    ("configmap-keys-do-not-count", {"configFiles": {"model.json": "x" * (limits.CONFIGMAP_LIMIT - 9)}}),
    ("configmap-one-byte-over", {"configFiles": {"model.json": "x" * (limits.CONFIGMAP_LIMIT + 1)}}),
    ("character-past-u-ffff", {"modelUri": "\U000893e3.x", "serviceAnnotations": {"a": "\U0001f600"}}),
    ("metrics-path-with-a-line-separator", {"metricsPath": {"enabled": True, "path": "/x\u2028y"}}),
    ("metrics-path-with-a-leading-newline", {"metricsPath": {"enabled": True, "path": "\n/"}}),
    ("secret-env-and-env-same-name", {"secretEnv": {"A": {"secret": "s", "key": "k"}}, "env": {"A": "0"}}),
    ("cidr-with-host-bits", {"egressCidrs": {"restricted": True, "cidrs": ["10.0.0.1/8"]}}),
    ("cidr-v6-with-host-bits", {"egressCidrs": {"restricted": True, "cidrs": ["fd00::1/64"]}}),
    ("cidr-prefix-with-a-leading-zero", {"egressCidrs": {"restricted": True, "cidrs": ["10.0.0.0/08"]}}),
    ("cidr-ipv4-mapped", {"egressCidrs": {"restricted": True, "cidrs": ["::ffff:a00:0/104"]}}),
    # issue 15, point 7: offline checks that agree with what runs
    # a metrics port equal to the Service port (80): both refuse (the Service would list port 80 twice)
    ("metrics-port-is-the-service-port", {"metricsPath": {"enabled": True, "path": "/metrics", "port": 80}}),
    ("memory-half-a-byte", {"memory": "512m"}),  # the API server takes it; ml-gen refuses (STRICTER_BY_DESIGN)
    ("ephemeral-storage-fraction", {"storage": "1.5"}),
    ("repository-double-dot", {"repository": "myorg/de..mo"}),  # refused by container tools, not the API server
    ("repository-underscore-in-the-host", {"repository": "my_registry:5000/demo"}),
]


@pytest.fixture
def client(cluster: Any) -> Any:
    return server.api_client(str(cluster.kubeconfig), None)


@pytest.mark.parametrize(("case", "fields"), REGRESSIONS, ids=[c for c, _ in REGRESSIONS])
def test_regressions_agree(client, namespace, case, fields):
    tally = Tally()
    problem = compare(client, make_config(namespace, fields), tally)
    assert problem is None, problem


def test_offline_validation_agrees_with_the_api_server(client, namespace, request):
    tally = Tally()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=os.environ.get("ML_GEN_DIFF_RANDOM") != "1",
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(edits())
    def check(fields: dict[str, Any]) -> None:
        if time.monotonic() - tally.started > TIME_BUDGET:
            tally.counts["skipped: over the time budget"] += 1
            return
        problem = compare(client, make_config(namespace, fields), tally)
        if problem and not KEEP_GOING:
            raise AssertionError(problem)

    check()
    seconds = time.monotonic() - tally.started
    summary = ", ".join(f"{n} {what}" for what, n in sorted(tally.counts.items()))
    request.node.user_properties.append(("differential", summary))
    print(f"\ndifferential: {sum(tally.counts.values())} configs in {seconds:.1f}s: {summary}")
    assert not tally.disagreements, f"{len(tally.disagreements)} disagreements:\n" + "\n".join(tally.disagreements)
    checked = sum(n for what, n in tally.counts.items() if not what.startswith("skipped"))
    assert checked >= min(EXAMPLES, 50), f"only {checked} configs checked within {TIME_BUDGET}s"


@pytest.mark.parametrize(
    ("size", "stored"), [(limits.OBJECT_LIMIT - 20_000, True), (limits.OBJECT_LIMIT + 50_000, False)]
)
def test_the_object_size_limit_is_what_a_dry_run_cannot_see(client, namespace, size, stored):
    """A dry run never reaches etcd: ml-gen's object limit stands for etcd's, proven by a real apply."""
    cfg = make_config(namespace, {"env": {"BIG": "x" * size}})
    cfg["replicas"] = 1
    text = yaml.dump(cfg, Dumper=_Dumper, sort_keys=False, width=1 << 30)
    offline = offline_verdict(text)
    objects = unchecked_objects(text)
    assert objects is not None
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    assert server.apply(client, deployment, dry=True) == []
    applied = server.apply(client, deployment, dry=False)
    if stored:
        assert offline is None and applied == [], (offline, applied)
    else:
        assert offline is not None and "etcd stores objects up to" in offline
        assert applied and "too large" in applied[0], applied

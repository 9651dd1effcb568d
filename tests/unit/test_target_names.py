"""The longest names the Knative and KServe targets take: exactly those whose workloads and pods the alerts' and
the dashboard's patterns (pod_query) match, by Knative's kmeta.ChildName and the API server's generateName."""

from __future__ import annotations

import hashlib
import re

import pytest

from ml_gen import config, targets
from ml_gen.errors import ConfigError
from ml_gen.render import render_environment

KNATIVE = "target: knative\nhealth: {livenessPath: /health, readinessPath: /ready}\n"
KSERVE = "target: kserve\nmodel: {name: iris, version: '3', uri: 's3://models/iris/3/', framework: sklearn}\n"
SERVERLESS = KSERVE + "kserve: {deploymentMode: Serverless, predictor: model, runtime: kserve-sklearnserver}\n"


def child_name(parent: str, suffix: str) -> str:
    """knative.dev/pkg kmeta.ChildName for a suffix shorter than 31 characters: past 63 characters, the
    parent's head, the md5 of the parent, the suffix."""
    if len(parent) > 63 - len(suffix):
        return parent[: 31 - len(suffix)] + hashlib.md5(parent.encode()).hexdigest() + suffix
    return parent + suffix


def pod_name(deployment: str) -> str:
    """A pod of the Deployment: its ReplicaSet <deployment>-<pod-template-hash> (at most 10 characters) makes
    it with generateName <replicaset>-, which the API server cuts to 58 characters before 5 random ones."""
    return f"{deployment}-7d9c6b8f5c-"[:58] + "x2k9q"


def knative_deployment(service: str) -> str:
    return child_name(child_name(service, "-00001"), "-deployment")


CASES = {  # target: (config lines, the longest name, the predictor's Deployment for a name)
    "knative": (KNATIVE, 40, knative_deployment),
    "kserve-serverless": (SERVERLESS, 36, lambda name: knative_deployment(f"{name}-predictor")),
    "kserve-raw": (KSERVE, 47, lambda name: f"{name}-predictor"),
}


def _render(lines: str, name: str) -> None:
    text = f"name: {name}\nimage: {{repository: myorg/m, tag: '1'}}\n{lines}environments:\n  prod: {{namespace: p}}\n"
    render_environment(config.parse(text, "ml-model.yaml"), "prod")


def _matches(target: str, name: str, deployment: str) -> bool:
    query = targets.TARGETS[target].pod_query(name, "p")
    pods = re.search(r'pod=~"([^"]+)"', query.pods)
    deployments = re.search(r'deployment=~"([^"]+)"', query.unavailable)
    assert pods and deployments, query
    return bool(re.fullmatch(deployments[1], deployment) and re.fullmatch(pods[1], pod_name(deployment)))


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_longest_name_is_rendered_and_matched_and_one_more_is_refused(case):
    lines, longest, deployment = CASES[case]
    target = case.partition("-")[0]
    name = "m" * longest
    _render(lines, name)
    assert _matches(target, name, deployment(name))
    longer = name + "m"
    assert not _matches(target, longer, deployment(longer))  # why the limit is where it is
    with pytest.raises(ConfigError, match=f"at most {longest}.*here {longest + 1}"):
        _render(lines, longer)

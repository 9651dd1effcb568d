"""validate --server sees what only a kind's admission webhook would: an InferenceService's deployment mode
cannot change (KServe's validateDeploymentMode), checked against the live object before the dry run."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ml_gen import config, render
from ml_gen.check import server

CONFIG = (
    "name: demo\ntarget: kserve\nimage: {repository: myorg/demo, tag: '1.0'}\n"
    "environments:\n  raw: {namespace: demo}\n"
    "  serverless: {namespace: demo-next, kserve: {deploymentMode: Serverless}, networkPolicy: {enabled: false}}\n"
)


class _Response:
    def __init__(self, status: int, body: dict[str, Any] | None = None):
        self.status, self.reason, self.headers = status, "", {}
        self.data = json.dumps(body or {"message": "not found"}).encode()


def _isvc(env: str) -> dict[str, Any]:
    objects = render.render_environment(config.parse(CONFIG, "ml-model.yaml"), env).objects
    isvc = next(o for o in objects if o["kind"] == "InferenceService")
    isvc["metadata"]["namespace"] = "demo"  # one object, rendered as either environment
    return isvc


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The objects the fake API server holds, by path; PATCH (the dry run) accepts anything."""
    held: dict[str, Any] = {}

    def request(client: Any, method: str, path: str, *args: Any, **kwargs: Any) -> _Response:
        if method == "GET":
            if path not in held:
                raise server.HTTPError(404, "not found")
            return _Response(200, held[path])
        return _Response(200)

    monkeypatch.setattr(server, "request", request)
    return held


PATH = "/apis/serving.kserve.io/v1beta1/namespaces/demo/inferenceservices/demo"


def test_a_new_inference_service_is_only_dry_run(live):
    assert server.apply(None, _isvc("serverless")) == []


def test_the_same_mode_passes_and_another_is_named(live):
    live[PATH] = {**_isvc("raw"), "status": {"deploymentMode": "RawDeployment"}}
    assert server.apply(None, _isvc("raw")) == []
    (problem,) = server.apply(None, _isvc("serverless"))
    assert "runs in RawDeployment mode, which cannot change to Serverless" in problem


def test_the_annotation_counts_when_the_status_is_empty(live):
    live[PATH] = _isvc("serverless")
    assert "cannot change to RawDeployment" in server.apply(None, _isvc("raw"))[0]

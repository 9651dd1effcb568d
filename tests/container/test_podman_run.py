"""The podman flags read from a rendered Deployment (no podman needed): every field is carried or refused."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from podman_run import Unsupported, run_spec

EXAMPLE_DEPLOYMENT = Path(__file__).resolve().parents[2] / "manifests" / "dev" / "deployment-ml-model-api.yaml"


@pytest.fixture
def deployment() -> dict[str, Any]:
    """The bundled example's dev Deployment, its one secret env var left out."""
    data = yaml.safe_load(EXAMPLE_DEPLOYMENT.read_text("utf-8"))
    container = data["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [e for e in container["env"] if "value" in e]
    return dict(data)


def test_the_example_deployment_becomes_these_flags(deployment: dict[str, Any]) -> None:
    spec = run_spec(deployment)
    assert spec.flags == [
        "--user=10001:10001",
        "--group-add=10001",
        "--security-opt=no-new-privileges",
        "--cap-drop=ALL",
        "--read-only",
        "--read-only-tmpfs=false",
        "--mount=type=tmpfs,destination=/tmp,tmpfs-mode=1777,rw",
        "--mount=type=tmpfs,destination=/mnt/models,tmpfs-mode=1777,ro",  # the fetched model's emptyDir
        "--env=HOME=/tmp",
        "--env=LOG_LEVEL=debug",
        "--env=MODEL_FRAMEWORK=sklearn",
        "--env=MODEL_NAME=iris-classifier",
        "--env=MODEL_PATH=/mnt/models",
        "--env=MODEL_URI=s3://ml-models/iris-classifier/1.4.0/model.joblib",
        "--env=MODEL_VERSION=1.4.0",
        "--env=WORKERS=2",
    ]
    assert (spec.uid, spec.gid, spec.groups, spec.port, spec.args) == (10001, 10001, [10001], 5000, [])


def test_the_containers_security_context_wins_over_the_pods(deployment: dict[str, Any]) -> None:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"].update(runAsUser=2000, readOnlyRootFilesystem=False)
    container["securityContext"]["capabilities"]["add"] = ["NET_BIND_SERVICE"]
    spec = run_spec(deployment)
    assert spec.uid == 2000 and "--read-only" not in spec.flags
    assert "--cap-add=NET_BIND_SERVICE" in spec.flags


@pytest.mark.parametrize(
    "change",
    [
        lambda pod, c: c["env"].append({"name": "K", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}),
        lambda pod, c: (
            pod["volumes"].append({"name": "tmp2", "hostPath": {"path": "/x"}})
            or c["volumeMounts"].append({"name": "tmp2", "mountPath": "/x"})
        ),
        lambda pod, c: c["securityContext"].update(privileged=True),
        lambda pod, c: c["securityContext"].update(runAsUser=0),
        lambda pod, c: c.update(command=["sh"]),
    ],
    ids=["secret-env", "hostpath-volume", "privileged", "root-with-runAsNonRoot", "command"],
)
def test_what_podman_cannot_reproduce_is_refused(deployment: dict[str, Any], change: Any) -> None:
    deployment = copy.deepcopy(deployment)
    pod = deployment["spec"]["template"]["spec"]
    change(pod, pod["containers"][0])
    with pytest.raises(Unsupported):
        run_spec(deployment)

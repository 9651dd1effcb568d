"""Pods on the local cluster's real node (scripts/local-node), for bench/serving.py and the real-node tests."""

from __future__ import annotations

from typing import Any

NODE_LABEL = "ml-gen.dev/real-node"
PINNED = {  # the real node's label and taint
    "nodeSelector": {NODE_LABEL: "true"},
    "tolerations": [{"key": NODE_LABEL, "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
}


def restricted_pod(
    name: str, namespace: str, app: str, uid: int, container: str, image: str, command: list[str], **spec: Any
) -> dict[str, Any]:
    """A bare pod pinned to the real node, under the restricted profile as the app's pods run."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}},
        "spec": {
            **PINNED,
            **spec,
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": uid,
                "runAsGroup": uid,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": container,
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": command,
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "readOnlyRootFilesystem": True,
                    },
                }
            ],
        },
    }

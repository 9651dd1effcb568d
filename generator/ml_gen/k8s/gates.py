"""Pod fields behind feature gates: the first Kubernetes version whose API server takes them by default."""

from __future__ import annotations

from typing import Any

LIFECYCLE_SLEEP = (1, 30)
"""lifecycle.*.sleep (PodLifecycleSleepAction): alpha and off by default in 1.29, beta and on from 1.30."""


def pod_spec_problems(spec: dict[str, Any], version: tuple[int, int]) -> list[str]:
    """The gated fields a pod spec uses that an API server of VERSION with default feature gates refuses."""
    problems = []
    if version < LIFECYCLE_SLEEP:
        for index, container in enumerate(spec.get("containers", [])):
            for hook, handler in (container.get("lifecycle") or {}).items():
                if isinstance(handler, dict) and "sleep" in handler:
                    problems.append(
                        f"containers[{index}].lifecycle.{hook}.sleep needs Kubernetes 1.30 or later (the "
                        "PodLifecycleSleepAction feature gate is off by default before): set shutdownDelaySeconds: 0 "
                        "for older clusters"
                    )
    return problems

"""The `podman run` flags that give a container what a rendered Deployment gives its pod's container."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Unsupported(Exception):
    """The Deployment asks for something a local podman run cannot reproduce faithfully."""


@dataclass(frozen=True)
class RunSpec:
    """What the container of a Deployment runs with, as podman flags, plus the facts tests check."""

    flags: list[str]
    uid: int
    gid: int
    groups: list[int]
    port: int
    env: dict[str, str]
    args: list[str]  # after the image name: the container's `args` (the image's CMD otherwise)


def container_of(deployment: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """The Deployment's container called name (default: its only container)."""
    containers = deployment["spec"]["template"]["spec"]["containers"]
    if name is None:
        if len(containers) != 1:
            raise Unsupported(f"{len(containers)} containers: say which one")
        return dict(containers[0])
    return dict(next(c for c in containers if c["name"] == name))


def run_spec(deployment: dict[str, Any], container_name: str | None = None) -> RunSpec:
    """The flags (user and groups, read-only root with the emptyDir mounts, capabilities, no-new-privileges, env)."""
    pod = deployment["spec"]["template"]["spec"]
    container = container_of(deployment, container_name)
    pod_sc: dict[str, Any] = pod.get("securityContext") or {}
    sc: dict[str, Any] = {**pod_sc, **(container.get("securityContext") or {})}  # the container's wins

    if sc.get("privileged"):
        raise Unsupported("privileged containers are not run by these tests")
    uid, gid = sc.get("runAsUser"), sc.get("runAsGroup")
    if uid is None or gid is None:
        raise Unsupported("runAsUser and runAsGroup must be set (the image's USER would decide otherwise)")
    if sc.get("runAsNonRoot") and uid == 0:
        raise Unsupported("runAsNonRoot with runAsUser 0 never starts")
    groups = sorted({*pod_sc.get("supplementalGroups", []), *([pod_sc["fsGroup"]] if "fsGroup" in pod_sc else [])})
    flags = [f"--user={uid}:{gid}", *(f"--group-add={g}" for g in groups)]

    seccomp = (sc.get("seccompProfile") or {}).get("type", "RuntimeDefault")
    if seccomp == "Unconfined":
        flags.append("--security-opt=seccomp=unconfined")
    elif seccomp != "RuntimeDefault":
        raise Unsupported(f"seccompProfile {seccomp}")
    if sc.get("allowPrivilegeEscalation") is False:
        flags.append("--security-opt=no-new-privileges")
    caps = sc.get("capabilities") or {}
    flags += [f"--cap-drop={c}" for c in caps.get("drop", [])]
    flags += [f"--cap-add={c}" for c in caps.get("add", [])]

    # Podman's --read-only adds writable tmpfs at /tmp, /var/tmp and /run unless told not to: the pod
    # has exactly the volumes it mounts, so only those are added.
    if sc.get("readOnlyRootFilesystem"):
        flags += ["--read-only", "--read-only-tmpfs=false"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        if "emptyDir" not in volume:
            raise Unsupported(f"volume {mount['name']}: only emptyDir volumes are reproduced")
        mode = "ro" if mount.get("readOnly") else "rw"
        flags.append(f"--mount=type=tmpfs,destination={mount['mountPath']},tmpfs-mode=1777,{mode}")

    env: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" not in item:
            raise Unsupported(f"env {item['name']}: only plain values are reproduced")
        env[item["name"]] = str(item["value"])
    if container.get("envFrom"):
        raise Unsupported("envFrom is not reproduced")
    flags += [f"--env={k}={v}" for k, v in env.items()]

    if "workingDir" in container:
        flags.append(f"--workdir={container['workingDir']}")
    if "command" in container:
        raise Unsupported("command overrides are not reproduced")  # the image's ENTRYPOINT/CMD must serve
    ports = [p["containerPort"] for p in container.get("ports", []) if p.get("protocol", "TCP") == "TCP"]
    if not ports:
        raise Unsupported("no TCP containerPort")
    args = [str(a) for a in container.get("args", [])]
    return RunSpec(flags=flags, uid=int(uid), gid=int(gid), groups=groups, port=int(ports[0]), env=env, args=args)

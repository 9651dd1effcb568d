"""Podman runs an image as a rendered Deployment runs its container: the flags, the container, requests."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
LOCAL_IMAGE = REPO / "scripts" / "local-image"
CONTAINERS_CONF = REPO / "tools" / "podman" / "containers.conf"
# The environment the session started with: the tests may point HOME elsewhere.
_START_ENV = dict(os.environ)

# Runs inside the container (its own python): one HTTP request to the server, the answer as JSON.
HTTP_CLIENT = """
import json, sys, urllib.error, urllib.request
method, url, body = sys.argv[1:4]
headers = {"Content-Type": "application/json"} if body else {}
request = urllib.request.Request(url, data=body.encode() or None, method=method, headers=headers)
try:
    with urllib.request.urlopen(request, timeout=10) as answer:
        status, text = answer.status, answer.read().decode()
except urllib.error.HTTPError as err:
    status, text = err.code, err.read().decode()
except OSError as err:
    status, text = 0, repr(err)
print(json.dumps({"status": status, "body": text}))
"""


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Podman with ml-gen's containers.conf; a failure raises with podman's output."""
    env = dict(_START_ENV, CONTAINERS_CONF=str(CONTAINERS_CONF))
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"`podman {' '.join(args)}` exited {proc.returncode}:\n{proc.stderr}{proc.stdout}")
    return proc


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


@dataclass
class Project:
    """An `ml-gen init` project, trained, rendered and built into an image."""

    root: Path
    image: str  # the unique tag this run gave it
    deployment: dict[str, Any]  # the rendered dev Deployment
    spec: RunSpec
    artifact: Path  # the model on the host (what train.py wrote)
    artifact_in_image: str  # where MODEL_URI points inside the container


@dataclass
class Container:
    """A running container of the project's image."""

    id: str
    port: int
    log: list[str] = field(default_factory=list)

    def http(self, method: str, path: str, body: Any = None) -> tuple[int, str]:
        """One request from inside the container to the server on its loopback: (status, body); status 0: no answer."""
        data = "" if body is None else json.dumps(body)
        url = f"http://127.0.0.1:{self.port}{path}"
        out = podman("exec", self.id, "python3", "-c", HTTP_CLIENT, method, url, data, timeout=60)
        answer = json.loads(out.stdout)
        return int(answer["status"]), str(answer["body"])

    def wait_for(self, path: str, status: int, timeout: float) -> float:
        """Poll GET path until it answers status; the seconds it took. Fails with the container's logs."""
        start = time.monotonic()
        last: tuple[int, str] = (0, "")
        while time.monotonic() - start < timeout:
            last = self.http("GET", path)
            if last[0] == status:
                return time.monotonic() - start
            if not self.running():
                break
            time.sleep(0.5)
        raise AssertionError(f"GET {path} never answered {status} (last: {last}); logs:\n{self.logs()}")

    def running(self) -> bool:
        return podman("inspect", "--format", "{{.State.Running}}", self.id).stdout.strip() == "true"

    def logs(self) -> str:
        out = podman("logs", self.id, check=False)
        return (out.stdout + out.stderr)[-4000:]

    def exec_python(self, code: str) -> str:
        """Run python code in the container as its user; its stdout."""
        return podman("exec", self.id, "python3", "-c", code).stdout

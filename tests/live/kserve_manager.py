"""KServe's controller manager (cmd/manager of github.com/kserve/kserve) on this machine, serving the live cluster.

It runs as a plain process with the cluster's admin kubeconfig, not as a pod, so it needs no RBAC, Service
or Deployment of its own. What it does need, the harness makes and removes by name: the KServe CRDs beyond
the two tools/crds.tsv installs (the manager also watches TrainedModels and InferenceGraphs), a namespace of
its own holding its ``inferenceservice-config`` ConfigMap (POD_NAMESPACE; RawDeployment by default, no Ingress
and no Istio VirtualService), a ClusterStorageContainer (the storage initializer for s3:// URIs), a CA and a
serving certificate for 127.0.0.1 (openssl), and the Mutating/ValidatingWebhookConfigurations that send the
InferenceServices (defaulter, validator) and pods (the mutator that injects the storage initializer) of the
namespaces a test labels (``Manager.serve``) to ``https://127.0.0.1:PORT``.

The manager has no flag for its certificate directory or its webhook address: controller-runtime reads
``$TMPDIR/k8s-webhook-server/serving-certs/tls.{crt,key}``, so TMPDIR points at the harness's directory, and
the webhook server listens on every address of the machine at a free port (the API server calls it on
127.0.0.1). Metrics are off (``--metrics-addr=0``), health probes on a free loopback port, no leader election.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

import model_stores

if TYPE_CHECKING:
    from conftest import Cluster

REPO = Path(__file__).resolve().parents[2]
CONFIG_MAP = "config/configmap/inferenceservice.yaml"
CRD_DIR = "config/crd/full"
START_SECONDS = 90  # the manager syncs its caches and starts the webhook server in a few seconds
SERVED_LABEL = "ml-gen.dev/kserve-manager"  # on a namespace: the manager (by name) whose webhooks serve it
WEBHOOKS = {  # path -> (kind of configuration, what it receives)
    "/mutate-serving-kserve-io-v1beta1-inferenceservice": ("Mutating", "inferenceservices"),
    "/validate-serving-kserve-io-v1beta1-inferenceservice": ("Validating", "inferenceservices"),
    "/mutate-pods": ("Mutating", "pods"),
}


def kserve_module() -> Path:
    """The kserve module's directory in the Go module cache: the version tools/kserve/go.mod pins, from which
    scripts/install-tools built the manager (so it is in the cache) and which tools/crds.tsv names too."""
    out = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Dir}}", "github.com/kserve/kserve"],
        capture_output=True, text=True, check=True, timeout=60, cwd=REPO / "tools" / "kserve",
    )  # fmt: skip
    directory = Path(out.stdout.strip())
    assert (directory / CONFIG_MAP).is_file(), f"the kserve module is not in the Go module cache: {out.stdout!r}"
    return directory


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def make_certificates(directory: Path) -> bytes:
    """A CA and a serving certificate for IP 127.0.0.1 signed by it, as tls.crt and tls.key in DIRECTORY; the CA's
    certificate (PEM)."""
    directory.mkdir(parents=True)
    ca_key, ca_crt, csr = directory.parent / "ca.key", directory.parent / "ca.crt", directory.parent / "tls.csr"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = ["openssl", "req", *ec, "-subj"]
    subprocess.run([*run, "/CN=ml-gen-test-kserve-ca", "-x509", "-days", "1", "-keyout", ca_key, "-out", ca_crt],
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run(
        [*run, "/CN=127.0.0.1", "-keyout", directory / "tls.key", "-out", csr], check=True, capture_output=True
    )
    extensions = directory.parent / "san.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    subprocess.run(
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-days", "1",
         "-extfile", extensions, "-out", directory / "tls.crt"],
        check=True, capture_output=True,
    )  # fmt: skip
    return ca_crt.read_bytes()


def config_map(module: Path, namespace: str, storage_initializer: str) -> dict[str, Any]:
    """KServe's own inferenceservice-config with RawDeployment as the default mode, no Ingress or VirtualService
    (raw mode needs neither: clients reach the predictor's Service), and STORAGE_INITIALIZER as the image of the
    storage initializer the pod mutator injects (the ClusterStorageContainer's container overrides it)."""
    cm = yaml.safe_load((module / CONFIG_MAP).read_text())
    data = cm["data"]
    del data["_example"]
    data["deploy"] = json.dumps({"defaultDeploymentMode": "RawDeployment"})
    ingress = json.loads(data["ingress"])
    data["ingress"] = json.dumps({**ingress, "disableIngressCreation": True, "disableIstioVirtualHost": True})
    initializer = json.loads(data["storageInitializer"])
    data["storageInitializer"] = json.dumps({**initializer, "image": storage_initializer, "enableModelcar": False})
    metadata = {"name": cm["metadata"]["name"], "namespace": namespace}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def webhook_configurations(name: str, port: int, ca: bytes) -> list[dict[str, Any]]:
    """The manager's webhooks (config/webhook/manifests.yaml of the module) at https://127.0.0.1:PORT, for the
    namespaces labelled SERVED_LABEL=NAME only."""
    configurations: dict[str, list[dict[str, Any]]] = {"Mutating": [], "Validating": []}
    for path, (kind, resource) in WEBHOOKS.items():
        group, version = ("", "v1") if resource == "pods" else ("serving.kserve.io", "v1beta1")
        hook: dict[str, Any] = {
            "name": f"{path.strip('/').split('-')[0]}-{resource}.kserve.ml-gen.test",
            "clientConfig": {"url": f"https://127.0.0.1:{port}{path}", "caBundle": base64.b64encode(ca).decode()},
            "rules": [{"apiGroups": [group], "apiVersions": [version], "resources": [resource],
                       "operations": ["CREATE"] if resource == "pods" else ["CREATE", "UPDATE"]}],
            "namespaceSelector": {"matchLabels": {SERVED_LABEL: name}},
            "failurePolicy": "Fail",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1", "v1beta1"],
            "timeoutSeconds": 10,
        }  # fmt: skip
        if resource == "pods":
            hook["objectSelector"] = {
                "matchExpressions": [{"key": "serving.kserve.io/inferenceservice", "operator": "Exists"}]
            }
            hook["reinvocationPolicy"] = "IfNeeded"
        configurations[kind].append(hook)
    return [
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": f"{kind}WebhookConfiguration",
         "metadata": {"name": name}, "webhooks": hooks}
        for kind, hooks in configurations.items()
    ]  # fmt: skip


@dataclass
class Manager:
    """The running manager: its process and log, the namespace it reads its ConfigMap from, the label that
    selects the namespaces its webhooks serve."""

    cluster: Cluster
    process: subprocess.Popen[bytes]
    log: Path
    namespace: str
    label: str
    started_seconds: float = 0.0

    def serve(self, namespace: str) -> None:
        """Send NAMESPACE's InferenceServices and their pods through the manager's webhooks."""
        self.cluster.kubectl("label", "namespace", namespace, f"{SERVED_LABEL}={self.label}")

    def served(self) -> list[str]:
        found = self.cluster.get("namespaces", "-l", f"{SERVED_LABEL}={self.label}")["items"]
        return [n["metadata"]["name"] for n in found]

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _ready(manager: subprocess.Popen[bytes], health_port: int) -> bool:
    assert manager.poll() is None, f"the KServe manager exited {manager.returncode}"
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{health_port}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:  # not listening yet, or not ready (HTTPError)
        return False


def storage_container(name: str, container: dict[str, Any]) -> dict[str, Any]:
    """A ClusterStorageContainer: the pod mutator merges CONTAINER into the storage initializer it injects for an
    s3:// storageUri (KServe's way to choose the initializer's image, command and security context per URI)."""
    spec = {"container": {"name": "storage-initializer", **container}, "supportedUriFormats": [{"prefix": "s3://"}]}
    return {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ClusterStorageContainer", "metadata": {"name": name},
            "spec": {**spec, "workloadType": "initContainer"}}  # fmt: skip


@contextlib.contextmanager
def running(cluster: Cluster, binary: str, work: Path, storage_initializer: dict[str, Any]) -> Iterator[Manager]:
    """The manager watching the cluster, STORAGE_INITIALIZER (a container: image, command, ...) the storage
    initializer of s3:// URIs; ``Manager.serve`` adds a namespace to those its webhooks serve. On the way out
    the InferenceServices of those namespaces are deleted while the manager still runs (it removes its
    finalizer from each), then the manager is stopped by its pid and what the harness created is deleted by name."""
    started = time.monotonic()
    name = f"ml-gen-test-kserve-{uuid.uuid4().hex[:6]}"
    module = kserve_module()
    created_crds: list[str] = []
    created: list[tuple[str, str]] = []  # (kind, name), deleted in the reverse order
    manager: Manager | None = None
    try:
        existing = set(cluster.kubectl("get", "crd", "-o", "name").stdout.split())
        missing = {}  # CRD name -> file (the module names each file GROUP_PLURAL.yaml)
        for crd_file in sorted((module / CRD_DIR).glob("serving.kserve.io_*.yaml")):
            group, _, plural = crd_file.stem.partition("_")
            if f"customresourcedefinition.apiextensions.k8s.io/{plural}.{group}" not in existing:
                missing[f"{plural}.{group}"] = crd_file
        if missing:
            files = [arg for f in missing.values() for arg in ("-f", str(f))]
            cluster.kubectl("apply", "--server-side", "--field-manager=ml-gen-live", *files)
            created_crds.extend(missing)
            cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{n}" for n in missing])
        cluster.kubectl("create", "namespace", name)
        created.append(("namespace", name))
        cm = config_map(module, name, storage_initializer["image"])
        cluster.kubectl("create", "-f", "-", input=json.dumps(cm))
        cluster.kubectl("create", "-f", "-", input=json.dumps(storage_container(name, storage_initializer)))
        created.append(("clusterstoragecontainer", name))
        ca = make_certificates(work / "tmp" / "k8s-webhook-server" / "serving-certs")
        webhook_port, health_port = free_port(), free_port()
        log = work / "kserve-manager.log"
        env = {
            "PATH": os.environ["PATH"], "HOME": str(work), "TMPDIR": str(work / "tmp"),
            "KUBECONFIG": str(cluster.kubeconfig), "POD_NAMESPACE": name,
        }  # fmt: skip
        args = [f"--webhook-port={webhook_port}", "--metrics-addr=0", f"--health-probe-addr=127.0.0.1:{health_port}",
                "--leader-elect=false"]  # fmt: skip
        with log.open("wb") as out:
            process = subprocess.Popen([binary, *args], stdout=out, stderr=subprocess.STDOUT, env=env)
        manager = Manager(cluster, process, log, name, name)
        try:
            cluster.wait_until("the KServe manager's readyz", lambda: _ready(process, health_port),
                               timeout=START_SECONDS, interval=0.2)  # fmt: skip
        except AssertionError as e:
            raise AssertionError(f"{e}\nits log ({log}):\n{manager.log_tail()}") from None
        for configuration in webhook_configurations(name, webhook_port, ca):
            cluster.kubectl("create", "-f", "-", input=json.dumps(configuration))
            created.append((configuration["kind"].lower(), name))
        manager.started_seconds = time.monotonic() - started
        yield manager
    finally:
        if manager is not None and manager.process.poll() is None:
            for served in manager.served():
                cluster.kubectl("delete", "inferenceservices", "--all", "-n", served, "--timeout=60s", check=False,
                                timeout=90)  # fmt: skip
        for kind, name in reversed(created):
            cluster.kubectl("delete", kind, name, "--ignore-not-found", "--wait=false", check=False)
        if manager is not None:
            model_stores.stop_process(manager.process, timeout=20)
        if created_crds:
            cluster.kubectl("delete", "crd", *created_crds, "--ignore-not-found", "--wait=false", check=False)

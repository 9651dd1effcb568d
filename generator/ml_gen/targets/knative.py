"""The `knative` target: a Knative Service (serving.knative.dev/v1); Knative makes the revisions' pods, routes
and Services, scales them and drains them.

The rules below imitate Knative Serving's webhook (v0.44.0, pkg/apis/serving) with its default feature
flags on what ml-gen writes; each names the upstream function it follows, for the validator built from the
module (issue 17, point 6):

- ValidateContainerPorts (k8s_validation.go): one container port, not a reserved one (reservedPorts: 8012,
  8013, 8022, 9090, 9091, 8008); its name http1 (validPortNames);
- validateContainer / ContainerMask (fieldmask.go): no lifecycle (shutdownDelaySeconds), reserved env
  names (reservedEnvVars: PORT, K_SERVICE, K_CONFIGURATION, K_REVISION);
- PodSpecMask with the default features (config/features.go): no nodeSelector, tolerations, pod
  securityContext, persistentVolumeClaim volumes or terminationGracePeriodSeconds; init containers only
  when the cluster sets kubernetes.podspec-init-containers (knative.initContainers says it does);
- ValidateObjectMetadata / ValidateHasNoAutoscalingAnnotation: no autoscaling.knative.dev annotation on
  the Service's metadata, where the config's annotations go (found by serving-validate);
- RevisionSpec.Validate: containerConcurrency 0-1000, timeoutSeconds 1-600 (the defaults' limits; the
  config schema holds them); TrafficTarget.Validate: a canary's percentages add up to 100.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ml_gen.config.model_source import source
from ml_gen.k8s.names import GENERATE_NAME_BASE
from ml_gen.promql import PodQuery
from ml_gen.targets.target import Target, asks

if TYPE_CHECKING:
    from ml_gen.config import EnvConfig

KINDS = ("ServiceAccount", "ConfigMap", "KnativeService", "PrometheusRule", "GrafanaDashboard")
"""Knative makes the Services, routes and autoscaler of each revision; no PDB (it scales the pods), no
NetworkPolicy (its activator and queue-proxy carry the requests)."""
RESERVED_PORTS = (8012, 8013, 8022, 9090, 9091, 8008)
RESERVED_ENV = ("PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION")
AUTOSCALING_ANNOTATIONS = "autoscaling.knative.dev"
"""ValidateHasNoAutoscalingAnnotation: no annotation key with this prefix on the Service's own metadata."""


def values(env: EnvConfig) -> dict[str, Any]:
    """The Knative Service's section (knative): scale bounds and metric, concurrency, timeout, traffic; no
    NetworkPolicy."""
    s, knative = env.settings, env.settings["knative"]
    hpa = s["autoscaling"]
    canary = knative.get("canary")
    traffic = []
    if canary:
        traffic = [
            {"revisionName": canary["stableRevision"], "percent": 100 - canary["percent"], "tag": "stable"},
            {"latestRevision": True, "percent": canary["percent"], "tag": "canary"},
        ]
    return {
        "knative": {
            "initContainers": knative["initContainers"],
            "containerConcurrency": knative["containerConcurrency"],
            "timeoutSeconds": knative["timeoutSeconds"],
            "minScale": hpa["minReplicas"] if hpa["enabled"] else s["replicas"],
            "maxScale": hpa["maxReplicas"] if hpa["enabled"] else s["replicas"],
            "metric": knative["metric"] if hpa["enabled"] else "",
            "target": knative["target"] if hpa["enabled"] else None,
            "traffic": traffic,
        },
        "networkPolicy": {"enabled": False},  # ml-gen's default, which the rules refuse when the config asks
    }


def rules(env: EnvConfig) -> None:
    """What Knative's webhook refuses with its default features, and what has no place in a Knative Service."""
    s = env.settings
    if len(env.name) > LONGEST_NAME:
        raise env.error(
            "target",
            message="Knative names a revision's Deployment <name>-00001-deployment and its pods after it, cut to "
            f"{GENERATE_NAME_BASE} characters before the random part, so the alerts and the dashboard find them only "
            f"with a name of at most {LONGEST_NAME} characters (here {len(env.name)}): shorten the name",
        )
    if s["metrics"]["enabled"] and s["metrics"].get("port", s["port"]) != s["port"]:
        raise env.error("metrics", "port", message="Knative gives the server one port: serve the metrics path on it")
    refuse_reserved(env, s)
    refuse_masked_pod_fields(env, s)
    for key in s.get("annotations", {}):
        if key.startswith(AUTOSCALING_ANNOTATIONS):
            raise env.error(
                "annotations",
                key,
                message="Knative refuses autoscaling annotations on a Service (they belong to the revision, "
                "where ml-gen writes them from autoscaling and knative)",
            )
    hpa = s["autoscaling"]
    for field in ("targetCPUUtilizationPercentage", "targetMemoryUtilizationPercentage"):
        if hpa.get(field) is not None:
            raise env.error(
                "autoscaling",
                field,
                message="Knative's autoscaler scales on concurrency or rps: set knative.metric and knative.target",
            )
    uri = s["model"].get("uri", "")
    if uri and source(uri).how == "pvc":
        raise env.error(
            "model",
            "uri",
            message="Knative refuses a persistentVolumeClaim unless the cluster sets "
            "kubernetes.podspec-persistent-volume-claim: fetch the model (s3://, gs://, hf://, https://)",
        )
    if uri and source(uri).how == "fetch" and not s["knative"]["initContainers"]:
        for field in ("image", "command"):
            if asks(env, "model", "fetch", field):
                raise env.error(
                    "model",
                    "fetch",
                    field,
                    message="without init containers the server fetches the model itself, so another fetcher "
                    "would never run: set knative.initContainers: true (the cluster sets "
                    "kubernetes.podspec-init-containers)",
                )
    _companions(env, s)


def refuse_reserved(env: EnvConfig, s: dict[str, Any]) -> None:
    """The ports and env names Knative keeps for itself (a Knative Service, or KServe's Serverless predictor)."""
    if s["port"] in RESERVED_PORTS:
        raise env.error("port", message=f"Knative reserves port {s['port']} (for its queue-proxy): use another")
    for name in RESERVED_ENV:
        if name in s.get("env", {}) or name in s.get("secretEnv", {}):
            raise env.error("env" if name in s.get("env", {}) else "secretEnv", name, message="Knative sets it")


def refuse_masked_pod_fields(env: EnvConfig, s: dict[str, Any]) -> None:
    """What Knative's PodSpecMask refuses under its default feature flags (a Knative Service, or KServe's
    Serverless predictor): a lifecycle hook, nodeSelector, tolerations."""
    if s["shutdownDelaySeconds"]:
        raise env.error("shutdownDelaySeconds", message="Knative refuses a lifecycle hook (it drains pods itself)")
    for field in ("nodeSelector", "tolerations"):
        if s.get(field):
            raise env.error(
                field, message=f"Knative refuses {field} unless the cluster sets kubernetes.podspec-{field.lower()}"
            )


def refuse_network_policy(env: EnvConfig, whose: str) -> None:
    """A NetworkPolicy the config asks for where requests come through Knative's activator and queue-proxy."""
    if asks(env, "networkPolicy", "enabled"):
        raise env.error(
            "networkPolicy",
            "enabled",
            message=f"requests reach {whose} pods through Knative's activator and queue-proxy (port 8012), "
            "which ml-gen's NetworkPolicy does not open: leave it out and use the platform's policy",
        )


def _companions(env: EnvConfig, s: dict[str, Any]) -> None:
    """The objects a Knative Service makes its own, or that cannot work with it."""
    refuse_network_policy(env, "a Knative Service's")
    if s["ingress"]["enabled"] or s["metrics"]["serviceMonitor"]["enabled"]:
        field = ("ingress",) if s["ingress"]["enabled"] else ("metrics", "serviceMonitor")
        raise env.error(
            *field,
            "enabled",
            message="Knative makes the Service's routes and Services itself, so there is no Service of ml-gen's "
            "to route to or scrape: turn it off (Prometheus finds the pods by their prometheus.io annotations)",
        )
    if s["service"]["type"] != "ClusterIP" or s["service"]["port"] != 80:
        raise env.error("service", message="Knative makes the Service's Services itself (its routes listen on 80)")


LONGEST_DEPLOYMENT = 63
"""kmeta.ChildName (knative.dev/pkg) hashes a child's name past 63 characters: <parent head><md5><suffix>."""
REVISION_DEPLOYMENT = "-00001-deployment"
"""What a revision's Deployment adds to the Service's name: revision <name>-<5 digits> (ChildName), Deployment
ChildName(<revision>, "-deployment")."""
LONGEST_NAME = GENERATE_NAME_BASE - len(REVISION_DEPLOYMENT + "-")
"""40: the longest name pod_query's patterns match. ChildName leaves the Deployment's name whole up to a name of
46 (63 - 17); its pods' generateName <deployment>-<pod-template-hash>- is cut to 58 characters, which keeps
<deployment>- whole up to a name of 40."""


def pod_query(name: str, namespace: str) -> PodQuery:
    """The revisions' pods: each revision <name>-<5 digits> runs Deployment <revision>-deployment."""
    workload = f"{name}-[0-9]{{5}}-deployment"
    return PodQuery.of_deployments(namespace, f"{workload}-.+", workload, "Knative Service")


TARGET = Target("knative", KINDS, values, rules, pod_query)

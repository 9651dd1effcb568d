"""The `kserve` target: a KServe InferenceService; KServe's controller makes the predictor's pods, Service and HPA.

The rules below imitate KServe's admission webhook (v0.15.2, pkg/apis/serving/v1beta1) on what ml-gen
writes, and say where a config cannot be expressed the KServe way; each names the upstream function it
imitates, so the validator built from the module (issue 17, point 6) can check them one by one:

- validateInferenceServiceName: the name is a DNS-1035 label (the config schema's name pattern already is);
- validateReplicas (component.go): 0 <= minReplicas <= maxReplicas (the shared autoscaling rules);
- validateScalingHPACompExtension / validateHPAMetrics: in RawDeployment the HPA scales on cpu or memory
  only, a cpu target is 1-100 (ml-gen maps the CPU utilisation target, refused above 100; memory is refused
  below), in Serverless too (ml-gen's CPU target selects Knative's HPA class);
- validateScalingKPACompExtension: Serverless with the Knative HPA class takes cpu as well;
- canaryTrafficPercent: KServe ignores it in RawDeployment (predictor reconciler), so ml-gen refuses it;
- RawDeployment makes a plain Deployment of the predictor: the container's lifecycle (shutdownDelaySeconds'
  preStop sleep; predictor.model's container is merged into the runtime's, MergeRuntimeContainers) and the
  predictor's terminationGracePeriodSeconds pass through, so the deployment target's shutdown rule holds;
- Knative's ValidateContainerPorts / PodSpecSecurityContext, SecurityContext masks (Serverless runs on Knative):
  port name http1, no lifecycle, no pod securityContext, nodeSelector and tolerations off by default, and
  Knative's reserved ports and env names (serving-validate found those missing: it checks the Knative Service
  KServe's controller makes of a Serverless custom predictor).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ml_gen.config.model_source import source
from ml_gen.k8s.names import GENERATE_NAME_BASE
from ml_gen.kinds.inferenceservice import CONTAINER
from ml_gen.promql import PodQuery
from ml_gen.targets import deployment, knative
from ml_gen.targets.target import Target, asks

if TYPE_CHECKING:
    from ml_gen.config import EnvConfig

KINDS = (
    "ServiceAccount",
    "ConfigMap",
    "InferenceService",
    "PodDisruptionBudget",
    "NetworkPolicy",
    "PrometheusRule",
    "GrafanaDashboard",
)
"""KServe makes the predictor's Service, Deployment and HPA (and its Ingress when configured) itself."""
RAW, SERVERLESS = "RawDeployment", "Serverless"
SERVICE_PORT = 80
"""The port of the Service KServe makes for the predictor (constants.CommonDefaultHttpPort)."""
MAX_CPU_TARGET = 100
"""validateScalingHPACompExtension: a cpu scaleTarget is a percentage of 1-100 (found by serving-validate)."""


def storage_uri(model: dict[str, Any]) -> str:
    """model.uri as KServe's storage initializer reads it ('' for a model baked into the image): hf:// takes
    the revision after ':' (hf://ORG/MODEL:REVISION), every other scheme is the same URI."""
    uri = model.get("uri", "")
    if not uri or source(uri).how == "image":
        return ""
    if uri.startswith("hf://"):
        repo, _, revision = uri[len("hf://") :].rpartition("@")
        return f"hf://{repo}:{revision}"
    return str(uri)


def values(env: EnvConfig) -> dict[str, Any]:
    """The InferenceService's section (kserve), its PDB and the credentials Secret on the ServiceAccount."""
    s = env.settings
    mode = s["kserve"]["deploymentMode"]
    hpa = s["autoscaling"]
    secret = s["model"].get("credentials", {}).get("secret")
    raw_pdb = deployment.pdb_rendered(s) and mode == RAW
    return {
        "kserve": {
            "deploymentMode": mode,
            "predictor": s["kserve"]["predictor"],
            "modelFormat": s["model"].get("framework", "") if s["kserve"]["predictor"] == "model" else "",
            "runtime": s["kserve"].get("runtime", ""),
            "storageUri": storage_uri(s["model"]),
            "minReplicas": hpa["minReplicas"] if hpa["enabled"] else s["replicas"],
            "maxReplicas": hpa["maxReplicas"] if hpa["enabled"] else s["replicas"],
            "scaleMetric": "cpu" if hpa["enabled"] else "",
            "scaleTarget": hpa.get("targetCPUUtilizationPercentage", 80) if hpa["enabled"] else None,
            "canaryTrafficPercent": s["kserve"].get("canaryTrafficPercent"),
        },
        "podDisruptionBudget": {**deployment.values(env)["podDisruptionBudget"], "enabled": raw_pdb},
        "serviceAccount": {"secrets": [{"name": secret}] if secret else []},
        "networkPolicy": {"enabled": s["networkPolicy"]["enabled"] and _policy_fits(s)},  # else: rules
    }


def _policy_fits(s: dict[str, Any]) -> bool:
    """Whether ml-gen's NetworkPolicy can open the predictor's port: in RawDeployment, to the config's own
    server (port `http`); a standard runtime's container names no port (KServe's runtimes listen on 8080)."""
    return bool(s["kserve"]["deploymentMode"] == RAW and s["kserve"]["predictor"] == "server")


def rules(env: EnvConfig) -> None:
    """What KServe's webhook refuses, and what the InferenceService cannot carry (module docstring)."""
    s, kserve, model = env.settings, env.settings["kserve"], env.settings["model"]
    mode = kserve["deploymentMode"]
    _model_rules(env, s, kserve, model)
    if "canaryTrafficPercent" in kserve and mode == RAW:
        raise env.error(
            "kserve",
            "canaryTrafficPercent",
            message="KServe ignores canaryTrafficPercent in RawDeployment mode (only Serverless splits traffic)",
        )
    hpa = s["autoscaling"]
    if hpa["enabled"] and hpa.get("targetCPUUtilizationPercentage", 0) > MAX_CPU_TARGET:
        raise env.error(
            "autoscaling",
            "targetCPUUtilizationPercentage",
            message=f"KServe takes a CPU utilisation target of 1 to {MAX_CPU_TARGET} (its scaleTarget)",
        )
    if hpa["enabled"] and hpa.get("targetMemoryUtilizationPercentage") is not None:
        raise env.error(
            "autoscaling",
            "targetMemoryUtilizationPercentage",
            message="KServe scales one InferenceService on one metric: ml-gen maps the CPU utilisation target "
            "(scaleMetric cpu); drop the memory target for this target",
        )
    if s["ingress"]["enabled"]:
        raise env.error(
            "ingress",
            "enabled",
            message="an Ingress needs a Service ml-gen renders, and KServe makes the predictor's Service (and its "
            "own Ingress, from its ingress config) itself: turn it off",
        )
    if s["metrics"]["serviceMonitor"]["enabled"]:
        raise env.error(
            "metrics",
            "serviceMonitor",
            "enabled",
            message="a ServiceMonitor needs a Service ml-gen renders, and KServe makes the predictor's Service "
            "itself: turn it off (Prometheus finds the pods by their prometheus.io annotations)",
        )
    if s["service"]["type"] != "ClusterIP" or s["service"]["port"] != SERVICE_PORT:
        raise env.error(
            "service", message=f"KServe makes the predictor's Service itself (ClusterIP, port {SERVICE_PORT})"
        )
    if mode == RAW and not _policy_fits(s) and asks(env, "networkPolicy", "enabled"):
        raise env.error(
            "networkPolicy",
            "enabled",
            message="a standard runtime's container names no port for ml-gen's NetworkPolicy to open (port http): "
            "leave it out with predictor: model, or serve the model with predictor: server",
        )
    if mode == SERVERLESS:
        _serverless_rules(env, s)
    else:  # KServe's Deployment carries the container's preStop sleep and the predictor's grace period
        deployment.shutdown_rules(env, s)
        if len(env.config.name) > LONGEST_NAME:
            raise env.error(
                "target",
                message=f"KServe names the predictor's Deployment <name>-predictor and its pods after it, cut to "
                f"{GENERATE_NAME_BASE} characters before the random part, so the alerts and the dashboard find them "
                f"only with a name of at most {LONGEST_NAME} characters (here {len(env.config.name)}): "
                "shorten the name",
            )
    deployment.pdb_rules(env, s)


def _model_rules(env: EnvConfig, s: dict[str, Any], kserve: dict[str, Any], model: dict[str, Any]) -> None:
    uri = model.get("uri", "")
    scheme = source(uri).scheme if uri else "file"
    if scheme == "models":
        raise env.error(
            "model",
            "uri",
            message="KServe's storage initializer does not resolve MLflow models:/ URIs: name the version's "
            "artifacts (s3://, gs://) in model.uri for this environment",
        )
    if "sha256" in model:
        raise env.error(
            "model",
            "sha256",
            message="KServe's storage initializer does not check a checksum, so model.sha256 would pin nothing"
            + (" (and https:// needs one: use s3://, gs://, hf:// or pvc://)" if scheme == "https" else ""),
        )
    if scheme == "hf" and "/" in uri.rpartition("@")[2]:
        raise env.error(
            "model",
            "uri",
            message="KServe's storage initializer reads hf://ORG/MODEL:REVISION with no '/' in the revision: "
            "name the commit",
        )
    if scheme == "hf" and ("/" not in uri[len("hf://") :].rpartition("@")[0] or "endpoint" in model.get("hf", {})):
        raise env.error(
            "model",
            "uri" if "endpoint" not in model.get("hf", {}) else "hf",
            message="KServe's storage initializer fetches hf://ORG/MODEL from the public Hub only "
            "(no mirror endpoint, an organisation in the name)",
        )
    if "s3" in model:
        raise env.error(
            "model",
            "s3",
            message="KServe reads the S3 endpoint, region and addressing from annotations on the credentials "
            "Secret (serving.kserve.io/s3-endpoint, s3-region, s3-usehttps, s3-usevirtualbucket), which ml-gen "
            "does not write: annotate the Secret named in model.credentials.secret and leave model.s3 out here",
        )
    if kserve["predictor"] == "model":
        if "framework" not in model:
            raise env.error("kserve", "predictor", message="predictor: model needs model.framework (its modelFormat)")
        if scheme in ("file",):
            raise env.error(
                "kserve", "predictor", message="predictor: model needs model.uri in a store KServe fetches from"
            )
    elif "runtime" in kserve:
        raise env.error("kserve", "runtime", message="a runtime serves predictor: model (set kserve.predictor: model)")


def _serverless_rules(env: EnvConfig, s: dict[str, Any]) -> None:
    """Serverless runs the predictor as a Knative Service, with Knative's default feature flags."""
    knative.refuse_network_policy(env, "a Serverless InferenceService's")
    if len(env.config.name) > LONGEST_SERVERLESS_NAME:
        raise env.error(
            "kserve",
            "deploymentMode",
            message=f"Knative names the revision's Deployment <name>-predictor-00001-deployment and hashes it past "
            f"{knative.LONGEST_DEPLOYMENT} characters, so the alerts and the dashboard find the predictor's pods "
            f"only with a name of at most {LONGEST_SERVERLESS_NAME} in Serverless mode (here {len(env.config.name)})"
            ": shorten the name",
        )
    knative.refuse_reserved(env, s)
    knative.refuse_masked_pod_fields(env, s)


PREDICTOR = "-predictor"
LONGEST_NAME = GENERATE_NAME_BASE - len(PREDICTOR + "-")
"""47: pod_query's pod pattern <name>-predictor-.+ needs the pods' generateName, cut to 58 characters, to keep
<name>-predictor- whole (in Serverless also the Knative revision <name>-predictor-00001 fits 63)."""
LONGEST_SERVERLESS_NAME = knative.LONGEST_DEPLOYMENT - len(PREDICTOR + knative.REVISION_DEPLOYMENT)
"""36: in Serverless the revision's Deployment <name>-predictor-00001-deployment stays unhashed (kmeta.ChildName)
only up to 63 characters."""


def pod_query(name: str, namespace: str) -> PodQuery:
    """The predictor's pods: Deployment <name>-predictor (RawDeployment) or the Knative revision's
    <name>-predictor-<5 digits>-deployment (Serverless), and their pods after it; the server is KServe's
    kserve-container (the predictor's container, or the runtime's)."""
    workload = f"{name}-predictor(-[0-9]{{5}}-deployment)?"
    return PodQuery.of_deployments(namespace, f"{name}-predictor-.+", workload, "InferenceService", CONTAINER)


TARGET = Target("kserve", KINDS, values, rules, pod_query)

"""The PromQL the alerts and the dashboard share: how a release's pods are found, and the expressions over
the metrics of the server `ml-gen init` writes (ml_gen.serving_metrics) and of kube-state-metrics."""

from __future__ import annotations

from dataclasses import dataclass

from ml_gen import serving_metrics as metrics

RATE_WINDOW = "5m"
"""The window of every rate() over the server's counters and histogram."""
RESTARTS_WINDOW = "15m"
"""The window the restarts are counted over."""
PREDICT = 'route="/predict"'
"""Only POST /predict: a pod loading its model answers its readiness probes with 503, not a client."""
SERVER_ERRORS = 'status=~"5.."'


@dataclass(frozen=True)
class PodQuery:
    """How PromQL finds one release's pods and counts its replicas; each serving target says (ml_gen.targets)."""

    pods: str
    """Label matchers of the release's pods (namespace and pod name), without braces."""
    unavailable: str
    """An expression that is above 0 while some of the workload's pods are not ready."""
    ready: str
    """The workload's ready replicas (kube-state-metrics)."""
    desired: str
    """The replicas the workload wants (kube-state-metrics)."""
    workload: str
    """The workload's kind, as the alerts' descriptions name it (e.g. Deployment)."""
    container: str = ""
    """The server's container where the target names it (KServe: kserve-container); "": the chart's name."""

    @classmethod
    def run_by_deployments(cls, pods: str, deployments: str, workload: str, container: str = "") -> PodQuery:
        """The pods PODS selects (label matchers), run by the Deployments DEPLOYMENTS selects (label matchers of
        kube-state-metrics' namespace and deployment labels)."""
        return cls(
            pods=pods,
            unavailable=f"kube_deployment_status_replicas_unavailable{{{deployments}}}",
            ready=f"sum(kube_deployment_status_replicas_ready{{{deployments}}})",
            desired=f"sum(kube_deployment_spec_replicas{{{deployments}}})",
            workload=workload,
            container=container,
        )

    @classmethod
    def of_deployments(
        cls, namespace: str, pods: str, deployments: str, workload: str, container: str = ""
    ) -> PodQuery:
        """The pods whose names match PODS, made by the Deployments whose names match DEPLOYMENTS (regexes),
        for a controller that makes Deployments for WORKLOAD (a KServe predictor, a Knative revision)."""
        pod_matchers = f'namespace="{namespace}", pod=~"{pods}"'
        deployment_matchers = f'namespace="{namespace}", deployment=~"{deployments}"'
        return cls.run_by_deployments(pod_matchers, deployment_matchers, workload, container)

    def of_pods(self, metric: str, *matchers: str) -> str:
        """METRIC's series of the release's pods, narrowed by more label matchers."""
        return f"{metric}{{{', '.join((self.pods, *matchers))}}}"


def container(name: str) -> str:
    """The matcher of the server's container (kube-state-metrics and cAdvisor label series by container)."""
    return f'container="{name}"'


def predict_rate(query: PodQuery, *matchers: str, by: str = "") -> str:
    """POST /predict requests a second (optionally only those MATCHERS select), summed (by BY's labels)."""
    grouping = f" by ({by}) " if by else ""
    return f"sum{grouping}(rate({query.of_pods(metrics.REQUESTS, PREDICT, *matchers)}[{RATE_WINDOW}]))"


def error_ratio(query: PodQuery, zero_without_errors: bool = False) -> str:
    """The share of POST /predict requests answered 5xx. The server makes a status's series on its first
    answer with it: before any 5xx the share is no data, or 0 when ZERO_WITHOUT_ERRORS (the dashboard's)."""
    errors = predict_rate(query, SERVER_ERRORS)
    return f"{f'({errors} or vector(0))' if zero_without_errors else errors} / {predict_rate(query)}"


def predict_latency(query: PodQuery, quantile: float) -> str:
    """A quantile of POST /predict's latency in seconds, over every pod."""
    buckets = query.of_pods(f"{metrics.REQUEST_SECONDS}_bucket", PREDICT)
    return f"histogram_quantile({quantile}, sum by (le) (rate({buckets}[{RATE_WINDOW}])))"


def restarts(query: PodQuery, server: str) -> str:
    """Restarts of the server's container in each pod over RESTARTS_WINDOW (kube-state-metrics)."""
    counter = query.of_pods("kube_pod_container_status_restarts_total", container(server))
    return f"increase({counter}[{RESTARTS_WINDOW}])"

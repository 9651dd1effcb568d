{{/* The chart name, or nameOverride; the app.kubernetes.io/name label. */}}
{{- define "ml-model-api.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The fully qualified app name: fullnameOverride, or release name (plus chart name unless it holds it). */}}
{{- define "ml-model-api.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The chart name and version, for NOTES and humans. */}}
{{- define "ml-model-api.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: name and instance only, because a selector cannot change after creation. */}}
{{- define "ml-model-api.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ml-model-api.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end }}

{{/* Common labels on every object; a digest-pinned image gets no version label. */}}
{{- define "ml-model-api.labels" -}}
{{ include "ml-model-api.selectorLabels" . }}
{{- if not .Values.image.digest }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/component: {{ .Values.component | quote }}
app.kubernetes.io/part-of: {{ .Values.partOf | default (include "ml-model-api.name" .) | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The ServiceAccount to use. */}}
{{- define "ml-model-api.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ml-model-api.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: repository@digest when pinned, else repository:tag (appVersion by default). */}}
{{- define "ml-model-api.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* Annotations of one object: commonAnnotations merged under the object's own (passed as .extra). */}}
{{- define "ml-model-api.annotations" -}}
{{- $annotations := merge (deepCopy (.extra | default dict)) .root.Values.commonAnnotations }}
{{- with $annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* How the alerts and the dashboard find the release's pods, per serving target (ml_gen/targets: each target's
pod_query; ml_gen/promql.py): a dict of pods (PromQL label matchers), unavailable (above 0 while pods are not ready),
ready and desired (the replicas, from kube-state-metrics), workload (its kind) and container (the server's), as JSON. */}}
{{- define "ml-model-api.podQuery" -}}
{{- $name := include "ml-model-api.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- $pods := "" }}
{{- $deployments := "" }}
{{- $workload := "" }}
{{- $container := .Chart.Name }}
{{- if eq .Values.target "deployment" }}
{{- /* A Deployment's pods: generateName <fullname>-<ReplicaSet hash, 1 to 10 characters>-, which the API server cuts
to 58 characters before it appends 5 random ones; so the cut base, then a whole hash and its dash or as much of it as
fits, then 5 characters (ml_gen/targets/deployment.py pod_name_pattern). */}}
{{- $base := printf "%s-" $name | trunc 58 }}
{{- $pod := printf "%s([a-z0-9]{1,10}-|[a-z0-9]{%d})[a-z0-9]{5}" $base (sub 58 (len $base)) }}
{{- $pods = printf "namespace=%q, pod=~%q" $ns $pod }}
{{- $deployments = printf "namespace=%q, deployment=%q" $ns $name }}
{{- $workload = "Deployment" }}
{{- else if eq .Values.target "kserve" }}
{{- /* The predictor's pods: Deployment <fullname>-predictor (RawDeployment) or the Knative revision's
<fullname>-predictor-<5 digits>-deployment (Serverless), and their pods after it (ml_gen/targets/kserve.py). */}}
{{- $pods = printf "namespace=%q, pod=~%q" $ns (printf "%s-predictor-.+" $name) }}
{{- $deployments = printf "namespace=%q, deployment=~%q" $ns (printf "%s-predictor(-[0-9]{5}-deployment)?" $name) }}
{{- $workload = "InferenceService" }}
{{- $container = "kserve-container" }}
{{- else if eq .Values.target "knative" }}
{{- /* The revisions' pods: each revision <fullname>-<5 digits> runs Deployment <revision>-deployment
(ml_gen/targets/knative.py). */}}
{{- $revisions := printf "%s-[0-9]{5}-deployment" $name }}
{{- $pods = printf "namespace=%q, pod=~%q" $ns (printf "%s-.+" $revisions) }}
{{- $deployments = printf "namespace=%q, deployment=~%q" $ns $revisions }}
{{- $workload = "Knative Service" }}
{{- else }}
{{- fail (printf "target %q has no pod query" .Values.target) }}
{{- end }}
{{- dict "pods" $pods "unavailable" (printf "kube_deployment_status_replicas_unavailable{%s}" $deployments) "ready" (printf "sum(kube_deployment_status_replicas_ready{%s})" $deployments) "desired" (printf "sum(kube_deployment_spec_replicas{%s})" $deployments) "workload" $workload "container" $container | toJson }}
{{- end }}

{{/* The Service `helm test` reaches the pods through, per serving target; "": none whose address is in a pod's
environment (the test hook is left out). */}}
{{- define "ml-model-api.testService" -}}
{{- if eq .Values.target "deployment" }}
{{- include "ml-model-api.fullname" . }}
{{- else if and (eq .Values.target "kserve") (eq .Values.kserve.deploymentMode "RawDeployment") }}
{{- printf "%s-predictor" (include "ml-model-api.fullname" .) }}
{{- end }}
{{- end }}

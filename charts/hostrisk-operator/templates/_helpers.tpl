{{/* Chart name, overridable with nameOverride. */}}
{{- define "hostrisk-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of every resource: "<release>-<chart>", or the release name alone when it already contains the chart name. */}}
{{- define "hostrisk-operator.fullname" -}}
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

{{- define "hostrisk-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object: the chart's own, then commonLabels (the schema keeps the selector labels out of them). */}}
{{- define "hostrisk-operator.labels" -}}
{{- $labels := dict
  "helm.sh/chart" (include "hostrisk-operator.chart" .)
  "app.kubernetes.io/version" (.Chart.AppVersion | toString)
  "app.kubernetes.io/managed-by" .Release.Service
  "app.kubernetes.io/part-of" "hostrisk-operator" }}
{{- $labels = mergeOverwrite $labels (include "hostrisk-operator.selectorLabels" . | fromYaml) (.Values.commonLabels | default dict) }}
{{- toYaml $labels }}
{{- end }}

{{/* labels plus the map in `extra` (its keys win): (dict "ctx" $ "extra" .Values.serviceMonitor.labels). */}}
{{- define "hostrisk-operator.labelsWith" -}}
{{- $labels := include "hostrisk-operator.labels" .ctx | fromYaml }}
{{- toYaml (mergeOverwrite $labels (.extra | default dict)) }}
{{- end }}

{{/* Labels that select the operator pods; never change them after a release exists (selectors are immutable). */}}
{{- define "hostrisk-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hostrisk-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hostrisk-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hostrisk-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Reference of an image block: repository@digest when a digest is set (it wins over the tag), else
repository:tag, the tag defaulting to `defaultTag`: (dict "image" .Values.image "defaultTag" "1.0" "key" "image"). */}}
{{- define "hostrisk-operator.imageRef" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- $tag := required (printf "%s: set tag or digest" .key) (default .defaultTag .image.tag) }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{/* The operator's image; an empty tag means the chart's appVersion. */}}
{{- define "hostrisk-operator.image" -}}
{{- include "hostrisk-operator.imageRef" (dict "image" .Values.image "defaultTag" .Chart.AppVersion "key" "image") }}
{{- end }}

{{/* Labels of the `helm test` Pod: the chart's labels without app.kubernetes.io/name, so that none of the
chart's selectors (Service, PodDisruptionBudget, NetworkPolicy) takes it for an operator pod. */}}
{{- define "hostrisk-operator.testLabels" -}}
{{- $labels := include "hostrisk-operator.labels" . | fromYaml }}
{{- $_ := unset $labels "app.kubernetes.io/name" }}
{{- $_ = set $labels "app.kubernetes.io/component" "helm-test" }}
{{- toYaml $labels }}
{{- end }}

{{/* The pods' imagePullSecrets: `imagePullSecrets`, then a parent chart's `global.imagePullSecrets`, each
Secret once; an entry is {name: ...} or a plain name. Empty when there is none. */}}
{{- define "hostrisk-operator.imagePullSecrets" -}}
{{- $global := list }}
{{- with .Values.global }}{{ $global = .imagePullSecrets | default list }}{{ end }}
{{- $names := list }}
{{- range concat (.Values.imagePullSecrets | default list) $global }}
{{- $name := . }}
{{- if kindIs "map" . }}{{ $name = .name }}{{ end }}
{{- if not (has $name $names) }}{{ $names = append $names $name }}{{ end }}
{{- end }}
{{- range $names }}
- name: {{ . | quote }}
{{- end }}
{{- end }}

{{/* "true" when leader election is on: asked for, or implied by more than one replica. */}}
{{- define "hostrisk-operator.leaderElect" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{- end }}
{{- end }}

{{- define "hostrisk-operator.leaseNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.leaseNamespace }}
{{- end }}

{{/* Where the CA bundle is mounted, and the file passed to --ca-bundle. */}}
{{- define "hostrisk-operator.caBundleDir" -}}
/etc/hostrisk-operator/ca
{{- end }}

{{- define "hostrisk-operator.caBundleEnabled" -}}
{{- if and .Values.caBundle.configMap .Values.caBundle.secret }}
{{- fail "caBundle: set configMap or secret, not both" }}
{{- end }}
{{- if or .Values.caBundle.configMap .Values.caBundle.secret }}true{{- end }}
{{- end }}

{{/* Rules the operator needs on namespaced objects, shared by the ClusterRole (all namespaces) and the per-namespace Roles. */}}
{{- define "hostrisk-operator.namespacedRules" -}}
- apiGroups: ["hostrisk.io"]
  resources: ["hostriskwatches"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["hostrisk.io"]
  resources: ["hostriskwatches/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- if .Values.workloadIdentity.enabled }}
{{- /* Keyless watches: a short-lived token for a ServiceAccount of the watch's namespace (TokenRequest). */}}
- apiGroups: [""]
  resources: ["serviceaccounts/token"]
  verbs: ["create"]
{{- end }}
{{- end }}

{{/* Labels of the operator pods: commonLabels, podLabels, then the selector labels, which always win. */}}
{{- define "hostrisk-operator.podLabels" -}}
{{- $labels := mergeOverwrite (dict) (.Values.commonLabels | default dict) (.Values.podLabels | default dict) }}
{{- toYaml (mergeOverwrite $labels (include "hostrisk-operator.selectorLabels" . | fromYaml)) }}
{{- end }}

{{/* Policy reports: the format written ("openreports" or "wgpolicyk8s"), empty when off (a bare YAML off is false). */}}
{{- define "hostrisk-operator.policyReports" -}}
{{- $format := .Values.policyReports.format -}}
{{- if and (kindIs "string" $format) (ne $format "off") }}{{ $format }}{{ end -}}
{{- end }}

{{/* Policy reports: the rules on the report kinds. The kind written: everything the operator does with it; the other
kind (and both when off with cleanupWhenOff): list and delete, to remove the operator's reports of it at start. */}}
{{- define "hostrisk-operator.policyReportRules" -}}
{{- $format := include "hostrisk-operator.policyReports" . -}}
{{- $kinds := dict "openreports" (list "openreports.io" "reports") "wgpolicyk8s" (list "wgpolicyk8s.io" "policyreports") -}}
{{- range $name := list "openreports" "wgpolicyk8s" }}
{{- $kind := get $kinds $name }}
- apiGroups: [{{ index $kind 0 | quote }}]
  resources: [{{ index $kind 1 | quote }}]
  {{- if eq $name $format }}
  verbs: ["list", "watch", "create", "patch", "delete"]
  {{- else }}
  verbs: ["list", "delete"]
  {{- end }}
{{- end }}
{{- end }}

{{- /*
Helpers of the ServiceMonitor, the PrometheusRule and the Grafana dashboard.

Alert expressions are written against series as a Prometheus scraping the operator stores them:
- the labels target discovery adds per pod (instance, pod, container, endpoint, service) are
  aggregated away, so an alert is about a watch or a deployment, not a pod: when a rollout or a
  leader change moves the series to another pod, the alert keeps its labels and its `for` timer;
- a watch's `namespace` survives a Prometheus that does not honour the series' labels: there the
  watch's namespace arrives as `exported_namespace` (the target's own namespace takes `namespace`),
  and label_replace puts it back. The chart's ServiceMonitor sets honorLabels: true, so with it
  `exported_namespace` never appears.
*/}}

{{/* The scrape job the alerts select: prometheusRule.job, else the one the chart's ServiceMonitor gives the
operator's target ("<fullname>-metrics", the Service's name); empty when neither is known. */}}
{{- define "hostrisk-operator.selectedJob" -}}
{{- if .Values.prometheusRule.job }}
{{- .Values.prometheusRule.job }}
{{- else if .Values.serviceMonitor.enabled }}
{{- printf "%s-metrics" (include "hostrisk-operator.fullname" .) }}
{{- end }}
{{- end }}

{{/* Labels on the ServiceMonitor and the PrometheusRule: the chart's, monitoringLabels (what the Prometheus'
selectors match), then the object's own extras: (dict "ctx" $ "extra" .Values.serviceMonitor.labels). */}}
{{- define "hostrisk-operator.monitoringLabels" -}}
{{- $labels := include "hostrisk-operator.labels" .ctx | fromYaml }}
{{- toYaml (mergeOverwrite $labels (.ctx.Values.monitoringLabels | default dict) (.extra | default dict)) }}
{{- end }}

{{/* `metric{job="<job>",<match>}`: (dict "ctx" $ "metric" "hostrisk_x" "match" "k=\"v\""). */}}
{{- define "hostrisk-operator.selector" -}}
{{- $matchers := list }}
{{- with include "hostrisk-operator.selectedJob" .ctx }}
{{- $matchers = append $matchers (printf "job=%q" .) }}
{{- end }}
{{- with .match }}
{{- $matchers = append $matchers . }}
{{- end }}
{{- printf "%s{%s}" .metric (join "," $matchers) }}
{{- end }}

{{/* Per-pod target labels, aggregated away by every alert. */}}
{{- define "hostrisk-operator.podTargetLabels" -}}
instance, pod, container, endpoint, service
{{- end }}

{{/* One per-watch series, per watch across pods, with the watch's namespace in `namespace` whatever the
scrape's honorLabels; `drop` lists labels to aggregate away too:
(dict "ctx" $ "metric" "hostrisk_watch_x" "match" "k=\"v\"" "drop" "k"). */}}
{{- define "hostrisk-operator.watchSeries" -}}
{{- $drop := include "hostrisk-operator.podTargetLabels" .ctx }}
{{- with .drop }}{{ $drop = printf "%s, %s" $drop . }}{{ end -}}
max without ({{ $drop }}, exported_namespace) (label_replace({{ include "hostrisk-operator.selector" . }}, "namespace", "$1", "exported_namespace", "(.+)"))
{{- end }}

{{/* The 15-minute rate of an operator counter, per deployment across pods; `drop` as above. */}}
{{- define "hostrisk-operator.operatorRate" -}}
{{- $drop := include "hostrisk-operator.podTargetLabels" .ctx }}
{{- with .drop }}{{ $drop = printf "%s, %s" $drop . }}{{ end -}}
sum without ({{ $drop }}) (rate({{ include "hostrisk-operator.selector" . }}[15m]))
{{- end }}

{{/* One alerting rule: (dict "ctx" $ "name" "HostRiskX" "rule" $rule "expr" "..." "summary" "..."
"description" "..." "labels" (dict ...)). Labels: prometheusRule.alertLabels, the rule's own, then its
severity; annotations: summary, description and runbook_url (the runbook section of the alert). */}}
{{- define "hostrisk-operator.alertRule" -}}
{{- $pr := .ctx.Values.prometheusRule }}
{{- $labels := mergeOverwrite (dict) ($pr.alertLabels | default dict) (.labels | default dict) (dict "severity" .rule.severity) -}}
- alert: {{ .name }}
  expr: |-
    {{- .expr | nindent 4 }}
  for: {{ .rule.for }}
  {{- if and .watchLevel (not (has $pr.keepFiringFor (list "0" "0s" "0m" "0h"))) }}
  keep_firing_for: {{ $pr.keepFiringFor }}
  {{- end }}
  labels:
    {{- toYaml $labels | nindent 4 }}
  annotations:
    summary: {{ .summary | quote }}
    description: {{ .description | quote }}
    runbook_url: {{ printf "%s#%s" (trimSuffix "/" $pr.runbookBaseUrl) (lower .name) | quote }}
{{- end }}

{{/* The chart's name, or nameOverride. */}}
{{- define "gatehouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* A name for the release's objects: fullnameOverride, or <release>-<chart> (just <release> when it holds the chart name). */}}
{{- define "gatehouse.fullname" -}}
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

{{- define "gatehouse.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ include "gatehouse.chart" . }}
{{ include "gatehouse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "gatehouse.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The gateway's port: config.server.port (the config file is the one place that says it). */}}
{{- define "gatehouse.port" -}}
{{- .Values.config.server.port | int }}
{{- end }}

{{/* The Secret that holds the session key: an existing one, or the chart's. Fails when neither is given. */}}
{{- define "gatehouse.sessionKeySecretName" -}}
{{- if .Values.sessionKey.existingSecret }}
{{- .Values.sessionKey.existingSecret }}
{{- else if .Values.sessionKey.value }}
{{- include "gatehouse.fullname" . }}
{{- else }}
{{- fail "sessionKey: every replica needs the same session key. Set sessionKey.value (openssl rand -base64 32 > session.key; --set-file sessionKey.value=session.key) or sessionKey.existingSecret (a Secret with the key under sessionKey.secretKey)" }}
{{- end }}
{{- end }}

{{/* Whether the chart makes its own Secret: for a session key given as a value, or for the external state URLs. */}}
{{- define "gatehouse.ownSecret" -}}
{{- if or (and .Values.sessionKey.value (not .Values.sessionKey.existingSecret)) .Values.externalState.redisUrl .Values.externalState.postgresUrl }}true{{ end }}
{{- end }}

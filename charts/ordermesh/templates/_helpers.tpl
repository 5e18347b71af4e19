{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "ordermesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-wide prefix: "<release>-ordermesh", or just the release name when it already contains the chart name. */}}
{{- define "ordermesh.fullname" -}}
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

{{- define "ordermesh.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "ordermesh.labels" -}}
helm.sh/chart: {{ include "ordermesh.chart" . }}
app.kubernetes.io/name: {{ include "ordermesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ordermesh
{{- end }}

{{/*
One component (an entry of .Values.services) with .Values.defaults filled in, as YAML.
Usage: {{- $c := include "ordermesh.component" (list $ $name $svc) | fromYaml }}
Adds: name (the key), fullname (<fullname>-<name>).
*/}}
{{- define "ordermesh.component" -}}
{{- $root := index . 0 }}
{{- $name := index . 1 }}
{{- $svc := index . 2 | default dict }}
{{- $c := dict }}
{{- range $k, $v := $root.Values.defaults }}{{- $_ := set $c $k $v }}{{- end }}
{{- range $k, $v := $svc }}{{- $_ := set $c $k $v }}{{- end }}
{{- if not (has $c.kind (list "grpc" "http")) }}
{{- fail (printf "services.%s.kind must be grpc or http, got %v" $name $c.kind) }}
{{- end }}
{{- if not $c.main }}{{- fail (printf "services.%s.main (the script to run) is required" $name) }}{{- end }}
{{- if not $c.port }}{{- fail (printf "services.%s.port is required" $name) }}{{- end }}
{{- if not $c.metricsPort }}{{- fail (printf "services.%s.metricsPort is required" $name) }}{{- end }}
{{- $_ := set $c "name" $name }}
{{- $_ := set $c "fullname" (printf "%s-%s" (include "ordermesh.fullname" $root) $name | trunc 63 | trimSuffix "-") }}
{{- toYaml $c }}
{{- end }}

{{/* Labels that select one component's pods. Argument: (list $ $c). */}}
{{- define "ordermesh.selectorLabels" -}}
{{- $root := index . 0 -}}
{{- $c := index . 1 -}}
app.kubernetes.io/name: {{ include "ordermesh.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ $c.name }}
{{- end }}

{{/* Labels of one component's objects. Argument: (list $ $c). */}}
{{- define "ordermesh.componentLabels" -}}
{{ include "ordermesh.labels" (index . 0) }}
app.kubernetes.io/component: {{ (index . 1).name }}
{{- end }}

{{/* The image reference of a component. Argument: (list $ $c). */}}
{{- define "ordermesh.image" -}}
{{- $root := index . 0 }}
{{- $c := index . 1 }}
{{- $img := $c.image | default dict }}
{{- $repo := $img.repository | default $root.Values.image.repository }}
{{- $tag := $img.tag | default $root.Values.image.tag | default $root.Chart.AppVersion | toString }}
{{- $digest := $img.digest | default $root.Values.image.digest }}
{{- if $digest }}
{{- printf "%s@%s" $repo $digest }}
{{- else }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}
{{- end }}

{{- define "ordermesh.sharedConfigName" -}}{{ include "ordermesh.fullname" . }}-shared{{- end }}
{{- define "ordermesh.s3ConfigName" -}}{{ include "ordermesh.fullname" . }}-s3{{- end }}

{{- define "ordermesh.databaseSecretName" -}}
{{- .Values.database.existingSecret | default (printf "%s-database" (include "ordermesh.fullname" .)) }}
{{- end }}

{{/* Name of the Secret with S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY, or "" when the SDK chain is used. */}}
{{- define "ordermesh.s3SecretName" -}}
{{- if .Values.s3.existingSecret }}
{{- .Values.s3.existingSecret }}
{{- else if and .Values.s3.accessKeyId .Values.s3.secretAccessKey }}
{{- printf "%s-s3" (include "ordermesh.fullname" .) }}
{{- end }}
{{- end }}

{{/* True ("true") when the chart makes the auth Secret itself. */}}
{{- define "ordermesh.authSecretManaged" -}}
{{- if and (not .Values.auth.existingSecret) (or .Values.auth.jwtSecret (not .Values.auth.jwksUrl)) }}true{{- end }}
{{- end }}

{{/* Name of the Secret with the HS256 secret, or "" when only a JWKS URL is used. */}}
{{- define "ordermesh.authSecretName" -}}
{{- if .Values.auth.existingSecret }}
{{- .Values.auth.existingSecret }}
{{- else if include "ordermesh.authSecretManaged" . }}
{{- printf "%s-auth" (include "ordermesh.fullname" .) }}
{{- end }}
{{- end }}

{{- define "ordermesh.authSecretKey" -}}
{{- if .Values.auth.existingSecret }}{{ .Values.auth.existingSecretKey | default "JWT_SECRET" }}{{ else }}JWT_SECRET{{ end }}
{{- end }}

{{/* The chart-made database URL of a component. Argument: (list $ $c). */}}
{{- define "ordermesh.databaseUrl" -}}
{{- $root := index . 0 }}
{{- $c := index . 1 }}
{{- $db := $root.Values.database }}
{{- $url := printf "postgres://%s:%s@%s:%v/%s" ($db.user | urlquery) ($db.password | urlquery) $db.host $db.port $c.database }}
{{- if $db.params }}{{ $url = printf "%s?%s" $url $db.params }}{{ end }}
{{- $url }}
{{- end }}

{{/* Cluster-local DNS name of a component's Service. Argument: (list $ $c). */}}
{{- define "ordermesh.fqdn" -}}
{{- $root := index . 0 }}
{{- printf "%s.%s.svc.%s" (index . 1).fullname $root.Release.Namespace $root.Values.clusterDomain }}
{{- end }}

{{/* Istio principal (SPIFFE identity without the scheme) of a component's ServiceAccount. Argument: (list $ $c). */}}
{{- define "ordermesh.principal" -}}
{{- $root := index . 0 }}
{{- printf "%s/ns/%s/sa/%s" $root.Values.istio.trustDomain $root.Release.Namespace (index . 1).fullname }}
{{- end }}

{{/*
The enabled components, as YAML: name -> component (defaults filled in). Used where one
component's objects depend on others (callers, upstreams).
Usage: {{- $all := include "ordermesh.components" $ | fromYaml }}
*/}}
{{- define "ordermesh.components" -}}
{{- $all := dict }}
{{- range $name, $svc := .Values.services }}
{{- $c := include "ordermesh.component" (list $ $name $svc) | fromYaml }}
{{- if $c.enabled }}{{- $_ := set $all $name $c }}{{- end }}
{{- end }}
{{- toYaml $all }}
{{- end }}

{{/*
Who calls a grpc component, as YAML: caller name -> list of RPC paths (/pkg.Service/Method).
Callers that are not enabled are left out; the health checkers get grpc.health.v1 Check.
Argument: (list $ $c $all).
*/}}
{{- define "ordermesh.callerPaths" -}}
{{- $root := index . 0 }}
{{- $c := index . 1 }}
{{- $all := index . 2 }}
{{- $rpc := required (printf "services.%s.rpc is required for a grpc service" $c.name) $c.rpc }}
{{- $out := dict }}
{{- range $caller, $methods := $rpc.callers }}
{{- if hasKey $all $caller }}
{{- $paths := list }}
{{- range $methods }}{{- $paths = append $paths (printf "/%s/%s" $rpc.service .) }}{{- end }}
{{- $_ := set $out $caller $paths }}
{{- end }}
{{- end }}
{{- range $root.Values.istio.healthCheckers }}
{{- if hasKey $all . }}
{{- $_ := set $out . (append (get $out . | default list) "/grpc.health.v1.Health/Check") }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{- define "ophicleide.name" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "ophicleide.labels" -}}
app.kubernetes.io/name: ophicleide
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: ophicleide
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "ophicleide.selector" -}}
app.kubernetes.io/name: ophicleide
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "ophicleide.mongoSecret" -}}
{{- if .Values.store.mongodb.auth.existingSecret -}}
{{ .Values.store.mongodb.auth.existingSecret }}
{{- else -}}
{{ include "ophicleide.name" . }}-mongo-secret
{{- end -}}
{{- end -}}

{{- define "ophicleide.keysSecret" -}}
{{- if .Values.auth.existingSecret -}}
{{ .Values.auth.existingSecret }}
{{- else -}}
{{ include "ophicleide.name" . }}-keys
{{- end -}}
{{- end -}}

{{- define "ophicleide.mongoURL" -}}
{{- if .Values.store.mongodb.url -}}
{{ .Values.store.mongodb.url }}
{{- else -}}
mongodb://{{ include "ophicleide.name" . }}-mongodb-0.{{ include "ophicleide.name" . }}-mongodb:27017/ophicleide?authSource=admin
{{- end -}}
{{- end -}}

{{/* OPH_SPARK_URL and OPH_SPARK_SCHEMES (env entries) for the roles that accept or train "spark" models; nothing when no Spark is configured. */}}
{{- define "ophicleide.sparkEnv" -}}
{{- $s := .Values.spark -}}
{{- $n := 0 -}}
{{- if $s.url }}{{ $n = add1 $n }}{{ end -}}
{{- if $s.urlSecret.name }}{{ $n = add1 $n }}{{ end -}}
{{- if $s.server.enabled }}{{ $n = add1 $n }}{{ end -}}
{{- if gt $n 1 }}{{ fail "spark: set at most one of spark.url, spark.urlSecret.name and spark.server.enabled" }}{{ end -}}
{{- if and $s.schemes (eq $n 0) }}{{ fail "spark.schemes needs a Spark: spark.url, spark.urlSecret.name or spark.server.enabled" }}{{ end -}}
{{- if $s.server.enabled }}
- name: OPH_SPARK_URL
  value: {{ printf "sc://%s-spark:%d" (include "ophicleide.name" .) (int $s.server.port) | quote }}
{{- else if $s.urlSecret.name }}
- name: OPH_SPARK_URL
  valueFrom:
    secretKeyRef:
      name: {{ $s.urlSecret.name }}
      key: {{ $s.urlSecret.key }}
{{- else if $s.url }}
{{- if not (hasPrefix "sc://" $s.url) }}{{ fail "spark.url must be a Spark Connect URL, sc://HOST:PORT" }}{{ end }}
- name: OPH_SPARK_URL
  value: {{ $s.url | quote }}
{{- end }}
{{- with $s.schemes }}
- name: OPH_SPARK_SCHEMES
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* A pod spec running one role. Arguments: root, component, args, resources, mongo (bool), keys (bool: mount the API keys), spark (bool: the Spark settings), data (claim name or ""). */}}
{{- define "ophicleide.podTemplate" -}}
metadata:
  labels:
    {{- include "ophicleide.selector" . | nindent 4 }}
  annotations:
    prometheus.io/scrape: "true"
    prometheus.io/port: "8080"
    prometheus.io/path: /metrics
    checksum/settings: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
    {{- /* No checksum of the keys: a changed Secret reaches the mounted directory and the server re-reads it, without a restart. */}}
spec:
  terminationGracePeriodSeconds: {{ .root.Values.terminationGracePeriodSeconds }}
  securityContext:
    runAsNonRoot: true
    {{- if .data }}
    fsGroup: 65532
    {{- end }}
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: {{ .component }}
      image: "{{ .root.Values.image.repository }}:{{ .root.Values.image.tag }}"
      imagePullPolicy: {{ .root.Values.image.pullPolicy }}
      args:
        {{- toYaml .args | nindent 8 }}
      {{- $spark := "" }}
      {{- if .spark }}{{ $spark = include "ophicleide.sparkEnv" .root }}{{ end }}
      {{- if trim $spark }}
      env:
        {{- $spark | nindent 8 }}
      {{- end }}
      envFrom:
        - configMapRef:
            name: {{ include "ophicleide.name" .root }}-settings
      ports:
        - name: http
          containerPort: 8080
      livenessProbe:
        httpGet: {path: /healthz, port: http}
        periodSeconds: 10
      readinessProbe:
        httpGet: {path: /readyz, port: http}
        periodSeconds: 5
      resources:
        {{- toYaml .resources | nindent 8 }}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities:
          drop: ["ALL"]
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- if .mongo }}
        - name: mongo-secret
          mountPath: /etc/mongo-secret
          readOnly: true
        {{- end }}
        {{- if .keys }}
        # The directory, not the file with subPath: rotated keys reach the pod.
        - name: api-keys
          mountPath: /etc/ophicleide
          readOnly: true
        {{- end }}
        {{- if .data }}
        - name: data
          mountPath: /data
        {{- end }}
  volumes:
    - name: tmp
      emptyDir: {}
    {{- if .mongo }}
    - name: mongo-secret
      secret:
        secretName: {{ include "ophicleide.mongoSecret" .root }}
    {{- end }}
    {{- if .keys }}
    - name: api-keys
      secret:
        secretName: {{ include "ophicleide.keysSecret" .root }}
        items:
          - {key: keys, path: keys}
    {{- end }}
    {{- if .data }}
    - name: data
      persistentVolumeClaim:
        claimName: {{ .data }}
    {{- end }}
{{- end -}}

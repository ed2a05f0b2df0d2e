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

{{/* A pod spec running one role. Arguments: root, component, args, resources, mongo (bool), keys (bool: mount the API keys), data (claim name or ""). */}}
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

"""The hub's own Kubernetes objects: its settings, its workers and how they are reached.

A ``ConfigMap`` holds the ``HUB_*`` settings that are not secret; the ``Deployment`` runs
the workers (`hub worker`) with it, the Kafka password from the ``hub-worker`` KafkaUser's
Secret (made by Strimzi's user operator), the cluster CA from Strimzi's
``<cluster>-cluster-ca-cert`` Secret, and the tokens file and the registry credentials
from Secrets the operator makes (`SECRETS`, shapes in `secret_examples`). Each worker
binds and advertises its pod IP (the workers forward requests to each other) and is a
static group member named after its pod. A ``Service`` in front, a
``PodDisruptionBudget`` that lets one worker go at a time.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hub.access import WORKER
from hub.deploy._kafka import bootstrap, ca_secret
from hub.deploy._options import StrimziOptions

SETTINGS = "hub-settings"  # ConfigMap
DEPLOYMENT = "hub-worker"
SERVICE = "wuchang-hub"  # Prometheus' job name (deploy/prometheus/alerts.yml: job="wuchang-hub")
HTTP_PORT = 8080
DATA_DIR = "/var/lib/hub"
TOKENS_DIR = "/etc/hub/tokens"
SESSION_DIR = "/etc/hub/session"
CA_DIR = "/etc/hub/kafka-ca"
# names of Kubernetes Secrets (not secrets): the keys and how to make them are in SECRETS
TOKENS_SECRET = "hub-tokens"  # noqa: S105
REGISTRY_SECRET = "hub-registry"  # noqa: S105
METRICS_SECRET = "hub-metrics-token"  # noqa: S105
SESSION_SECRET = "hub-session-key"  # noqa: S105
SECRETS = {
    TOKENS_SECRET: ("tokens.json", "the bearer-token hashes: HUB_TOKENS_FILE=tokens.json "
                    "hub tokens issue PARTY..."),
    REGISTRY_SECRET: ("credentials", "user:sha256hex entries, comma-separated: "
                      "hub registry credential USER"),
    METRICS_SECRET: ("token", "a bearer token of the ops party for Prometheus: "
                     "hub tokens issue ops"),
    SESSION_SECRET: ("session.key", "the key signing the workbench's session cookies, "
                     "the same for every worker: openssl rand -hex 32"),
}

# A worker stops within hub.worker._app.STOP_GRACE (12 s) once SIGTERM arrives: finish the
# batch in hand, settle, commit, leave the group; then the HTTP server, the connectors and
# the shared view close. preStop first lets the Service drop the pod. Kubernetes kills
# what still runs after the grace period, so it is well above both (a unit test checks).
PRE_STOP_SECONDS = 5
TERMINATION_GRACE_SECONDS = 60


def labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "wuchang-hub", "app.kubernetes.io/component": component,
            "app.kubernetes.io/part-of": "wuchang-hub"}


def worker_selector() -> dict[str, str]:
    return {k: v for k, v in labels("worker").items() if k != "app.kubernetes.io/part-of"}


def settings_env(options: StrimziOptions, app_id: str) -> dict[str, str]:
    """The HUB_* settings of every worker that are neither secret nor the pod's own."""
    return {
        "HUB_ENVIRONMENT": "production",
        "HUB_APP_ID": app_id,
        "HUB_KAFKA_BOOTSTRAP": bootstrap(options),
        "HUB_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "HUB_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "HUB_KAFKA_SASL_USERNAME": WORKER,
        "HUB_KAFKA_SSL_CAFILE": f"{CA_DIR}/ca.crt",
        "HUB_HTTP_PORT": str(HTTP_PORT),
        "HUB_DATA_DIR": DATA_DIR,
        "HUB_TOKENS_FILE": f"{TOKENS_DIR}/tokens.json",
        "HUB_SESSION_KEY_FILE": f"{SESSION_DIR}/session.key",
        "HUB_LOG_FORMAT": "json",
        "HUB_LOG_LEVEL": "INFO",
    }


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _field_env(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def hub_workload(options: StrimziOptions, app_id: str) -> list[dict[str, Any]]:
    """ConfigMap, Deployment, Service and PodDisruptionBudget of the hub's workers."""
    meta = {"namespace": options.namespace, "labels": labels("worker")}
    env = settings_env(options, app_id)
    # pods roll when the settings change (a ConfigMap edit alone restarts nothing)
    digest = hashlib.sha256(json.dumps(env, sort_keys=True).encode()).hexdigest()[:16]
    probe = {"path": "/healthz", "port": "http"}
    container = {
        "name": "worker",
        "image": options.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["hub", "worker"],
        "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": SETTINGS}}],
        "env": [
            _field_env("HUB_HTTP_HOST", "status.podIP"),
            _field_env("HUB_WORKER_ID", "metadata.name"),
            _secret_env("HUB_KAFKA_SASL_PASSWORD", WORKER, "password"),
            _secret_env("HUB_REGISTRY_CREDENTIALS", REGISTRY_SECRET, "credentials"),
        ],
        # a starting worker serves once it has its partitions (or after 45 s) and may
        # restore state first: up to five minutes before liveness counts
        "startupProbe": {"httpGet": probe, "periodSeconds": 5, "failureThreshold": 60},
        "livenessProbe": {"httpGet": probe, "periodSeconds": 10, "timeoutSeconds": 3,
                          "failureThreshold": 3},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 10,
                           "timeoutSeconds": 3, "failureThreshold": 3},
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRE_STOP_SECONDS)]}}},
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                      "limits": {"cpu": "2", "memory": "2Gi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [
            {"name": "data", "mountPath": DATA_DIR},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - the container's own /tmp
            {"name": "tokens", "mountPath": TOKENS_DIR, "readOnly": True},
            {"name": "session-key", "mountPath": SESSION_DIR, "readOnly": True},
            {"name": "kafka-ca", "mountPath": CA_DIR, "readOnly": True},
        ],
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": DEPLOYMENT, **meta},
        "spec": {
            "replicas": options.replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": worker_selector()},
            # one worker at a time: each leaves its group on SIGTERM, its partitions move
            # once, and the next starts only when the new one is ready
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": labels("worker"),
                             "annotations": {"wuchang-hub/settings-digest": digest}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001,
                                        "runAsGroup": 10001, "fsGroup": 10001,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "topologySpreadConstraints": [{
                        "maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": worker_selector()},
                    }],
                    "containers": [container],
                    "volumes": [
                        {"name": "data", "emptyDir": {"sizeLimit": "5Gi"}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                        {"name": "tokens", "secret": {"secretName": TOKENS_SECRET}},
                        {"name": "session-key", "secret": {"secretName": SESSION_SECRET}},
                        {"name": "kafka-ca", "secret": {
                            "secretName": ca_secret(options),
                            "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    ],
                },
            },
        },
    }
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": SETTINGS, **meta},
         "data": env},
        deployment,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": SERVICE, **meta},
            "spec": {"type": "ClusterIP", "selector": worker_selector(),
                     "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": "http",
                                "protocol": "TCP"}]},
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": DEPLOYMENT, **meta},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": worker_selector()}},
        },
    ]


def secret_examples(options: StrimziOptions) -> list[dict[str, Any]]:
    """The Secrets the hub needs that nobody else makes, with placeholders: their shape,
    never their content (docs/production.md makes them with kubectl from files)."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": options.namespace,
                         "labels": labels("worker")},
            "type": "Opaque",
            "stringData": {key: f"REPLACE: {how}"},
        }
        for name, (key, how) in SECRETS.items()
    ]

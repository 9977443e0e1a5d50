"""Deployment for a real cluster, derived from the hub's own data (`hub export strimzi`).

On Kubernetes with Strimzi: the Kafka cluster and its node pool, one KafkaTopic per
declared topic (as `hub topics apply` would make it in production), one KafkaUser per
principal with exactly the ACLs of `hub acls diff`, the hub's workers with their settings,
and the Prometheus operator's ServiceMonitor and rules from deploy/prometheus/alerts.yml,
so the cluster's configuration cannot drift from ``topics/`` and the parties reference.
The plain-servers layout (systemd units, three KRaft nodes' server.properties) lives in
deploy/systemd/; docs/production.md tells how to use both.
"""

from hub.deploy._export import Manifest, strimzi_export, write_export
from hub.deploy._kafka import (
    OPERATIONS,
    PATTERN_TYPES,
    RESOURCE_TYPES,
    kafka_cluster,
    kafka_topics,
    kafka_users,
    production_plan,
    strimzi_acls,
    topic_resource_name,
)
from hub.deploy._monitoring import ALERTS, alert_groups
from hub.deploy._options import StrimziOptions
from hub.deploy._workload import (
    PRE_STOP_SECONDS,
    SECRETS,
    TERMINATION_GRACE_SECONDS,
    settings_env,
)

__all__ = [
    "ALERTS",
    "OPERATIONS",
    "PATTERN_TYPES",
    "PRE_STOP_SECONDS",
    "RESOURCE_TYPES",
    "SECRETS",
    "TERMINATION_GRACE_SECONDS",
    "Manifest",
    "StrimziOptions",
    "alert_groups",
    "kafka_cluster",
    "kafka_topics",
    "kafka_users",
    "production_plan",
    "settings_env",
    "strimzi_acls",
    "strimzi_export",
    "topic_resource_name",
    "write_export",
]

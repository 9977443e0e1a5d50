"""The Kafka side for Strimzi: the cluster, its topics and its users, from the hub's data.

`kafka_cluster` is a ``Kafka`` in KRaft mode with one ``KafkaNodePool`` of combined
controller+broker nodes, a TLS listener with SCRAM-SHA-512 and the simple authorizer;
`kafka_topics` is one ``KafkaTopic`` per declared topic, exactly as `hub topics apply`
would create it on a production cluster (`hub.topics.plan`); `kafka_users` is one
``KafkaUser`` per principal with exactly the ACLs of `hub.access.acl_plan`. Strimzi's
topic and user operators then keep the cluster so, and make each user's password (a
Secret named after the user, key ``password``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from hub.access import Grant
from hub.deploy._options import StrimziOptions
from hub.errors import ConfigError
from hub.topics import ClusterState, TopicSpec, plan

API = "kafka.strimzi.io/v1beta2"
LISTENER_PORT = 9093  # the in-cluster TLS listener the workers use
EXTERNAL_PORT = 9094
POOL = "kraft"

# Kafka's ACL names (hub.access.Grant) -> Strimzi's
RESOURCE_TYPES = {"TOPIC": "topic", "GROUP": "group", "TRANSACTIONAL_ID": "transactionalId",
                  "CLUSTER": "cluster"}
PATTERN_TYPES = {"LITERAL": "literal", "PREFIXED": "prefix"}
OPERATIONS = {"READ": "Read", "WRITE": "Write", "CREATE": "Create", "DELETE": "Delete",
              "ALTER": "Alter", "DESCRIBE": "Describe", "CLUSTER_ACTION": "ClusterAction",
              "ALTER_CONFIGS": "AlterConfigs", "DESCRIBE_CONFIGS": "DescribeConfigs",
              "IDEMPOTENT_WRITE": "IdempotentWrite", "ALL": "All"}

_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def cluster_labels(options: StrimziOptions) -> dict[str, str]:
    return {"strimzi.io/cluster": options.cluster, "app.kubernetes.io/part-of": "wuchang-hub"}


def bootstrap(options: StrimziOptions) -> str:
    """The TLS listener's bootstrap address inside the Kubernetes cluster."""
    return f"{options.cluster}-kafka-bootstrap.{options.namespace}.svc:{LISTENER_PORT}"


def ca_secret(options: StrimziOptions) -> str:
    """The Secret in which Strimzi publishes the cluster CA's certificate (key ca.crt)."""
    return f"{options.cluster}-cluster-ca-cert"


def production_plan(
    specs: list[TopicSpec], brokers: int
) -> dict[str, tuple[int, int, dict[str, str]]]:
    """name -> (partitions, replicas, configs) as `hub topics apply` would create each topic
    on an empty production cluster of that many brokers; `ConfigError` when it would refuse."""
    todo = plan(specs, ClusterState(brokers=brokers, topics={}), "production")
    if todo.refused:
        raise ConfigError(
            f"the topics do not fit {brokers} Kafka node(s) (raise --brokers):\n  "
            + "\n  ".join(todo.refused)
        )
    return {c.topic: (c.partitions, c.replication_factor, c.configs) for c in todo.changes}


def kafka_cluster(options: StrimziOptions, specs: list[TopicSpec]) -> list[dict[str, Any]]:
    """The ``Kafka`` and its ``KafkaNodePool``; cluster defaults follow the declared topics
    (the largest replication factor and min.insync.replicas)."""
    replication = max(spec.replication_factor for spec in specs)
    min_isr = max(spec.min_insync_replicas for spec in specs)
    if replication > options.brokers:
        raise ConfigError(
            f"topics declare replication factor {replication}: --brokers must be at least "
            f"{replication}, not {options.brokers}"
        )
    authentication = {"type": "scram-sha-512"}
    listeners: list[dict[str, Any]] = [
        {"name": "tls", "port": LISTENER_PORT, "type": "internal", "tls": True,
         "authentication": authentication},
    ]
    if options.external != "none":
        listeners.append({"name": "external", "port": EXTERNAL_PORT, "type": options.external,
                          "tls": True, "authentication": authentication})
    kafka: dict[str, Any] = {}
    if options.kafka_version:
        kafka["version"] = options.kafka_version
    kafka |= {
        "listeners": listeners,
        "authorization": {"type": "simple"},
        "config": {
            "auto.create.topics.enable": False,
            "default.replication.factor": replication,
            "min.insync.replicas": min_isr,
            "offsets.topic.replication.factor": replication,
            "transaction.state.log.replication.factor": replication,
            "transaction.state.log.min.isr": min_isr,
        },
    }
    volume: dict[str, Any] = {"id": 0, "type": "persistent-claim",
                              "size": options.broker_storage, "deleteClaim": False,
                              "kraftMetadata": "shared"}
    if options.storage_class:
        volume["class"] = options.storage_class
    return [
        {
            "apiVersion": API,
            "kind": "Kafka",
            "metadata": {
                "name": options.cluster,
                "namespace": options.namespace,
                "labels": {"app.kubernetes.io/part-of": "wuchang-hub"},
                "annotations": {"strimzi.io/kraft": "enabled",
                                "strimzi.io/node-pools": "enabled"},
            },
            "spec": {
                "kafka": kafka,
                "entityOperator": {"topicOperator": {}, "userOperator": {}},
            },
        },
        {
            "apiVersion": API,
            "kind": "KafkaNodePool",
            "metadata": {"name": POOL, "namespace": options.namespace,
                         "labels": cluster_labels(options)},
            "spec": {
                "replicas": options.brokers,
                "roles": ["controller", "broker"],
                "storage": {"type": "jbod", "volumes": [volume]},
                "resources": {"requests": {"cpu": "1", "memory": "4Gi"},
                              "limits": {"memory": "4Gi"}},
                "jvmOptions": {"-Xms": "2g", "-Xmx": "2g"},
            },
        },
    ]


def topic_resource_name(topic: str) -> str:
    """A Kubernetes name for a Kafka topic: dots and underscores are not allowed in one
    (enf.clue.v1 -> enf-clue-v1, _schemas -> schemas); spec.topicName keeps the real name."""
    name = re.sub(r"[^a-z0-9-]+", "-", topic.lower()).strip("-")
    return name[:253].rstrip("-")


def kafka_topics(options: StrimziOptions, specs: list[TopicSpec]) -> list[dict[str, Any]]:
    """One ``KafkaTopic`` per declared topic, as a production `hub topics apply` makes it."""
    planned = production_plan(specs, options.brokers)
    named: dict[str, str] = {}
    topics = []
    for spec in sorted(specs, key=lambda s: s.name):
        resource = topic_resource_name(spec.name)
        if resource in named:
            raise ConfigError(
                f"topics '{named[resource]}' and '{spec.name}' both become the Kubernetes name "
                f"'{resource}'; rename one in {spec.source}"
            )
        named[resource] = spec.name
        partitions, replicas, configs = planned[spec.name]
        topics.append({
            "apiVersion": API,
            "kind": "KafkaTopic",
            "metadata": {"name": resource, "namespace": options.namespace,
                         "labels": cluster_labels(options)},
            "spec": {
                "topicName": spec.name,
                "partitions": partitions,
                "replicas": replicas,
                "config": dict(sorted(configs.items())),
            },
        })
    return topics


def strimzi_acls(grants: Iterable[Grant]) -> list[dict[str, Any]]:
    """Strimzi's ACL rules for one principal's grants: one rule per resource pattern, with
    its operations."""
    by_resource: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for grant in grants:
        by_resource[(grant.resource, grant.pattern, grant.name)].add(grant.operation)
    rules = []
    for (kind, pattern, name), operations in sorted(by_resource.items()):
        resource: dict[str, str] = {"type": RESOURCE_TYPES[kind]}
        if kind != "CLUSTER":  # the cluster resource has no name in Strimzi
            resource |= {"name": name, "patternType": PATTERN_TYPES[pattern]}
        rules.append({
            "resource": resource,
            "operations": [OPERATIONS[op] for op in sorted(operations)],
            "host": "*",
        })
    return rules


def kafka_users(
    options: StrimziOptions, principals: list[str], grants: list[Grant]
) -> list[dict[str, Any]]:
    """One ``KafkaUser`` per principal (a party with an inbox, hub-worker, hub-ops, each
    connector of HUB_CONNECTORS_FILE run alone): SCRAM-SHA-512, and exactly its grants of
    the ACL plan."""
    held: dict[str, list[Grant]] = defaultdict(list)
    for grant in grants:
        held[grant.principal.removeprefix("User:")].append(grant)
    strangers = sorted(set(held) - set(principals))
    if strangers:
        raise ConfigError(f"the ACL plan names principals that are not the hub's: {strangers}")
    users = []
    for user in principals:
        if not _K8S_NAME.fullmatch(user) or len(user) > 253:
            raise ConfigError(
                f"principal '{user}' is not a Kubernetes name (lower-case letters, digits, "
                "'-' and '.'); change the party id in the parties reference"
            )
        users.append({
            "apiVersion": API,
            "kind": "KafkaUser",
            "metadata": {"name": user, "namespace": options.namespace,
                         "labels": cluster_labels(options)},
            "spec": {
                "authentication": {"type": "scram-sha-512"},
                "authorization": {"type": "simple", "acls": strimzi_acls(held[user])},
            },
        })
    return users

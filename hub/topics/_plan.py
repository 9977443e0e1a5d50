"""Compare declared topics with the cluster and make them agree (`hub topics diff|apply`).

`read_cluster` reads what exists; `plan` is a pure function from declared and actual
state to the changes; `apply_plan` carries a plan out with kafka-python's admin client.
A plan that would need an impossible change (fewer partitions) is refused whole, before
anything is touched; a topic declared ``keep_more_partitions`` (per-party topics, whose
count nothing depends on) keeps the partitions it has, with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from kafka.errors import KafkaError

from hub.errors import KafkaUnavailableError, TopicPlanError
from hub.settings import HubSettings
from hub.topics._spec import TopicSpec

log = logging.getLogger(__name__)

Action = Literal["create", "add-partitions", "set-config"]


@dataclass(frozen=True)
class ActualTopic:
    """A topic as the cluster reports it (only the configs the hub manages)."""

    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str]


@dataclass(frozen=True)
class ClusterState:
    """What the plan needs to know about the cluster."""

    brokers: int
    topics: dict[str, ActualTopic]


@dataclass(frozen=True)
class Change:
    """One change apply will make."""

    topic: str
    action: Action
    detail: str
    partitions: int = 0
    replication_factor: int = 0
    configs: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        sign = {"create": "+", "add-partitions": "~", "set-config": "~"}[self.action]
        return f"{sign} {self.topic}: {self.detail}"


@dataclass
class Plan:
    """Changes to make, changes refused, and warnings to show."""

    changes: list[Change] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        """True when the cluster already matches the declarations."""
        return not self.changes and not self.refused


def plan(
    specs: Iterable[TopicSpec],
    state: ClusterState,
    environment: Literal["local", "production"],
) -> Plan:
    """Work out how to make the cluster match the declarations; touches nothing."""
    result = Plan()
    capped: list[str] = []
    kept: list[str] = []  # more partitions than declared, kept
    for spec in specs:
        rf = spec.replication_factor
        configs = dict(spec.configs)
        if rf > state.brokers:
            if environment == "production":
                result.refused.append(
                    f"{spec.name}: replication factor {rf} needs at least {rf} brokers, the "
                    f"cluster has {state.brokers}; add brokers or lower replication_factor "
                    f"in {spec.source}"
                )
                continue
            capped.append(spec.name)
            rf = state.brokers
            configs["min.insync.replicas"] = str(min(spec.min_insync_replicas, rf))
        actual = state.topics.get(spec.name)
        if actual is None:
            result.changes.append(
                Change(
                    spec.name,
                    "create",
                    f"create with {spec.partitions} partitions, replication factor {rf}, "
                    + ", ".join(f"{k}={v}" for k, v in sorted(configs.items())),
                    partitions=spec.partitions,
                    replication_factor=rf,
                    configs=configs,
                )
            )
            continue
        if spec.partitions < actual.partitions and spec.keep_more_partitions:
            kept.append(f"{spec.name} ({actual.partitions})")
        elif spec.partitions < actual.partitions:
            result.refused.append(
                f"{spec.name}: has {actual.partitions} partitions, {spec.source} declares "
                f"{spec.partitions}; Kafka cannot remove partitions (and keys would move). "
                f"Keep {actual.partitions} in the declaration, or declare a new topic "
                f"version and migrate to it"
            )
        elif spec.partitions > actual.partitions:
            result.changes.append(
                Change(
                    spec.name,
                    "add-partitions",
                    f"partitions {actual.partitions} -> {spec.partitions} "
                    "(keys hash to new partitions from now on)",
                    partitions=spec.partitions,
                )
            )
        if actual.replication_factor != rf:
            result.warnings.append(
                f"{spec.name}: replication factor is {actual.replication_factor}, declared "
                f"{rf}; apply does not reassign replicas (use kafka-reassign-partitions)"
            )
        differing = {k: v for k, v in configs.items() if actual.configs.get(k) != v}
        if differing:
            result.changes.append(
                Change(
                    spec.name,
                    "set-config",
                    ", ".join(
                        f"{k} {actual.configs.get(k, '(unset)')} -> {v}"
                        for k, v in sorted(differing.items())
                    ),
                    configs=differing,
                )
            )
    if kept:
        result.warnings.append(
            f"{len(kept)} topic(s) have more partitions than declared and keep them (Kafka "
            f"cannot remove partitions; nothing depends on their count; 这些主题的分区多于声明，"
            f"Kafka 无法减少分区，保留现有分区): "
            + ", ".join(kept[:5]) + (f" and {len(kept) - 5} more" if len(kept) > 5 else "")
        )
    if capped:
        result.warnings.append(
            f"the cluster has {state.brokers} broker(s): replication factor capped to "
            f"{state.brokers} for {len(capped)} topic(s) (HUB_ENVIRONMENT=local)"
        )
    return result


@contextmanager
def admin_client(settings: HubSettings) -> Iterator[KafkaAdminClient]:
    """A kafka-python admin client for the configured cluster, closed on exit."""
    try:
        client = KafkaAdminClient(
            client_id=f"{settings.app_id}-admin",
            request_timeout_ms=30_000,
            bootstrap_timeout_ms=10_000,
            **settings.kafka_client_config(),
        )
    except KafkaError:
        raise KafkaUnavailableError(
            f"no Kafka broker answers at {settings.kafka_bootstrap}; start one "
            "(deploy/kafka/kafka.sh start) or set HUB_KAFKA_BOOTSTRAP"
        ) from None
    try:
        yield client
    finally:
        client.close()


def read_cluster(admin: KafkaAdminClient, names: Iterable[str]) -> ClusterState:
    """Read broker count, and partitions, replication and configs of the named topics."""
    wanted = set(names)
    try:
        brokers = len(admin.describe_cluster()["brokers"])
        described = admin.describe_topics() if wanted else []
        topics: dict[str, dict[str, Any]] = {
            t["name"]: t for t in described if t["name"] in wanted and t["error_code"] == 0
        }
        configs: dict[str, dict[str, Any]] = {}
        if topics:
            resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in topics]
            answer = admin.describe_configs(resources, config_filter="all")
            configs = answer.get("topic", {})
    except KafkaError as exc:
        raise KafkaUnavailableError(f"reading the cluster failed: {exc}") from None
    actual = {}
    for name, topic in topics.items():
        partitions = topic["partitions"]
        actual[name] = ActualTopic(
            name=name,
            partitions=len(partitions),
            replication_factor=len(partitions[0]["replica_nodes"]) if partitions else 0,
            configs={k: str(v["value"]) for k, v in configs.get(name, {}).items()},
        )
    return ClusterState(brokers=brokers, topics=actual)


def apply_plan(admin: KafkaAdminClient, todo: Plan) -> None:
    """Carry out the plan; refuse it whole when any change was refused."""
    if todo.refused:
        raise TopicPlanError(
            "refusing to apply topics; nothing was changed:\n  " + "\n  ".join(todo.refused)
        )
    creates = {
        c.topic: {
            "num_partitions": c.partitions,
            "replication_factor": c.replication_factor,
            "configs": c.configs,
        }
        for c in todo.changes
        if c.action == "create"
    }
    grow = {c.topic: c.partitions for c in todo.changes if c.action == "add-partitions"}
    alter = [
        ConfigResource(ConfigResourceType.TOPIC, c.topic, configs=dict(c.configs))
        for c in todo.changes
        if c.action == "set-config"
    ]
    try:
        if creates:
            admin.create_topics(creates, timeout_ms=30_000, wait_for_metadata=True)
        if grow:
            admin.create_partitions(grow, timeout_ms=30_000)
        if alter:
            result = admin.alter_configs(alter, incremental=True)
            failures = [
                f"{name}: {outcome}"
                for name, outcome in result.get("topic", {}).items()
                if str(outcome) != "OK"
            ]
            if failures:
                raise TopicPlanError(
                    "the broker refused config changes:\n  " + "\n  ".join(failures)
                )
    except (KafkaError, ValueError) as exc:
        # kafka-python raises ValueError for config keys a topic does not accept.
        raise TopicPlanError(f"applying topics failed: {exc}") from None

"""Consumer lag and the DLQ's depth, read from the cluster (the ops view of Kafka)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from hub.settings import HubSettings
from hub.wire._clients import aiokafka_options, cluster_metadata, track
from hub.wire._topics import DLQ_TOPIC


@dataclass
class KafkaView:
    """Consumer lag per group and partition, and the DLQ's size, read at `taken_at`."""

    lag: dict[tuple[str, str, int], int] = field(default_factory=dict)  # (group, topic, p)
    dlq_depth: int = 0
    ends: dict[tuple[str, int], int] = field(default_factory=dict)
    taken_at: float = 0.0
    error: str | None = None

    def group_lag(self, group: str) -> int:
        return sum(lag for (g, _, _), lag in self.lag.items() if g == group)

    def topic_lag(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for (_, topic, _), lag in self.lag.items():
            totals[topic] = totals.get(topic, 0) + lag
        return totals


async def read_kafka_view(
    settings: HubSettings,
    groups: Iterable[str],
    extra_topics: Iterable[str] = (),
    subscribed: Mapping[str, Iterable[str]] | None = None,
) -> KafkaView:
    """Committed offsets of groups against the log ends, and the DLQ's depth (and the
    log ends of extra_topics). subscribed names the topics a group reads: their
    partitions the group never committed count too (from where the group would start:
    the log start, or nothing under HUB_KAFKA_OFFSET_RESET=latest). Raises `KafkaError`
    when Kafka is away."""
    options = aiokafka_options(settings)
    admin = AIOKafkaAdminClient(**options)
    consumer = AIOKafkaConsumer(enable_auto_commit=False, group_id=None, **options)
    await admin.start()
    try:
        await consumer.start()
        try:
            committed: dict[str, dict[TopicPartition, int]] = {}
            for group in groups:
                offsets = await admin.list_consumer_group_offsets(group)
                committed[group] = {tp: meta.offset for tp, meta in offsets.items()}
            cluster = await cluster_metadata(consumer)

            def partitions(topic: str) -> list[TopicPartition]:
                return [TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic) or []]

            dlq = partitions(DLQ_TOPIC)
            # a group reads every partition of a topic it committed in, and every topic
            # it subscribes to: the partitions it never committed lag from their start
            reads = {group: {tp.topic for tp in offsets} for group, offsets in committed.items()}
            for group, topics in (subscribed or {}).items():
                reads.setdefault(group, set()).update(topics)
            for group, topics in reads.items():
                offsets = committed.setdefault(group, {})
                for topic in sorted(topics):
                    for tp in partitions(topic):
                        offsets.setdefault(tp, -1)
            wanted = {tp for offsets in committed.values() for tp in offsets} | set(dlq)
            for topic in extra_topics:
                wanted.update(partitions(topic))
            await track(consumer, {tp.topic for tp in wanted})
            ends = await consumer.end_offsets(list(wanted)) if wanted else {}
            starts = await consumer.beginning_offsets(list(wanted)) if wanted else {}
        finally:
            await consumer.stop()
    finally:
        await admin.close()
    view = KafkaView(taken_at=time.time())
    for group, offsets in committed.items():
        for tp, offset in offsets.items():
            if offset < 0 and settings.kafka_offset_reset == "latest":
                offset = ends[tp]
            done = offset if offset >= 0 else starts[tp]
            view.lag[(group, tp.topic, tp.partition)] = max(0, ends[tp] - max(done, starts[tp]))
    view.dlq_depth = sum(ends[tp] - starts[tp] for tp in dlq)
    view.ends = {(tp.topic, tp.partition): offset for tp, offset in ends.items()}
    return view



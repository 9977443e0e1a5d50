"""Consumer lag and the DLQ's depth, read from the cluster (the ops view of Kafka)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from hub.settings import HubSettings
from hub.wire._clients import aiokafka_options, track
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


class KafkaReader:
    """Reads `KafkaView`s with one admin client and one consumer kept open between
    readings (the worker's `hub_consumer_lag` every 15 s), learning metadata for the topics
    it reads only: a reading made its clients anew each time, and each start and the
    reading itself loaded every topic of the cluster, so a worker at rest cost more the
    more topics the cluster held (bench L1 "idle" on a broker holding the earlier rounds'
    topics: 4.6 % of a core instead of ~1 %)."""

    def __init__(self, settings: HubSettings) -> None:
        self.settings = settings
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def _open(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            options = aiokafka_options(self.settings)
            admin = AIOKafkaAdminClient(**options)
            consumer = AIOKafkaConsumer(enable_auto_commit=False, group_id=None, **options)
            try:
                await admin.start()
                await consumer.start()
            except BaseException:
                await consumer.stop()
                await admin.close()
                raise
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def close(self) -> None:
        """Close the clients (the next reading opens them again)."""
        admin, consumer = self._admin, self._consumer
        self._admin = self._consumer = None
        if consumer is not None:
            await consumer.stop()
        if admin is not None:
            await admin.close()

    async def read(
        self,
        groups: Iterable[str],
        extra_topics: Iterable[str] = (),
        subscribed: Mapping[str, Iterable[str]] | None = None,
    ) -> KafkaView:
        """Committed offsets of groups against the log ends, and the DLQ's depth (and the
        log ends of extra_topics). subscribed names the topics a group reads: their
        partitions the group never committed count too (from where the group would start:
        the log start, or nothing under HUB_KAFKA_OFFSET_RESET=latest). Raises
        `KafkaError` when Kafka is away (the clients are closed then)."""
        try:
            return await self._read(groups, extra_topics, subscribed)
        except BaseException:
            await self.close()
            raise

    async def _read(
        self,
        groups: Iterable[str],
        extra_topics: Iterable[str],
        subscribed: Mapping[str, Iterable[str]] | None,
    ) -> KafkaView:
        admin, consumer = await self._open()
        committed: dict[str, dict[TopicPartition, int]] = {}
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group)
            committed[group] = {tp: meta.offset for tp, meta in offsets.items()}
        # a group reads every partition of a topic it committed in, and every topic it
        # subscribes to: the partitions it never committed lag from their start
        reads = {group: {tp.topic for tp in offsets} for group, offsets in committed.items()}
        for group, topics in (subscribed or {}).items():
            reads.setdefault(group, set()).update(topics)
        extra = set(extra_topics)
        await track(consumer, set().union(*reads.values(), extra, {DLQ_TOPIC}))
        cluster = consumer._client.cluster  # noqa: SLF001 - what `track` just learnt

        def partitions(topic: str) -> list[TopicPartition]:
            return [TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic) or []]

        dlq = partitions(DLQ_TOPIC)
        for group, topics in reads.items():
            offsets = committed.setdefault(group, {})
            for topic in sorted(topics):
                for tp in partitions(topic):
                    offsets.setdefault(tp, -1)
        wanted = {tp for offsets in committed.values() for tp in offsets} | set(dlq)
        for topic in extra:
            wanted.update(partitions(topic))
        ends = await consumer.end_offsets(list(wanted)) if wanted else {}
        starts = await consumer.beginning_offsets(list(wanted)) if wanted else {}
        view = KafkaView(taken_at=time.time())
        for group, offsets in committed.items():
            for tp, offset in offsets.items():
                if offset < 0 and self.settings.kafka_offset_reset == "latest":
                    offset = ends[tp]
                done = offset if offset >= 0 else starts[tp]
                view.lag[(group, tp.topic, tp.partition)] = max(
                    0, ends[tp] - max(done, starts[tp])
                )
        view.dlq_depth = sum(ends[tp] - starts[tp] for tp in dlq)
        view.ends = {(tp.topic, tp.partition): offset for tp, offset in ends.items()}
        return view


async def read_kafka_view(
    settings: HubSettings,
    groups: Iterable[str],
    extra_topics: Iterable[str] = (),
    subscribed: Mapping[str, Iterable[str]] | None = None,
) -> KafkaView:
    """One reading (`KafkaReader.read`) with clients of its own, closed after it."""
    reader = KafkaReader(settings)
    try:
        return await reader.read(groups, extra_topics, subscribed)
    finally:
        await reader.close()

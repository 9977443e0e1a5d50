"""The hub's operational metrics (DESIGN §10), and the Kafka-side numbers behind them.

Flow metrics are process-wide (`FLOW`): each stage counts what it does, where it does
it. Label values are bounded: ``party`` is a registered party id, ``kind`` a record or
native kind of the catalogue, ``stage`` one of the pipeline's stages, ``reason`` a rule
code or an error class. The worker's ``/metrics`` adds, per scrape, the order gauges
(`hub.dispatch._metrics`) and the Kafka gauges of `KafkaWatch`.

Every metric is listed, with its meaning, in README "Metrics".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from hub.kafka import DLQ_TOPIC, aiokafka_options
from hub.settings import HubSettings

log = logging.getLogger(__name__)

_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series: they double every counter for no use
FLOW = CollectorRegistry(auto_describe=True)

RECORDS_IN = Counter(
    "hub_records_in",
    "Records taken in from a party (gateway publish, native record normalised)",
    ["party", "kind"],
    registry=FLOW,
)
RECORDS_OUT = Counter(
    "hub_records_out",
    "Records routed to a party's inbox topic",
    ["party", "kind"],
    registry=FLOW,
)
REJECTED = Counter(
    "hub_records_rejected",
    "Records refused: at the gateway (answered 4xx) or parked in the DLQ by a stage",
    ["stage", "reason"],
    registry=FLOW,
)
DLQ_RECORDS = Counter(
    "hub_dlq_records",
    "Records this process wrote to hub.dlq.v1",
    ["stage"],
    registry=FLOW,
)
PROCESSING = Histogram(
    "hub_processing_seconds",
    "Time to handle one record in a stream agent (normalise, dispatch)",
    ["stage"],
    buckets=_SECONDS,
    registry=FLOW,
)
STAGE_RETRIES = Counter(
    "hub_stage_retries",
    "Batches a pipeline stage had to retry (Kafka or the registry not answering in time)",
    ["stage"],
    registry=FLOW,
)
STAGE_STUCK = Gauge(
    "hub_stage_retrying",
    "1 while a pipeline stage is retrying a record it could not finish, else 0",
    ["stage"],
    registry=FLOW,
)
OFFSET_GAPS = Counter(
    "hub_offset_gaps",
    "Times a partition's next record was not the next offset (records never processed)",
    ["topic"],
    registry=FLOW,
)
PARTITIONS_STALLED = Gauge(
    "hub_partitions_stalled",
    "Partitions of a topic this worker holds that have records but have not moved for 60 s",
    ["topic"],
    registry=FLOW,
)
PUBLISH = Histogram(
    "hub_publish_seconds",
    "Gateway publish requests, from the request to the broker's acknowledgement",
    ["party"],
    buckets=_SECONDS,
    registry=FLOW,
)
DELIVERY = Histogram(
    "hub_delivery_seconds",
    "Outbound deliveries to a party's system (webhook), per successful attempt",
    ["party"],
    buckets=_SECONDS,
    registry=FLOW,
)
DELIVERY_FAILURES = Counter(
    "hub_delivery_failures",
    "Failed delivery attempts to a party's system (retried, or refused and parked)",
    ["party"],
    registry=FLOW,
)
OVERDUE = Counter(
    "hub_orders_overdue",
    "OVERDUE notices the deadline sweep issued, per recipient party",
    ["party"],
    registry=FLOW,
)
LOOP_LAG = Histogram(
    "hub_event_loop_lag_seconds",
    "How late the worker's event loop woke a timer (LAG_PROBE_SECONDS apart): the time "
    "every agent and HTTP request stood still, e.g. for the garbage collector",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=FLOW,
)
LAG_PROBE_SECONDS = 0.1


async def probe_loop_lag(interval: float = LAG_PROBE_SECONDS) -> None:
    """Observe, forever, how much later than asked the event loop wakes a sleep of
    interval (into ``hub_event_loop_lag_seconds``)."""
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time()
        await asyncio.sleep(interval)
        LOOP_LAG.observe(max(0.0, loop.time() - asked - interval))


def dead_lettered(stage: str, reason: str) -> None:
    """Count one record parked in the DLQ by stage, for reason."""
    DLQ_RECORDS.labels(stage).inc()
    REJECTED.labels(stage, reason).inc()


class FlowCollector(Collector):
    """Hands `FLOW`'s metrics to a worker's own registry (which also holds per-app
    collectors, so each app can be built more than once in a process)."""

    def collect(self) -> Iterator[object]:  # type: ignore[override]
        yield from FLOW.collect()


# ------------------------------------------------------------------ Kafka side


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
            # a consumer without subscriptions keeps no topic metadata: fetch it all
            cluster = await consumer._client.fetch_all_metadata()

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


class KafkaWatch(Collector):
    """Reads `read_kafka_view` every `interval` seconds in the worker; serves the last
    reading as gauges. A failed reading keeps the last good one and is reported by
    ``hub_kafka_view_age_seconds`` growing (and by /readyz)."""

    def __init__(
        self,
        settings: HubSettings,
        groups: list[str],
        subscribed: Mapping[str, Iterable[str]] | None = None,
        interval: float = 15.0,
    ):
        self.settings = settings
        self.groups = groups
        self.subscribed = subscribed
        self.interval = interval
        self.view = KafkaView()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="kafka-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def refresh(self) -> KafkaView:
        try:
            async with asyncio.timeout(max(self.interval, 10.0)):
                self.view = await read_kafka_view(
                    self.settings, self.groups, subscribed=self.subscribed
                )
        except (KafkaError, TimeoutError, OSError) as exc:
            self.view.error = f"{type(exc).__name__}: {exc}"
            log.warning("reading consumer lag failed: %s", self.view.error)
        return self.view

    async def _loop(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.interval)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        view = self.view
        lag = GaugeMetricFamily(
            "hub_consumer_lag",
            "Records not yet processed (log end minus committed offset), per consumer group",
            labels=["group", "topic", "partition"],
        )
        for (group, topic, partition), value in sorted(view.lag.items()):
            lag.add_metric([group, topic, str(partition)], value)
        yield lag
        yield GaugeMetricFamily(
            "hub_dlq_depth", "Records held in hub.dlq.v1 (all partitions)", value=view.dlq_depth
        )
        age = time.time() - view.taken_at if view.taken_at else float("inf")
        yield GaugeMetricFamily(
            "hub_kafka_view_age_seconds", "Age of the last lag and DLQ reading", value=age
        )

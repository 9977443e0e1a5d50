"""The hub's operational metrics (docs/design.md §10).

Flow metrics are process-wide (`FLOW`): each stage counts what it does, where it does
it. Label values are bounded: ``party`` is a registered party id, ``kind`` a record or
native kind of the catalogue, ``stage`` one of the pipeline's stages, ``reason`` a rule
code or an error class. The worker's ``/metrics`` adds, per scrape, the order gauges
(`hub.dispatch._metrics`) and the Kafka gauges of `hub.worker.KafkaWatch`.

Every metric is listed, with its meaning, in README "Metrics".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.registry import Collector

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
DEADLINE_SWEEP = Histogram(
    "hub_deadline_sweep_seconds",
    "Event-loop time of one deadline sweep finding the orders due and writing their notices "
    "(before they are sent)",
    buckets=_SECONDS,
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

"""What the worker's operations resources (`hub.http.ops`) read: the Kafka lag and DLQ
reading, the connectors' health, and the readiness checks over the pipeline."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Iterator, Mapping

from aiokafka.errors import KafkaError
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from connectors import ConnectorService
from hub.http.ops import Check
from hub.settings import HubSettings
from hub.stream import Pipeline
from hub.wire import KafkaReader, KafkaView

log = logging.getLogger(__name__)



class KafkaWatch(Collector):
    """Reads a `KafkaView` every `interval` seconds in the worker; serves the last
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
        self.reader = KafkaReader(settings)  # its clients kept open between readings
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="kafka-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.reader.close()

    async def refresh(self) -> KafkaView:
        try:
            async with asyncio.timeout(max(self.interval, 10.0)):
                self.view = await self.reader.read(self.groups, subscribed=self.subscribed)
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


class ConnectorCollector(Collector):
    """Delivery health of the connectors this worker runs."""

    def __init__(self, service: ConnectorService) -> None:
        self.service = service

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "hub_connector_up",
            "1 while a connector runs normally; 0 when failing, paused or stopped",
            labels=["connector", "party"],
        )
        failures = GaugeMetricFamily(
            "hub_connector_consecutive_failures",
            "Failed attempts since the connector's last success",
            labels=["connector", "party"],
        )
        backlog = GaugeMetricFamily(
            "hub_connector_backlog",
            "Records waiting in the party's outbound topic for a sink connector",
            labels=["connector", "party"],
        )
        for name, runner in sorted(self.service.runners.items()):
            labels = [name, runner.config.party]
            status = runner.status
            up.add_metric(labels, 1.0 if status.get("state") == "running" else 0.0)
            failures.add_metric(labels, float(status.get("consecutive_failures", 0)))
            backlog.add_metric(labels, float(status.get("backlog", 0)))
        yield up
        yield failures
        yield backlog


def readiness_checks(
    pipeline: Pipeline, watch: KafkaWatch, registry_check: Check
) -> dict[str, Check]:
    """What /readyz asks, in order: Kafka, partitions, tables, stages, registry."""

    async def kafka() -> str | None:
        view = watch.view
        if not view.taken_at:
            return "Kafka not read yet (first reading pending)"
        if time.time() - view.taken_at > 3 * watch.interval:
            return f"Kafka unreadable for {time.time() - view.taken_at:.0f} s: {view.error}"
        return None

    async def partitions() -> str | None:
        if pipeline.rebalancing:
            return "the consumer group is rebalancing (or not joined yet)"
        if not pipeline.ready:
            return "no partitions assigned to this worker (more workers than partitions?)"
        return None

    async def tables() -> str | None:
        if pipeline.restoring:
            names = ", ".join(sorted(pipeline.restoring))
            return f"tables are being restored from their changelogs: {names}"
        return None

    async def stages() -> str | None:
        stuck = pipeline.stuck()
        return "; ".join(f"{name} {why}" for name, why in sorted(stuck.items())) or None

    return {
        "kafka": kafka,
        "partitions": partitions,
        "tables": tables,
        "stages": stages,
        "registry": registry_check,
    }

"""Reading a topic in a consumer group, committing by hand: what a sink connector does
with its party's inbox (`connectors._runner`). `GroupReader` is the interface,
`KafkaGroupReader` the aiokafka consumer behind it, and `hub.wire.MemoryBroker` gives
in-memory readers over its logs, committed offsets kept per group, for broker-free
tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from hub.errors import HubError
from hub.settings import HubSettings
from hub.wire._clients import aiokafka_options
from hub.wire._headers import KafkaHeaders


@dataclass(frozen=True)
class Message:
    """One record read, as aiokafka's ``ConsumerRecord`` shows it to the hub."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: KafkaHeaders
    timestamp: int | None = None


class GroupReader(Protocol):
    """A topic read in a consumer group from its committed offsets (the earliest for a
    new group); nothing is committed unless `commit` says so."""

    async def start(self) -> None:
        """Join the group; a `HubError` saying why when Kafka cannot be reached."""

    async def take(self, max_records: int, wait_seconds: float) -> dict[int, list[Any]]:
        """The next records per partition, at most max_records, waiting at most wait_seconds."""

    async def commit(self, partition: int, next_offset: int) -> None:
        """Everything of partition before next_offset is done."""

    async def backlog(self) -> int:
        """Records not read yet in the partitions this reader holds."""

    async def stop(self) -> None: ...


GroupReaders = Callable[[str, str], GroupReader]  # topic, group -> a reader


class KafkaGroupReader:
    """`GroupReader` over an aiokafka consumer (auto-commit off)."""

    def __init__(self, settings: HubSettings, topic: str, group: str) -> None:
        self.topic = topic
        self.consumer = AIOKafkaConsumer(
            topic,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **aiokafka_options(settings),
        )

    async def start(self) -> None:
        try:
            await self.consumer.start()
        except KafkaError as exc:
            raise HubError(f"cannot read {self.topic}: {exc}") from None

    async def take(self, max_records: int, wait_seconds: float) -> dict[int, list[Any]]:
        batches = await self.consumer.getmany(
            timeout_ms=int(wait_seconds * 1000), max_records=max_records
        )
        return {tp.partition: list(messages) for tp, messages in batches.items()}

    async def commit(self, partition: int, next_offset: int) -> None:
        await self.consumer.commit({TopicPartition(self.topic, partition): next_offset})

    async def backlog(self) -> int:
        assigned = list(self.consumer.assignment())
        if not assigned:
            return 0
        ends = await self.consumer.end_offsets(assigned)
        total = 0
        for tp in assigned:
            total += max(0, ends[tp] - await self.consumer.position(tp))
        return total

    async def stop(self) -> None:
        await self.consumer.stop()


def kafka_group_readers(settings: HubSettings) -> GroupReaders:
    """Readers on the cluster of settings."""
    return lambda topic, group: KafkaGroupReader(settings, topic, group)

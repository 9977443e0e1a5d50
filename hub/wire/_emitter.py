"""Where the hub's code writes records: the `Emitter` interface, and its in-memory fake.

Stages, HTTP resources and connectors write through an `Emitter`; they never hold a
Kafka producer. The pipeline's emitter (`hub.stream.KafkaEmitter`) ties each send to
the record being processed; `ProducerEmitter` waits for each acknowledgement;
`MemoryEmitter` keeps every record in a list and acknowledges at once, and
`MemoryBroker` keeps partitioned logs that the HTTP side publishes to and reads inboxes
from, so that those callers are unit-tested without a broker (as httpx's
``MockTransport`` stands in for the network).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer

from hub.errors import KafkaUnavailableError
from hub.wire._group import GroupReader, Message
from hub.wire._headers import KafkaHeaders
from hub.wire._http import InboxItem, Written
from hub.wire._topics import partition_for

Sent = tuple[str, bytes | None, bytes | None, KafkaHeaders, int | None]


class Emitter(Protocol):
    """Sends one record; returns once it is acknowledged or tracked for acknowledgement."""

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: KafkaHeaders,
        partition: int | None = None,
    ) -> None: ...


class ProducerEmitter:
    """An emitter over an aiokafka producer that waits for each acknowledgement (tools,
    connectors: where no record's batch tracks the sends)."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: KafkaHeaders,
        partition: int | None = None,
    ) -> None:
        await self.producer.send_and_wait(
            topic, value=value, key=key, headers=headers, partition=partition
        )


class MemoryEmitter:
    """An in-memory emitter: every record in `records`, in order, acknowledged at once."""

    def __init__(self) -> None:
        self.records: list[Sent] = []

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: KafkaHeaders,
        partition: int | None = None,
    ) -> None:
        self.records.append((topic, key, value, list(headers), partition))

    def to(self, topic: str) -> list[tuple[bytes | None, bytes | None, KafkaHeaders]]:
        """What was sent to topic: key, value and headers, in order."""
        return [(k, v, h) for t, k, v, h, _ in self.records if t == topic]


class MemoryBroker(MemoryEmitter):
    """An in-memory stand-in for the broker, for broker-free tests of what writes and
    reads topics: an `Emitter`, the HTTP side's `Publisher` (acknowledged writes with
    their offsets) and its `InboxReader` (pages from a cursor). Records are placed by
    key as Kafka's partitioner places them; ``unavailable`` makes every write fail as
    when Kafka is away. `group_reader` reads a topic in a consumer group, as a sink
    connector does, with the group's committed offsets kept here."""

    def __init__(self, partitions: int = 3) -> None:
        super().__init__()
        self.partitions = partitions
        self.logs: dict[tuple[str, int], list[Sent]] = {}
        self.committed: dict[tuple[str, str, int], int] = {}  # group, topic, partition
        self.unavailable = False

    def group_reader(self, topic: str, group: str) -> GroupReader:
        return _MemoryGroupReader(self, topic, group)

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: KafkaHeaders,
        partition: int | None = None,
    ) -> None:
        self._append(topic, key, value, headers, partition)

    def _append(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: KafkaHeaders,
        partition: int | None,
    ) -> Written:
        if self.unavailable:
            raise KafkaUnavailableError("Kafka unreachable (in-memory broker set unavailable)")
        if partition is None:
            partition = partition_for(key, self.partitions) if key is not None else 0
        log = self.logs.setdefault((topic, partition), [])
        log.append((topic, key, value, list(headers), partition))
        self.records.append((topic, key, value, list(headers), partition))
        return Written(topic, partition, len(log) - 1)

    async def send_many(
        self, messages: Sequence[tuple[str, bytes, bytes, KafkaHeaders]]
    ) -> list[Written | KafkaUnavailableError]:
        results: list[Written | KafkaUnavailableError] = []
        for topic, key, value, headers in messages:
            try:
                results.append(self._append(topic, key, value, headers, None))
            except KafkaUnavailableError as exc:
                results.append(exc)
        return results

    async def read(
        self, topic: str, positions: dict[int, int], limit: int
    ) -> tuple[list[InboxItem], dict[int, int]]:
        if self.unavailable:
            raise KafkaUnavailableError(f"reading {topic} failed: Kafka unreachable")
        cursor = {p: positions.get(p, 0) for p in range(self.partitions)}
        items: list[InboxItem] = []
        for partition in range(self.partitions):
            log = self.logs.get((topic, partition), [])
            while cursor[partition] < len(log) and len(items) < limit:
                _, key, value, headers, _ = log[cursor[partition]]
                if value is not None:
                    items.append(
                        InboxItem(partition, cursor[partition], key, value, dict(headers))
                    )
                cursor[partition] += 1
        return items, cursor

    async def stop(self) -> None:
        return None


class _MemoryGroupReader:
    """A `GroupReader` over a `MemoryBroker`'s log of one topic: the group's reader holds
    every partition and starts from its committed offsets."""

    def __init__(self, broker: MemoryBroker, topic: str, group: str) -> None:
        self.broker = broker
        self.topic = topic
        self.group = group
        self.position: dict[int, int] = {}

    async def start(self) -> None:
        self.position = {
            p: self.broker.committed.get((self.group, self.topic, p), 0)
            for p in range(self.broker.partitions)
        }

    async def take(self, max_records: int, wait_seconds: float) -> dict[int, list[Any]]:
        if self.broker.unavailable:
            raise KafkaUnavailableError(f"reading {self.topic} failed: Kafka unreachable")
        taken: dict[int, list[Any]] = {}
        room = max_records
        for partition in range(self.broker.partitions):
            log = self.broker.logs.get((self.topic, partition), [])
            start = self.position[partition]
            end = min(len(log), start + room)
            if end > start:
                taken[partition] = [
                    Message(self.topic, partition, offset, key, value, headers)
                    for offset, (_, key, value, headers, _) in enumerate(log[start:end], start)
                ]
                self.position[partition] = end
                room -= end - start
        if not taken:
            await asyncio.sleep(min(wait_seconds, 0.01))  # as a consumer waits for records
        return taken

    async def commit(self, partition: int, next_offset: int) -> None:
        self.broker.committed[(self.group, self.topic, partition)] = next_offset

    async def backlog(self) -> int:
        return sum(
            len(self.broker.logs.get((self.topic, p), [])) - self.position.get(p, 0)
            for p in range(self.broker.partitions)
        )

    async def stop(self) -> None:
        return None

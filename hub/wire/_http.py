"""The HTTP side's Kafka clients: a durable publisher and the inbox reader."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from hub.errors import KafkaUnavailableError
from hub.settings import HubSettings
from hub.wire._clients import aiokafka_options, new_producer, partitions_of, warm
from hub.wire._headers import KafkaHeaders

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Written:
    """Where the broker stored a record (acknowledged by all in-sync replicas)."""

    topic: str
    partition: int
    offset: int


class Publishes(Protocol):
    """What the HTTP side writes through: `Publisher`, or `MemoryBroker` in tests."""

    async def send_many(
        self, messages: Sequence[tuple[str, bytes, bytes, KafkaHeaders]]
    ) -> list[Written | KafkaUnavailableError]: ...

    async def stop(self) -> None: ...


class ReadsInbox(Protocol):
    """What the inbox resource reads through: `InboxReader`, or `MemoryBroker` in tests."""

    async def read(
        self, topic: str, positions: dict[int, int], limit: int
    ) -> tuple[list[InboxItem], dict[int, int]]: ...

    async def stop(self) -> None: ...


class Publisher:
    """acks=all, idempotent producer; started with the worker (`start`), on first use
    when Kafka was away then, and again after a failure. topics: where it will write,
    learnt as it starts rather than on each topic's first record."""

    def __init__(
        self, settings: HubSettings, timeout: float, topics: Sequence[str] = ()
    ) -> None:
        self._settings = settings
        self._timeout = timeout
        self._topics = list(topics)
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Start now, so the first request does not wait for it; a Kafka away now is
        logged, and the first request tries again."""
        try:
            await self._ensure()
        except KafkaUnavailableError as exc:
            log.warning("the gateway's producer did not start (%s); first use retries",
                        exc.message)

    async def _ensure(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                producer = new_producer(
                    self._settings,
                    linger_ms=2,
                    request_timeout_ms=int(self._timeout * 1000),
                    client_id="hub-gateway",
                )
                try:
                    await asyncio.wait_for(producer.start(), self._timeout)
                    if self._topics:
                        await asyncio.wait_for(warm(producer, self._topics), self._timeout)
                except (KafkaError, TimeoutError, OSError) as exc:
                    await producer.stop()
                    raise KafkaUnavailableError(f"Kafka unreachable: {exc!r}") from None
                self._producer = producer
        return self._producer

    async def send_many(
        self, messages: Sequence[tuple[str, bytes, bytes, KafkaHeaders]]
    ) -> list[Written | KafkaUnavailableError]:
        """Send (topic, key, value, headers) messages; wait for each acknowledgement."""
        producer = await self._ensure()
        futures = []
        for topic, key, value, headers in messages:
            try:
                futures.append(await producer.send(topic, key=key, value=value, headers=headers))
            except KafkaError as exc:
                futures.append(exc)
        results: list[Written | KafkaUnavailableError] = []
        for future in futures:
            if isinstance(future, BaseException):
                results.append(KafkaUnavailableError(f"Kafka refused the record: {future!r}"))
                continue
            try:
                metadata = await asyncio.wait_for(asyncio.shield(future), self._timeout)
                results.append(Written(metadata.topic, metadata.partition, metadata.offset))
            except (KafkaError, TimeoutError) as exc:
                # Handed to the producer: aiokafka may still deliver it after we give up.
                error = KafkaUnavailableError(f"Kafka did not acknowledge in time: {exc!r}")
                error.maybe_written = True
                results.append(error)
        return results

    async def send(self, topic: str, key: bytes, value: bytes, headers: KafkaHeaders) -> Written:
        (result,) = await self.send_many([(topic, key, value, headers)])
        if isinstance(result, KafkaUnavailableError):
            raise result
        return result

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


CURSOR_PATTERN = "^([0-9]{1,5}:[0-9]{1,18}(,[0-9]{1,5}:[0-9]{1,18})*)?$"
"""A cursor: ``partition:next offset`` pairs joined by commas (``0:12,3:55``); empty is
the start. Any string of this shape is a cursor (partitions the topic lacks are ignored,
a later pair for the same partition wins), so the OpenAPI document can say exactly which
cursors the inbox takes."""

_CURSOR = re.compile(CURSOR_PATTERN)


def encode_cursor(positions: dict[int, int]) -> str:
    """The cursor of positions: the next offset to read in each partition."""
    return ",".join(f"{p}:{o}" for p, o in sorted(positions.items()))


def decode_cursor(cursor: str) -> dict[int, int]:
    """Positions of a cursor; `ValueError` naming the expected shape otherwise."""
    if not _CURSOR.fullmatch(cursor):
        raise ValueError(
            "not a cursor this hub issued: expected partition:offset pairs joined by commas "
            "(e.g. 0:12,3:55), as returned in the last page's cursor"
        )
    pairs = (pair.split(":") for pair in cursor.split(",") if pair)
    return {int(p): int(o) for p, o in pairs}


@dataclass(frozen=True)
class InboxItem:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


class InboxReader:
    """Reads a party's ``out.<party>.v1`` from a cursor; one shared consumer, no group."""

    def __init__(self, settings: HubSettings, timeout: float) -> None:
        self._settings = settings
        self._timeout = timeout
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()
        self._partitions: dict[str, list[int]] = {}

    async def _ensure(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                group_id=None,
                enable_auto_commit=False,
                client_id="hub-inbox",
                request_timeout_ms=int(self._timeout * 1000) + 1000,
                **aiokafka_options(self._settings),
            )
            try:
                await asyncio.wait_for(consumer.start(), self._timeout)
            except (KafkaError, TimeoutError, OSError) as exc:
                await consumer.stop()
                raise KafkaUnavailableError(f"Kafka unreachable: {exc!r}") from None
            self._consumer = consumer
        return self._consumer

    async def _partitions_of(self, consumer: AIOKafkaConsumer, topic: str) -> list[int]:
        if topic not in self._partitions:
            found = await partitions_of(consumer, topic)
            if not found:
                raise KafkaUnavailableError(f"topic {topic} does not exist")
            self._partitions[topic] = found
        return self._partitions[topic]

    async def read(
        self, topic: str, positions: dict[int, int], limit: int
    ) -> tuple[list[InboxItem], dict[int, int]]:
        """Up to limit records from positions (missing partitions: from the start)."""
        async with self._lock:
            try:
                return await asyncio.wait_for(self._read(topic, positions, limit), self._timeout)
            except (KafkaError, TimeoutError) as exc:
                raise KafkaUnavailableError(f"reading {topic} failed: {exc!r}") from None

    async def _read(
        self, topic: str, positions: dict[int, int], limit: int
    ) -> tuple[list[InboxItem], dict[int, int]]:
        consumer = await self._ensure()
        partitions = [TopicPartition(topic, p) for p in await self._partitions_of(consumer, topic)]
        if consumer.assignment() != set(partitions):
            consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        cursor = {
            tp.partition: max(positions.get(tp.partition, 0), starts[tp]) for tp in partitions
        }
        items: list[InboxItem] = []
        pending = [tp for tp in partitions if cursor[tp.partition] < ends[tp]]
        for tp in pending:
            consumer.seek(tp, cursor[tp.partition])
        deadline = asyncio.get_running_loop().time() + self._timeout / 2
        # Read until every partition reached its end offset (or the page is full); an empty
        # fetch only means the broker has not answered yet, not that nothing is left.
        while pending and len(items) < limit and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(*pending, timeout_ms=200, max_records=limit - len(items))
            for tp, records in batch.items():
                for record in records:
                    if len(items) >= limit:
                        break
                    if record.value is None:  # tombstone: nothing to deliver
                        cursor[tp.partition] = record.offset + 1
                        continue
                    items.append(
                        InboxItem(
                            tp.partition,
                            record.offset,
                            record.key,
                            record.value,
                            {k: v for k, v in record.headers},
                        )
                    )
                    cursor[tp.partition] = record.offset + 1
            pending = [tp for tp in pending if cursor[tp.partition] < ends[tp]]
        return items, cursor

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

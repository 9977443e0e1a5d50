"""Bulk writes: many records to one topic through aiokafka's batch API.

`AIOKafkaProducer.send` builds a future and a metadata object per record, which caps a
Python producer at some 25,000 records a second; a bulk load of a register writes a
million. `BulkWriter` fills one `BatchBuilder` per partition (the partition Kafka's
default partitioner gives the key, as `send` would) and hands each full batch to
`send_batch`: one future per batch. Records of one partition keep their order (batches
of a partition are sent in order by an idempotent producer).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaProducer

from hub.wire._topics import partition_for


class BulkWriter:
    """Writes keyed records to topic in batches; `flush` waits for every acknowledgement
    (and raises the first failure)."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self._partitions = 0
        self._open: dict[int, Any] = {}  # partition → the batch being filled
        self._sent: list[asyncio.Future[Any]] = []

    async def add(self, key: bytes, value: bytes | None) -> None:
        if not self._partitions:
            self._partitions = len(await self.producer.partitions_for(self.topic))
        partition = partition_for(key, self._partitions)
        batch = self._open.get(partition)
        if batch is None:
            batch = self._open[partition] = self.producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None) is None:  # full: send it
            await self._send(partition)
            batch = self._open[partition] = self.producer.create_batch()
            batch.append(key=key, value=value, timestamp=None)

    async def _send(self, partition: int) -> None:
        batch = self._open.pop(partition)
        if batch.record_count():
            self._sent.append(await self.producer.send_batch(batch, self.topic,
                                                             partition=partition))

    async def flush(self) -> None:
        for partition in list(self._open):
            await self._send(partition)
        sent, self._sent = self._sent, []
        await asyncio.gather(*sent)

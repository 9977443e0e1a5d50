"""Where the hub's code writes records: the `Emitter` interface, and its in-memory fake.

Stages, HTTP resources and connectors write through an `Emitter`; they never hold a
Kafka producer. The pipeline's emitter (`hub.stream.KafkaEmitter`) ties each send to
the record being processed; `ProducerEmitter` waits for each acknowledgement;
`MemoryEmitter` keeps every record in a list and acknowledges at once, so that those
callers are unit-tested without a broker (as httpx's ``MockTransport`` stands in for
the network).
"""

from __future__ import annotations

from typing import Protocol

from aiokafka import AIOKafkaProducer

from hub.wire._headers import KafkaHeaders, header_of

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

    def topics(self) -> list[str]:
        """The topics written, each once, in the order first written."""
        return list(dict.fromkeys(t for t, *_ in self.records))

    def header(self, topic: str, name: str) -> list[bytes | None]:
        """The value of header name of each record sent to topic."""
        return [header_of(_Headers(h), name) for _, _, h in self.to(topic)]


class _Headers:
    def __init__(self, headers: KafkaHeaders) -> None:
        self.headers = headers

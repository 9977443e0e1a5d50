"""Connector state in Kafka: positions, the file ledger, status and pause controls.

``hub.connector-state.v1`` is compacted and has one partition; a key is
``<connector>/<entry>`` and its value a JSON object (a null value deletes it):

- ``<name>/cursor``: an HTTP poll source's cursor, written after the records it covers
  are durable in the raw topic, so a restart resumes exactly there;
- ``<name>/file/<sha256>``: a file-drop ledger entry, so a file dropped twice (same
  content) is imported once;
- ``<name>/status``: what the running connector last reported;
- ``<name>/control``: ``{"paused": true}`` from ``hub connectors pause``.

The store reads the topic from the start once, then keeps it up to date by tailing.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from hub.errors import KafkaUnavailableError
from hub.settings import HubSettings
from hub.wire._clients import aiokafka_options, new_producer
from hub.wire._topics import CONNECTOR_STATE_TOPIC


class _Entries:
    """State entries by ``connector/entry``, as last written."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}

    def get(self, connector: str, entry: str) -> dict[str, Any] | None:
        return self.entries.get(f"{connector}/{entry}")

    def entries_of(self, connector: str, prefix: str = "") -> dict[str, dict[str, Any]]:
        start = f"{connector}/{prefix}"
        return {k[len(connector) + 1 :]: v for k, v in self.entries.items() if k.startswith(start)}


class StateStore(_Entries):
    """Read and write connector state entries (JSON) in the compacted state topic."""

    def __init__(self, settings: HubSettings) -> None:
        super().__init__()
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._tp = TopicPartition(CONNECTOR_STATE_TOPIC, 0)

    async def start(self) -> None:
        options = aiokafka_options(self.settings)
        try:
            self._producer = new_producer(self.settings, client_id="hub-connector-state")
            await self._producer.start()
            self._consumer = AIOKafkaConsumer(group_id=None, enable_auto_commit=False, **options)
            await self._consumer.start()
            self._consumer.assign([self._tp])
            await self._consumer.seek_to_beginning(self._tp)
        except KafkaError as exc:
            await self.stop()
            raise KafkaUnavailableError(f"connector state topic unreadable: {exc}") from None
        await self.refresh()

    async def stop(self) -> None:
        for client in (self._producer, self._consumer):
            if client is not None:
                await client.stop()
        self._producer = self._consumer = None

    async def refresh(self) -> None:
        """Read every state record written so far."""
        assert self._consumer is not None, "start() first"  # noqa: S101
        end = (await self._consumer.end_offsets([self._tp]))[self._tp]
        while await self._consumer.position(self._tp) < end:
            batches = await self._consumer.getmany(self._tp, timeout_ms=500)
            for record in batches.get(self._tp, []):
                key = (record.key or b"").decode()
                if record.value is None:
                    self.entries.pop(key, None)
                else:
                    self.entries[key] = json.loads(record.value)

    async def put(self, connector: str, entry: str, value: dict[str, Any] | None) -> None:
        """Write an entry and wait until the broker has it (acks=all)."""
        assert self._producer is not None, "start() first"  # noqa: S101
        key = f"{connector}/{entry}"
        body = json.dumps(value, ensure_ascii=False).encode() if value is not None else None
        try:
            await self._producer.send_and_wait(CONNECTOR_STATE_TOPIC, key=key.encode(), value=body)
        except KafkaError as exc:
            raise KafkaUnavailableError(f"could not store {key}: {exc}") from None
        if value is None:
            self.entries.pop(key, None)
        else:
            self.entries[key] = value

    async def paused(self, connector: str) -> bool:
        """Whether ``hub connectors pause`` holds the connector (re-reads the topic)."""
        await self.refresh()
        control = self.get(connector, "control") or {}
        return bool(control.get("paused"))


class ConnectorState(Protocol):
    """What connectors keep their positions, status and controls in: `StateStore` on
    Kafka, or `MemoryState` in broker-free tests."""

    def get(self, connector: str, entry: str) -> dict[str, Any] | None: ...

    def entries_of(self, connector: str, prefix: str = "") -> dict[str, dict[str, Any]]: ...

    async def put(self, connector: str, entry: str, value: dict[str, Any] | None) -> None: ...

    async def paused(self, connector: str) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class MemoryState(_Entries):
    """Connector state in a dict: what `StateStore` keeps, without Kafka."""

    async def put(self, connector: str, entry: str, value: dict[str, Any] | None) -> None:
        key = f"{connector}/{entry}"
        if value is None:
            self.entries.pop(key, None)
        else:
            self.entries[key] = json.loads(json.dumps(value))  # as stored: JSON

    async def paused(self, connector: str) -> bool:
        return bool((self.get(connector, "control") or {}).get("paused"))

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


async def read_state(settings: HubSettings) -> StateStore:
    """A started store with everything read (for the CLI); stop it when done."""
    store = StateStore(settings)
    await store.start()
    return store


__all__ = ["CONNECTOR_STATE_TOPIC", "ConnectorState", "MemoryState", "StateStore", "read_state"]

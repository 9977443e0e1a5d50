"""Runs configured connectors: each on its own task, with status, pause and backoff.

- A **source** runner gives the source an ``emit`` that writes the native record to
  ``raw.<party>.v1`` with acks=all and returns once the broker has it.
- A **sink** runner reads ``out.<party>.v1`` in the consumer group
  ``<app id>-connector-<name>``, renders each canonical record in the party's native
  format (its outbound mapping spec; the canonical JSON when it has none), hands the
  batch to the sink, calls ``flush`` and only then commits the offsets. A record the
  hub cannot render, or the party refuses (4xx), goes to the DLQ; the rest go on.

Every connector writes its status (state, last success, consecutive failures, circuit
state, backlog) to the state topic every few seconds, and obeys ``hub connectors
pause|resume`` (a control entry it re-reads between batches).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from types import SimpleNamespace
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from connectors._base import DeliveryRefused, OutRecord, RawRecord, Sink, Source
from connectors._config import ConnectorConfig
from connectors._registry import Runtime, transport_of
from hub.errors import HubError, KafkaUnavailableError, RecordError
from hub.mapping import MappingError, SpecCatalogue
from hub.reference import Registry
from hub.serde import AvroSerde
from hub.settings import HubSettings
from hub.wire import (
    ConnectorState,
    Emitter,
    GroupReaders,
    HubHeaders,
    ProducerEmitter,
    StateStore,
    dead_letter,
    inbox_topic,
    kafka_group_readers,
    new_producer,
    raw_topic,
)

log = logging.getLogger(__name__)

STATUS_SECONDS = 5.0
PAUSE_CHECK_SECONDS = 2.0


class ConnectorRunner:
    """One connector instance: its task, its status, its pause switch."""

    def __init__(
        self,
        config: ConnectorConfig,
        settings: HubSettings,
        state: ConnectorState,
        out: Emitter,
        serde: AvroSerde,
        catalogue: SpecCatalogue,
        parties: Registry,
        sink: Sink | None = None,
        source: Source | None = None,
        readers: GroupReaders | None = None,
    ) -> None:
        """sink/source: injected transports (tests); built from config otherwise.
        readers: how a sink reads its party's inbox (Kafka's consumer group by default;
        `hub.wire.MemoryBroker.group_reader` in broker-free tests)."""
        self.config = config
        self.settings = settings
        self.state = state
        self.out = out  # raw records and DLQ entries
        self.serde = serde
        self.catalogue = catalogue
        self.party = parties.get(config.party)
        self.sink = sink
        self.source = source
        self.transport = transport_of(config)
        self.readers = readers or kafka_group_readers(settings)
        self.runtime = Runtime(state)
        self.status: dict[str, Any] = {"state": "starting", "consecutive_failures": 0}
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_status = 0.0

    @property
    def name(self) -> str:
        return self.config.name

    # --------------------------------------------------------------- control

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"connector-{self.name}")

    async def stop(self) -> None:
        self._stopping.set()
        if self.source is not None:
            await self.source.stop()
        if self.sink is not None:
            self.sink.stop()  # a delivery waiting for a party that is down gives up now
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=15)
            except TimeoutError:
                self._task.cancel()
        await self._report("stopped", force=True)

    async def _report(self, state: str, force: bool = False, **extra: Any) -> None:
        if self.sink is not None:
            self.status.update(self.sink.status())
            if self.status.get("consecutive_failures") and state == "running":
                state = "failing"
        if self.source is not None:
            self.status.update(self.source.status())
        changed = self.status.get("state") != state
        self.status.update(state=state, at=time.time(), type=self.config.type, **extra)
        if force or changed or time.monotonic() - self._last_status >= STATUS_SECONDS:
            self._last_status = time.monotonic()
            try:
                await self.state.put(self.name, "status", dict(self.status))
            except HubError as exc:
                log.warning("connector %s: status not stored: %s", self.name, exc.message)

    async def _wait_while_paused(self) -> None:
        while await self.state.paused(self.name) and not self._stopping.is_set():
            await self._report("paused")
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=PAUSE_CHECK_SECONDS)
            except TimeoutError:
                pass

    async def _run(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            try:
                await self._wait_while_paused()
                if self._stopping.is_set():
                    break
                role = self.transport.role
                if role == "sink":
                    await self._run_sink()
                elif role == "source":
                    await self._run_source()
                else:  # the party's own clients speak Kafka: nothing runs here
                    await self._report("direct", force=True)
                    await self._stopping.wait()
                delay = 1.0
            except HubError as exc:
                if self._stopping.is_set():
                    return  # a delivery given up for shutdown: the record stays in the inbox
                self.status["consecutive_failures"] = self.status["consecutive_failures"] + 1
                self.status["last_error"] = exc.message
                await self._report("failing" if exc.retriable else "stopped-on-error", force=True)
                if not exc.retriable:
                    log.error("connector %s stopped: %s", self.name, exc.message)
                    return
                log.warning("connector %s: %s; retrying in %.0f s", self.name, exc.message, delay)
            except Exception as exc:  # noqa: BLE001 - one connector must not take others down
                log.exception("connector %s failed", self.name)
                self.status["last_error"] = f"{type(exc).__name__}: {exc}"
                await self._report("failing", force=True)
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, 60.0)

    # ---------------------------------------------------------------- source

    async def _emit(self, record: RawRecord) -> None:
        try:
            await self.out.send(
                raw_topic(record.party), record.key, record.payload,
                record.kafka_headers(self.name),
            )
        except (KafkaError, KafkaUnavailableError) as exc:
            # retriable: the runner backs off and runs the source again from its last
            # stored position, so the record is read and written again
            raise KafkaUnavailableError(
                f"could not write to {raw_topic(record.party)}: {exc}"
            ) from None
        self.status["emitted"] = self.status.get("emitted", 0) + 1
        self.status["last_success"] = time.time()
        self.status["consecutive_failures"] = 0
        await self._report("running")

    async def _run_source(self) -> None:
        native_kind = getattr(self.config, "native_kind", None)
        spec = self.catalogue.inbound(self.party, native_kind) if native_kind else None
        if self.source is None:
            built = self.transport.build(self.config, self.runtime)
            assert isinstance(built, Source)  # noqa: S101 - a source transport builds one
            self.source = built
        # one native record, one raw partition: its versions stay in order
        self.source.key_field = spec.source_id if spec is not None else None
        await self._report("running", force=True)
        source = self.source
        watcher = asyncio.create_task(self._stop_source_when_paused(source))
        try:
            await source.run(self._emit)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    async def _stop_source_when_paused(self, source: Source) -> None:
        """Beside a running source: obey pause, and keep the stored status fresh."""
        while not self._stopping.is_set():
            await asyncio.sleep(PAUSE_CHECK_SECONDS)
            if await self.state.paused(self.name):
                await source.stop()  # run returns; _run then waits while paused
                return
            await self._report(str(self.status.get("state", "running")))  # stored when due

    # ------------------------------------------------------------------ sink

    async def _run_sink(self) -> None:
        config = self.config
        batch_size = int(getattr(config, "batch_size", 100))
        if self.sink is None:
            built = self.transport.build(config, self.runtime)
            assert isinstance(built, Sink)  # noqa: S101 - a sink transport builds one
            self.sink = built
        self.sink.on_failure = lambda: self._report("failing")
        await self.sink.setup()
        reader = self.readers(
            inbox_topic(config.party), f"{self.settings.app_id}-connector-{config.name}"
        )
        await reader.start()
        try:
            await self._report("running", force=True)
            checked = time.monotonic()
            while not self._stopping.is_set():
                if time.monotonic() - checked >= PAUSE_CHECK_SECONDS:
                    checked = time.monotonic()
                    if await self.state.paused(self.name):
                        return  # _run waits while paused, then starts again from the commit
                batches = await reader.take(batch_size, 1.0)
                for partition, messages in batches.items():
                    records = [r for r in [await self._render(m) for m in messages] if r]
                    await self._write(records)
                    await self.sink.flush()
                    await reader.commit(partition, messages[-1].offset + 1)
                    self.status["last_success"] = time.time()
                    self.status["consecutive_failures"] = 0
                extra: dict[str, Any] = {}
                if time.monotonic() - self._last_status >= STATUS_SECONDS:
                    extra["backlog"] = await reader.backlog()
                await self._report("running", **extra)  # stored when changed or due
        finally:
            await reader.stop()
            await self.sink.close()

    async def _write(self, records: list[OutRecord]) -> None:
        assert self.sink is not None  # noqa: S101
        remaining = records
        while remaining:
            try:
                await self.sink.write_batch(remaining)
                return
            except DeliveryRefused as exc:
                refused = exc.record
                await self._dead_letter_out(refused, "deliver", f"HTTP{exc.status}", exc.message)
                index = remaining.index(refused)
                remaining = remaining[index + 1 :]

    async def _render(self, message: Any) -> OutRecord | None:
        """The native form of an inbox record; None (after a DLQ entry) when impossible."""
        hub_headers = HubHeaders.from_kafka(message.headers)
        kind = hub_headers.kind or ""
        try:
            record = await self.serde.decode(kind, message.value)
            canonical = record.model_dump(mode="json")
            spec = self.catalogue.outbound(self.party, kind, canonical)
            if spec is None:
                body = json.dumps(canonical, ensure_ascii=False).encode()
                content_type = "application/json"
            else:
                native = spec.apply(canonical)
                body = json.dumps(native, ensure_ascii=False).encode(spec.encoding)
                content_type = f"application/json; charset={spec.encoding}"
        except (MappingError, RecordError, KeyError, UnicodeEncodeError) as exc:
            detail = getattr(exc, "message", str(exc))
            await self._dead_letter_in(message, type(exc).__name__, detail)
            return None
        return OutRecord(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            kind=kind,
            record_id=str(getattr(record, "record_id", "")),
            body=body,
            content_type=content_type,
            trace_id=hub_headers.trace_id or "",
            source_value=message.value or b"",
            source_headers=tuple((k, bytes(v)) for k, v in message.headers or []),
        )

    async def _dead_letter_in(self, message: Any, reason: str, detail: str) -> None:
        await dead_letter(
            self.out, message, "render", reason, detail,
            connector=self.name.encode(), limit=self.settings.kafka_record_limit,
        )

    async def _dead_letter_out(
        self, record: OutRecord, stage: str, reason: str, detail: str
    ) -> None:
        """Park the inbox record itself (canonical bytes and headers): replayed to its
        inbox, it is rendered and delivered again once the party takes it."""
        source = SimpleNamespace(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.source_value,
            headers=list(record.source_headers),
        )
        await dead_letter(
            self.out, source, stage, reason, detail,
            connector=self.name.encode(), limit=self.settings.kafka_record_limit,
        )


class ConnectorService:
    """Starts every configured connector on its own task; stops them all."""

    def __init__(
        self,
        configs: list[ConnectorConfig],
        settings: HubSettings,
        serde: AvroSerde,
        catalogue: SpecCatalogue,
        parties: Registry,
    ) -> None:
        self.configs = configs
        self.settings = settings
        self.serde = serde
        self.catalogue = catalogue
        self.parties = parties
        self.state = StateStore(settings)
        self.producer: AIOKafkaProducer | None = None
        self.runners: dict[str, ConnectorRunner] = {}

    async def start(self) -> None:
        if not self.configs:
            return
        await self.state.start()
        self.producer = new_producer(self.settings, client_id="hub-connectors")
        await self.producer.start()
        for config in self.configs:
            runner = ConnectorRunner(
                config,
                self.settings,
                self.state,
                ProducerEmitter(self.producer),
                self.serde,
                self.catalogue,
                self.parties,
            )
            self.runners[config.name] = runner
            runner.start()
        log.info("connectors running: %s", ", ".join(self.runners))

    async def stop(self) -> None:
        await asyncio.gather(*(runner.stop() for runner in self.runners.values()))
        if self.producer is not None:
            await self.producer.stop()
        await self.state.stop()


__all__ = ["ConnectorRunner", "ConnectorService"]

"""The embedded schema registry: `SchemaStore` kept in the compacted ``_schemas`` topic.

Every worker runs one. Writes go to the topic (acks=all, idempotent producer) and count
only once read back, so all workers agree on ids across restarts.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError

from hub.errors import KafkaUnavailableError, SchemaIncompatible, SchemaRegistryError
from hub.registry._compat import LEVELS, incompatibilities, parse
from hub.registry._store import Registered, SchemaStore
from hub.settings import HubSettings
from hub.wire import SCHEMAS_TOPIC, aiokafka_options, new_producer

log = logging.getLogger(__name__)

_RACE_RETRIES = 8
PROBE_SECONDS = 10.0  # how often readiness learns whether _schemas takes writes
CATCH_UP_TIMEOUT = 30.0  # seconds; a registry that cannot read its topic answers 503, never hangs


class EmbeddedRegistry:
    """Registry state backed by a Kafka topic. `start` before use, `stop` after."""

    def __init__(self, settings: HubSettings, topic: str = SCHEMAS_TOPIC) -> None:
        self._settings = settings
        self._partition = TopicPartition(topic, 0)
        self.store = SchemaStore()
        self._lock = asyncio.Lock()
        self._start_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()
        self._started = False
        self._stopped = False  # stopped by its owner: a late caller must not restart it
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self.write_error: str | None = None  # the last write failed: why (readiness)
        self.write_refused = False  # the last write was refused: this principal may only read
        self._probe: asyncio.Task[None] | None = None

    async def ensure_started(self) -> None:
        """Start once, whoever asks first (the HTTP server or an agent decoding a record).

        Once its owner stopped it (the worker shutting down), a record still being
        decoded gets a retriable 503 and stays uncommitted, instead of starting clients
        nobody will stop or being parked as if it were bad."""
        if self._started:
            return
        async with self._start_lock:
            if self._stopped:
                raise SchemaRegistryError("registry stopped", status=503, error_code=50003)
            if not self._started:
                await self._start()

    async def start(self) -> None:
        """Connect and read the whole topic; `KafkaUnavailableError` when Kafka is down."""
        async with self._start_lock:
            self._stopped = False
            await self._start()

    async def _start(self) -> None:
        options = aiokafka_options(self._settings)
        self._producer = new_producer(self._settings, client_id="hub-registry")
        self._consumer = AIOKafkaConsumer(
            enable_auto_commit=False, group_id=None, client_id="hub-registry", **options
        )
        try:
            await self._producer.start()
            await self._consumer.start()
        except KafkaError as exc:
            await self._close()
            raise KafkaUnavailableError(f"schema registry cannot reach Kafka: {exc}") from None
        self._consumer.assign([self._partition])
        await self._consumer.seek_to_beginning(self._partition)
        await self.catch_up()
        self._started = True
        self._probe = asyncio.create_task(self._probe_writes(), name="registry-probe")
        log.info(
            "embedded schema registry ready: %d subjects, %d schemas",
            len(self.store.subjects),
            len(self.store.by_id),
        )

    async def _probe_writes(self) -> None:
        """Every PROBE_SECONDS, write the global compatibility level as it is (a no-op
        for the registry's state), so that readiness knows whether ``_schemas`` takes
        writes before a registration needs one. A principal that may only read the
        schemas (a connector, the operators' tools: docs/design.md §9) is told once and
        the probing stops."""
        while True:
            await asyncio.sleep(PROBE_SECONDS)
            try:
                await self._append(*SchemaStore.config_record(None, self.store.level(None)))
            except SchemaRegistryError as exc:
                if self.write_refused:
                    log.info("schema registry: read-only for this Kafka principal (no WRITE "
                             "on %s); reading schemas only", self._partition.topic)
                    return
                log.warning("schema registry: %s", exc.message)

    async def stop(self) -> None:
        """Close the clients; waits for a start in progress, so none is left open."""
        async with self._start_lock:
            self._stopped = True
            await self._close()

    async def _close(self) -> None:
        self._started = False
        if self._probe is not None:
            self._probe.cancel()
            await asyncio.gather(self._probe, return_exceptions=True)
            self._probe = None
        for client in (self._consumer, self._producer):
            if client is not None:
                await client.stop()
        self._consumer = self._producer = None

    async def catch_up(self) -> None:
        """Apply every record up to the current end of the topic.

        One reader at a time (the HTTP server, agents encoding and decoding all call
        this), and never longer than CATCH_UP_TIMEOUT: a caller that waits on the
        registry, possibly holding the registration lock, gets a retriable 503 instead
        of blocking its agent for good.
        """
        consumer = self._consumer
        if consumer is None:
            raise SchemaRegistryError("registry not started", status=503, error_code=50003)
        try:
            async with asyncio.timeout(CATCH_UP_TIMEOUT), self._read_lock:
                end = (await consumer.end_offsets([self._partition]))[self._partition]
                while await consumer.position(self._partition) < end:
                    batch = await consumer.getmany(self._partition, timeout_ms=1000)
                    for record in batch.get(self._partition, []):
                        self.store.apply(record.key, record.value)
        except KafkaError as exc:
            raise SchemaRegistryError(
                f"cannot read {self._partition.topic}: {exc!r}", status=503, error_code=50003
            ) from None
        except TimeoutError:
            raise SchemaRegistryError(
                f"{self._partition.topic} could not be read to its end within "
                f"{CATCH_UP_TIMEOUT:g} s",
                status=503,
                error_code=50003,
            ) from None

    async def _append(self, key: bytes, value: bytes) -> None:
        """Write one registry record, waiting at most HUB_KAFKA_TIMEOUT for the broker:
        the registration lock is never held longer than that (an idempotent batch is
        never expired by aiokafka, so an unbounded wait hung every registration for as
        long as ``_schemas`` could not take writes)."""
        if self._producer is None and self._started:
            await self._new_producer()
        if self._producer is None:
            raise SchemaRegistryError("registry not started", status=503, error_code=50003)
        try:
            async with asyncio.timeout(self._settings.kafka_timeout):
                await self._producer.send_and_wait(
                    self._partition.topic, key=key, value=value, partition=0
                )
        except (KafkaError, TimeoutError) as exc:
            if isinstance(exc, KafkaError):
                # An idempotent producer whose batch failed cannot go on (its sequence
                # numbers are out of step: OutOfOrderSequenceNumber for ever after), so
                # the next write gets a new one. A batch that only timed out is still
                # retried by the producer, which stays usable.
                await self._new_producer()
            self.write_refused = isinstance(exc, TopicAuthorizationFailedError)
            self.write_error = (
                f"{self._partition.topic} cannot take writes: {exc!r} "
                f"(since {time.strftime('%H:%M:%S')})"
            )
            raise SchemaRegistryError(
                f"could not store the schema within {self._settings.kafka_timeout:g} s: "
                f"{exc!r}",
                status=503,
                error_code=50003,
            ) from None
        self.write_error = None
        await self.catch_up()

    async def _new_producer(self) -> None:
        old, self._producer = self._producer, None
        if old is not None:
            try:
                async with asyncio.timeout(self._settings.kafka_timeout):
                    await old.stop()
            except (KafkaError, TimeoutError):
                log.debug("closing the registry's failed producer failed", exc_info=True)
        producer = new_producer(self._settings, client_id="hub-registry")
        try:
            async with asyncio.timeout(self._settings.kafka_timeout):
                await producer.start()
        except (KafkaError, TimeoutError):
            await producer.stop()
            return  # the next write says "registry not started" (503) and tries again
        if not self._started:  # stopped meanwhile
            await producer.stop()
            return
        self._producer = producer

    async def schema_by_id(self, schema_id: int) -> str | None:
        if schema_id not in self.store.by_id:
            await self.catch_up()
        return self.store.by_id.get(schema_id)

    async def register(self, subject: str, schema: str) -> Registered:
        """Register schema under subject (idempotent); refuse incompatible ones (409)."""
        try:
            parse(schema)
        except ValueError as exc:
            raise SchemaRegistryError(str(exc), status=422, error_code=42201) from None
        async with self._lock:
            for _ in range(_RACE_RETRIES):
                await self.catch_up()
                existing = self.store.find(subject, schema)
                if existing is not None:
                    return existing
                previous = [v.schema for v in self.store.subjects.get(subject, [])]
                reasons = incompatibilities(self.store.level(subject), schema, previous)
                if reasons:
                    raise SchemaIncompatible(
                        f"Schema being registered is incompatible with an earlier schema for "
                        f'subject "{subject}", details: {reasons}',
                        reasons,
                    )
                latest = self.store.latest(subject)
                entry = Registered(
                    subject=subject,
                    version=(latest.version + 1) if latest else 1,
                    id=self.store.id_for(schema) or self.store.next_id(),
                    schema=schema,
                )
                await self._append(*SchemaStore.schema_record(entry))
                stored = self.store.find(subject, schema)
                if stored is not None:
                    return stored
                log.info("lost a registration race on %s; retrying", subject)
        raise SchemaRegistryError(
            f"could not register under {subject}: the log kept changing", status=500
        )

    async def check(self, subject: str, schema: str) -> list[str]:
        """Reasons schema would be refused under subject's level; [] when compatible."""
        try:
            parse(schema)
        except ValueError as exc:
            raise SchemaRegistryError(str(exc), status=422, error_code=42201) from None
        await self.catch_up()
        previous = [v.schema for v in self.store.subjects.get(subject, [])]
        return incompatibilities(self.store.level(subject), schema, previous)

    async def set_level(self, subject: str | None, level: str) -> str:
        if level not in LEVELS:
            raise SchemaRegistryError(
                f"Invalid compatibility level {level}; one of {', '.join(LEVELS)}",
                status=422,
                error_code=42203,
            )
        await self._append(*SchemaStore.config_record(subject, level))
        return level

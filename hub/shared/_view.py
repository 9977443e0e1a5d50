"""The materialised view of the shared datasets: every worker keeps the latest record of
each key of each dataset's compacted topic, with an index per secondary key, and answers
lookups from it without asking Kafka or another worker.

The view reads each topic from its start with a consumer of no group (every worker reads
every partition: a lookup is local), applies upserts and tombstones in order, and keeps
reading. It is ready once it has read up to where the topics ended when it started;
lookups before that are answered 503 (`SharedDataLoading`). Kafka away: the reader
retries with backoff, the view keeps answering from what it holds.

The view keeps each record as the Avro bytes it read, in a RocksDB on the worker's disk
(`hub.shared._store`): reading a record costs no decoding and no memory, a lookup
decodes and checks the few records it returns, and a restarted worker reads only what
was written since it stopped. Only a dataset with secondary keys has its records'
datums read as they arrive, for the keys' values. A record that cannot be decoded is
answered as absent and logged (it reached the topic through the hub's own checks, so
this is an operator's matter). `make bench` measures memory and restart (S3, S4).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from hub.errors import HubError, KafkaUnavailableError
from hub.serde import AvroSerde
from hub.settings import HubSettings
from hub.shared._catalogue import DataCatalogue, Dataset
from hub.shared._store import SEP, ViewStore, index_key, record_key, secondaries_key
from hub.wire import open_reader, partitions_of

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0


class SharedDataLoading(HubError):
    """The view has not read its topics to where they ended at start yet."""

    retriable = True


class Dataview:
    """One dataset's records (their Avro bytes) by key, and its secondary indexes, in
    the view's store."""

    def __init__(self, dataset: Dataset, store: ViewStore) -> None:
        self.dataset = dataset
        self.store = store

    def get(self, key: str) -> bytes | None:
        return self.store.get(record_key(self.dataset.id, key))

    def put(self, key: str, value: bytes | None, secondaries: tuple[str, ...] = ()) -> None:
        """Upsert (or, for None, delete) key, with the values of its secondary keys (in
        the dataset's order), keeping the indexes right. Applying the same change again
        changes nothing."""
        dataset = self.dataset.id
        if self.dataset.secondary:
            old = self.store.get(secondaries_key(dataset, key))
            if old is not None:
                for name, was in zip(self.dataset.secondary, old.split(SEP), strict=True):
                    self.store.delete(index_key(dataset, name, was.decode(), key))
        if value is None:
            self.store.delete(record_key(dataset, key))
            self.store.delete(secondaries_key(dataset, key))
            return
        self.store.put(record_key(dataset, key), value)
        if self.dataset.secondary:
            self.store.put(secondaries_key(dataset, key),
                           SEP.join(v.encode() for v in secondaries))
            for name, now in zip(self.dataset.secondary, secondaries, strict=True):
                self.store.put(index_key(dataset, name, now, key), b"")

    def keys_of(self, name: str, value: str) -> list[str]:
        """The keys whose secondary key name is value, in order."""
        prefix = index_key(self.dataset.id, name, value)
        return [key[len(prefix):].decode() for key, _ in self.store.scan(prefix)]


class SharedView:
    """Every dataset of the catalogue, read from its topic and kept current."""

    def __init__(self, settings: HubSettings, serde: AvroSerde, catalogue: DataCatalogue) -> None:
        self.settings = settings
        self.serde = serde
        self.catalogue = catalogue
        self.store = ViewStore(
            settings.data_dir / "shared-view" / f"{settings.app_id}-{settings.http_port}"
        )
        self.views = {d.id: Dataview(d, self.store) for d in catalogue.datasets}
        self._by_topic: dict[str, list[Dataview]] = {}
        for view in self.views.values():
            self._by_topic.setdefault(view.dataset.topic, []).append(view)
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------- reading

    async def get(self, dataset_id: str, key: str) -> dict[str, Any] | None:
        """The record of key (its JSON), None when there is none."""
        self._loaded()
        view = self.views[dataset_id]
        value = view.get(key)
        return None if value is None else await self._json(view.dataset, key, value)

    async def find(self, dataset_id: str, name: str, value: str) -> list[dict[str, Any]]:
        """The records whose secondary key name is value, by key."""
        self._loaded()
        view = self.views[dataset_id]
        found = []
        for key in view.keys_of(name, value):
            stored = view.get(key)
            record = None if stored is None else await self._json(view.dataset, key, stored)
            if record is not None:
                found.append(record)
        return found

    async def _json(self, dataset: Dataset, key: str, value: bytes) -> dict[str, Any] | None:
        try:
            record = await self.serde.decode(dataset.kind, value)
        except HubError as exc:
            if exc.retriable:
                raise
            log.warning("shared view: the %s record %s is unreadable: %s", dataset.id, key, exc)
            return None
        return record.model_dump(mode="json")

    def _loaded(self) -> None:
        if not self.ready.is_set():
            raise SharedDataLoading("shared data is still loading; retry in a few seconds")

    async def apply(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        """One record of topic (its Avro bytes; None: a tombstone) into the views that
        read it; a record of a dataset with secondary keys that cannot be read is left
        out (logged)."""
        if key is None:
            return
        for view in self._by_topic.get(topic, []):
            secondaries: tuple[str, ...] = ()
            if value is not None and view.dataset.secondary:
                try:
                    datum = await self.serde.decode_datum(view.dataset.kind, value)
                except HubError as exc:
                    if exc.retriable:
                        raise  # the registry away: nothing skipped, the view reads again
                    log.warning("shared view: a %s record on %s is unreadable, skipped: %s",
                                view.dataset.kind, topic, exc)
                    continue
                secondaries = tuple(str(datum.get(name)) for name in view.dataset.secondary)
            view.put(key.decode(), value, secondaries)

    # ------------------------------------------------------------- the reader

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="shared-view")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.store.close()

    async def _run(self) -> None:
        while True:
            try:
                await self._follow()
            except (KafkaError, KafkaUnavailableError, TimeoutError) as exc:
                log.warning("shared view: %s; reading again in %.0f s", exc, RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
            except HubError as exc:  # the registry away: retriable, read again
                log.warning("shared view: %s; reading again in %.0f s", exc, RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)

    async def _follow(self) -> None:
        """Read every dataset topic from where the store says, then follow it."""
        topics = list(self._by_topic)
        consumer, _ = await open_reader(self.settings, topics[0])
        try:
            partitions = []
            for topic in topics:
                ids = await partitions_of(consumer, topic)
                if not ids:
                    raise KafkaUnavailableError(
                        f"topic {topic} does not exist; run `hub topics apply`"
                    )
                partitions += [TopicPartition(topic, p) for p in ids]
            consumer.assign(partitions)
            ends = await consumer.end_offsets(partitions)
            kept = await self._resume(consumer, partitions, ends)
            read = 0
            if all(kept.get(tp, 0) >= ends[tp] for tp in partitions):
                self._mark_ready(read)
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
                for tp, records in batches.items():
                    for message in records:
                        await self.apply(tp.topic, message.key, message.value)
                    if records:
                        self.store.keep_offset(tp.topic, tp.partition, records[-1].offset + 1)
                        read += len(records)
                if not self.ready.is_set():
                    positions = [await consumer.position(tp) for tp in partitions]
                    if all(p >= ends[tp] for p, tp in zip(positions, partitions, strict=True)):
                        self._mark_ready(read)
        finally:
            await consumer.stop()

    async def _resume(
        self, consumer: Any, partitions: list[TopicPartition], ends: dict[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        """Seek each partition to the offset the store kept (the start without one); a
        store that does not fit the topics (an offset the topic does not hold, a
        partition it does not have) is cleared and the topics read from the start."""
        starts = await consumer.beginning_offsets(partitions)
        kept = {TopicPartition(t, p): o for (t, p), o in self.store.offsets().items()}
        topics = {tp.topic for tp in partitions}
        unfit = [
            tp for tp, offset in kept.items()
            if tp.topic in topics and (tp not in ends or not starts[tp] <= offset <= ends[tp])
        ]
        if unfit:
            log.warning("shared view: the topics no longer hold what the store read (%s); "
                        "reading them from the start", ", ".join(map(str, unfit[:3])))
            self.store.clear()
            kept = {}
        for tp in partitions:
            if tp in kept:
                consumer.seek(tp, kept[tp])
            else:
                await consumer.seek_to_beginning(tp)
        if kept:
            log.info("shared view: resuming from the store, %d records behind",
                     sum(ends[tp] - kept.get(tp, starts[tp]) for tp in partitions))
        return kept

    def _mark_ready(self, read: int) -> None:
        if not self.ready.is_set():
            log.info("shared view ready (%d records read)", read)
            self.ready.set()

"""The materialised view of the shared datasets: every worker keeps the latest record of
each key of each dataset's compacted topic, with an index per secondary key, and answers
lookups from it without asking Kafka or another worker.

The view reads each topic from its start with a consumer of no group (every worker reads
every partition: a lookup is local), applies upserts and tombstones in order, and keeps
reading. It is ready once it has read up to where the topics ended when it started;
lookups before that are answered 503 (`SharedDataLoading`). Kafka away: the reader
retries with backoff, the view keeps answering from what it holds.

The view keeps each record as the Avro bytes it read (a register of a million entities
is some 250 MB so, against twice that as Python objects, and reading it costs no
decoding): a lookup decodes and checks the few records it returns. Only a dataset with
secondary keys has its records' datums read as they arrive, for the keys' values. A
record that cannot be decoded is answered as absent and logged (it reached the topic
through the hub's own checks, so this is an operator's matter).

Memory and restart cost follow the datasets' size (`make bench` measures them: S3, S4);
the view is in memory and rebuilt from the topics at start.
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
from hub.wire import open_reader, partitions_of

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0


class SharedDataLoading(HubError):
    """The view has not read its topics to where they ended at start yet."""

    retriable = True


class Dataview:
    """One dataset's records (their Avro bytes) by key, and its secondary indexes."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.records: dict[str, bytes] = {}
        self.index: dict[str, dict[str, set[str]]] = {name: {} for name in dataset.secondary}
        self._secondaries: dict[str, tuple[str, ...]] = {}  # key → its secondary values

    def clear(self) -> None:
        self.records.clear()
        self._secondaries.clear()
        self.index = {name: {} for name in self.dataset.secondary}

    def put(self, key: str, value: bytes | None, secondaries: tuple[str, ...] = ()) -> None:
        """Upsert (or, for None, delete) key, with the values of its secondary keys (in
        the dataset's order), keeping the indexes right."""
        old = self._secondaries.pop(key, None)
        if old is not None:
            for index, was in zip(self.index.values(), old, strict=True):
                keys = index.get(was)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[was]
        if value is None:
            self.records.pop(key, None)
            return
        self.records[key] = value
        if self.index:
            self._secondaries[key] = secondaries
            for index, now in zip(self.index.values(), secondaries, strict=True):
                index.setdefault(now, set()).add(key)

    def keys_of(self, name: str, value: str) -> list[str]:
        """The keys whose secondary key name is value, in order."""
        return sorted(self.index.get(name, {}).get(value, ()))


class SharedView:
    """Every dataset of the catalogue, read from its topic and kept current."""

    def __init__(self, settings: HubSettings, serde: AvroSerde, catalogue: DataCatalogue) -> None:
        self.settings = settings
        self.serde = serde
        self.catalogue = catalogue
        self.views = {d.id: Dataview(d) for d in catalogue.datasets}
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
        value = view.records.get(key)
        return None if value is None else await self._json(view.dataset, key, value)

    async def find(self, dataset_id: str, name: str, value: str) -> list[dict[str, Any]]:
        """The records whose secondary key name is value, by key."""
        self._loaded()
        view = self.views[dataset_id]
        found = []
        for key in view.keys_of(name, value):
            record = await self._json(view.dataset, key, view.records[key])
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
        """Read every dataset topic from its start, then follow it."""
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
            await consumer.seek_to_beginning(*partitions)
            for view in self.views.values():  # read again from the start: start clean
                view.clear()
            ends = await consumer.end_offsets(partitions)
            if not any(ends.values()):
                self._mark_ready()
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
                for tp, records in batches.items():
                    for message in records:
                        await self.apply(tp.topic, message.key, message.value)
                if not self.ready.is_set():
                    positions = [await consumer.position(tp) for tp in partitions]
                    if all(p >= ends[tp] for p, tp in zip(positions, partitions, strict=True)):
                        self._mark_ready()
        finally:
            await consumer.stop()

    def _mark_ready(self) -> None:
        if not self.ready.is_set():
            log.info(
                "shared view ready: %s",
                ", ".join(f"{v.dataset.id} {len(v.records)}" for v in self.views.values()),
            )
            self.ready.set()

"""The shipped connector transports pass the conformance suite (`connectors.conformance`,
STYLE §7): open/close, a batch, a long sequence in order, restart-and-resume, a poison
record to the DLQ, and order per key. Each transport has a `Driver` here:

- ``webhook``: the sink delivering a street's inbox ``out.<street>.v1`` to its system;
  downstream is what the (simulated) party applied;
- ``http-poll`` and ``file-drop``: sources bringing dept-urban's native cases into
  ``raw.dept-urban.v1``; downstream is ``enf.clue.v1``, written by the normaliser of
  the module's `hub worker`;
- ``kafka``: the party's own producer writes ``raw.dept-urban.v1`` (the hub runs
  nothing but the status); downstream is ``enf.clue.v1`` too.

A plug-in transport's own tests give their `Driver` and call `conformance_test` the
same way.
"""

from __future__ import annotations

import json
import uuid
from abc import abstractmethod
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from connectors import ConnectorRunner
from connectors.conformance import Driver, conformance_test, eventually
from deploy.demo.party import FailMode, PartySimulator
from tests.integration.conftest import (
    ConnectorHarness,
    Kit,
    TopicWatch,
    Worker,
    clue_id,
    header,
    hub_worker,
    open_kit,
    order_event,
    start_group_at_end,
    street_order,
    urban_case,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="module")]

SINK_PARTY = "street-luojiashan"
SOURCE_PARTY = "dept-urban"
SOURCE_STREET = "石洞街道"  # the clues' assignments go to street-shidong, not SINK_PARTY
RAW = f"raw.{SOURCE_PARTY}.v1"
DLQ = "hub.dlq.v1"
CLUES = "enf.clue.v1"


class HarnessDriver(Driver):
    """A `Driver` on the tests' connector harness: the runner, the state store and
    watches of the topics downstream."""

    def __init__(self, harness: ConnectorHarness, marker: str) -> None:
        self.harness = harness
        self.marker = marker
        self.name = harness.name()
        self.runner: ConnectorRunner | None = None
        self.downstream: TopicWatch | None = None
        self.raw: TopicWatch | None = None
        self.dlq: TopicWatch | None = None
        self.sequence = 0
        self._watches = AsyncExitStack()

    async def watch(self, topic: str) -> TopicWatch:
        return await self._watches.enter_async_context(
            TopicWatch(self.harness.kit.bootstrap, topic)
        )

    async def open(self) -> None:
        """Before anything is sent: watch the topics."""
        self.dlq = await self.watch(DLQ)

    async def close(self) -> None:
        await self._watches.aclose()

    async def start(self) -> ConnectorRunner:
        self.runner = await self.harness.runner(self.config())
        return self.runner

    async def stop(self) -> float:
        assert self.runner is not None
        took = await self.harness.stop(self.runner)
        self.runner = None
        return took

    async def stored_status(self) -> dict[str, Any]:
        return dict(await self.harness.stored_status(self.name))

    @abstractmethod
    def config(self) -> Any:
        """The connector's configuration (a model of connectors/_config.py)."""


def _native_id(record: ConsumerRecord) -> str | None:
    try:
        document = json.loads(record.value)
    except (TypeError, ValueError):
        return None
    return document.get("案件编号") if isinstance(document, dict) else None


class SourceTransport(HarnessDriver):
    """Native urban cases of dept-urban into raw.dept-urban.v1, normalised by the worker."""

    async def open(self) -> None:
        await super().open()
        self.downstream = await self.watch(CLUES)
        self.raw = await self.watch(RAW)

    def make(self, count: int, **changes: Any) -> list[Any]:
        made = []
        for _ in range(count):
            self.sequence += 1
            number = f"{self.marker}-{self.sequence:05d}"
            made.append(urban_case(number, street=SOURCE_STREET, **changes))
        return made

    def id_of(self, item: Any) -> str:
        return clue_id(item["案件编号"])

    async def arrived(self, items: list[Any], within: float = 30) -> list[str]:
        downstream = self.downstream
        assert downstream is not None
        wanted = {self.id_of(item).encode() for item in items}

        async def complete() -> bool:
            await downstream.read(0.2)
            return wanted <= {r.key for r in downstream.records}

        await eventually(complete, f"{len(wanted)} clues on {CLUES}", within=within)
        await downstream.read(0.3)
        return [r.key.decode() for r in downstream.records if r.key in wanted]

    async def progressed(self, items: list[Any], count: int) -> bool:
        assert self.raw is not None
        await self.raw.read(0.2)
        return len(self._raw_of(items)) >= count

    def _raw_of(self, items: list[Any]) -> list[ConsumerRecord]:
        """The raw records of this connector that are one of items (by native id)."""
        assert self.raw is not None
        numbers = {item["案件编号"] for item in items}
        found = []
        for record in self.raw.records:
            if self._mine(record) and _native_id(record) in numbers:
                found.append(record)
        return found

    def _mine(self, record: ConsumerRecord) -> bool:
        return header(record, "hub.connector") == self.name.encode()

    async def in_order(self, items: list[Any]) -> None:
        assert self.raw is not None
        await self.raw.read(0.3)
        position = {item["案件编号"]: n for n, item in enumerate(items)}
        by_partition: dict[int, list[int]] = {}
        for record in self._raw_of(items):
            number = _native_id(record)
            by_partition.setdefault(record.partition, []).append(position[number])
        assert sum(len(v) for v in by_partition.values()) >= len(items)
        for partition, seen in by_partition.items():
            assert seen == sorted(seen), f"raw partition {partition} out of order"

    async def poison(self) -> Any:
        (item,) = self.make(1, 小类="99")  # no such 街面秩序 subcategory
        return item

    async def parked(self, item: Any) -> ConsumerRecord:
        assert self.dlq is not None
        number = item["案件编号"].encode()
        (record,) = await self.dlq.collect(1, lambda r: number in (r.value or b""))
        assert header(record, "hub.error.stage") == b"map"
        assert header(record, "hub.error.class") == b"code.unknown"
        assert header(record, "hub.error.field") == "大类+小类".encode()
        assert header(record, "hub.error.source.topic") == RAW.encode()
        assert header(record, "hub.native.kind") == b"urban-case"
        return record

    def versions(self, count: int) -> tuple[list[Any], list[Any]]:
        first = self.make(count, 问题描述="第一次上报")
        return first, [dict(item, 问题描述="核查后更正") for item in first]

    async def versions_in_order(self, first: list[Any], second: list[Any]) -> None:
        assert self.downstream is not None and self.raw is not None
        await self.arrived(first)
        wanted = {self.id_of(item).encode() for item in first}
        await self.downstream.collect(2 * len(wanted), lambda r: r.key in wanted)
        await self.raw.read(0.3)
        descriptions: dict[bytes, list[str]] = {}
        serde = self.harness.kit.serde
        for record in self.downstream.records:
            if record.key in wanted:
                clue = await serde.decode("clue", record.value)
                descriptions.setdefault(record.key, []).append(clue.description)
        expected = [first[0]["问题描述"], second[0]["问题描述"]]
        wrong = {k.decode(): v for k, v in descriptions.items() if v != expected}
        assert not wrong, f"{len(wrong)} of {len(wanted)} records normalised out of order"
        partitions: dict[str, set[int]] = {}
        for record in self._raw_of(first):
            number = _native_id(record)
            partitions.setdefault(number, set()).add(record.partition)
        split = sorted(n for n, p in partitions.items() if len(p) > 1)
        assert not split, (
            f"{len(split)} of {len(partitions)} native records have their versions in "
            f"different partitions of {RAW} (the source writes them without a key), so "
            "nothing keeps the later version after the earlier one"
        )


class PollTransport(SourceTransport):
    kind = "http-poll"
    unit = 50

    async def open(self) -> None:
        await super().open()
        self.party: PartySimulator = await self.harness.party(page_size=self.unit)

    def config(self) -> Any:
        return self.harness.poll(self.name, SOURCE_PARTY, self.party.records_url, "urban-case")

    async def send(self, items: list[Any]) -> None:
        self.party.add_records(items)

    async def slow_down(self) -> None:
        self.party.page_delay = 0.3

    async def speed_up(self) -> None:
        self.party.page_delay = 0.0

    async def before_restart(self) -> None:
        self.asked = len(self.party.cursors_seen)

    async def resumed(self) -> None:
        assert self.party.cursors_seen[self.asked] is not None, "the restart began afresh"


class FileDropTransport(SourceTransport):
    kind = "file-drop"
    unit = 100

    async def open(self) -> None:
        await super().open()
        self.folder: Path = self.harness.tmp_path / f"drop-{self.marker}"
        self.folder.mkdir()
        self.files = 0

    def config(self) -> Any:
        return self.harness.file_drop(self.name, SOURCE_PARTY, self.folder, "urban-case")

    async def send(self, items: list[Any]) -> None:
        """One file per unit rows, JSON lines (written elsewhere, then moved in)."""
        for start in range(0, len(items), self.unit):
            self.files += 1
            chunk = items[start : start + self.unit]
            staging = self.harness.tmp_path / f"{self.marker}-{self.files:04d}.tmp"
            staging.write_text(
                "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in chunk),
                encoding="utf-8",
            )
            staging.rename(self.folder / f"batch-{self.files:04d}.jsonl")


class KafkaTransport(SourceTransport):
    """The party writes raw.dept-urban.v1 with its own producer, keyed by its case id."""

    kind = "kafka"
    unit = 0
    running_state = "direct"  # the hub runs nothing but the status

    def __init__(self, harness: ConnectorHarness, marker: str) -> None:
        super().__init__(harness, marker)
        self.producer: AIOKafkaProducer | None = None
        self.pending: list[Any] = []  # written while the party's producer is down

    async def start(self) -> ConnectorRunner:
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.harness.kit.bootstrap, acks="all", enable_idempotence=True
        )
        await self.producer.start()
        runner = await super().start()
        pending, self.pending = self.pending, []
        await self.send(pending)
        return runner

    async def stop(self) -> float:
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None
        return await super().stop()

    async def close(self) -> None:
        if self.producer is not None:
            await self.producer.stop()
        await super().close()

    def config(self) -> Any:
        return self.harness.direct(self.name, SOURCE_PARTY)

    def _mine(self, record: ConsumerRecord) -> bool:
        return header(record, "hub.connector") == f"party:{self.name}".encode()

    async def send(self, items: list[Any]) -> None:
        if self.producer is None:
            self.pending.extend(items)
            return
        sent = [
            await self.producer.send(
                RAW,
                key=item["案件编号"].encode(),
                value=json.dumps(item, ensure_ascii=False).encode(),
                headers=[
                    ("hub.native.kind", b"urban-case"),
                    ("hub.connector", f"party:{self.name}".encode()),
                ],
            )
            for item in items
        ]
        for future in sent:
            await future


class WebhookTransport(HarnessDriver):
    """Canonical orders in SINK_PARTY's inbox, delivered to its (simulated) system."""

    kind = "webhook"
    unit = 100  # the default batch size

    async def open(self) -> None:
        await super().open()
        self.party: PartySimulator = await self.harness.party(secret=b"conformance")
        self.key = self.marker.encode()  # one key: the order of the inbox is defined
        self.keys: dict[str, bytes] = {}  # other keys, by record id
        await start_group_at_end(
            self.harness.kit.bootstrap,
            f"{self.harness.settings.app_id}-connector-{self.name}",
            f"out.{SINK_PARTY}.v1",
        )

    def config(self) -> Any:
        return self.harness.webhook(
            self.name,
            SINK_PARTY,
            self.party.inbox_url,
            secret_file=self.harness.secret_file(b"conformance"),
            batch_size=self.unit,
        )

    def make(self, count: int, **changes: Any) -> list[Any]:
        made = []
        for _ in range(count):
            self.sequence += 1
            made.append(street_order(SINK_PARTY, self.marker, self.sequence))
        return made

    def id_of(self, item: Any) -> str:
        return str(item.record_id)

    async def send(self, items: list[Any]) -> None:
        await self.harness.kit.write_inbox(
            SINK_PARTY,
            [(_kind(item), item, self.keys.get(self.id_of(item), self.key)) for item in items],
        )

    async def arrived(self, items: list[Any], within: float = 30) -> list[str]:
        wanted = {self.id_of(item) for item in items}
        await eventually(
            lambda: wanted <= {d.record_id for d in self.party.first_deliveries()},
            f"{len(wanted)} deliveries",
            within=within,
        )
        assert all(d.signature_valid for d in self.party.deliveries)
        return [d.record_id for d in self.party.deliveries if d.record_id in wanted]

    async def in_order(self, items: list[Any]) -> None:
        ids = [self.id_of(item) for item in items]
        wanted = set(ids)
        applied = [d.record_id for d in self.party.first_deliveries() if d.record_id in wanted]
        assert applied == ids

    async def slow_down(self) -> None:
        self.party.fail(FailMode.SLOW, seconds=0.01)

    async def speed_up(self) -> None:
        self.party.reset()

    async def progressed(self, items: list[Any], count: int) -> bool:
        wanted = {self.id_of(item) for item in items}
        return len([d for d in self.party.first_deliveries() if d.record_id in wanted]) >= count

    async def poison(self) -> Any:
        (item,) = self.make(1)
        self.party.refuse(self.id_of(item))
        return item

    async def parked(self, item: Any) -> ConsumerRecord:
        assert self.dlq is not None
        (record,) = await self.dlq.collect(
            1, lambda r: header(r, "hub.error.connector") == self.name.encode()
        )
        assert header(record, "hub.error.stage") == b"deliver"
        assert header(record, "hub.error.class") == b"HTTP400"
        assert header(record, "hub.error.source.topic") == f"out.{SINK_PARTY}.v1".encode()
        assert self.id_of(item).encode() in (header(record, "hub.error.message") or b"")
        return record

    def versions(self, count: int) -> tuple[list[Any], list[Any]]:
        """Orders, each under its own key, then an event of each (same key)."""
        orders = self.make(count)
        events = []
        for n, order in enumerate(orders):
            event = order_event(SINK_PARTY, order, self.marker, n, "SIGNED")
            self.keys[self.id_of(order)] = self.keys[self.id_of(event)] = str(
                order.order_id
            ).encode()
            events.append(event)
        return orders, events

    async def versions_in_order(self, first: list[Any], second: list[Any]) -> None:
        await self.arrived(first + second)
        applied = [d.record_id for d in self.party.first_deliveries()]
        for order, event in zip(first, second, strict=True):
            assert applied.index(self.id_of(order)) < applied.index(self.id_of(event))


def _kind(record: Any) -> str:
    return "order-event" if hasattr(record, "event_type") else "order"


@pytest.fixture(scope="module")
def worker(applied_topics: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """The normaliser (and the rest of a hub) that turns raw records into clues."""
    with hub_worker(applied_topics, tmp_path_factory.mktemp("conformance"), ()) as started:
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def kit(applied_topics: str) -> AsyncIterator[Kit]:
    async with open_kit(applied_topics) as made:
        yield made


@asynccontextmanager
async def _driver(
    made: type[HarnessDriver], kit: Kit, unique_name: Any, tmp_path: Path
) -> AsyncIterator[HarnessDriver]:
    harness = ConnectorHarness(kit, unique_name("cf"), tmp_path)
    driver = made(harness, f"CF{uuid.uuid4().hex[:8]}")
    try:
        await driver.open()
        yield driver
    finally:
        await harness.close()
        await driver.close()


@pytest_asyncio.fixture(loop_scope="module")
async def webhook(kit: Kit, unique_name: Any, tmp_path: Path) -> AsyncIterator[HarnessDriver]:
    async with _driver(WebhookTransport, kit, unique_name, tmp_path) as driver:
        yield driver


def _source(made: type[HarnessDriver], name: str) -> Any:
    """The fixture of a source transport's driver: its records become clues through the
    module's worker."""

    @pytest_asyncio.fixture(loop_scope="module", name=name)
    async def source(
        worker: Worker, kit: Kit, unique_name: Any, tmp_path: Path
    ) -> AsyncIterator[HarnessDriver]:
        async with _driver(made, kit, unique_name, tmp_path) as driver:
            yield driver

    return source


http_poll = _source(PollTransport, "http_poll")
file_drop = _source(FileDropTransport, "file_drop")
kafka_direct = _source(KafkaTransport, "kafka_direct")


test_the_webhook_sink_conforms = conformance_test("webhook")
test_the_http_poll_source_conforms = conformance_test("http_poll")
test_the_file_drop_source_conforms = conformance_test("file_drop")
test_a_partys_own_kafka_producer_conforms = conformance_test("kafka_direct")

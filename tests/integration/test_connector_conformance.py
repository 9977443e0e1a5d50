"""One conformance suite for every connector transport (STYLE §7).

Every transport passes the same tests: open/close, a batch, a long sequence in order,
restart-and-resume, a poison record to the DLQ, and order per key. A transport is:

- ``webhook``: the sink delivering a street's inbox ``out.<street>.v1`` to its system;
  downstream is what the (simulated) party applied;
- ``http-poll`` and ``file-drop``: sources bringing dept-urban's native cases into
  ``raw.dept-urban.v1``; downstream is ``enf.clue.v1``, written by the normaliser of
  the module's `hub worker`;
- ``kafka``: the party's own producer writes ``raw.dept-urban.v1`` (the hub runs
  nothing but the status); downstream is ``enf.clue.v1`` too.

A new transport gets a `Transport` subclass here and passes the suite before it is done.
"""

from __future__ import annotations

import json
import uuid
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from connectors import ConnectorRunner
from deploy.demo.party import FailMode, PartySimulator
from tests.integration.conftest import (
    ConnectorHarness,
    Kit,
    TopicWatch,
    Worker,
    clue_id,
    eventually,
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


class Transport(ABC):
    """Drives one connector transport and reads what came out downstream."""

    kind = ""
    unit = 1  # records a restart may deliver again (a page, a file, a batch)

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
        """Start the connector (a new runner and a new state store: a restart)."""
        self.runner = await self.harness.runner(self.config())
        return self.runner

    async def stop(self) -> float:
        assert self.runner is not None
        took = await self.harness.stop(self.runner)
        self.runner = None
        return took

    @abstractmethod
    def config(self) -> Any:
        """The connector's configuration (a model of connectors/_config.py)."""

    @abstractmethod
    def make(self, count: int, **changes: Any) -> list[Any]:
        """count new items (native records or canonical orders), in sequence."""

    @abstractmethod
    def id_of(self, item: Any) -> str:
        """The record id the item has downstream."""

    @abstractmethod
    async def send(self, items: list[Any]) -> None:
        """Make the items available to the connector, in order."""

    @abstractmethod
    async def arrived(self, items: list[Any], within: float = 30) -> list[str]:
        """Once every item arrived downstream: the ids that arrived, in arrival order,
        repeats included (only ids of items)."""

    @abstractmethod
    async def in_order(self, items: list[Any]) -> None:
        """Assert the items went through in the order they were sent."""

    @abstractmethod
    async def poison(self) -> Any:
        """An item that cannot go through (it must end in the DLQ)."""

    @abstractmethod
    async def progressed(self, items: list[Any], count: int) -> bool:
        """Whether at least count of items went through the connector so far."""

    async def slow_down(self) -> None:  # noqa: B027 - an optional hook, no-op by default
        """Make the party slow, so a stop lands mid-way (when the transport can)."""

    async def speed_up(self) -> None:  # noqa: B027 - an optional hook, no-op by default
        """Undo `slow_down`."""

    @abstractmethod
    async def parked(self, item: Any) -> ConsumerRecord:
        """The DLQ record item ended in (it could not go through)."""

    @abstractmethod
    def versions(self, count: int) -> tuple[list[Any], list[Any]]:
        """count records and, for each, a later record about the same thing (same key)."""

    @abstractmethod
    async def versions_in_order(self, first: list[Any], second: list[Any]) -> None:
        """The later records were sent after the first ones: downstream (and on the
        way) each comes after its first one."""


def _native_id(record: ConsumerRecord) -> str | None:
    try:
        document = json.loads(record.value)
    except (TypeError, ValueError):
        return None
    return document.get("案件编号") if isinstance(document, dict) else None


class SourceTransport(Transport):
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

    async def slow_down(self) -> None:  # noqa: B027 - an optional hook, no-op by default
        self.party.page_delay = 0.3

    async def speed_up(self) -> None:  # noqa: B027 - an optional hook, no-op by default
        self.party.page_delay = 0.0


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


class WebhookTransport(Transport):
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

    async def slow_down(self) -> None:  # noqa: B027 - an optional hook, no-op by default
        self.party.fail(FailMode.SLOW, seconds=0.01)

    async def speed_up(self) -> None:  # noqa: B027 - an optional hook, no-op by default
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


TRANSPORTS = {
    t.kind: t for t in (WebhookTransport, PollTransport, FileDropTransport, KafkaTransport)
}


@pytest.fixture(scope="module")
def worker(applied_topics: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """The normaliser (and the rest of a hub) that turns raw records into clues."""
    with hub_worker(applied_topics, tmp_path_factory.mktemp("conformance"), ()) as started:
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def kit(applied_topics: str) -> AsyncIterator[Kit]:
    async with open_kit(applied_topics) as made:
        yield made


@pytest_asyncio.fixture(loop_scope="module", params=list(TRANSPORTS))
async def transport(
    request: pytest.FixtureRequest,
    kit: Kit,
    unique_name: Any,
    tmp_path: Path,
) -> AsyncIterator[Transport]:
    if request.param != "webhook":
        request.getfixturevalue("worker")
    harness = ConnectorHarness(kit, unique_name("cf"), tmp_path)
    made = TRANSPORTS[request.param](harness, f"CF{uuid.uuid4().hex[:8]}")
    try:
        await made.open()
        yield made
    finally:
        await harness.close()
        await made.close()


async def test_open_and_close(transport: Transport) -> None:
    runner = await transport.start()
    state = await eventually(
        lambda: runner.status.get("state") in ("running", "direct") and runner.status["state"],
        "the connector to run",
        within=10,
    )
    assert state == ("direct" if transport.kind == "kafka" else "running")
    took = await transport.stop()
    assert took < 5, f"stop took {took:.1f} s"
    status = await transport.harness.stored_status(transport.name)
    assert status["state"] == "stopped"
    assert status["type"] == transport.kind


async def test_a_batch(transport: Transport) -> None:
    items = transport.make(10)
    await transport.start()
    await transport.send(items)
    arrived = await transport.arrived(items)
    assert Counter(arrived) == Counter({transport.id_of(item): 1 for item in items})


async def test_a_long_sequence_in_order(transport: Transport) -> None:
    items = transport.make(500)
    await transport.start()
    await transport.send(items)
    arrived = await transport.arrived(items, within=60)
    assert set(arrived) == {transport.id_of(item) for item in items}
    assert len(arrived) == 500, "some records came twice"
    await transport.in_order(items)


async def test_restart_and_resume(transport: Transport) -> None:
    first, second = transport.make(150), transport.make(150)
    await transport.start()
    await transport.slow_down()  # so the stop lands mid-way
    await transport.send(first)
    await eventually(
        lambda: transport.progressed(first, 30), "part of the records through", within=30
    )
    took = await transport.stop()
    assert took < 5, f"stop took {took:.1f} s"
    await transport.send(second)  # new records while the connector is down
    await transport.speed_up()
    asked = len(transport.party.cursors_seen) if isinstance(transport, PollTransport) else 0
    await transport.start()
    arrived = await transport.arrived(first + second, within=60)
    counts = Counter(arrived)
    assert set(counts) == {transport.id_of(item) for item in first + second}  # nothing lost
    again = [i for i, n in counts.items() if n > 1]
    assert len(again) <= transport.unit, f"{len(again)} records came again after the restart"
    if isinstance(transport, PollTransport):
        assert transport.party.cursors_seen[asked] is not None, "the restart began afresh"


async def test_a_poison_record_goes_to_the_dlq_and_the_rest_go_on(transport: Transport) -> None:
    before, after = transport.make(3), transport.make(3)
    poison = await transport.poison()
    await transport.start()
    await transport.send([*before, poison, *after])
    parked = await transport.parked(poison)
    assert parked.value
    arrived = await transport.arrived(before + after)
    assert set(arrived) == {transport.id_of(item) for item in before + after}


async def test_later_records_about_the_same_thing_stay_behind_the_first(
    transport: Transport,
) -> None:
    """Order per key (docs/design.md §8): a corrected native record after its first version, an
    order's event after the order."""
    first, second = transport.versions(20)
    await transport.start()
    await transport.send(first)
    await transport.send(second)
    await transport.versions_in_order(first, second)

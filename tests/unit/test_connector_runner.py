"""The connector runner, broker-free: raw records go out through a `MemoryBroker`, a
sink reads its party's inbox from the broker's logs in its consumer group, state lives
in a `MemoryState`. A transport written only to the documented interface
(`connectors.Source` or `connectors.Sink`, registered with `connectors.register`) is
configured from the connectors file, run, keyed, reported, paused and stopped like the
shipped ones; a dropped file is imported once, keyed by its native id; a sink gets its
inbox in order, what cannot be rendered or is refused goes to the DLQ, and what was
delivered is not delivered again after a restart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import pytest
import pytest_asyncio
from pydantic import Field

from connectors import (
    ConnectorRunner,
    ConnectorSpec,
    DeliveryRefused,
    Emit,
    FileDropConnector,
    OutRecord,
    RawRecord,
    Runtime,
    Sink,
    Source,
    Transport,
    load_connectors,
    register,
)
from hub.mapping import load_catalogue
from hub.records import validate
from hub.reference import load_parties
from hub.registry import MemoryRegistry
from hub.serde import AvroSerde
from hub.settings import HubSettings
from hub.wire import (
    DLQ_TOPIC,
    HubHeaders,
    MemoryBroker,
    MemoryState,
    header_of,
    inbox_topic,
    raw_topic,
)
from tests.samples import sample

PARTIES = load_parties(HubSettings().parties_file)
SERDE = AvroSerde(MemoryRegistry())
STREET = "street-luojiashan"


class ListConnector(ConnectorSpec):
    """A test transport: emits the records of its list, then waits."""

    type: Literal["test-list"] = Field(description="records from a list")
    native_kind: str = Field(description="native kind of the records")
    records: list[dict[str, Any]] = Field(default_factory=list)


class ListSource(Source):
    def __init__(self, config: ListConnector, runtime: Runtime) -> None:
        self.config = config
        self.state = runtime.state
        self.stopping = asyncio.Event()
        self.sent = 0

    async def run(self, emit: Emit) -> None:
        self.stopping = asyncio.Event()
        for record in self.config.records[self.sent :]:
            key = str(record.get(self.key_field or "", "")).encode() or None
            await emit(RawRecord(self.config.party, self.config.native_kind,
                                 json.dumps(record, ensure_ascii=False).encode(), key))
            self.sent += 1
        await self.stopping.wait()

    async def stop(self) -> None:
        self.stopping.set()

    def status(self) -> dict[str, Any]:
        return {"listed": self.sent}


register(Transport("test-list", ListConnector, "source", ListSource,
                   lambda c: f"{len(c.records)} listed {c.native_kind}"))


class CollectConnector(ConnectorSpec):
    """A test transport: a sink that keeps what it is given and refuses some keys."""

    type: Literal["test-collect"] = Field(description="records kept in a list")
    refuse_keys: list[str] = Field(default_factory=list)


class CollectSink(Sink):
    def __init__(self, config: CollectConnector, runtime: Runtime) -> None:
        self.refuse = {key.encode() for key in config.refuse_keys}
        self.written: list[OutRecord] = []
        self.flushed = 0

    async def setup(self) -> None:
        return None

    async def write_batch(self, records: Sequence[OutRecord]) -> None:
        for record in records:
            if record.key in self.refuse:
                raise DeliveryRefused(record, 422, "not ours")
            self.written.append(record)

    async def flush(self) -> None:
        self.flushed = len(self.written)

    async def close(self) -> None:
        return None


register(Transport("test-collect", CollectConnector, "sink", CollectSink,
                   lambda c: "records kept in a list"))


Start = Callable[..., Awaitable[tuple[ConnectorRunner, MemoryBroker, MemoryState]]]


@pytest_asyncio.fixture
async def start() -> AsyncIterator[Start]:
    runners: list[ConnectorRunner] = []

    async def run(
        config: ConnectorSpec, broker: MemoryBroker | None = None,
        state: MemoryState | None = None,
    ) -> tuple[ConnectorRunner, MemoryBroker, MemoryState]:
        """Run config on broker and state (new ones unless given: a restart passes them)."""
        broker, state = broker or MemoryBroker(), state or MemoryState()
        runner = ConnectorRunner(
            config, HubSettings(), state, broker, SERDE, load_catalogue(), PARTIES,
            readers=broker.group_reader,
        )
        runners.append(runner)
        runner.start()
        return runner, broker, state

    yield run
    for runner in runners:
        await runner.stop()


async def _until(check: Callable[[], bool], seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 - polls state another task changes
            await asyncio.sleep(0.02)


def _urban(number: str) -> dict[str, Any]:
    return {"案件编号": number, "问题描述": "占道经营"}


def test_a_registered_transport_is_configured_from_the_connectors_file(tmp_path: Path) -> None:
    path = tmp_path / "connectors.yaml"
    path.write_text(
        "connectors:\n  - {name: listed, party: dept-urban, type: test-list,"
        " native_kind: urban-case, records: [{案件编号: A-1}]}\n",
        encoding="utf-8",
    )
    (config,) = load_connectors(path, PARTIES)
    assert isinstance(config, ListConnector) and config.records == [{"案件编号": "A-1"}]


async def test_a_transport_written_to_the_interface_runs_keyed_and_reported(start: Start) -> None:
    config = ListConnector(name="listed", party="dept-urban", type="test-list",
                           native_kind="urban-case", records=[_urban("A-1"), _urban("A-2")])
    runner, broker, state = await start(config)
    await _until(lambda: len(broker.to(raw_topic("dept-urban"))) == 2)
    keys = [key for key, _, _ in broker.to(raw_topic("dept-urban"))]
    assert keys == [b"A-1", b"A-2"]  # the mapping spec's source_id: one record, one partition
    (_, value, headers) = broker.to(raw_topic("dept-urban"))[0]
    assert json.loads(value) == _urban("A-1")
    seen = type("Seen", (), {"headers": headers})
    assert header_of(seen, "hub.native.kind") == b"urban-case"
    assert header_of(seen, "hub.connector") == b"listed"
    await _until(lambda: runner.status.get("emitted") == 2)
    await runner.stop()
    stored = state.get("listed", "status") or {}
    assert stored["state"] == "stopped" and stored["listed"] == 2 and stored["type"] == "test-list"


async def test_a_paused_source_stops_and_resumes_where_it_was(start: Start) -> None:
    config = ListConnector(name="paused", party="dept-urban", type="test-list",
                           native_kind="urban-case", records=[_urban("P-1")])
    runner, broker, state = await start(config)
    await _until(lambda: len(broker.to(raw_topic("dept-urban"))) == 1)
    await state.put("paused", "control", {"paused": True})
    await _until(lambda: (state.get("paused", "status") or {}).get("state") == "paused", 8)
    await state.put("paused", "control", {"paused": False})
    await _until(lambda: (state.get("paused", "status") or {}).get("state") == "running", 8)
    assert len(broker.to(raw_topic("dept-urban"))) == 1  # nothing emitted twice
    await runner.stop()


async def test_a_dropped_file_is_imported_once_and_keyed_by_its_native_id(
    start: Start, tmp_path: Path
) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    rows = [_urban("F-1"), _urban("F-2")]
    (folder / "cases.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8"
    )
    config = FileDropConnector(type="file-drop", name="drop", party="dept-urban",
                               directory=folder, native_kind="urban-case",
                               interval_seconds=0.05, settle_seconds=0)
    runner, broker, state = await start(config)
    await _until(lambda: len(broker.to(raw_topic("dept-urban"))) == 2)
    (folder / "again.jsonl").write_bytes((folder / "cases.jsonl").read_bytes())
    await asyncio.sleep(0.3)
    emitted = broker.to(raw_topic("dept-urban"))
    assert [key for key, _, _ in emitted] == [b"F-1", b"F-2"]
    assert len(state.entries_of("drop", "file/")) == 1  # the ledger knows the content once
    await runner.stop()


async def test_kafka_away_is_retried_and_the_source_resumes(start: Start) -> None:
    """A broker that does not take the raw record makes the connector fail and retry
    (it used to stop for good on the first Kafka error), then the record arrives."""
    config = ListConnector(name="away", party="dept-urban", type="test-list",
                           native_kind="urban-case", records=[_urban("K-1")])
    runner, broker, state = await start(config)
    broker.unavailable = True
    runner_started = asyncio.get_running_loop().time()
    await _until(lambda: runner.status.get("state") == "failing", 5)
    assert "could not write to raw.dept-urban.v1" in runner.status["last_error"]
    broker.unavailable = False
    await _until(lambda: len(broker.to(raw_topic("dept-urban"))) == 1, 10)
    assert asyncio.get_running_loop().time() - runner_started < 10
    await runner.stop()


async def _to_inbox(broker: MemoryBroker, order_source: str) -> str:
    """An order for the street written to its inbox as the lifecycle stage writes it."""
    data = sample("order", source_id=order_source, to_parties=[STREET])
    order = validate("order", {**data, "trace_id": "cd" * 16})
    value = await SERDE.encode("order", order)
    key = str(order.order_id)
    headers = HubHeaders(kind="order", trace_id=order.trace_id).to_kafka()
    await broker.send(inbox_topic(STREET), key.encode(), value, headers)
    return key


async def test_a_sink_gets_its_inbox_in_order_and_parks_what_it_cannot_take(
    start: Start,
) -> None:
    broker = MemoryBroker(partitions=1)  # one partition: one order to check
    keys = [await _to_inbox(broker, f"WS-SINK-{n}") for n in range(4)]
    await broker.send(inbox_topic(STREET), b"poison", b"\x00not avro",
                      HubHeaders(kind="order").to_kafka())
    config = CollectConnector(name="collect", party=STREET, type="test-collect",
                              refuse_keys=[keys[1]])
    runner, _, state = await start(config, broker)
    await _until(lambda: len(broker.to(DLQ_TOPIC)) == 2)
    await _until(lambda: broker.committed.get(
        (f"{HubSettings().app_id}-connector-collect", inbox_topic(STREET), 0)) == 5)
    sink = runner.sink
    assert isinstance(sink, CollectSink)
    assert [r.key for r in sink.written] == [keys[0].encode(), keys[2].encode(),
                                             keys[3].encode()]
    assert all(r.kind == "order" and r.trace_id == "cd" * 16 for r in sink.written)
    assert sink.flushed == 3
    parked = {header_of(type("P", (), {"headers": h}), "hub.error.stage"): k
              for k, _, h in broker.to(DLQ_TOPIC)}
    assert parked == {b"deliver": keys[1].encode(), b"render": b"poison"}
    await runner.stop()
    stored = state.get("collect", "status") or {}
    assert stored["state"] == "stopped"

    again, _, _ = await start(config, broker, state)  # restarted: from the committed offsets
    fresh = await _to_inbox(broker, "WS-SINK-after")
    await _until(lambda: isinstance(again.sink, CollectSink) and len(again.sink.written) == 1)
    assert isinstance(again.sink, CollectSink)
    assert [r.key for r in again.sink.written] == [fresh.encode()]
    await again.stop()


@pytest.mark.parametrize(
    "kind", ["http-poll", "file-drop", "webhook", "kafka", "test-list", "test-collect"]
)
def test_every_transport_says_what_it_carries(kind: str, tmp_path: Path) -> None:
    from connectors import TRANSPORTS

    transport = TRANSPORTS[kind]
    fields: dict[str, Any] = {"name": "x-1", "party": "dept-urban", "type": kind}
    fields.update({
        "http-poll": {"url": "https://p.example/api", "native_kind": "urban-case"},
        "file-drop": {"directory": tmp_path, "native_kind": "urban-case"},
        "webhook": {"url": "https://p.example/hook"},
        "kafka": {},
        "test-list": {"native_kind": "urban-case"},
        "test-collect": {},
    }[kind])
    config = transport.config.model_validate(fields)
    assert isinstance(transport.carries(config), str)

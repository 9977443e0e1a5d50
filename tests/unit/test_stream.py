"""The stream runtime's parts without a broker: the assignor, tables and their held
writes, DLQ entries of oversized and malformed records, log rate limiting, limits."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sys
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiohttp.http_exceptions import BadHttpMessage
from aiokafka import TopicPartition
from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata
from aiokafka.errors import NodeNotReadyError, ProducerFenced

from hub.errors import HubError, SettingsError
from hub.logs import BadRequestFilter, RepeatFilter
from hub.metrics import FLOW
from hub.settings import HubSettings
from hub.stages._base import Out, StageBase, Step
from hub.stream import (
    HubAssignor,
    KafkaEmitter,
    Outputs,
    Pipeline,
    Stage,
    Table,
    bind,
    together,
    unbind,
)
from hub.stream._pipeline import STALL_SECONDS
from hub.stream._table import decode_value, encode_value
from hub.wire import KEPT_BYTES, HubHeaders, MemoryEmitter, dead_letter_entry, header_of


class _Cluster:
    def __init__(self, partitions: dict[str, int]) -> None:
        self.partitions = partitions

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        n = self.partitions.get(topic)
        return set(range(n)) if n is not None else None


def _member(assignor: HubAssignor, topics: list[str]) -> ConsumerProtocolMemberMetadata:
    return assignor.metadata(topics)


def test_the_assignor_gives_partition_n_of_co_partitioned_topics_to_one_worker() -> None:
    topics = ["enf.order.v1", "enf.order-event.v1", "raw.bigdata.v1"]
    cluster = _Cluster({"enf.order.v1": 6, "enf.order-event.v1": 6, "raw.bigdata.v1": 3})
    workers = {
        "m-b": HubAssignor("http://10.0.0.2:8080", "worker-b"),
        "m-a": HubAssignor("http://10.0.0.1:8080", "worker-a"),
    }
    members = {m: _member(a, topics) for m, a in workers.items()}
    leader = workers["m-a"]
    assignment = leader.assign(cluster, members)  # type: ignore[arg-type]
    for member, given in assignment.items():
        mine = dict(given.assignment)
        assert mine["enf.order.v1"] == mine["enf.order-event.v1"]
        workers[member].on_assignment(given)
    # ordered by instance id, not by the (random) member id
    assert dict(assignment["m-a"].assignment)["enf.order.v1"] == [0, 1, 2]
    assert dict(assignment["m-b"].assignment)["enf.order.v1"] == [3, 4, 5]
    every = {p for g in assignment.values() for p in dict(g.assignment)["raw.bigdata.v1"]}
    assert every == {0, 1, 2}
    for assignor in workers.values():  # every member knows where every partition is
        assert assignor.owner("enf.order.v1", 4) == "http://10.0.0.2:8080"
        assert assignor.owner("enf.order.v1", 0) == "http://10.0.0.1:8080"
        assert sorted(assignor.placement) == ["http://10.0.0.1:8080", "http://10.0.0.2:8080"]


def test_the_assignor_deals_topics_without_tables_round_robin() -> None:
    raw = [f"raw.street-{n}.v1" for n in range(7)]
    topics = ["enf.order.v1", "enf.order-event.v1", *raw]
    cluster = _Cluster({"enf.order.v1": 6, "enf.order-event.v1": 6, **dict.fromkeys(raw, 1)})
    workers = {
        f"m-{n}": HubAssignor(f"http://10.0.0.{n}:8080", f"worker-{n}") for n in range(3)
    }
    for assignor in workers.values():
        assignor.spread = set(raw)
    members = {m: _member(a, topics) for m, a in workers.items()}
    assignment = workers["m-1"].assign(cluster, members)  # type: ignore[arg-type]
    held = {m: dict(given.assignment) for m, given in assignment.items()}
    # one-partition raw topics spread 3/2/2, not all on the holder of partition 0
    counts = sorted(sum(t in raw for t in mine) for mine in held.values())
    assert counts == [2, 2, 3]
    assert sorted(t for mine in held.values() for t in mine if t in raw) == sorted(raw)
    # the co-partitioned topics keep their ranges
    assert [held[f"m-{n}"]["enf.order.v1"] for n in range(3)] == [[0, 1], [2, 3], [4, 5]]
    for mine in held.values():
        assert mine["enf.order.v1"] == mine["enf.order-event.v1"]
    # the same members, the same deal (a restarted static member gets its topics back)
    again = workers["m-2"].assign(cluster, members)  # type: ignore[arg-type]
    assert {m: dict(g.assignment) for m, g in again.items()} == held


def test_a_table_write_waits_for_the_record_and_its_reader_sees_it_first() -> None:
    table = Table("orders", "hub", 6)
    outputs = Outputs(partition=2)
    token = bind(outputs)
    try:
        table["o-1"] = {"state": "ISSUED"}
        assert table.get("o-1") == {"state": "ISSUED"}  # the record sees its own write
        assert "o-1" in table
    finally:
        unbind(token)
    assert table.get("o-1") is None  # not applied: its outputs are not acknowledged yet
    [write] = outputs.writes.values()
    assert (write.partition, write.key, write.value) == (2, "o-1", {"state": "ISSUED"})
    write.table.apply(write.partition, write.key, write.value)
    assert table.get("o-1") == {"state": "ISSUED"}
    assert table.held() == {2}
    table.drop(2)
    assert table.get("o-1") is None


def test_a_table_refuses_writes_outside_a_record() -> None:
    table = Table("orders", "hub", 6)
    with pytest.raises(RuntimeError, match="only while a record is processed"):
        table["o-1"] = {}


def _message(value: bytes, headers: list[tuple[str, bytes | None]]) -> SimpleNamespace:
    return SimpleNamespace(
        topic="enf.order.v1", partition=3, offset=42, key=b"order-1", value=value,
        headers=headers,
    )


def test_a_dlq_entry_keeps_the_original_bytes_when_they_fit() -> None:
    value = b"\x00" + b"x" * 1000
    message = _message(value, [("hub.trace_id", None), ("hub.kind", b"order")])
    key, kept, headers = dead_letter_entry(
        message, "decode", "DecodeError", "not Avro", connector=b"dispatch", limit=1 << 20
    )
    names = dict(headers)
    assert (key, kept) == (b"order-1", value)
    assert names["hub.trace_id"] == b""  # a null header is kept, as empty bytes
    assert names["hub.error.source.offset"] == b"42"
    assert "hub.error.truncated" not in names
    assert header_of(message, "hub.trace_id") is None


def test_a_dlq_entry_too_large_for_the_topic_keeps_headers_digest_and_first_bytes() -> None:
    value = b"\x00" + b"y" * (1 << 20)
    key, kept, headers = dead_letter_entry(
        _message(value, []), "decode", "DecodeError", "too big", connector=b"dispatch",
        limit=1 << 20,
    )
    names = dict(headers)
    assert len(kept) == KEPT_BYTES and value.startswith(kept)
    assert names["hub.error.truncated"] == b"true"
    assert names["hub.error.original.bytes"] == str(len(value)).encode()
    assert names["hub.error.original.sha256"] == hashlib.sha256(value).hexdigest().encode()
    assert names["hub.error.source.topic"] == b"enf.order.v1"  # the whole record is there


def test_kafka_client_warnings_are_let_through_once_per_window() -> None:
    repeats = RepeatFilter(every=60.0)

    def record(name: str, msg: str, level: int = logging.ERROR) -> logging.LogRecord:
        return logging.LogRecord(name, level, __file__, 1, msg, None, None)

    assert repeats.filter(record("aiokafka.conn", "Unable connect to %s"))
    assert not repeats.filter(record("aiokafka.conn", "Unable connect to %s"))
    assert not repeats.filter(record("aiokafka.conn", "Unable connect to %s"))
    assert repeats.filter(record("aiokafka.conn", "another message"))
    assert repeats.filter(record("hub.stream", "Unable connect to %s"))  # not a client
    assert repeats.filter(record("aiokafka.conn", "Unable connect to %s", logging.INFO))
    repeats.every = 0.0
    again = record("aiokafka.conn", "Unable connect to %s")
    assert repeats.filter(again)
    assert "2 more like it" in str(again.msg)


def test_a_request_aiohttp_cannot_parse_is_one_warning_without_a_traceback() -> None:
    """A client's NUL in a header is the client's mistake (it got a 400), not an ERROR."""
    bad = BadRequestFilter()
    try:
        raise BadHttpMessage("Invalid header value char:\n\n    b'X-Probe: \\x00'")
    except BadHttpMessage:
        record = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1,
                                   "Error handling request from %s", ("127.0.0.1",),
                                   sys.exc_info())
    assert bad.filter(record)
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert record.getMessage() == (
        "refused a malformed HTTP request (400): Invalid header value char: b'X-Probe: \\x00'"
    )
    try:
        raise RuntimeError("a handler bug")
    except RuntimeError:
        real = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "Error", None,
                                 sys.exc_info())
    assert bad.filter(real) and real.levelno == logging.ERROR and real.exc_info is not None


def test_the_gateway_body_limit_must_leave_room_below_the_record_limit() -> None:
    with pytest.raises((SettingsError, ValueError), match="HUB_GATEWAY_BODY_LIMIT"):
        HubSettings(gateway_body_limit=1024 * 1024, kafka_record_limit=1024 * 1024)
    fine = HubSettings(gateway_body_limit=900 * 1024)
    assert fine.gateway_body_limit + 64 * 1024 <= fine.kafka_record_limit


def test_an_inbox_walk_drops_the_repeats_it_can_see() -> None:
    from hub.http.inbox import _Repeats
    from hub.wire import InboxItem

    seen = _Repeats()
    first = InboxItem(0, 7, b"order-1", b"\x00avro", {"hub.kind": b"order"})
    again = InboxItem(0, 9, b"order-1", b"\x00avro", {"hub.kind": b"order"})
    other = InboxItem(0, 8, b"order-1", b"\x00event", {"hub.kind": b"order-event"})
    assert [seen.again(i) for i in (first, other, again)] == [False, False, True]


# ------------------------------------------------------------- pipeline alarms


class _Consumer:
    """What the pipeline asks of its consumer between batches: assignment, high-water."""

    def __init__(self, highwater: dict[TopicPartition, int]) -> None:
        self.marks = highwater
        self.ends: dict[TopicPartition, int] = {}  # written since the last fetch
        self.seeks: list[tuple[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return set(self.marks)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.marks.get(tp)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        """The log ends the broker answers (ListOffsets); here: what was written since."""
        return {tp: self.ends.get(tp, self.marks[tp]) for tp in tps}


def _pipeline(seen: list[int], topic: str) -> Pipeline:
    async def handle(records: Any) -> None:
        seen.extend(record.offset for record in records)

    pipeline = Pipeline(HubSettings(), "http://127.0.0.1:1", "unit")
    pipeline.add(Stage("unit", (topic,), handle))
    return pipeline


def _records(topic: str, offsets: list[int]) -> list[SimpleNamespace]:
    return [SimpleNamespace(topic=topic, partition=0, offset=o, key=b"k", value=b"v",
                            headers=[]) for o in offsets]


def _sample(name: str, topic: str) -> float:
    value = FLOW.get_sample_value(name, {"topic": topic})
    return 0.0 if value is None else value


async def test_a_hole_in_a_partition_is_counted_and_logged_and_the_records_after_it_flow(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Offsets 3-5 never came back from the broker: the hole is alarmed (the counter an
    alert watches, an ERROR naming the offsets), the records around it are processed,
    and a redelivered record below the position is not processed twice."""
    topic = "unit.gaps.v1"
    seen: list[int] = []
    pipeline = _pipeline(seen, topic)
    tp = TopicPartition(topic, 0)
    pipeline.ready.add(tp)
    before = _sample("hub_offset_gaps_total", topic)
    assert await pipeline._process_batch({tp: _records(topic, [0, 1, 2])})
    with caplog.at_level(logging.ERROR, logger="hub.stream"):
        assert await pipeline._process_batch({tp: _records(topic, [2, 6, 7])})
    assert seen == [0, 1, 2, 6, 7]
    assert _sample("hub_offset_gaps_total", topic) == before + 1
    assert "jumped from offset 3 to 6; records 3-5" in caplog.text
    assert pipeline.progress[tp].done == 8


async def test_a_partition_with_records_that_does_not_move_is_a_stall_on_the_gauge() -> None:
    topic = "unit.stalls.v1"
    pipeline = _pipeline([], topic)
    tp = TopicPartition(topic, 0)
    pipeline.ready.add(tp)
    assert await pipeline._process_batch({tp: _records(topic, [0, 1])})
    consumer = _Consumer({tp: 2})
    pipeline.consumer = consumer  # type: ignore[assignment]
    pipeline._alarm_stalls()
    assert _sample("hub_partitions_stalled", topic) == 0  # caught up
    consumer.marks[tp] = 9  # records up to 9 arrive, the stage does not take them
    pipeline._alarm_stalls()
    assert _sample("hub_partitions_stalled", topic) == 0  # not yet for 60 s
    pipeline.progress[tp].moved_at -= STALL_SECONDS + 1
    pipeline._alarm_stalls()
    assert _sample("hub_partitions_stalled", topic) == 1
    assert await pipeline._process_batch({tp: _records(topic, list(range(2, 9)))})
    pipeline._alarm_stalls()
    assert _sample("hub_partitions_stalled", topic) == 0  # moving again


class _Coordinator:
    def __init__(self) -> None:
        self.rejoins = 0

    def request_rejoin(self) -> None:
        self.rejoins += 1


class _FencedProducer:
    """A fence producer whose open transaction the broker aborted (transaction timeout
    while brokers were down): aiokafka says ProducerFenced."""

    stopped = False

    async def begin_transaction(self) -> None:
        return None

    async def send(self, *args: Any, **kwargs: Any) -> None:
        raise ProducerFenced()

    async def stop(self) -> None:
        self.stopped = True


async def test_a_lost_fence_sends_the_worker_back_to_its_group_not_into_a_retry_loop() -> None:
    """Found by the brokers fault case: a fence producer fenced by a transaction timeout
    while two brokers were down, whose reopening then timed out, left its partition with
    no fence for good; every retry of its stage said 'not this worker's any more' and the
    partition never moved again (199 s, until the case ended). Now a lost fence makes
    the worker rejoin its group, whose assignment starts the fence again (or gives the
    partition to its new owner)."""
    pipeline = _pipeline([], "unit.fence.v1")
    coordinator = _Coordinator()
    pipeline.consumer = SimpleNamespace(_coordinator=coordinator)  # type: ignore[assignment]
    pipeline.rebalancing = False  # assigned and running
    fence = ("orders+parked-events", 1)
    producer = _FencedProducer()
    pipeline._fences[fence] = producer  # type: ignore[assignment]
    table = SimpleNamespace(changelog="unit-orders-changelog")
    write = SimpleNamespace(table=table, key="k", value={"v": 1}, partition=1)

    with pytest.raises(ProducerFenced):
        await pipeline._write_state(fence, [write])  # type: ignore[list-item]
    assert producer.stopped and fence not in pipeline._fences
    assert coordinator.rejoins == 1

    with pytest.raises(HubError, match="rejoining"):
        await pipeline._write_state(fence, [write])  # type: ignore[list-item]
    assert coordinator.rejoins == 2

    # mid-rebalance (fences closed and not yet opened again) a write that finds none
    # waits for the assignment; asking to rejoin then would start the rebalance again
    pipeline.rebalancing = True
    with pytest.raises(HubError):
        await pipeline._write_state(fence, [write])  # type: ignore[list-item]
    assert coordinator.rejoins == 2


async def test_the_first_records_after_an_assignment_are_in_flight_until_done() -> None:
    """While the worker handles the first record it was handed (its outputs may already
    be out, its state not yet), that record's partition is in flight: a reader of the
    state waits (503) instead of taking it for absent (404). The consumer's position is
    already past the record, so it cannot tell."""
    topic = "unit.first.v1"
    tp = TopicPartition(topic, 0)
    during: list[bool] = []
    pipeline = Pipeline(HubSettings(), "http://127.0.0.1:1", "unit")

    async def handle(records: Any) -> None:
        during.append(pipeline.in_flight(topic, 0))

    pipeline.add(Stage("unit", (topic,), handle))
    pipeline.ready.add(tp)
    consumer = _Consumer({tp: 8})
    # where aiokafka keeps the position: already past the record being handled
    position = SimpleNamespace(has_valid_position=True, position=8)
    consumer._subscription = SimpleNamespace(subscription=SimpleNamespace(  # type: ignore[attr-defined]
        assignment=SimpleNamespace(state_value=lambda _: position)))
    pipeline.consumer = consumer  # type: ignore[assignment]
    assert await pipeline._process_batch({tp: _records(topic, [7])})
    assert during == [True]
    assert not pipeline.in_flight(topic, 0)  # done: 8 of 8


async def test_every_partition_of_the_first_batch_is_in_flight_until_its_records_are_done(
) -> None:
    """Found by the sigstop fault case: the first batch after an assignment held records
    of two partitions; while the worker handled the first partition's, the second's were
    fetched (the consumer's position past them) and not yet marked, so an order event
    admitted meanwhile saw 'nothing in flight' and was refused 409 against a view that
    its order's SIGNED, in that very batch, had not reached yet."""
    topic = "unit.first.v1"
    first, second = TopicPartition(topic, 0), TopicPartition(topic, 1)
    during: list[bool] = []
    pipeline = Pipeline(HubSettings(), "http://127.0.0.1:1", "unit")

    async def handle(records: Any) -> None:
        if records[0].partition == 0:
            during.append(pipeline.in_flight(topic, 1))

    pipeline.add(Stage("unit", (topic,), handle))
    pipeline.ready |= {first, second}
    consumer = _Consumer({first: 8, second: 5})
    positions = {first: 8, second: 5}  # both past what the batch holds
    consumer._subscription = SimpleNamespace(subscription=SimpleNamespace(  # type: ignore[attr-defined]
        assignment=SimpleNamespace(state_value=lambda tp: SimpleNamespace(
            has_valid_position=True, position=positions[tp]))))
    pipeline.consumer = consumer  # type: ignore[assignment]
    later = [SimpleNamespace(**{**vars(r), "partition": 1}) for r in _records(topic, [4])]
    assert await pipeline._process_batch({first: _records(topic, [7]), second: later})
    assert during == [True]
    assert not pipeline.in_flight(topic, 1)  # done: 5 of 5


async def test_a_record_written_since_the_last_fetch_is_in_flight_when_the_broker_is_asked(
) -> None:
    """Found by the sigstop fault case: a worker frozen past its session timeout answered
    REPORTED with 202 once it woke (its write went out), and FEEDBACK, sent next to the
    partition's new owner, was refused 409 'not in state SIGNED': its last fetch had not
    seen REPORTED yet, so it thought itself settled. Before refusing, the owner asks the
    broker where the log ends."""
    topic = "unit.since.v1"
    tp = TopicPartition(topic, 0)
    pipeline, consumer = _done_to_5(topic)
    assert not pipeline.in_flight(topic, 0)  # as far as the last fetch saw
    consumer.ends = {tp: 6}  # REPORTED, written since
    assert await pipeline.in_flight_now(topic, 0)
    consumer.ends = {tp: 5}
    assert not await pipeline.in_flight_now(topic, 0)


def _done_to_5(topic: str) -> tuple[Pipeline, _Consumer]:
    """A pipeline owning topic's partition 0 with offsets 0-4 done, and its consumer
    (which has fetched to 5)."""
    tp = TopicPartition(topic, 0)
    pipeline = Pipeline(HubSettings(), "http://127.0.0.1:1", "unit")
    pipeline.add(Stage("unit", (topic,), _ignore))
    pipeline.ready.add(tp)
    consumer = _Consumer({tp: 5})
    pipeline.consumer = consumer  # type: ignore[assignment]
    pipeline.progress[tp] = SimpleNamespace(done=5)  # type: ignore[assignment]
    return pipeline, consumer


async def _ignore(records: Any) -> None:
    return None


class _LeaveClient:
    """The restorer's client as `_leave` uses it: metadata that may lack the
    coordinator's broker, and sends that fail until it is learnt (or once, anyway)."""

    def __init__(self, knows: bool, fails: int) -> None:
        self.knows, self.fails, self.updates, self.sent = knows, fails, 0, 0
        self.cluster = SimpleNamespace(broker_metadata=lambda node: object() if self.knows
                                       else None)

    async def force_metadata_update(self) -> bool:
        self.updates += 1
        self.knows = True
        return True

    async def send(self, node: int, request: Any) -> Any:
        self.sent += 1
        if not self.knows or self.fails:
            self.fails -= 1
            raise NodeNotReadyError(f"node {node}")
        return SimpleNamespace(error_code=0, members=[("m", "w1", 0)])


@pytest.mark.parametrize(("knows", "fails"), [(False, 0), (True, 1)])
async def test_a_stopping_worker_leaves_its_group_after_brokers_came_back(
    knows: bool, fails: int
) -> None:
    """Found by the brokers fault case: after brokers restarted, the client sending
    LeaveGroup did not know the coordinator's broker ('not in current metadata'), the
    worker stopped without leaving (exit 1) and its partitions waited for the session
    timeout. It learns the cluster again and sends once more."""
    pipeline = Pipeline(HubSettings(), "http://127.0.0.1:1", "unit")
    client = _LeaveClient(knows, fails)
    pipeline._restorer = SimpleNamespace(_client=client)  # type: ignore[assignment]
    assert await pipeline._leave(3, "member-1", 2.0) is None
    assert client.updates == 1
    always = _LeaveClient(True, 5)
    pipeline._restorer = SimpleNamespace(_client=always)  # type: ignore[assignment]
    problem = await pipeline._leave(3, "member-1", 2.0)
    assert problem is not None and "could not leave" in problem and always.sent == 2


async def test_a_timers_sends_go_out_together_and_are_acknowledged_at_the_end() -> None:
    acks: list[asyncio.Future[None]] = []

    class Producer:
        async def send(self, topic: str, **kwargs: Any) -> asyncio.Future[None]:
            acks.append(asyncio.get_running_loop().create_future())
            return acks[-1]

    emitter = KafkaEmitter(cast(Any, SimpleNamespace(producer=Producer(), timeout=5.0)))

    async def acknowledge() -> int:
        await asyncio.sleep(0.05)
        sent = len(acks)  # every send went out before the first acknowledgement
        for ack in acks:
            ack.set_result(None)
        return sent

    acknowledging = asyncio.create_task(acknowledge())
    async with together(5.0):
        for n in range(3):
            await emitter.send("enf.order-event.v1", str(n).encode(), b"notice", [])
    assert await acknowledging == 3
    assert all(ack.done() for ack in acks)
    with pytest.raises(RuntimeError, match="tables change only while a record is processed"):
        async with together(5.0):
            Table("orders", "hub", 1)["a"] = {"n": 1}


async def test_a_timers_notices_cut_short_by_kafka_cost_that_round_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Away:
        async def send(self, *args: Any, **kwargs: Any) -> None:
            raise NodeNotReadyError("broker away")

    stage = StageBase(cast(Any, Away()), cast(Any, None), lambda: cast(Any, None))
    notice = Out("enf.order-event.v1", b"order", HubHeaders(kind="order-event"), value=b"x")
    assert await stage.apply_timed(Step(out=[notice])) is False
    assert "1 notices not all sent" in caplog.text
    assert await StageBase(MemoryEmitter(), cast(Any, None), lambda: cast(Any, None)).apply_timed(
        Step(out=[notice])
    ) is True


class _Restorer:
    """A group-less consumer as the pipeline's restorer uses it: one changelog partition
    of three records, read to its end."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.assigned: list[TopicPartition] = []
        self.at = 0
        self.log = [
            SimpleNamespace(offset=0, key=b'"a"', value=b'{"n":1}'),
            SimpleNamespace(offset=1, key=b'"b"', value=b'{"n":2}'),
            SimpleNamespace(offset=2, key=b'"a"', value=None),  # deleted
        ]

    def assign(self, tps: list[TopicPartition]) -> None:
        self.assigned = list(tps)

    def unsubscribe(self) -> None:
        self.assigned = []

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        self.at = 0

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        if self.fail:
            raise NodeNotReadyError("broker away")
        return {tp: len(self.log) for tp in tps}

    async def position(self, tp: TopicPartition) -> int:
        return self.at

    async def getmany(self, tp: TopicPartition, timeout_ms: int) -> dict[Any, list[Any]]:
        batch, self.at = self.log[self.at:], len(self.log)
        return {tp: batch}


@pytest.mark.parametrize("fail", [False, True])
async def test_a_table_restored_leaves_its_changelog_unassigned(fail: bool) -> None:
    """Left assigned, the restorer fetched the changelogs every 20 ms for as long as the
    worker ran: most of an idle worker's CPU."""
    pipeline = Pipeline(HubSettings(), "http://127.0.0.1:1", "unit")
    restorer = _Restorer(fail)
    pipeline._restorer = cast(Any, restorer)
    table = Table("orders", "hub", 1)
    if fail:
        with pytest.raises(NodeNotReadyError):
            await pipeline._read_changelog(table, [0])
    else:
        assert await pipeline._read_changelog(table, [0]) == 3
        assert dict(table.items()) == {"b": {"n": 2}}
    assert restorer.assigned == []


def test_table_values_round_trip_and_what_the_json_module_wrote_reads_the_same() -> None:
    value = {"order_id": "o-1", "reason": "不属于本部门职责", "buckets": {"168": 1}, "n": 2.5,
             "history": [{"at": "2026-12-03T08:00:00+00:00"}], "deadline": None}
    assert decode_value(encode_value(value)) == value
    earlier = json.dumps(value, separators=(",", ":")).encode()  # a changelog of an earlier hub
    assert decode_value(earlier) == value
    assert encode_value(None) is None and decode_value(None) is None


async def test_a_run_that_outlasts_its_time_limit_is_handled_in_shorter_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Found by the contract fault case: the subscriptions stage reads a dataset for each
    delivery, a run of 149 of them took longer than the run's time limit, and the same
    run timed out on every retry (the stage stuck, its readers answered 503). A run that
    times out is handled again in runs a quarter as long, which grow back as they pass."""
    topic = "unit.slow.v1"
    seen: list[int] = []
    runs: list[int] = []

    async def handle(records: Any) -> None:
        runs.append(len(records))
        for record in records:
            await asyncio.sleep(0.01)  # each record waits on Kafka
            seen.append(record.offset)

    pipeline = Pipeline(HubSettings(kafka_timeout=0.05), "http://127.0.0.1:1", "unit")
    pipeline.add(Stage("unit", (topic,), handle))
    tp = TopicPartition(topic, 0)
    pipeline.ready.add(tp)
    offsets = list(range(40))  # 0.4 s of work against a limit of 0.1 s + 5 ms a record
    with caplog.at_level(logging.WARNING, logger="hub.stream"):
        assert not await pipeline._process_batch({tp: _records(topic, offsets)})
    assert pipeline.progress[tp].done == 0 and "runs of at most 10" in caplog.text
    for _ in range(10):
        done = pipeline.progress[tp].done or 0
        if done == 40:
            break
        await pipeline._process_batch({tp: _records(topic, offsets[done:])})
    assert pipeline.progress[tp].done == 40
    assert runs[0] == 40 and runs[1] == 10 and max(runs[1:]) < 40
    assert sorted(set(seen)) == offsets


async def test_a_busy_partition_counts_as_applied_once_what_came_before_the_question_is_done(
) -> None:
    """Found by the contract fault case: the pump writes subscription deliveries all the
    time, so the subscriptions partition was never idle and a look-up of an id not (yet)
    in the table answered 503 for the whole case. `applied_to_now` asks where the log
    ends once and waits, bounded, for the records before that end only."""
    topic = "unit.busy.v1"
    tp = TopicPartition(topic, 0)
    pipeline, consumer = _done_to_5(topic)
    consumer.ends = {tp: 8}

    async def busy() -> None:  # records done, and more written all the while
        for _ in range(6):
            await asyncio.sleep(0.03)
            pipeline.progress[tp].done += 1
            consumer.ends[tp] += 1

    going = asyncio.create_task(busy())
    assert await pipeline.applied_to_now(topic, 0, 1.0)  # 8 reached; later ones not waited for
    await going
    consumer.ends = {tp: 30}
    assert not await pipeline.applied_to_now(topic, 0, 0.1)  # not done in time
    pipeline.ready.discard(tp)
    consumer.ends = {tp: 0}
    assert not await pipeline.applied_to_now(topic, 0, 0.1)  # not ours: cannot tell

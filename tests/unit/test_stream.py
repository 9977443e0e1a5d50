"""The stream runtime's parts without a broker: the assignor, tables and their held
writes, DLQ entries of oversized and malformed records, log rate limiting, limits."""

from __future__ import annotations

import hashlib
import logging
import sys
from types import SimpleNamespace

import pytest
from aiohttp.http_exceptions import BadHttpMessage
from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata

from hub._guard import KEPT_BYTES, dead_letter_entry, header_of
from hub.errors import SettingsError
from hub.logs import BadRequestFilter, RepeatFilter
from hub.settings import HubSettings
from hub.stream import HubAssignor, Outputs, Table, bind, unbind


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
    from hub.gateway._app import _Repeats
    from hub.gateway._kafka import InboxItem

    seen = _Repeats()
    first = InboxItem(0, 7, b"order-1", b"\x00avro", {"hub.kind": b"order"})
    again = InboxItem(0, 9, b"order-1", b"\x00avro", {"hub.kind": b"order"})
    other = InboxItem(0, 8, b"order-1", b"\x00event", {"hub.kind": b"order-event"})
    assert [seen.again(i) for i in (first, other, again)] == [False, False, True]

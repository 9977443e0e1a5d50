"""The Kafka edge (`hub.wire`): topic names come from ``topics/*.yaml``, headers are
written and read in one place, a key lands where Kafka's own partitioner puts it, and
the one DLQ writer keeps the original bytes and says why."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.record.default_records import DefaultRecordBatch
from kafka.partitioner.default import murmur2 as kafka_murmur2

from hub.errors import TopicSpecError
from hub.records import KINDS
from hub.reference import load_parties
from hub.settings import HubSettings
from hub.topics import load_topics
from hub.wire import (
    DLQ_TOPIC,
    BulkWriter,
    HubHeaders,
    MemoryEmitter,
    dead_letter,
    header_of,
    inbox_topic,
    partition_for,
    party_of,
    raw_topic,
)
from hub.wire._topics import DECLARATIONS, _by_role, murmur2


def test_per_party_topic_names_are_the_declared_templates() -> None:
    assert raw_topic("street-zhongnan") == "raw.street-zhongnan.v1"
    assert inbox_topic("procuratorate") == "out.procuratorate.v1"
    assert party_of("out.street-zhongnan.v1", "inbox") == "street-zhongnan"
    assert party_of("raw.dept-urban.v1", "raw") == "dept-urban"
    assert party_of("raw.dept-urban.v1", "inbox") is None
    assert party_of("out..v1", "inbox") is None


def test_every_topic_the_hub_names_is_declared() -> None:
    settings = HubSettings()
    parties = load_parties(settings.parties_file)
    declared = {spec.name for spec in load_topics(DECLARATIONS, parties)}
    named = {DLQ_TOPIC, *(kind.topic for kind in KINDS.values())}
    named |= {raw_topic(p.id) for p in parties.with_inbox()}
    named |= {inbox_topic(p.id) for p in parties.with_inbox()}
    assert named - declared == set()


def test_a_role_held_twice_is_refused(tmp_path: Path) -> None:
    twice = "\n".join(
        f"  - name: {name}\n    role: dlq\n    doc: d\n    partitions: 1"
        for name in ("a.v1", "b.v1")
    )
    (tmp_path / "t.yaml").write_text(f"topics:\n{twice}\n", encoding="utf-8")
    with pytest.raises(TopicSpecError, match="role 'dlq' is also held by topic a.v1"):
        _by_role(tmp_path)


def test_a_missing_role_is_named(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(
        "topics:\n  - name: a.v1\n    role: dlq\n    doc: d\n    partitions: 1\n",
        encoding="utf-8",
    )
    with pytest.raises(TopicSpecError, match="no topic declares role raw, inbox, audit"):
        _by_role(tmp_path)


# murmur2 of these keys as the Java client computes it (Kafka's UtilsTest.testMurmur2)
JAVA_MURMUR2 = {"21": -973932308, "foobar": -790332482, "abc": 479470107,
                "a-little-bit-long-string": -985981536}


@pytest.mark.parametrize(("key", "java"), sorted(JAVA_MURMUR2.items()))
def test_a_key_lands_where_kafkas_partitioner_puts_it(key: str, java: int) -> None:
    for partitions in (1, 3, 6, 7):
        assert partition_for(key, partitions) == (java & 0x7FFFFFFF) % partitions
        assert partition_for(key.encode(), partitions) == partition_for(key, partitions)


def test_the_hubs_murmur2_is_kafka_pythons_for_every_length_and_byte() -> None:
    """The hub's faster murmur2 (words read at once) against kafka-python's byte-by-byte
    port of Java's, on keys of every tail length and bytes above 0x7f."""
    rng = random.Random(20)  # noqa: S311 - test data
    for length in range(0, 70):
        for _ in range(25):
            data = bytes(rng.randrange(256) for _ in range(length))
            assert murmur2(data) == kafka_murmur2(data), data


def test_headers_round_trip_in_a_fixed_order() -> None:
    headers = HubHeaders(kind="order", trace_id="ab" * 16, source_party="street-zhongnan")
    assert headers.to_kafka() == [
        ("hub.kind", b"order"),
        ("hub.trace_id", b"ab" * 16),
        ("hub.source_party", b"street-zhongnan"),
    ]
    assert HubHeaders.from_kafka(headers.to_kafka()) == headers


def test_a_strangers_headers_do_not_break_the_reader() -> None:
    read = HubHeaders.from_kafka(
        [("hub.kind", None), ("hub.trace_id", b"\xff\xfe"), ("x-other", b"1"),
         ("hub.native.kind", b"urban-case")]
    )
    assert read == HubHeaders(native_kind="urban-case")
    assert HubHeaders.from_kafka(None) == HubHeaders()


async def test_the_dlq_writer_keeps_the_record_and_says_why() -> None:
    out = MemoryEmitter()
    message = SimpleNamespace(
        topic="enf.order.v1", partition=2, offset=41, key=b"o-1", value=b"\x00bad",
        headers=[("hub.kind", b"order")],
    )
    await dead_letter(
        out, message, "lifecycle", "event.not_in_state", "SIGNED before ISSUED",
        connector=b"dispatch", field="event_type", limit=1024 * 1024,
    )
    ((key, value, headers),) = out.to(DLQ_TOPIC)
    assert (key, value) == (b"o-1", b"\x00bad")
    seen = SimpleNamespace(headers=headers)
    assert header_of(seen, "hub.kind") == b"order"
    assert header_of(seen, "hub.error.class") == b"event.not_in_state"
    assert header_of(seen, "hub.error.field") == b"event_type"
    assert header_of(seen, "hub.error.source.offset") == b"41"


async def test_a_bulk_load_lands_where_send_would_put_it_in_order_and_whole() -> None:
    """`BulkWriter` (the shared loads): a keyed record goes to the partition Kafka's
    partitioner gives its key, records of a partition stay in order in one batch until it
    is full, and `flush` sends what is being filled and waits for every batch."""
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", max_batch_size=2048)
    sent: list[tuple[str, int, list[tuple[bytes | None, bytes | None]]]] = []
    acks: list[asyncio.Future[None]] = []

    async def send_batch(batch: Any, topic: str, *, partition: int) -> asyncio.Future[None]:
        built = DefaultRecordBatch(bytes(batch._build()))  # the bytes aiokafka would send
        sent.append((topic, partition, [(r.key, r.value) for r in built]))
        acks.append(asyncio.get_running_loop().create_future())
        acks[-1].set_result(None)
        return acks[-1]

    async def partitions_for(topic: str) -> set[int]:
        return {0, 1, 2}

    producer.send_batch = send_batch  # type: ignore[method-assign]
    producer.partitions_for = partitions_for  # type: ignore[method-assign]
    bulk = BulkWriter(producer, "share.entity.v1")
    keys = [f"9142010{n:011d}".encode() for n in range(40)]
    for key in keys:  # ~600 bytes each: a 2 KB batch holds three
        await bulk.add(key, b"x" * 600)
    assert len(sent) > 3  # the full ones went as they filled
    await bulk.flush()
    assert len(acks) == len(sent) and all(ack.done() for ack in acks)
    placed: dict[int, list[bytes | None]] = {}
    for topic, partition, records in sent:
        assert topic == "share.entity.v1" and 1 <= len(records) <= 3
        for key, _ in records:
            placed.setdefault(partition, []).append(key)
    assert sorted(k for ks in placed.values() for k in ks if k) == sorted(keys)
    for partition, placed_keys in placed.items():
        assert all(partition_for(k, 3) == partition for k in placed_keys if k)
        assert placed_keys == [k for k in keys if partition_for(k, 3) == partition]  # order
    await producer.stop()

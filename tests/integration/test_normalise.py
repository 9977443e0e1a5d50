"""Normalisation end to end: a `hub worker` maps native records of ``raw.<party>.v1`` to
canonical ones, parks those that do not map in the DLQ with the rule and the native
field, and ``POST /v1/native/{kind}`` answers 202 or a precise 422 at once.

On the secured cluster (issue 18), as a party system that speaks Kafka would: the
department's own principal writes its raw topic, the street's own principal reads its
inbox, the worker runs as ``hub-worker``; the canonical topics are watched as the admin
and the DLQ as ``hub-ops``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from hub.registry import RegistryClient
from hub.serde import AvroSerde
from hub.wire import replay_target
from tests.integration.conftest import (
    SecureCluster,
    TopicWatch,
    Worker,
    clue_id,
    header,
    hub_worker,
    urban_case,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="module")]

RAW = "raw.dept-urban.v1"
DLQ = "hub.dlq.v1"


@pytest.fixture(scope="module")
def worker_process(
    secure_cluster: SecureCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    with hub_worker(secure_cluster, tmp_path_factory.mktemp("normalise")) as started:
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def worker(worker_process: Worker) -> AsyncIterator[Worker]:
    async with (
        aiohttp.ClientSession() as http,
        RegistryClient(worker_process.base + "/registry") as registry,
    ):
        producer = AIOKafkaProducer(  # the department's system, logged in as itself
            **worker_process.login("dept-urban"), acks="all", enable_idempotence=True
        )
        await producer.start()
        worker_process.http = http
        worker_process.serde = AvroSerde(registry)
        worker_process.producer = producer
        try:
            yield worker_process
        finally:
            await producer.stop()


def native(case_no: str, **changes: Any) -> bytes:
    return json.dumps(
        urban_case(case_no, street="积玉桥街道", **changes), ensure_ascii=False
    ).encode()


def case_no() -> str:
    return f"CG{uuid.uuid4().hex[:14].upper()}"


KIND = [("hub.native.kind", b"urban-case")]


async def test_a_native_case_becomes_a_clue_and_an_assignment_for_the_street(
    worker: Worker,
) -> None:
    number = case_no()
    expected = clue_id(number)
    async with (
        TopicWatch(worker.login("admin"), "enf.clue.v1") as clues,
        TopicWatch(worker.login("street-jiyuqiao"), "out.street-jiyuqiao.v1") as inbox,
    ):
        await worker.produce(RAW, native(number), KIND, key=number.encode())
        try:
            written = (await clues.collect(1, lambda r: r.key == expected.encode(), 15))[0]
        except AssertionError:
            # the module's worker is a new group under HUB_KAFKA_OFFSET_RESET=latest: a
            # record written before it resolved where to start is behind that start.
            # The same record again makes the same clue (same id), once the worker reads.
            await worker.produce(RAW, native(number), KIND, key=number.encode())
            written = (await clues.collect(1, lambda r: r.key == expected.encode(), 30))[0]
        clue = await worker.serde.decode("clue", written.value)
        assert header(written, "hub.kind") == b"clue"
        assert header(written, "hub.native.kind") == b"urban-case"
        assert str(clue.record_id) == expected
        assert clue.source_party == "dept-urban"
        assert clue.source_id == number
        assert clue.matter_code == "URB-001"
        assert clue.street == "street-jiyuqiao"
        assert clue.origin == "GRID"
        assert clue.location.address == "和平大道388号"
        assert clue.occurred_at.isoformat() == "2026-11-25T01:30:15+00:00"

        # URB-001 is delegated to the streets: the street where it happened gets it
        async def is_assignment(record: Any) -> bool:
            if header(record, "hub.kind") != b"order":
                return False
            order = await worker.serde.decode("order", record.value)
            return str(order.subject_id) == expected

        found = None
        for _ in range(60):
            for record in await inbox.read(0.5):
                if await is_assignment(record):
                    found = await worker.serde.decode("order", record.value)
                    break
            if found is not None:
                break
        assert found is not None, "no ASSIGNMENT order for the clue in the street's inbox"
        assert found.order_type == "ASSIGNMENT"
        assert found.to_parties == ["street-jiyuqiao"]
        assert found.from_party == "dept-urban"


PARKED = [
    pytest.param({"小类": "99"}, None, "code.unknown", "大类+小类", id="unknown-category"),
    pytest.param({"地址": ""}, None, "field.missing", "地址", id="missing-address"),
    pytest.param({"上报时间": "2026-13-45 25:61"}, None, "date.invalid", "上报时间", id="bad-date"),
    pytest.param({}, "gbk", "encoding.invalid", "(payload)", id="gbk-bytes"),
    pytest.param({}, "truncated", "format.invalid", "(payload)", id="truncated"),
]


def _bad_payload(number: str, changes: dict[str, Any], damage: str | None) -> bytes:
    if damage == "gbk":
        text = json.dumps(urban_case(number, street="积玉桥街道"), ensure_ascii=False)
        return text.encode("gbk")
    if damage == "truncated":
        return native(number)[:-25]
    return native(number, **changes)


@pytest.mark.parametrize(("changes", "damage", "rule", "field"), PARKED)
async def test_a_record_that_does_not_map_is_parked_with_its_rule_and_native_field(
    worker: Worker, changes: dict[str, Any], damage: str | None, rule: str, field: str
) -> None:
    number = case_no()
    payload = _bad_payload(number, changes, damage)
    key = f"bad-{number}".encode()
    async with TopicWatch(worker.login("hub-ops"), DLQ) as dlq:
        await worker.produce(RAW, payload, [*KIND, ("hub.trace_id", b"trace-" + key)], key)
        (parked,) = await dlq.collect(1, lambda r: r.key == key)
    assert header(parked, "hub.error.stage") == b"map"
    assert header(parked, "hub.error.class") == rule.encode()
    assert header(parked, "hub.error.field") == field.encode()
    assert header(parked, "hub.error.source.topic") == RAW.encode()
    assert header(parked, "hub.error.connector") == b"normalise"
    assert int(header(parked, "hub.error.source.offset") or b"-1") >= 0
    assert header(parked, "hub.native.kind") == b"urban-case"  # its own headers kept
    assert header(parked, "hub.trace_id") == b"trace-" + key
    assert parked.value == payload  # the original bytes, untouched


async def test_an_unknown_native_kind_is_parked(worker: Worker) -> None:
    key = f"kind-{case_no()}".encode()
    async with TopicWatch(worker.login("hub-ops"), DLQ) as dlq:
        await worker.produce(RAW, native(case_no()), [("hub.native.kind", b"urban-kase")], key)
        (parked,) = await dlq.collect(1, lambda r: r.key == key)
    assert header(parked, "hub.error.class") == b"kind.unknown"
    assert header(parked, "hub.error.field") == b"hub.native.kind"
    assert b"urban-case" in (header(parked, "hub.error.message") or b"")  # its kinds


async def test_a_parked_record_replays_to_its_source_and_a_corrected_one_maps(
    worker: Worker,
) -> None:
    number = case_no()
    key = number.encode()
    async with TopicWatch(worker.login("hub-ops"), DLQ) as dlq:
        await worker.produce(RAW, native(number, 小类="99"), KIND, key)
        (parked,) = await dlq.collect(1, lambda r: r.key == key)
    topic, headers = replay_target([(k, bytes(v)) for k, v in parked.headers])
    assert topic == RAW
    assert [k for k, _ in headers if k.startswith("hub.error.")] == []
    assert dict(headers)["hub.native.kind"] == b"urban-case"

    # the operator corrects the record (the code table stays as it is) and replays it
    corrected = json.loads(parked.value)
    corrected["小类"] = "02"
    expected = clue_id(number)
    async with TopicWatch(worker.login("admin"), "enf.clue.v1") as clues:
        await worker.produce(
            topic, json.dumps(corrected, ensure_ascii=False).encode(), headers, key
        )
        (written,) = await clues.collect(1, lambda r: r.key == expected.encode())
    clue = await worker.serde.decode("clue", written.value)
    assert clue.source_id == number
    assert clue.matter_code == "URB-001"


async def test_a_native_post_is_accepted_with_the_record_id_of_the_clue(worker: Worker) -> None:
    number = case_no()
    async with TopicWatch(worker.login("admin"), "enf.clue.v1") as clues:
        status, answer = await worker.post_native("urban-case", native(number))
        assert status == 202, answer
        assert answer["record_id"] == clue_id(number)
        assert answer["kind"] == "clue"
        assert answer["topic"] == RAW
        assert answer["canonical_topic"] == "enf.clue.v1"
        (written,) = await clues.collect(1, lambda r: r.key == answer["record_id"].encode())
    clue = await worker.serde.decode("clue", written.value)
    assert str(clue.record_id) == answer["record_id"]
    assert clue.source_id == number


@pytest.mark.parametrize(("changes", "damage", "rule", "field"), PARKED)
async def test_a_native_post_that_does_not_map_gets_422_naming_rule_and_field(
    worker: Worker, changes: dict[str, Any], damage: str | None, rule: str, field: str
) -> None:
    number = case_no()
    status, problem = await worker.post_native("urban-case", _bad_payload(number, changes, damage))
    assert status == 422, problem
    assert problem["type"].endswith("invalid-record")
    error = problem["errors"][0]
    assert error["rule"] == rule
    assert error["path"] == field
    assert error["message_zh"] and error["message_en"]


async def test_a_native_post_that_maps_but_breaks_a_canonical_rule_gets_422(
    worker: Worker,
) -> None:
    status, problem = await worker.post_native("urban-case", native(case_no(), 经度="999"))
    assert status == 422, problem
    assert problem["errors"][0]["path"].startswith("location")


async def test_an_unknown_native_kind_is_404(worker: Worker) -> None:
    status, problem = await worker.post_native("no-such-kind", native(case_no()))
    assert status == 404, problem
    assert problem["type"].endswith("unknown-kind")
    assert "urban-case" in problem["detail"]  # the kinds it does have


async def test_a_street_posting_the_urban_case_kind_is_404(worker: Worker) -> None:
    status, problem = await worker.post_native(
        "urban-case", native(case_no()), party="street-jiyuqiao"
    )
    assert status == 404, problem
    assert problem["type"].endswith("unknown-kind")


async def test_a_department_posting_another_departments_kind_is_404(worker: Worker) -> None:
    status, problem = await worker.post_native("urban-case", native(case_no()), party="dept-water")
    assert status == 404, problem

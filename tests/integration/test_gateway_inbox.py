"""The gateway's inbox on the real broker: cursor pages, Server-Sent Events, bad cursors.

Inbox topics have fixed names (out.<party>.v1); these tests use the court's inbox, which
no other gateway test writes to, and count only what follows the cursor of a first read
to the end. It is grown to 3 partitions first, as a district's made before 12-03 are
(declared at 1 since, such a cluster keeps its 3): a cursor spans partitions.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientResponse
from aiokafka import AIOKafkaProducer
from kafka.admin import KafkaAdminClient, NewPartitions

from hub.records import DispatchOrder, validate
from hub.serde import AvroSerde
from tests.integration.conftest import (
    GatewayHarness,
    auth,
    end_offsets,
    expect_problem,
    record_for,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

PARTY = "court"
TOPIC = f"out.{PARTY}.v1"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub(
    applied_topics: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[GatewayHarness]:
    admin = KafkaAdminClient(bootstrap_servers=applied_topics)
    try:
        [described] = admin.describe_topics([TOPIC])
        if len(described["partitions"]) < 3:
            admin.create_partitions({TOPIC: NewPartitions(3)})
    finally:
        admin.close()
    harness = await GatewayHarness.start(applied_topics, tmp_path_factory.mktemp("gateway-inbox"))
    try:
        yield harness
    finally:
        await harness.stop()


def make_cursor(positions: dict[int, int]) -> str:
    """A cursor as the gateway makes them: partition:offset pairs joined by commas."""
    return ",".join(f"{p}:{o}" for p, o in sorted(positions.items()))


def read_cursor(cursor: str) -> dict[int, int]:
    pairs = (pair.split(":") for pair in cursor.split(",") if pair)
    return {int(p): int(o) for p, o in pairs}


async def get_page(hub: GatewayHarness, cursor: str | None, limit: int) -> dict[str, Any]:
    params = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
    response = await hub.client.get("/v1/inbox", params=params, headers=auth(hub.token(PARTY)))
    page: dict[str, Any] = await response.json(content_type=None)
    assert response.status == 200, page
    return page


async def cursor_at_end(hub: GatewayHarness) -> str:
    cursor = None
    while True:
        page = await get_page(hub, cursor, 1000)
        cursor = page["cursor"]
        if not page["items"]:
            return cursor


def court_order() -> DispatchOrder:
    data = record_for("order", "street-jiyuqiao")
    data["to_parties"] = [PARTY, "procuratorate"]
    data["order_type"] = "ASSIGNMENT"
    record = validate("order", data)
    assert isinstance(record, DispatchOrder)
    return record


async def write_orders(
    bootstrap: str, serde: AvroSerde, placement: list[int]
) -> list[tuple[int, int, DispatchOrder]]:
    """One encoded order per entry of placement (a partition): (partition, offset, order)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    written = []
    try:
        for partition in placement:
            order = court_order()
            metadata = await producer.send_and_wait(
                TOPIC,
                key=str(order.order_id).encode(),
                value=await serde.encode("order", order),
                partition=partition,
                headers=[("hub.kind", b"order")],
            )
            written.append((metadata.partition, metadata.offset, order))
    finally:
        await producer.stop()
    return written


@dataclass
class Inbox:
    start: str  # the cursor of reading the inbox to its end, before the writes
    ends_before: dict[int, int]  # the topic's end offsets then, straight from Kafka
    written: list[tuple[int, int, DispatchOrder]]
    ends: dict[int, int]  # end offsets right after the writes


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def inbox(hub: GatewayHarness) -> Inbox:
    start = await cursor_at_end(hub)
    ends_before = await end_offsets(hub.bootstrap, TOPIC)
    written = await write_orders(hub.bootstrap, hub.serde, [0, 1, 0, 1, 0])
    return Inbox(start, ends_before, written, await end_offsets(hub.bootstrap, TOPIC))


def _json(order: DispatchOrder) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(order.model_dump_json())
    return result


# ======================================================================== pages


async def test_reading_to_the_end_returns_the_end_cursor(inbox: Inbox) -> None:
    assert read_cursor(inbox.start) == inbox.ends_before


async def test_pages_of_two_return_exactly_the_new_records_once_each(
    hub: GatewayHarness, inbox: Inbox
) -> None:
    start = read_cursor(inbox.start)
    assert set(start) == set(inbox.ends)
    cursor, pages = inbox.start, []
    for _ in range(10):
        page = await get_page(hub, cursor, 2)
        assert len(page["items"]) <= 2
        pages.append(page["items"])
        cursor = page["cursor"]
        if not page["items"]:
            break
    items = [item for page in pages for item in page]
    assert [len(page) for page in pages] == [2, 2, 1, 0], pages

    seen = [(item["partition"], item["offset"]) for item in items]
    assert len(set(seen)) == len(seen), "an item was delivered twice"
    assert sorted(seen) == sorted((p, o) for p, o, _ in inbox.written)
    for partition in {p for p, _, _ in inbox.written}:
        offsets = [o for p, o in seen if p == partition]
        assert offsets == sorted(offsets), f"partition {partition} out of order: {offsets}"
    by_position = {(p, o): order for p, o, order in inbox.written}
    for item in items:
        assert item["kind"] == "order"
        assert item["record"] == _json(by_position[(item["partition"], item["offset"])])
    assert read_cursor(cursor) == inbox.ends


async def test_a_cursor_past_the_end_reads_nothing_more(hub: GatewayHarness, inbox: Inbox) -> None:
    page = await get_page(hub, make_cursor(inbox.ends), 5)
    assert page["items"] == []
    assert read_cursor(page["cursor"]) == inbox.ends


# ========================================================================== SSE


async def read_events(
    response: ClientResponse, count: int, seconds: float = 10
) -> list[dict[str, str]]:
    """Parse Server-Sent Events until count arrived (comments and keep-alives skipped)."""
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    try:
        async with asyncio.timeout(seconds):
            while len(events) < count:
                line = (await response.content.readline()).decode()
                assert line, "the stream ended"
                line = line.rstrip("\r\n")
                if not line:
                    if current:
                        events.append(current)
                        current = {}
                    continue
                if line.startswith(":"):
                    continue
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                current[field] = f"{current[field]}\n{value}" if field in current else value
    except TimeoutError:
        raise AssertionError(f"{len(events)} of {count} events within {seconds:g} s") from None
    return events


async def stream(
    hub: GatewayHarness, headers: dict[str, str], cursor: str | None,
) -> ClientResponse:
    response = await hub.client.get(
        "/v1/inbox/stream",
        params={"cursor": cursor} if cursor else None,
        headers=auth(hub.token(PARTY), **headers),
    )
    assert response.status == 200, await response.text()
    assert response.content_type == "text/event-stream"
    return response


async def test_stream_delivers_events_and_resumes_from_last_event_id(
    hub: GatewayHarness, inbox: Inbox
) -> None:
    # Partition 0 from the start cursor, the others from their ends: one total order.
    positions = {**inbox.ends, 0: read_cursor(inbox.start)[0]}
    mine = [(p, o, order) for p, o, order in inbox.written if p == 0]
    response = await stream(hub, {}, make_cursor(positions))
    try:
        first, second = await read_events(response, 2)
    finally:
        response.close()
    for event, (partition, offset, order) in zip((first, second), mine, strict=False):
        assert event["event"] == "order"
        data = json.loads(event["data"])
        assert data == {"kind": "order", "record": _json(order)}
        assert read_cursor(event["id"]) == {**positions, 0: offset + 1}, partition

    response = await stream(hub, {"Last-Event-ID": first["id"]}, None)
    try:
        (resumed,) = await read_events(response, 1)
    finally:
        response.close()
    assert resumed == second


async def test_last_event_id_wins_over_the_cursor_parameter(
    hub: GatewayHarness, inbox: Inbox,
) -> None:
    positions = {**inbox.ends, 0: read_cursor(inbox.start)[0]}
    last = {**positions, 0: inbox.written[-1][1]}  # the last order written to partition 0
    response = await stream(
        hub,
        {"Last-Event-ID": make_cursor(last)},
        make_cursor(positions),
    )
    try:
        (event,) = await read_events(response, 1)
    finally:
        response.close()
    assert json.loads(event["data"])["record"] == _json(inbox.written[-1][2])


# ============================================================ bad cursors, limits


BAD_CURSORS = {
    "garbage": "not a cursor!",
    "an-earlier-hubs-base64-json": "eyIwIjoxMn0",
    "python-attribute": "__dict__",
    "negative-offset": "0:-1",
    "negative-partition": "-1:0",
    "offset-not-a-number": "0:x",
    "no-offset": "0:",
    "trailing-comma": "0:1,",
    "spaces": "0: 1",
    "fullwidth-digits": "０:1",
    "offset-past-int64": "0:1234567890123456789",
}


@pytest.mark.parametrize("cursor", list(BAD_CURSORS.values()), ids=list(BAD_CURSORS))
async def test_a_bad_cursor_is_422(hub: GatewayHarness, cursor: str) -> None:
    response = await hub.client.get(
        "/v1/inbox", params={"cursor": cursor}, headers=auth(hub.token(PARTY))
    )
    await expect_problem(response, 422, "invalid-parameter")


async def test_any_cursor_of_the_documented_shape_is_read(
    hub: GatewayHarness, inbox: Inbox,
) -> None:
    """The document's pattern is the whole rule: partitions the topic lacks are ignored and
    a later pair for a partition wins, so every cursor the schema allows reads a page."""
    cursor = make_cursor(inbox.ends) + ",9999:0," + ",".join(
        f"{p}:{o}" for p, o in inbox.ends.items()
    )
    page = await get_page(hub, cursor, 5)
    assert page["items"] == []
    assert read_cursor(page["cursor"]) == inbox.ends


@pytest.mark.parametrize("where", ["query", "Last-Event-ID"])
async def test_a_bad_stream_cursor_is_422(hub: GatewayHarness, where: str) -> None:
    cursor = BAD_CURSORS["python-attribute"]
    response = await hub.client.get(
        "/v1/inbox/stream",
        params={"cursor": cursor} if where == "query" else None,
        headers=auth(hub.token(PARTY), **({"Last-Event-ID": cursor} if where != "query" else {})),
    )
    await expect_problem(response, 422, "invalid-parameter")


@pytest.mark.parametrize(
    "limit",
    ["0", "abc", "-1", "1001", "1.5", "", "²"],
    ids=["zero", "abc", "negative", "over-1000", "fraction", "empty", "superscript-two"],
)
async def test_a_bad_limit_is_422(hub: GatewayHarness, limit: str) -> None:
    response = await hub.client.get(
        "/v1/inbox", params={"limit": limit}, headers=auth(hub.token(PARTY))
    )
    await expect_problem(response, 422, "invalid-parameter")


async def test_limit_one_reads_one(hub: GatewayHarness, inbox: Inbox) -> None:
    page = await get_page(hub, inbox.start, 1)
    assert len(page["items"]) == 1
    (item,) = page["items"]
    assert (item["partition"], item["offset"]) in {(p, o) for p, o, _ in inbox.written}


async def test_an_unreadable_inbox_record_is_reported_not_fatal(hub: GatewayHarness) -> None:
    start = await cursor_at_end(hub)
    producer = AIOKafkaProducer(bootstrap_servers=hub.bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            TOPIC,
            key=uuid.uuid4().hex.encode(),
            value=b"not avro",
            partition=2,
            headers=[("hub.kind", b"order")],
        )
    finally:
        await producer.stop()
    page = await get_page(hub, start, 10)
    (item,) = page["items"]
    assert item["kind"] == "order" and "unreadable" in item["error"]
    assert "record" not in item

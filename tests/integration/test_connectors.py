"""The connector transports on the real broker, against a simulated party.

Each test drives the connector classes directly (a `ConnectorRunner` with a
`StateStore`, an idempotent producer, the Avro serde on the embedded registry, the
shipped mapping specs and parties) and plays the party with `PartySimulator`:

- webhook sink: a party that is down gets every record once it is back, in order per
  key, once from its point of view (repeats only as repeats), signed; the status shows
  the outage; a record the party refuses goes to the DLQ and the rest still arrive;
- HTTP poll source: pages land in ``raw.<party>.v1``; a restart resumes at the cursor;
- file drop: rows land in the raw topic, a file dropped twice is imported once (also
  after a restart), unreadable rows are passed on as they are;
- pause and resume through the control entry.

The helpers at the top (`Kit`, `ConnectorHarness`, `TopicWatch`, the record builders) are reused
by ``test_connector_conformance.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from aiokafka.structs import ConsumerRecord

from connectors import (
    ConnectorRunner,
    WebhookConnector,
)
from connectors.conformance import eventually
from deploy.demo.party import FailMode, PartySimulator
from hub.wire import replay_target
from tests.conftest import ROOT
from tests.integration.conftest import (
    ConnectorHarness,
    Kit,
    TopicWatch,
    header,
    open_kit,
    order_event,
    start_group_at_end,
    street_order,
    urban_case,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio(loop_scope="module")]

HUB = str(ROOT / ".venv" / "bin" / "hub")
DLQ = "hub.dlq.v1"


# --------------------------------------------------------------------------- helpers


def idempotency_key(record: Any, kind: str) -> str:
    return f"{record.record_id}:{kind}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def kit(applied_topics: str) -> AsyncIterator[Kit]:
    async with open_kit(applied_topics) as made:
        yield made


@pytest_asyncio.fixture(loop_scope="module")
async def harness(
    kit: Kit, unique_name: Callable[[str], str], tmp_path: Path
) -> AsyncIterator[ConnectorHarness]:
    made = ConnectorHarness(kit, unique_name("c"), tmp_path)
    try:
        yield made
    finally:
        await made.close()


# --------------------------------------------------------------------- webhook sink

STREET = "street-yangyuan"


async def _sink_with_orders(
    harness: ConnectorHarness,
    party: PartySimulator,
    orders: int,
    events_per_order: int = 0,
    **options: Any,
) -> tuple[ConnectorRunner, list[tuple[str, Any, bytes]]]:
    """A running webhook runner for STREET and the records written to its inbox."""
    name = harness.name()
    secret_file = harness.secret_file(party.secret) if party.secret else None
    config = harness.webhook(name, STREET, party.inbox_url, secret_file=secret_file, **options)
    await start_group_at_end(
        harness.kit.bootstrap, f"{harness.settings.app_id}-connector-{name}", f"out.{STREET}.v1"
    )
    marker = f"WH-{uuid.uuid4().hex[:8]}"
    written: list[tuple[str, Any, bytes]] = []
    made = [street_order(STREET, marker, n) for n in range(orders)]
    written += [("order", o, str(o.order_id).encode()) for o in made]
    for step, event_type in enumerate(["SIGNED", "REPORTED", "FEEDBACK"][:events_per_order]):
        for n, order in enumerate(made):
            event = order_event(STREET, order, marker, step * 100 + n, event_type)
            written.append(("order-event", event, str(order.order_id).encode()))
    await harness.kit.write_inbox(STREET, written)
    runner = await harness.runner(config)
    return runner, written


async def test_a_party_that_is_down_gets_every_record_once_in_order_when_back(
    harness: ConnectorHarness,
) -> None:
    party = await harness.party(secret=b"s3cret-" + uuid.uuid4().hex.encode())
    party.fail(FailMode.DOWN)  # until reset
    runner, written = await _sink_with_orders(harness, party, orders=3, events_per_order=2)
    await eventually(lambda: len(party.failed_attempts()) >= 6, "retries while the party is down")
    assert party.deliveries == []
    party.reset()
    expected = [idempotency_key(record, kind) for kind, record, _ in written]
    await eventually(lambda: set(expected) <= set(party.distinct_keys()), "every record delivered")
    await asyncio.sleep(0.5)  # nothing else comes

    assert sorted(party.distinct_keys()) == sorted(expected)  # each applied once
    assert {d.idempotency_key for d in party.repeats()} <= set(expected)
    assert all(d.signature_valid for d in party.deliveries)
    # in order per key (the order, then its events, as written)
    by_key: dict[bytes, list[str]] = {}
    for kind, record, key in written:
        by_key.setdefault(key, []).append(idempotency_key(record, kind))
    arrived = party.distinct_keys()
    for key, sequence in by_key.items():
        assert [k for k in arrived if k in sequence] == sequence, key
    # the party's own format: the street platform's task document for orders
    first = {d.idempotency_key: d for d in party.first_deliveries()}
    kind, order, _ = written[0]
    native = first[idempotency_key(order, kind)].json()
    assert native["rwbh"] == str(order.order_id)
    assert native["jsdw"] == ["杨园街道"]
    assert first[idempotency_key(order, kind)].headers["X-Hub-Kind"] == "order"
    assert runner.status["state"] == "running"


async def test_a_party_that_hangs_up_or_answers_too_late_gets_the_record_again(
    harness: ConnectorHarness,
) -> None:
    party = await harness.party()
    party.fail(FailMode.CLOSE, count=2)  # the connection drops twice, then it is fine
    _, written = await _sink_with_orders(harness, party, orders=2, timeout_seconds=0.3)
    expected = {idempotency_key(record, kind) for kind, record, _ in written}
    await eventually(lambda: expected <= set(party.distinct_keys()), "delivery after hang-ups")
    assert [a.answer for a in party.attempts[:2]] == ["closed", "closed"]

    party.fail(FailMode.SLOW, count=2, seconds=1.0)  # answers after the client gave up
    marker = f"SL-{uuid.uuid4().hex[:8]}"
    later = [street_order(STREET, marker, n) for n in range(2)]
    await harness.kit.write_inbox(STREET, [("order", o, str(o.order_id).encode()) for o in later])
    expected |= {idempotency_key(o, "order") for o in later}
    await eventually(lambda: expected <= set(party.distinct_keys()), "delivery after timeouts")
    await asyncio.sleep(1.2)  # the slow answers land too
    assert sorted(party.distinct_keys()) == sorted(expected)  # each applied once
    assert party.repeats(), "the party saw the timed-out deliveries again, as repeats"


async def test_a_sink_stops_within_seconds_while_its_party_is_down(
    harness: ConnectorHarness,
) -> None:
    """Stopping a connector (a worker shutting down) must not wait on a party that is
    down: the record simply stays in the inbox for the next start."""
    party = await harness.party()
    party.fail(FailMode.DOWN)
    runner, _ = await _sink_with_orders(harness, party, orders=1)
    await eventually(lambda: len(party.failed_attempts()) >= 4, "retries while the party is down")
    took = await harness.stop(runner)
    assert took < 5, f"the connector took {took:.1f} s to stop"


async def test_a_party_that_answers_at_once_is_not_kept_waiting_between_batches(
    harness: ConnectorHarness,
) -> None:
    """200 records in batches of 10 to a party answering in about a millisecond: the
    hub's own bookkeeping between batches must not dominate (a few seconds at most)."""
    party = await harness.party()
    await _sink_with_orders(harness, party, orders=200, batch_size=10)
    await eventually(lambda: party.deliveries, "the first delivery")
    began = time.monotonic()
    try:
        await eventually(lambda: len(party.distinct_keys()) == 200, "200 deliveries", within=4)
    except AssertionError:
        done = len(party.distinct_keys())
        raise AssertionError(
            f"{done} of 200 records delivered in {time.monotonic() - began:.1f} s "
            f"({done / (time.monotonic() - began):.0f}/s) to a party that answers at once"
        ) from None


async def _hub_connectors_status(
    harness: ConnectorHarness, config: WebhookConnector,
) -> dict[str, Any]:
    """`hub connectors status --json` for config's connector (the operator's view)."""
    path = harness.tmp_path / "connectors.yaml"
    entry = {
        "name": config.name,
        "party": config.party,
        "type": "webhook",
        "url": str(config.url),
    }
    path.write_text(json.dumps({"connectors": [entry]}), encoding="utf-8")
    env = {
        **os.environ,
        "HUB_KAFKA_BOOTSTRAP": harness.kit.bootstrap,
        "HUB_CONNECTORS_FILE": str(path),
    }
    process = await asyncio.create_subprocess_exec(
        HUB,
        "connectors",
        "status",
        "--json",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    statuses: dict[str, dict[str, Any]] = json.loads(out)
    return statuses[config.name]


async def test_the_status_shows_the_outage_while_the_party_is_down(
    harness: ConnectorHarness,
) -> None:
    party = await harness.party()
    party.fail(FailMode.DOWN)
    runner, written = await _sink_with_orders(harness, party, orders=2)
    await eventually(lambda: len(party.failed_attempts()) >= 6, "retries while the party is down")
    assert isinstance(runner.config, WebhookConnector)

    async def outage_shown() -> dict[str, Any] | None:
        status = await _hub_connectors_status(harness, runner.config)
        shown = status.get("consecutive_failures", 0) >= 3 and status.get("circuit") == "open"
        return status if shown else None

    try:
        await eventually(outage_shown, "the status to show the outage", within=6, every=0.5)
    except AssertionError:
        status = await _hub_connectors_status(harness, runner.config)
        raise AssertionError(
            f"after {len(party.failed_attempts())} failed deliveries (circuit "
            f"{getattr(runner.sink, 'breaker', None)}), `hub connectors status` "
            f"still shows {status}"
        ) from None
    party.reset()
    await eventually(lambda: len(party.distinct_keys()) == len(written), "delivery")

    async def recovered() -> dict[str, Any] | None:
        status = await harness.stored_status(runner.name)
        done = status.get("consecutive_failures") == 0 and status.get("circuit") == "closed"
        return status if done else None

    await eventually(recovered, "the status to show the recovery", within=12, every=0.5)


async def _refuse_one(
    harness: ConnectorHarness,
) -> tuple[PartySimulator, list[tuple[str, Any, bytes]], ConsumerRecord]:
    """Five orders, the third refused (400): the DLQ record of the refused one."""
    party = await harness.party()
    async with TopicWatch(harness.kit.bootstrap, DLQ) as dlq:
        name = harness.name()
        config = harness.webhook(name, STREET, party.inbox_url, batch_size=2)
        await start_group_at_end(
            harness.kit.bootstrap,
            f"{harness.settings.app_id}-connector-{name}",
            f"out.{STREET}.v1",
        )
        marker = f"RF-{uuid.uuid4().hex[:8]}"
        orders = [street_order(STREET, marker, n) for n in range(5)]
        key = marker.encode()  # one key: one partition, so their order is defined
        written = [("order", o, key) for o in orders]
        refused = orders[2]
        party.refuse(str(refused.record_id))
        await harness.kit.write_inbox(STREET, written)
        await harness.runner(config)
        (parked,) = await dlq.collect(
            1, lambda r: header(r, "hub.error.connector") == name.encode()
        )
    assert parked.key == key
    others = [idempotency_key(o, "order") for o in orders if o is not refused]
    await eventually(lambda: set(others) <= set(party.distinct_keys()), "the other records")
    return party, written, parked


async def test_a_refused_record_goes_to_the_dlq_and_the_others_still_arrive(
    harness: ConnectorHarness,
) -> None:
    party, written, parked = await _refuse_one(harness)
    refused = written[2][1]
    assert header(parked, "hub.error.stage") == b"deliver"
    assert header(parked, "hub.error.class") == b"HTTP400"
    assert header(parked, "hub.error.source.topic") == f"out.{STREET}.v1".encode()
    assert header(parked, "hub.error.connector") == harness.name().encode()
    assert header(parked, "hub.kind") == b"order"
    assert str(refused.record_id).encode() in (header(parked, "hub.error.message") or b"")
    applied = party.distinct_keys()
    assert idempotency_key(refused, "order") not in applied
    # the ones after the refused record came after the ones before it
    keys = [idempotency_key(r, k) for k, r, _ in written if r is not refused]
    assert [k for k in applied if k in keys] == keys


async def test_a_refused_record_replayed_from_the_dlq_is_delivered_once_the_party_takes_it(
    harness: ConnectorHarness,
) -> None:
    """docs/design.md §8: parked records can be replayed after a fix; here the party fixed its
    side, and the DLQ record goes back to its source topic (`replay_target`)."""
    party, written, parked = await _refuse_one(harness)
    refused = written[2][1]
    party.reset()
    topic, headers = replay_target([(k, bytes(v)) for k, v in parked.headers])
    assert topic == f"out.{STREET}.v1"
    assert not [k for k, _ in headers if k.startswith("hub.error.")]
    async with TopicWatch(harness.kit.bootstrap, DLQ) as dlq:
        await harness.kit.producer.send_and_wait(
            topic, key=parked.key, value=parked.value, headers=headers
        )
        try:
            await eventually(
                lambda: idempotency_key(refused, "order") in party.distinct_keys(),
                "the replayed record at the party",
                within=6,
            )
        except AssertionError:
            again = [r for r in await dlq.read(1) if r.key == parked.key]
            detail = (
                f"; it went to the DLQ again: {header(again[0], 'hub.error.stage')!r} "
                f"{header(again[0], 'hub.error.message')!r}"
                if again
                else ""
            )
            raise AssertionError(
                "the replayed DLQ record was never delivered: the DLQ value is the "
                f"rendered native body {parked.value[:60]!r}…, not the inbox record{detail}"
            ) from None


# ---------------------------------------------------------------------- HTTP poll


def _ours(marker: str) -> Callable[[ConsumerRecord], bool]:
    return lambda record: marker.encode() in (record.value or b"")


def _from(connector: str) -> Callable[[ConsumerRecord], bool]:
    return lambda record: header(record, "hub.connector") == connector.encode()


async def test_the_poll_source_emits_every_page_and_resumes_at_the_stored_cursor(
    harness: ConnectorHarness,
) -> None:
    marker = f"PL{uuid.uuid4().hex[:8]}"
    records = [urban_case(f"{marker}-{n:03d}") for n in range(6)]
    party = await harness.party(records=records, page_size=3)
    name = harness.name()
    config = harness.poll(name, "dept-urban", party.records_url, "urban-case")
    async with TopicWatch(harness.kit.bootstrap, "raw.dept-urban.v1") as raw:
        first = await harness.runner(config)
        emitted = await raw.collect(6, _ours(marker))
        await eventually(lambda: "6" in party.cursors_seen, "a poll after the last page")
        await harness.stop(first)
        assert party.cursors_seen[:3] == [None, "3", "6"]
        assert sorted(json.loads(r.value)["案件编号"] for r in emitted) == [
            r["案件编号"] for r in records
        ]
        for record in emitted:
            assert header(record, "hub.native.kind") == b"urban-case"
            assert header(record, "hub.connector") == name.encode()
            assert (header(record, "hub.source.position") or b"").startswith(b"cursor=")

        # new data at the party; a new runner with a new state store (a restart)
        party.add_records([urban_case(f"{marker}-{n:03d}") for n in range(6, 9)])
        asked_before = len(party.cursors_seen)
        await harness.runner(config)
        await raw.collect(9, _ours(marker))
        await eventually(lambda: "9" in party.cursors_seen[asked_before:], "the next poll")
        await raw.read(0.5)
    assert party.cursors_seen[asked_before] == "6"  # resumed at the stored cursor
    numbers = [json.loads(r.value)["案件编号"] for r in raw.records if _ours(marker)(r)]
    assert sorted(numbers) == [f"{marker}-{n:03d}" for n in range(9)]  # none twice


# ---------------------------------------------------------------------- file drop

CSV_FIELDS = ["案件编号", "上报时间", "案件来源", "大类", "小类", "所属街道", "地址", "问题描述"]


def csv_text(rows: list[dict[str, Any]]) -> str:
    lines = [",".join(CSV_FIELDS)]
    lines += [",".join(str(row[f]) for f in CSV_FIELDS) for row in rows]
    return "\n".join(lines) + "\n"


def jsonl_text(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


async def test_a_dropped_file_is_imported_once_even_under_another_name_and_after_a_restart(
    harness: ConnectorHarness,
) -> None:
    marker = f"FD{uuid.uuid4().hex[:8]}"
    folder = harness.tmp_path / "drop"
    folder.mkdir()
    csv_rows = [urban_case(f"{marker}-c{n}") for n in range(3)]
    json_rows = [urban_case(f"{marker}-j{n}") for n in range(2)]
    (folder / "cases.csv").write_text(csv_text(csv_rows), encoding="utf-8")
    (folder / "cases.jsonl").write_text(jsonl_text(json_rows), encoding="utf-8")
    config = harness.file_drop(harness.name(), "dept-urban", folder, "urban-case")
    async with TopicWatch(harness.kit.bootstrap, "raw.dept-urban.v1") as raw:
        first = await harness.runner(config)
        emitted = await raw.collect(5, _ours(marker))
        by_position = {header(r, "hub.source.position"): r for r in emitted}
        assert set(by_position) == {
            b"cases.csv:2",
            b"cases.csv:3",
            b"cases.csv:4",
            b"cases.jsonl:1",
            b"cases.jsonl:2",
        }
        row = json.loads(by_position[b"cases.csv:2"].value)
        assert row == {f: str(csv_rows[0][f]) for f in CSV_FIELDS}
        assert json.loads(by_position[b"cases.jsonl:2"].value) == json_rows[1]
        assert all(header(r, "hub.native.kind") == b"urban-case" for r in emitted)

        # the same file again under another name, then a new file: only the new one
        (folder / "cases-again.csv").write_bytes((folder / "cases.csv").read_bytes())
        (folder / "later.jsonl").write_text(
            jsonl_text([urban_case(f"{marker}-later")]), encoding="utf-8"
        )
        await raw.collect(6, _ours(marker))
        await harness.stop(first)

        # restart with a new state store: the ledger still knows every file
        (folder / "last.jsonl").write_text(
            jsonl_text([urban_case(f"{marker}-last")]), encoding="utf-8"
        )
        await harness.runner(config)
        await raw.collect(7, _ours(marker))
        await raw.read(1.0)
    ours = [r for r in raw.records if _ours(marker)(r)]
    numbers = sorted(json.loads(r.value)["案件编号"] for r in ours)
    assert numbers == sorted(
        [f"{marker}-c{n}" for n in range(3)]
        + [f"{marker}-j{n}" for n in range(2)]
        + [f"{marker}-later", f"{marker}-last"]
    )


async def test_unreadable_rows_are_passed_on_as_they_are(harness: ConnectorHarness) -> None:
    marker = f"FU{uuid.uuid4().hex[:8]}"
    folder = harness.tmp_path / "drop"
    folder.mkdir()
    gbk_rows = [urban_case(f"{marker}-g{n}") for n in range(2)]
    gbk = jsonl_text(gbk_rows).encode("gbk")  # declared utf-8: not readable as such
    (folder / "gbk.jsonl").write_bytes(gbk)
    whole = [urban_case(f"{marker}-t{n}") for n in range(3)]
    text = jsonl_text(whole)
    truncated = text[: text.rindex("商户")]  # the last line is cut off mid-record
    (folder / "truncated.jsonl").write_text(truncated, encoding="utf-8")
    name = harness.name()
    config = harness.file_drop(name, "dept-urban", folder, "urban-case")
    async with TopicWatch(harness.kit.bootstrap, "raw.dept-urban.v1") as raw:
        await harness.runner(config)
        emitted = await raw.collect(5, _from(name))
        await raw.read(0.5)
    ours = {header(r, "hub.source.position"): r for r in raw.records if _from(name)(r)}
    assert len(ours) == 5, sorted(ours)
    # the GBK lines: their bytes untouched, for the normaliser to park (encoding.invalid)
    assert [ours[b"gbk.jsonl:1"].value, ours[b"gbk.jsonl:2"].value] == gbk.splitlines()
    assert header(ours[b"gbk.jsonl:1"], "hub.charset") == b"utf-8"
    # the truncated file: the complete lines as JSON, the cut one as it is
    assert json.loads(ours[b"truncated.jsonl:1"].value) == whole[0]
    assert json.loads(ours[b"truncated.jsonl:2"].value) == whole[1]
    assert ours[b"truncated.jsonl:3"].value == truncated.splitlines()[2].encode()
    assert all(header(r, "hub.native.kind") == b"urban-case" for r in emitted)


async def test_one_badly_encoded_row_does_not_take_the_rest_of_its_csv_with_it(
    harness: ConnectorHarness,
) -> None:
    """FileDropSource: "a row that cannot be read (... bytes that are not the declared
    encoding) is emitted as it is ... and the rest of the file goes on"."""
    marker = f"FB{uuid.uuid4().hex[:8]}"
    folder = harness.tmp_path / "drop"
    folder.mkdir()
    rows = [urban_case(f"{marker}-{n}") for n in range(3)]
    lines = csv_text(rows).splitlines(keepends=True)
    data = b"".join(
        line.encode("gbk") if n == 2 else line.encode("utf-8") for n, line in enumerate(lines)
    )  # the second data row came from a GBK system
    (folder / "mixed.csv").write_bytes(data)
    name = harness.name()
    config = harness.file_drop(name, "dept-urban", folder, "urban-case")
    async with TopicWatch(harness.kit.bootstrap, "raw.dept-urban.v1") as raw:
        await harness.runner(config)
        await raw.collect(3, _from(name))
        await raw.read(1.0)
    ours = {header(r, "hub.source.position"): r.value for r in raw.records if _from(name)(r)}
    assert b"mixed.csv:1" not in ours, "the header row was emitted as a record"
    good = {f: str(rows[0][f]) for f in CSV_FIELDS}
    assert ours.get(b"mixed.csv:2") == json.dumps(good, ensure_ascii=False).encode(), ours
    assert ours.get(b"mixed.csv:3") == lines[2].rstrip("\n").encode("gbk")
    assert json.loads(ours[b"mixed.csv:4"]) == {f: str(rows[2][f]) for f in CSV_FIELDS}


# -------------------------------------------------------------------- pause/resume


async def test_a_paused_sink_delivers_nothing_until_resumed(harness: ConnectorHarness) -> None:
    party = await harness.party()
    runner, written = await _sink_with_orders(harness, party, orders=1)
    await eventually(lambda: len(party.distinct_keys()) == 1, "the first delivery")
    await harness.control(runner.name, paused=True)
    await eventually(lambda: runner.status.get("state") == "paused", "the runner to pause")
    stored = await eventually(
        lambda: _if(harness.stored_status(runner.name), lambda s: s.get("state") == "paused"),
        "the stored status to say paused",
    )
    assert stored["state"] == "paused"

    marker = f"PZ-{uuid.uuid4().hex[:8]}"
    later = [street_order(STREET, marker, n) for n in range(2)]
    await harness.kit.write_inbox(STREET, [("order", o, str(o.order_id).encode()) for o in later])
    await asyncio.sleep(2)
    assert len(party.distinct_keys()) == 1, "a paused connector delivered"

    await harness.control(runner.name, paused=False)
    try:
        await eventually(lambda: len(party.distinct_keys()) == 3, "delivery after resume", within=6)
    except AssertionError:
        raise AssertionError(
            f"nothing delivered after resume; runner status {runner.status}"
        ) from None
    assert runner.status["state"] == "running"


async def test_a_paused_source_emits_nothing_until_resumed(harness: ConnectorHarness) -> None:
    marker = f"PS{uuid.uuid4().hex[:8]}"
    party = await harness.party(records=[urban_case(f"{marker}-0")], page_size=10)
    config = harness.poll(harness.name(), "dept-urban", party.records_url, "urban-case")
    async with TopicWatch(harness.kit.bootstrap, "raw.dept-urban.v1") as raw:
        runner = await harness.runner(config)
        await raw.collect(1, _ours(marker))
        await harness.control(runner.name, paused=True)
        try:
            await eventually(
                lambda: runner.status.get("state") == "paused", "the source to pause", within=6
            )
        except AssertionError:
            raise AssertionError(
                f"the source never paused: status {runner.status}, it polled "
                f"{party.counters['records']} times"
            ) from None
        party.add_records([urban_case(f"{marker}-1")])
        await raw.read(2)
        assert len([r for r in raw.records if _ours(marker)(r)]) == 1, "a paused source emitted"
        await harness.control(runner.name, paused=False)
        await raw.collect(2, _ours(marker), within=15)


T = TypeVar("T")


async def _if(value: Awaitable[T], test: Callable[[T], bool]) -> T | None:
    got = await value
    return got if test(got) else None

"""The HTTP gateway on the real broker: publish, duplicates, batches, every problem path.

The gateway runs in process (aiohttp TestServer) with the embedded schema registry on
the session broker; tokens are issued per party into a temporary tokens file. Records
land in the shipped topics, which other tests may write too, so checks look for this
test's own records (by record id, partition and offset), never at totals.

The shared harness (`GatewayHarness`, `serve`, the request helpers) is imported by
test_gateway_auth.py and test_gateway_inbox.py.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import uuid
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.web_exceptions import NotAppKeyWarning
from aiohttp.web_request import BaseRequest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from hub.http import HTTP_KINDS, PUBLISHABLE
from hub.records import KINDS, derive_record_id, uscc_check_char, validate
from tests.conftest import ROOT, free_port, kafka_sh
from tests.integration.conftest import (
    HUB_OWNED,
    HUB_REQUEST_KEYS,
    GatewayHarness,
    auth,
    consumer_for,
    encode,
    end_offsets,
    expect_problem,
    post,
    read_range,
    record_for,
    serve,
    settings_for,
)
from tests.samples import USCC

pytestmark = pytest.mark.asyncio(loop_scope="module")

HUB = str(ROOT / ".venv" / "bin" / "hub")

# A party allowed to publish each HTTP kind.
PUBLISHER_OF = {
    "clue": "street-jiyuqiao",
    "case": "street-jiyuqiao",
    "order": "street-jiyuqiao",
    "order-event": "dept-urban",
    "entity": "bigdata",
    "permit": "bigdata",
    "officer": "justice",
    "matter": "justice",
    "execution": "finance",
}


# --------------------------------------------------------------------------- records


# -------------------------------------------------------------------------- harness


def apply_topics(bootstrap: str) -> None:
    result = subprocess.run(
        [HUB, "topics", "apply"],
        env={**os.environ, "HUB_KAFKA_BOOTSTRAP": bootstrap},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub(
    applied_topics: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[GatewayHarness]:
    harness = await GatewayHarness.start(
        applied_topics,
        tmp_path_factory.mktemp("gateway"),
        gateway_body_limit=4096,
        gateway_batch_limit=3,
    )
    try:
        yield harness
    finally:
        await harness.stop()


# ------------------------------------------------------------------------- requests


# ---------------------------------------------------------------------------- kafka


async def read_at(bootstrap: str, topic: str, partition: int, offset: int) -> ConsumerRecord:
    consumer = consumer_for(bootstrap)
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        record: ConsumerRecord = await asyncio.wait_for(consumer.getone(tp), 15)
        return record
    finally:
        await consumer.stop()


def millis(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


# ==================================================================== 1. publish


@pytest.mark.parametrize("kind", HTTP_KINDS)
async def test_publish_lands_at_the_answered_offset_with_headers_and_trace(
    hub: GatewayHarness, kind: str
) -> None:
    party = PUBLISHER_OF[kind]
    assert kind in PUBLISHABLE[hub.reference.parties.get(party).kind]
    body = record_for(kind, party)
    trace = uuid.uuid4().hex
    before = millis(datetime.now(UTC))
    response = await post(
        hub.client, f"/v1/records/{kind}", body, hub.token(party), **{"X-Trace-Id": trace}
    )
    after = datetime.now(UTC)
    answer = await response.json()
    assert response.status == 202, answer
    assert set(answer) == {"record_id", "topic", "partition", "offset"}
    assert answer["record_id"] == str(derive_record_id(party, body["source_id"]))
    assert answer["topic"] == KINDS[kind].topic

    message = await read_at(hub.bootstrap, answer["topic"], answer["partition"], answer["offset"])
    assert (message.partition, message.offset) == (answer["partition"], answer["offset"])
    headers = dict(message.headers)
    assert headers["hub.kind"] == kind.encode()
    assert headers["hub.trace_id"] == trace.encode()
    assert headers["hub.source_party"] == party.encode()

    decoded = await hub.serde.decode(kind, message.value, hub.reference)
    expected = validate(KINDS[kind], {**body, "trace_id": trace}, hub.reference)
    assert decoded.model_dump(exclude={"received_at"}) == expected.model_dump(
        exclude={"received_at"}
    )
    assert str(decoded.record_id) == answer["record_id"]  # type: ignore[attr-defined]
    assert decoded.trace_id == trace  # type: ignore[attr-defined]
    assert before <= decoded.received_at <= after  # type: ignore[attr-defined]
    assert message.key == KINDS[kind].key_of(expected)


async def test_a_trace_id_that_is_not_hex_is_replaced(hub: GatewayHarness) -> None:
    body = record_for("clue", "street-jiyuqiao")
    response = await post(
        hub.client,
        "/v1/records/clue",
        body,
        hub.token("street-jiyuqiao"),
        **{"X-Trace-Id": "NOT-A-TRACE"},
    )
    answer = await response.json()
    assert response.status == 202, answer
    message = await read_at(hub.bootstrap, answer["topic"], answer["partition"], answer["offset"])
    trace = dict(message.headers)["hub.trace_id"].decode()
    assert trace != "NOT-A-TRACE" and len(trace) == 32 and int(trace, 16) >= 0
    decoded = await hub.serde.decode("clue", message.value)
    assert decoded.trace_id == trace  # type: ignore[attr-defined]


async def test_request_state_raises_no_warning(hub: GatewayHarness) -> None:
    """A fresh gateway process must not warn (warnings are errors in this project).

    Keys the gateway stores on requests are plain strings; aiohttp 3.14 warns
    (NotAppKeyWarning) the first time each is used in a process.
    """
    seen = BaseRequest._seen_str_keys & HUB_REQUEST_KEYS
    BaseRequest._seen_str_keys.difference_update(seen)  # as in a freshly started worker
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            party = "street-jiyuqiao"
            response = await post(
                hub.client, "/v1/records/clue", record_for("clue", party), hub.token(party)
            )
            assert response.status == 202, await response.text()
            response = await hub.client.get("/v1/nope", headers=auth(hub.token(party)))
            await expect_problem(response, 404, "not-found")
        assert [str(w.message) for w in caught if w.category is NotAppKeyWarning] == []
    finally:
        BaseRequest._seen_str_keys.update(HUB_REQUEST_KEYS)


# ================================================================= 2. duplicates


async def test_reposting_a_record_answers_duplicate_and_writes_nothing(hub: GatewayHarness) -> None:
    party = "street-jiyuqiao"
    body = record_for("clue", party)
    first = await post(hub.client, "/v1/records/clue", body, hub.token(party))
    original = await first.json()
    assert first.status == 202, original
    topic = original["topic"]
    before = await end_offsets(hub.bootstrap, topic)
    assert before[original["partition"]] > original["offset"]

    again = await post(hub.client, "/v1/records/clue", body, hub.token(party))
    repeated = await again.json()
    assert again.status == 202, repeated
    assert repeated == {**original, "duplicate": True}

    after = await end_offsets(hub.bootstrap, topic)
    # Other tests may write clues meanwhile: nothing written since may carry this record.
    written = await read_range(hub.bootstrap, topic, before, after)
    assert original["record_id"].encode() not in [m.key for m in written]
    if not written:
        assert after == before


# ==================================================================== 5. batches


async def test_batch_of_three_valid_records_is_accepted_per_record(hub: GatewayHarness) -> None:
    party = "dept-urban"
    records = [record_for("order", party) for _ in range(3)]
    response = await post(
        hub.client, "/v1/records/order/batch", {"records": records}, hub.token(party)
    )
    answer = await response.json()
    assert response.status == 202, answer
    assert answer["accepted"] == 3
    assert [r["index"] for r in answer["results"]] == [0, 1, 2]
    for record, result in zip(records, answer["results"], strict=True):
        assert result["status"] == 202
        assert result["record_id"] == str(derive_record_id(party, record["source_id"]))
        assert result["topic"] == "enf.order.v1"
        message = await read_at(
            hub.bootstrap, result["topic"], result["partition"], result["offset"]
        )
        decoded = await hub.serde.decode("order", message.value)
        assert str(decoded.record_id) == result["record_id"]  # type: ignore[attr-defined]


async def test_batch_with_one_invalid_record_answers_207(hub: GatewayHarness) -> None:
    party = "street-jiyuqiao"
    good = [record_for("order", party) for _ in range(2)]
    bad = record_for("order", party)
    bad["deadline"] = "2026-11-25T08:00:00+08:00"  # before issued_at
    response = await post(
        hub.client,
        "/v1/records/order/batch",
        {"records": [good[0], bad, good[1]]},
        hub.token(party),
    )
    answer = await response.json()
    assert response.status == 207, answer
    assert answer["accepted"] == 2
    results = answer["results"]
    assert [r["index"] for r in results] == [0, 1, 2]
    assert results[1]["status"] == 422
    problem = results[1]["problem"]
    assert problem["type"] == "urn:wuchang-hub:problem:invalid-record"
    assert problem["status"] == 422
    assert [(e["path"], e["rule"]) for e in problem["errors"]] == [
        ("deadline", "deadline.not_after_issue")
    ]
    assert "offset" not in results[1]
    for index in (0, 2):
        assert results[index]["status"] == 202
        assert isinstance(results[index]["offset"], int)
        message = await read_at(
            hub.bootstrap, "enf.order.v1", results[index]["partition"], results[index]["offset"]
        )
        decoded = await hub.serde.decode("order", message.value)
        assert str(decoded.record_id) == results[index]["record_id"]  # type: ignore[attr-defined]
    assert str(derive_record_id(party, bad["source_id"])) not in [
        r.get("record_id") for r in results
    ]


async def test_batch_repeating_one_record_writes_it_once(hub: GatewayHarness) -> None:
    """The same record twice in one batch is one record: the second is a duplicate."""
    party = "street-jiyuqiao"
    record = record_for("clue", party)
    response = await post(
        hub.client, "/v1/records/clue/batch", {"records": [record, record]}, hub.token(party)
    )
    answer = await response.json()
    assert response.status == 202, answer
    first, second = answer["results"]
    assert first["record_id"] == second["record_id"]
    assert not first.get("duplicate")
    assert second.get("duplicate") is True, answer
    assert (first["partition"], first["offset"]) == (second["partition"], second["offset"])


# =============================================================== 4. problem paths


async def test_malformed_json_is_400(hub: GatewayHarness) -> None:
    response = await post(
        hub.client, "/v1/records/clue", b'{"source_party": ', hub.token("street-jiyuqiao")
    )
    await expect_problem(response, 400, "invalid-json")


async def test_deeply_nested_json_is_400_not_500(hub: GatewayHarness) -> None:
    """A small body nested 2000 deep makes json.loads raise RecursionError."""
    body = b"[" * 2000 + b"]" * 2000
    assert len(body) < hub.settings.gateway_body_limit
    response = await post(hub.client, "/v1/records/clue", body, hub.token("street-jiyuqiao"))
    await expect_problem(response, 400, "invalid-json")


async def test_text_plain_is_415(hub: GatewayHarness) -> None:
    response = await post(
        hub.client,
        "/v1/records/clue",
        record_for("clue", "street-jiyuqiao"),
        hub.token("street-jiyuqiao"),
        **{"Content-Type": "text/plain"},
    )
    await expect_problem(response, 415, "unsupported-media-type")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/records/penalty",
        "/v1/records/audit",
        "/v1/records/nope",
        "/v1/records/penalty/batch",
        "/v1/records/nope/batch",
    ],
)
async def test_unknown_kind_is_404(hub: GatewayHarness, path: str) -> None:
    response = await post(
        hub.client, path, record_for("clue", "street-jiyuqiao"), hub.token("street-jiyuqiao")
    )
    await expect_problem(response, 404, "unknown-kind")


async def test_an_overlong_kind_is_404(hub: GatewayHarness) -> None:
    response = await post(hub.client, "/v1/records/" + "k" * 60, {}, hub.token("street-jiyuqiao"))
    await expect_problem(response, 404, "unknown-kind")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/nope"), ("POST", "/v2/records/clue"), ("GET", "/v1/records/clue/batch/x")],
)
async def test_unknown_path_is_404(hub: GatewayHarness, method: str, path: str) -> None:
    response = await hub.client.request(
        method, path, data=b"{}", headers=auth(hub.token("street-jiyuqiao"))
    )
    await expect_problem(response, 404, "not-found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v1/records/clue", "POST"),
        ("PUT", "/v1/records/clue/batch", "POST"),
        ("POST", "/v1/inbox", "GET"),
        ("DELETE", "/v1/openapi.json", "GET"),
    ],
)
async def test_wrong_method_is_405_with_allow(
    hub: GatewayHarness, method: str, path: str, allowed: str
) -> None:
    response = await hub.client.request(
        method, path, data=b"{}", headers=auth(hub.token("street-jiyuqiao"))
    )
    await expect_problem(response, 405, "method-not-allowed", "Allow")
    assert allowed in response.headers["Allow"]


@pytest.mark.parametrize("path", ["/v1/records/clue", "/v1/records/clue/batch"])
async def test_body_over_the_limit_is_413(hub: GatewayHarness, path: str) -> None:
    record = record_for("clue", "street-jiyuqiao")
    record["description"] = "x" * 1999
    body = encode(
        {"records": [record, record]} if path.endswith("batch") else {**record, "p": "y" * 3000}
    )
    assert len(body) > hub.settings.gateway_body_limit
    response = await post(hub.client, path, body, hub.token("street-jiyuqiao"))
    await expect_problem(response, 413, "body-too-large")


async def test_batch_over_the_limit_is_413(hub: GatewayHarness) -> None:
    party = "dept-urban"
    records = [record_for("clue", party) for _ in range(hub.settings.gateway_batch_limit + 1)]
    body = encode({"records": records})
    assert len(body) <= hub.settings.gateway_body_limit
    response = await post(hub.client, "/v1/records/clue/batch", body, hub.token(party))
    await expect_problem(response, 413, "batch-too-large")


async def test_invalid_records_are_422_with_every_error(hub: GatewayHarness) -> None:
    bad_uscc = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")
    assert uscc_check_char(USCC[:-1]) != bad_uscc[-1]
    entity = record_for("entity", "bigdata")
    entity["uscc"] = bad_uscc
    response = await post(hub.client, "/v1/records/entity", entity, hub.token("bigdata"))
    body = await expect_problem(response, 422, "invalid-record")
    assert [(e["path"], e["rule"]) for e in body["errors"]] == [("uscc", "uscc.checksum")]

    order = record_for("order", "street-jiyuqiao")
    order["deadline"] = "2026-11-25T09:00:00+08:00"
    order["priority"] = "WHENEVER"
    response = await post(hub.client, "/v1/records/order", order, hub.token("street-jiyuqiao"))
    body = await expect_problem(response, 422, "invalid-record")
    rules = {(e["path"], e["rule"]) for e in body["errors"]}
    assert ("deadline", "deadline.not_after_issue") in rules
    assert "priority" in {path for path, _ in rules}
    for error in body["errors"]:
        assert set(error) == {"path", "rule", "message_zh", "message_en"}
        assert error["message_zh"] and error["message_en"]


@pytest.mark.parametrize(
    "body",
    [
        "not an object",
        ["a", "list"],
        {"source_party": "street-jiyuqiao"},
    ],
    ids=["string", "list", "incomplete"],
)
async def test_records_that_are_not_records_are_422(hub: GatewayHarness, body: Any) -> None:
    response = await post(hub.client, "/v1/records/clue", body, hub.token("street-jiyuqiao"))
    await expect_problem(response, 422, "invalid-record")


async def test_an_unknown_field_named_with_a_lone_surrogate_is_422_not_500(
    hub: GatewayHarness,
) -> None:
    """JSON may escape a lone surrogate (\\ud800); the problem must still be renderable."""
    record = record_for("clue", "street-jiyuqiao")
    body = encode(record)[:-1] + b', "\\ud800": 1}'
    response = await post(hub.client, "/v1/records/clue", body, hub.token("street-jiyuqiao"))
    await expect_problem(response, 422, "invalid-record")


@pytest.mark.parametrize("field", HUB_OWNED)
async def test_hub_owned_fields_are_422(hub: GatewayHarness, field: str) -> None:
    party = "street-jiyuqiao"
    record = record_for("clue", party)
    record[field] = (
        str(derive_record_id(party, record["source_id"]))
        if field == "record_id"
        else "2026-11-25T09:30:00+08:00"
    )
    response = await post(hub.client, "/v1/records/clue", record, hub.token(party))
    await expect_problem(response, 422, "hub-owned-field")


@pytest.mark.parametrize(
    ("kind", "party", "field", "forged"),
    [
        ("clue", "street-jiyuqiao", "source_party", "street-yangyuan"),
        ("order", "street-jiyuqiao", "source_party", "dept-urban"),
        ("order", "street-jiyuqiao", "from_party", "street-yangyuan"),
        ("order-event", "dept-urban", "actor_party", "police"),
        ("order-event", "court", "source_party", "procuratorate"),
        ("entity", "bigdata", "source_party", "justice"),
    ],
)
async def test_forged_parties_are_403(
    hub: GatewayHarness, kind: str, party: str, field: str, forged: str
) -> None:
    record = record_for(kind, party)
    record[field] = forged
    response = await post(hub.client, f"/v1/records/{kind}", record, hub.token(party))
    body = await expect_problem(response, 403, "forged-source")
    assert field in body["detail"]


async def test_forged_party_in_a_batch_is_refused_per_record(hub: GatewayHarness) -> None:
    party = "dept-urban"
    good, forged = record_for("order", party), record_for("order", party)
    forged["from_party"] = "street-jiyuqiao"
    response = await post(
        hub.client, "/v1/records/order/batch", {"records": [good, forged]}, hub.token(party)
    )
    answer = await response.json()
    assert response.status == 207, answer
    assert [r["status"] for r in answer["results"]] == [202, 403]
    assert answer["results"][1]["problem"]["type"] == "urn:wuchang-hub:problem:forged-source"


@pytest.mark.parametrize(
    "body",
    [{"records": []}, {"records": "x"}, {"other": []}, [], [{"a": 1}]],
    ids=["empty", "str", "no", "empty-list", "bare-list"],
)
async def test_batch_without_records_is_422(hub: GatewayHarness, body: Any) -> None:
    response = await post(hub.client, "/v1/records/clue/batch", body, hub.token("street-jiyuqiao"))
    await expect_problem(response, 422, "invalid-record")


async def test_a_batch_item_that_is_not_an_object_refuses_the_batch(hub: GatewayHarness) -> None:
    """The document says records are objects: a batch breaking that shape is 422 as a
    whole (each bad index named) and writes nothing, not a 207 per item."""
    party = "street-jiyuqiao"
    good = record_for("clue", party)
    body = {"records": [good, None, [1], "x"]}
    response = await post(hub.client, "/v1/records/clue/batch", body, hub.token(party))
    problem = await expect_problem(response, 422, "invalid-record")
    assert [(e["path"], e["rule"]) for e in problem["errors"]] == [
        ("records[1]", "type.object"), ("records[2]", "type.object"), ("records[3]", "type.object")
    ]
    assert "nothing was written" in problem["detail"]
    answer = await post(hub.client, "/v1/records/clue", good, hub.token(party))
    assert answer.status == 202
    assert "duplicate" not in await answer.json()  # the refused batch wrote nothing


# ======================================================== 4. Kafka unreachable: 503


async def test_unreachable_kafka_is_503_with_retry_after_and_nothing_written(
    hub: GatewayHarness, tmp_path: Path
) -> None:
    dead = settings_for(f"127.0.0.1:{free_port()}", tmp_path, kafka_timeout=2)
    served = await serve(dead, hub.reference, hub.serde, ["street-jiyuqiao"])
    try:
        token = served.token("street-jiyuqiao")
        record = record_for("clue", "street-jiyuqiao")
        for _ in range(2):  # a second try is refused again, not answered as a duplicate
            response = await post(served.client, "/v1/records/clue", record, token)
            body = await expect_problem(response, 503, "kafka-unavailable", "Retry-After")
            assert "nothing was written" in body["detail"]
            assert int(response.headers["Retry-After"]) >= 1
        response = await post(
            served.client,
            "/v1/records/clue/batch",
            {"records": [record_for("clue", "street-jiyuqiao")]},
            token,
        )
        await expect_problem(response, 503, "kafka-unavailable", "Retry-After")
        response = await served.client.get("/v1/inbox", headers=auth(token))
        await expect_problem(response, 503, "kafka-unavailable", "Retry-After")
        response = await served.client.get("/v1/openapi.json", headers=auth(token))
        assert response.status == 200  # needs no Kafka
        await response.read()
    finally:
        await served.close()


# ================================================================= 8. broker outage


def _free_port_pair() -> int:
    """An even port P with P and P+1 free, below the ephemeral range (32768 and up)."""
    for _ in range(200):
        port = random.randrange(20000, 31998, 2)  # noqa: S311
        try:
            for offset in (0, 1):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port + offset))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair")


@dataclass
class Outage:
    """What a gateway answered before, during and after its own broker was down."""

    before: int
    during: int
    during_problem: dict[str, Any]
    during_retry_after: str | None
    after: list[int]
    after_answer: dict[str, Any]
    after_record_id: str | None
    accepted_id: str
    refused_id: str
    keys: list[bytes]


async def _publish_until_accepted(
    harness: GatewayHarness, record: dict[str, Any], seconds: float
) -> tuple[dict[str, Any], list[int]]:
    statuses: list[int] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        response = await post(
            harness.client, "/v1/records/clue", record, harness.token("street-jiyuqiao")
        )
        answer = await response.json(content_type=None)
        statuses.append(response.status)
        if response.status != 503 or loop.time() > deadline:
            return answer, statuses
        await asyncio.sleep(1)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def outage(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Outage]:
    """A broker of its own: publish, stop it, publish, start it again, publish until 202."""
    tmp = tmp_path_factory.mktemp("outage")
    port = str(_free_port_pair())
    data = str(tmp / "kafka")
    bootstrap = f"127.0.0.1:{port}"
    party = "street-jiyuqiao"
    await asyncio.to_thread(kafka_sh, "start", "--port", port, "--data", data)
    harness: GatewayHarness | None = None
    try:
        await asyncio.to_thread(apply_topics, bootstrap)
        harness = await GatewayHarness.start(bootstrap, tmp / "hub", kafka_timeout=3)
        first = record_for("clue", party)
        response = await post(harness.client, "/v1/records/clue", first, harness.token(party))
        before = response.status
        await response.read()

        await asyncio.to_thread(kafka_sh, "stop", "--port", port, "--data", data)
        refused = record_for("clue", party)
        response = await post(harness.client, "/v1/records/clue", refused, harness.token(party))
        during, problem = response.status, await response.json(content_type=None)
        retry_after = response.headers.get("Retry-After")

        await asyncio.to_thread(kafka_sh, "start", "--port", port, "--data", data)
        second = record_for("clue", party)
        answer, after = await _publish_until_accepted(harness, second, seconds=30)
        record_id = None
        if after[-1] == 202:
            message = await read_at(
                bootstrap, answer["topic"], answer["partition"], answer["offset"]
            )
            record_id = str((await harness.serde.decode("clue", message.value)).record_id)  # type: ignore[attr-defined]
        await asyncio.sleep(2)  # let anything still queued in the producer arrive
        ends = await end_offsets(bootstrap, "enf.clue.v1")
        keys = [m.key for m in await read_range(bootstrap, "enf.clue.v1", {}, ends)]
        yield Outage(
            before=before,
            during=during,
            during_problem=problem,
            during_retry_after=retry_after,
            after=after,
            after_answer=answer,
            after_record_id=record_id,
            accepted_id=str(derive_record_id(party, first["source_id"])),
            refused_id=str(derive_record_id(party, refused["source_id"])),
            keys=keys,
        )
    finally:
        try:
            if harness is not None:
                await harness.stop()
        finally:
            await asyncio.to_thread(kafka_sh, "stop", "--port", port, "--data", data, check=False)


async def test_broker_outage_answers_503_with_retry_after(outage: Outage) -> None:
    assert outage.before == 202
    assert outage.during == 503, outage.during_problem
    assert outage.during_problem["type"] == "urn:wuchang-hub:problem:kafka-unavailable"
    assert outage.during_problem["status"] == 503
    assert outage.during_retry_after is not None and int(outage.during_retry_after) >= 1


async def test_gateway_recovers_after_the_broker_restarts_without_a_rebuild(
    outage: Outage,
) -> None:
    assert outage.after[-1] == 202, outage.after
    assert set(outage.after[:-1]) <= {503}, outage.after
    assert outage.after_record_id == outage.after_answer["record_id"]
    assert outage.keys.count(outage.accepted_id.encode()) == 1
    assert outage.keys.count(outage.after_answer["record_id"].encode()) == 1


async def test_a_503_says_honestly_that_the_record_may_still_arrive(outage: Outage) -> None:
    """Handed to the producer before the broker went away, the record may still be
    delivered once it returns: the 503 must say so and ask for the same record again,
    and the record reaches the topic at most once."""
    assert outage.during == 503
    detail = outage.during_problem["detail"]
    assert "may still be written" in detail
    assert "resend the same record" in detail
    assert "记录可能仍会写入" in outage.during_problem["detail_zh"]
    assert outage.keys.count(outage.refused_id.encode()) <= 1

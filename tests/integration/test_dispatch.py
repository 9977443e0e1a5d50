"""The dispatch engine end to end on the real broker: a `hub worker` routes orders and
applies their events; parties publish and read through the gateway.

Every flow here runs as production does (issue 18): on the secured cluster (SASL_SSL,
`hub acls apply`), the worker logged in as ``hub-worker``; the tests read the DLQ as
``hub-ops`` and write straight to the hub's topics as ``hub-worker`` (only the hub may)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from hub.records import validate
from hub.reference import BEIJING, REFERENCE_DIR, load_calendar
from hub.registry import RegistryClient
from hub.serde import AvroSerde
from tests.conftest import ROOT, free_port
from tests.integration.conftest import (
    FAST_FINE_SECONDS,
    LATE_PRIORITY,
    SECURE_APP,
    SecureCluster,
    fast_deadlines,
    fast_enforcement,
    http_json,
    issue_tokens,
    running_worker,
)
from tests.samples import CITIZEN_ID, sample

HUB = str(ROOT / ".venv" / "bin" / "hub")
PARTIES = (
    "street-jiyuqiao",
    "street-yangyuan",
    "street-ziyang",
    "dept-health",
    "dept-housing",
    "dept-urban",
    "dept-water",
    "police",
    "procuratorate",
    "court",
    "bigdata",
    "justice",
    "finance",
    "ops",
)


class Hub:
    """A running worker and tokens for the parties the tests act as."""

    def __init__(self, base: str, cluster: SecureCluster, tokens: dict[str, str]) -> None:
        self.base = base
        self.cluster = cluster
        self.tokens = tokens

    def post(self, path: str, body: Any, party: str) -> tuple[int, dict[str, Any]]:
        status, answer = http_json(self.base, path, self.tokens[party], body)
        return status, answer

    def inbox_for(
        self, party: str, order_id: str, count: int, timeout: float = 30
    ) -> list[dict[str, Any]]:
        """The records about order_id in party's inbox, once there are at least count."""
        deadline = time.monotonic() + timeout
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            found, cursor = [], ""
            while True:
                request = urllib.request.Request(  # noqa: S310
                    f"{self.base}/v1/inbox?limit=1000&cursor={cursor}",
                    headers={"Authorization": f"Bearer {self.tokens[party]}"},
                )
                with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                    page = json.load(answer)
                found += [
                    item["record"]
                    for item in page["items"]
                    if item.get("record", {}).get("order_id") == order_id
                ]
                if not page["items"]:
                    break
                cursor = page["cursor"]
            if len(found) >= count:
                return found
            time.sleep(0.5)
        raise AssertionError(
            f"{party}'s inbox has {len(found)} of {count} records about {order_id}"
        )

    def order(self, party: str, **changes: Any) -> str:
        """Publish an order issued now and due tomorrow (so no deadline fires during a test)."""
        now = datetime.now(UTC)
        body = sample(
            "order",
            source_id=f"T-{uuid.uuid4().hex[:12]}",
            from_party=party,
            source_party=party,
            occurred_at=now.isoformat(),
            issued_at=now.isoformat(),
            deadline=(now + timedelta(days=1)).isoformat(),
        )
        body.update(changes)
        status, answer = self.post("/v1/records/order", body, party)
        assert status == 202, answer
        return str(answer["record_id"])

    def event(self, party: str, order_id: str, event_type: str, **extra: Any) -> None:
        body = {
            "source_party": party,
            "source_id": f"E-{uuid.uuid4().hex[:12]}",
            "occurred_at": "2026-11-25T10:00:00+08:00",
            "order_id": order_id,
            "event_type": event_type,
            "actor_party": party,
            **extra,
        }
        status, answer = self.post("/v1/records/order-event", body, party)
        assert status == 202, answer


@pytest.fixture(scope="module")
def hub(
    secure_cluster: SecureCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hub]:
    data = tmp_path_factory.mktemp("dispatch")
    port = free_port()
    env = secure_cluster.env(
        "hub-worker",
        HUB_DATA_DIR=str(data),
        HUB_HTTP_PORT=str(port),
        HUB_APP_ID=f"{SECURE_APP}-dispatch-{port}",
        HUB_DEADLINE_SWEEP_SECONDS="1",
        HUB_DEADLINES_FILE=str(fast_deadlines(data)),
        HUB_ENFORCEMENT_FILE=str(fast_enforcement(data)),
        HUB_LOG_LEVEL="INFO",
    )
    loaded = subprocess.run(
        [HUB, "reference", "load"], env=env, capture_output=True, text=True, check=False
    )
    assert loaded.returncode == 0, loaded.stderr
    tokens = issue_tokens(env, PARTIES)
    log = Path(data) / "worker.log"
    with running_worker(env, log) as base:
        yield Hub(base, secure_cluster, tokens)


def test_a_whistle_reaches_the_department_and_its_story_reaches_the_street(hub: Hub) -> None:
    order_id = hub.order("street-jiyuqiao")
    (order,) = hub.inbox_for("dept-urban", order_id, 1)
    assert order["order_type"] == "WHISTLE"
    hub.event("dept-urban", order_id, "SIGNED")
    hub.event("dept-urban", order_id, "REPORTED")
    hub.event("dept-urban", order_id, "FEEDBACK", comment="已联合整治，占道已清理")
    hub.event("street-jiyuqiao", order_id, "CLOSED")
    hub.event("street-jiyuqiao", order_id, "EVALUATED", rating=5)
    story = hub.inbox_for("street-jiyuqiao", order_id, 5)
    assert [e["event_type"] for e in story] == [
        "SIGNED",
        "REPORTED",
        "FEEDBACK",
        "CLOSED",
        "EVALUATED",
    ]
    department_view = hub.inbox_for("dept-urban", order_id, 6)
    assert department_view[-1]["event_type"] == "EVALUATED"


def test_a_whistle_without_recipients_goes_to_the_matters_department(hub: Hub) -> None:
    order_id = hub.order("street-jiyuqiao", to_parties=[], matter_code="WAT-001")
    (order,) = hub.inbox_for("dept-water", order_id, 1)
    assert order["order_id"] == order_id


def _dlq_record(hub: Hub, key: bytes) -> dict[str, bytes]:
    """The headers (and "value") of the DLQ record with key, waiting up to 30 s."""

    async def find() -> dict[str, bytes]:
        consumer = AIOKafkaConsumer(
            "hub.dlq.v1",
            **hub.cluster.client("hub-ops"),
            auto_offset_reset="earliest",
            group_id=None,
        )
        await consumer.start()
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    for record in records:
                        if record.key == key:
                            return {k: bytes(v) for k, v in record.headers} | {
                                "value": record.value
                            }
        finally:
            await consumer.stop()
        raise AssertionError(f"no DLQ record with key {key!r}")

    return asyncio.run(find())


def _produce(hub: Hub, kind: str, topic: str, record: Any, key: bytes) -> None:
    async def send() -> None:
        async with RegistryClient(hub.base + "/registry") as client:
            value = await AvroSerde(client).encode(kind, record)
        producer = AIOKafkaProducer(**hub.cluster.client("hub-worker"), acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(
                topic, key=key, value=value, headers=[("hub.kind", kind.encode())]
            )
        finally:
            await producer.stop()

    asyncio.run(send())


def test_records_naming_an_unknown_matter_go_to_the_dlq(hub: Hub) -> None:
    """Written straight to Kafka (the gateway would refuse them with 422)."""
    now = datetime.now(UTC)
    order = validate(
        "order",
        sample(
            "order",
            source_id=f"T-{uuid.uuid4().hex[:12]}",
            matter_code="URB-999",
            issued_at=now.isoformat(),
            deadline=(now + timedelta(days=1)).isoformat(),
        ),
    )
    key = str(order.record_id).encode()
    _produce(hub, "order", "enf.order.v1", order, key)
    parked = _dlq_record(hub, key)
    assert parked["hub.error.class"] == b"RecordInvalid"
    assert b"matter_code" in parked["hub.error.message"]
    assert b"URB-999" in parked["hub.error.message"]
    clue = validate(
        "clue", sample("clue", source_id=f"C-{uuid.uuid4().hex[:12]}", matter_code="WAT-999")
    )
    key = str(clue.record_id).encode()
    _produce(hub, "clue", "enf.clue.v1", clue, key)
    parked = _dlq_record(hub, key)
    assert parked["hub.error.source.topic"] == b"enf.clue.v1"
    assert b"WAT-999" in parked["hub.error.message"]


def test_an_event_that_does_not_fit_is_409_over_http_and_parked_from_kafka(hub: Hub) -> None:
    order_id = hub.order("street-jiyuqiao")
    hub.inbox_for("dept-urban", order_id, 1)
    body = {
        "source_party": "dept-urban",
        "source_id": f"E-{uuid.uuid4().hex[:12]}",
        "occurred_at": "2026-11-25T10:00:00+08:00",
        "order_id": order_id,
        "event_type": "FEEDBACK",
        "actor_party": "dept-urban",
        "comment": "未签收先反馈",
    }
    status, problem = hub.post("/v1/records/order-event", body, "dept-urban")
    assert status == 409 and problem["rule"] == "event.not_in_state", problem
    # the same event from the party's own Kafka client (or a connector): parked with why
    event = validate("order-event", body)
    _produce(hub, "order-event", "enf.order-event.v1", event, order_id.encode())

    parked = _dlq_record(hub, order_id.encode())
    assert parked["hub.error.stage"] == b"lifecycle"
    assert parked["hub.error.class"] == b"event.not_in_state"
    assert b"SIGNED" in parked["hub.error.message"]
    assert parked["hub.error.source.topic"] == b"enf.order-event.v1"
    assert parked["hub.error.connector"] == b"dispatch"
    assert int(parked["hub.error.source.offset"]) >= 0
    assert parked["value"][:1] == b"\x00"  # the original Confluent-framed bytes


def test_an_event_that_arrives_before_its_order_waits_for_it(hub: Hub) -> None:
    now = datetime.now(UTC)
    body = sample(
        "order",
        source_id=f"T-{uuid.uuid4().hex[:12]}",
        issued_at=now.isoformat(),
        deadline=(now + timedelta(days=1)).isoformat(),
    )
    order = validate("order", body)
    order_id = str(order.record_id)

    async def publish_event_first() -> None:
        event = validate(
            "order-event",
            {
                "source_party": "dept-urban",
                "source_id": f"E-{uuid.uuid4().hex[:12]}",
                "occurred_at": "2026-11-25T10:00:00+08:00",
                "order_id": order_id,
                "event_type": "SIGNED",
                "actor_party": "dept-urban",
            },
        )
        async with RegistryClient(hub.base + "/registry") as client:
            value = await AvroSerde(client).encode("order-event", event)
        producer = AIOKafkaProducer(**hub.cluster.client("hub-worker"), acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(
                "enf.order-event.v1",
                key=order_id.encode(),
                value=value,
                headers=[("hub.kind", b"order-event")],
            )
        finally:
            await producer.stop()

    asyncio.run(publish_event_first())
    time.sleep(2)
    status, answer = hub.post("/v1/records/order", body, "street-jiyuqiao")
    assert status == 202, answer
    (signed,) = hub.inbox_for("street-jiyuqiao", order_id, 1)
    assert signed["event_type"] == "SIGNED"


def test_the_second_return_escalates_to_justice(hub: Hub) -> None:
    order_id = hub.order("street-jiyuqiao")
    hub.inbox_for("dept-urban", order_id, 1)
    hub.event("dept-urban", order_id, "RETURNED", reason="不属于本部门职责")
    hub.event("street-jiyuqiao", order_id, "REASSIGNED", reassign_to=["dept-water"])
    hub.inbox_for("dept-water", order_id, 1)
    hub.event("dept-water", order_id, "RETURNED", reason="同样不属于本部门")
    escalations = [
        r for r in hub.inbox_for("justice", order_id, 2) if r["event_type"] == "ESCALATED"
    ]
    assert escalations and escalations[0]["actor_party"] == "hub"
    hub.event("justice", order_id, "REASSIGNED", reassign_to=["dept-urban"])
    # the ruling, then the order itself again: the department holds it once more
    *_, ruling, again = hub.inbox_for("dept-urban", order_id, 4)
    assert ruling["event_type"] == "REASSIGNED" and ruling["actor_party"] == "justice"
    assert again["order_id"] == order_id and again["to_parties"] == ["dept-urban"]


def test_a_criminal_referral_keeps_police_and_procuratorate_informed(hub: Hub) -> None:
    order_id = hub.order(
        "street-jiyuqiao",
        order_type="CRIMINAL_REFERRAL",
        to_parties=["police"],
        referral={"suspected_offence": "非法经营罪", "evidence": ["现场检查笔录", "询问笔录"]},
    )
    hub.inbox_for("police", order_id, 1)
    hub.inbox_for("procuratorate", order_id, 1)
    hub.event("police", order_id, "ACCEPTED")
    hub.event("police", order_id, "NOT_FILED", reason="证据不足")
    hub.event("street-jiyuqiao", order_id, "RECONSIDERATION", reason="补充证据后申请复议")
    for party in ("street-jiyuqiao", "procuratorate"):
        records = hub.inbox_for(party, order_id, 3 + (party == "procuratorate"))
        seen = [r.get("event_type", "order") for r in records]
        assert seen[-3:] == ["ACCEPTED", "NOT_FILED", "RECONSIDERATION"], (party, seen)
    police = [r.get("event_type") for r in hub.inbox_for("police", order_id, 4)]
    assert police[-1] == "RECONSIDERATION"


def _get(hub: Hub, path: str, party: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310
        hub.base + path, headers={"Authorization": f"Bearer {hub.tokens[party]}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def _wait_state(hub: Hub, order_id: str, party: str, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        status, view = _get(hub, f"/v1/orders/{order_id}", party)
        if status == 200 and view["state"] == state:
            return view
        assert time.monotonic() < deadline, (status, view)
        time.sleep(0.3)


def test_order_actions_over_http_check_the_state_first(hub: Hub) -> None:
    order_id = hub.order("street-jiyuqiao")
    view = _wait_state(hub, order_id, "dept-urban", "ISSUED")
    assert view["issuer"] == "street-jiyuqiao" and view["recipients"] == ["dept-urban"]

    status, problem = hub.post(
        f"/v1/orders/{order_id}/events",
        {"event_type": "FEEDBACK", "comment": "先反馈"},
        "dept-urban",
    )
    assert status == 409
    assert problem["rule"] == "event.not_in_state" and problem["state"] == "ISSUED"
    assert "SIGNED" in problem["detail"] and problem["detail_zh"]

    status, answer = hub.post(
        f"/v1/orders/{order_id}/events",
        {"event_type": "SIGNED", "source_id": "sign-once"},
        "dept-urban",
    )
    assert (
        status == 202
        and answer["state_after"] == "SIGNED"
        and answer["topic"] == "enf.order-event.v1"
    )
    _wait_state(hub, order_id, "street-jiyuqiao", "SIGNED")
    status, again = hub.post(
        f"/v1/orders/{order_id}/events",
        {"event_type": "SIGNED", "source_id": "sign-once"},
        "dept-urban",
    )
    assert (
        status == 202 and again["duplicate"] is True and again["record_id"] == answer["record_id"]
    )

    assert (
        hub.post(f"/v1/orders/{order_id}/events", {"event_type": "CLOSED"}, "dept-urban")[0] == 409
    )
    assert (
        hub.post(f"/v1/orders/{order_id}/events", {"event_type": "OVERDUE"}, "dept-urban")[0] == 403
    )
    status, problem = hub.post(
        f"/v1/orders/{order_id}/events",
        {"event_type": "SIGNED", "actor_party": "dept-water"},
        "dept-urban",
    )
    assert status == 422 and "actor_party" in problem["detail"]
    status, problem = hub.post(
        f"/v1/orders/{order_id}/events", {"event_type": "RETURNED"}, "dept-urban"
    )
    assert status == 422 and problem["errors"][0]["rule"] == "event.reason_required"


def test_an_order_is_visible_only_to_the_parties_on_it(hub: Hub) -> None:
    order_id = hub.order("street-jiyuqiao")
    _wait_state(hub, order_id, "street-jiyuqiao", "ISSUED")
    assert _get(hub, f"/v1/orders/{order_id}", "dept-water")[0] == 404
    assert (
        hub.post(f"/v1/orders/{order_id}/events", {"event_type": "SIGNED"}, "dept-water")[0] == 404
    )
    assert _get(hub, f"/v1/orders/{uuid.uuid4()}", "dept-urban")[0] == 404
    assert _get(hub, "/v1/orders/not-an-id", "dept-urban")[0] == 404
    # the order first, then the body: a stranger learns nothing from the validation
    bad = {"event_type": "SIGNED", "rating": 9, "source_id": ""}
    assert hub.post(f"/v1/orders/{order_id}/events", bad, "dept-water")[0] == 404
    assert hub.post(f"/v1/orders/{uuid.uuid4()}/events", bad, "dept-urban")[0] == 404
    status, problem = hub.post(f"/v1/orders/{order_id}/events", bad, "dept-urban")
    assert status == 422, problem
    assert {e["path"] for e in problem["errors"]} >= {"source_id", "rating"}, problem


def test_a_party_lists_the_orders_it_issued_and_received(hub: Hub) -> None:
    order_id = hub.order("street-jiyuqiao")
    _wait_state(hub, order_id, "dept-urban", "ISSUED")
    status, received = _get(hub, "/v1/orders?role=received&state=ISSUED", "dept-urban")
    assert status == 200
    assert order_id in [o["order_id"] for o in received["orders"]]
    assert all(
        o["state"] == "ISSUED" and "dept-urban" in o["recipients"] for o in received["orders"]
    )
    status, issued = _get(hub, "/v1/orders?role=issued", "street-jiyuqiao")
    assert status == 200 and order_id in [o["order_id"] for o in issued["orders"]]
    assert all(o["issuer"] == "street-jiyuqiao" for o in issued["orders"])
    assert _get(hub, "/v1/orders?role=watched", "dept-urban")[0] == 422
    assert _get(hub, "/v1/orders?state=DONE", "dept-urban")[0] == 422
    assert _get(hub, "/v1/orders?state=", "dept-urban")[0] == 422  # empty is no state


# Who may do what with one whistle from street-jiyuqiao to dept-urban (docs/design.md §9): the
# parties on the order see it, the recipient signs it, the issuer and justice may look
# but not sign, everyone else is told it does not exist, ops sees no orders at all.
ORDER_MATRIX = {
    "street-jiyuqiao": (200, 409, 200),
    "dept-urban": (200, 202, 200),
    "dept-water": (404, 404, 200),
    "police": (404, 404, 200),
    "procuratorate": (404, 404, 200),
    "court": (404, 404, 200),
    "bigdata": (404, 404, 200),
    "justice": (200, 409, 200),
    "finance": (404, 404, 200),
    "ops": (403, 403, 403),
}


@pytest.fixture(scope="module")
def matrix_order(hub: Hub) -> str:
    order_id = hub.order("street-jiyuqiao")
    _wait_state(hub, order_id, "dept-urban", "ISSUED")
    return order_id


@pytest.mark.parametrize("endpoint", ["show", "act", "list"])
@pytest.mark.parametrize("party", list(ORDER_MATRIX))
def test_order_endpoint_authorisation(
    hub: Hub, matrix_order: str, party: str, endpoint: str
) -> None:
    expected = dict(zip(("show", "act", "list"), ORDER_MATRIX[party], strict=True))[endpoint]
    if endpoint == "show":
        status, body = _get(hub, f"/v1/orders/{matrix_order}", party)
    elif endpoint == "act":
        action = {"event_type": "SIGNED", "source_id": f"matrix-{party}"}
        status, body = hub.post(f"/v1/orders/{matrix_order}/events", action, party)
    else:
        status, body = _get(hub, "/v1/orders?role=received", party)
    assert status == expected, body
    if status >= 400:
        assert body["status"] == status and body["title_zh"], body


@pytest.mark.parametrize("endpoint", ["show", "act", "list"])
def test_order_endpoints_need_a_token(hub: Hub, matrix_order: str, endpoint: str) -> None:
    path = {
        "show": f"/v1/orders/{matrix_order}",
        "act": f"/v1/orders/{matrix_order}/events",
        "list": "/v1/orders",
    }[endpoint]
    request = urllib.request.Request(  # noqa: S310
        hub.base + path,
        data=b"{}" if endpoint == "act" else None,
        method="POST" if endpoint == "act" else "GET",
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    refused.value.close()
    assert refused.value.code == 401
    assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_missed_deadline_is_reported_once_and_escalated_to_justice(hub: Hub) -> None:
    """The controllable clock: a CRITICAL whistle signs off 2 s after the hub received it
    (`fast_deadlines`), and its issuer wanted the answer an hour ago."""
    now = datetime.now(UTC)
    order_id = hub.order(
        "street-jiyuqiao",
        priority=LATE_PRIORITY,
        issued_at=(now - timedelta(hours=30)).isoformat(),
        deadline=(now - timedelta(hours=1)).isoformat(),
    )
    notices = hub.inbox_for("street-jiyuqiao", order_id, 4)
    overdue = sorted(n["reason"].split(" ")[0] for n in notices if n["event_type"] == "OVERDUE")
    assert overdue == ["answer", "sign-off"]
    escalations = [
        n for n in hub.inbox_for("justice", order_id, 4) if n["event_type"] == "ESCALATED"
    ]
    assert len(escalations) == 2 and all(e["actor_party"] == "hub" for e in escalations)
    time.sleep(3)  # three more sweeps: nothing is reported twice
    again = hub.inbox_for("street-jiyuqiao", order_id, 4)
    assert sorted(n["event_id"] for n in again) == sorted(n["event_id"] for n in notices)
    assert _wait_state(hub, order_id, "dept-urban", "ISSUED")["state"] == "ISSUED"


def test_a_restarted_worker_recovers_its_orders_from_the_changelog(
    secure_cluster: SecureCluster, tmp_path: Path
) -> None:
    """Stop the only worker of an app, start a fresh one with empty local state: the
    orders table (views and assessment counters) comes back from its changelog and the
    order goes on where it was."""
    app_id = f"{SECURE_APP}-restart-{uuid.uuid4().hex[:8]}"
    tokens_file = tmp_path / "tokens.json"
    tokens: dict[str, str] = {}

    def env(run: str) -> dict[str, str]:
        return secure_cluster.env(
            "hub-worker",
            HUB_DATA_DIR=str(tmp_path / run),
            HUB_TOKENS_FILE=str(tokens_file),
            HUB_HTTP_PORT=str(free_port()),
            HUB_APP_ID=app_id,
            HUB_LOG_LEVEL="INFO",
        )

    first = env("first")
    # the matter catalogue on the broker (the module's fixture loads it too, but this
    # test must pass when run alone: `make test PYTEST_ARGS="-k restarted"`)
    loaded = subprocess.run(
        [HUB, "reference", "load"], env=first, capture_output=True, text=True, check=False
    )
    assert loaded.returncode == 0, loaded.stderr
    tokens.update(issue_tokens(first, ("street-jiyuqiao", "dept-urban")))
    with running_worker(first, tmp_path / "first.log") as base:
        hub = Hub(base, secure_cluster, tokens)
        order_id = hub.order("street-jiyuqiao")
        _wait_state(hub, order_id, "dept-urban", "ISSUED")
        status, _ = hub.post(
            f"/v1/orders/{order_id}/events", {"event_type": "SIGNED"}, "dept-urban"
        )
        assert status == 202
        _wait_state(hub, order_id, "dept-urban", "SIGNED")
        # the assessment counters, once the worker has caught up with the backlog
        before = _get(hub, "/v1/assessment", "dept-urban")[1]
        while True:
            time.sleep(1.5)
            now = _get(hub, "/v1/assessment", "dept-urban")[1]
            if now == before:
                break
            before = now
        assert before["parties"][0]["signed"] >= 1
    with running_worker(env("second"), tmp_path / "second.log") as base:
        hub = Hub(base, secure_cluster, tokens)
        view = _wait_state(hub, order_id, "street-jiyuqiao", "SIGNED")
        assert [step["event_type"] for step in view["history"]] == ["SIGNED"]
        assert _wait_for(hub, "/v1/assessment", "dept-urban", lambda b: b == before) == before
        status, answer = hub.post(
            f"/v1/orders/{order_id}/events", {"event_type": "REPORTED"}, "dept-urban"
        )
        assert status == 202 and answer["state_after"] == "IN_PROGRESS"


def test_a_decided_case_is_disclosed_to_the_bigdata_bureau_masked(hub: Hub) -> None:
    body = sample("case", source_id=f"CASE-{uuid.uuid4().hex[:10]}")
    status, answer = hub.post("/v1/records/case", body, "street-jiyuqiao")
    assert status == 202, answer
    case_id = answer["record_id"]
    deadline = time.monotonic() + 30
    while True:
        status, page = _get(hub, "/v1/inbox?limit=1000", "bigdata")
        found = [
            item["record"]
            for item in page["items"]
            if item["kind"] == "penalty" and item["record"]["case_record_id"] == case_id
        ]
        if found:
            break
        assert time.monotonic() < deadline, "no disclosure reached the big-data bureau"
        time.sleep(0.5)
    (disclosure,) = found
    assert disclosure["party_name"] == "李*"
    assert disclosure["id_number_masked"].startswith("420***")
    assert body["party"]["id_number"] not in json.dumps(disclosure)


def _case_items(hub: Hub, party: str, kind: str, case_id: str, count: int) -> list[dict[str, Any]]:
    """The records of kind about case_id in party's inbox, once there are count of them
    (and a moment more, so that one too many would show)."""
    deadline = time.monotonic() + 30
    while True:
        _, page = _get(hub, "/v1/inbox?limit=1000", party)
        found = [
            item["record"] for item in page["items"]
            if item["kind"] == kind and item["record"]["case_record_id"] == case_id
        ]
        if len(found) >= count:
            time.sleep(1.0)
            _, page = _get(hub, "/v1/inbox?limit=1000", party)
            return [
                item["record"] for item in page["items"]
                if item["kind"] == kind and item["record"]["case_record_id"] == case_id
            ]
        assert time.monotonic() < deadline, f"{party} has {len(found)} of {count} {kind}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def revised_case(hub: Hub) -> tuple[str, dict[str, Any]]:
    """A case posted FILED (revision 1), then DECIDED with a fine (revision 2)."""
    body = sample("case", source_id=f"CASE-{uuid.uuid4().hex[:10]}")
    filed = {**body, "status": "FILED", "decision": None}
    status, first = hub.post("/v1/records/case", filed, "street-jiyuqiao")
    assert status == 202, first
    status, second = hub.post("/v1/records/case", {**body, "revision": 2}, "street-jiyuqiao")
    assert status == 202 and "duplicate" not in second, second
    assert first["record_id"] == second["record_id"]  # one case, two revisions
    return str(first["record_id"]), body


def test_a_revised_case_is_disclosed_once_and_keeps_its_history(
    hub: Hub, revised_case: tuple[str, dict[str, Any]]
) -> None:
    case_id, body = revised_case
    (disclosure,) = _case_items(hub, "bigdata", "penalty", case_id, 1)
    assert disclosure["decision_no"] == body["decision"]["decision_no"]
    shown = _wait_for(hub, f"/v1/cases/{case_id}", "street-jiyuqiao",
                      lambda b: b.get("revisions") and len(b["revisions"]) == 2)
    assert [(r["revision"], r["status"]) for r in shown["revisions"]] == [
        (1, "FILED"), (2, "DECIDED")]
    assert shown["case"]["revision"] == 2 and shown["role"] == "owner"
    status, problem = hub.post("/v1/records/case", {**body, "revision": 2, "legal_basis": "改"},
                               "street-jiyuqiao")
    assert status == 409 and problem["rule"] == "case.revision_changed", problem


@pytest.mark.parametrize(
    ("reader", "revisions", "person", "officers"),
    [
        pytest.param("dept-urban", [1, 2], {"party_type": "NATURAL_PERSON"}, True,
                     id="delegating-department"),
        pytest.param("justice", [1, 2], {"party_type": "NATURAL_PERSON", "name": "李*",
                                         "id_number": CITIZEN_ID[:3] + "*" * 11 + CITIZEN_ID[-4:]},
                     True, id="justice"),
        pytest.param("procuratorate", [1, 2], {"party_type": "NATURAL_PERSON", "name": "李四",
                                               "id_number": CITIZEN_ID}, False,
                     id="procuratorate"),
        pytest.param("finance", [2], {"party_type": "NATURAL_PERSON"}, False, id="finance"),
    ],
)
def test_each_supervisor_gets_the_revisions_it_is_entitled_to_masked_as_documented(
    hub: Hub, revised_case: tuple[str, dict[str, Any]], reader: str, revisions: list[int],
    person: dict[str, str], officers: bool,
) -> None:
    case_id, body = revised_case
    notices = _case_items(hub, reader, "case-notice", case_id, len(revisions))
    assert sorted(n["revision"] for n in notices) == revisions
    for notice in notices:
        assert notice["reader"] == reader and notice["basis"]
        assert {k: v for k, v in notice["party"].items() if v is not None} == person
        assert bool(notice["officers"]) is officers
        assert "13900001111" not in json.dumps(notice)  # nobody supervising gets the phone
    decided = next(n for n in notices if n["revision"] == 2)
    assert decided["decision"]["amount"] == body["decision"]["amount"]
    shown = _wait_for(hub, f"/v1/cases/{case_id}", reader,
                      lambda b: b.get("notice", {}).get("revision") == 2)
    assert shown["role"] == "supervisor"
    assert {k: v for k, v in shown["notice"]["party"].items() if v is not None} == person


def _wait_for(hub: Hub, path: str, party: str, ready: Any, timeout: float = 30) -> Any:
    """GET path as party until ready(body) holds; the last body."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = _get(hub, path, party)
        if status == 200 and ready(body):
            return body
        assert time.monotonic() < deadline, (status, body)
        time.sleep(0.3)


def _mine(body: dict[str, Any], party: str) -> dict[str, Any]:
    return next((p for p in body["parties"] if p["party"] == party), {})


def test_the_months_assessment_shows_a_whistle_story(hub: Hub) -> None:
    """street-yangyuan whistles, dept-health answers; both are used by this test only."""
    order_id = hub.order("street-yangyuan", to_parties=["dept-health"])
    hub.inbox_for("dept-health", order_id, 1)
    hub.event("dept-health", order_id, "SIGNED")
    hub.event("dept-health", order_id, "REPORTED")
    hub.event("dept-health", order_id, "FEEDBACK", comment="已到场处置，责令商户清理")
    hub.event("dept-health", order_id, "FEEDBACK", comment="复查已整改")  # counted once
    hub.event("street-yangyuan", order_id, "CLOSED")
    hub.event("street-yangyuan", order_id, "EVALUATED", rating=4, comment="响应及时")
    period = datetime.now(UTC).astimezone(BEIJING).strftime("%Y-%m")
    body = _wait_for(
        hub,
        f"/v1/assessment?period={period}",
        "justice",
        lambda b: _mine(b, "dept-health").get("evaluations") == 1,
    )
    health = _mine(body, "dept-health")
    assert health["received"] == 1 and health["signed"] == 1 and health["signed_on_time"] == 1
    assert health["answered"] == 1 and health["answered_on_time_rate"] == 1.0
    assert health["returned"] == 0 and health["overdue"] == 0
    assert health["mean_evaluation"] == 4.0
    assert health["mean_response_hours"] is not None and health["mean_response_hours"] < 1
    assert health["p90_response_hours"] is not None
    assert _mine(body, "street-yangyuan")["issued"] == 1
    assert body["period"] == period

    own = _get(hub, f"/v1/assessment?period={period}", "dept-health")[1]
    assert [p["party"] for p in own["parties"]] == ["dept-health"]  # a party sees its own
    assert own["parties"][0] == health
    assert _get(hub, "/v1/assessment", "ops")[0] == 403
    status, problem = _get(hub, "/v1/assessment?period=2026-13", "justice")
    assert status == 422 and "YYYY-MM" in problem["detail"]
    assert _get(hub, "/v1/assessment?period=", "justice")[0] == 422  # empty is no month
    earlier = _get(hub, "/v1/assessment?period=2020-01", "justice")[1]
    assert earlier == {"period": "2020-01", "parties": []}


def test_the_assessment_is_exported_as_metrics_for_operators(hub: Hub) -> None:
    order_id = hub.order("street-ziyang", to_parties=["dept-housing"])
    hub.inbox_for("dept-housing", order_id, 1)
    hub.event("dept-housing", order_id, "RETURNED", reason="不属于房管职责")
    period = datetime.now(UTC).astimezone(BEIJING).strftime("%Y-%m")
    _wait_for(
        hub,
        f"/v1/assessment?period={period}",
        "dept-housing",
        lambda b: b["parties"][0]["returned"] == 1,
    )
    request = urllib.request.Request(  # noqa: S310
        hub.base + "/metrics", headers={"Authorization": f"Bearer {hub.tokens['ops']}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        text = answer.read().decode()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    where = (("party", "dept-housing"), ("period", period))

    def value(name: str, *extra: tuple[str, str]) -> float:
        return samples[(name, tuple(sorted(where + extra)))]

    assert value("hub_assessment_orders", ("measure", "received")) == 1.0
    assert value("hub_assessment_orders", ("measure", "returned")) == 1.0
    assert value("hub_assessment_response_seconds_count") == 0.0
    assert _get(hub, "/metrics", "street-ziyang")[0] == 403


def test_a_case_transfer_makes_the_receiver_the_case_owner(hub: Hub) -> None:
    transfer = {
        "order_type": "CASE_TRANSFER",
        "to_parties": ["dept-water"],
        "transfer": {
            "stop_order_issued": True,
            "reason": "违法行为属水务部门职权，已责令停止排污",
            "materials": ["现场检查笔录", "责令停止违法行为通知书", "照片12张"],
        },
    }
    order_id = hub.order("street-jiyuqiao", **transfer)
    (received,) = hub.inbox_for("dept-water", order_id, 1)
    assert received["transfer"]["stop_order_issued"] is True
    assert received["transfer"]["materials"][1] == "责令停止违法行为通知书"
    view = _wait_state(hub, order_id, "dept-water", "ISSUED")
    assert view["case_owner"] == "street-jiyuqiao"
    assert view["dues"]["acceptance"] is not None and view["dues"]["sign_off"] is None
    hub.event("dept-water", order_id, "ACCEPTED")
    view = _wait_state(hub, order_id, "street-jiyuqiao", "ACCEPTED")
    assert view["case_owner"] == "dept-water"
    assert [r.get("event_type") for r in hub.inbox_for("street-jiyuqiao", order_id, 1)] == [
        "ACCEPTED"
    ]

    returned = hub.order("street-jiyuqiao", **transfer)
    hub.inbox_for("dept-water", returned, 1)
    hub.event("dept-water", returned, "RETURNED", reason="该河段属市级管理，不属本局")
    view = _wait_state(hub, returned, "street-jiyuqiao", "RETURNED")
    assert view["case_owner"] == "street-jiyuqiao"  # still the street's case


def _clue(hub: Hub, party: str, street: str, matter: str) -> str:
    body = sample(
        "clue",
        source_party=party,
        source_id=f"C-{uuid.uuid4().hex[:12]}",
        street=street,
        matter_code=matter,
        occurred_at=datetime.now(UTC).isoformat(),
    )
    status, answer = hub.post("/v1/records/clue", body, party)
    assert status == 202, answer
    return str(answer["record_id"])


def _assignment_for(hub: Hub, party: str, clue_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        orders = _get(hub, "/v1/orders?role=received", party)[1]["orders"]
        for summary in orders:
            status, view = _get(hub, f"/v1/orders/{summary['order_id']}", party)
            if status == 200 and view.get("subject_id") == clue_id:
                return dict(view)
        time.sleep(0.5)
    raise AssertionError(f"no assignment for clue {clue_id} reached {party}")


def test_clues_become_assignments_both_ways(hub: Hub) -> None:
    # dept-health reports a road occupation (URB-001, delegated to streets) in Ziyang:
    # the street of the location handles it.
    down = _clue(hub, "dept-health", "street-ziyang", "URB-001")
    assignment = _assignment_for(hub, "street-ziyang", down)
    assert assignment["order_type"] == "ASSIGNMENT"
    assert assignment["issuer"] == "dept-health" and assignment["recipients"] == ["street-ziyang"]
    (delivered,) = hub.inbox_for("street-ziyang", assignment["order_id"], 1)
    assert delivered["subject_id"] == down and delivered["matter_code"] == "URB-001"
    # the dues come from deadlines.yaml: ASSIGNMENT/NORMAL answers in 7 working days
    calendar = load_calendar(REFERENCE_DIR / "calendar.yaml")
    issued = datetime.fromisoformat(assignment["issued_at"])
    expected = calendar.add_working_days(issued, 7)
    assert datetime.fromisoformat(assignment["dues"]["answer"]) == expected

    # street-yangyuan reports a matter the urban department kept (URB-003): it goes up.
    up = _clue(hub, "street-yangyuan", "street-yangyuan", "URB-003")
    assignment = _assignment_for(hub, "dept-urban", up)
    assert assignment["issuer"] == "street-yangyuan" and assignment["recipients"] == ["dept-urban"]

    # a street reporting a delegated matter on its own ground handles it itself: no order
    own = _clue(hub, "street-ziyang", "street-ziyang", "URB-001")
    time.sleep(2)
    orders = _get(hub, "/v1/orders?role=issued", "street-ziyang")[1]["orders"]
    for summary in orders:
        assert (
            _get(hub, f"/v1/orders/{summary['order_id']}", "street-ziyang")[1].get("subject_id")
            != own
        )


# ------------------------------------------------- the flows issue 16 added, end to end

_CASE_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "wuchang-hub/tests/unpaid-case"))
FLOWS = {
    # name: (issuer, recipient, order fields, the recipient's answers, the issuer's close)
    "reverse-transfer": ("police", "street-ziyang", {
        "order_type": "REVERSE_TRANSFER",
        "transfer": {"stop_order_issued": False, "reason": "不构成犯罪，应予行政处罚",
                     "materials": ["不予立案通知书"]},
    }, [("ACCEPTED", {})], ("street-ziyang", "CLOSED")),
    "suggested-referral": ("procuratorate", "street-yangyuan", {
        "order_type": "SUGGEST_REFERRAL",
        "referral": {"suspected_offence": "非法经营罪", "evidence": ["行政处罚决定书"]},
    }, [("SIGNED", {}), ("REFERRED", {"linked_order_id": "REFERRAL"})],
        ("procuratorate", "CLOSED")),
    "supervision-notice": ("justice", "dept-health", {"order_type": "SUPERVISION_NOTICE"},
                           [("SIGNED", {}), ("FEEDBACK", {"comment": "已整改，书面回复"})],
                           ("justice", "CLOSED")),
    "recommendation": ("procuratorate", "dept-housing", {"order_type": "RECOMMENDATION"},
                       [("FEEDBACK", {"comment": "已采纳检察建议"})], ("procuratorate", "CLOSED")),
    "enforcement-application": ("street-ziyang", "court", {
        "order_type": "ENFORCEMENT_APPLICATION", "subject_id": _CASE_ID,
        "enforcement": {"decision_no": "武紫执罚决字〔2026〕3号", "amount": "2000.00",
                        "decided_at": "2026-06-01T10:00:00+08:00",
                        "reminder_served_at": "2026-09-01T10:00:00+08:00"},
    }, [("ACCEPTED", {}), ("GRANTED", {"comment": "裁定准予执行"})], ("street-ziyang", "CLOSED")),
}


def _figures(hub: Hub, party: str) -> dict[str, Any]:
    status, body = _get(hub, "/v1/assessment", "justice")
    assert status == 200, body
    return next((p for p in body["parties"] if p["party"] == party), {})


@pytest.mark.parametrize("flow", list(FLOWS))
def test_each_new_flow_runs_end_to_end_with_its_deadline_overdue_and_assessment(
    hub: Hub, flow: str
) -> None:
    """Issue 16: the police could not send a case back, the procuratorate could not
    suggest a referral nor recommend, justice could not send a supervision notice, and an
    application for enforcement was a hand-made ASSISTANCE. Each is an order type now, on
    the tests' clock (`fast_deadlines`: a CRITICAL order's sign-off and acceptance fall due
    seconds after receipt; the issuer's own past deadline makes an answer late)."""
    issuer, recipient, fields, answers, (closer, close) = FLOWS[flow]
    before = _figures(hub, recipient)
    now = datetime.now(UTC)
    body = {
        **sample("order"), "source_party": issuer, "source_id": f"FLOW-{uuid.uuid4().hex[:10]}",
        "from_party": issuer, "to_parties": [recipient], "priority": LATE_PRIORITY,
        "occurred_at": now.isoformat(), "issued_at": (now - timedelta(hours=2)).isoformat(),
        "deadline": (now - timedelta(hours=1)).isoformat(), **fields,
    }
    status, answer = hub.post("/v1/records/order", body, issuer)
    assert status == 202, answer
    order_id = str(answer["record_id"])
    (order,) = [r for r in hub.inbox_for(recipient, order_id, 1) if "order_type" in r]
    assert order["order_type"] == fields["order_type"] and order["deadline"]

    late = hub.inbox_for(recipient, order_id, 2)
    notices = [r for r in late if r.get("event_type") == "OVERDUE"]
    assert notices and all(n["actor_party"] == "hub" for n in notices)

    for event_type, extra in answers:
        if extra.get("linked_order_id") == "REFERRAL":  # the criminal referral it made
            referral = {
                **sample("order"), "source_party": recipient, "from_party": recipient,
                "source_id": f"REF-{uuid.uuid4().hex[:10]}", "order_type": "CRIMINAL_REFERRAL",
                "to_parties": ["police"], "occurred_at": now.isoformat(),
                "issued_at": now.isoformat(), "deadline": None, "subject_id": None,
                "referral": fields["referral"],
            }
            status, made = hub.post("/v1/records/order", referral, recipient)
            assert status == 202, made
            extra = {**extra, "linked_order_id": made["record_id"]}
        status, acted = hub.post(f"/v1/orders/{order_id}/events", {"event_type": event_type,
                                 **extra}, recipient)
        assert status == 202, acted
    status, acted = hub.post(f"/v1/orders/{order_id}/events", {"event_type": close}, closer)
    assert status == 202 and acted["state_after"] == "CLOSED", acted

    after = _wait_for(hub, "/v1/assessment", "justice", lambda b: any(
        p["party"] == recipient and p["answered"] > before.get("answered", 0)
        for p in b["parties"]))
    mine = next(p for p in after["parties"] if p["party"] == recipient)
    assert mine["received"] >= before.get("received", 0) + 1
    assert mine["overdue"] >= before.get("overdue", 0) + 1
    assert mine["answered"] >= before.get("answered", 0) + 1


# ---------------------------------------------- a decided fine: payment and enforcement


def _fine(hub: Hub, owner: str = "street-jiyuqiao") -> tuple[str, str]:
    """A case decided now with a fine of 500 yuan; (its id, its decision number)."""
    now = datetime.now(UTC)
    body = sample("case", source_id=f"FINE-{uuid.uuid4().hex[:10]}", occurred_at=now.isoformat())
    body["decision"]["decided_at"] = now.isoformat()
    status, answer = hub.post("/v1/records/case", body, owner)
    assert status == 202, answer
    return str(answer["record_id"]), body["decision"]["decision_no"]


def _executions(hub: Hub, party: str, case_id: str, wanted: str, timeout: float = 30,
                ) -> list[dict[str, Any]]:
    """The executions about case_id in party's inbox, once one of them is wanted."""
    deadline = time.monotonic() + timeout
    while True:
        _, page = _get(hub, "/v1/inbox?limit=1000", party)
        found = [item["record"] for item in page["items"]
                 if item["kind"] == "execution" and item["record"]["case_id"] == case_id]
        if any(e["execution_type"] == wanted for e in found):
            return found
        assert time.monotonic() < deadline, (party, wanted, found)
        time.sleep(0.3)


def test_an_unpaid_fine_raises_the_reminder_when_its_window_opens_and_the_court_gets_it(
    hub: Hub,
) -> None:
    """Issue 16: a decided fine with no PAID record is reported overdue, the reminder is
    due when the challenge periods have run out, and once the reminder was served and its
    wait is over the application reaches the court, whose ruling comes back (on the tests'
    clock: `fast_enforcement`)."""
    street = "street-jiyuqiao"
    case_id, decision_no = _fine(hub)
    seen = _executions(hub, street, case_id, "REMINDER_DUE")
    assert [e["execution_type"] for e in seen] == ["PAYMENT_OVERDUE", "REMINDER_DUE"]
    assert all(e["source_party"] == "hub" for e in seen)
    assert "催告" in seen[1]["note"] and seen[1]["due_at"]
    assert [e["execution_type"] for e in _executions(hub, "finance", case_id, "REMINDER_DUE")
            ] == ["PAYMENT_OVERDUE", "REMINDER_DUE"]  # finance oversees fines
    served = {**sample("execution"), "source_id": f"CG-{uuid.uuid4().hex[:8]}",
              "case_id": case_id, "decision_no": decision_no,
              "execution_type": "REMINDER_SERVED", "amount": None,
              "occurred_at": datetime.now(UTC).isoformat(timespec="milliseconds")}
    status, answer = hub.post("/v1/records/execution", served, street)
    assert status == 202, answer
    raised = _executions(hub, street, case_id, "APPLICATION_RAISED")[-1]
    waited = (datetime.fromisoformat(raised["occurred_at"])
              - datetime.fromisoformat(served["occurred_at"]))
    assert waited >= timedelta(seconds=FAST_FINE_SECONDS["reminder_wait"])  # §54's wait
    order_id = raised["order_id"]
    (application,) = hub.inbox_for("court", order_id, 1)
    assert application["order_type"] == "ENFORCEMENT_APPLICATION"
    assert application["from_party"] == street and application["subject_id"] == case_id
    assert application["enforcement"]["amount"] == "500.00"
    assert application["enforcement"]["decision_no"] == decision_no
    for event_type, extra in (("ACCEPTED", {}), ("GRANTED", {"comment": "裁定准予执行"})):
        status, acted = hub.post(f"/v1/orders/{order_id}/events",
                                 {"event_type": event_type, **extra}, "court")
        assert status == 202, acted
    # the street's inbox has the court's events about the application in order (one
    # partition: keyed by the order), beside the APPLICATION_RAISED execution that names
    # the order (keyed by the case: wherever its partition falls in the listing)
    deadline = time.monotonic() + 30
    while True:
        events = [r["event_type"] for r in hub.inbox_for(street, order_id, 1)
                  if "event_type" in r]
        if "GRANTED" in events or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert events == ["ACCEPTED", "GRANTED"]
    shown = _wait_for(hub, f"/v1/cases/{case_id}", "finance",
                      lambda b: (b.get("execution") or {}).get("state") == "APPLIED")
    assert shown["execution"]["outstanding"] == "500.00"
    assert [s["execution_type"] for s in shown["execution"]["history"]] == [
        "PAYMENT_OVERDUE", "REMINDER_DUE", "REMINDER_SERVED", "APPLICATION_RAISED"]


def test_a_fine_paid_through_finance_raises_nothing(hub: Hub) -> None:
    case_id, decision_no = _fine(hub)
    paid = {**sample("execution"), "source_party": "finance",
            "source_id": f"FIN-{uuid.uuid4().hex[:8]}", "case_id": case_id,
            "decision_no": decision_no, "occurred_at": datetime.now(UTC).isoformat()}
    deadline = time.monotonic() + 30
    while True:  # the case may still be on its way to the stage: 404 until it is applied
        status, answer = hub.post("/v1/records/execution", paid, "finance")
        if status == 202:
            break
        assert status == 404 and time.monotonic() < deadline, answer
        time.sleep(0.2)
    time.sleep(FAST_FINE_SECONDS["lawsuit"] + 3)  # past the payment and the window's opening
    seen = [e["execution_type"] for e in _executions(hub, "street-jiyuqiao", case_id, "PAID")]
    # a payment applied after its due moment (2 s here) may follow an overdue notice;
    # paid in full, nothing of the enforcement window is ever raised
    assert seen in (["PAID"], ["PAYMENT_OVERDUE", "PAID"]), seen
    shown = _wait_for(hub, f"/v1/cases/{case_id}", "street-jiyuqiao",
                      lambda b: (b.get("execution") or {}).get("state") == "PAID")
    assert shown["execution"]["paid"] == "500.00" and shown["execution"]["outstanding"] == "0.00"

"""Every HTTP resource, broker-free: the worker's HTTP side (`hub.http`) served over a
real socket, with one `hub.wire.MemoryBroker` standing in for Kafka (published records
land in its partitioned logs, inboxes are read from them) and a fake order book for the
resources that read the dispatch engine's state. What a party relies on: 202 with where
its record was written, once; the refusals with their problem; its own inbox; an
order's state, actions and lists; the month's assessment; the document."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from hub.dispatch import OrderState, Step, open_order, view_to_dict
from hub.http import HTTP_KINDS
from hub.http.policy import ADMITTED_KINDS
from hub.metrics import FLOW
from hub.records import KINDS, DispatchOrder, EventType, validate
from hub.reference import load_seed_reference
from hub.wire import inbox_topic, raw_topic
from tests.samples import CITIZEN_ID, sample

if TYPE_CHECKING:
    from tests.unit.conftest import Served

ROOT = Path(__file__).resolve().parents[2]
STREET, DEPT = "street-jiyuqiao", "dept-urban"
REFERENCE = load_seed_reference()


def _clue(source_id: str = "CLUE-U-1") -> dict[str, Any]:
    return sample("clue", source_party=STREET, source_id=source_id)


# ------------------------------------------------------------------ records


async def test_a_record_is_written_once_and_answered_with_where(served: Served) -> None:
    status, answer = await served.post("/v1/records/clue", STREET, _clue())
    assert status == 202, answer
    assert answer["topic"] == "enf.clue.v1" and answer["offset"] == 0
    ((key, value, headers),) = served.broker.to("enf.clue.v1")
    assert key == answer["record_id"].encode()
    clue = await served.serde.decode("clue", value)
    assert str(clue.record_id) == answer["record_id"]
    assert dict(headers)["hub.kind"] == b"clue"
    assert dict(headers)["hub.source_party"] == STREET.encode()

    again_status, again = await served.post("/v1/records/clue", STREET, _clue())
    assert again_status == 202 and again == {**answer, "duplicate": True}
    assert len(served.broker.to("enf.clue.v1")) == 1


async def test_a_changed_record_is_refused_or_taken_as_a_new_version_never_dropped(
    served: Served,
) -> None:
    """Issue 16: the same source_id with other content was answered duplicate: true and
    the change was lost."""
    clue = _clue("CLUE-CHANGED")
    assert (await served.post("/v1/records/clue", STREET, clue))[0] == 202
    again = await served.call("POST", "/v1/records/clue", STREET, json=clue)
    assert again.status == 202 and again.body["duplicate"] is True
    changed = {**clue, "description": "另一描述"}
    status, problem = await served.post("/v1/records/clue", STREET, changed)
    assert status == 409 and problem["rule"] == "record.changed"
    assert "新的来源编号" in problem["detail_zh"]
    assert len(served.broker.to("enf.clue.v1")) == 1

    case = {**sample("case"), "status": "INVESTIGATING", "decision": None}
    assert (await served.post("/v1/records/case", STREET, case))[0] == 202
    decided = {**sample("case"), "revision": 2}
    status, answer = await served.post("/v1/records/case", STREET, decided)
    assert status == 202 and "duplicate" not in answer
    status, problem = await served.post("/v1/records/case", STREET,
                                        {**decided, "legal_basis": "另一依据"})
    assert status == 409 and problem["rule"] == "case.revision_changed"
    assert "第3版" in problem["detail_zh"]
    assert len(served.broker.to("enf.case.v1")) == 2

    entity = sample("entity", source_party="bigdata")
    assert (await served.post("/v1/records/entity", "bigdata", entity))[0] == 202
    moved = {**entity, "address": "武昌区中北路1号"}  # the entity's new version: taken
    status, answer = await served.post("/v1/records/entity", "bigdata", moved)
    assert status == 202 and "duplicate" not in answer
    assert len(served.broker.to("share.entity.v1")) == 2


async def test_every_request_writes_an_audit_event(served: Served) -> None:
    await served.post("/v1/records/clue", STREET, _clue())
    await served.post("/v1/records/clue", STREET, {"source_party": STREET})
    await served.client.app.shutdown()  # lets the audit writes finish
    written = served.broker.to("hub.audit.v1")
    audited = [await served.serde.decode("audit", value) for _, value, _ in written]
    assert [(a.actor_party, a.status_code) for a in audited] == [(STREET, 202), (STREET, 422)]


async def test_a_batch_is_answered_per_record(served: Served) -> None:
    bad = {**_clue("CLUE-U-3"), "matter_code": "NOPE-1"}
    status, answer = await served.post(
        "/v1/records/clue/batch", STREET, {"records": [_clue("CLUE-U-2"), bad, _clue("CLUE-U-2")]}
    )
    assert status == 207 and answer["accepted"] == 2
    first, refused, repeat = answer["results"]
    assert first["status"] == 202 and repeat == {**first, "index": 2, "duplicate": True}
    assert refused["status"] == 422 and refused["problem"]["errors"][0]["path"] == "matter_code"
    assert len(served.broker.to("enf.clue.v1")) == 1


async def test_kafka_away_is_503_with_retry_after_and_nothing_written(served: Served) -> None:
    served.broker.unavailable = True
    answer = await served.call("POST", "/v1/records/clue", STREET, json=_clue())
    assert answer.status == 503 and answer.headers["Retry-After"] == "5"
    assert "nothing was written" in answer.body["detail"]
    served.broker.unavailable = False
    assert served.broker.to("enf.clue.v1") == []


@pytest.mark.parametrize(
    ("party", "body", "status", "slug"),
    [
        (None, _clue(), 401, "unauthenticated"),
        (DEPT, _clue(), 403, "forged-source"),
        ("police", sample("clue", source_party="police"), 403, "forbidden"),
        (STREET, {**_clue(), "record_id": str(uuid.uuid4())}, 422, "hub-owned-field"),
        (STREET, {**_clue(), "matter_code": ""}, 422, "invalid-record"),
    ],
)
async def test_refusals_name_their_problem(
    served: Served, party: str | None, body: Any, status: int, slug: str
) -> None:
    answer = await served.call("POST", "/v1/records/clue", party, json=body)
    problem = answer.body
    assert answer.status == status and problem["type"].endswith(f":{slug}"), problem
    assert problem["title_zh"] and problem["detail"]
    assert served.broker.to("enf.clue.v1") == []


URBAN_OFFICERS = [{"certificate_no": "42010621001", "name": "贾鑫"},
                  {"certificate_no": "42010621002", "name": "丁莉"}]


@pytest.mark.parametrize(
    ("publisher", "changes", "path", "rule", "says"),
    [
        pytest.param(STREET, {"matter_code": "URB-005", "decision": {
            **sample("case")["decision"], "amount": "9999999.00"}},
            "decision", "case.fine_over_cap", "超过该事项罚款上限20000", id="fine-over-cap"),
        pytest.param(STREET, {"officers": URBAN_OFFICERS}, "officers", "case.officer_of_another",
                     "不属于办案单位street-jiyuqiao", id="officers-of-another-unit"),
        pytest.param(STREET, {"owner_party": "street-liangdao"}, "owner_party",
                     "case.owner_not_publisher", "须为发布方street-jiyuqiao",
                     id="owner-not-publisher"),
        pytest.param(STREET, {"matter_code": "URB-003"}, "matter_code",
                     "case.matter_not_delegated", "未赋权街道", id="street-undelegated-matter"),
        pytest.param(DEPT, {"owner_party": DEPT, "officers": URBAN_OFFICERS,
                            "matter_code": "WAT-001"}, "matter_code",
                     "case.matter_of_another", "属dept-water主管", id="department-others-matter"),
        pytest.param(STREET, {"major_decision": True, "legal_review_passed": False},
                     "legal_review_passed", "case.legal_review_required", "法制审核",
                     id="major-without-legal-review"),
    ],
)
async def test_a_case_that_breaks_a_case_rule_is_422_with_the_rule(
    served: Served, publisher: str, changes: dict[str, Any], path: str, rule: str, says: str
) -> None:
    """Issue 16: rules the reference data knows (the matter's cap, the officers' unit, the
    owner, the delegation, legal review), each refused with its field, rule and message."""
    case = {**sample("case"), "source_party": publisher,
            "source_id": f"CASE-{uuid.uuid4().hex[:8]}", **changes}
    status, problem = await served.post("/v1/records/case", publisher, case)
    assert status == 422, problem
    (error,) = problem["errors"]
    assert (error["path"], error["rule"]) == (path, rule)
    assert says in error["message_zh"] and error["message_en"]
    assert served.broker.to("enf.case.v1") == []
    fine = {**sample("case"), "source_id": f"CASE-{uuid.uuid4().hex[:8]}"}
    assert (await served.post("/v1/records/case", STREET, fine))[0] == 202


async def test_a_form_checks_its_record_as_a_publish_would_and_nothing_is_written(
    served: Served,
) -> None:
    """POST /v1/validate/{kind} (the workbench's live checks): the verdict of the
    publish's rules, with the same field, rule and Chinese message a publish's 422
    lists, or the record id it would get; no record in Kafka and no refusal counted."""
    case = {**sample("case"), "source_party": STREET, "source_id": "CASE-V-1",
            "major_decision": True, "legal_review_passed": False}
    labels = {"stage": "gateway", "reason": "case.legal_review_required"}
    before = FLOW.get_sample_value("hub_records_rejected_total", labels) or 0
    status, verdict = await served.post("/v1/validate/case", STREET, case)
    assert status == 200 and verdict["valid"] is False and verdict.get("record_id") is None
    published = await served.post("/v1/records/case", STREET, {**case, "source_id": "CASE-V-2"})
    assert published[0] == 422
    assert [(e["path"], e["rule"], e["message_zh"]) for e in verdict["errors"]] == [
        (e["path"], e["rule"], e["message_zh"]) for e in published[1]["errors"]]
    refused = FLOW.get_sample_value("hub_records_rejected_total", labels)
    assert refused == before + 1  # the publish only

    status, checked = await served.post("/v1/validate/clue", STREET, _clue("CLUE-V-1"))
    assert status == 200, checked
    status, accepted = await served.post("/v1/records/clue", STREET, _clue("CLUE-V-1"))
    assert checked == {"valid": True, "kind": "clue", "record_id": accepted["record_id"]}
    assert len(served.broker.to("enf.clue.v1")) == 1  # the publish's, not the check's
    assert served.broker.to("enf.case.v1") == []

    status, problem = await served.post("/v1/validate/order", "police", {
        **sample("order"), "source_party": "police", "from_party": "police",
        "order_type": "WHISTLE"})
    assert status == 403, problem  # the police do not blow the whistle

    # what a publish refuses whole for a field is a verdict at that field here (the
    # contract case: a draft with record_id in it was answered 422 against "any object")
    draft = {**_clue("CLUE-V-3"), "record_id": str(uuid.uuid4()), "source_party": DEPT}
    status, verdict = await served.post("/v1/validate/clue", STREET, draft)
    assert status == 200 and verdict["valid"] is False, verdict
    assert [(e["path"], e["rule"]) for e in verdict["errors"]] == [("record_id", "hub-owned-field")]
    del draft["record_id"]
    status, verdict = await served.post("/v1/validate/clue", STREET, draft)
    forged = [(e["path"], e["rule"]) for e in verdict["errors"]]
    assert forged == [("source_party", "forged-source")]
    assert "street-" in verdict["errors"][0]["message_zh"]
    status, problem = await served.post("/v1/validate/clue", STREET, ["not", "a", "record"])
    assert status == 422, problem


async def test_an_order_issued_ahead_of_the_hubs_clock_is_refused(served: Served) -> None:
    """Issue 16: an issued_at 30 days ahead was accepted and pushed every deadline back."""
    now = datetime.now(UTC)

    def order(ahead: timedelta) -> dict[str, Any]:
        data = sample("order", source_id=f"WS-{uuid.uuid4().hex[:8]}", to_parties=[DEPT],
                      issued_at=(now + ahead).isoformat(), occurred_at=now.isoformat())
        data.pop("deadline")
        return data

    status, problem = await served.post("/v1/records/order", STREET, order(timedelta(days=30)))
    assert status == 422
    (error,) = problem["errors"]
    assert (error["path"], error["rule"]) == ("issued_at", "order.issued_in_future")
    assert "枢纽当前时间" in error["message_zh"]
    status, _ = await served.post("/v1/records/order", STREET, order(timedelta(minutes=3)))
    assert status == 202  # a sending system's clock a little ahead is fine


async def test_not_json_is_415_and_bad_json_400(served: Served) -> None:
    text = await served.call(
        "POST", "/v1/records/clue", STREET, data="x", headers={"Content-Type": "text/plain"}
    )
    assert text.status == 415
    assert text.body["detail_zh"] == "请求头Content-Type应为application/json"  # issue 16
    broken = await served.call(
        "POST", "/v1/records/clue", STREET, data="{", headers={"Content-Type": "application/json"}
    )
    assert broken.status == 400


# ------------------------------------------------------------------- native


async def test_a_native_record_is_mapped_checked_and_kept_as_sent(served: Served) -> None:
    sample_file = ROOT / "connectors/department/samples/urban-case.json"
    native = json.loads(sample_file.read_text(encoding="utf-8"))["native"]
    payload = json.dumps(native, ensure_ascii=False).encode()
    answer = await served.call(
        "POST", "/v1/native/urban-case", DEPT, data=payload,
        headers={"Content-Type": "application/json"},
    )
    body = answer.body
    assert answer.status == 202, body
    assert body["kind"] == "clue" and body["topic"] == raw_topic(DEPT)
    ((_, kept, headers),) = served.broker.to(raw_topic(DEPT))
    assert kept == payload
    assert dict(headers)["hub.native.kind"] == b"urban-case"


@pytest.mark.parametrize(
    ("folder", "native_kind", "party", "kind"),
    [
        ("police", "reverse-transfer", "police", "order"),
        ("procuratorate", "suggestion", "procuratorate", "order"),
        ("procuratorate", "recommendation", "procuratorate", "order"),
        ("finance", "payment", "finance", "execution"),
    ],
)
async def test_the_new_flows_enter_in_each_partys_own_format(
    served: Served, folder: str, native_kind: str, party: str, kind: str
) -> None:
    """Issue 16: the police's reverse transfer, the procuratorate's suggestion and
    recommendation, and finance's payment confirmation, each in its system's format."""
    native = json.loads((ROOT / f"connectors/{folder}/samples/{native_kind}.json")
                        .read_text(encoding="utf-8"))["native"]
    if kind == "execution":  # a payment is checked against its case: the hub holds it
        case = validate("case", {**sample("case"), "trace_id": "ab" * 16}, REFERENCE)
        assert served.shelf.keep(case) == native["ajbh"]
    answer = await served.call(
        "POST", f"/v1/native/{native_kind}", party,
        data=json.dumps(native, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status == 202, answer.body
    assert answer.body["kind"] == kind and answer.body["topic"] == raw_topic(party)


async def test_a_native_kind_the_party_lacks_is_404(served: Served) -> None:
    status, problem = await served.post("/v1/native/urban-case", STREET, {})
    assert status == 404 and problem["type"].endswith(":unknown-kind")


# -------------------------------------------------------------------- inbox


async def _deliver(served: Served, party: str, record: Any, kind: str = "order") -> None:
    value = await served.serde.encode(kind, record)
    key = KINDS[kind].key_of(record)
    await served.broker.send(inbox_topic(party), key, value, [("hub.kind", kind.encode())])


def _order(source_id: str = "WS-U-1") -> DispatchOrder:
    data = sample("order", source_party=STREET, source_id=source_id, from_party=STREET,
                  to_parties=[DEPT])
    order = validate("order", {**data, "trace_id": "ab" * 16}, load_seed_reference())
    assert isinstance(order, DispatchOrder)
    return order


async def test_a_party_reads_its_inbox_from_a_cursor_once_per_record(served: Served) -> None:
    order = _order()
    await _deliver(served, DEPT, order)
    await _deliver(served, DEPT, order)  # delivered again: same bytes, dropped in the page
    status, page = await served.get("/v1/inbox", DEPT)
    assert status == 200
    (item,) = page["items"]
    assert item["kind"] == "order" and item["record"]["order_id"] == str(order.order_id)
    status, after = await served.get(f"/v1/inbox?cursor={page['cursor']}", DEPT)
    assert status == 200 and after["items"] == [] and after["cursor"] == page["cursor"]
    status, others = await served.get("/v1/inbox", STREET)
    assert status == 200 and others["items"] == []


async def test_the_inbox_stream_sends_events_with_resumable_ids(served: Served) -> None:
    order = _order("WS-U-2")
    await _deliver(served, DEPT, order)
    answer = await served.client.get("/v1/inbox/stream", headers=served.auth(DEPT))
    assert answer.status == 200 and answer.headers["Content-Type"] == "text/event-stream"
    lines = []
    while len(lines) < 3:
        lines.append((await answer.content.readline()).decode().rstrip("\n"))
    answer.close()
    identity, event, data = lines
    assert identity.startswith("id: ") and event == "event: order"
    assert json.loads(data[len("data: "):])["record"]["order_id"] == str(order.order_id)


async def test_an_open_inbox_stream_ends_when_the_worker_stops(served: Served) -> None:
    """Found by the workbench's browser test: a browser's open event stream kept a worker
    from stopping (SIGTERM) for the server's whole shutdown timeout."""
    answer = await served.client.get("/v1/inbox/stream", headers=served.auth(DEPT))
    assert answer.status == 200
    await served.client.app.shutdown()  # what the server does first when it stops
    async with asyncio.timeout(3):
        assert await answer.content.read() == b""  # the stream ended by itself
    answer.close()


async def test_operators_have_no_inbox_and_a_bad_cursor_is_422(served: Served) -> None:
    assert (await served.get("/v1/inbox", "ops"))[0] == 403
    status, problem = await served.get("/v1/inbox?cursor=__dict__", DEPT)
    assert status == 422 and problem["type"].endswith(":invalid-parameter")


# ------------------------------------------------------------------- orders


def _hold(served: Served, order: DispatchOrder) -> str:
    """Keep order as the lifecycle stage does: its view, and the order itself."""
    served.book.views[str(order.order_id)] = {
        **view_to_dict(open_order(order)), "order": order.model_dump(mode="json"),
    }
    return str(order.order_id)


async def test_an_order_shows_its_state_history_and_dues_to_its_parties(served: Served) -> None:
    data = {**_order().model_dump(mode="json"), "location": sample("clue")["location"]}
    order = validate("order", data, load_seed_reference())
    order_id = _hold(served, order)
    status, shown = await served.get(f"/v1/orders/{order_id}", DEPT)
    assert status == 200, shown
    assert shown["state"] == "ISSUED" and shown["dues"]["sign_off"].startswith("2026-12-02")
    # issue 16: what is asked and where, and when the hub received it, were missing
    assert shown["description"] == order.description
    assert shown["location"] == order.model_dump(mode="json")["location"]
    assert shown["received_at"] == order.received_at.isoformat()
    assert (await served.get(f"/v1/orders/{order_id}", "police"))[0] == 404
    assert (await served.get(f"/v1/orders/{order_id}", "ops"))[0] == 403
    assert (await served.get(f"/v1/orders/{order_id}", "justice"))[0] == 200


async def test_an_order_just_posted_is_503_until_applied_then_shown(served: Served) -> None:
    """Found by the workbench's browser test: the street's page opened the whistle it had
    just posted and got 404, the order being written but not yet applied."""
    order_id = str(uuid.uuid4())
    served.book.in_flight.add(order_id)
    waiting = await served.call("GET", f"/v1/orders/{order_id}", DEPT)
    assert waiting.status == 503 and waiting.headers["Retry-After"] == "1"
    acting = await served.call("POST", f"/v1/orders/{order_id}/events", DEPT,
                               json={"event_type": "SIGNED"})
    assert acting.status == 503 and acting.headers["Retry-After"] == "1"  # not 404: soon
    served.book.in_flight.discard(order_id)
    assert (await served.get(f"/v1/orders/{order_id}", DEPT))[0] == 404
    assert (await served.post(f"/v1/orders/{order_id}/events", DEPT,
                              {"event_type": "SIGNED"}))[0] == 404


async def test_an_order_says_what_each_party_may_do_and_the_list_its_next_deadline(
    served: Served,
) -> None:
    """Issue 19: the workbench offers the actions of GET /v1/orders/{id} and counts down
    to the next deadline of the list."""
    order_id = _hold(served, _order())
    assert (await served.get(f"/v1/orders/{order_id}", DEPT))[1]["actions"] == [
        "SIGNED", "RETURNED"]
    assert (await served.get(f"/v1/orders/{order_id}", STREET))[1]["actions"] == []
    status, listing = await served.get("/v1/orders?role=received", DEPT)
    assert status == 200, listing
    (summary,) = [o for o in listing["orders"] if o["order_id"] == order_id]
    assert summary["next_due_kind"] == "sign-off"
    assert summary["next_due"].startswith("2026-12-02T12:00")  # the book's sign-off due


def _event(order_id: str, actor: str, event_type: str, **more: Any) -> dict[str, Any]:
    return {**sample("order-event"), "source_party": actor, "actor_party": actor,
            "source_id": f"EV-{uuid.uuid4().hex[:8]}", "order_id": order_id,
            "event_type": event_type, **more}


async def test_an_order_event_meets_one_set_of_rules_at_either_address(served: Served) -> None:
    """Issue 16: an event from a party not on the order was 202 on /v1/records/order-event
    (then parked in the DLQ) and refused on /v1/orders/{id}/events."""
    order_id = _hold(served, _order())
    events = "enf.order-event.v1"
    status, problem = await served.post("/v1/records/order-event", "police",
                                        _event(order_id, "police", "SIGNED"))
    assert status == 404 and problem["detail_zh"].startswith("没有编号为")
    status, problem = await served.post("/v1/records/order-event", DEPT,
                                        _event(order_id, DEPT, "FEEDBACK", comment="已处理"))
    assert status == 409 and problem["rule"] and problem["state"] == "ISSUED"
    assert served.broker.to(events) == []  # nothing refused was written
    # a party acting twice in quick succession: the second counts the first, not yet applied
    status, _ = await served.post("/v1/records/order-event", DEPT,
                                  _event(order_id, DEPT, "SIGNED"))
    assert status == 202
    status, answer = await served.post(f"/v1/orders/{order_id}/events", DEPT,
                                       {"event_type": "REPORTED"})
    assert status == 202 and answer["state_after"] == "IN_PROGRESS", answer
    assert len(served.broker.to(events)) == 2
    # an event ahead of its order is taken on the records door (it waits for the order)
    status, _ = await served.post("/v1/records/order-event", DEPT,
                                  _event(str(uuid.uuid4()), DEPT, "SIGNED"))
    assert status == 202
    # with events of the order in flight (another worker wrote them before a rebalance),
    # the state is the stage's to check: the event is taken, a stranger still is not
    served.book.in_flight.add(order_id)
    status, _ = await served.post("/v1/records/order-event", DEPT,
                                  _event(order_id, DEPT, "CLOSED"))
    assert status == 202
    assert (await served.post("/v1/records/order-event", "police",
                              _event(order_id, "police", "SIGNED")))[0] == 404
    refused = await served.client.post("/v1/records/order-event/batch",
                                       json={"records": [_event(order_id, DEPT, "SIGNED")]},
                                       headers=served.auth(DEPT))
    assert refused.status == 404
    assert "逐条" in (await refused.json())["detail_zh"]


async def test_an_action_that_fits_is_written_and_one_that_does_not_is_409(
    served: Served,
) -> None:
    order_id = _hold(served, _order())
    status, answer = await served.post(
        f"/v1/orders/{order_id}/events", DEPT, {"event_type": "FEEDBACK", "comment": "已处理"}
    )
    assert status == 409 and answer["state"] == "ISSUED" and answer["rule"], answer
    status, answer = await served.post(
        f"/v1/orders/{order_id}/events", DEPT, {"event_type": "SIGNED"}
    )
    assert status == 202 and answer["state_after"] == "SIGNED" and not answer["duplicate"]
    ((key, value, _),) = served.broker.to("enf.order-event.v1")
    event = await served.serde.decode("order-event", value)
    assert key == order_id.encode() and event.actor_party == DEPT
    status, refused = await served.post(
        f"/v1/orders/{order_id}/events", DEPT, {"event_type": "SIGNED", "order_id": order_id}
    )
    assert status == 422 and refused["type"].endswith(":hub-owned-field")


async def test_a_party_lists_its_orders_broker_free(served: Served) -> None:
    order_id = _hold(served, _order())
    status, issued = await served.get("/v1/orders?role=issued", STREET)
    assert status == 200 and [o["order_id"] for o in issued["orders"]] == [order_id]
    status, received = await served.get("/v1/orders?role=received&state=SIGNED", DEPT)
    assert status == 200 and received["orders"] == []
    assert (await served.get("/v1/orders?role=mine", DEPT))[0] == 422


async def test_the_procuratorate_lists_the_referrals_it_has_a_copy_of(served: Served) -> None:
    """role=copied: the orders the caller is on by a copy alone (抄送检察院), not those it
    issued or received; an ordinary order has no copy."""
    data = sample("order", source_party=STREET, source_id="REF-U-1", from_party=STREET,
                  order_type="CRIMINAL_REFERRAL", to_parties=["police"],
                  referral={"suspected_offence": "非法经营罪", "evidence": ["现场检查笔录"]})
    referral = validate("order", {**data, "trace_id": "ab" * 16}, REFERENCE)
    assert isinstance(referral, DispatchOrder)
    referral_id, _ = _hold(served, referral), _hold(served, _order("WS-U-2"))
    status, copied = await served.get("/v1/orders?role=copied", "procuratorate")
    assert status == 200
    assert [(o["order_id"], o["order_type"]) for o in copied["orders"]] == [
        (referral_id, "CRIMINAL_REFERRAL")]
    for party in ("police", STREET, DEPT):
        assert (await served.get("/v1/orders?role=copied", party))[1]["orders"] == []


async def test_the_justice_bureau_lists_the_escalations_it_is_to_rule(served: Served) -> None:
    """role=escalated: orders returned twice and escalated (审定), all of them for
    justice, which is offered the ruling (REASSIGNED); the parties see their own."""
    order = _order("WS-U-ESC")
    view = open_order(order)
    now = datetime.now(UTC)
    escalated = replace(view, state=OrderState.RETURNED, returns=2, history=(
        Step("e1", EventType.RETURNED, DEPT, now, OrderState.RETURNED, "不属于本部门"),
        Step("e2", EventType.ESCALATED, "hub", now, OrderState.RETURNED),
    ))
    served.book.views[str(order.order_id)] = view_to_dict(escalated)
    _hold(served, _order("WS-U-OTHER"))
    status, listed = await served.get("/v1/orders?role=escalated", "justice")
    assert status == 200 and [o["order_id"] for o in listed["orders"]] == [str(order.order_id)]
    status, shown = await served.get(f"/v1/orders/{order.order_id}", "justice")
    assert status == 200 and shown["actions"] == ["REASSIGNED"]
    assert shown["history"][0]["reason"] == "不属于本部门"
    assert len((await served.get("/v1/orders?role=escalated", STREET))[1]["orders"]) == 1
    assert (await served.get("/v1/orders?role=escalated", "police"))[1]["orders"] == []


# --------------------------------------------------------------- assessment


async def test_the_assessment_is_the_callers_own_and_justices_whole(served: Served) -> None:
    status, whole = await served.get("/v1/assessment?period=2026-11", "justice")
    assert status == 200 and whole == {"period": "2026-11", "parties": []}
    status, own = await served.get("/v1/assessment?period=2026-11", DEPT)
    assert status == 200 and [p["party"] for p in own["parties"]] == [DEPT]
    status, problem = await served.get("/v1/assessment?period=2026-13", DEPT)
    assert status == 422 and problem["type"].endswith(":invalid-parameter")
    assert (await served.get("/v1/assessment", "ops"))[0] == 403


# ------------------------------------------------------------------ openapi


# -------------------------------------------------------------------- cases


async def test_a_case_is_read_whole_by_its_owner_and_as_allowed_by_each_supervisor(
    served: Served,
) -> None:
    """Issue 16: no supervisor could see a case, and there was no way to read one."""
    base = {**sample("case"), "trace_id": "ab" * 16}
    filed = validate("case", {**base, "status": "FILED", "decision": None}, REFERENCE)
    decided = validate("case", {**base, "revision": 2}, REFERENCE)
    case_id = served.shelf.keep(filed, decided)
    path = f"/v1/cases/{case_id}"

    status, mine = await served.get(path, STREET)
    assert status == 200 and mine["role"] == "owner"
    assert mine["case"]["party"]["id_number"] == CITIZEN_ID  # the owner's own case, whole
    assert [(r["revision"], r["status"]) for r in mine["revisions"]] == [
        (1, "FILED"), (2, "DECIDED")]

    seen = {}
    for reader in ("justice", "procuratorate", DEPT, "finance"):
        status, view = await served.get(path, reader)
        assert status == 200 and view["role"] == "supervisor", (reader, view)
        assert "case" not in view and len(view["revisions"]) == 2
        seen[reader] = view["notice"]
    assert seen["justice"]["party"] == {"party_type": "NATURAL_PERSON", "name": "李*",
                                        "id_number": CITIZEN_ID[:3] + "*" * 11 + CITIZEN_ID[-4:]}
    assert seen["procuratorate"]["party"]["id_number"] == CITIZEN_ID  # 有案必录
    assert seen["procuratorate"]["officers"] == []
    assert seen[DEPT]["party"] == {"party_type": "NATURAL_PERSON"}  # the delegating department
    assert seen[DEPT]["officers"] == ["42010601001", "42010601002"]
    assert seen["finance"]["decision"]["amount"] == "500.00"
    assert "party.name" in seen["finance"]["withheld"] and seen["finance"]["officers"] == []
    assert all("phone" not in str(notice["party"]) for notice in seen.values())

    assert (await served.get(path, "police"))[0] == 404  # neither owner nor supervisor
    assert (await served.get(path, "ops"))[0] == 403
    status, listed = await served.get("/v1/cases", "justice")
    assert status == 200 and [c["case_id"] for c in listed["cases"]] == [case_id]
    assert listed["cases"][0]["role"] == "supervisor" and listed["cases"][0]["revision"] == 2
    assert (await served.get("/v1/cases", "police"))[1]["cases"] == []


async def test_a_case_shows_its_referral_to_those_on_it_and_where_its_fine_stands(
    served: Served,
) -> None:
    """Issue 16: the procuratorate reads every case with its referral status (有案必录), and
    finance where each fine stands (罚没收入)."""
    case = validate("case", {**sample("case"), "trace_id": "ab" * 16}, REFERENCE)
    case_id = served.shelf.keep(case)
    referral = validate("order", {
        **sample("order"), "source_id": f"REF-{uuid.uuid4().hex[:8]}",
        "order_type": "CRIMINAL_REFERRAL", "to_parties": ["police"], "deadline": None,
        "subject_id": case_id, "trace_id": "ab" * 16,
        "referral": {"suspected_offence": "非法经营罪", "evidence": ["现场检查笔录"]},
    }, REFERENCE)
    assert isinstance(referral, DispatchOrder)
    served.book.views[str(referral.order_id)] = view_to_dict(open_order(referral))
    served.shelf.cases[case_id]["executions"] = [{
        "id": "x", "digest": "", "execution_type": "PAID", "amount": "200.00",
        "at": "2026-11-21T02:00:00+00:00", "party": "finance",
        "received_at": "2026-11-21T02:00:01+00:00",
    }]
    for reader in ("procuratorate", "justice", STREET):
        status, shown = await served.get(f"/v1/cases/{case_id}", reader)
        assert status == 200, shown
        assert [(o["order_type"], o["state"]) for o in shown["orders"]] == [
            ("CRIMINAL_REFERRAL", "ISSUED")], reader
    status, shown = await served.get(f"/v1/cases/{case_id}", "finance")
    assert shown["orders"] == []  # not on the referral
    standing = shown["execution"]
    assert (standing["state"], standing["paid"], standing["outstanding"]) == (
        "UNPAID", "200.00", "300.00")
    assert standing["payment_due"] == "2026-12-05T07:00:00+00:00"  # 15 days (行政处罚法 §67)
    status, listed = await served.get(f"/v1/orders?subject={case_id}", "procuratorate")
    assert [o["order_id"] for o in listed["orders"]] == [str(referral.order_id)]
    assert (await served.get("/v1/orders?subject=x", "procuratorate"))[0] == 422


async def test_an_execution_is_admitted_only_for_a_fine_its_reporter_may_report(
    served: Served,
) -> None:
    """Issue 16: the decider reports payments, challenges and the reminder of its own fine;
    finance reports payments of any fine (罚缴分离); the hub's notices are not taken."""
    case = validate("case", {**sample("case"), "trace_id": "ab" * 16}, REFERENCE)
    case_id = served.shelf.keep(case)

    def execution(party: str, kind: str, **more: Any) -> dict[str, Any]:
        return {**sample("execution"), "source_party": party, "case_id": case_id,
                "source_id": f"EX-{uuid.uuid4().hex[:8]}", "execution_type": kind,
                "amount": None, **more}

    path = "/v1/records/execution"
    paid = execution("finance", "PAID", amount="200")
    assert (await served.post(path, "finance", paid))[0] == 202
    assert (await served.post(path, STREET, execution(STREET, "REMINDER_SERVED")))[0] == 202
    status, problem = await served.post(path, "finance",
                                        execution("finance", "REMINDER_SERVED"))
    assert status == 403 and "财政局" in problem["detail_zh"]
    status, problem = await served.post(path, STREET, execution(STREET, "APPLICATION_RAISED"))
    assert status == 403 and "枢纽" in problem["detail_zh"]
    assert (await served.post(path, DEPT, execution(DEPT, "PAID", amount="1")))[0] == 404
    status, problem = await served.post(path, STREET, execution(
        STREET, "PAID", amount="1", decision_no="武积执罚决字〔2026〕99号"))
    assert status == 422
    assert [(e["path"], e["rule"]) for e in problem["errors"]] == [
        ("decision_no", "execution.no_such_fine")]
    status, problem = await served.post(path, STREET, execution(STREET, "PAID"))
    assert status == 422 and problem["errors"][0]["rule"] == "execution.amount_required"

    unknown = {**execution(STREET, "PAID", amount="1"), "case_id": str(uuid.uuid4())}
    assert (await served.post(path, STREET, unknown))[0] == 404  # nothing in flight
    served.shelf.in_flight.add(unknown["case_id"])  # its case may be on its way: the stage checks
    assert (await served.post(path, STREET, unknown))[0] == 202
    written = served.broker.to("enf.execution.v1")
    assert len(written) == 3 and {key for key, _, _ in written} == {case_id.encode(),
                                                                     unknown["case_id"].encode()}


# ---------------------------------------------------------------------- ops


async def test_readyz_answers_503_naming_what_is_wrong_without_a_token(served: Served) -> None:
    status, answer = await served.get("/readyz", None)
    assert (status, answer) == (200, {"status": "ready", "checks": {"kafka": "ok",
                                                                    "partitions": "ok"}})
    served.readiness["partitions"] = "the consumer group is rebalancing (or not joined yet)"
    status, answer = await served.get("/readyz", None)
    assert status == 503
    assert answer == {
        "status": "not ready",
        "checks": {"kafka": "ok",
                   "partitions": "the consumer group is rebalancing (or not joined yet)"},
    }


async def test_metrics_and_the_ops_page_are_for_operators_and_justice_only(
    served: Served,
) -> None:
    from prometheus_client import Counter

    delivered = Counter("hub_records_out", "records out", ["party", "kind"],
                        registry=served.metrics)
    delivered.labels(DEPT, "order").inc(3)
    for reader in ("ops", "justice"):
        answered = await served.call("GET", "/metrics", reader)
        assert answered.status == 200
        assert f'hub_records_out_total{{kind="order",party="{DEPT}"}} 3.0' in answered.body
    status, summary = await served.get("/ops/data", "ops")
    assert status == 200
    assert summary["totals"]["out"] == 3
    assert summary["traffic"] == [
        {"party": DEPT, "in": 0, "out": 3, "delivered": 0, "delivery_failures": 0}
    ]
    assert summary["ready"] == {"kafka": "ok", "partitions": "ok"}
    page = await served.call("GET", "/ops", "justice")
    assert page.status == 200 and "/ops/data" in page.body
    for path in ("/metrics", "/ops", "/ops/data"):
        status, problem = await served.get(path, STREET)
        assert status == 403
        assert "运维方和司法局" in problem["detail_zh"]


async def test_the_document_lists_every_route_the_worker_serves(served: Served) -> None:
    status, document = await served.get("/v1/openapi.json", STREET)
    assert status == 200
    served_paths = set()
    for resource in served.client.app.router.resources():
        path = resource.canonical
        kinds = HTTP_KINDS if "{kind}" in path else [""]
        if path.endswith("/batch"):  # order events are posted one at a time
            kinds = [kind for kind in HTTP_KINDS if kind not in ADMITTED_KINDS]
        served_paths |= {path.replace("{kind}", kind) for kind in kinds}
    pages = {p for p in served_paths if p == "/app" or p.startswith("/app/")}  # no API
    assert pages == {"/app", "/app/", "/app/{path}"}
    assert served_paths - pages - {"/v1/openapi.json"} <= set(document["paths"])

"""The dispatch stages, broker-free: each record runs as the pipeline runs it (inside its
`Outputs`, table changes applied after the record), its outputs go to a `MemoryEmitter`.
What the parties rely on: an order reaches its recipients and only them; an event that
fits is applied once and reaches everyone on the order, one that does not is parked
with its rule; an event ahead of its order waits for it; a second return escalates; a
clue becomes its ASSIGNMENT; a decided case is disclosed; a missed deadline is noticed
once. Each is emitted again, byte for byte, when its record is processed again."""

from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import faust
import pytest

from hub.dispatch import (
    CreditIndex,
    Deadlines,
    DueIndex,
    load_deadline_policy,
    load_enforcement_periods,
    load_supervision,
    open_order,
)
from hub.records import KINDS, DispatchOrder, Execution, OrderEvent, content_digest
from hub.reference import load_calendar, load_seed_reference
from hub.registry import MemoryRegistry
from hub.serde import AvroSerde
from hub.settings import HubSettings
from hub.stages import (
    Assign,
    CaseRevisions,
    CaseWorld,
    DeadlineSweep,
    ExecutionWorld,
    Lifecycle,
    Read,
    State,
    Sweep,
    World,
    assign,
    disclose,
    disclosure_credits,
    enforcement_notices,
    execute,
    lifecycle,
    notice_due_at,
    revise,
)
from hub.stream import Outputs, bind, unbind
from hub.wire import DLQ_TOPIC, MemoryEmitter, header_of, inbox_topic
from tests.samples import sample

REFERENCE = load_seed_reference()
PERIODS = load_enforcement_periods(HubSettings().enforcement_file)
ORDERS, EVENTS = KINDS["order"].topic, KINDS["order-event"].topic
STREET, DEPT = "street-jiyuqiao", "dept-urban"


class Everything:
    """This worker owns every partition (`hub.stages.Ownership`)."""

    def owned(self, topic: str) -> set[int]:
        return set(range(6))

    def owner(self, topic: str, partition: int) -> str | None:
        return None

    def behind(self, topic: str, partition: int) -> bool:
        return False

    def in_flight(self, topic: str, partition: int) -> bool:
        return False

    async def in_flight_now(self, topic: str, partition: int) -> bool:
        return False

    async def applied_to_now(self, topic: str, partition: int, seconds: float) -> bool:
        return True

    def urls(self) -> list[str]:
        return []


async def process(handler: Callable[[Any], Awaitable[None]], *messages: Any) -> None:
    """Run a run of records as the pipeline does: table writes held, applied after it."""
    outputs = Outputs(messages[0].partition)
    token = bind(outputs)
    try:
        await handler(list(messages))
    finally:
        unbind(token)
    for write in outputs.writes.values():
        write.table.apply(write.partition, write.key, write.value)


@pytest.fixture
def world() -> SimpleNamespace:
    settings = HubSettings()
    app = faust.App(f"stage-tests-{uuid.uuid4().hex[:6]}", broker="kafka://127.0.0.1:1",
                    store="memory://")
    out = MemoryEmitter()
    serde = AvroSerde(MemoryRegistry())
    deadlines = Deadlines(load_deadline_policy(settings.deadlines_file),
                          load_calendar(settings.calendar_file))
    lifecycle = Lifecycle(app, out, Everything(), serde, lambda: REFERENCE, 6, deadlines)
    return SimpleNamespace(
        app=app, out=out, serde=serde, lifecycle=lifecycle,
        assign=Assign(out, serde, lambda: REFERENCE),
        cases=CaseRevisions(out, Everything(), serde, lambda: REFERENCE, load_supervision(),
                            PERIODS, app.conf.id, 6),
        sweep=DeadlineSweep(app, out, serde, lifecycle),
        offsets=iter(range(1_000_000)),
    )


async def _message(world: SimpleNamespace, kind: str, data: dict[str, Any]) -> Any:
    record = KINDS[kind].model.model_validate({**data, "trace_id": "ab" * 16},
                                              context={"reference": REFERENCE})
    value = await world.serde.encode(kind, record)
    return SimpleNamespace(
        topic=KINDS[kind].topic, partition=0, offset=next(world.offsets),
        key=KINDS[kind].key_of(record), value=value,
        headers=[("hub.kind", kind.encode()), ("hub.trace_id", b"ab" * 16)],
        timestamp=1_764_643_200_000,
    ), record


def _order(**changes: Any) -> dict[str, Any]:
    return sample("order", source_id=f"WS-{uuid.uuid4().hex[:8]}", to_parties=[DEPT],
                  **changes)


def _event(order_id: str, event_type: str, actor: str = DEPT, **more: Any) -> dict[str, Any]:
    return {**sample("order-event"), "source_party": actor, "actor_party": actor,
            "source_id": f"EV-{uuid.uuid4().hex[:8]}", "order_id": order_id,
            "event_type": event_type, **more}


async def test_an_order_reaches_its_recipients_once_applied_and_again_when_reprocessed(
    world: SimpleNamespace,
) -> None:
    handle = world.lifecycle.guarded(world.lifecycle.handle_order)
    message, order = await _message(world, "order", _order())
    await process(handle, message)
    ((key, value, _),) = world.out.to(inbox_topic(DEPT))
    delivered = await world.serde.decode("order", value)
    assert key == message.key and delivered.order_id == order.order_id
    assert delivered.deadline is not None  # the deadline the hub applies
    assert world.out.to(inbox_topic(STREET)) == []  # not the issuer's own inbox
    stored = world.lifecycle.stored(str(order.order_id))
    assert stored["state"] == "ISSUED" and stored["assessment"]

    await process(handle, message)  # after a crash before the commit
    first, again = world.out.to(inbox_topic(DEPT))
    assert first == again  # delivered again, same bytes
    assert world.lifecycle.stored(str(order.order_id)) == stored  # applied once


async def test_a_run_of_orders_is_handled_at_once_and_one_that_does_not_decode_is_parked_alone(
    world: SimpleNamespace,
) -> None:
    """The pipeline hands a stage a partition's run of records: each good order reaches
    its recipient once, the one that is not an order is parked once with its reason."""
    handle = world.lifecycle.guarded(world.lifecycle.handle_order)
    (first, one), (broken, _), (last, other) = [
        await _message(world, "order", _order()) for _ in range(3)
    ]
    broken.value = b"\x00\x00\x00\x00\x01not avro"
    await process(handle, first, broken, last)
    assert [k for k, _, _ in world.out.to(inbox_topic(DEPT))] == [first.key, last.key]
    ((_, parked, headers),) = world.out.to(DLQ_TOPIC)
    assert parked == broken.value
    assert header_of(SimpleNamespace(headers=headers), "hub.error.stage") == b"deserialize"
    for order in (one, other):
        assert world.lifecycle.stored(str(order.order_id))["state"] == "ISSUED"


async def test_a_record_that_breaks_the_stage_is_parked_and_the_rest_of_its_run_go_through(
    world: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Something unexpected on one record (a fault of the hub's, not of Kafka) fails the
    run: it is handled again one record at a time, so only that record is parked and
    the others are delivered, once each."""
    (first, one), (bad, poison), (last, other) = [
        await _message(world, "order", _order()) for _ in range(3)
    ]
    dues = world.lifecycle.dues

    def failing(view: Any) -> Any:
        if str(view.order_id) == str(poison.order_id):
            raise ValueError("a deadline the calendar cannot place")
        return dues(view)

    monkeypatch.setattr(world.lifecycle, "dues", failing)
    await process(world.lifecycle.guarded(world.lifecycle.handle_order), first, bad, last)
    assert [k for k, _, _ in world.out.to(inbox_topic(DEPT))] == [first.key, last.key]
    ((_, parked, headers),) = world.out.to(DLQ_TOPIC)
    assert parked == bad.value
    assert header_of(SimpleNamespace(headers=headers), "hub.error.class") == b"ValueError"
    assert world.lifecycle.stored(str(poison.order_id)) is None
    assert world.lifecycle.stored(str(other.order_id))["state"] == "ISSUED"


async def test_an_event_that_fits_is_applied_and_one_that_does_not_is_parked(
    world: SimpleNamespace,
) -> None:
    lifecycle = world.lifecycle
    message, order = await _message(world, "order", _order())
    await process(lifecycle.guarded(lifecycle.handle_order), message)
    order_id = str(order.order_id)
    early, _ = await _message(world, "order-event",
                              _event(order_id, "FEEDBACK", comment="已处理"))
    await process(lifecycle.guarded(lifecycle.handle_event), early)
    ((_, parked, headers),) = world.out.to(DLQ_TOPIC)
    assert parked == early.value
    assert header_of(SimpleNamespace(headers=headers), "hub.error.stage") == b"lifecycle"

    signed, _ = await _message(world, "order-event", _event(order_id, "SIGNED"))
    await process(lifecycle.guarded(lifecycle.handle_event), signed)
    assert lifecycle.stored(order_id)["state"] == "SIGNED"
    assert [v for _, v, _ in world.out.to(inbox_topic(STREET))] == [signed.value]


async def test_an_event_ahead_of_its_order_waits_for_it(world: SimpleNamespace) -> None:
    lifecycle = world.lifecycle
    message, order = await _message(world, "order", _order())
    order_id = str(order.order_id)
    signed, _ = await _message(world, "order-event", _event(order_id, "SIGNED"))
    await process(lifecycle.guarded(lifecycle.handle_event), signed)
    assert lifecycle.stored(order_id) is None and world.out.records == []
    await process(lifecycle.guarded(lifecycle.handle_order), message)
    assert lifecycle.stored(order_id)["state"] == "SIGNED"
    assert world.out.to(DLQ_TOPIC) == []


async def test_a_second_return_escalates_to_the_justice_bureau(world: SimpleNamespace) -> None:
    lifecycle = world.lifecycle
    message, order = await _message(world, "order", _order())
    await process(lifecycle.guarded(lifecycle.handle_order), message)
    order_id = str(order.order_id)
    for step, actor, kind, extra in (
        (1, DEPT, "RETURNED", {"reason": "不属于本部门职责"}),
        (2, STREET, "REASSIGNED", {"reassign_to": ["dept-water"]}),
        (3, "dept-water", "RETURNED", {"reason": "不属于本部门职责"}),
    ):
        event, _ = await _message(world, "order-event", _event(order_id, kind, actor, **extra))
        await process(lifecycle.guarded(lifecycle.handle_event), event)
        assert world.out.to(DLQ_TOPIC) == [], step
    escalations = [await world.serde.decode("order-event", v)
                   for _, v, _ in world.out.to(EVENTS)]
    assert [e.event_type.value for e in escalations] == ["ESCALATED"]


async def test_a_clue_becomes_its_assignment_and_an_unknown_matter_is_parked(
    world: SimpleNamespace,
) -> None:
    handle = world.assign.guarded(world.assign.handle_clue)
    clue = sample("clue", source_party=DEPT, source_id="CL-1", matter_code="URB-001")
    message, record = await _message(world, "clue", clue)
    await process(handle, message)
    await process(handle, message)
    (first, again) = world.out.to(ORDERS)
    assert first == again  # the same order, byte for byte
    order = await world.serde.decode("order", first[1])
    assert order.order_type.value == "ASSIGNMENT" and order.subject_id == record.record_id

    unknown, _ = await _message(world, "clue", {**clue, "source_id": "CL-2"})
    unknown.value = await world.serde.encode(
        "clue", record.model_copy(update={"matter_code": "ZZZ-999"}))
    await process(handle, unknown)
    ((_, parked, headers),) = world.out.to(DLQ_TOPIC)
    assert parked == unknown.value  # refused by the catalogue when decoded, kept as sent
    assert header_of(SimpleNamespace(headers=headers), "hub.error.class") == b"RecordInvalid"


async def test_a_decided_case_is_disclosed_again_and_recorded_once(world: SimpleNamespace) -> None:
    cases = world.cases
    message, _ = await _message(world, "case", sample("case"))
    await process(cases.guarded(cases.handle_case), message)
    await process(cases.guarded(cases.handle_case), message)
    published = world.out.to(KINDS["penalty"].topic)
    assert len(published) == 2 and published[0] == published[1]
    assert world.out.to(inbox_topic("bigdata")) == published
    assert len(list(cases.disclosed.items())) == 1
    assert len(world.out.to(inbox_topic("justice"))) == 2  # its supervisors' notices too


async def test_a_missed_deadline_is_noticed_with_the_same_ids_each_sweep(
    world: SimpleNamespace,
) -> None:
    past = datetime.now(UTC) - timedelta(hours=3)
    message, order = await _message(world, "order", _order(
        issued_at=past.isoformat(), occurred_at=past.isoformat(),
        deadline=(past + timedelta(hours=1)).isoformat()))
    await process(world.lifecycle.guarded(world.lifecycle.handle_order), message)
    await world.sweep._sweep_deadlines()
    first = [await world.serde.decode("order-event", v) for _, v, _ in world.out.to(EVENTS)]
    await world.sweep._sweep_deadlines()
    both = [await world.serde.decode("order-event", v) for _, v, _ in world.out.to(EVENTS)]
    assert all(isinstance(n, OrderEvent) for n in both)
    kinds = [n.event_type.value for n in first]
    assert kinds and kinds[:2] == ["OVERDUE", "ESCALATED"] and len(kinds) % 2 == 0
    again = both[len(first):]
    # the same notices again, with the same ids: the lifecycle stage applies them once
    assert [n.event_id for n in again] == [n.event_id for n in first]


# ------------------------------------------------- the cores, plain values in and out


def _read(kind: str, data: dict[str, Any], offset: int = 0) -> Read[Any]:
    record = KINDS[kind].model.model_validate({**data, "trace_id": "ef" * 16},
                                              context={"reference": REFERENCE})
    message = SimpleNamespace(
        topic=KINDS[kind].topic, partition=0, offset=offset, key=KINDS[kind].key_of(record),
        value=f"{kind}-{offset}".encode(), headers=[("hub.trace_id", b"ef" * 16)],
    )
    return Read(message, record)


def _world(**changes: Any) -> World:
    deadlines = Deadlines(load_deadline_policy(HubSettings().deadlines_file),
                          load_calendar(HubSettings().calendar_file))
    fields: dict[str, Any] = {
        "inboxes": {p.id: inbox_topic(p.id) for p in REFERENCE.parties.with_inbox()},
        "reference": REFERENCE,
        "dues": lambda view: deadlines.dues(view, REFERENCE.matters.get(view.matter_code)),
        "now": datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
        "park_seconds": 3600.0,
        "behind": lambda partition: False,
        **changes,
    }
    return World(**fields)


def test_the_lifecycle_core_applies_an_event_that_came_ahead_of_its_order_in_one_batch() -> None:
    order = _read("order", _order(), 1)
    order_id = str(order.record.order_id)
    signed = _read("order-event", _event(order_id, "SIGNED"), 2)
    orders, parked = State({}), State({})
    step = lifecycle([signed, order], orders, parked, {}, _world())
    assert orders.writes[order_id]["state"] == "SIGNED"
    assert parked.writes == {order_id: None}  # parked, then applied: nothing left waiting
    assert step.parked == []
    delivered = [(out.topic, out.value) for out in step.out]
    assert delivered == [(inbox_topic(DEPT), None), (inbox_topic(STREET), b"order-event-2"),
                         (inbox_topic(DEPT), b"order-event-2")]
    assert [out.headers.kind for out in step.out] == ["order", "order-event", "order-event"]
    sent = step.out[0].record
    assert isinstance(sent, DispatchOrder) and sent.description == order.record.description


def test_an_order_reaches_its_recipients_with_the_deadline_the_hub_applies() -> None:
    """Issue 16: the policy's default deadline was only in GET /v1/orders/{id}'s dues; the
    order in the inbox said deadline: null."""
    without = _order()
    without.pop("deadline")
    order = _read("order", without, 1)
    world = _world()
    step = lifecycle([order], State({}), State({}), {}, world)
    (out,) = step.out
    assert isinstance(out.record, DispatchOrder)
    due = world.dues(open_order(order.record)).answer
    assert due is not None and out.record.deadline == due


def test_the_clocks_start_when_the_hub_received_the_order_not_at_issued_at() -> None:
    """Issue 16: an issued_at the issuer chose (30 days ahead) pushed every deadline back."""
    now = datetime.now(UTC)
    ahead = _order(issued_at=(now + timedelta(days=30)).isoformat(),
                   occurred_at=now.isoformat())
    ahead.pop("deadline")
    record = KINDS["order"].model.model_validate(
        {**ahead, "trace_id": "ef" * 16, "received_at": now.isoformat()})
    view = open_order(record)
    dues = _world().dues(view)
    assert dues.sign_off is not None and dues.sign_off - now < timedelta(days=1)
    assert dues.answer is not None and dues.answer - now < timedelta(days=15)


def test_a_reassigned_order_reaches_its_new_recipient_whole() -> None:
    """Issue 16: after REASSIGNED the new recipient got only the event, never the order's
    description, location or detail."""
    order = _read("order", _order(), 1)
    order_id = str(order.record.order_id)
    reads = [order,
             _read("order-event", _event(order_id, "RETURNED", reason="不属于本部门职责"), 2),
             _read("order-event", _event(order_id, "REASSIGNED", STREET,
                                         reassign_to=["dept-water"]), 3)]
    step = lifecycle(reads, State({}), State({}), {}, _world())
    to_water = [out for out in step.out if out.topic == inbox_topic("dept-water")]
    assert [out.headers.kind for out in to_water] == ["order-event", "order"]
    sent = to_water[1].record
    assert isinstance(sent, DispatchOrder)
    assert sent.description == order.record.description
    assert sent.location == order.record.location and sent.to_parties == ["dept-water"]
    assert sent.deadline is not None


def test_an_order_received_again_with_other_content_is_parked_not_dropped() -> None:
    order = _read("order", _order(), 1)
    orders = State({})
    lifecycle([order], orders, State({}), {}, _world())
    changed = Read(order.message, order.record.model_copy(update={"description": "另一内容"}))
    step = lifecycle([changed], State(dict(orders.writes)), State({}), {}, _world())
    assert step.out == [] and [p.reason for p in step.parked] == ["order.changed"]
    same = Read(order.message, order.record.model_copy(update={"trace_id": "12" * 16}))
    step = lifecycle([same], State(dict(orders.writes)), State({}), {}, _world())
    assert step.parked == [] and len(step.out) == 1  # delivered again, applied once


def test_the_lifecycle_core_escalates_the_second_return_and_parks_what_does_not_fit() -> None:
    order = _read("order", _order(), 1)
    order_id = str(order.record.order_id)
    reads = [order] + [
        _read("order-event", _event(order_id, kind, actor, **extra), n)
        for n, (actor, kind, extra) in enumerate((
            (DEPT, "RETURNED", {"reason": "不属于本部门职责"}),
            (STREET, "REASSIGNED", {"reassign_to": ["dept-water"]}),
            ("dept-water", "RETURNED", {"reason": "不属于本部门职责"}),
            ("dept-water", "FEEDBACK", {"comment": "已处理"}),
        ), 2)
    ]
    orders = State({})
    step = lifecycle(reads, orders, State({}), {}, _world())
    escalated = [out.record for out in step.out if out.headers.kind == "order-event"
                 and out.record is not None]
    assert [(e.event_type.value, e.occurred_at) for e in escalated] == [
        ("ESCALATED", datetime(2026, 12, 2, 9, 0, tzinfo=UTC))]
    assert "派单已被退回2次" in str(escalated[0].reason)  # issue 16: it read "{view.returns}"
    ((park,),) = [step.parked]
    assert park.message is reads[-1].message and park.stage == "lifecycle"
    assert orders.writes[order_id]["returns"] == 2


def test_the_lifecycle_core_parks_events_whose_order_never_came_once_they_waited_enough() -> None:
    signed = _read("order-event", _event(str(uuid.uuid4()), "SIGNED"), 5)
    parked = State({})
    lifecycle([signed], State({}), parked, {}, _world())
    order_id = str(signed.record.order_id)
    table = {order_id: parked.writes[order_id]}
    soon = State(table)
    step = lifecycle([Read(None, Sweep(order_id))], State({}), soon, {},
                     _world(now=datetime(2026, 12, 2, 9, 30, tzinfo=UTC)))
    assert step.parked == [] and soon.writes == {}
    late = State(table)
    step = lifecycle([Read(None, Sweep(order_id))], State({}), late, {},
                     _world(now=datetime(2026, 12, 2, 10, 1, tzinfo=UTC)))
    ((park,),) = [step.parked]
    assert (park.reason, park.message.value, park.message.offset) == ("UnknownOrder",
                                                                      b"order-event-5", 5)
    assert late.writes == {order_id: None}


def test_the_assign_and_disclose_cores_decide_without_io() -> None:
    clue = _read("clue", sample("clue", source_party=DEPT, source_id="CL-9",
                                matter_code="URB-001"))
    (out,) = assign([clue], REFERENCE).out
    assert out.topic == ORDERS and out.record is not None
    assert out.record.to_parties == [clue.record.street]
    stranger = Read(clue.message, clue.record.model_copy(update={"matter_code": "ZZZ-999"}))
    step = assign([stranger], REFERENCE)
    assert step.out == [] and [p.reason for p in step.parked] == ["UnknownMatter"]

    case = _read("case", sample("case"))
    disclosed = State({})
    step = disclose([case, case], disclosed, inbox_topic("bigdata"))
    assert [out.topic for out in step.out] == [KINDS["penalty"].topic, inbox_topic("bigdata")] * 2
    assert [v["case_no"] for v in disclosed.writes.values()] == [case.record.case_no]


def test_a_decision_is_disclosed_once_as_the_case_moves_on_and_corrections_apart() -> None:
    """Issue 16: a case posted FILED, then DECIDED (a new revision), is disclosed once."""
    base = {**sample("case"), "source_id": "CASE-REV"}
    filed = _read("case", {**base, "status": "FILED", "decision": None, "revision": 1})
    decided = _read("case", {**base, "revision": 2})
    executing = _read("case", {**base, "status": "EXECUTING", "revision": 3})
    disclosed = State({})
    step = disclose([filed, decided, executing, decided], disclosed, None)
    decided_id = step.out[0].record.record_id
    assert [out.record.record_id for out in step.out] == [decided_id] * 2
    assert list(disclosed.writes) == [str(decided_id)]  # and again only for revision 2 itself
    corrected = {**base, "revision": 4, "decision": {**base["decision"], "amount": "300.00"}}
    step = disclose([_read("case", corrected)], State(dict(disclosed.writes)), None)
    (out,) = step.out
    assert out.record.record_id != decided_id and str(out.record.amount) == "300.00"


def _case_world() -> CaseWorld:
    return CaseWorld(
        REFERENCE, load_supervision(),
        {p.id: inbox_topic(p.id) for p in REFERENCE.parties.with_inbox()},
    )


def test_every_revision_of_a_case_is_kept_and_reaches_its_supervisors() -> None:
    base = {**sample("case"), "source_id": "CASE-SUP"}
    filed = _read("case", {**base, "status": "FILED", "decision": None}, 1)
    decided = _read("case", {**base, "revision": 2}, 2)
    cases = State({})
    step = revise([decided, filed], cases, _case_world())  # the older one comes late
    (entry,) = cases.writes.values()
    assert [r["revision"] for r in entry["revisions"]] == [1, 2]
    assert entry["current"]["revision"] == 2 and entry["current"]["status"] == "DECIDED"
    to = [(out.topic, out.record.reader, out.record.revision) for out in step.out
          if out.topic != "sup.case.v1"]
    # a decided fine: finance too; the FILED revision: the others only
    assert to == [(inbox_topic(r), r, 2) for r in (DEPT, "justice", "procuratorate", "finance")] + [
        (inbox_topic(r), r, 1) for r in (DEPT, "justice", "procuratorate")]
    logged = [out.record.reader for out in step.out if out.topic == "sup.case.v1"]
    assert logged == [DEPT, "justice", "procuratorate", "finance", DEPT, "justice", "procuratorate"]

    again = revise([decided], State(dict(cases.writes)), _case_world())
    assert [o.record for o in again.out] == [o.record for o in step.out[:8]]  # the same notices
    changed = Read(decided.message, decided.record.model_copy(update={"legal_basis": "另一依据"}))
    refused = revise([changed], State(dict(cases.writes)), _case_world())
    assert refused.out == [] and [p.reason for p in refused.parked] == ["case.revision_changed"]


# ------------------------------------------------- a decided fine on its statutory clock

DECIDED_AT = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 Beijing time


def _fined_case() -> tuple[State, str, str]:
    """A case decided with a fine of 500 yuan at DECIDED_AT, kept as the cases stage
    keeps it; (its state, its id, its decision number)."""
    base = sample("case")
    base["decision"]["decided_at"] = DECIDED_AT.isoformat()
    cases = State({})
    revise([_read("case", base)], cases, _case_world())
    ((case_id, entry),) = cases.writes.items()
    return State(dict(cases.writes)), case_id, entry["current"]["decision"]["decision_no"]


def _execution(case_id: str, decision_no: str, kind: str, at: datetime, party: str = STREET,
               **more: Any) -> Read[Execution]:
    return _read("execution", {
        **sample("execution"), "source_party": party, "source_id": f"EX-{uuid.uuid4().hex[:8]}",
        "case_id": case_id, "decision_no": decision_no, "execution_type": kind,
        "occurred_at": at.isoformat(), "amount": None, **more,
    })


def _tick(cases: State, now: datetime) -> list[Execution]:
    """One sweep of the enforcement clock at now; what it raised is applied, as the
    stage applies what the sweep writes to enf.execution.v1."""
    raised = [out.record for out in enforcement_notices(
        [v for _, v in cases.items()], now, PERIODS).out]
    for notice in raised:
        assert isinstance(notice, Execution)
        step = execute([_read("execution", notice.model_dump(mode="json"))], cases, _exec_world())
        assert step.parked == []
    return raised


def test_the_enforcement_sweep_reads_the_cases_due_and_finds_what_a_scan_finds() -> None:
    """The cases stage keeps when each fine has its next notice due (`DueIndex`), and the
    sweep reads only the cases due by now. Through random stories of twelve fines
    (payments, challenges, reminders served, revocations, sweeps whose notices are applied
    or still on their way), the notices from the index are the notices of a scan."""
    rng = random.Random(20)  # noqa: S311 - reproducible stories, not a secret
    index = DueIndex(lambda _, entry: notice_due_at(entry, PERIODS))
    cases = State({})
    for n in range(12):
        base = sample("case")
        base["source_id"] = f"CASE-DUE-{n}"
        base["decision"]["decided_at"] = (DECIDED_AT + timedelta(days=3 * n)).isoformat()
        base["decision"]["decision_no"] = f"武城管罚决字〔2026〕{n + 100}号"
        revise([_read("case", base)], cases, _case_world())
    seen: dict[str, Any] = {}

    def sync() -> None:  # tell the index what changed, as the table does
        for key, value in cases.items():
            if seen.get(key) != value:
                index.changed(0, key, seen.get(key), value)
                seen[key] = copy.deepcopy(value)

    sync()
    ids = sorted(seen)
    now, raised, reported = DECIDED_AT, 0, 0
    kinds = ["PAID", "REMINDER_SERVED", "RECONSIDERATION", "UPHELD", "REVOKED"]
    for _ in range(90):
        now += timedelta(days=rng.choice([0, 1, 3, 10, 30]), hours=rng.randrange(24))
        if rng.random() < 0.25:
            case_id = rng.choice(ids)
            decision_no = seen[case_id]["current"]["decision"]["decision_no"]
            kind = rng.choices(kinds, weights=[2, 3, 1, 1, 0.2])[0]
            extra = {"amount": "100.00"} if kind == "PAID" else {}
            step = execute([_execution(case_id, decision_no, kind, now, **extra)], cases,
                           _exec_world())
            reported += not step.parked
        sync()
        scan = enforcement_notices([v for _, v in cases.items()], now, PERIODS).out
        due = enforcement_notices(index.due(now, [0]), now, PERIODS).out
        assert sorted(o.record.source_id for o in due) == sorted(o.record.source_id for o in scan)
        raised += len(scan)
        for out in scan:
            if rng.random() < 0.7:  # the rest still on their way at the next sweep
                execute([_read("execution", out.record.model_dump(mode="json"))], cases,
                        _exec_world())
        sync()
    assert raised >= 12 and reported >= 10  # the stories did reach the notices
    assert len(index.due(now + timedelta(days=9999), [0])) <= index.pending([0])


def _exec_world() -> ExecutionWorld:
    inboxes = {p.id: inbox_topic(p.id) for p in REFERENCE.parties.with_inbox()}
    return ExecutionWorld(PERIODS, inboxes)


def test_an_unpaid_fine_raises_each_notice_once_on_its_clock_and_the_court_gets_the_application(
) -> None:
    """Issue 16: with no PAID record, the payment is overdue after 15 days; the reminder
    is due when the 6-month lawsuit period has run out; 10 days after the reminder was
    served the hub applies to the court for the decider (the clock is the test's)."""
    cases, case_id, decision_no = _fined_case()
    day = timedelta(days=1)
    assert _tick(cases, DECIDED_AT + 14 * day) == []
    (overdue,) = _tick(cases, DECIDED_AT + 15 * day + timedelta(seconds=1))
    assert overdue.execution_type.value == "PAYMENT_OVERDUE"
    assert overdue.source_party == "hub" and "500.00" in (overdue.note or "")
    assert _tick(cases, DECIDED_AT + 100 * day) == []  # raised once
    six_months = datetime(2026, 9, 10, 2, 0, tzinfo=UTC)  # 行政诉讼法 §46
    assert _tick(cases, six_months - timedelta(seconds=1)) == []
    (reminder,) = _tick(cases, six_months)
    assert reminder.execution_type.value == "REMINDER_DUE"
    assert reminder.due_at == datetime(2026, 12, 10, 2, 0, tzinfo=UTC)  # 3 months (§53)

    served = _execution(case_id, decision_no, "REMINDER_SERVED", six_months + 2 * day)
    step = execute([served], cases, _exec_world())
    assert [out.topic for out in step.out] == [inbox_topic(STREET), inbox_topic("finance")]
    assert _tick(cases, six_months + 11 * day) == []  # 10 days after it was served (§54)
    entries = [v for _, v in cases.items()]
    early, late = (enforcement_notices(entries, six_months + n * day, PERIODS).out
                   for n in (12, 40))  # two sweeps, one later: the same notice
    assert content_digest(early[0].record) == content_digest(late[0].record)
    paid = _execution(case_id, decision_no, "PAID", six_months + 12 * day, amount="500.00")
    in_flight = State(dict(cases.writes))
    execute([paid], in_flight, _exec_world())  # paid while the sweep's notice was on its way
    stale = execute([_read("execution", early[0].record.model_dump(mode="json"))], in_flight,
                    _exec_world())
    assert stale.out == [] and stale.parked == []  # no longer due: no application
    (applied,) = _tick(cases, six_months + 12 * day)
    assert applied.execution_type.value == "APPLICATION_RAISED"
    assert applied.occurred_at == six_months + 12 * day  # when it became due, not the sweep's

    again = execute([_read("execution", applied.model_dump(mode="json"))], cases, _exec_world())
    (order,) = [out.record for out in again.out if out.topic == ORDERS]
    assert isinstance(order, DispatchOrder)
    assert (order.order_type.value, order.from_party, order.to_parties) == (
        "ENFORCEMENT_APPLICATION", STREET, ["court"])
    assert str(order.order_id) == str(applied.order_id) and str(order.subject_id) == case_id
    assert order.enforcement is not None and str(order.enforcement.amount) == "500.00"
    assert order.enforcement.reminder_served_at == six_months + 2 * day
    execute([_execution(case_id, decision_no, "PAID", six_months + 13 * day, amount="100.00")],
            cases, _exec_world())  # a part paid after the application
    twice = execute([_read("execution", applied.model_dump(mode="json"))], cases, _exec_world())
    assert [o.record for o in twice.out] == [o.record for o in again.out]  # the same again
    assert _tick(cases, datetime(2027, 12, 1, tzinfo=UTC)) == []  # applied: never lapses


def test_a_paid_revoked_or_challenged_fine_raises_what_its_standing_calls_for() -> None:
    day = timedelta(days=1)
    cases, case_id, decision_no = _fined_case()
    execute([_execution(case_id, decision_no, "PAID", DECIDED_AT + day, party="finance",
                        amount="500.00")], cases, _exec_world())
    assert _tick(cases, DECIDED_AT + 400 * day) == []  # paid in full: nothing to collect

    cases, case_id, decision_no = _fined_case()
    execute([_execution(case_id, decision_no, "PAID", DECIDED_AT + day, amount="200.00")],
            cases, _exec_world())
    execute([_execution(case_id, decision_no, "RECONSIDERATION", DECIDED_AT + 20 * day)],
            cases, _exec_world())
    raised = _tick(cases, DECIDED_AT + 300 * day)  # challenge pending: no window
    assert [n.execution_type.value for n in raised] == ["PAYMENT_OVERDUE"]
    assert "300.00" in (raised[0].note or "")  # what is left
    upheld = DECIDED_AT + 310 * day
    execute([_execution(case_id, decision_no, "UPHELD", upheld)], cases, _exec_world())
    (reminder,) = _tick(cases, upheld)  # the decision stands: the window opens
    assert reminder.execution_type.value == "REMINDER_DUE"
    assert reminder.due_at == datetime(2027, 4, 14, 2, 0, tzinfo=UTC)
    (lapsed,) = _tick(cases, datetime(2027, 4, 14, 2, 0, tzinfo=UTC))  # never served
    assert lapsed.execution_type.value == "WINDOW_LAPSED"

    cases, case_id, decision_no = _fined_case()
    execute([_execution(case_id, decision_no, "REVOKED", DECIDED_AT + day)], cases, _exec_world())
    assert _tick(cases, DECIDED_AT + 400 * day) == []


def test_an_execution_the_case_does_not_allow_is_parked_with_its_reason() -> None:
    cases, case_id, decision_no = _fined_case()
    at = DECIDED_AT + timedelta(days=1)
    paid = _execution(case_id, decision_no, "PAID", at, amount="500.00")
    refused = [
        _execution(str(uuid.uuid4()), decision_no, "PAID", at, amount="1.00"),
        _execution(case_id, "另一文号", "PAID", at, amount="1.00"),
        _execution(case_id, decision_no, "REMINDER_SERVED", at, party="finance"),
        _execution(case_id, decision_no, "PAID", at, party="street-yangyuan", amount="1.00"),
        _execution(case_id, decision_no, "APPLICATION_RAISED", at),
        Read(paid.message, paid.record.model_copy(update={"amount": Decimal("400.00")})),
    ]
    step = execute([paid, *refused], cases, _exec_world())
    assert [p.reason for p in step.parked] == [
        "execution.case_unknown", "execution.no_such_fine", "execution.not_entitled",
        "execution.not_entitled", "execution.not_entitled", "record.changed",
    ]
    (entry,) = cases.writes.values()
    assert [e["execution_type"] for e in entry["executions"]] == ["PAID"]


def test_a_decision_received_after_seven_working_days_counts_as_disclosed_late() -> None:
    """Issue 16: a decided penalty is disclosed within 7 working days (行政执法公示); the
    hub discloses on receipt, so a deciding revision received later is late, once."""
    calendar = load_calendar(HubSettings().calendar_file)
    decided = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)  # a Friday, 15:00 Beijing time

    def received(at: datetime, source_id: str) -> Read[Any]:
        case = sample("case", source_id=source_id)
        case["decision"]["decided_at"] = decided.isoformat()
        read = _read("case", case)
        return Read(read.message, read.record.model_copy(update={"received_at": at}))

    def due(at: datetime) -> datetime:
        return calendar.add_working_days(at, PERIODS.disclosure.working_days)

    on_time = received(datetime(2026, 12, 1, 15, 59, tzinfo=UTC), "CASE-ON-TIME")  # Tue 23:59
    late = received(datetime(2026, 12, 1, 16, 0, tzinfo=UTC), "CASE-LATE")  # Wed 00:00
    disclosed = State({})
    disclose([on_time, late, late], disclosed, None, due)
    assert [v["late"] for v in disclosed.writes.values()] == [False, True]
    counters = CreditIndex(disclosure_credits)
    for key, value in disclosed.writes.items():
        counters.changed(0, key, None, value)
    shares = counters.shares("2026-11", {0})
    assert shares == {STREET: [{"disclosed": 2, "disclosed_late": 1}]}
    assert counters.shares("2026-12", {0}) == {}
    assert counters.shares("2026-11", {1}) == {}  # not owned
    counters.dropped(0)  # moved away
    assert counters.shares("2026-11", {0}) == {}

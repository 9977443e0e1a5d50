"""The order state machine (docs/design.md §4): every path, every refusal, applied once."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.dispatch import (
    TRANSITIONS,
    Applied,
    Duplicate,
    OrderState,
    OrderView,
    Rejection,
    actions_for,
    apply_event,
    open_order,
    view_from_dict,
    view_to_dict,
)
from hub.records import DispatchOrder, EventType, OrderEvent, OrderType, validate
from tests.samples import sample

T0 = datetime(2026, 11, 25, 1, 30, tzinfo=UTC)
_counter = iter(range(10**9))


def order(order_type: str = "WHISTLE", **changes: Any) -> OrderView:
    data = sample("order", source_id=f"ORD-{next(_counter)}", order_type=order_type, **changes)
    if order_type == "CRIMINAL_REFERRAL":
        data.update(
            to_parties=["police"],
            referral={"suspected_offence": "非法经营罪", "evidence": ["现场检查笔录"]},
        )
    if order_type == "CASE_TRANSFER":
        data.update(
            transfer={"stop_order_issued": True, "reason": "属部门职权", "materials": ["案卷"]}
        )
    if order_type == "ASSISTANCE":
        data["assistance"] = {"kind": "APPRAISAL", "question": "请鉴定违建面积"}
    record = validate("order", data)
    assert isinstance(record, DispatchOrder)
    return open_order(record)


def event(view: OrderView, event_type: str, actor: str, **extra: Any) -> OrderEvent:
    data = {
        "source_party": actor,
        "source_id": f"EV-{next(_counter)}",
        "occurred_at": (T0 + timedelta(minutes=len(view.history))).isoformat(),
        "received_at": (T0 + timedelta(minutes=len(view.history), seconds=1)).isoformat(),
        "order_id": view.order_id,
        "event_type": event_type,
        "actor_party": actor,
        **extra,
    }
    if event_type in ("RETURNED", "NOT_FILED", "RECONSIDERATION", "DECLINED", "DENIED") and (
        "reason" not in data
    ):
        data["reason"] = "理由"
    if event_type == "REFERRED" and "linked_order_id" not in data:
        data["linked_order_id"] = str(uuid.uuid4())
    if event_type == "EVALUATED" and "rating" not in data:
        data["rating"] = 5
    record = validate("order-event", data)
    assert isinstance(record, OrderEvent)
    return record


def step(view: OrderView, event_type: str, actor: str, **extra: Any) -> OrderView:
    outcome = apply_event(view, event(view, event_type, actor, **extra))
    assert isinstance(outcome, Applied), outcome
    return outcome.view


def refused(view: OrderView, event_type: str, actor: str, **extra: Any) -> Rejection:
    outcome = apply_event(view, event(view, event_type, actor, **extra))
    assert isinstance(outcome, Rejection), outcome
    assert outcome.message_en and outcome.message_zh
    return outcome


def test_whistle_goes_from_issue_to_evaluation() -> None:
    view = order()
    assert (view.issuer, view.recipients, view.state) == (
        "street-jiyuqiao",
        ("dept-urban",),
        OrderState.ISSUED,
    )
    for event_type, actor, state in [
        ("SIGNED", "dept-urban", OrderState.SIGNED),
        ("REPORTED", "dept-urban", OrderState.IN_PROGRESS),
        ("FEEDBACK", "dept-urban", OrderState.ANSWERED),
        ("CLOSED", "street-jiyuqiao", OrderState.CLOSED),
        ("EVALUATED", "street-jiyuqiao", OrderState.EVALUATED),
    ]:
        view = step(view, event_type, actor)
        assert view.state is state
    assert [s.event_type for s in view.history] == [
        EventType(e) for e in ("SIGNED", "REPORTED", "FEEDBACK", "CLOSED", "EVALUATED")
    ]
    assert refused(view, "FEEDBACK", "dept-urban").rule == "event.order_final"


def test_the_history_keeps_what_each_actor_said_and_older_views_still_load() -> None:
    """An order's story shows the return's reason, the feedback's comment and the
    rating (the workbench's timeline); a view stored before it kept them loads as it was."""
    view = step(order(), "RETURNED", "dept-urban", reason="不属于本部门职责")
    view = step(view, "REASSIGNED", "justice", reassign_to=["dept-urban"])
    for event_type, actor in (("SIGNED", "dept-urban"), ("REPORTED", "dept-urban")):
        view = step(view, event_type, actor)
    view = step(view, "FEEDBACK", "dept-urban", comment="已清理")
    view = step(view, "CLOSED", "street-jiyuqiao")
    view = step(view, "EVALUATED", "street-jiyuqiao", rating=4, comment="及时")
    said = [(s.event_type.value, s.reason, s.comment, s.rating) for s in view.history]
    assert said[0] == ("RETURNED", "不属于本部门职责", None, None)
    assert said[4] == ("FEEDBACK", None, "已清理", None)
    assert said[-1] == ("EVALUATED", None, "及时", 4)
    stored = view_to_dict(view)
    assert view_from_dict(stored) == view
    assert "reason" not in stored["history"][2]  # nothing said, nothing stored
    older = {**stored, "history": [
        {k: v for k, v in s.items() if k not in ("reason", "comment", "rating")}
        for s in stored["history"]]}
    assert [s.reason for s in view_from_dict(older).history] == [None] * len(view.history)


def test_feedback_before_sign_off_is_refused_with_what_is_possible() -> None:
    rejection = refused(order(), "FEEDBACK", "dept-urban")
    assert rejection.rule == "event.not_in_state"
    assert "SIGNED" in rejection.message_en and "RETURNED" in rejection.message_en


def test_an_event_from_a_party_not_on_the_order_is_refused() -> None:
    assert refused(order(), "SIGNED", "dept-water").rule == "event.not_a_party"


def test_the_issuer_cannot_sign_its_own_order_and_a_recipient_cannot_close_it() -> None:
    view = order()
    assert refused(view, "SIGNED", "street-jiyuqiao").rule == "event.wrong_party"
    view = step(
        step(step(view, "SIGNED", "dept-urban"), "REPORTED", "dept-urban"), "FEEDBACK", "dept-urban"
    )
    assert refused(view, "CLOSED", "dept-urban").rule == "event.wrong_party"


def test_an_event_applied_twice_is_applied_once() -> None:
    view = order()
    signed = event(view, "SIGNED", "dept-urban")
    first = apply_event(view, signed)
    assert isinstance(first, Applied)
    again = apply_event(first.view, signed)
    assert isinstance(again, Duplicate)
    assert again.view == first.view


def test_an_event_for_another_order_is_refused() -> None:
    view, other = order(), order()
    rejection = apply_event(view, event(other, "SIGNED", "dept-urban"))
    assert isinstance(rejection, Rejection) and rejection.rule == "event.wrong_order"


def test_the_second_return_asks_justice_to_rule_and_reassignment_reissues() -> None:
    view = order()
    first = apply_event(view, event(view, "RETURNED", "dept-urban"))
    assert isinstance(first, Applied) and not first.escalate and first.view.returns == 1
    view = step(first.view, "REASSIGNED", "street-jiyuqiao", reassign_to=["dept-water"])
    assert view.state is OrderState.ISSUED and view.recipients == ("dept-water",)
    assert refused(view, "SIGNED", "dept-urban").rule == "event.not_a_party"
    view = step(view, "SIGNED", "dept-water")
    second = apply_event(view, event(view, "RETURNED", "dept-water"))
    assert isinstance(second, Applied) and second.escalate and second.view.returns == 2
    ruled = step(second.view, "REASSIGNED", "justice", reassign_to=["dept-urban"])
    assert ruled.state is OrderState.ISSUED and ruled.recipients == ("dept-urban",)


def test_criminal_referral_not_filed_then_reconsideration_and_supervision() -> None:
    view = order("CRIMINAL_REFERRAL")
    assert view.parties == ("street-jiyuqiao", "police", "procuratorate")
    view = step(view, "ACCEPTED", "police")
    view = step(view, "NOT_FILED", "police")
    assert refused(view, "RECONSIDERATION", "police").rule == "event.wrong_party"
    view = step(view, "RECONSIDERATION", "street-jiyuqiao")
    assert view.state is OrderState.RECONSIDERING
    view = step(view, "SUPERVISION", "procuratorate")
    assert view.state is OrderState.SUPERVISED
    view = step(view, "FILED", "police")
    view = step(view, "CLOSED", "street-jiyuqiao")
    assert view.state is OrderState.CLOSED


def test_the_procuratorate_supervises_referrals_only() -> None:
    assert refused(order(), "SUPERVISION", "procuratorate").rule == "event.not_a_party"


def test_case_transfer_is_accepted_by_the_receiver_or_returned() -> None:
    view = order("CASE_TRANSFER")
    accepted = step(view, "ACCEPTED", "dept-urban")
    assert accepted.state is OrderState.ACCEPTED
    closed = step(accepted, "CLOSED", "dept-urban")
    assert step(closed, "EVALUATED", "street-jiyuqiao").state is OrderState.EVALUATED
    returned = step(order("CASE_TRANSFER"), "RETURNED", "dept-urban")
    assert returned.state is OrderState.RETURNED


def test_overdue_and_escalation_come_from_the_hub_or_justice_and_change_no_state() -> None:
    view = step(order(), "SIGNED", "dept-urban")
    flagged = step(view, "OVERDUE", "hub")
    assert (
        flagged.state is OrderState.SIGNED and flagged.history[-1].event_type is EventType.OVERDUE
    )
    assert step(flagged, "ESCALATED", "justice").state is OrderState.SIGNED
    assert refused(view, "OVERDUE", "dept-urban").rule == "event.notice_by_hub"


EVENTS = [e.value for e in EventType]
ACTORS = [
    "street-jiyuqiao",
    "dept-urban",
    "dept-water",
    "police",
    "procuratorate",
    "justice",
    "hub",
]


@settings(max_examples=150, deadline=None)
@given(
    order_type=st.sampled_from(
        ["WHISTLE", "ASSIGNMENT", "ASSISTANCE", "CASE_TRANSFER", "CRIMINAL_REFERRAL"]
    ),
    moves=st.lists(st.tuples(st.sampled_from(EVENTS), st.sampled_from(ACTORS)), max_size=25),
)
def test_any_sequence_of_events_is_answered_never_raises(
    order_type: str, moves: list[tuple[str, str]]
) -> None:
    view = order(order_type)
    for event_type, actor in moves:
        extra: dict[str, Any] = {}
        if event_type == "REASSIGNED":
            extra["reassign_to"] = ["dept-water"]
        outcome = apply_event(view, event(view, event_type, actor, **extra))
        assert isinstance(outcome, Applied | Rejection | Duplicate)
        if isinstance(outcome, Applied):
            assert len(outcome.view.history) == len(view.history) + 1
            view = outcome.view
        assert view.state in OrderState
        assert len(view.applied) <= 64


def test_a_view_survives_the_table_round_trip() -> None:
    from hub.dispatch import view_from_dict, view_to_dict

    view = step(step(order("CRIMINAL_REFERRAL"), "ACCEPTED", "police"), "NOT_FILED", "police")
    assert view_from_dict(view_to_dict(view)) == view


def test_deadlines_fire_once_each_and_only_while_they_matter() -> None:
    from hub.dispatch import Dues, missed_deadlines

    view = order()  # issued 01:30Z, answer by 03:30Z (the sample's own deadline)
    dues = Dues(sign_off=T0 + timedelta(hours=2), answer=T0 + timedelta(hours=2))
    assert missed_deadlines(view, T0 + timedelta(minutes=30), dues) == []
    late = missed_deadlines(view, T0 + timedelta(hours=2, minutes=30), dues)
    assert [m.which for m in late] == ["sign-off", "answer"]
    flagged = step(view, "OVERDUE", "hub")  # not the deterministic id: still due
    assert len(missed_deadlines(flagged, T0 + timedelta(hours=3), dues)) == 2
    signed = step(view, "SIGNED", "dept-urban")
    assert [m.which for m in missed_deadlines(signed, T0 + timedelta(hours=3), dues)] == ["answer"]
    answered = step(step(signed, "REPORTED", "dept-urban"), "FEEDBACK", "dept-urban")
    assert missed_deadlines(answered, T0 + timedelta(days=3), dues) == []
    referral = order("CRIMINAL_REFERRAL")
    acceptance = Dues(acceptance=T0 + timedelta(days=3))
    assert [m.which for m in missed_deadlines(referral, T0 + timedelta(days=4), acceptance)] == [
        "acceptance"
    ]
    accepted = step(referral, "ACCEPTED", "police")
    assert missed_deadlines(accepted, T0 + timedelta(days=4), acceptance) == []


def test_the_actions_offered_are_exactly_what_the_hub_accepts_from_each_party() -> None:
    """Issue 19: the order page offers a party exactly the events it may take now (the
    workbench shows those, hides the rest): for every order type, every state and every
    kind of party on it or not, an offered action is applied and any other is refused."""
    base = order("WHISTLE")
    parties = {base.issuer, *base.recipients, "justice", "procuratorate", "street-nanhu"}
    extras = {"REASSIGNED": {"reassign_to": ["dept-water"]}}
    offered_somewhere: set[tuple[OrderType, EventType]] = set()
    for order_type, transitions in TRANSITIONS.items():
        for state in {s for s, _ in transitions} | {OrderState.EVALUATED}:
            view = replace(base, order_type=order_type, state=state)
            for party in sorted(parties):
                offered = actions_for(view, party)
                for event_type in EventType:
                    if event_type in (EventType.OVERDUE, EventType.ESCALATED):
                        continue  # the hub's timers and justice, never an action
                    outcome = apply_event(view, event(
                        view, event_type.value, party, **extras.get(event_type.value, {})))
                    assert (event_type in offered) == isinstance(outcome, Applied), (
                        order_type, state, party, event_type, outcome)
                offered_somewhere |= {(order_type, e) for e in offered}
    # every action of the state machine is offered to someone somewhere
    assert offered_somewhere == {(t, e) for t, moves in TRANSITIONS.items() for _, e in moves}

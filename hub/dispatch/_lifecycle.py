"""The order state machine of docs/design.md §4, as a pure function (no Kafka, no clock).

`open_order` starts an `OrderView` from a DispatchOrder; `apply_event` returns the next
view, a `Rejection` saying why the event does not fit (the DLQ reason or the HTTP 409),
or `Duplicate` when the event id was applied before (applied once only). The Faust
agents of the dispatch engine keep one view per ``order_id`` in a table; the gateway
uses the same function to answer order actions.

::

    ISSUED ─SIGNED→ SIGNED ─REPORTED→ IN_PROGRESS ─FEEDBACK→ ANSWERED
      │               │                 ANSWERED ─CLOSED→ CLOSED ─EVALUATED→ EVALUATED
      └─RETURNED──────┴→ RETURNED ─REASSIGNED→ ISSUED (to other recipients)

Case transfers 案件移送 are ACCEPTED by the receiver (who becomes the case owner) or
RETURNED. Criminal referrals 涉嫌犯罪移送 go ACCEPTED → FILED or NOT_FILED; after
NOT_FILED the issuing street may ask RECONSIDERATION and the procuratorate may open
SUPERVISION, after which the police decide again. OVERDUE and ESCALATED change no state.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from hub.records import DispatchOrder, EventType, OrderEvent, OrderType, Priority

APPLIED_MEMORY = 64  # event ids remembered per order for at-least-once redelivery
RETURNS_BEFORE_RULING = 2  # the second return escalates to the justice bureau (审定)
JUSTICE = "justice"
PROCURATORATE = "procuratorate"
HUB = "hub"


class OrderState(StrEnum):
    """派单状态 where an order stands."""

    ISSUED = "ISSUED"  # 已派单
    SIGNED = "SIGNED"  # 已签收
    IN_PROGRESS = "IN_PROGRESS"  # 办理中（已报到）
    ANSWERED = "ANSWERED"  # 已反馈
    CLOSED = "CLOSED"  # 已办结
    EVALUATED = "EVALUATED"  # 已评价
    RETURNED = "RETURNED"  # 已退单
    ACCEPTED = "ACCEPTED"  # 已受理
    FILED = "FILED"  # 已立案
    NOT_FILED = "NOT_FILED"  # 不予立案
    RECONSIDERING = "RECONSIDERING"  # 复议中
    SUPERVISED = "SUPERVISED"  # 立案监督中
    REFERRED = "REFERRED"  # 已移送 (a suggested referral made)
    DECLINED = "DECLINED"  # 不予移送 (a suggested referral declined, with why)
    GRANTED = "GRANTED"  # 准予执行
    DENIED = "DENIED"  # 不予执行


class Role(StrEnum):
    """Who may act: the order's recipients, its issuer, or a supervising body."""

    RECIPIENT = "recipient"
    ISSUER = "issuer"
    JUSTICE = "justice"
    PROCURATORATE = "procuratorate"
    HUB = "hub"


S, E, R = OrderState, EventType, Role
Transitions = dict[tuple[OrderState, EventType], tuple[tuple[Role, ...], OrderState]]
_ROUTINE = {
    (S.ISSUED, E.SIGNED): ((R.RECIPIENT,), S.SIGNED),
    (S.ISSUED, E.RETURNED): ((R.RECIPIENT,), S.RETURNED),
    (S.SIGNED, E.RETURNED): ((R.RECIPIENT,), S.RETURNED),
    (S.SIGNED, E.REPORTED): ((R.RECIPIENT,), S.IN_PROGRESS),
    (S.IN_PROGRESS, E.FEEDBACK): ((R.RECIPIENT,), S.ANSWERED),
    (S.ANSWERED, E.FEEDBACK): ((R.RECIPIENT,), S.ANSWERED),
    (S.ANSWERED, E.CLOSED): ((R.ISSUER,), S.CLOSED),
    (S.CLOSED, E.EVALUATED): ((R.ISSUER,), S.EVALUATED),
    (S.RETURNED, E.REASSIGNED): ((R.ISSUER, R.JUSTICE), S.ISSUED),
}
# Receiving a transfer or a referral: sign, then accept or return it.
_RECEIPT = {
    (S.ISSUED, E.SIGNED): ((R.RECIPIENT,), S.SIGNED),
    (S.ISSUED, E.ACCEPTED): ((R.RECIPIENT,), S.ACCEPTED),
    (S.SIGNED, E.ACCEPTED): ((R.RECIPIENT,), S.ACCEPTED),
    (S.ISSUED, E.RETURNED): ((R.RECIPIENT,), S.RETURNED),
    (S.SIGNED, E.RETURNED): ((R.RECIPIENT,), S.RETURNED),
    (S.RETURNED, E.REASSIGNED): ((R.ISSUER, R.JUSTICE), S.ISSUED),
}
_TRANSFER = {
    **_RECEIPT,
    (S.ACCEPTED, E.FEEDBACK): ((R.RECIPIENT,), S.ACCEPTED),
    (S.ACCEPTED, E.CLOSED): ((R.RECIPIENT, R.ISSUER), S.CLOSED),
    (S.CLOSED, E.EVALUATED): ((R.ISSUER,), S.EVALUATED),
}
_REFERRAL = {
    **_RECEIPT,
    (S.ACCEPTED, E.FILED): ((R.RECIPIENT,), S.FILED),
    (S.ACCEPTED, E.NOT_FILED): ((R.RECIPIENT,), S.NOT_FILED),
    (S.NOT_FILED, E.RECONSIDERATION): ((R.ISSUER,), S.RECONSIDERING),
    (S.NOT_FILED, E.SUPERVISION): ((R.PROCURATORATE,), S.SUPERVISED),
    (S.RECONSIDERING, E.SUPERVISION): ((R.PROCURATORATE,), S.SUPERVISED),
    (S.RECONSIDERING, E.FILED): ((R.RECIPIENT,), S.FILED),
    (S.RECONSIDERING, E.NOT_FILED): ((R.RECIPIENT,), S.NOT_FILED),
    (S.SUPERVISED, E.FILED): ((R.RECIPIENT,), S.FILED),
    (S.SUPERVISED, E.NOT_FILED): ((R.RECIPIENT,), S.NOT_FILED),
    (S.FILED, E.CLOSED): ((R.ISSUER,), S.CLOSED),
    (S.NOT_FILED, E.CLOSED): ((R.ISSUER,), S.CLOSED),
}
# The procuratorate suggests a referral 建议移送: the authority signs, then refers (naming
# the CRIMINAL_REFERRAL it made) or declines with the reason; the procuratorate closes.
_SUGGESTION: Transitions = {
    (S.ISSUED, E.SIGNED): ((R.RECIPIENT,), S.SIGNED),
    (S.ISSUED, E.REFERRED): ((R.RECIPIENT,), S.REFERRED),
    (S.SIGNED, E.REFERRED): ((R.RECIPIENT,), S.REFERRED),
    (S.ISSUED, E.DECLINED): ((R.RECIPIENT,), S.DECLINED),
    (S.SIGNED, E.DECLINED): ((R.RECIPIENT,), S.DECLINED),
    (S.DECLINED, E.REFERRED): ((R.RECIPIENT,), S.REFERRED),  # it thought again
    (S.REFERRED, E.CLOSED): ((R.ISSUER,), S.CLOSED),
    (S.DECLINED, E.CLOSED): ((R.ISSUER,), S.CLOSED),
}
# A supervision notice 执法监督意见 or a procuratorial recommendation 检察建议: the
# authority signs and replies in writing by the deadline; the issuer closes. It cannot
# be returned: the notice is addressed to it.
_REPLY: Transitions = {
    (S.ISSUED, E.SIGNED): ((R.RECIPIENT,), S.SIGNED),
    (S.ISSUED, E.FEEDBACK): ((R.RECIPIENT,), S.ANSWERED),
    (S.SIGNED, E.FEEDBACK): ((R.RECIPIENT,), S.ANSWERED),
    (S.ANSWERED, E.FEEDBACK): ((R.RECIPIENT,), S.ANSWERED),
    (S.ANSWERED, E.CLOSED): ((R.ISSUER,), S.CLOSED),
}
# An application to the court for compulsory enforcement 申请法院强制执行: the court
# accepts it (or returns it, 不予受理, with the reason) and rules 准予执行 or 不予执行.
_ENFORCEMENT: Transitions = {
    (S.ISSUED, E.SIGNED): ((R.RECIPIENT,), S.SIGNED),
    (S.ISSUED, E.ACCEPTED): ((R.RECIPIENT,), S.ACCEPTED),
    (S.SIGNED, E.ACCEPTED): ((R.RECIPIENT,), S.ACCEPTED),
    (S.ISSUED, E.RETURNED): ((R.RECIPIENT,), S.RETURNED),
    (S.SIGNED, E.RETURNED): ((R.RECIPIENT,), S.RETURNED),
    (S.ACCEPTED, E.GRANTED): ((R.RECIPIENT,), S.GRANTED),
    (S.ACCEPTED, E.DENIED): ((R.RECIPIENT,), S.DENIED),
    (S.GRANTED, E.CLOSED): ((R.ISSUER,), S.CLOSED),
    (S.DENIED, E.CLOSED): ((R.ISSUER,), S.CLOSED),
    (S.RETURNED, E.CLOSED): ((R.ISSUER,), S.CLOSED),
}
TRANSITIONS: dict[
    OrderType, dict[tuple[OrderState, EventType], tuple[tuple[Role, ...], OrderState]]
] = {
    OrderType.WHISTLE: _ROUTINE,
    OrderType.ASSIGNMENT: _ROUTINE,
    OrderType.ASSISTANCE: _ROUTINE,
    OrderType.CASE_TRANSFER: _TRANSFER,
    OrderType.CRIMINAL_REFERRAL: _REFERRAL,
    OrderType.REVERSE_TRANSFER: _TRANSFER,  # the receiving authority takes the case over
    OrderType.SUGGEST_REFERRAL: _SUGGESTION,
    OrderType.SUPERVISION_NOTICE: _REPLY,
    OrderType.RECOMMENDATION: _REPLY,
    OrderType.ENFORCEMENT_APPLICATION: _ENFORCEMENT,
}
FINAL_STATES = frozenset({S.EVALUATED})
TRANSFERS = frozenset({OrderType.CASE_TRANSFER, OrderType.REVERSE_TRANSFER})  # case owners move
_NOTICES = frozenset({E.OVERDUE, E.ESCALATED})  # change no state


@dataclass(frozen=True)
class Step:
    """One applied event in an order's history."""

    event_id: str
    event_type: EventType
    actor: str
    at: datetime  # when the hub received the event (its received_at)
    state_after: OrderState
    # what the actor said with it, for the parties reading the order's story
    reason: str | None = None
    comment: str | None = None
    rating: int | None = None


@dataclass(frozen=True)
class OrderView:
    """What the dispatch engine knows of one order."""

    order_id: str
    order_type: OrderType
    issuer: str
    recipients: tuple[str, ...]
    matter_code: str
    issued_at: datetime
    deadline: datetime | None = None  # the issuer's own answer deadline, if it set one
    received: datetime | None = None  # when the hub received the order (its clocks start)
    priority: Priority = Priority.NORMAL
    subject_id: str | None = None
    case_owner: str | None = None  # case transfers: the issuer, then the accepting receiver
    state: OrderState = OrderState.ISSUED
    returns: int = 0
    history: tuple[Step, ...] = ()
    applied: tuple[str, ...] = field(default=(), repr=False)

    @property
    def round(self) -> int:
        """How many times the order was reassigned 改派 (0 for its first recipients)."""
        return sum(1 for step in self.history if step.event_type is EventType.REASSIGNED)

    @property
    def received_at(self) -> datetime:
        """When the current recipients received the order, by the hub's clock: when the hub
        received it, or its last reassignment (never the issuer's own issued_at, which
        would let an issuer start the statutory clocks when it likes)."""
        for step in reversed(self.history):
            if step.event_type is EventType.REASSIGNED:
                return step.at
        return self.received or self.issued_at  # views kept before the hub stored receipt

    def role_of(self, party: str) -> tuple[Role, ...]:
        """Every role party plays on this order."""
        roles = []
        if party in self.recipients:
            roles.append(Role.RECIPIENT)
        if party == self.issuer:
            roles.append(Role.ISSUER)
        if party == JUSTICE:
            roles.append(Role.JUSTICE)
        if party == PROCURATORATE and self.order_type is OrderType.CRIMINAL_REFERRAL:
            roles.append(Role.PROCURATORATE)
        if party == HUB:
            roles.append(Role.HUB)
        return tuple(roles)

    @property
    def parties(self) -> tuple[str, ...]:
        """Everyone who sees this order's story (issuer, recipients, procuratorate copy)."""
        seen = [self.issuer, *self.recipients]
        if self.order_type is OrderType.CRIMINAL_REFERRAL:
            seen.append(PROCURATORATE)
        return tuple(dict.fromkeys(seen))


@dataclass(frozen=True)
class Rejection:
    """Why an event does not fit: a rule id and what to do, in English and Chinese."""

    rule: str
    message_en: str
    message_zh: str


@dataclass(frozen=True)
class Duplicate:
    """The event id was applied before; nothing changes."""

    view: OrderView


@dataclass(frozen=True)
class Applied:
    """The new view and the events the hub must emit in consequence."""

    view: OrderView
    escalate: bool = False  # the second return: ask the justice bureau to rule (审定)


def actions_for(view: OrderView, party: str) -> list[EventType]:
    """The events party may take on the order now, in the state machine's order: what
    the workbench offers it (the timers' notices are the hub's, never a party's)."""
    if view.state in FINAL_STATES:
        return []
    roles = set(view.role_of(party))
    return [
        event for (state, event), (who, _) in TRANSITIONS[view.order_type].items()
        if state is view.state and roles & set(who)
    ]


def open_order(order: DispatchOrder) -> OrderView:
    """The view of a freshly issued order."""
    return OrderView(
        order_id=str(order.order_id),
        order_type=order.order_type,
        issuer=order.from_party,
        recipients=tuple(order.to_parties),
        matter_code=order.matter_code,
        issued_at=order.issued_at,
        deadline=order.deadline,
        received=order.received_at,
        priority=order.priority,
        subject_id=str(order.subject_id) if order.subject_id is not None else None,
        case_owner=order.from_party if order.order_type in TRANSFERS else None,
    )


def apply_event(view: OrderView, event: OrderEvent) -> Applied | Rejection | Duplicate:
    """Apply event to view, or say why not. Pure: the same inputs give the same answer."""
    event_id = str(event.event_id)
    if event_id in view.applied:
        return Duplicate(view)
    if str(event.order_id) != view.order_id:
        return Rejection(
            "event.wrong_order",
            f"event is for order {event.order_id}, not {view.order_id}",
            "事件所属派单与本派单不符",
        )
    roles = view.role_of(event.actor_party)
    if not roles:
        return Rejection(
            "event.not_a_party",
            f"{event.actor_party} is neither the issuer nor a recipient of order {view.order_id}",
            f"{event.actor_party}不是该派单的派单方或接收方",
        )
    if event.event_type in _NOTICES:
        if Role.HUB not in roles and Role.JUSTICE not in roles:
            return Rejection(
                "event.notice_by_hub",
                f"{event.event_type.value} is raised by the hub's timers or the justice bureau",
                "超时和督办事件只能由枢纽或司法局发出",
            )
        return Applied(_record(view, event, view.state))
    if view.state in FINAL_STATES:
        return Rejection(
            "event.order_final",
            f"order {view.order_id} is {view.state.value}; nothing more can happen to it",
            "该派单已办结并评价，不能再操作",
        )
    rule = TRANSITIONS[view.order_type].get((view.state, event.event_type))
    if rule is None:
        allowed = sorted(e.value for (s, e) in TRANSITIONS[view.order_type] if s is view.state)
        return Rejection(
            "event.not_in_state",
            f"{event.event_type.value} does not fit a {view.order_type.value} order in state "
            f"{view.state.value}; possible now: {', '.join(allowed) or 'nothing'}",
            f"派单当前状态为{view.state.value}，不能执行{event.event_type.value}",
        )
    who, next_state = rule
    if not set(roles) & set(who):
        return Rejection(
            "event.wrong_party",
            f"{event.event_type.value} on order {view.order_id} is for the "
            f"{' or '.join(r.value for r in who)}, not {event.actor_party}",
            f"{event.actor_party}无权对该派单执行{event.event_type.value}",
        )
    updated = _record(view, event, next_state)
    if event.event_type is EventType.RETURNED:
        updated = replace(updated, returns=view.returns + 1)
        return Applied(updated, escalate=updated.returns >= RETURNS_BEFORE_RULING)
    if event.event_type is EventType.REASSIGNED:
        updated = replace(updated, recipients=tuple(event.reassign_to))
    if event.event_type is EventType.ACCEPTED and view.order_type in TRANSFERS:
        updated = replace(updated, case_owner=event.actor_party)  # the receiver owns the case
    return Applied(updated)


def _record(view: OrderView, event: OrderEvent, state: OrderState) -> OrderView:
    # The hub's clock, not the sender's: deadlines and on-time counts cannot be backdated.
    step = Step(str(event.event_id), event.event_type, event.actor_party, event.received_at, state,
                event.reason, event.comment, event.rating)
    applied = (*view.applied, str(event.event_id))[-APPLIED_MEMORY:]
    return replace(view, state=state, history=(*view.history, step), applied=applied)


def view_to_dict(view: OrderView) -> dict[str, object]:
    """A JSON-ready form of a view (what the orders table stores)."""
    return {
        "order_id": view.order_id,
        "order_type": view.order_type.value,
        "issuer": view.issuer,
        "recipients": list(view.recipients),
        "matter_code": view.matter_code,
        "issued_at": view.issued_at.isoformat(),
        "deadline": view.deadline.isoformat() if view.deadline is not None else None,
        "received": view.received.isoformat() if view.received is not None else None,
        "priority": view.priority.value,
        "subject_id": view.subject_id,
        "case_owner": view.case_owner,
        "state": view.state.value,
        "returns": view.returns,
        "history": [
            {
                "event_id": s.event_id,
                "event_type": s.event_type.value,
                "actor": s.actor,
                "at": s.at.isoformat(),
                "state_after": s.state_after.value,
                **{name: value for name, value in (
                    ("reason", s.reason), ("comment", s.comment), ("rating", s.rating))
                   if value is not None},  # only what was said: stored views stay small
            }
            for s in view.history
        ],
        "applied": list(view.applied),
    }


def view_from_dict(data: dict[str, Any]) -> OrderView:
    """The view a `view_to_dict` result describes."""
    return OrderView(
        order_id=data["order_id"],
        order_type=OrderType(data["order_type"]),
        issuer=data["issuer"],
        recipients=tuple(data["recipients"]),
        matter_code=data["matter_code"],
        issued_at=datetime.fromisoformat(data["issued_at"]),
        deadline=datetime.fromisoformat(data["deadline"]) if data.get("deadline") else None,
        received=datetime.fromisoformat(data["received"]) if data.get("received") else None,
        priority=Priority(data.get("priority", Priority.NORMAL.value)),
        subject_id=data.get("subject_id"),
        case_owner=data.get("case_owner")
        or (data["issuer"] if OrderType(data["order_type"]) in TRANSFERS else None),
        state=OrderState(data["state"]),
        returns=int(data["returns"]),
        history=tuple(
            Step(
                s["event_id"],
                EventType(s["event_type"]),
                s["actor"],
                datetime.fromisoformat(s["at"]),
                OrderState(s["state_after"]),
                s.get("reason"),
                s.get("comment"),
                s.get("rating"),
            )
            for s in data["history"]
        ),
        applied=tuple(data["applied"]),
    )

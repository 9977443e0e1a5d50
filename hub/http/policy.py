"""Who may do what through the gateway (docs/design.md §9): the authorisation matrix as data.

A party publishes only as itself (``source_party`` and the acting-party field of the
record must be the caller), only the kinds its kind of party produces, and reads only
its own inbox. ``ops`` reads metrics and DLQ metadata, never record bodies. Penalty
disclosures and audit events are written by the hub itself, never over HTTP.
"""

from __future__ import annotations

from hub.records import OrderType
from hub.reference import PartyKind

_CASE_WORK = frozenset({"clue", "case", "order", "order-event", "execution"})

PUBLISHABLE: dict[PartyKind, frozenset[str]] = {
    PartyKind.STREET: _CASE_WORK,
    PartyKind.DEPARTMENT: _CASE_WORK,
    PartyKind.POLICE: frozenset({"order", "order-event"}),
    PartyKind.PROCURATORATE: frozenset({"order", "order-event"}),
    PartyKind.COURT: frozenset({"order-event"}),
    PartyKind.BIGDATA: frozenset({"entity", "permit"}),
    PartyKind.JUSTICE: frozenset({"officer", "matter", "order", "order-event"}),
    PartyKind.FINANCE: frozenset({"execution"}),  # payments: 罚缴分离
    PartyKind.OPS: frozenset(),
}

_AUTHORITY_ORDERS = frozenset({
    OrderType.WHISTLE, OrderType.ASSIGNMENT, OrderType.ASSISTANCE, OrderType.CASE_TRANSFER,
    OrderType.CRIMINAL_REFERRAL, OrderType.ENFORCEMENT_APPLICATION,
})
ISSUABLE: dict[PartyKind, frozenset[OrderType]] = {
    PartyKind.STREET: _AUTHORITY_ORDERS,
    PartyKind.DEPARTMENT: _AUTHORITY_ORDERS,
    PartyKind.POLICE: frozenset({OrderType.REVERSE_TRANSFER}),  # 反向移送
    PartyKind.PROCURATORATE: frozenset({  # 建议移送, 检察建议
        OrderType.SUGGEST_REFERRAL, OrderType.RECOMMENDATION,
    }),
    PartyKind.JUSTICE: frozenset({OrderType.SUPERVISION_NOTICE}),  # 执法监督意见
}
"""The order types each kind of party may issue (rules 三.五, 四.六, 三.四.3)."""


def may_issue(kind: PartyKind, order_type: OrderType) -> bool:
    return order_type in ISSUABLE.get(kind, frozenset())

# The field of each kind that names who acted; it must be the caller, like source_party.
ACTING_FIELD: dict[str, str] = {"order": "from_party", "order-event": "actor_party"}

HTTP_KINDS = sorted(set().union(*PUBLISHABLE.values()))

LATEST_WINS = frozenset({"entity", "permit", "officer", "matter"})
"""Kinds whose records are the current state of a thing (a compacted topic keyed by it):
the same id with other content is its new version, taken. For every other kind the same
id with other content is refused (409): an order, clue or event does not change, and a
case changes by revision."""

ADMITTED_KINDS = frozenset({"order-event", "execution"})
"""Kinds checked against the hub's state before 202 (an order event against its order,
`hub.http.orders.Orders.admit`; an execution against its case, `hub.http.cases.Cases.admit`),
wherever they are posted; one at a time, no batch."""

HUB_OWNED_FIELDS = ("record_id", "received_at")
"""Refused when a caller sends them: the hub derives the record id and stamps the time."""
DERIVED_IDS = {"DispatchOrder": "order_id", "OrderEvent": "event_id"}
"""Ids equal to the record id: a caller may leave them out (the document does), and one
that is sent must be that id."""

# What a party sends to act on an order (POST /v1/orders/{id}/events): an OrderEvent's
# fields less those the hub fills (the order, the acting party, the ids).
ACTION_FIELDS = (
    "event_type",
    "source_id",
    "occurred_at",
    "reason",
    "comment",
    "rating",
    "reassign_to",
    "linked_order_id",
    "attachments",
)


def may_publish(kind: PartyKind, record_kind: str) -> bool:
    return record_kind in PUBLISHABLE[kind]


def may_read_inbox(kind: PartyKind) -> bool:
    return kind is not PartyKind.OPS

"""Two-way assessment 双向考核 (docs/design.md §4): per party and month, kept incrementally.

Each applied order or event changes a few counters of the parties concerned, credited to
the month (Beijing time) in which the party received the order, so one order's story
counts in one month of its recipient however long it takes:

- ``received`` orders received (issue or reassignment), ``issued`` orders issued;
- ``signed`` / ``signed_on_time``: the first response to the order (sign-off, a
  return, or accepting a transfer or referral) and whether it came by the sign-off
  (acceptance) deadline; credited to the party that acted;
- ``answered`` / ``answered_on_time``: the first feedback (the acceptance decision for a
  transfer or referral) and whether it came by the answer (acceptance) deadline; the time
  from receipt to it goes into a response-time histogram (mean and p90);
- ``returned`` returns 退单 by the party, ``overdue`` missed deadlines of its orders;
- evaluations 评价 given by the issuer, credited to the order's recipients;
- ``disclosed`` / ``disclosed_late``: decisions the party made that month, disclosed, and
  of them those the hub received after the 7 working days of 行政执法公示 (kept by the
  disclose step, `hub.stages.disclose`, not by the orders).

Each order carries its own credits: the ``assessment`` entry of its view in the dispatch
engine's ``orders`` table maps ``party|YYYY-MM`` to the counters the order's story has
changed so far (`credit`). A view and its credits are one table value, so they survive
a crash together and a redelivered order or event (already in the view) is never
counted twice. A reader adds up the credits of the orders of a partition into that
partition's share (`add_share`), and the shares of all partitions into the total
(`merge`). The response-time histogram has geometric buckets 5 % wide, so p90 is exact
to 5 %.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hub.dispatch._deadlines import RECEIPT_TYPES, Dues
from hub.dispatch._lifecycle import OrderState, OrderView
from hub.records import EventType, OrderEvent
from hub.reference import BEIJING

# what a reader sees as counts (the report, the metrics' `measure` label, the API schema)
MEASURES = (
    "received",
    "issued",
    "signed",
    "signed_on_time",
    "answered",
    "answered_on_time",
    "returned",
    "overdue",
    "evaluations",
    "disclosed",
    "disclosed_late",
)
COUNTERS = (*MEASURES, "rating_sum", "response_count", "response_seconds_sum")
BUCKET_RATIO = 1.05
_LOG_RATIO = math.log(BUCKET_RATIO)
_FIRST_RESPONSE = {
    EventType.SIGNED, EventType.ACCEPTED, EventType.RETURNED, EventType.REFERRED,
    EventType.DECLINED,
}
# a suggested referral is answered by referring or by declining with the reason
_ANSWERS_A_SUGGESTION = {EventType.REFERRED, EventType.DECLINED}


def period_of(moment: datetime) -> str:
    """The assessment month of a moment, YYYY-MM in Beijing time."""
    return moment.astimezone(BEIJING).strftime("%Y-%m")


def bucket_of(seconds: float) -> int:
    """Histogram bucket of a response time: bucket b holds (1.05^(b-1), 1.05^b] seconds."""
    return max(0, math.ceil(math.log(max(seconds, 1.0)) / _LOG_RATIO - 1e-9))


def bucket_upper(bucket: int) -> float:
    return float(BUCKET_RATIO**bucket)


@dataclass(frozen=True)
class Change:
    """Counter increments for one party in one month."""

    party: str
    period: str
    counts: dict[str, int]
    response_seconds: float | None = None


def opened(view: OrderView) -> list[Change]:
    """What a newly issued order counts: one received per recipient, one issued."""
    period = period_of(view.issued_at)
    changes = [Change(p, period, {"received": 1}) for p in view.recipients]
    changes.append(Change(view.issuer, period, {"issued": 1}))
    return changes


def changes_of(before: OrderView, after: OrderView, event: OrderEvent, dues: Dues) -> list[Change]:
    """The counter changes of an applied event (before and after are the order's views)."""
    kind = event.event_type
    actor = event.actor_party
    period = period_of(before.received_at)
    at = event.received_at  # the hub's clock: a party cannot backdate its answer
    changes: list[Change] = []
    first_response = not any(
        step.event_type in _FIRST_RESPONSE and step.at >= before.received_at
        for step in before.history
    )
    receipt = before.order_type in RECEIPT_TYPES
    if kind in _FIRST_RESPONSE and actor in before.recipients and first_response:
        due = dues.acceptance if receipt else dues.sign_off
        on_time = due is None or at <= due
        changes.append(Change(actor, period, {"signed": 1, "signed_on_time": int(on_time)}))
    if receipt:
        answered = kind is EventType.ACCEPTED
    else:
        answered = (
            kind is EventType.FEEDBACK and before.state is not OrderState.ANSWERED
        ) or kind in _ANSWERS_A_SUGGESTION
    if answered and actor in before.recipients:
        due = dues.acceptance if receipt else dues.answer
        on_time = due is None or at <= due
        seconds = max(0.0, (at - before.received_at).total_seconds())
        changes.append(
            Change(
                actor,
                period,
                {
                    "answered": 1,
                    "answered_on_time": int(on_time),
                    "response_count": 1,
                    "response_seconds_sum": round(seconds),
                },
                response_seconds=seconds,
            )
        )
    if kind is EventType.RETURNED:
        changes.append(Change(actor, period, {"returned": 1}))
    if kind is EventType.OVERDUE:
        changes += [Change(p, period, {"overdue": 1}) for p in before.recipients]
    if kind is EventType.EVALUATED and event.rating is not None:
        changes += [
            Change(p, period, {"evaluations": 1, "rating_sum": event.rating})
            for p in before.recipients
        ]
    if kind is EventType.REASSIGNED:
        new_period = period_of(after.received_at)
        changes += [Change(p, new_period, {"received": 1}) for p in after.recipients]
    return changes


def add(total: dict[str, Any] | None, change: Change) -> dict[str, Any]:
    """total (a table value, JSON-safe) with change added; total itself is not modified."""
    result: dict[str, Any] = dict(total or {})
    for name, value in change.counts.items():
        result[name] = int(result.get(name, 0)) + value
    if change.response_seconds is not None:
        buckets = dict(result.get("buckets", {}))
        key = str(bucket_of(change.response_seconds))
        buckets[key] = int(buckets.get(key, 0)) + 1
        result["buckets"] = buckets
    return result


def credit(credits: dict[str, Any] | None, changes: Iterable[Change]) -> dict[str, Any]:
    """An order's credits (``party|YYYY-MM`` → counters) with changes added; credits
    itself is not modified."""
    result: dict[str, Any] = dict(credits or {})
    for change in changes:
        slot = f"{change.party}|{change.period}"
        result[slot] = add(result.get(slot), change)
    return result


def add_share(share: dict[str, Any], counters: dict[str, Any], sign: int = 1) -> None:
    """Add one order's counters of a party and month to share (modified in place);
    sign -1 takes them away again (an order's credits replaced by its next ones)."""
    for name, value in counters.items():
        if name == "buckets":
            buckets = share.setdefault("buckets", {})
            for key, count in value.items():
                total = buckets.get(key, 0) + sign * int(count)
                if total:
                    buckets[key] = total
                else:
                    buckets.pop(key, None)
        else:
            share[name] = share.get(name, 0) + sign * int(value)


class AssessmentBook(Protocol):
    """Whatever keeps assessment counters (the orders, the disclosures)."""

    def assessment_shares(self, period: str) -> dict[str, list[dict[str, Any]]]:
        """This worker's counters of period, per party: one share per partition."""


def shares_of(books: Iterable[AssessmentBook], period: str) -> dict[str, list[dict[str, Any]]]:
    """Every book's shares of period, per party."""
    shares: dict[str, list[dict[str, Any]]] = {}
    for book in books:
        for party, more in book.assessment_shares(period).items():
            shares.setdefault(party, []).extend(more)
    return shares


def merge(shares: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The sum of per-partition shares of one party and month."""
    total: dict[str, Any] = {}
    buckets: dict[str, int] = {}
    for share in shares:
        for name in COUNTERS:
            total[name] = int(total.get(name, 0)) + int(share.get(name, 0))
        for key, count in share.get("buckets", {}).items():
            buckets[key] = buckets.get(key, 0) + int(count)
    total["buckets"] = buckets
    return total


def report(party: str, period: str, total: dict[str, Any]) -> dict[str, Any]:
    """The figures a reader sees for one party and month."""
    counts = {name: int(total.get(name, 0)) for name in COUNTERS}
    buckets = {int(k): int(v) for k, v in total.get("buckets", {}).items()}
    responses = counts["response_count"]
    return {
        "party": party,
        "period": period,
        "received": counts["received"],
        "issued": counts["issued"],
        "signed": counts["signed"],
        "signed_on_time": counts["signed_on_time"],
        "signed_on_time_rate": _rate(counts["signed_on_time"], counts["signed"]),
        "answered": counts["answered"],
        "answered_on_time": counts["answered_on_time"],
        "answered_on_time_rate": _rate(counts["answered_on_time"], counts["answered"]),
        "returned": counts["returned"],
        "overdue": counts["overdue"],
        "mean_response_hours": (
            round(counts["response_seconds_sum"] / responses / 3600, 2) if responses else None
        ),
        "p90_response_hours": _p90_hours(buckets),
        "evaluations": counts["evaluations"],
        "disclosed": counts["disclosed"],
        "disclosed_late": counts["disclosed_late"],
        "mean_evaluation": (
            round(counts["rating_sum"] / counts["evaluations"], 2)
            if counts["evaluations"]
            else None
        ),
    }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _p90_hours(buckets: dict[int, int]) -> float | None:
    """The 90th percentile, as the upper edge of the bucket that holds it (within 5 %)."""
    total = sum(buckets.values())
    if not total:
        return None
    rank = math.ceil(0.9 * total)
    seen = 0
    for bucket in sorted(buckets):
        seen += buckets[bucket]
        if seen >= rank:
            return round(bucket_upper(bucket) / 3600, 2)
    return None  # pragma: no cover - rank <= total always

"""Deadlines of an order (DESIGN §4) and which of them a given moment has missed.

- sign-off 签收: by ``issued_at`` + the matter's sign-off hours (the catalogue's
  ``sign_off_hours``; 2 h when the matter is unknown), while the order is ISSUED;
- answer 办理: by the order's ``deadline``, while it is not yet answered or decided;
- police acceptance 受理 of a criminal referral: within 3 days of issue (the State
  Council's rules on transferring suspected crimes), while it is not yet ACCEPTED.

Each missed deadline is reported once: its OVERDUE event has a deterministic id, so a
timer that fires again, or a restarted worker, cannot apply it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.dispatch._lifecycle import OrderState, OrderView
from hub.records import OrderType, derive_record_id

DEFAULT_SIGN_OFF = timedelta(hours=2)
REFERRAL_ACCEPTANCE = timedelta(days=3)
_WAITING_FOR_ANSWER = {OrderState.ISSUED, OrderState.SIGNED, OrderState.IN_PROGRESS}


@dataclass(frozen=True)
class Missed:
    """One missed deadline of one order."""

    order_id: str
    which: str  # sign-off | answer | acceptance
    due: datetime
    reason_en: str
    reason_zh: str

    @property
    def source_id(self) -> str:
        return f"overdue/{self.order_id}/{self.which}"

    @property
    def event_id(self) -> str:
        return str(derive_record_id("hub", self.source_id))


def missed_deadlines(view: OrderView, now: datetime, sign_off: timedelta | None) -> list[Missed]:
    """The deadlines of view that now has passed and that were not reported yet."""
    due: list[Missed] = []
    referral = view.order_type is OrderType.CRIMINAL_REFERRAL
    if view.state is OrderState.ISSUED and not referral:
        limit = view.issued_at + (sign_off or DEFAULT_SIGN_OFF)
        due.append(Missed(view.order_id, "sign-off", limit, "not signed off in time", "未按时签收"))
    if referral and view.state in (OrderState.ISSUED, OrderState.SIGNED):
        limit = view.issued_at + REFERRAL_ACCEPTANCE
        due.append(
            Missed(
                view.order_id,
                "acceptance",
                limit,
                "the police have not decided on acceptance within 3 days",
                "公安机关未在3日内作出是否受理的决定",
            )
        )
    if view.state in _WAITING_FOR_ANSWER and not referral:
        due.append(
            Missed(
                view.order_id,
                "answer",
                view.deadline,
                "not answered by the deadline",
                "未在办理期限内反馈",
            )
        )
    reported = set(view.applied) | {step.event_id for step in view.history}
    return [m for m in due if now > m.due and m.event_id not in reported]

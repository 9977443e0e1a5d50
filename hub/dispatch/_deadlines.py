"""Deadlines of an order (docs/design.md §4) and which of them a given moment has missed.

Three deadlines, each counted from the moment the current recipients received the order
(its issue, or its last reassignment 改派):

- sign-off 签收, while the order is ISSUED: clock hours, per order type and priority
  (``deadlines.yaml``); a NORMAL whistle on a catalogued matter takes the matter's own
  ``sign_off_hours``, an URGENT or CRITICAL one the shorter of the two;
- answer 办理反馈, while it waits for feedback: the order's own ``deadline`` when the
  issuer set one, otherwise N working days of the working calendar (weekends, public
  holidays and adjusted working weekends), due at the end of the Nth day, Beijing time;
- acceptance 受理 of a case transfer or criminal referral, while not yet accepted:
  calendar days (3 by default: the State Council's rules on transferring suspected crimes).

Each missed deadline is reported once: its OVERDUE event has a deterministic id (the
order, the deadline and the receipt round), so a timer that fires again, or a restarted
worker, cannot apply it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub._yaml import load_model
from hub.dispatch._lifecycle import OrderState, OrderView
from hub.records import OrderType, Priority, derive_record_id
from hub.reference import Matter, WorkCalendar

_WAITING_FOR_ANSWER = {OrderState.ISSUED, OrderState.SIGNED, OrderState.IN_PROGRESS}
_WAITING_FOR_ACCEPTANCE = {OrderState.ISSUED, OrderState.SIGNED}
RECEIPT_TYPES = frozenset({
    OrderType.CASE_TRANSFER, OrderType.CRIMINAL_REFERRAL, OrderType.REVERSE_TRANSFER,
    OrderType.ENFORCEMENT_APPLICATION,
})


class Limits(BaseModel):
    """The default deadlines of one order type at one priority."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sign_off_hours: float | None = Field(default=None, gt=0, le=24 * 30)
    answer_working_days: int | None = Field(default=None, ge=1, le=250)
    acceptance_days: float | None = Field(default=None, gt=0, le=90)


class DeadlinePolicy(BaseModel):
    """deadlines.yaml: Limits per order type and priority, every pair present."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    WHISTLE: dict[Priority, Limits]
    ASSIGNMENT: dict[Priority, Limits]
    ASSISTANCE: dict[Priority, Limits]
    CASE_TRANSFER: dict[Priority, Limits]
    CRIMINAL_REFERRAL: dict[Priority, Limits]
    REVERSE_TRANSFER: dict[Priority, Limits]
    SUGGEST_REFERRAL: dict[Priority, Limits]
    SUPERVISION_NOTICE: dict[Priority, Limits]
    RECOMMENDATION: dict[Priority, Limits]
    ENFORCEMENT_APPLICATION: dict[Priority, Limits]

    @model_validator(mode="after")
    def _complete(self) -> DeadlinePolicy:
        for order_type in OrderType:
            table: dict[Priority, Limits] = getattr(self, order_type.value)
            missing = [p.value for p in Priority if p not in table]
            if missing:
                raise ValueError(f"{order_type.value}: no limits for {', '.join(missing)}")
            for priority, limits in table.items():
                where = f"{order_type.value}.{priority.value}"
                if order_type in RECEIPT_TYPES and limits.acceptance_days is None:
                    raise ValueError(f"{where}: a transfer or referral needs acceptance_days")
                if order_type not in RECEIPT_TYPES and (
                    limits.sign_off_hours is None or limits.answer_working_days is None
                ):
                    raise ValueError(f"{where}: needs sign_off_hours and answer_working_days")
        return self

    def limits(self, order_type: OrderType, priority: Priority) -> Limits:
        table: dict[Priority, Limits] = getattr(self, order_type.value)
        return table[priority]


def load_deadline_policy(path: Path) -> DeadlinePolicy:
    """Read deadlines.yaml; a wrong entry raises ConfigError naming it and the rule."""
    return load_model(path, DeadlinePolicy)


@dataclass(frozen=True)
class Dues:
    """When each deadline of an order falls (None: the order type has no such deadline)."""

    sign_off: datetime | None = None
    answer: datetime | None = None
    acceptance: datetime | None = None


@dataclass(frozen=True)
class Deadlines:
    """Computes an order's deadlines from the policy, the calendar and its matter."""

    policy: DeadlinePolicy
    calendar: WorkCalendar

    def dues(self, view: OrderView, matter: Matter | None) -> Dues:
        limits = self.policy.limits(view.order_type, view.priority)
        received = view.received_at
        if view.order_type in RECEIPT_TYPES:
            days = limits.acceptance_days or 3
            return Dues(acceptance=received + timedelta(days=days))
        hours = limits.sign_off_hours or 2.0
        if view.order_type is OrderType.WHISTLE and matter is not None:
            if view.priority is Priority.NORMAL:
                hours = float(matter.sign_off_hours)
            else:
                hours = min(hours, float(matter.sign_off_hours))
        if view.deadline is not None and view.round == 0:
            answer = view.deadline
        else:
            answer = self.calendar.add_working_days(received, limits.answer_working_days or 7)
        return Dues(sign_off=received + timedelta(hours=hours), answer=answer)


@dataclass(frozen=True)
class Missed:
    """One missed deadline of one order."""

    order_id: str
    which: str  # sign-off | answer | acceptance
    due: datetime
    round: int
    reason_en: str
    reason_zh: str

    @property
    def source_id(self) -> str:
        base = f"overdue/{self.order_id}/{self.which}"
        return base if self.round == 0 else f"{base}/r{self.round}"

    @property
    def event_id(self) -> str:
        return str(derive_record_id("hub", self.source_id))


def missed_deadlines(view: OrderView, now: datetime, dues: Dues) -> list[Missed]:
    """The deadlines of view that now has passed and that were not reported yet."""
    reported = set(view.applied) | {step.event_id for step in view.history}
    return [m for m in passed_deadlines(view, now, dues) if m.event_id not in reported]


def passed_deadlines(view: OrderView, now: datetime, dues: Dues) -> list[Missed]:
    """The deadlines of view that now has passed while the order still waits on them."""
    return [m for m in waited_on(view, dues) if now > m.due]


def next_due(view: OrderView, dues: Dues) -> Missed | None:
    """The earliest deadline the order waits on now (what the workbench counts down to),
    None when it waits on none."""
    return min(waited_on(view, dues), key=lambda m: m.due, default=None)


def waited_on(view: OrderView, dues: Dues) -> list[Missed]:
    """The deadlines the order waits on in its state, met or not."""
    due: list[Missed] = []
    if dues.sign_off is not None and view.state is OrderState.ISSUED:
        due.append(
            Missed(
                view.order_id,
                "sign-off",
                dues.sign_off,
                view.round,
                "not signed off in time",
                "未按时签收",
            )
        )
    if dues.acceptance is not None and view.state in _WAITING_FOR_ACCEPTANCE:
        days = (dues.acceptance - view.received_at).days
        due.append(
            Missed(
                view.order_id,
                "acceptance",
                dues.acceptance,
                view.round,
                f"no decision on acceptance within {days} days",
                f"未在{days}日内作出是否受理的决定",
            )
        )
    if dues.answer is not None and view.state in _WAITING_FOR_ANSWER:
        due.append(
            Missed(
                view.order_id,
                "answer",
                dues.answer,
                view.round,
                "not answered by the deadline",
                "未在办理期限内反馈",
            )
        )
    return due

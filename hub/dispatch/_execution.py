"""Where a decided fine stands on its statutory clock, and which notices are due (docs/
design.md §4; 行政处罚法 §67, 行政复议法 §20, 行政诉讼法 §46, 行政强制法 §53-54).

The periods are data (``hub/reference/enforcement.yaml``). A fine decided at D is due by
D + 15 days; the party may challenge it (复议 within 60 days, 诉讼 within 6 months); when
those periods have run out with no challenge pending (or a challenge was reported UPHELD),
the window for applying to the court opens, for 3 months. The decider must first serve a
written reminder (催告) and wait 10 days. So, while the fine is not paid in full and not
revoked, the hub raises, each once:

- ``PAYMENT_OVERDUE`` when the payment is due;
- ``REMINDER_DUE`` when the window opens and no reminder was served;
- ``APPLICATION_RAISED`` when a reminder was served 10 days ago and the window is open:
  the hub carries the application to the court for the decider (serving the reminder is
  the decider's decision to enforce);
- ``WINDOW_LAPSED`` when the window closed with no application.

`standing` reads a case's decision and its executions; `notices_due` says what a moment
makes due. Both are pure: the tests move the clock.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub._yaml import load_model
from hub.records import HUB_EXECUTION_TYPES, ExecutionType, PenaltyType

FINANCE = "finance"  # the finance bureau: reports payments its non-tax revenue system took


def may_report(party: str, kind: ExecutionType, decider: str) -> bool:
    """Whether party may report kind for a fine decider decided: the decider reports
    everything it learns, finance payments too, the hub alone its own notices."""
    if kind in HUB_EXECUTION_TYPES:
        return party == "hub"
    if kind is ExecutionType.PAID:
        return party in (decider, FINANCE)
    return party == decider


def fine_of(case: Mapping[str, Any], decision_no: str) -> bool:
    """Whether case (its JSON) decided a fine under decision_no."""
    decision = case.get("decision") or {}
    return bool(
        decision.get("penalty_type") == PenaltyType.FINE.value
        and decision.get("decision_no") == decision_no
    )


class Period(BaseModel):
    """A statutory period: calendar days or calendar months, and its legal basis."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: float | None = Field(default=None, gt=0, le=3660)
    months: int | None = Field(default=None, ge=1, le=120)
    basis: str = Field(min_length=1)

    @model_validator(mode="after")
    def _one_unit(self) -> Period:
        if (self.days is None) == (self.months is None):
            raise ValueError("give days or months, one of them")
        return self

    def after(self, start: datetime) -> datetime:
        """The moment the period that starts at start runs out."""
        if self.days is not None:
            return start + timedelta(days=self.days)
        assert self.months is not None  # noqa: S101 - _one_unit
        month = start.month - 1 + self.months
        year, month = start.year + month // 12, month % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        return start.replace(year=year, month=month, day=day)


class WorkingDays(BaseModel):
    """A period in working days of the calendar, and its basis."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    working_days: int = Field(ge=1, le=250)
    basis: str = Field(min_length=1)


class EnforcementPeriods(BaseModel):
    """enforcement.yaml: the periods of a decided fine, and of its disclosure."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    payment: Period
    reconsideration: Period
    lawsuit: Period
    reminder_wait: Period
    application_window: Period
    disclosure: WorkingDays


def load_enforcement_periods(path: Path) -> EnforcementPeriods:
    """Read enforcement.yaml; a wrong entry raises ConfigError naming it and the rule."""
    return load_model(path, EnforcementPeriods)


_REPORTED_ONCE = frozenset({
    ExecutionType.PAYMENT_OVERDUE, ExecutionType.REMINDER_DUE,
    ExecutionType.APPLICATION_RAISED, ExecutionType.WINDOW_LAPSED,
})


@dataclass(frozen=True)
class Standing:
    """Where one decided fine stands (all times UTC)."""

    decision_no: str
    amount: Decimal
    paid: Decimal
    revoked: bool
    challenged: bool  # a reconsideration or lawsuit reported and not yet UPHELD
    payment_due: datetime
    window_opens: datetime | None  # None while a challenge is pending
    window_closes: datetime | None
    reminder_served_at: datetime | None
    apply_from: datetime | None  # window open and the reminder's 10 days waited
    raised: frozenset[ExecutionType]  # the hub's notices applied so far

    @property
    def outstanding(self) -> Decimal:
        return max(self.amount - self.paid, Decimal(0))

    @property
    def open(self) -> bool:
        """Still something to collect: not paid in full, not revoked."""
        return self.outstanding > 0 and not self.revoked

    @property
    def state(self) -> str:
        """One word for the reader: PAID, REVOKED, APPLIED, LAPSED, CHALLENGED, UNPAID."""
        if self.revoked:
            return "REVOKED"
        if self.outstanding == 0:
            return "PAID"
        if ExecutionType.APPLICATION_RAISED in self.raised:
            return "APPLIED"
        if ExecutionType.WINDOW_LAPSED in self.raised:
            return "LAPSED"
        return "CHALLENGED" if self.challenged else "UNPAID"


def standing(
    case: Mapping[str, Any], executions: Iterable[Mapping[str, Any]], periods: EnforcementPeriods
) -> Standing | None:
    """Where the fine of case (its JSON, as the cases table keeps it) stands after
    executions (their JSON entries, in the order applied); None when the case carries no
    fine."""
    decision = case.get("decision")
    if not decision or decision.get("penalty_type") != PenaltyType.FINE.value:
        return None
    decided = datetime.fromisoformat(decision["decided_at"])
    paid, revoked, challenged = Decimal(0), False, False
    upheld: datetime | None = None
    served: datetime | None = None
    raised: set[ExecutionType] = set()
    for entry in executions:
        kind, at = ExecutionType(entry["execution_type"]), datetime.fromisoformat(entry["at"])
        if kind is ExecutionType.PAID:
            paid += Decimal(str(entry["amount"]))
        elif kind is ExecutionType.REVOKED:
            revoked = True
        elif kind in (ExecutionType.RECONSIDERATION, ExecutionType.LAWSUIT):
            challenged, upheld = True, None
        elif kind is ExecutionType.UPHELD:
            challenged, upheld = False, at
        elif kind is ExecutionType.REMINDER_SERVED:
            served = at
        elif kind in _REPORTED_ONCE:
            raised.add(kind)
    if challenged:
        opens: datetime | None = None
    elif upheld is not None:
        opens = upheld  # the challenge ended: the decision stands from then
    else:
        opens = max(periods.reconsideration.after(decided), periods.lawsuit.after(decided))
    apply_from = None
    if opens is not None and served is not None:
        apply_from = max(opens, periods.reminder_wait.after(served))
    return Standing(
        decision_no=decision["decision_no"],
        amount=Decimal(str(decision["amount"])),
        paid=paid,
        revoked=revoked,
        challenged=challenged,
        payment_due=periods.payment.after(decided),
        window_opens=opens,
        window_closes=periods.application_window.after(opens) if opens else None,
        reminder_served_at=served,
        apply_from=apply_from,
        raised=frozenset(raised),
    )


@dataclass(frozen=True)
class Due:
    """A notice the clock makes due: its type, the moment it became due (``at``: the
    same however late the clock looks), the moment it names (``due_at``), and why."""

    execution_type: ExecutionType
    at: datetime
    due_at: datetime
    reason_en: str
    reason_zh: str


def notices_due(fine: Standing, now: datetime) -> list[Due]:
    """The hub's notices that now makes due for fine and that were not raised yet."""
    if not fine.open:
        return []
    due: list[Due] = []
    if now >= fine.payment_due:
        due.append(Due(
            ExecutionType.PAYMENT_OVERDUE, fine.payment_due, fine.payment_due,
            f"{fine.outstanding} yuan of decision {fine.decision_no} unpaid after "
            f"{fine.payment_due.isoformat()}",
            f"处罚决定{fine.decision_no}尚有{fine.outstanding}元逾期未缴纳",
        ))
    opens, closes = fine.window_opens, fine.window_closes
    if opens is not None and closes is not None and now >= opens:
        if now >= closes:
            if ExecutionType.APPLICATION_RAISED not in fine.raised:
                due.append(Due(
                    ExecutionType.WINDOW_LAPSED, closes, closes,
                    f"the period to apply for compulsory enforcement of {fine.decision_no} "
                    f"ended {closes.isoformat()} with no application",
                    f"处罚决定{fine.decision_no}申请强制执行期限已届满，未申请",
                ))
        elif fine.reminder_served_at is None:
            due.append(Due(
                ExecutionType.REMINDER_DUE, opens, closes,
                f"the periods to challenge {fine.decision_no} have run out: serve the written "
                f"reminder now; the court may be applied to 10 days after it is served, by "
                f"{closes.isoformat()}",
                f"处罚决定{fine.decision_no}复议、诉讼期限已届满仍未缴纳：请送达催告书，送达十日后"
                f"可申请法院强制执行，须在{closes.isoformat()}前申请",
            ))
        elif fine.apply_from is not None and now >= fine.apply_from:
            due.append(Due(
                ExecutionType.APPLICATION_RAISED, fine.apply_from, closes,
                f"reminder served {fine.reminder_served_at.isoformat()} and "
                f"{fine.outstanding} yuan still unpaid: the hub applied to the court",
                f"催告书送达后仍有{fine.outstanding}元未缴纳：枢纽已代为向法院申请强制执行",
            ))
    return [d for d in due if d.execution_type not in fine.raised]


def next_notice_at(fine: Standing) -> datetime | None:
    """The first moment at which `notices_due` has a notice for fine, None when it never
    will (paid, revoked, everything raised). Its answer changes only when now passes one
    of fine's thresholds (payment due, the window opening and closing, apply-from), so
    the first threshold that has a notice is that moment."""
    thresholds = {fine.payment_due, fine.window_opens, fine.window_closes, fine.apply_from}
    for at in sorted(t for t in thresholds if t is not None):
        if notices_due(fine, at):
            return at
    return None

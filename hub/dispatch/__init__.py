"""The dispatch cores (docs/design.md §4), no Kafka: the order state machine, deadlines,
the two-way assessment, disclosure, and the order book the stages keep
(`hub.stages` runs them)."""

from hub.dispatch._assessment import add_share, changes_of, credit, opened, period_of
from hub.dispatch._assessment import merge as merge_assessment
from hub.dispatch._assessment import report as assessment_report
from hub.dispatch._book import CaseBook, OrderBook
from hub.dispatch._deadlines import (
    DeadlinePolicy,
    Deadlines,
    Dues,
    Missed,
    load_deadline_policy,
    missed_deadlines,
)
from hub.dispatch._disclosure import disclosure_of
from hub.dispatch._lifecycle import (
    JUSTICE,
    TRANSITIONS,
    Applied,
    Duplicate,
    OrderState,
    OrderView,
    Rejection,
    Role,
    Step,
    apply_event,
    open_order,
    view_from_dict,
    view_to_dict,
)
from hub.dispatch._supervision import (
    Supervision,
    Supervisor,
    load_supervision,
    notice_of,
    readers_of,
)

__all__ = [
    "CaseBook",
    "Supervision",
    "Supervisor",
    "load_supervision",
    "notice_of",
    "readers_of",
    "DeadlinePolicy",
    "Deadlines",
    "JUSTICE",
    "OrderBook",
    "add_share",
    "changes_of",
    "credit",
    "disclosure_of",
    "opened",
    "Dues",
    "Missed",
    "assessment_report",
    "load_deadline_policy",
    "merge_assessment",
    "missed_deadlines",
    "period_of",
    "TRANSITIONS",
    "Applied",
    "Duplicate",
    "OrderState",
    "OrderView",
    "Rejection",
    "Role",
    "Step",
    "apply_event",
    "open_order",
    "view_from_dict",
    "view_to_dict",
]

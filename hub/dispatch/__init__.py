"""The dispatch engine (docs/design.md §4): order lifecycle, routing, deadlines, assessment."""

from hub.dispatch._agents import DispatchEngine
from hub.dispatch._assessment import merge as merge_assessment
from hub.dispatch._assessment import period_of
from hub.dispatch._assessment import report as assessment_report
from hub.dispatch._deadlines import (
    DeadlinePolicy,
    Deadlines,
    Dues,
    Missed,
    load_deadline_policy,
    missed_deadlines,
)
from hub.dispatch._lifecycle import (
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

__all__ = [
    "DeadlinePolicy",
    "Deadlines",
    "DispatchEngine",
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

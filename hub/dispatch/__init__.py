"""The dispatch engine (DESIGN §4): order lifecycle, routing, deadlines, assessment."""

from hub.dispatch._agents import DispatchEngine
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
    "DispatchEngine",
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

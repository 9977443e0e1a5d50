"""The dispatch engine (DESIGN §4): order lifecycle, routing, deadlines, assessment."""

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
)

__all__ = [
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
]

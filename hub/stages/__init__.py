"""The pipeline's steps, one module each (docs/design.md §7), run by `hub.stream`:

- `normalise`  raw.<party>.v1 (native records) → canonical topics
- `assign`     enf.clue.v1 → an ASSIGNMENT on enf.order.v1
- `lifecycle`  enf.order.v1 and enf.order-event.v1 → inboxes; owns the orders table
- `disclose`   enf.case.v1 → pub.penalty.v1 and the big-data bureau's inbox
- `deadlines`  a timer: OVERDUE and ESCALATED events for missed deadlines

Each is a thin agent around the pure cores of `hub.dispatch` and `hub.mapping`; every
output goes through a `hub.wire.Emitter`, every refusal to the DLQ.
"""

from hub.stages._base import StageBase
from hub.stages.assign import Assign, assignment_of
from hub.stages.deadlines import DeadlineSweep
from hub.stages.disclose import Disclose
from hub.stages.lifecycle import Lifecycle, Ownership
from hub.stages.normalise import Normaliser

__all__ = [
    "Assign",
    "DeadlineSweep",
    "Disclose",
    "Lifecycle",
    "Normaliser",
    "Ownership",
    "StageBase",
    "assignment_of",
]

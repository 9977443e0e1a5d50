"""The pipeline's steps, one module each (docs/design.md §7), run by `hub.stream`:

- `normalise`  raw.<party>.v1 (native records) → canonical topics
- `assign`     enf.clue.v1 → an ASSIGNMENT on enf.order.v1
- `lifecycle`  enf.order.v1 and enf.order-event.v1 → inboxes; owns the orders table
- `cases`      enf.case.v1 → every revision kept; supervisors' inboxes and sup.case.v1
- `disclose`   enf.case.v1 → pub.penalty.v1 and the big-data bureau's inbox (run by the
               cases agent: one agent reads a topic)
- `execution`  enf.execution.v1 → what became of a decided fine, on the case's entry; the
               decider's and finance's inboxes; the court application it raises
- `subscribe`  data.subscription.v1 → subscriptions to shared datasets (requests,
               decisions) and their deliveries to the subscribers' inboxes; owns the
               subscriptions table; its pump is a timer
- `deadlines`  a timer: OVERDUE and ESCALATED events for missed deadlines
- `execution`  also a timer (`EnforcementSweep`): the notices a fine's statutory clock
               makes due (payment overdue, reminder due, application, window lapsed)

Each is a pure core ``(reads, state, context) -> Step`` over a batch of records
(`normalise`, `assign`, `lifecycle`, `revise`, `disclose`, `execute`,
`deadline_notices`, `enforcement_notices`, built on
`hub.dispatch` and `hub.mapping`) and a thin agent around it that decodes, applies the
step (outputs through a `hub.wire.Emitter`, refusals to the DLQ, table writes) and logs
(`hub.stages._base`).
"""

from hub.stages._base import Out, Park, Read, StageBase, State, Step
from hub.stages.assign import Assign, assign, assignment_of
from hub.stages.cases import CaseRevisions, CaseWorld, revise
from hub.stages.deadlines import DeadlineSweep, deadline_notices
from hub.stages.disclose import disclose, disclosure_credits
from hub.stages.execution import (
    EnforcementSweep,
    ExecutionWorld,
    application_of,
    enforcement_notices,
    execute,
    notice_due_at,
)
from hub.stages.lifecycle import Lifecycle, Ownership, Sweep, World, lifecycle
from hub.stages.normalise import Normaliser, normalise
from hub.stages.subscribe import (
    Change,
    DatasetReader,
    SubscriptionPump,
    Subscriptions,
    SubscriptionWorld,
    deliver,
    pump_steps,
    subscribe,
)

__all__ = [
    "Assign",
    "Change",
    "DatasetReader",
    "SubscriptionPump",
    "Subscriptions",
    "SubscriptionWorld",
    "deliver",
    "pump_steps",
    "subscribe",
    "CaseRevisions",
    "CaseWorld",
    "DeadlineSweep",
    "EnforcementSweep",
    "ExecutionWorld",
    "application_of",
    "enforcement_notices",
    "execute",
    "notice_due_at",
    "Lifecycle",
    "Normaliser",
    "Out",
    "Ownership",
    "Park",
    "Read",
    "StageBase",
    "State",
    "Step",
    "Sweep",
    "World",
    "assign",
    "assignment_of",
    "deadline_notices",
    "disclose",
    "disclosure_credits",
    "lifecycle",
    "normalise",
    "revise",
]

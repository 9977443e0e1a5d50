"""The assign stage: a clue on ``enf.clue.v1`` becomes an ASSIGNMENT 派单 (two-way
dispatch, rule 四.三) to the street where it happened when its matter is delegated to
streets, otherwise to the department that owns the matter; the clue's reporter issues
it. A clue for its own reporter makes no order. The order is written to
``enf.order.v1`` for the lifecycle stage, with an id derived from the clue's, so a clue
processed again makes the same order, byte for byte. A clue the normalise stage routed
already (header ``hub.routed``: its order was written with it) is skipped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hub.records import KINDS, Clue, DispatchOrder, OrderType
from hub.reference import Reference
from hub.stages._base import Out, Park, Read, StageBase, Step
from hub.stream import Stage
from hub.wire import ROUTED_HEADER, HubHeaders, header_of


def assignment_of(clue: Clue, target: str, matter_name: str) -> DispatchOrder:
    """The ASSIGNMENT 派单 the hub issues for a clue: to target, on the reporter's behalf.
    Its id derives from the clue's, so a clue routed twice makes one order; it is issued
    when the hub received the clue, so a clue processed again makes the same bytes."""
    at = clue.received_at
    return DispatchOrder.model_validate(
        {
            "source_party": "hub",
            "source_id": f"assignment/{clue.record_id}",
            "occurred_at": at,
            "received_at": at,
            "trace_id": clue.trace_id,
            "order_type": OrderType.ASSIGNMENT,
            "from_party": clue.source_party,
            "to_parties": [target],
            "subject_id": clue.record_id,
            "matter_code": clue.matter_code,
            "location": clue.location,
            "issued_at": at,
            "description": f"线索转办 clue to handle ({matter_name}): {clue.description}"[:2000],
        }
    )


def assign(clues: Sequence[Read[Clue]], reference: Reference) -> Step:
    """The core: each clue's ASSIGNMENT to the party competent for its matter."""
    step = Step()
    for read in clues:
        clue = read.record
        matter = reference.matters.get(clue.matter_code)
        if matter is None:
            step.parked.append(Park(
                read.message,
                "route",
                "UnknownMatter",
                f"clue {clue.record_id}: matter {clue.matter_code} is not in the matter "
                "catalogue, so the hub cannot tell who handles it; fix the matter code and "
                "publish the clue again",
            ))
            continue
        target = clue.street if matter.delegated_to_street else matter.department
        if target == clue.source_party:
            continue  # the reporter handles its own clue: no order
        order = assignment_of(clue, target, matter.name)
        step.out.append(Out(
            KINDS["order"].topic, str(order.order_id).encode(),
            HubHeaders(kind="order", trace_id=clue.trace_id), record=order,
        ))
    return step


class Assign(StageBase):
    """clue → ASSIGNMENT."""

    agent = "dispatch"

    def stage(self) -> Stage:
        return Stage("dispatch-clues", (KINDS["clue"].topic,), self.guarded(self.handle_clue))

    async def handle_clue(self, messages: Sequence[Any]) -> None:
        # a routed clue's ASSIGNMENT was written with it
        waiting = [m for m in messages if header_of(m, ROUTED_HEADER) is None]
        if not waiting:
            return
        step = Step()
        reads = await self.decoded("clue", waiting, step, self.catalogue())
        routed = assign(reads, self.reference())
        routed.parked[:0] = step.parked
        await self.apply(routed)

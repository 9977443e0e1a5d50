"""The deadline sweep: every ``HUB_DEADLINE_SWEEP_SECONDS`` each worker emits OVERDUE,
then ESCALATED to the justice bureau, once per missed deadline of the orders it owns
(docs/design.md §4). The events go to ``enf.order-event.v1`` like any other and are
applied by the lifecycle stage; their ids are deterministic, so a second sweep or a
restarted worker cannot apply them twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import faust

from hub.dispatch import Dues, OrderView, missed_deadlines
from hub.metrics import DEADLINE_SWEEP, OVERDUE
from hub.records import KINDS, EventType, OrderEvent
from hub.serde import AvroSerde
from hub.stages._base import Out, StageBase, Step
from hub.stages.lifecycle import Lifecycle
from hub.wire import Emitter, HubHeaders


def deadline_notices(
    views: Iterable[OrderView], now: datetime, dues: Callable[[OrderView], Dues]
) -> Step:
    """The core: for each missed deadline of views, OVERDUE, then ESCALATED to the
    justice bureau, with ids that the deadline fixes (a second sweep makes the same)."""
    step = Step()
    for view in views:
        for missed in missed_deadlines(view, now, dues(view)):
            for kind, source_id in (
                (EventType.OVERDUE, missed.source_id),
                (EventType.ESCALATED, f"{missed.source_id}/escalation"),
            ):
                notice = OrderEvent.model_validate(
                    {
                        "source_party": "hub",
                        "source_id": source_id,
                        "occurred_at": now,
                        "order_id": view.order_id,
                        "event_type": kind,
                        "actor_party": "hub",
                        "reason": f"{missed.which} deadline {missed.due.isoformat()} missed: "
                        f"{missed.reason_en} / {missed.reason_zh}",
                    }
                )
                step.out.append(Out(
                    KINDS["order-event"].topic, view.order_id.encode(),
                    HubHeaders(kind="order-event"), record=notice,
                ))
    return step


class DeadlineSweep(StageBase):
    """A timer around `deadline_notices`, over the lifecycle stage's views."""

    agent = "deadlines"

    def __init__(
        self,
        app: faust.App,
        out: Emitter,
        serde: AvroSerde,
        lifecycle: Lifecycle,
        reference_ready: asyncio.Event | None = None,
        every_seconds: float = 30.0,
    ) -> None:
        super().__init__(out, serde, lifecycle.reference, reference_ready)
        self.lifecycle = lifecycle
        app.timer(every_seconds)(self._sweep_deadlines)

    async def _sweep_deadlines(self) -> None:
        if self.reference_ready is not None and not self.reference_ready.is_set():
            return
        began = time.perf_counter()
        now = datetime.now(UTC)
        views = {view.order_id: view for view in self.lifecycle.due(now)}
        step = deadline_notices(views.values(), now, self.lifecycle.dues)
        DEADLINE_SWEEP.observe(time.perf_counter() - began)  # loop time, not the broker's
        if not await self.apply_timed(step):
            return
        for out in step.out:
            notice = out.record
            if isinstance(notice, OrderEvent) and notice.event_type == EventType.OVERDUE:
                for party in views[str(notice.order_id)].recipients:
                    OVERDUE.labels(party).inc()

"""The deadline sweep: every ``HUB_DEADLINE_SWEEP_SECONDS`` each worker emits OVERDUE,
then ESCALATED to the justice bureau, once per missed deadline of the orders it owns
(docs/design.md §4). The events go to ``enf.order-event.v1`` like any other and are
applied by the lifecycle stage; their ids are deterministic, so a second sweep or a
restarted worker cannot apply them twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import faust

from hub.dispatch import Missed, OrderView, missed_deadlines
from hub.metrics import OVERDUE
from hub.records import EventType, OrderEvent
from hub.serde import AvroSerde
from hub.stages.lifecycle import Lifecycle
from hub.wire import Emitter, HubHeaders


class DeadlineSweep:
    """A timer over the lifecycle stage's views."""

    def __init__(
        self,
        app: faust.App,
        out: Emitter,
        serde: AvroSerde,
        lifecycle: Lifecycle,
        reference_ready: asyncio.Event | None = None,
        every_seconds: float = 30.0,
    ) -> None:
        self.out = out
        self.serde = serde
        self.lifecycle = lifecycle
        self.reference_ready = reference_ready
        self.events_topic = lifecycle.events_topic
        app.timer(every_seconds)(self._sweep_deadlines)

    async def _sweep_deadlines(self) -> None:
        """Emit OVERDUE, then ESCALATED to justice, once per missed deadline (docs/design.md §4).

        The events go to ``enf.order-event.v1`` like any other and are applied by the
        events agent; their ids are deterministic, so a second sweep or a restarted worker
        cannot apply them twice.
        """
        if self.reference_ready is not None and not self.reference_ready.is_set():
            return
        now = datetime.now(UTC)
        for view in self.lifecycle.active_views():
            for missed in missed_deadlines(view, now, self.lifecycle.dues(view)):
                await self._emit_notice(view, missed, EventType.OVERDUE, missed.source_id)
                for party in view.recipients:
                    OVERDUE.labels(party).inc()
                await self._emit_notice(
                    view, missed, EventType.ESCALATED, f"{missed.source_id}/escalation"
                )
    async def _emit_notice(
        self, view: OrderView, missed: Missed, kind: EventType, source_id: str
    ) -> None:
        notice = OrderEvent.model_validate(
            {
                "source_party": "hub",
                "source_id": source_id,
                "occurred_at": datetime.now(UTC),
                "order_id": view.order_id,
                "event_type": kind,
                "actor_party": "hub",
                "reason": f"{missed.which} deadline {missed.due.isoformat()} missed: "
                f"{missed.reason_en} / {missed.reason_zh}",
            }
        )
        value = await self.serde.encode("order-event", notice)
        await self.out.send(
            self.events_topic, view.order_id.encode(), value,
            HubHeaders(kind="order-event").to_kafka(),
        )

    # ------------------------------------------------------------- ownership

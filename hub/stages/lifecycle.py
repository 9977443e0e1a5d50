"""The lifecycle stage: orders and their events, the sole owner of the ``orders`` table
(docs/design.md §4).

``enf.order.v1`` and ``enf.order-event.v1`` are keyed by ``order_id`` and co-partitioned,
so the worker owning partition N keeps those orders' views in its share of the
``orders`` table (rebuilt from the table's changelog after a restart or rebalance).

- An order opens a view and goes to its recipients' inboxes (and the procuratorate's,
  for a criminal referral). A whistle without recipients is routed by the matter
  catalogue to the department that owns the matter.
- An event is applied by `apply_event`; applied, it goes to the inboxes of everyone on
  the order (justice too for escalations); a second return makes the hub emit an
  ESCALATED event for the justice bureau to rule.
- Every applied order and event credits the two-way assessment counters of the parties
  concerned (`hub.dispatch._assessment`), exactly once even across a crash: the credits
  are part of the order's view, one table value written once per record, so the view
  and its counts survive together, and a record processed again after a crash finds
  itself applied and counts nothing, and its outputs are emitted again with the same
  ids and keys.
- An event that arrives before its order (the topics are read independently) is parked
  in a table and applied when the order comes; after an hour it goes to the DLQ.
- What cannot be applied (undecodable, unknown order, out of order, wrong party) goes to
  the DLQ with the original bytes and ``hub.error.*`` headers.

The stage is also the worker's `hub.dispatch.OrderBook`: what the order resources, the
deadline sweep and the order metrics read.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import faust
from yarl import URL

from hub.dispatch import (
    JUSTICE,
    Applied,
    CreditIndex,
    Deadlines,
    Dues,
    Duplicate,
    OrderIndex,
    OrderView,
    PartySla,
    Rejection,
    apply_event,
    changes_of,
    credit,
    open_order,
    opened,
    view_from_dict,
    view_to_dict,
)
from hub.records import KINDS, DispatchOrder, EventType, OrderEvent
from hub.reference import Reference
from hub.serde import AvroSerde
from hub.stages._base import Out, Park, Read, StageBase, State, Step
from hub.stream import Stage, Table
from hub.wire import (
    CONTROL_HEADER,
    Emitter,
    HubHeaders,
    header_of,
    inbox_topic,
    partition_for,
)

log = logging.getLogger(__name__)

PARK_SECONDS = 3600.0
PARK_SWEEP_SECONDS = 60.0
SWEEP = b"sweep-parked"
PARK_LIMIT = 100  # events parked per unknown order before the rest go to the DLQ
ASSESSMENT_PREFIX = "~assessment|"  # counters an earlier hub kept apart (still read, never written)


@dataclass(frozen=True)
class _Parked:
    """A message kept in a table until its order arrives (JSON-safe form)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]

    @staticmethod
    def dump(message: Any, parked_at: float) -> dict[str, Any]:
        return {
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "key": base64.b64encode(message.key).decode() if message.key is not None else None,
            "value": base64.b64encode(message.value).decode(),
            "headers": [
                [k, base64.b64encode(bytes(v) if v is not None else b"").decode()]
                for k, v in message.headers or []
            ],
            "parked_at": parked_at,
        }

    @staticmethod
    def load(data: dict[str, Any]) -> _Parked:
        return _Parked(
            topic=data["topic"],
            partition=int(data["partition"]),
            offset=int(data["offset"]),
            key=base64.b64decode(data["key"]) if data["key"] is not None else None,
            value=base64.b64decode(data["value"]),
            headers=[(k, base64.b64decode(v)) for k, v in data["headers"]],
        )


@dataclass(frozen=True)
class Sweep:
    """A control record on the events topic: sweep the parked events of order_id."""

    order_id: str


@dataclass(frozen=True)
class World:
    """What the lifecycle core knows beyond its tables."""

    inboxes: Mapping[str, str]  # party -> its inbox topic
    reference: Reference
    dues: Callable[[OrderView], Dues]
    now: datetime  # the batch's clock: parking times, escalations
    park_seconds: float
    behind: Callable[[int], bool]  # a partition of the orders topic not read to its end


Lifecycled = DispatchOrder | OrderEvent | Sweep


def lifecycle(
    reads: Sequence[Read[Lifecycled]],
    orders: State,
    parked: State,
    waiting: Mapping[str, list[Read[OrderEvent]]],
    world: World,
) -> Step:
    """The core: orders open views and reach their recipients, events are applied and
    reach everyone on the order, a second return escalates, events ahead of their order
    wait in parked (waiting: those parked before this batch, decoded, by order id) and
    are applied when it comes, or parked in the DLQ once they waited too long."""
    core = _Core(orders, parked, dict(waiting), world)
    for read in reads:
        if isinstance(read.record, Sweep):
            core.sweep(read.record.order_id)
        elif isinstance(read.record, DispatchOrder):
            core.order(read.message, read.record)
        else:
            core.event(read.message, read.record)
    return core.step


class _Core:
    """One batch's work (`lifecycle`)."""

    def __init__(
        self,
        orders: State,
        parked: State,
        waiting: dict[str, list[Read[OrderEvent]]],
        world: World,
    ) -> None:
        self.orders = orders
        self.parked = parked
        self.waiting = waiting
        self.world = world
        self.step = Step()

    def order(self, message: Any, order: DispatchOrder) -> None:
        key = str(order.order_id)
        view = open_order(order)
        if not view.recipients:
            matter = self.world.reference.matters.get(order.matter_code)
            if matter is None:
                self.step.parked.append(Park(
                    message,
                    "route",
                    "UnroutableOrder",
                    f"whistle {key} names no recipients and matter {order.matter_code} is not "
                    "in the matter catalogue; name the recipients or fix the matter code",
                ))
                return
            view = OrderView(**{**view.__dict__, "recipients": (matter.department,)})
        unknown = [party for party in view.parties if party not in self.world.inboxes]
        if unknown:
            self.step.parked.append(Park(
                message, "route", "UnknownParty",
                f"order {key} names parties without an inbox: {unknown}",
            ))
            return
        stored = self.orders.get(key)
        if stored is not None and _changed(stored.get("order"), order):
            self.step.parked.append(Park(
                message, "lifecycle", "order.changed",
                f"order {key} was received before with other content; an order does not "
                "change: act on it with events, or issue a new order / 派单已接收且内容不同，"
                "派单不可修改：请以办理事件处理或另行派单",
            ))
            return
        if stored is not None:
            view = view_from_dict(stored)
        # delivered on every processing, a redelivery too (applied once: the view below),
        # as the hub applies it: with the deadline its recipients must answer by
        self.deliver_order(order, view, [p for p in view.parties if p != view.issuer], message)
        if stored is not None:
            return  # a re-sent or redelivered order: its view is there already
        self.orders[key] = {
            **view_to_dict(view),
            "assessment": credit(None, opened(view)),
            "partition": message.partition,
            "order": order.model_dump(mode="json"),
        }
        if self.parked.pop(key):
            for read in self.waiting.pop(key, []):
                self.event(read.message, read.record)

    def event(self, message: Any, event: OrderEvent) -> None:
        key = str(event.order_id)
        stored = self.orders.get(key)
        if stored is None:
            self.park(message, event, key)
            return
        view = view_from_dict(stored)
        outcome = apply_event(view, event)
        if isinstance(outcome, Duplicate):
            # applied before: deliver again (the first delivery may not have been
            # acknowledged when the worker stopped), change nothing
            again = list(view.parties)
            if event.event_type in (EventType.ESCALATED, EventType.OVERDUE):
                again.append(JUSTICE)
            self.deliver(list(dict.fromkeys(again)), message, "order-event")
            return
        if isinstance(outcome, Rejection):
            self.step.parked.append(Park(
                message, "lifecycle", outcome.rule, f"{outcome.message_en} / {outcome.message_zh}"
            ))
            return
        assert isinstance(outcome, Applied)  # noqa: S101
        changes = changes_of(view, outcome.view, event, self.world.dues(view))
        self.orders[key] = {
            **stored,  # the order itself, kept with its view
            **view_to_dict(outcome.view),
            "assessment": credit(stored.get("assessment"), changes),
            "partition": stored.get("partition", message.partition),
        }
        targets = list(dict.fromkeys([*view.parties, *outcome.view.parties]))
        if event.event_type in (EventType.ESCALATED, EventType.OVERDUE) or outcome.escalate:
            targets.append(JUSTICE)
        self.deliver(list(dict.fromkeys(targets)), message, "order-event")
        joined = [p for p in outcome.view.recipients if p not in view.parties]
        if joined and stored.get("order") is not None:  # e.g. REASSIGNED: the order itself
            order = DispatchOrder.model_validate(stored["order"])
            self.deliver_order(order, outcome.view, joined, message)
        if outcome.escalate:
            self.escalate(outcome.view, event)

    def park(self, message: Any, event: OrderEvent, key: str) -> None:
        """Keep an event until its order comes (at most PARK_LIMIT per order)."""
        parked = list(self.parked.get(key) or [])
        if len(parked) >= PARK_LIMIT:
            self.step.parked.append(Park(
                message,
                "lifecycle",
                "UnknownOrder",
                f"event {event.event_id} is for order {key}, which the hub has not seen, "
                f"and {PARK_LIMIT} events already wait for it; publish the order, then "
                "replay this event",
            ))
            return
        parked.append(_Parked.dump(message, self.world.now.timestamp()))
        self.parked[key] = parked
        self.waiting.setdefault(key, []).append(Read(message, event))

    def sweep(self, key: str) -> None:
        """Park in the DLQ the events of key that waited longer than park_seconds."""
        parked = self.parked.get(key) or []
        if parked and self.world.behind(int(parked[0]["partition"])):
            return  # the order may be among the records not read yet: keep waiting
        now = self.world.now.timestamp()
        limit = self.world.park_seconds
        expired = [p for p in parked if now - float(p["parked_at"]) >= limit]
        if not expired:
            return
        remaining = [p for p in parked if p not in expired]
        self.parked[key] = remaining or None
        if key in self.waiting:
            self.waiting[key] = self.waiting[key][len(parked) - len(remaining):]
        for entry in expired:
            self.step.parked.append(Park(
                _Parked.load(entry),
                "lifecycle",
                "UnknownOrder",
                f"the order {key} this event belongs to did not arrive within "
                f"{limit / 60:.0f} minutes; publish the order, then replay this event",
            ))

    def deliver_order(
        self, order: DispatchOrder, view: OrderView, parties: list[str], message: Any
    ) -> None:
        """The order as its recipients now hold it: its current recipients and the
        deadline the hub applies (the issuer's, or the policy's from the hub's receipt)."""
        dues = self.world.dues(view)
        applied = order.model_copy(update={
            "to_parties": list(view.recipients),
            "deadline": dues.answer or dues.acceptance or order.deadline,
        })
        headers = HubHeaders(kind="order", trace_id=order.trace_id)
        for party in parties:
            inbox = self.world.inboxes.get(party)
            if inbox is not None:
                self.step.out.append(Out(inbox, message.key, headers, record=applied))
        if parties:
            self.step.note(order.trace_id, f"routed order {view.order_id} to {parties}")

    def deliver(self, parties: list[str], message: Any, kind: str) -> None:
        trace = HubHeaders.from_kafka(message.headers).trace_id
        headers = HubHeaders(kind=kind, trace_id=trace or None)
        for party in parties:
            inbox = self.world.inboxes.get(party)
            if inbox is not None:
                self.step.out.append(Out(inbox, message.key, headers, value=message.value))
        if parties:
            order = (message.key or b"").decode()
            what = f"order {order}" if kind == "order" else f"{kind} of order {order}"
            self.step.note(trace, f"routed {what} to {parties}")

    def escalate(self, view: OrderView, cause: OrderEvent) -> None:
        """ESCALATED for the justice bureau after the second return (审定)."""
        escalation = OrderEvent.model_validate(
            {
                "source_party": "hub",
                "source_id": f"escalation/{view.order_id}/return-{view.returns}",
                "occurred_at": self.world.now,
                "trace_id": cause.trace_id,
                "order_id": view.order_id,
                "event_type": EventType.ESCALATED,
                "actor_party": "hub",
                "reason": f"order returned {view.returns} times; the justice bureau rules "
                f"who handles it / 派单已被退回{view.returns}次，请司法局审定承办单位",
            }
        )
        self.step.out.append(Out(
            KINDS["order-event"].topic, view.order_id.encode(),
            HubHeaders(kind="order-event"), record=escalation,
        ))


_NOT_CONTENT = ("received_at", "trace_id")  # the same order, received again


def _changed(stored: dict[str, Any] | None, order: DispatchOrder) -> bool:
    """Whether order says something else than the order stored with its view (views
    kept before the hub stored orders cannot tell: not changed)."""
    if stored is None:
        return False
    now = order.model_dump(mode="json", exclude=set(_NOT_CONTENT))
    return {k: v for k, v in stored.items() if k not in _NOT_CONTENT} != now


def _order_credits(key: str, value: Any) -> dict[str, dict[str, Any]]:
    """What one value of the orders table credits (``party|YYYY-MM`` → counters): an
    order's own credits, or the counters an earlier hub kept apart under its key."""
    if key.startswith(ASSESSMENT_PREFIX):
        party, month, _ = key[len(ASSESSMENT_PREFIX) :].rsplit("|", 2)
        return {f"{party}|{month}": value}
    credits: dict[str, dict[str, Any]] = value.get("assessment") or {}
    return credits


class Ownership(Protocol):
    """Which partitions this worker owns and where the others are (`hub.stream.Pipeline`)."""

    def owned(self, topic: str) -> set[int]: ...

    def owner(self, topic: str, partition: int) -> str | None: ...

    def behind(self, topic: str, partition: int) -> bool: ...

    def in_flight(self, topic: str, partition: int) -> bool: ...

    async def in_flight_now(self, topic: str, partition: int) -> bool: ...

    async def applied_to_now(self, topic: str, partition: int, seconds: float) -> bool: ...

    def urls(self) -> list[str]: ...


class Lifecycle(StageBase):
    """Orders and events: the agent around `lifecycle`, and the worker's order book."""

    agent = "dispatch"

    def __init__(
        self,
        app: faust.App,
        out: Emitter,
        ownership: Ownership,
        serde: AvroSerde,
        reference: Callable[[], Reference],
        partitions: int,
        deadlines: Deadlines,
        reference_ready: asyncio.Event | None = None,
        record_limit: int = 1024 * 1024,
        park_seconds: float = PARK_SECONDS,
    ) -> None:
        """app hosts the parked-events sweep; ownership says which orders are here."""
        super().__init__(out, serde, reference, reference_ready, record_limit)
        self.ownership = ownership
        self.deadlines = deadlines
        self.partitions = partitions
        self.park_seconds = park_seconds
        self.orders_topic = KINDS["order"].topic
        self.events_topic = KINDS["order-event"].topic
        self.inboxes = {
            party.id: inbox_topic(party.id) for party in reference().parties.with_inbox()
        }
        app_id = app.conf.id
        # order_id -> view (view_to_dict) + "assessment" (its credits) + "partition".
        self.table = Table("orders", app_id, partitions)
        # Events that arrived before their order (the two topics are read independently):
        # order_id -> [{"value": b64, "key": b64, "headers": [...], "topic", "partition",
        # "offset", "parked_at"}]. Applied when the order arrives; DLQ'd after PARK_SECONDS.
        self.parked = Table("parked-events", app_id, partitions)
        # what the book's readers count, kept as the orders change (never a scan)
        self.credits = CreditIndex(_order_credits)
        self.index = OrderIndex(self.dues, lambda key: key.startswith(ASSESSMENT_PREFIX))
        self._indexed_with = reference()
        self.table.watch(self.credits)
        self.table.watch(self.index)
        app.timer(min(PARK_SWEEP_SECONDS, max(1.0, park_seconds / 2)))(self._sweep_parked)

    def stages(self) -> list[Stage]:
        tables = (self.table, self.parked)
        return [
            Stage("dispatch-orders", (self.orders_topic,), self.guarded(self.handle_order),
                  tables),
            Stage("dispatch-events", (self.events_topic,), self.guarded(self.handle_event),
                  tables),
        ]

    # ---------------------------------------------------------------- the agent

    async def handle_order(self, messages: Sequence[Any]) -> None:
        step = Step()
        reads = await self.decoded("order", messages, step, self.catalogue())
        await self._run(reads, step)

    async def handle_event(self, messages: Sequence[Any]) -> None:
        """Apply a run of events (a control record among them sweeps the parked events
        of its order)."""
        step = Step()
        reads: list[Read[Lifecycled]] = []
        for message in messages:
            if header_of(message, CONTROL_HEADER) == SWEEP:
                reads.append(Read(message, Sweep(message.key.decode())))
            else:
                reads += await self.decoded("order-event", [message], step)
        await self._run(reads, step)

    async def _run(self, reads: list[Read[Lifecycled]], refused: Step) -> None:
        """Decode the events waiting for the batch's orders, run the core, apply (with
        the records refused while decoding parked)."""
        waiting: dict[str, list[Read[OrderEvent]]] = {}
        for read in reads:
            if isinstance(read.record, DispatchOrder):
                key = str(read.record.order_id)
                for entry in self.parked.get(key) or []:
                    message = _Parked.load(entry)
                    event = await self.serde.decode("order-event", message.value)
                    assert isinstance(event, OrderEvent)  # noqa: S101
                    waiting.setdefault(key, []).append(Read(message, event))
        orders, parked = State(self.table), State(self.parked)
        world = World(
            self.inboxes, self.reference(), self.dues, datetime.now(UTC), self.park_seconds,
            lambda partition: self.ownership.behind(self.orders_topic, partition),
        )
        step = lifecycle(reads, orders, parked, waiting, world)
        step.parked[:0] = refused.parked
        await self.apply(step, (self.table, orders), (self.parked, parked))

    async def _sweep_parked(self) -> None:
        """Ask the owning stream to DLQ events whose order has not come within PARK_SECONDS.

        Tables change only inside stream processing, so the timer sends a control record
        (no value, header ``hub.control: sweep-parked``) to the order's partition of the
        events topic; `handle_event` does the sweep when it reads it.
        """
        now = time.time()
        for key, parked in list(self.parked.items()):
            if parked and now - float(parked[0]["parked_at"]) >= self.park_seconds:
                await self.out.send(
                    self.events_topic,
                    str(key).encode(),
                    b"",
                    [(CONTROL_HEADER, SWEEP)],
                    int(parked[0]["partition"]),
                )

    # ------------------------------------------------------------- the book

    def partition_of(self, order_id: str) -> int:
        """The partition of the order topics an order id is keyed to (Kafka's murmur2)."""
        return partition_for(order_id, self.partitions)

    def active_partitions(self) -> set[int]:
        """The order partitions this worker actively owns (standby copies excluded)."""
        return self.ownership.owned(self.orders_topic)

    def owns(self, order_id: str) -> bool:
        return self.partition_of(order_id) in self.ownership.owned(self.orders_topic)

    async def settled(self, order_id: str) -> bool:
        """Whether this worker has applied everything written to order_id's partition of
        the order and event topics, the broker asked (`hub.dispatch.OrderBook`)."""
        partition = self.partition_of(order_id)
        for topic in (self.orders_topic, self.events_topic):
            if await self.ownership.in_flight_now(topic, partition):
                return False
        return True

    def stored(self, order_id: str) -> dict[str, Any] | None:
        """An order's stored view, None when this worker holds no such order."""
        stored = self.table.get(order_id)
        return dict(stored) if stored is not None else None

    def dues(self, view: OrderView) -> Dues:
        """The deadlines of an order (policy, calendar and its matter)."""
        return self.deadlines.dues(view, self.reference().matters.get(view.matter_code))

    def sla(self, now: datetime) -> dict[str, PartySla]:
        """Per recipient party, the SLA of the open orders of the partitions this worker
        actively owns (`hub.dispatch.OrderBook`)."""
        return self._index().sla(now, self.active_partitions())

    def due(self, now: datetime) -> list[OrderView]:
        """The open orders owned here with a deadline passed and not reported yet."""
        return self._index().due(now, self.active_partitions())

    def _index(self) -> OrderIndex:
        """The order index, its deadlines computed again if the reference data (the
        matters' sign-off hours) was replaced since."""
        reference = self.reference()
        if reference is not self._indexed_with:
            self._indexed_with = reference
            self.table.reindex(self.index)
        return self.index

    def active_views(self) -> list[OrderView]:
        """The orders of the partitions this worker actively owns (standby copies left out:
        their active owner answers for them)."""
        return [
            view_from_dict(stored)
            for key, stored in list(self.table.items())
            if stored is not None
            and not str(key).startswith(ASSESSMENT_PREFIX)
            and self.owns(str(key))
        ]

    def assessment_shares(self, period: str) -> dict[str, list[dict[str, Any]]]:
        """This worker's actively owned assessment counters of period, per party: one share
        per partition, the sum of its orders' credits (kept as they change)."""
        return self.credits.shares(period, self.active_partitions())

    # ---------------------------------------------------------------- routing

    def owner_of(self, order_id: str) -> URL | None:
        """The URL of the worker whose partitions hold order_id (from the assignment)."""
        url = self.ownership.owner(self.orders_topic, self.partition_of(order_id))
        return URL(url) if url else None

    def worker_urls(self) -> list[URL]:
        """The URLs of every worker currently in the group."""
        return [URL(url) for url in self.ownership.urls()]

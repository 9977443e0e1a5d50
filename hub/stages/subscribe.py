"""Subscriptions to shared datasets (rule 四.四; docs/design.md §4): the stage that owns
them and delivers what they subscribed to.

``data.subscription.v1`` has one partition, so one worker applies every subscription's
steps in order (`subscribe`, over `hub.shared.advance`) into the ``subscriptions`` table:
a request reaches the dataset owner's inbox, a decision the subscriber's, a revocation or
an expiry both. A step that does not fit is parked in the DLQ with its rule (the HTTP
side checked it first against the same table, so this happens only when two actions
cross).

Delivery runs through the same topic, so it is as durable as the rest of the pipeline: the
pump (`SubscriptionPump`, a timer on the owner) writes a DELIVER step for an active
subscription whose dataset topic has records past its cursor; the stage, handling it,
reads up to `CHUNK` records from the cursor (`DatasetReader`), and `deliver` turns them
into `SharedChange` records (filtered, masked as approved; deletions too) for the
subscriber's inbox and ``data.change.v1``, one audit event for the chunk, the cursor
moved past them in the table, and the next DELIVER when the topic has more. The outputs
are acknowledged before the cursor is written (`hub.stream`): a crash delivers the chunk
again, with the same ids, and never skips one. The first deliveries from offset 0 of
the compacted topic are the snapshot; the later ones the changes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from yarl import URL

from hub.errors import HubError, KafkaUnavailableError
from hub.records import (
    KINDS,
    AuditEvent,
    AuditResult,
    SharedChange,
    SubscriptionAction,
    SubscriptionEvent,
)
from hub.reference import Reference
from hub.serde import AvroSerde
from hub.settings import HubSettings
from hub.shared import (
    DataCatalogue,
    Refusal,
    Subscription,
    SubscriptionState,
    advance,
    due_to_expire,
)
from hub.stages._base import Out, Park, Read, StageBase, State, Step
from hub.stages.lifecycle import Ownership
from hub.stream import Stage, Table
from hub.wire import Emitter, HubHeaders, inbox_topic, open_reader, partitions_of

log = logging.getLogger(__name__)

CHUNK = 2000  # records one DELIVER reads at most
PUMP_SECONDS = 1.0
OUTSTANDING_SECONDS = 30.0  # a DELIVER not handled by then is written again
# a look-up of an id not in the table waits this long for the steps written before it
# (the pump writes deliveries all the time: the partition is seldom idle)
SETTLE_SECONDS = 2.0


@dataclass(frozen=True)
class Change:
    """One record of a dataset's topic as read for a delivery (None: deleted)."""

    partition: int
    offset: int
    key: str
    record: dict[str, Any] | None


@dataclass(frozen=True)
class SubscriptionWorld:
    catalogue: DataCatalogue
    reference: Reference
    inboxes: Mapping[str, str]  # party -> its inbox topic


def _event(subscription: Subscription, action: SubscriptionAction, source_id: str,
           now: datetime, **fields: Any) -> SubscriptionEvent:
    """A step the hub takes itself (EXPIRED, DELIVER)."""
    return SubscriptionEvent.model_validate({
        "source_party": "hub", "source_id": source_id, "occurred_at": now,
        "subscription_id": subscription.subscription_id, "action": action,
        "actor_party": "hub", "dataset": subscription.dataset,
        "subscriber": subscription.subscriber, **fields,
    })


def _to(event: SubscriptionEvent, subscription: Subscription) -> list[str]:
    """Whose inboxes a step reaches."""
    if event.action is SubscriptionAction.REQUESTED:
        return [subscription.approver]
    if event.action in (SubscriptionAction.APPROVED, SubscriptionAction.REFUSED):
        return [subscription.subscriber]
    return sorted(subscription.parties())  # revoked, expired: both


def subscribe(
    reads: Sequence[Read[SubscriptionEvent]], state: State, world: SubscriptionWorld
) -> Step:
    """The core: each step applied to its subscription (once by id; a step seen before
    is told to the same inboxes again), refused steps parked with their rule."""
    step = Step()
    for read in reads:
        event = read.record
        key = str(event.subscription_id)
        stored = state.get(key)
        current = None if stored is None else Subscription.model_validate(stored)
        outcome = advance(current, event, world.catalogue,
                          world.reference.parties.get(event.subscriber))
        if isinstance(outcome, Refusal):
            step.parked.append(Park(
                read.message, "subscriptions", outcome.rule,
                f"{event.action.value} of subscription {key}: {outcome.message_en}",
            ))
            continue
        subscription = current if outcome is None else outcome
        assert subscription is not None  # noqa: S101 - a duplicate has its subscription
        if outcome is not None:
            state[key] = outcome.model_dump(mode="json")
            step.note(
                event.trace_id,
                f"subscription {key} ({subscription.subscriber} → {subscription.dataset}): "
                f"{event.action.value} by {event.actor_party}, now {subscription.state.value}"
            )
        headers = HubHeaders(kind="subscription", trace_id=event.trace_id)
        for party in _to(event, subscription):
            inbox = world.inboxes.get(party)
            if inbox is not None:
                step.out.append(Out(inbox, key.encode(), headers, value=read.message.value))
    return step


def deliver(
    read: Read[SubscriptionEvent],
    state: State,
    changes: Sequence[Change],
    positions: Mapping[int, int],
    more: bool,
    world: SubscriptionWorld,
    now: datetime,
) -> Step:
    """The core of one DELIVER: changes (read from the subscription's cursor) as the
    subscriber sees them, to its inbox and ``data.change.v1``; the cursor moved to
    positions; an audit event; the next DELIVER when more is waiting."""
    step = Step()
    key = str(read.record.subscription_id)
    stored = state.get(key)
    if stored is None:
        return step
    subscription = Subscription.model_validate(stored)
    if subscription.state is not SubscriptionState.ACTIVE or subscription.access is None:
        return step  # revoked or expired since: nothing more goes out
    dataset = world.catalogue.get(subscription.dataset)
    inbox = world.inboxes.get(subscription.subscriber)
    if dataset is None or inbox is None:
        return step
    topic = dataset.topic
    headers = HubHeaders(kind="shared-change", trace_id=read.record.trace_id)
    sent: set[str] = set()
    count = 0
    for change in changes:
        if change.record is not None and not subscription.wants(change.record):
            continue
        seen = None if change.record is None else dataset.view(change.record, subscription.access)
        if seen is not None:
            sent.update(seen)
        record = SharedChange.model_validate({
            "source_party": "hub",
            "source_id": f"{key}/{topic}/{change.partition}/{change.offset}",
            "occurred_at": now,
            "subscription_id": key,
            "dataset": dataset.id,
            "key": change.key,
            "deleted": change.record is None,
            "data": None if seen is None else json.dumps(seen, ensure_ascii=False),
            "position": f"{topic}/{change.partition}/{change.offset}",
            "trace_id": read.record.trace_id,
        })
        for target in (inbox, KINDS["shared-change"].topic):
            step.out.append(Out(target, key.encode(), headers, record=record))
        count += 1
    if count:
        step.out.append(Out(
            KINDS["audit"].topic, subscription.subscriber.encode(),
            HubHeaders(kind="audit", trace_id=read.record.trace_id),
            record=AuditEvent.model_validate({
                "source_party": "hub",
                "source_id": f"audit/deliver/{read.record.record_id}",
                "occurred_at": now,
                "actor_party": subscription.subscriber,
                "action": f"shared.deliver {dataset.id}",
                "result": AuditResult.ACCEPTED,
                "record_kind": "shared-change",
                "subject_id": key,
                "purpose": subscription.purpose or f"subscription {key}",
                "dataset": dataset.id,
                "record_key": f"subscription {key}",
                "fields": sorted(sent),
                "returned": count,
                "trace_id": read.record.trace_id,
            }),
        ))
    moved = subscription.model_copy(deep=True)
    moved.cursor = {**moved.cursor, **{str(p): o for p, o in positions.items()}}
    moved.delivered += count
    if moved.cursor != subscription.cursor or count:
        state[key] = moved.model_dump(mode="json")
    if more:
        follow = _event(moved, SubscriptionAction.DELIVER,
                        f"{key}/deliver/{uuid.uuid4().hex}", now)
        step.out.append(Out(
            KINDS["subscription"].topic, key.encode(), HubHeaders(kind="subscription"),
            record=follow,
        ))
    return step


def pump_steps(
    subscriptions: Sequence[Subscription],
    ends: Mapping[str, Mapping[int, int]],
    outstanding: Callable[[str], bool],
    topic_of: Callable[[str], str | None],
    now: datetime,
) -> list[SubscriptionEvent]:
    """The steps the pump takes now: EXPIRED for an active subscription past its end,
    DELIVER for one whose dataset topic (its end offsets in ends) has records past its
    cursor and no DELIVER under way."""
    steps = []
    for subscription in subscriptions:
        key = subscription.subscription_id
        if due_to_expire(subscription, now):
            steps.append(_event(subscription, SubscriptionAction.EXPIRED, f"{key}/expired", now))
            continue
        if subscription.state is not SubscriptionState.ACTIVE or outstanding(key):
            continue
        topic = topic_of(subscription.dataset)
        if topic is None:
            continue
        behind = any(
            end > subscription.cursor.get(str(partition), 0)
            for partition, end in ends.get(topic, {}).items()
        )
        if behind:
            steps.append(_event(subscription, SubscriptionAction.DELIVER,
                                f"{key}/deliver/{uuid.uuid4().hex}", now))
    return steps


class DatasetReader:
    """Reads a dataset topic from a cursor: one consumer without a group, kept open."""

    def __init__(self, settings: HubSettings, serde: AvroSerde) -> None:
        self.settings = settings
        self.serde = serde
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()
        self._partitions: dict[str, list[int]] = {}

    async def _open(self, topic: str) -> AIOKafkaConsumer:
        if self._consumer is None:
            self._consumer, _ = await open_reader(self.settings, topic,
                                                  auto_offset_reset="earliest")
        return self._consumer

    async def _ids(self, consumer: AIOKafkaConsumer, topic: str) -> list[int]:
        if topic not in self._partitions:
            ids = await partitions_of(consumer, topic)
            if not ids:
                raise KafkaUnavailableError(
                    f"topic {topic} does not exist; run `hub topics apply`"
                )
            self._partitions[topic] = ids
        return self._partitions[topic]

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def ends(self, topics: Sequence[str]) -> dict[str, dict[int, int]]:
        """The end offset of every partition of topics."""
        if not topics:
            return {}
        async with self._lock:
            consumer = await self._open(topics[0])
            try:
                partitions = [
                    TopicPartition(topic, p)
                    for topic in topics
                    for p in await self._ids(consumer, topic)
                ]
                found = await consumer.end_offsets(partitions)
            except KafkaError as exc:
                raise KafkaUnavailableError(f"cannot read end offsets: {exc}") from None
        ends: dict[str, dict[int, int]] = {}
        for tp, end in found.items():
            ends.setdefault(tp.topic, {})[tp.partition] = end
        return ends

    async def read(
        self, topic: str, kind: str, cursor: Mapping[str, int], limit: int = CHUNK
    ) -> tuple[list[Change], dict[int, int], bool]:
        """Up to limit records of topic from cursor (partition → next offset; absent: the
        start), the positions after them, and whether the topic has more."""
        async with self._lock:
            try:
                return await self._read(topic, kind, cursor, limit)
            except KafkaError as exc:
                raise KafkaUnavailableError(f"cannot read {topic}: {exc}") from None

    async def _read(
        self, topic: str, kind: str, cursor: Mapping[str, int], limit: int
    ) -> tuple[list[Change], dict[int, int], bool]:
        consumer = await self._open(topic)
        partitions = [TopicPartition(topic, p) for p in await self._ids(consumer, topic)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        positions: dict[int, int] = {}
        for tp in partitions:
            at = max(cursor.get(str(tp.partition), 0), starts[tp])
            positions[tp.partition] = min(at, ends[tp])
            consumer.seek(tp, positions[tp.partition])
        waiting = [tp for tp in partitions if positions[tp.partition] < ends[tp]]
        if waiting:
            consumer.pause(*(tp for tp in partitions if tp not in waiting))
        changes: list[Change] = []
        deadline = time.monotonic() + 10.0
        while waiting and len(changes) < limit and time.monotonic() < deadline:
            batches = await consumer.getmany(*waiting, timeout_ms=500,
                                             max_records=limit - len(changes))
            for tp, messages in batches.items():
                for message in messages:
                    if message.offset >= ends[tp]:
                        continue
                    changes.append(await self._change(tp.partition, message, kind))
                    positions[tp.partition] = message.offset + 1
            waiting = [tp for tp in waiting if positions[tp.partition] < ends[tp]]
        consumer.resume(*partitions)
        more = any(positions[tp.partition] < ends[tp] for tp in partitions)
        return changes, positions, more

    async def _change(self, partition: int, message: Any, kind: str) -> Change:
        key = message.key.decode() if message.key is not None else ""
        if message.value is None:
            return Change(partition, message.offset, key, None)
        try:
            record = await self.serde.decode(kind, message.value)
        except HubError as exc:
            if exc.retriable:
                raise
            log.warning("subscriptions: a %s record at %s/%d is unreadable, delivered as "
                        "deleted: %s", kind, partition, message.offset, exc)
            return Change(partition, message.offset, key, None)
        return Change(partition, message.offset, key, record.model_dump(mode="json"))


class Subscriptions(StageBase):
    """The agent around `subscribe` and `deliver`, its table and its pump."""

    agent = "subscriptions"

    def __init__(
        self,
        out: Emitter,
        serde: AvroSerde,
        reference: Callable[[], Reference],
        catalogue: DataCatalogue,
        reader: DatasetReader,
        app_id: str,
        ownership: Ownership,
        reference_ready: asyncio.Event | None = None,
        record_limit: int = 1024 * 1024,
    ) -> None:
        super().__init__(out, serde, reference, reference_ready, record_limit)
        self.datasets = catalogue
        self.reader = reader
        self.topic = KINDS["subscription"].topic
        self.table = Table("subscriptions", app_id, 1)
        self.ownership = ownership
        self.outstanding: dict[str, float] = {}  # subscription → when its DELIVER was written

    def world(self) -> SubscriptionWorld:
        reference = self.reference()
        return SubscriptionWorld(
            self.datasets, reference,
            {party.id: inbox_topic(party.id) for party in reference.parties.with_inbox()},
        )

    def stage(self) -> Stage:
        return Stage("subscriptions", (self.topic,), self.guarded(self.handle), (self.table,))

    # --------------------------------------------------------- what HTTP reads

    def stored(self, subscription_id: str) -> Subscription | None:
        stored = self.table.get(subscription_id)
        return None if stored is None else Subscription.model_validate(stored)

    def all(self) -> list[Subscription]:
        return [Subscription.model_validate(value) for _, value in self.table.items()]

    def here(self) -> bool:
        """Whether this worker holds the subscriptions (their one partition)."""
        return 0 in self.table.held()

    async def settled(self) -> bool:
        """Whether this worker has applied every step written to the subscriptions before
        now (the broker asked), after waiting up to SETTLE_SECONDS for them."""
        return await self.ownership.applied_to_now(self.topic, 0, SETTLE_SECONDS)

    def owner_of(self, _: str) -> URL | None:
        """The URL of the worker holding the subscriptions (every one: one partition)."""
        url = self.ownership.owner(self.topic, 0)
        return URL(url) if url else None

    def worker_urls(self) -> list[URL]:
        return [URL(url) for url in self.ownership.urls()]

    # --------------------------------------------------------------- the agent

    async def handle(self, messages: Sequence[Any]) -> None:
        """A run of subscription steps, one after another (a delivery reads its dataset
        first); the later ones see the earlier ones' changes."""
        for message in messages:
            refused = Step()
            state = State(self.table)
            for read in await self.decoded("subscription", [message], refused):
                if read.record.action is SubscriptionAction.DELIVER:
                    await self._deliver(read, state)
                else:
                    step = subscribe([read], state, self.world())
                    await self.apply(step, (self.table, state))
            await self.apply(refused)

    async def _deliver(self, read: Read[SubscriptionEvent], state: State) -> None:
        key = str(read.record.subscription_id)
        self.outstanding.pop(key, None)
        stored = state.get(key)
        subscription = None if stored is None else Subscription.model_validate(stored)
        dataset = None if subscription is None else self.datasets.get(subscription.dataset)
        if subscription is None or dataset is None or (
            subscription.state is not SubscriptionState.ACTIVE
        ):
            return
        changes, positions, more = await self.reader.read(
            dataset.topic, dataset.kind, subscription.cursor
        )
        step = deliver(read, state, changes, positions, more, self.world(), datetime.now(UTC))
        if more:
            self.outstanding[key] = time.monotonic()
        await self.apply(step, (self.table, state))

    # ---------------------------------------------------------------- the pump

    async def pump(self) -> None:
        """One round of the pump (module docstring), on the worker holding the table."""
        if not self.here():
            return
        if self.reference_ready is not None and not self.reference_ready.is_set():
            return
        subscriptions = self.all()
        active = [s for s in subscriptions if s.state is SubscriptionState.ACTIVE]
        if not active:
            return
        topics = sorted({
            d.topic for d in (self.datasets.get(s.dataset) for s in active) if d is not None
        })
        ends = await self.reader.ends(topics)
        horizon = time.monotonic() - OUTSTANDING_SECONDS

        def outstanding(key: str) -> bool:
            return self.outstanding.get(key, 0.0) > horizon

        def topic_of(dataset_id: str) -> str | None:
            dataset = self.datasets.get(dataset_id)
            return None if dataset is None else dataset.topic

        for event in pump_steps(active, ends, outstanding, topic_of, datetime.now(UTC)):
            key = str(event.subscription_id)
            value = await self.serde.encode("subscription", event)
            await self.out.send(self.topic, key.encode(),
                                value, HubHeaders(kind="subscription").to_kafka())
            if event.action is SubscriptionAction.DELIVER:
                self.outstanding[key] = time.monotonic()


class SubscriptionPump:
    """The timer that runs `Subscriptions.pump`; Kafka away: it tries again next round."""

    def __init__(self, app: faust.App, stage: Subscriptions,
                 every_seconds: float = PUMP_SECONDS) -> None:
        self.stage = stage
        app.timer(every_seconds)(self._pump)

    async def _pump(self) -> None:
        try:
            await self.stage.pump()
        except (HubError, KafkaError, TimeoutError) as exc:
            log.warning("subscriptions pump: %s; trying again next round", exc)

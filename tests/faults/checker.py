"""The one checker every fault case uses (like the validators of Kafka's system tests).

From the records the hub accepted (`Sent`, built from its 202 answers) it reads, on the
broker itself, every addressed inbox, the orders changelog and the DLQ, and reports:

- lost: deliveries owed (an order to its recipient, each event to both parties, each
  clue's ASSIGNMENT to its street) that no inbox holds;
- duplicates: extra copies of a delivery (allowed: inboxes are at-least-once with
  stable ids), counted and reported;
- order violations: an inbox where an order's events (first copies) are not in the
  order they were accepted, or come before the order;
- wrong views: orders whose view in the dispatch engine's changelog is not ANSWERED
  with the three events applied once;
- unexpected DLQ entries about the run's records; latency from the 202 to the first
  copy in an inbox (broker timestamps).
"""

from __future__ import annotations

import asyncio
import json
import statistics
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from hub.registry import RegistryClient
from hub.serde import AvroSerde
from hub.wire import DLQ_TOPIC
from tests.faults.harness import DEPARTMENT, POISON, STORY, Sent


@dataclass
class Result:
    case: str
    accepted: int = 0
    owed: int = 0
    delivered: int = 0
    lost: int = 0
    duplicates: int = 0
    order_violations: int = 0
    wrong_views: int = 0
    unexpected_dlq: int = 0
    refused: int = 0
    answers_5xx: int = 0
    retry_after_missing: int = 0
    p50_s: float = 0.0
    p99_s: float = 0.0
    max_s: float = 0.0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.order_violations == 0
            and self.wrong_views == 0
            and self.unexpected_dlq == 0
            and self.refused == 0
            and self.extra.get("problems", 0) == 0
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


async def _read_topic(bootstrap: str, topic: str) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if partitions is None:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        records: list[Any] = []
        for tp in tps:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=2000)
                records += [r for r in batch.get(tp, []) if r.offset < ends[tp]]
        return records
    finally:
        await consumer.stop()


async def check_async(
    case: str, bootstrap: str, registry_url: str, app_id: str, sent: Sent
) -> Result:
    result = Result(case=case, accepted=sent.accepted)
    result.refused = len(sent.refused)
    result.answers_5xx = sum(sent.answers_5xx.values())
    result.retry_after_missing = sent.retry_after_missing
    if sent.refused:
        result.notes += [f"refused: {r}" for r in sent.refused[:5]]
    owed = sent.expected()
    result.owed = len(owed)
    parties = sorted({party for party, _ in owed} | {DEPARTMENT})
    copies: Counter[tuple[str, str]] = Counter()
    first_at: dict[str, float] = {}
    sequences: dict[tuple[str, str], list[str]] = defaultdict(list)
    ours = set(sent.orders) | set(sent.events)
    async with RegistryClient(registry_url) as client:
        serde = AvroSerde(client)
        for party in parties:
            for record in await _read_topic(bootstrap, f"out.{party}.v1"):
                kind = dict(record.headers or []).get("hub.kind", b"").decode()
                datum = await serde.decode_any(record.value)
                if kind == "order":
                    order_id = str(datum["order_id"])
                    subject = datum.get("subject_id")
                    if subject and str(subject) in sent.clues:
                        ident = f"clue:{subject}"
                        accepted = str(subject)
                    else:
                        ident = order_id
                        accepted = order_id
                    sequence_key = (party, order_id)
                elif kind == "order-event":
                    ident = str(datum["event_id"])
                    accepted = ident
                    sequence_key = (party, str(datum["order_id"]))
                else:
                    continue
                if ident not in ours and not ident.startswith("clue:"):
                    continue
                if (party, ident) not in owed:
                    continue
                copies[(party, ident)] += 1
                if copies[(party, ident)] == 1:
                    sequences[sequence_key].append(ident)
                    at = sent.accepted_at.get(accepted)
                    if at is not None:
                        first_at[f"{party}/{ident}"] = record.timestamp / 1000 - at
    delivered = set(copies)
    result.delivered = len(delivered)
    missing = owed - delivered
    result.lost = len(missing)
    if missing:
        result.notes.append(f"lost, e.g. {sorted(missing)[:5]}")
    result.duplicates = sum(n - 1 for n in copies.values())
    for order_id, order in sent.orders.items():
        wanted = [order_id, *order["events"]]
        for party in (order["street"], DEPARTMENT):
            expect = [i for i in wanted if (party, i) in owed]
            seen = [i for i in sequences.get((party, order_id), []) if i in expect]
            if seen != expect[: len(seen)] or (len(seen) == len(expect) and seen != expect):
                result.order_violations += 1
                if result.order_violations <= 3:
                    result.notes.append(f"order {order_id} at {party}: {seen} != {expect}")
    latencies = sorted(max(0.0, v) for v in first_at.values())
    if latencies:
        result.p50_s = round(statistics.median(latencies), 3)
        result.p99_s = round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 3)
        result.max_s = round(latencies[-1], 3)
    # views, from the dispatch engine's changelog (what `hub orders show` reads)
    latest: dict[bytes, bytes | None] = {}
    for record in await _read_topic(bootstrap, f"{app_id}-orders-changelog"):
        latest[record.key] = record.value
    views = {}
    for value in latest.values():
        if value:
            view = json.loads(value)
            views[str(view.get("order_id"))] = view
    for order_id, order in sent.orders.items():
        view = views.get(order_id)
        applied = [h["event_id"] for h in (view or {}).get("history", [])]
        want_state = {0: "ISSUED", 1: "SIGNED", 2: "IN_PROGRESS", 3: "ANSWERED"}[
            min(len(order["events"]), len(STORY))
        ]
        if view is None or view.get("state") != want_state or applied != order["events"]:
            result.wrong_views += 1
            if result.wrong_views <= 3:
                state = view.get("state") if view else None
                result.notes.append(f"view of {order_id}: {state} {applied}")
    # the DLQ holds nothing about the run's good records
    keys = {o.encode() for o in sent.orders}
    for record in await _read_topic(bootstrap, DLQ_TOPIC):
        if record.key in keys and not any(k == POISON for k, _ in record.headers or []):
            result.unexpected_dlq += 1
            if result.unexpected_dlq <= 3:
                reason = dict(record.headers or []).get("hub.error.class", b"").decode()
                result.notes.append(f"DLQ {record.key!r}: {reason}")
    return result


def check(case: str, bootstrap: str, registry_url: str, app_id: str, sent: Sent) -> Result:
    return asyncio.run(check_async(case, bootstrap, registry_url, app_id, sent))

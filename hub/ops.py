"""Operator tools over Kafka: the DLQ (list, show, replay), decoded records of any topic,
order lookups, and the hub's status. The CLI (``hub dlq|tail|orders|status``) is their
front end; everything here reads Kafka directly, so it works with no worker running.

Each DLQ record is replayed once. It goes back to the topic it came from (its original
key, value and headers, plus ``hub.replay.of``); once the broker has it, a ledger entry
``dlq-replay/<partition>/<offset>`` goes to the compacted state topic, and a record in
the ledger is not replayed again (``--force`` aside). So a record whose cause was fixed
arrives in its canonical topic once; one that still fails is parked anew, as a new DLQ
entry. Only a crash between a chunk's records and its ledger entries can replay a record
twice; its record id is the same both times, so the dispatch engine applies it once.
(Not a Kafka transaction: the hub's consumers read uncommitted, so it would not protect
them, and each commit marker would show as one record of lag for good.)

Personal data: payloads are shown masked (mobile numbers and citizen ids, wherever
they appear) unless the operator asks for ``--unmasked``; that, showing a DLQ record
and replaying are written to the audit topic.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import re
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from hub.dispatch import Deadlines, load_deadline_policy
from hub.dispatch._deadlines import passed_deadlines
from hub.dispatch._lifecycle import view_from_dict, view_to_dict
from hub.dispatch._metrics import order_sla as sla_of
from hub.errors import DecodeError, HubError, KafkaUnavailableError
from hub.records import KINDS, AuditEvent, AuditResult, mask_citizen_id, mask_phone
from hub.reference import Reference, load_calendar
from hub.serde import AvroSerde
from hub.settings import HubSettings
from hub.wire import (
    CONNECTOR_STATE_TOPIC,
    DLQ_TOPIC,
    SOURCE_PARTY_HEADER,
    new_producer,
    open_reader,
    partition_for,
    party_of,
    read_to_end,
    replay_target,
)

LEDGER = "dlq-replay"
REPLAY_HEADER = "hub.replay.of"
REPLAY_CHUNK = 200  # records per transaction

_MOBILE = re.compile(r"(?<!\d)(\+?86[- ]?)?(1[3-9]\d{9})(?!\d)")  # +86 kept, number masked
_CITIZEN_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_DURATION = re.compile(r"(\d+)([smhd])")


# ------------------------------------------------------------------- masking


def mask_text(text: str) -> str:
    """text with every mobile number and citizen id in it masked."""
    text = _CITIZEN_ID.sub(lambda m: mask_citizen_id(m.group()), text)
    return _MOBILE.sub(lambda m: (m.group(1) or "") + mask_phone(m.group(2)), text)


def masked(value: Any) -> Any:
    """A JSON-ready value with `mask_text` applied to every string in it."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, (datetime, date)) else str(value)


def _jsonable(value: Any) -> Any:
    """value with dates (ISO 8601), uuids and decimals as text, as JSON carries them."""
    return json.loads(json.dumps(value, default=_text, ensure_ascii=False))


async def render_value(
    serde: AvroSerde, value: bytes | None, headers: Iterable[tuple[str, bytes]]
) -> Any:
    """A record's value for people: the Avro datum (through the registry), JSON, text
    in the record's ``hub.charset``, or a hex preview of bytes that are none of these."""
    if value is None:
        return None
    if value[:1] == b"\x00" and len(value) > 5:
        try:
            return _jsonable(await serde.decode_any(value))
        except DecodeError:
            pass
    charset = dict(headers).get("hub.charset", b"utf-8").decode(errors="replace")
    try:
        text = value.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return {"bytes": len(value), "hex": value[:256].hex()}
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


# ----------------------------------------------------------------------- DLQ


def party_of_topic(topic: str) -> str | None:
    """The party a per-party topic belongs to: its raw or its inbox topic."""
    return party_of(topic, "raw") or party_of(topic, "inbox")


@dataclass(frozen=True)
class DeadLetter:
    """One record of ``hub.dlq.v1`` with what went wrong (its ``hub.error.*`` headers)."""

    partition: int
    offset: int
    timestamp: float  # seconds since the epoch, when it was parked
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    @property
    def id(self) -> str:
        return f"{self.partition}:{self.offset}"

    def header(self, name: str) -> str:
        for key, value in self.headers:
            if key == name:
                return value.decode(errors="replace")
        return ""

    @property
    def stage(self) -> str:
        return self.header("hub.error.stage")

    @property
    def reason(self) -> str:
        return self.header("hub.error.class")

    @property
    def source_topic(self) -> str:
        return self.header("hub.error.source.topic")

    @property
    def party(self) -> str:
        return self.header(SOURCE_PARTY_HEADER) or party_of_topic(self.source_topic) or ""

    def summary(self) -> dict[str, Any]:
        """Metadata only (no payload): what operators read."""
        return {
            "id": self.id,
            "parked_at": datetime.fromtimestamp(self.timestamp, UTC).isoformat(timespec="seconds"),
            "stage": self.stage,
            "reason": self.reason,
            "field": self.header("hub.error.field"),
            "party": self.party,
            "source": f"{self.source_topic}/{self.header('hub.error.source.partition')}"
            f"@{self.header('hub.error.source.offset')}",
            "connector": self.header("hub.error.connector"),
            "message": mask_text(self.header("hub.error.message")),
            "replay_of": self.header(REPLAY_HEADER) or None,
            "bytes": len(self.value),
        }


def parse_moment(text: str, now: datetime | None = None) -> datetime:
    """``30m``, ``2h``, ``1d`` ago, or an ISO date/time (Beijing time when naive)."""
    now = now or datetime.now(UTC)
    match = _DURATION.fullmatch(text.strip())
    if match:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        return now - timedelta(**{unit: int(match.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise HubError(
            f"'{text}' is not a time: give 30m, 2h, 1d (ago) or an ISO time like "
            "2026-11-26T09:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC) - timedelta(hours=8)  # Asia/Shanghai
    return moment


@dataclass(frozen=True)
class DeadLetterFilter:
    stage: str | None = None
    reason: str | None = None
    party: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    ids: frozenset[str] = frozenset()

    def matches(self, letter: DeadLetter) -> bool:
        moment = datetime.fromtimestamp(letter.timestamp, UTC)
        return (
            (not self.ids or letter.id in self.ids)
            and (self.stage is None or letter.stage == self.stage)
            and (self.reason is None or letter.reason == self.reason)
            and (self.party is None or letter.party == self.party)
            and (self.since is None or moment >= self.since)
            and (self.until is None or moment <= self.until)
        )


async def read_dead_letters(
    settings: HubSettings, where: DeadLetterFilter | None = None
) -> list[DeadLetter]:
    """The DLQ's records (that match where), oldest first per partition."""
    letters = []
    async for record in read_to_end(settings, DLQ_TOPIC):
        letter = DeadLetter(
            partition=record.partition,
            offset=record.offset,
            timestamp=record.timestamp / 1000,
            key=record.key,
            value=record.value or b"",
            headers=tuple((k, bytes(v)) for k, v in record.headers or ()),
        )
        if where is None or where.matches(letter):
            letters.append(letter)
    return sorted(letters, key=lambda letter: (letter.timestamp, letter.partition, letter.offset))


async def read_ledger(settings: HubSettings) -> dict[str, dict[str, Any]]:
    """DLQ id → its replay entry, for every record replayed so far."""
    latest: dict[str, bytes | None] = {}
    async for record in read_to_end(settings, CONNECTOR_STATE_TOPIC):
        key = (record.key or b"").decode(errors="replace")
        if key.startswith(f"{LEDGER}/"):
            latest[key] = record.value
    ledger: dict[str, dict[str, Any]] = {}
    for key, value in latest.items():
        if value is not None:
            ledger[key.removeprefix(f"{LEDGER}/").replace("/", ":")] = json.loads(value)
    return ledger


@dataclass
class ReplayOutcome:
    replayed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # replayed before (no --force)


async def replay(
    settings: HubSettings,
    letters: list[DeadLetter],
    *,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayOutcome:
    """Put letters back where they came from, each once (module docstring)."""
    done = await read_ledger(settings)
    outcome = ReplayOutcome()
    todo = []
    for letter in letters:
        if letter.id in done and not force:
            outcome.skipped.append(letter.id)
        else:
            todo.append(letter)
    if not todo:
        return outcome
    producer = new_producer(settings, client_id="hub-dlq-replay")
    try:
        await producer.start()
    except KafkaError as exc:
        raise KafkaUnavailableError(f"cannot reach Kafka: {exc}") from None
    try:
        for start in range(0, len(todo), REPLAY_CHUNK):
            chunk = todo[start : start + REPLAY_CHUNK]
            sent = []
            for letter in chunk:
                topic, headers = replay_target(list(letter.headers))
                headers = [(k, v) for k, v in headers if k != REPLAY_HEADER]
                headers.append((REPLAY_HEADER, f"{DLQ_TOPIC}/{letter.id}".encode()))
                sent.append(
                    await producer.send(topic, letter.value, key=letter.key, headers=headers)
                )
            await asyncio.gather(*sent)  # the broker has every record of the chunk
            for letter in chunk:
                entry = {"at": time.time(), "target": letter.source_topic, "by": getpass.getuser()}
                key = f"{LEDGER}/{letter.partition}/{letter.offset}".encode()
                await producer.send(CONNECTOR_STATE_TOPIC, json.dumps(entry).encode(), key=key)
            await producer.flush()
            outcome.replayed.extend(letter.id for letter in chunk)
            if progress is not None:
                progress(len(outcome.replayed), len(todo))
    except KafkaError as exc:
        raise KafkaUnavailableError(
            f"replay stopped after {len(outcome.replayed)} of {len(todo)} records "
            f"(the rest are untouched; run it again): {exc}"
        ) from None
    finally:
        await producer.stop()
    return outcome


# --------------------------------------------------------------------- tail


async def tail(
    settings: HubSettings,
    topic: str,
    *,
    from_beginning: bool = False,
    follow: bool = True,
    partition: int | None = None,
    stop: asyncio.Event | None = None,
) -> AsyncGenerator[Any, None]:
    """The records of topic as they come (from its start or its end), until stop is
    set; with follow off, until the end the topic had when tailing began."""
    stop = stop or asyncio.Event()
    consumer, ids = await open_reader(settings, topic)
    try:
        if not ids:
            raise HubError(f"topic {topic} does not exist (`hub topics diff` lists them)")
        chosen = [TopicPartition(topic, p) for p in ids if partition in (None, p)]
        if not chosen:
            raise HubError(f"{topic} has partitions {ids[0]}..{ids[-1]}, not {partition}")
        consumer.assign(chosen)
        if from_beginning:
            await consumer.seek_to_beginning(*chosen)
        else:
            await consumer.seek_to_end(*chosen)
        ends = await consumer.end_offsets(chosen)
        while not stop.is_set():
            if not follow and await _all_at_end(consumer, ends):
                return
            batches = await consumer.getmany(*chosen, timeout_ms=500)
            for records in batches.values():
                for record in records:
                    yield record
    finally:
        await asyncio.wait_for(consumer.stop(), timeout=10)


async def _all_at_end(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


async def record_line(
    serde: AvroSerde, record: Any, *, unmasked: bool = False
) -> dict[str, Any]:
    """One JSON line of ``hub tail``."""
    headers = [(k, bytes(v)) for k, v in record.headers or ()]
    value = await render_value(serde, record.value, headers)
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": datetime.fromtimestamp(record.timestamp / 1000, UTC).isoformat(
            timespec="milliseconds"
        ),
        "key": record.key.decode(errors="replace") if record.key is not None else None,
        "headers": {k: v.decode(errors="replace") for k, v in headers},
        "value": value if unmasked else masked(value),
    }


# ------------------------------------------------------------------- orders


def orders_changelog(settings: HubSettings) -> str:
    return f"{settings.app_id}-orders-changelog"


def _is_order(value: Any) -> bool:
    return isinstance(value, dict) and "order_id" in value and "issuer" in value


async def read_orders(
    settings: HubSettings, partitions: list[int] | None = None
) -> dict[str, dict[str, Any]]:
    """Order id → its latest view, from the dispatch engine's table changelog."""
    latest: dict[bytes | None, bytes | None] = {}
    async for record in read_to_end(settings, orders_changelog(settings), partitions):
        latest[record.key] = record.value
    orders: dict[str, dict[str, Any]] = {}
    for value in latest.values():
        stored = json.loads(value) if value else None
        if isinstance(stored, dict) and _is_order(stored):
            orders[str(stored["order_id"])] = stored
    return orders


async def find_order(settings: HubSettings, order_id: str, partitions: int) -> dict[str, Any]:
    """An order's view (its partition read first, then all); `HubError` when unknown."""
    home = partition_for(order_id, partitions)
    for chosen in ([home], None):
        found = (await read_orders(settings, chosen)).get(order_id)
        if found is not None:
            return found
    raise HubError(f"no order {order_id} in {orders_changelog(settings)}")


def deadlines_of(settings: HubSettings) -> Deadlines:
    return Deadlines(
        load_deadline_policy(settings.deadlines_file), load_calendar(settings.calendar_file)
    )


def order_details(
    stored: dict[str, Any], deadlines: Deadlines, reference: Reference, now: datetime | None = None
) -> dict[str, Any]:
    """The view as `GET /v1/orders/{id}` shows it, with its deadlines and which passed."""
    view = view_from_dict(stored)
    dues = deadlines.dues(view, reference.matters.get(view.matter_code))
    shown = view_to_dict(view)
    shown.pop("applied", None)
    shown["dues"] = {
        "sign_off": dues.sign_off.isoformat() if dues.sign_off else None,
        "answer": dues.answer.isoformat() if dues.answer else None,
        "acceptance": dues.acceptance.isoformat() if dues.acceptance else None,
    }
    shown["overdue"] = [
        {"deadline": m.which, "due": m.due.isoformat()}
        for m in passed_deadlines(view, now or datetime.now(UTC), dues)
    ]
    return dict(_jsonable(shown))


def order_sla(
    orders: Iterable[dict[str, Any]],
    deadlines: Deadlines,
    reference: Reference,
    now: datetime | None = None,
) -> dict[str, dict[str, int]]:
    """Per recipient party: open orders and open orders past a deadline (the same
    figures as ``hub_orders_open`` and ``hub_orders_overdue_open``)."""
    slas = sla_of(
        (view_from_dict(stored) for stored in orders),
        lambda view: deadlines.dues(view, reference.matters.get(view.matter_code)),
        now or datetime.now(UTC),
    )
    return {party: {"open": sla.open, "overdue": sla.overdue} for party, sla in slas.items()}


# -------------------------------------------------------------------- audit


async def audit(
    settings: HubSettings, serde: AvroSerde, action: str, detail: str, subject: str | None = None
) -> None:
    """Write what an operator did with the CLI to the audit topic."""
    kind = KINDS["audit"]
    event = AuditEvent.model_validate(
        {
            "source_party": "hub",
            "source_id": f"audit/{uuid.uuid4().hex}",
            "occurred_at": datetime.now(UTC),
            "trace_id": uuid.uuid4().hex,
            "actor_party": f"cli:{getpass.getuser()}"[:40],
            "action": action[:200],
            "result": AuditResult.ACCEPTED,
            "subject_id": subject,
            "detail": detail[:2000],
        }
    )
    value = await serde.encode(kind, event)
    producer = new_producer(settings, enable_idempotence=False, client_id="hub-audit")
    try:
        await producer.start()
        await producer.send_and_wait(kind.topic, value, key=kind.key_of(event))
    except KafkaError as exc:
        raise KafkaUnavailableError(f"cannot write the audit event: {exc}") from None
    finally:
        await producer.stop()

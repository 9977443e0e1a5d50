"""What every stage shares.

A stage is a pure core and a thin agent around it. The core is a function
``(reads, state, context) -> Step``: it takes a batch of records already decoded
(`Read`), the stage's tables as `State` (reads see the batch's own writes, nothing is
written through) and what it must know of the world (reference data, the time), and
returns what should happen: the records to emit (`Out`), the records to park in the DLQ
with their reason (`Park`), the table writes (in its `State`) and what to log. It does
no I/O, so it is unit-tested with plain values, and it takes a batch, so the agents may
hand it as many records as they read at once.

The agent (`StageBase`) takes the run of records the pipeline fetched from one
partition at once: it waits for the reference data before its first run, decodes each
record (`decoded`: one that does not decode is parked in the step), calls the core once
for the run, and `apply`s its step: encodes and sends every output through the stage's
`hub.wire.Emitter`, parks through the one DLQ writer, writes the tables. `hub._guard`
runs it: passing trouble is retried by the pipeline, anything else handles the run again
one record at a time, so that only the bad record is parked. The runtime (`hub.stream`)
makes those sends and writes the batch's outputs, then its state, then its commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aiokafka.errors import KafkaError

from hub._guard import handle_batch_guarded
from hub.errors import HubError, RecordError
from hub.logs import RateLimited, traced
from hub.metrics import RECORDS_OUT
from hub.records import CanonicalModel, kind_of
from hub.reference import Reference
from hub.serde import AvroSerde
from hub.stream import Table, together
from hub.wire import Emitter, HubHeaders, dead_letter, party_of

log = logging.getLogger(__name__)
noisy = RateLimited(log, every=30.0)

Handler = Callable[[Sequence[Any]], Awaitable[None]]  # a run of one partition's records
R = TypeVar("R")


@dataclass(frozen=True)
class Read(Generic[R]):
    """One record of a batch: the message as read (its bytes, headers, coordinates)
    and what it decoded to."""

    message: Any
    record: R


@dataclass(frozen=True)
class Out:
    """A record to emit: record, encoded as its ``hub.kind`` header says, or the bytes
    of value passed on as they are (an inbox delivery of the record read)."""

    topic: str
    key: bytes | None
    headers: HubHeaders
    record: CanonicalModel | None = None
    value: bytes | None = None
    partition: int | None = None


@dataclass(frozen=True)
class Park:
    """A record to park in the DLQ, with the stage, rule and field that refused it."""

    message: Any
    stage: str
    reason: str
    detail: str
    field: str = ""


@dataclass
class Step:
    """What a core decided for a batch."""

    out: list[Out] = field(default_factory=list)
    parked: list[Park] = field(default_factory=list)
    notes: list[tuple[str | None, str]] = field(default_factory=list)  # (trace id, text)

    def note(self, trace_id: str | None, text: str) -> None:
        """Say text at INFO, logged with the trace id of the record it is about."""
        self.notes.append((trace_id, text))


class State:
    """A table as a core sees it: reads see the writes of the batch so far; the writes
    are kept (None deletes) for the agent to apply."""

    def __init__(self, table: Any) -> None:
        self.table = table  # anything with get(key): a `hub.stream.Table`, a dict
        self.writes: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self.writes[key] if key in self.writes else self.table.get(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes[key] = value

    def pop(self, key: str) -> Any:
        value = self.get(key)
        if value is not None:
            self.writes[key] = None
        return value

    def items(self) -> Iterator[tuple[str, Any]]:
        """Every entry as the batch left it (deleted ones left out)."""
        seen = set(self.writes)
        for key, value in self.writes.items():
            if value is not None:
                yield key, value
        for key, value in list(self.table.items()):
            if key not in seen and value is not None:
                yield key, value


class StageBase:
    """A stage's outputs go to `out`; `agent` names it in metrics and the DLQ."""

    agent = "stage"

    def __init__(
        self,
        out: Emitter,
        serde: AvroSerde,
        reference: Callable[[], Reference],
        reference_ready: asyncio.Event | None = None,
        record_limit: int = 1024 * 1024,
    ) -> None:
        """reference_ready, when given, is awaited before the first record is handled, so
        routing never runs on a catalogue that has not been loaded yet."""
        self.out = out
        self.serde = serde
        self.reference = reference
        self.reference_ready = reference_ready
        self.record_limit = record_limit

    def guarded(self, handler: Handler) -> Handler:
        """handler, run as every stage runs a run of records (module docstring)."""

        async def handle(messages: Sequence[Any]) -> None:
            if self.reference_ready is not None:
                await self.reference_ready.wait()
            await handle_batch_guarded(handler, messages, self.dead_letter, self.agent)

        return handle

    async def decoded(
        self, kind: str, messages: Sequence[Any], step: Step, reference: Reference | None = None
    ) -> list[Read[Any]]:
        """Each message decoded as kind (checked against reference when given); one that
        does not decode is parked in step with the rule and field it broke."""
        reads: list[Read[Any]] = []
        for message in messages:
            try:
                record = await self.serde.decode(kind, message.value, reference)
            except RecordError as exc:
                step.parked.append(Park(message, exc.stage, exc.reason, exc.message, exc.field))
                continue
            reads.append(Read(message, record))
        return reads

    async def apply(self, step: Step, *states: tuple[Table, State]) -> None:
        """Do what the core decided: emit, park, write the tables, log."""
        encoded: dict[int, bytes] = {}  # a record emitted to several topics, encoded once
        delivered: dict[tuple[str, str], int] = {}  # (party, kind) -> records to its inbox
        for out in step.out:
            value = out.value
            if out.record is not None:
                value = encoded.get(id(out.record))
                if value is None:
                    kind = kind_of(str(out.headers.kind))
                    # on its own kind's topic a stage of this worker reads it back (not
                    # a routed clue: the assign stage skips it)
                    value = await self.serde.encode(
                        kind, out.record, keep=out.topic == kind.topic and not out.headers.routed
                    )
                    encoded[id(out.record)] = value
            await self.out.send(out.topic, out.key, value, out.headers.to_kafka(), out.partition)
            party = party_of(out.topic, "inbox")
            if party is not None:
                counted = (party, str(out.headers.kind))
                delivered[counted] = delivered.get(counted, 0) + 1
        for park in step.parked:
            await self.dead_letter(park.message, park.stage, park.reason, park.detail, park.field)
        for table, state in states:
            for key, value in state.writes.items():
                if value is None:
                    table.pop(key, None)
                else:
                    table[key] = value
        for (party, name), count in delivered.items():
            RECORDS_OUT.labels(party, name).inc(count)
        stage_log = logging.getLogger(type(self).__module__)  # e.g. hub.stages.lifecycle
        if step.notes and stage_log.isEnabledFor(logging.INFO):
            for trace_id, text in step.notes:
                with traced(trace_id):
                    stage_log.info("%s", text)

    async def apply_timed(self, step: Step) -> bool:
        """A timer's step (notices of deadlines): its outputs sent together and
        acknowledged at the end; a Kafka fault costs this round only (logged, False): the
        next round finds the same notices due and sends them again, with the same ids."""
        try:
            async with together():
                await self.apply(step)
        except (KafkaError, HubError, TimeoutError) as exc:
            noisy.warning("%s: %d notices not all sent (%r); the next sweep sends them again",
                          self.agent, len(step.out), exc)
            return False
        return True

    async def dead_letter(
        self, message: Any, stage: str, reason: str, detail: str, field: str = ""
    ) -> None:
        """Park the original bytes and headers in the DLQ with what went wrong and where."""
        await dead_letter(
            self.out, message, stage, reason, detail, connector=self.agent.encode(),
            field=field, limit=self.record_limit,
        )

    def catalogue(self) -> Reference | None:
        """The reference to check matter codes against (None before any is loaded, so a
        cluster without `hub reference load` does not reject every record)."""
        reference = self.reference()
        return reference if reference.matters else None

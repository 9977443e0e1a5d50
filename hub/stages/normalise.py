"""Normalisation agent: ``raw.<party>.v1`` (native records as received) → canonical topics.

Every connector source, and ``POST /v1/native/{kind}``, writes a party's native records
untouched to its raw topic with a ``hub.native.kind`` header. This agent finds the
party's mapping spec for that kind (`hub.mapping.normalise_native`), decodes and maps the
payload, validates the result against the reference data, and writes the canonical
record (Avro, keyed like every record of its kind) to its topic. A clue's ASSIGNMENT
(`hub.stages.assign`) is made in the same step and written with it, the clue marked
``hub.routed: normalise``: one hop from the native record to its order, the clue decoded
and checked once (the assign stage skips a routed clue; a clue it cannot route here, or
one published over HTTP, is still routed there).

A record that does not map goes to ``hub.dlq.v1`` with its original bytes and headers,
plus ``hub.error.stage`` (``map`` or ``validate``), ``.class`` (the rule broken, e.g.
``code.unknown``), ``.field`` (the native field), ``.message`` and the source
coordinates. `replay` writes such a record back to its source topic once the mapping is
fixed, and it goes through the pipeline again; record ids are deterministic, so a
record normalised twice is still one record downstream.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from hub.errors import RecordError
from hub.mapping import SpecCatalogue, normalise_native, unknown_kind
from hub.metrics import RECORDS_IN
from hub.records import KINDS, Clue, Envelope, validate
from hub.reference import Party, Reference
from hub.serde import AvroSerde
from hub.stages._base import Out, Park, Read, StageBase, Step
from hub.stages.assign import assign
from hub.stream import Stage
from hub.wire import (
    CHARSET_HEADER,
    NATIVE_KIND_HEADER,
    TRACE_HEADER,
    Emitter,
    HubHeaders,
    header_of,
    party_of,
    raw_topic,
)


def normalise(
    messages: Sequence[Any], reference: Reference, specs: SpecCatalogue, now: datetime
) -> Step:
    """The core: each raw record mapped by its party's spec for its native kind, checked
    against the reference data, as the canonical record of its kind, a clue with its
    ASSIGNMENT; a record that does not map or check is parked with the rule and field."""
    step = Step()
    for message in messages:
        try:
            record, out = _canonical(message, reference, specs, now)
        except RecordError as exc:
            step.parked.append(Park(message, exc.stage, exc.reason, exc.message, exc.field))
            continue
        routed = None
        if isinstance(record, Clue):
            routed = assign([Read(message, record)], reference)
            if routed.parked:  # the assign stage parks it, with the clue as written
                routed = None
            else:
                out = replace(out, headers=replace(out.headers, routed="normalise"))
        step.out.append(out)
        if routed is not None:
            step.out += routed.out
        step.note(
            record.trace_id,
            f"normalised {out.headers.native_kind} {record.source_id} of "
            f"{out.headers.source_party} into {out.headers.kind} {record.record_id}"
        )
    return step


def _canonical(
    message: Any, reference: Reference, specs: SpecCatalogue, now: datetime
) -> tuple[Envelope, Out]:
    party_id = party_of(str(message.topic), "raw") or str(message.topic)
    try:
        party: Party | None = reference.parties.get(party_id)
    except KeyError:
        party = None
    native_kind = (header_of(message, NATIVE_KIND_HEADER) or b"").decode(errors="replace")
    if party is None:
        raise unknown_kind(party_id, native_kind)
    charset = header_of(message, CHARSET_HEADER)
    mapped = normalise_native(
        specs, party, native_kind, message.value or b"",
        charset.decode(errors="replace") if charset else None,
    )
    data = mapped.data
    trace = (header_of(message, TRACE_HEADER) or b"").decode(errors="replace")
    if "trace_id" not in data:  # without a trace header, one that its position fixes
        data["trace_id"] = trace or hashlib.sha256(
            f"{message.topic}/{message.partition}/{message.offset}".encode()
        ).hexdigest()[:32]
    # received when the raw record was written (the gateway's or connector's time), so
    # a record processed again is the same record, byte for byte
    written = getattr(message, "timestamp", None)
    if written and "received_at" not in data:
        data["received_at"] = datetime.fromtimestamp(written / 1000, UTC)
    record = validate(mapped.canonical, data, reference if reference.matters else None, now)
    kind = KINDS[mapped.canonical]
    headers = HubHeaders(
        kind=kind.name,
        trace_id=str(record.trace_id),
        source_party=party_id,
        native_kind=native_kind,
    )
    return record, Out(kind.topic, kind.key_of(record), headers, record=record)


class Normaliser(StageBase):
    """The normalisation stage: every party's raw topic in, canonical topics out."""

    agent = "normalise"

    def __init__(
        self,
        out: Emitter,
        serde: AvroSerde,
        reference: Callable[[], Reference],
        catalogue: SpecCatalogue,
        reference_ready: asyncio.Event | None = None,
        record_limit: int = 1024 * 1024,
    ) -> None:
        super().__init__(out, serde, reference, reference_ready, record_limit)
        self.specs = catalogue
        self.topics = tuple(raw_topic(party.id) for party in reference().parties.with_inbox())

    def stage(self) -> Stage:
        return Stage("normalise", self.topics, self.guarded(self.handle))

    async def handle(self, messages: Sequence[Any]) -> None:
        """Map a run of raw records and write their canonical records."""
        step = normalise(messages, self.reference(), self.specs, datetime.now(UTC))
        await self.apply(step)
        received: dict[tuple[str, str], int] = {}
        for out in step.out:
            counted = (str(out.headers.source_party), str(out.headers.kind))
            received[counted] = received.get(counted, 0) + 1
        for (party, kind), count in received.items():
            RECORDS_IN.labels(party, kind).inc(count)

"""The normalise stage on an in-memory emitter (`hub.wire.MemoryEmitter`), no Kafka: a
raw native record becomes its canonical record on the kind's topic; the same raw record
processed again (a redelivery after a crash before the commit) is emitted again, byte
for byte (received_at is when the raw record was written), so the reader can drop the
repeat, and so is the ASSIGNMENT the dispatch stage makes of it; a record that cannot
be mapped is parked in the DLQ with its reason and its original bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hub.mapping import load_catalogue
from hub.records import KINDS
from hub.reference import load_seed_reference
from hub.registry import MemoryRegistry
from hub.serde import AvroSerde
from hub.stages import Assign, Normaliser, assignment_of
from hub.wire import DLQ_TOPIC, MemoryEmitter

WRITTEN_MS = 1_764_643_200_123  # when the gateway wrote the raw record
SAMPLE = Path(__file__).resolve().parents[2] / "connectors/department/samples/urban-case.json"


def _raw(value: bytes, offset: int, kind: str = "urban-case") -> Any:
    return SimpleNamespace(
        topic="raw.dept-urban.v1", partition=0, offset=offset, key=b"CG-1", value=value,
        headers=[("hub.native.kind", kind.encode()), ("hub.trace_id", b"ab" * 16)],
        timestamp=WRITTEN_MS,
    )


@pytest.fixture
def stage() -> tuple[Normaliser, MemoryEmitter, AvroSerde]:
    out = MemoryEmitter()
    serde = AvroSerde(MemoryRegistry())
    reference = load_seed_reference()
    return Normaliser(out, serde, lambda: reference, load_catalogue()), out, serde


async def test_a_raw_record_processed_twice_is_emitted_twice_with_the_same_key_and_id(
    stage: tuple[Normaliser, MemoryEmitter, AvroSerde],
) -> None:
    normaliser, out, serde = stage
    native = json.loads(SAMPLE.read_text(encoding="utf-8"))["native"]
    value = json.dumps(native, ensure_ascii=False).encode()
    await normaliser.stage().handle([_raw(value, 7)])
    await normaliser.stage().handle([_raw(value, 7)])  # redelivered after a crash
    clues = out.to(KINDS["clue"].topic)
    assert len(clues) == 2
    (key, first, headers), (key_again, second, _) = clues
    assert key == key_again and first == second  # the same bytes: a repeat, not a conflict
    clue = await serde.decode("clue", first or b"")
    assert clue.received_at == datetime.fromtimestamp(WRITTEN_MS / 1000, UTC)
    made = [assignment_of(clue, "street-jiyuqiao", "占道经营") for _ in range(2)]  # type: ignore[arg-type]
    assert made[0] == made[1] and made[0].issued_at == clue.received_at
    # the clue's ASSIGNMENT is written with it, in the same step, byte for byte again
    (order_key, order, _), (order_key_again, order_again, _) = out.to(KINDS["order"].topic)
    assert (order_key, order) == (order_key_again, order_again)
    assignment = await serde.decode("order", order or b"")
    assert assignment.order_type.value == "ASSIGNMENT"  # type: ignore[attr-defined]
    assert assignment.subject_id == clue.record_id  # type: ignore[attr-defined]
    assert assignment.order_id == made[0].order_id  # type: ignore[attr-defined]
    assert order_key == str(made[0].order_id).encode()
    assert clue.source_party == "dept-urban"  # type: ignore[attr-defined]
    assert str(clue.record_id).encode() == key  # type: ignore[attr-defined]
    names = dict(headers)
    assert names["hub.kind"] == b"clue" and names["hub.native.kind"] == b"urban-case"
    assert names["hub.trace_id"] == b"ab" * 16
    assert names["hub.routed"] == b"normalise"
    assert out.to(DLQ_TOPIC) == []


async def test_the_assign_stage_skips_a_clue_routed_when_it_was_normalised(
    stage: tuple[Normaliser, MemoryEmitter, AvroSerde],
) -> None:
    normaliser, out, serde = stage
    native = json.loads(SAMPLE.read_text(encoding="utf-8"))["native"]
    await normaliser.stage().handle([_raw(json.dumps(native, ensure_ascii=False).encode(), 3)])
    ((key, value, headers),) = out.to(KINDS["clue"].topic)
    reference = load_seed_reference()
    assigner = Assign(out, serde, lambda: reference)
    clue = SimpleNamespace(topic=KINDS["clue"].topic, partition=0, offset=0, key=key,
                           value=value, headers=headers, timestamp=WRITTEN_MS)
    await assigner.stage().handle([clue])
    assert len(out.to(KINDS["order"].topic)) == 1  # the normalise stage's, no second
    clue.headers = [h for h in headers if h[0] != "hub.routed"]  # e.g. published over HTTP
    await assigner.stage().handle([clue])
    assert len(out.to(KINDS["order"].topic)) == 2
    first, again = ((k, v) for k, v, _ in out.to(KINDS["order"].topic))
    assert first == again  # the same order either way


async def test_a_record_of_an_unknown_native_kind_is_parked_with_its_reason_and_bytes(
    stage: tuple[Normaliser, MemoryEmitter, AvroSerde],
) -> None:
    normaliser, out, _ = stage
    value = json.dumps({"编号": "X-1"}, ensure_ascii=False).encode()
    await normaliser.stage().handle([_raw(value, 9, kind="no-such-kind")])
    assert out.to(KINDS["clue"].topic) == []
    ((key, parked, headers),) = out.to(DLQ_TOPIC)
    names = dict(headers)
    assert parked == value and key == b"CG-1"
    assert names["hub.error.class"] == b"kind.unknown"
    assert names["hub.error.source.topic"] == b"raw.dept-urban.v1"
    assert names["hub.error.source.offset"] == b"9"

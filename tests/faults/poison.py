"""The poison corpus: 60-odd kinds of bad records written straight to the hub's topics.

Each record carries a ``fault.poison`` header with its run and number (``<run>/<n>``;
the DLQ keeps the original headers), so the case can tell, for every kind, whether it
was parked in this run and with which reason. Kinds: for each canonical topic, bytes
that are not Avro, empty, JSON, a wrong magic byte, an unknown schema id, truncated
Avro, a bare frame header, Avro of another kind, a record of ~1,040,000 bytes and a
null header value; valid Avro with content the hub refuses (an unknown recipient, an
unroutable whistle, an event out of state or from a stranger, a clue with an unknown
matter, events for an order the hub has not seen); and, per raw topic, native records
in a wrong shape.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.records import validate
from hub.serde import AvroSerde
from tests.faults.harness import DEPARTMENT, POISON, STREETS
from tests.samples import sample

BIG = 1_040_000  # fits in the DLQ with the error headers: kept whole
AT_LIMIT = 1_048_000  # fits in its topic, not with the error headers: kept truncated


@dataclass
class Poison:
    number: int
    kind: str
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    later: bool = False  # ends in the DLQ only after HUB_PARK_SECONDS (unknown order)


def order_body(run: str, n: int, **over: Any) -> dict[str, Any]:
    """The JSON a street would post for poison order n of run."""
    now = datetime.now(UTC)
    return {
            **sample("order"),
            "source_party": STREETS[0],
            "from_party": STREETS[0],
            "to_parties": [DEPARTMENT],
            "source_id": f"PO-{run}-{n}",
            "occurred_at": now.isoformat(),
            "issued_at": now.isoformat(),
            "deadline": (now + timedelta(days=2)).isoformat(),
            **over,
    }


def _order(run: str, n: int, **over: Any) -> Any:
    return validate("order", order_body(run, n, **over))


def _event(run: str, n: int, order_id: str, event_type: str, actor: str, **over: Any) -> Any:
    return validate(
        "order-event",
        {
            "source_party": actor,
            "source_id": f"PE-{run}-{n}",
            "occurred_at": datetime.now(UTC).isoformat(),
            "order_id": order_id,
            "event_type": event_type,
            "actor_party": actor,
            **over,
        },
    )


async def corpus(serde: AvroSerde, run: str) -> tuple[list[Poison], list[Any], list[Any]]:
    """(poison records, good orders that the out-of-state events need first, the
    orders whose events are written before them: published after the DLQ has them)."""
    items: list[Poison] = []
    prelude: list[Any] = []

    def add(kind: str, topic: str, value: bytes | None, key: bytes | None = None,
            headers: list[tuple[str, bytes | None]] | None = None, later: bool = False) -> None:
        n = len(items)
        key = key if key is not None else f"poison-{run}-{n}".encode()
        items.append(
            Poison(n, kind, topic, key, value,
                   [*(headers or []), (POISON, f"{run}/{n}".encode())], later)
        )

    order = _order(run, 0)
    clue = validate("clue", {**sample("clue"), "source_id": f"PC-{run}"})
    case = validate("case", {**sample("case"), "source_id": f"PK-{run}"})
    event = _event(run, 0, str(order.record_id), "SIGNED", DEPARTMENT)
    valid = {
        "enf.order.v1": ("order", await serde.encode("order", order)),
        "enf.order-event.v1": ("order-event", await serde.encode("order-event", event)),
        "enf.clue.v1": ("clue", await serde.encode("clue", clue)),
        "enf.case.v1": ("case", await serde.encode("case", case)),
    }
    other = {"enf.order.v1": "enf.clue.v1", "enf.order-event.v1": "enf.case.v1",
             "enf.clue.v1": "enf.order.v1", "enf.case.v1": "enf.order-event.v1"}
    for topic, (kind, good) in valid.items():
        schema_id = struct.unpack(">I", good[1:5])[0]
        add(f"{kind}: not Avro", topic, b"this is not an Avro record")
        add(f"{kind}: empty value", topic, b"")
        add(f"{kind}: JSON instead of Avro", topic, json.dumps({"kind": kind}).encode())
        add(f"{kind}: wrong magic byte", topic, b"\x01" + good[1:])
        add(f"{kind}: unknown schema id", topic, b"\x00" + struct.pack(">I", 0x7FFF0000) + good[5:])
        add(f"{kind}: truncated Avro", topic, good[: max(6, len(good) // 2)])
        add(f"{kind}: frame header only", topic, b"\x00" + struct.pack(">I", schema_id))
        add(f"{kind}: Avro of another kind", topic, valid[other[topic]][1])
        add(f"{kind}: large ({BIG} B)", topic, b"\x00" + os.urandom(BIG))
        add(f"{kind}: at the record limit ({AT_LIMIT} B)", topic, b"\x00" + os.urandom(AT_LIMIT))
        add(f"{kind}: null header value", topic, b"garbage",
            headers=[("hub.trace_id", None), ("hub.kind", None)])
    # valid Avro, content the hub refuses
    stranger = _order(run, 1, to_parties=["dept-water"])
    add("order: whistle without recipients, unknown matter", "enf.order.v1",
        await serde.encode("order", _order(run, 2, to_parties=[], matter_code="URB-999")))
    fresh = _order(run, 3)
    prelude += [fresh, stranger]
    add("event: FEEDBACK before SIGNED (out of state)", "enf.order-event.v1",
        await serde.encode("order-event", _event(run, 1, str(fresh.record_id), "FEEDBACK",
                                                 DEPARTMENT, comment="未签收先反馈")),
        key=str(fresh.record_id).encode())
    add("event: from a party not on the order", "enf.order-event.v1",
        await serde.encode("order-event", _event(run, 2, str(stranger.record_id), "SIGNED",
                                                 DEPARTMENT)),
        key=str(stranger.record_id).encode())
    add("event: CLOSED by the recipient", "enf.order-event.v1",
        await serde.encode("order-event", _event(run, 3, str(fresh.record_id), "CLOSED",
                                                 DEPARTMENT)),
        key=str(fresh.record_id).encode())
    awaited = [_order(run, 10 + i) for i in range(3)]
    for i, missing in enumerate(awaited):
        add("event: for an order the hub has not seen", "enf.order-event.v1",
            await serde.encode("order-event", _event(run, 10 + i, str(missing.record_id),
                                                     "SIGNED", DEPARTMENT)),
            key=str(missing.record_id).encode(), later=True)
    # native records in a wrong shape
    for party, native in ((DEPARTMENT, "urban-case"), (STREETS[0], "street-clue")):
        topic = f"raw.{party}.v1"
        add(f"raw {party}: no native kind header", topic, b'{"a": 1}')
        add(f"raw {party}: unknown native kind", topic, b'{"a": 1}',
            headers=[("hub.native.kind", b"no-such-kind")])
        add(f"raw {party}: not JSON", topic, b"\xff\xfe not json",
            headers=[("hub.native.kind", native.encode())])
        add(f"raw {party}: JSON missing every field", topic, b"{}",
            headers=[("hub.native.kind", native.encode())])
        add(f"raw {party}: JSON array", topic, b"[1, 2, 3]",
            headers=[("hub.native.kind", native.encode())])
        add(f"raw {party}: large ({BIG} B)", topic, b"{" + b" " * BIG + b"}",
            headers=[("hub.native.kind", native.encode())])
        add(f"raw {party}: at the record limit ({AT_LIMIT} B)", topic,
            b"{" + b" " * AT_LIMIT + b"}", headers=[("hub.native.kind", native.encode())])
        add(f"raw {party}: null native kind header", topic, b'{"a": 1}',
            headers=[("hub.native.kind", None)])
        add(f"raw {party}: empty body", topic, b"",
            headers=[("hub.native.kind", native.encode())])
    return items, prelude, awaited


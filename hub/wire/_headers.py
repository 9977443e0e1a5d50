"""The hub's Kafka headers: one dataclass, written and read in one place.

Every record the hub writes carries ``hub.kind`` (which record kind the value is) and,
where known, ``hub.trace_id`` (one id from the HTTP request or source poll to every
inbox); a record published for a party carries ``hub.source_party``; a transport that
re-encoded the bytes says how in ``hub.charset``; a connector names itself in
``hub.connector``; a timer's control record says what to do in ``hub.control``; a
native record names its native kind (the party's own name for it) in
``hub.native.kind``; a canonical record whose derived records were written with it (a
clue normalised together with its ASSIGNMENT) says by whom in ``hub.routed``, so the
stage that would derive them again skips it. The DLQ's ``hub.error.*`` headers are
`hub.wire._dlq`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

KafkaHeaders = list[tuple[str, bytes]]

KIND_HEADER = "hub.kind"
TRACE_HEADER = "hub.trace_id"
SOURCE_PARTY_HEADER = "hub.source_party"
CHARSET_HEADER = "hub.charset"
CONNECTOR_HEADER = "hub.connector"
CONTROL_HEADER = "hub.control"
NATIVE_KIND_HEADER = "hub.native.kind"
ROUTED_HEADER = "hub.routed"

_NAMES = {
    "kind": KIND_HEADER,
    "trace_id": TRACE_HEADER,
    "source_party": SOURCE_PARTY_HEADER,
    "charset": CHARSET_HEADER,
    "connector": CONNECTOR_HEADER,
    "control": CONTROL_HEADER,
    "native_kind": NATIVE_KIND_HEADER,
    "routed": ROUTED_HEADER,
}
_FIELDS = {name: field for field, name in _NAMES.items()}


@dataclass(frozen=True)
class HubHeaders:
    """The hub's headers of one record; None where a header is absent."""

    kind: str | None = None
    trace_id: str | None = None
    source_party: str | None = None
    charset: str | None = None
    connector: str | None = None
    control: str | None = None
    native_kind: str | None = None
    routed: str | None = None

    def to_kafka(self) -> KafkaHeaders:
        """As Kafka headers, in a fixed order, absent ones left out."""
        return [
            (_NAMES[f.name], value.encode())
            for f in fields(self)
            if (value := getattr(self, f.name)) is not None
        ]

    @classmethod
    def from_kafka(cls, headers: Iterable[tuple[str, Any]] | None) -> HubHeaders:
        """Read from a record's headers; other headers are ignored, a null or undecodable
        value counts as absent (a stranger's record must not break the reader)."""
        found: dict[str, str] = {}
        for key, value in headers or []:
            attr = _FIELDS.get(str(key))
            if attr is None or value is None:
                continue
            try:
                found[attr] = bytes(value).decode()
            except (UnicodeDecodeError, TypeError):
                continue
        return cls(**found)


def header_of(message: Any, name: str) -> bytes | None:
    """The value of a Kafka header of message; None when absent or null."""
    for key, value in message.headers or []:
        if key == name:
            return bytes(value) if value is not None else None
    return None

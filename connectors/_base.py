"""The connector interface: what a connector author implements (STYLE §1, §6).

A **source** brings a party's native records into the hub: it reads them where the party
puts them (an HTTP API it polls, a folder it drops files into) and writes each, as
received, to ``raw.<party>.v1``; the normalisation agents map them from there. A
**sink** takes canonical records from the party's inbox ``out.<party>.v1`` and delivers
them in the party's own format (a webhook).

::

    class Source:                      class Sink:
        async def run(emit) -> None        async def setup() -> None
        async def stop() -> None           async def write_batch(records) -> None
                                           async def flush() -> None
                                           async def close() -> None

A source hands every native record to ``emit(RawRecord)``, which returns once the
record is durable in Kafka; only then may the source move its position (cursor, file
ledger) on. A sink is given batches in order per key; ``flush`` returns once everything
written so far is delivered, and only then are the inbox offsets committed, so a crash
re-delivers (the party deduplicates by the idempotency key) and never loses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.errors import HubError
from hub.wire import CONNECTOR_HEADER, NATIVE_KIND_HEADER

POSITION_HEADER = "hub.source.position"


@dataclass(frozen=True)
class RawRecord:
    """One native record as received: its bytes untouched, what it is, where it was."""

    party: str
    native_kind: str
    payload: bytes
    key: bytes | None = None
    position: str = ""  # where in the source it came from (cursor, file:line)
    headers: tuple[tuple[str, bytes], ...] = ()

    def kafka_headers(self, connector: str) -> list[tuple[str, bytes]]:
        return [
            (NATIVE_KIND_HEADER, self.native_kind.encode()),
            (CONNECTOR_HEADER, connector.encode()),
            (POSITION_HEADER, self.position.encode()),
            *self.headers,
        ]


@dataclass(frozen=True)
class OutRecord:
    """One canonical record leaving for a party: its inbox position and native form."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    kind: str  # canonical kind (order, order-event, penalty)
    record_id: str
    body: bytes  # the native document to deliver
    content_type: str = "application/json"
    trace_id: str = ""
    source_value: bytes = b""  # the canonical bytes read from the inbox (for the DLQ)
    source_headers: tuple[tuple[str, bytes], ...] = ()
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def idempotency_key(self) -> str:
        """Stable across re-deliveries: the same record always carries the same key."""
        return f"{self.record_id}:{self.kind}"


Emit = Callable[[RawRecord], Awaitable[None]]


class DeliveryRefused(HubError):
    """A sink's party refused a record for good (a webhook's 4xx): the runner parks it in
    the DLQ and goes on with the next; replayed to its inbox once the party takes it."""

    retriable = False

    def __init__(self, record: OutRecord, status: int, body: str) -> None:
        self.record = record
        self.status = status
        super().__init__(
            f"the party refused record {record.record_id} ({record.kind}) with HTTP {status}: "
            f"{body[:300]}"
        )


class Source(ABC):
    """Brings a party's native records in (HTTP poll, file drop)."""

    key_field: str | None = None
    """Set by the runner before `run`: the native record's id field (its mapping spec's
    ``source_id``). Key each record by it, so every version of one record lands in one
    raw partition, in order."""

    def status(self) -> dict[str, Any]:
        """What the runner adds to the connector's stored status (counts, last error)."""
        return {}

    @abstractmethod
    async def run(self, emit: Emit) -> None:
        """Called once when the connector starts; runs until `stop`.

        Resume from the last durable position, read what is new, ``await emit(record)``
        for each record (it returns when the record is in Kafka), then persist the new
        position. Raising a retriable `HubError` makes the runner back off and call
        `run` again; anything else stops the connector and shows in its status.
        """

    @abstractmethod
    async def stop(self) -> None:
        """Called on shutdown or pause: return promptly; `run` must then return."""


class Sink(ABC):
    """Delivers canonical records to a party in its own format (webhook)."""

    on_failure: Callable[[], Awaitable[None]] | None = None
    """Set by the runner: await it after a failed delivery attempt (it reports status)."""

    def status(self) -> dict[str, Any]:
        """What the runner adds to the connector's stored status: ``delivered``,
        ``consecutive_failures`` (above 0: the connector shows as failing), ``circuit``,
        ``last_error``, ``last_success``, as far as the sink knows them."""
        return {}

    def stop(self) -> None:
        """Called on shutdown, before `close`: a delivery waiting for a party that is
        down gives up at once (the record stays in the inbox, delivered after restart)."""
        return None

    @abstractmethod
    async def setup(self) -> None:
        """Called once before the first batch: open clients, check the configuration."""

    @abstractmethod
    async def write_batch(self, records: Sequence[OutRecord]) -> None:
        """Called with records in inbox order (per key). Deliver them, in that order.

        Return when each is delivered or is being retried inside the sink; raise a
        retriable `HubError` to have the runner retry the same batch later (the circuit
        of a party that keeps failing opens). Nothing is skipped.
        """

    @abstractmethod
    async def flush(self) -> None:
        """Called before inbox offsets are committed: return once every record written
        so far is delivered (acknowledged by the party)."""

    @abstractmethod
    async def close(self) -> None:
        """Called once on shutdown: release clients."""

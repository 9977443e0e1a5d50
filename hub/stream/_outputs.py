"""What processing one record produced: its outputs, then its state changes.

A stage handler never writes to Kafka directly. It calls `hub.wire.Emitter.send` for every output
(an inbox delivery, a copy, the DLQ entry, a derived record) and `Table.__setitem__` /
`Table.pop` for state. While the pipeline runs the handler, both land in the record's
`Outputs` (a context variable), and the pipeline then

1. waits until the broker acknowledged every output (bounded, retried as a whole);
2. only then applies the state changes to the tables and writes their changelogs, and
   waits for those acknowledgements too;
3. only then counts the record's offset as done, so that it may be committed.

A crash anywhere before 3 makes the next owner process the record again: its state was
not changed yet (or was, and every output had been acknowledged before), and its
outputs are emitted again with the same ids and keys. Readers drop what they have seen.
Outside a record (timers, the HTTP API) `send` waits for the acknowledgement itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StateWrite:
    """One table change held back until the record's outputs are acknowledged."""

    table: Any  # hub.stream.Table (circular at import time)
    partition: int
    key: str
    value: Any  # None deletes


@dataclass
class Outputs:
    """The outputs and state writes of the record being processed (its partition)."""

    partition: int
    sent: list[Awaitable[Any]] = field(default_factory=list)
    writes: dict[tuple[int, str], StateWrite] = field(default_factory=dict)

    def pending(self, table: Any, key: str) -> StateWrite | None:
        return self.writes.get((id(table), key))


_current: ContextVar[Outputs | None] = ContextVar("hub_outputs", default=None)


def current() -> Outputs | None:
    """The outputs of the record being processed, or None outside a record."""
    return _current.get()


def bind(outputs: Outputs | None) -> Any:
    """Make outputs the current record's; returns the token for `unbind`."""
    return _current.set(outputs)


def unbind(token: Any) -> None:
    _current.reset(token)


@asynccontextmanager
async def together(seconds: float = 30.0) -> AsyncIterator[None]:
    """Outside a record (a timer's notices): the sends inside go out together and are
    all acknowledged at the end, at most seconds, instead of one round trip each."""
    outputs = Outputs(partition=-1)
    token = bind(outputs)
    try:
        yield
    finally:
        unbind(token)
    if outputs.writes:
        raise RuntimeError("tables change only while a record is processed, not in a timer")
    await settle(outputs.sent, seconds)


async def settle(futures: list[Awaitable[Any]], seconds: float) -> None:
    """Wait for every acknowledgement, at most seconds (TimeoutError after)."""
    if futures:
        async with asyncio.timeout(seconds):
            await asyncio.gather(*futures)

"""What every stage shares: it waits for the reference data before its first record,
runs each record guarded (`hub._guard`: a bad record is parked, passing trouble is
retried by the pipeline), and parks what it refuses through the one DLQ writer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from hub._guard import handle_guarded
from hub.reference import Reference
from hub.serde import AvroSerde
from hub.wire import Emitter, dead_letter

Handler = Callable[[Any], Awaitable[None]]


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
        """handler, run as every stage runs a record (module docstring)."""

        async def handle(message: Any) -> None:
            if self.reference_ready is not None:
                await self.reference_ready.wait()
            await handle_guarded(handler, message, self.dead_letter, self.agent)

        return handle

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

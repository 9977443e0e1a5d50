"""How every stream agent of the hub treats one record: it never stops its partition.

`handle_guarded` runs the handler on one message. A `RecordError` (undecodable,
invalid, unmappable) parks the record in the DLQ with its stage, reason and field; a
retriable `HubError` (Kafka or the registry briefly away) is retried with backoff,
never parked, since the record is fine; anything unexpected is logged and parked, so
one bad record never stalls the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from hub.errors import HubError, RecordError
from hub.logs import traced
from hub.metrics import PROCESSING

log = logging.getLogger(__name__)

ERROR_PREFIX = "hub.error."
TRACE_HEADER = "hub.trace_id"

Park = Callable[[Any, str, str, str, str], Awaitable[None]]  # message, stage, reason, detail, field


def header_of(message: Any, name: str) -> bytes | None:
    """The value of a Kafka header of message; None when absent."""
    for key, value in message.headers or []:
        if key == name:
            return bytes(value)
    return None


async def handle_guarded(
    handler: Callable[[Any], Awaitable[None]], message: Any, park: Park, agent: str
) -> None:
    """Run handler(message); park or retry on failure as the module docstring says.
    Everything logged meanwhile carries the record's trace id (`hub.logs`)."""
    with traced(header_of(message, TRACE_HEADER)):
        await _handle(handler, message, park, agent)


async def _handle(
    handler: Callable[[Any], Awaitable[None]], message: Any, park: Park, agent: str
) -> None:
    delay = 0.5
    while True:
        try:
            with PROCESSING.labels(agent).time():
                await handler(message)
            return
        except RecordError as exc:
            await park(message, exc.stage, exc.reason, exc.message, exc.field)
            return
        except HubError as exc:
            if not exc.retriable:
                await park(message, agent, type(exc).__name__, exc.message, "")
                return
            log.warning("%s: %s; retrying in %.1f s", agent, exc.message, delay)
        except Exception as exc:  # noqa: BLE001 - a bad record must never stop the partition
            log.exception("%s: %s at offset %s failed", agent, message.topic, message.offset)
            await park(message, agent, type(exc).__name__, str(exc), "")
            return
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


def dead_letter_headers(
    message: Any, stage: str, reason: str, detail: str, *, connector: bytes, field: str = ""
) -> list[tuple[str, bytes]]:
    """The original headers plus ``hub.error.*`` (Kafka Connect's DLQ layout)."""
    original = [(k, bytes(v)) for k, v in message.headers or [] if not k.startswith(ERROR_PREFIX)]
    headers = [
        *original,
        ("hub.error.stage", stage.encode()),
        ("hub.error.class", reason.encode()),
        ("hub.error.message", detail[:2000].encode()),
        ("hub.error.source.topic", str(message.topic).encode()),
        ("hub.error.source.partition", str(message.partition).encode()),
        ("hub.error.source.offset", str(message.offset).encode()),
        ("hub.error.connector", connector),
    ]
    if field:
        headers.append(("hub.error.field", field.encode()))
    return headers


def replay_target(headers: list[tuple[str, bytes]]) -> tuple[str, list[tuple[str, bytes]]]:
    """Where a DLQ record goes back to, and the headers it goes back with (its original
    ones, the ``hub.error.*`` ones removed)."""
    source = dict(headers).get("hub.error.source.topic")
    if not source:
        raise HubError("the DLQ record names no source topic (hub.error.source.topic)")
    return source.decode(), [(k, v) for k, v in headers if not k.startswith(ERROR_PREFIX)]

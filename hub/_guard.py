"""How every stream agent of the hub treats one record: it never stops its partition.

`handle_guarded` runs the handler on one message. A `RecordError` (undecodable,
invalid, unmappable) parks the record in the DLQ with its stage, reason and field; a
retriable `HubError` or a Kafka error (Kafka or the registry briefly away) is raised
to the pipeline, which retries the record with backoff (`hub.stream`), never parked,
since the record is fine; anything unexpected is logged and parked, so one bad record
never stalls the rest.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.errors import KafkaError

from hub.errors import HubError, RecordError
from hub.logs import traced
from hub.metrics import PROCESSING

log = logging.getLogger(__name__)

ERROR_PREFIX = "hub.error."
KEPT_BYTES = 64 * 1024  # of a record too large for the DLQ: its first bytes
FRAMING = 1024  # the record batch's own bytes around a record (the broker counts them)
TRACE_HEADER = "hub.trace_id"

Park = Callable[[Any, str, str, str, str], Awaitable[None]]  # message, stage, reason, detail, field


def header_of(message: Any, name: str) -> bytes | None:
    """The value of a Kafka header of message; None when absent or null."""
    for key, value in message.headers or []:
        if key == name:
            return bytes(value) if value is not None else None
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
    try:
        with PROCESSING.labels(agent).time():
            await handler(message)
    except RecordError as exc:
        await park(message, exc.stage, exc.reason, exc.message, exc.field)
    except HubError as exc:
        if exc.retriable:
            raise  # the pipeline retries the record (hub.stream)
        await park(message, agent, type(exc).__name__, exc.message, "")
    except (KafkaError, TimeoutError):
        raise  # Kafka did not answer in time: retried, the record is fine
    except Exception as exc:  # noqa: BLE001 - a bad record must never stop the partition
        log.exception("%s: %s at offset %s failed", agent, message.topic, message.offset)
        await park(message, agent, type(exc).__name__, str(exc), "")


def dead_letter_headers(
    message: Any, stage: str, reason: str, detail: str, *, connector: bytes, field: str = ""
) -> list[tuple[str, bytes]]:
    """The original headers plus ``hub.error.*`` (Kafka Connect's DLQ layout)."""
    original = [
        (str(k), bytes(v) if v is not None else b"")
        for k, v in message.headers or []
        if not str(k).startswith(ERROR_PREFIX)
    ]
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


def dead_letter_entry(
    message: Any,
    stage: str,
    reason: str,
    detail: str,
    *,
    connector: bytes,
    field: str = "",
    limit: int,
) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    """The DLQ record for message: key, value, headers. The original bytes are kept when
    they fit in limit; otherwise the value is the first `KEPT_BYTES` and the headers say
    so (``hub.error.truncated``, the original size and SHA-256): the whole record stays
    readable at its source offset (``hub.error.source.*``)."""
    headers = dead_letter_headers(message, stage, reason, detail, connector=connector, field=field)
    key = message.key if isinstance(message.key, bytes) or message.key is None else None
    value = message.value or b""
    size = len(value) + len(key or b"") + sum(len(k) + len(v) for k, v in headers)
    if size <= limit - FRAMING:
        return key, value, headers
    if key is not None and len(key) > KEPT_BYTES:
        key = key[:KEPT_BYTES]
    kept = [(k, v[:KEPT_BYTES]) for k, v in headers]
    kept += [
        ("hub.error.truncated", b"true"),
        ("hub.error.original.bytes", str(len(value)).encode()),
        ("hub.error.original.sha256", hashlib.sha256(value).hexdigest().encode()),
    ]
    return key, value[:KEPT_BYTES], kept


def replay_target(headers: list[tuple[str, bytes]]) -> tuple[str, list[tuple[str, bytes]]]:
    """Where a DLQ record goes back to, and the headers it goes back with (its original
    ones, the ``hub.error.*`` ones removed)."""
    source = dict(headers).get("hub.error.source.topic")
    if not source:
        raise HubError("the DLQ record names no source topic (hub.error.source.topic)")
    return source.decode(), [(k, v) for k, v in headers if not k.startswith(ERROR_PREFIX)]

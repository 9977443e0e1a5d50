"""The dead-letter queue: its entries (Kafka Connect's layout) and the one DLQ writer.

A record a stage cannot process goes to the DLQ topic with its original key, bytes and
headers, plus ``hub.error.*`` headers saying which stage refused it, why, and where it
came from (topic, partition, offset), so that `hub dlq replay` can send it back there.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import hub.metrics as metrics
from hub.errors import HubError
from hub.wire._emitter import Emitter
from hub.wire._headers import KafkaHeaders
from hub.wire._topics import DLQ_TOPIC

log = logging.getLogger(__name__)

ERROR_PREFIX = "hub.error."
KEPT_BYTES = 64 * 1024  # of a record too large for the DLQ: its first bytes
FRAMING = 1024  # the record batch's own bytes around a record (the broker counts them)


def dead_letter_headers(
    message: Any, stage: str, reason: str, detail: str, *, connector: bytes, field: str = ""
) -> KafkaHeaders:
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
) -> tuple[bytes | None, bytes, KafkaHeaders]:
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


def replay_target(headers: KafkaHeaders) -> tuple[str, KafkaHeaders]:
    """Where a DLQ record goes back to, and the headers it goes back with (its original
    ones, the ``hub.error.*`` ones removed)."""
    source = dict(headers).get("hub.error.source.topic")
    if not source:
        raise HubError("the DLQ record names no source topic (hub.error.source.topic)")
    return source.decode(), [(k, v) for k, v in headers if not k.startswith(ERROR_PREFIX)]


async def dead_letter(
    out: Emitter,
    message: Any,
    stage: str,
    reason: str,
    detail: str,
    *,
    connector: bytes,
    field: str = "",
    limit: int,
) -> None:
    """Park message in the DLQ through out (counted, logged): the one DLQ writer of the
    stages, the connectors and the tools."""
    key, value, headers = dead_letter_entry(
        message, stage, reason, detail, connector=connector, field=field, limit=limit
    )
    log.warning("%s: DLQ %s/%s: %s", connector.decode(errors="replace"), stage, reason,
                detail[:300])
    metrics.dead_lettered(stage, reason)
    await out.send(DLQ_TOPIC, key, value, headers)

"""How every stream agent of the hub treats one record: it never stops its partition.

`handle_guarded` runs the handler on one message. A `RecordError` (undecodable,
invalid, unmappable) parks the record in the DLQ with its stage, reason and field; a
retriable `HubError` or a Kafka error (Kafka or the registry briefly away) is raised
to the pipeline, which retries the record with backoff (`hub.stream`), never parked,
since the record is fine; anything unexpected is logged and parked, so one bad record
never stalls the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.errors import KafkaError

from hub.errors import HubError, RecordError
from hub.logs import traced
from hub.metrics import PROCESSING
from hub.wire import TRACE_HEADER, header_of

log = logging.getLogger(__name__)


Park = Callable[[Any, str, str, str, str], Awaitable[None]]  # message, stage, reason, detail, field


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

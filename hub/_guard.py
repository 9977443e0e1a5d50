"""How every stream agent of the hub treats one record: it never stops its partition.

`handle_batch_guarded` runs a batch handler on a run of messages of one partition at
once (decoded, checked, encoded and written together: the pipeline's hot path). When the
handler fails on something other than a passing trouble, the run is handled again one
message at a time, so that only the bad record is parked and the rest go through.

`handle_guarded` runs the handler on one message. A `RecordError` (undecodable,
invalid, unmappable) parks the record in the DLQ with its stage, reason and field; a
retriable `HubError` or a Kafka error (Kafka or the registry briefly away) is raised
to the pipeline, which retries the record with backoff (`hub.stream`), never parked,
since the record is fine; anything unexpected is logged and parked, so one bad record
never stalls the rest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka.errors import KafkaError

from hub.errors import HubError, RecordError
from hub.logs import traced
from hub.metrics import PROCESSING
from hub.wire import TRACE_HEADER, header_of

log = logging.getLogger(__name__)


Park = Callable[[Any, str, str, str, str], Awaitable[None]]  # message, stage, reason, detail, field
Batch = Callable[[Sequence[Any]], Awaitable[None]]


def _retriable(exc: BaseException) -> bool:
    """Kafka or the registry briefly away: the pipeline retries, the records are fine."""
    return isinstance(exc, (KafkaError, TimeoutError)) or (
        isinstance(exc, HubError) and not isinstance(exc, RecordError) and exc.retriable
    )


async def handle_batch_guarded(
    handler: Batch, messages: Sequence[Any], park: Park, agent: str
) -> None:
    """Run handler(messages); on a failure that is not retriable, each message again on
    its own through `handle_guarded` (module docstring). The handler parks the records it
    refuses itself (in its step, written when it applies), so a record is never parked
    twice: a handler that raised applied nothing but the outputs sent before it raised,
    which are sent again with the same ids."""
    if len(messages) == 1:
        await handle_guarded(lambda message: handler([message]), messages[0], park, agent)
        return
    started = time.perf_counter()
    try:
        await handler(messages)
    except Exception as exc:  # noqa: BLE001 - sorted out below
        if _retriable(exc):
            raise
        log.debug("%s: a run of %d records failed (%r); handling them one by one",
                  agent, len(messages), exc)
        for message in messages:
            await handle_guarded(lambda one: handler([one]), message, park, agent)
        return
    each = (time.perf_counter() - started) / len(messages)
    histogram = PROCESSING.labels(agent)
    for _ in messages:
        histogram.observe(each)


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

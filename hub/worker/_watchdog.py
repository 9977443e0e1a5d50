"""A watchdog for partitions Faust stops reading after a rebalance.

faust-streaming 0.15 with aiokafka can keep a partition assigned, active and unpaused
after a rebalance and never hand its records to the agents again (faust-streaming
issues #471 and #629). We hit it when records arrive while a second worker joins: the
worker that kept its partitions read nothing more from them, although aiokafka had
fetched the records. Every `CHECK_SECONDS` the watchdog looks at the partitions of the
given topics this worker actively owns; one that has records to read (its high-water
mark is past what the stream has read) and whose read position has not moved for two
checks in a row, while flow is active, is sought back to its committed offset (the
log's start when nothing is committed), and the worker's tasks are logged.

A seek did not bring such a partition back in our tests, so after `KICKS_BEFORE_EXIT`
kicks without progress the worker exits with `STALL_EXIT_CODE` (70): its partitions
move to the other workers at once, and a supervisor (systemd ``Restart=``, Kubernetes,
``make run``'s loop) starts it again. Nothing is lost: offsets were not committed past
unprocessed records, and every agent applies a record once by its id.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import faust
from faust.types import TP

log = logging.getLogger(__name__)

CHECK_SECONDS = 15.0
KICKS_BEFORE_EXIT = 3
STALL_EXIT_CODE = 70


class PartitionWatchdog:
    """Remembers each partition's read position between checks."""

    def __init__(self, app: faust.App, topics: list[str]) -> None:
        self.app = app
        self.topics = set(topics)
        self._last: dict[TP, int | None] = {}
        self._strikes: dict[TP, int] = {}
        self._kicked: dict[TP, int] = {}
        self.kicks = 0
        self.exit: Callable[[int], None] = os._exit

    async def check(self) -> None:
        consumer: Any = self.app.consumer
        if not getattr(consumer, "flow_active", True):
            self._strikes.clear()  # a rebalance is under way: nothing is stuck yet
            return
        read: dict[TP, int | None] = getattr(consumer, "_read_offset", {})
        active = [tp for tp in consumer.assignment() if tp.topic in self.topics]
        for tp in active:
            position = read.get(tp)
            highwater = consumer.highwater(tp)
            behind = highwater is not None and highwater > (
                position + 1 if position is not None else 0
            )
            still = tp in self._last and self._last[tp] == position
            self._last[tp] = position
            self._strikes[tp] = self._strikes.get(tp, 0) + 1 if behind and still else 0
            if not behind or not still:
                self._kicked.pop(tp, None)
            if self._strikes[tp] >= 2:
                self._kicked[tp] = self._kicked.get(tp, 0) + 1
                if self._kicked[tp] > KICKS_BEFORE_EXIT:
                    log.error(
                        "partition %s:%d has not been read since a rebalance although it has "
                        "records (faust-streaming #629); exiting with %d so the group moves "
                        "its partitions and a supervisor restarts this worker",
                        tp.topic,
                        tp.partition,
                        STALL_EXIT_CODE,
                    )
                    logging.shutdown()
                    self.exit(STALL_EXIT_CODE)
                    return
                await self._kick(consumer, tp, position, highwater)
                self._strikes[tp] = 0

    async def _kick(self, consumer: Any, tp: TP, position: int | None, highwater: int) -> None:
        committed = await consumer.seek_to_committed()  # public: every partition, committed
        if tp not in committed:
            earliest = await consumer.earliest_offsets(tp)
            await consumer.seek(tp, earliest.get(tp, 0))
        self.kicks += 1
        if self.kicks % 10 == 1:
            self._dump_tasks()
            try:
                client = consumer._thread._ensure_consumer()
                assignment = client._subscription.subscription.assignment
                state = assignment.state_value(tp)
                log.warning(
                    "watchdog: aiokafka %s paused=%s assigned=%s valid=%s position=%s "
                    "buffered=%s fetch_task=%s",
                    tp,
                    client.paused(),
                    tp in client.assignment(),
                    getattr(state, "has_valid_position", None),
                    getattr(state, "_position", None),
                    list(getattr(client._fetcher, "_records", {}).keys())[:10],
                    getattr(client._fetcher, "_fetch_task", None),
                )
            except Exception:  # noqa: BLE001 - diagnostics only
                log.exception("watchdog: could not read the aiokafka state")
        log.warning(
            "partition %s:%d stopped being read at %s with records up to %s; sought back to "
            "its committed offset to resume (faust-streaming #629)",
            tp.topic,
            tp.partition,
            position,
            highwater,
        )

    @staticmethod
    def _dump_tasks() -> None:
        """Log where every agent and stream task waits (what an operator needs to report)."""
        import asyncio

        for task in asyncio.all_tasks():
            chain: list[str] = []
            awaited: Any = task.get_coro()
            while awaited is not None and len(chain) < 30:
                frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
                if frame is not None:
                    chain.append(
                        f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}"
                    )
                awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
            text = " <- ".join(reversed(chain))
            if "hub/" in text or "faust/agents" in text or "faust/transport" in text:
                log.warning("watchdog: task %s waits at %s", task.get_name(), text[-1500:])


def install_watchdog(
    app: faust.App, topics: list[faust.TopicT], *more: faust.TopicT
) -> PartitionWatchdog:
    """Run a `PartitionWatchdog` over the topics (and multi-topic sources) on app's timer."""
    names = [name for topic in [*topics, *more] for name in topic.topics]
    watchdog = PartitionWatchdog(app, names)
    app.timer(CHECK_SECONDS)(watchdog.check)
    return watchdog

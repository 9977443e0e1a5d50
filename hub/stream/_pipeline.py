"""The pipeline: the hub's stages consuming with aiokafka, committing only what is done.

Why not Faust's stream consumer: faust-streaming 0.15 loses records on rebalances (a
partition without a commit read from the log end, "pauses" that only edit Faust's own
sets, fetched records dropped without a seek back, stale-generation records skipped
and acknowledged, a gap check that lets a record through) — issue 14 lists them with
file and line. The fixes reach into its Consumer, Fetcher, Stream and TableManager at
once, and its tables are bound to its own group. So the stages and their tables run
here, on one aiokafka consumer and one producer; Faust keeps the worker's application,
its web server and its timers.

One loop per worker, per fetched batch (records of any partition, in order within each):

1. Each partition's records go, as one run, to the handler of the stage that consumes
   its topic (decoded, checked, encoded and sent together). The handler's outputs
   (`Emitter.send`) and table changes (`Table`) land in the batch's `Outputs`; later
   records of the batch see the batch's own table changes.
2. Every output is acknowledged by the broker (acks=all), then the table changes are
   written to their changelogs and acknowledged, then applied in memory.
3. Only then the batch's offsets count as done; done offsets are committed every
   `COMMIT_SECONDS`, when partitions are revoked, and at shutdown. A commit never passes
   a record that is not done: offsets are consecutive within a partition, and a gap in
   what the broker returns is counted and logged as an alarm.

A retriable failure (Kafka or the registry away) settles the runs before it, then
retries that run with backoff, each attempt bounded by ``HUB_KAFKA_TIMEOUT``; the
stage shows as retrying (metric and /readyz) until it succeeds. A rebalance or a
shutdown abandons the record being retried: it is not done, so its next owner (or this
worker after a restart) processes it again.

Partitions are assigned by `HubAssignor` (co-partitioned ranges, instance-ordered).
With ``group.instance.id`` (KIP-345) a worker restarted within the session timeout gets
its partitions back without a rebalance. A partition with no committed offset starts
where ``HUB_KAFKA_OFFSET_RESET`` says (aiokafka's reset, the log start by default).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, ProducerFenced, TopicAlreadyExistsError
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from hub.errors import HubError
from hub.logs import RateLimited
from hub.metrics import OFFSET_GAPS, PARTITIONS_STALLED, STAGE_RETRIES, STAGE_STUCK
from hub.settings import HubSettings
from hub.stream._assignor import HubAssignor
from hub.stream._leave import StaticLeave, leave_errors
from hub.stream._outputs import Outputs, StateWrite, bind, current, settle, unbind
from hub.stream._table import Table, decode_key, decode_value, encode_key, encode_value
from hub.wire import KafkaHeaders, aiokafka_options, new_producer, position_now, warm

log = logging.getLogger(__name__)
noisy = RateLimited(log, every=30.0)

COMMIT_SECONDS = 1.0
# Records per fetched batch: each batch waits once for its outputs' acknowledgements and
# its fences' transactions (~25 ms here); at 500 a backlog spent a third of its time
# waiting on those (bench H1: 2,200 records/s at 500, 2,500 at 2,000). Trickle traffic
# makes small batches whatever this says.
MAX_RECORDS = 2000
RECORD_SECONDS = 0.005  # each record of a run adds this to its time limit
RETRY_CAP = 10.0
STALL_SECONDS = 60.0  # a partition with records that has not moved this long is alarmed


class Abandoned(Exception):
    """Restoring was given up: the worker stops."""


@dataclass(frozen=True)
class Stage:
    """One pipeline step: the topics it consumes and what it does with a run of records
    of one partition (consecutive, in order).

    handle raises a retriable `HubError` (or a Kafka error) when trying again can help;
    a bad record is the handler's to park in the DLQ (`hub._guard`)."""

    name: str
    topics: tuple[str, ...]
    handle: Callable[[Sequence[Any]], Awaitable[None]]
    tables: tuple[Table, ...] = ()


@dataclass
class StageState:
    """What /readyz and the metrics say about a stage."""

    retrying: str | None = None
    since: float = 0.0


@dataclass
class _Progress:
    done: int | None = None  # next offset to commit (all before it done)
    committed: int | None = None
    moved_at: float = field(default_factory=time.monotonic)


class KafkaEmitter:
    """Sends the stages' outputs with the pipeline's producer; inside a batch the send is
    tracked (acknowledged before the batch is done), outside it is awaited here."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: KafkaHeaders,
        partition: int | None = None,
    ) -> None:
        producer = self._pipeline.producer
        if producer is None:
            raise HubError("the pipeline's producer is not running")
        future = await producer.send(
            topic, value=value, key=key, partition=partition, headers=headers
        )
        outputs = current()
        if outputs is not None:
            outputs.sent.append(future)
        else:
            await settle([future], self._pipeline.timeout)


class Pipeline(ConsumerRebalanceListener):  # type: ignore[misc]
    """The worker's stages on one consumer group (the app id) and one producer."""

    def __init__(
        self,
        settings: HubSettings,
        url: str,
        instance: str,
        replication: int = 3,
        outputs: Iterable[str] = (),
    ) -> None:
        """outputs: the topics the stages write, learnt by the producer as it starts."""
        self.settings = settings
        self.outputs = sorted(set(outputs))
        self.replication = replication
        self.group = settings.app_id
        self.instance = instance
        self.timeout = settings.kafka_timeout
        self.assignor = HubAssignor(url, instance)
        self.stages: dict[str, Stage] = {}
        self._by_topic: dict[str, Stage] = {}
        self.producer: AIOKafkaProducer | None = None
        self.consumer: AIOKafkaConsumer | None = None
        self._restorer: AIOKafkaConsumer | None = None
        self.emitter = KafkaEmitter(self)
        self.states: dict[str, StageState] = {}
        self.progress: dict[TopicPartition, _Progress] = {}
        self.ready: set[TopicPartition] = set()
        self.rebalancing = True
        self.restoring: set[str] = set()
        self._lock = asyncio.Lock()
        self._epoch = 0
        self._revoking = False
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._group_of: dict[str, str] = {}  # table -> the tables written together
        self._fences: dict[tuple[str, int], AIOKafkaProducer] = {}
        self._last_commit = 0.0
        self._delay = 0.5
        self._stalled: dict[str, int] = {}  # topic -> partitions not moving (the gauge)
        self._run_limits: dict[TopicPartition, int] = {}  # shortened after a timeout
        self._wake = asyncio.Event()
        self.started = asyncio.Event()

    # ------------------------------------------------------------ set-up

    def add(self, stage: Stage) -> None:
        """Run stage; one stage reads a topic (a second would silently take its records)."""
        taken = [t for t in stage.topics if t in self._by_topic]
        if taken:
            raise ValueError(
                f"stage {stage.name}: {taken} already read by "
                f"{[self._by_topic[t].name for t in taken]}; one agent per topic"
            )
        self.stages[stage.name] = stage
        self.states[stage.name] = StageState()
        group = "+".join(sorted(t.name for t in stage.tables))
        for table in stage.tables:
            self._group_of[table.name] = group
        for topic in stage.topics:
            self._by_topic[topic] = stage
        if not stage.tables:  # nothing ties its partitions to others': dealt round robin
            self.assignor.spread.update(stage.topics)

    @property
    def topics(self) -> list[str]:
        return sorted(self._by_topic)

    def tables(self) -> list[Table]:
        return list({id(t): t for s in self.stages.values() for t in s.tables}.values())

    async def start(self) -> None:
        """Connect and subscribe; the loop then runs until `stop`."""
        options = aiokafka_options(self.settings)
        self.producer = new_producer(
            self.settings, worker=True, client_id=f"hub-pipeline-{self.instance}"
        )
        session_ms = int(self.settings.kafka_session_timeout * 1000)
        self.consumer = AIOKafkaConsumer(
            group_id=self.group,
            group_instance_id=self.instance,
            client_id=f"hub-pipeline-{self.instance}",
            enable_auto_commit=False,
            auto_offset_reset=self.settings.kafka_offset_reset,
            partition_assignment_strategy=(self.assignor,),
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=min(3000, session_ms // 3),
            max_poll_interval_ms=max(300_000, session_ms),
            fetch_max_wait_ms=self.settings.kafka_fetch_wait_ms,
            fetch_min_bytes=1,  # answered as soon as one record is there: latency first
            max_partition_fetch_bytes=2 * 1024 * 1024,
            **options,
        )
        self._restorer = AIOKafkaConsumer(
            group_id=None,
            enable_auto_commit=False,
            client_id="hub-restore",
            fetch_max_wait_ms=20,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            isolation_level="read_committed",  # a fenced zombie's aborted writes unseen
            **options,
        )
        await self.ensure_changelogs()
        await self.producer.start()
        if self.outputs:
            await warm(self.producer, self.outputs)
        await self._restorer.start()
        await self.consumer.start()
        self.consumer.subscribe(self.topics, listener=self)
        for topic in self.topics:  # every alarm has a series from the start (0: none yet)
            OFFSET_GAPS.labels(topic)
            PARTITIONS_STALLED.labels(topic).set(0)
        self._task = asyncio.create_task(self._run(), name="hub-pipeline")

    async def ensure_changelogs(self) -> None:
        """Create the tables' changelog topics that do not exist yet (compacted, one
        partition per source partition)."""
        tables = self.tables()
        if not tables:
            return
        admin = AIOKafkaAdminClient(**aiokafka_options(self.settings))
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            configs = {"cleanup.policy": "compact"}
            if self.replication >= 3:
                configs["min.insync.replicas"] = "2"
            wanted = [
                NewTopic(t.changelog, t.partitions, self.replication, topic_configs=configs)
                for t in tables
                if t.changelog not in existing
            ]
            if wanted:
                try:
                    await admin.create_topics(wanted)
                except TopicAlreadyExistsError:
                    pass  # another worker made it meanwhile
                log.info("created changelog topics %s", [t.name for t in wanted])
        finally:
            await admin.close()

    # ---------------------------------------------------------- the loop

    async def _run(self) -> None:
        consumer = self.consumer
        assert consumer is not None  # noqa: S101
        while not self._stopping:
            epoch = self._epoch
            try:
                batch = await consumer.getmany(timeout_ms=500, max_records=MAX_RECORDS)
            except KafkaError as exc:
                noisy.warning("pipeline: fetching failed: %r", exc)
                await self._pause(1.0)
                continue
            failed = False
            async with self._lock:
                if epoch != self._epoch or self._revoking:
                    # fetched across a rebalance: put the positions back, so that these
                    # records are fetched again rather than skipped
                    for tp, records in batch.items():
                        self._seek(tp, records[0].offset)
                    continue
                if batch:
                    failed = not await self._process_batch(batch)
                if time.monotonic() - self._last_commit >= COMMIT_SECONDS:
                    await self._commit()
            if failed:
                await self._pause(self._delay)
                self._delay = min(self._delay * 2, RETRY_CAP)
            elif batch:
                self._delay = 0.5
            self._alarm_stalls()

    async def _pause(self, seconds: float) -> None:
        """Sleep, woken early by a rebalance or a stop."""
        self._wake.clear()
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _process_batch(self, batch: dict[TopicPartition, list[Any]]) -> bool:
        """Process, settle and mark one batch; False when a retriable failure stopped it
        (what was not done is read again after a backoff)."""
        outputs = Outputs(partition=-1)
        done: dict[TopicPartition, int] = {}
        failure: tuple[str, str] | None = None
        stages: set[str] = set()
        for tp, records in batch.items():
            if tp not in self.ready or not records:
                continue
            progress = self.progress.setdefault(tp, _Progress())
            if progress.done is None:
                # the first records since the assignment: all before them are done (the
                # consumer started there), and they are not until they are (`in_flight`);
                # marked for every partition of the batch before any is handled, as the
                # consumer's position is past them all already
                progress.done = records[0].offset
        for tp, records in batch.items():
            if tp not in self.ready or failure is not None:
                continue
            if self._revoking or self._stopping:
                break
            expected = self.progress[tp].done
            run: list[Any] = []
            limit = self._run_limits.get(tp, MAX_RECORDS)
            for record in records:
                if len(run) >= limit:
                    break  # the rest is read again
                if self._in_sequence(tp, expected, record.offset):
                    run.append(record)
                    expected = record.offset + 1
            if not run:
                continue
            stage = self._by_topic[tp.topic]
            stages.add(stage.name)
            outputs.partition = tp.partition
            token = bind(outputs)
            try:
                async with asyncio.timeout(self.timeout * 2 + len(run) * RECORD_SECONDS):
                    await stage.handle(run)
            except Exception as exc:  # noqa: BLE001 - retried; the guard parks bad records
                failure = (stage.name, f"{tp.topic}:{tp.partition}@{run[0].offset}-"
                           f"{run[-1].offset}: {getattr(exc, 'message', None) or repr(exc)}")
                if isinstance(exc, TimeoutError) and len(run) > 1:
                    self._shorten(tp, len(run))
                break
            finally:
                unbind(token)
            done[tp] = run[-1].offset + 1
            if tp in self._run_limits:
                self._lengthen(tp)
        if done or outputs.sent or outputs.writes:
            try:
                await self._settle(outputs)
                self._mark(done)
            except Exception as exc:  # noqa: BLE001 - retried from the last done offset
                failure = failure or (
                    ",".join(sorted(stages)), f"outputs not acknowledged: {exc!r}"
                )
        for tp, records in batch.items():  # read again what is not done
            kept = self.progress.get(tp)
            first = kept.done if kept and kept.done is not None else records[0].offset
            if records[-1].offset >= first:
                self._seek(tp, first)
        if failure is None:
            for name in stages:
                self._flowing(name)
            return True
        for name in failure[0].split(","):
            self._retrying(name, failure[1])
        return False

    def _shorten(self, tp: TopicPartition, length: int) -> None:
        """A run of tp outlasted its time limit: the next ones are a quarter as long. A
        stage whose records each wait on Kafka (a subscription's delivery reads its
        dataset) would otherwise time out on the same long run again and again, and
        the partition would never move."""
        shorter = max(1, length // 4)
        self._run_limits[tp] = shorter
        log.warning("pipeline: a run of %d records of %s:%d outlasted its time limit; "
                    "runs of at most %d from now on / 该分区一批%d条记录处理超时，此后每批"
                    "至多%d条", length, tp.topic, tp.partition, shorter, length, shorter)

    def _lengthen(self, tp: TopicPartition) -> None:
        """A short run went through: the next may be twice as long, up to MAX_RECORDS."""
        longer = self._run_limits[tp] * 2
        if longer >= MAX_RECORDS:
            del self._run_limits[tp]
        else:
            self._run_limits[tp] = longer

    def _retrying(self, name: str, reason: str) -> None:
        state = self.states[name]
        if state.retrying is None:
            state.since = time.monotonic()
        state.retrying = reason[:400]
        STAGE_STUCK.labels(name).set(1)
        STAGE_RETRIES.labels(name).inc()
        noisy.warning("%s: %s; retrying in %.1f s", name, state.retrying, self._delay)

    def _flowing(self, name: str) -> None:
        state = self.states[name]
        if state.retrying is not None:
            log.info("%s: flowing again after %.0f s", name, time.monotonic() - state.since)
            state.retrying = None
            STAGE_STUCK.labels(name).set(0)

    @staticmethod
    def _in_sequence(tp: TopicPartition, expected: int | None, offset: int) -> bool:
        """Whether offset is the one expected next in tp (gaps are alarmed, repeats
        skipped)."""
        if expected is None or offset == expected:
            return True
        if offset < expected:
            return False  # already done here
        OFFSET_GAPS.labels(tp.topic).inc()
        log.error(
            "pipeline: %s:%d jumped from offset %d to %d; records %d-%d were not returned "
            "by the broker (deleted by retention, or compacted) and were not processed",
            tp.topic, tp.partition, expected, offset, expected, offset - 1,
        )
        return True

    async def _settle(self, outputs: Outputs) -> None:
        """Outputs acknowledged, then the state changes committed, one transaction per
        partition's tables (its fence), the fences' at once, then applied in memory.

        At once: each transaction is three round trips (~5-15 ms here), and a batch that
        touched five partitions waited for them one after another, which made the next
        batch bigger still (the first seconds of a load: p50 ~50 ms, bench L1). A fence
        that fails leaves the batch not done, as before: the others' writes are written
        again, with the same values, when its records are processed again."""
        async with asyncio.timeout(self.timeout):
            await settle(outputs.sent, self.timeout)
        writes = list(outputs.writes.values())
        by_fence: dict[tuple[str, int], list[StateWrite]] = {}
        for w in writes:
            by_fence.setdefault((self._group_of[w.table.name], w.partition), []).append(w)
        results = await asyncio.gather(
            *(self._write_state(fence, group) for fence, group in by_fence.items()),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        for w in writes:
            w.table.apply(w.partition, w.key, w.value)

    async def _write_state(self, fence: tuple[str, int], writes: list[StateWrite]) -> None:
        """Write one partition's table changes in a transaction of its fence producer.

        The fence's transactional id is the partition's (``<app>-<tables>-<N>``): the
        worker that owns partition N now started it on assignment, which fenced any
        earlier owner (one paused past its session and still writing: a zombie), and
        the changelogs are restored read_committed. So only the owner's changes count.
        """
        producer = self._fences.get(fence)
        if producer is None:
            self._rejoin(fence)
            raise HubError(f"partition {fence[1]} of {fence[0]} has no fence here; rejoining")
        try:
            async with asyncio.timeout(self.timeout):
                await producer.begin_transaction()
                for w in writes:
                    await producer.send(
                        w.table.changelog,
                        key=encode_key(w.key),
                        value=encode_value(w.value),
                        partition=w.partition,
                    )
                await producer.commit_transaction()
        except ProducerFenced:
            # another worker took the partition over, or the broker aborted the open
            # transaction (transaction.timeout.ms, brokers down): the group decides
            log.warning("pipeline: the fence of %s partition %d was fenced (taken over, or "
                        "its transaction timed out); rejoining the group", *fence)
            self._fences.pop(fence, None)
            await self._close_quietly(producer)
            self._rejoin(fence)
            raise
        except Exception:
            # a transaction left open cannot be reused: start the fence again
            self._fences.pop(fence, None)
            await self._close_quietly(producer)
            try:
                self._fences[fence] = await self._open_fence(*fence)
            except (KafkaError, TimeoutError) as exc:
                noisy.warning("pipeline: reopening the fence of %s/%d failed: %r",
                              fence[0], fence[1], exc)
                self._rejoin(fence)
            raise

    def _rejoin(self, fence: tuple[str, int]) -> None:
        """A partition whose fence is lost is retried only through the group: rejoin, so
        that the assignment says whose it is and `_fence` starts it again if it is still
        this worker's (reopening it here could fence its new owner). Without this, a
        fence lost while brokers were down stayed lost and its partitions never moved."""
        consumer = self.consumer
        if consumer is None or self._stopping or self.rebalancing:
            return  # a rebalance under way starts every fence again anyway
        coordinator = getattr(consumer, "_coordinator", None)  # aiokafka has no public call
        if coordinator is not None and hasattr(coordinator, "request_rejoin"):
            noisy.warning("pipeline: %s/%d has no fence; rejoining the group", *fence)
            coordinator.request_rejoin()

    async def _open_fence(self, group: str, partition: int) -> AIOKafkaProducer:
        producer = new_producer(
            self.settings,
            worker=True,
            transactional_id=f"{self.group}-{group}-{partition}",
            client_id=f"hub-state-{group}-{partition}",
        )
        try:
            async with asyncio.timeout(max(30.0, self.timeout * 4)):
                await producer.start()  # init_transactions: fences the partition's last owner
                await warm(producer, [t.changelog for t in self.tables()
                                      if self._group_of[t.name] == group])
        except BaseException:
            await self._close_quietly(producer)  # tried again with a new one: none left over
            raise
        return producer

    @staticmethod
    async def _close_quietly(producer: AIOKafkaProducer) -> None:
        try:
            async with asyncio.timeout(3.0):
                await producer.stop()
        except Exception:  # noqa: BLE001 - a fenced or broken producer is dropped anyway
            log.debug("closing a fence producer failed", exc_info=True)

    async def _fence(self, assigned: set[TopicPartition]) -> None:
        """Own the fence of every stateful partition assigned; close the others'."""
        wanted: set[tuple[str, int]] = set()
        for stage in self.stages.values():
            if not stage.tables:
                continue
            group = self._group_of[stage.tables[0].name]
            wanted |= {(group, tp.partition) for tp in assigned if tp.topic in stage.topics}
        # every assignment starts every fence again: that fences whoever wrote them last
        # (this worker's own earlier producers may have been fenced meanwhile)
        await asyncio.gather(*(self._close_quietly(p) for p in self._fences.values()))
        self._fences.clear()
        async def open_one(fence: tuple[str, int]) -> None:
            delay = 0.5
            while True:
                if self._stopping:
                    raise Abandoned("stopping")
                try:
                    self._fences[fence] = await self._open_fence(*fence)
                    return
                except (KafkaError, TimeoutError) as exc:
                    noisy.warning("pipeline: starting the fence of %s/%d failed (%r); "
                                  "retrying", fence[0], fence[1], exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_CAP)

        await asyncio.gather(*(open_one(fence) for fence in sorted(wanted)))

    def _mark(self, done: dict[TopicPartition, int]) -> None:
        now = time.monotonic()
        for tp, offset in done.items():
            progress = self.progress.setdefault(tp, _Progress())
            progress.done = offset
            progress.moved_at = now

    async def _commit(self) -> bool:
        """Commit every done offset of the assigned partitions; False when it failed."""
        consumer = self.consumer
        if consumer is None:
            return True
        assigned = consumer.assignment()
        offsets = {
            tp: OffsetAndMetadata(p.done, "")
            for tp, p in self.progress.items()
            if p.done is not None and p.done != p.committed and tp in assigned
        }
        self._last_commit = time.monotonic()
        if not offsets:
            return True
        try:
            async with asyncio.timeout(self.timeout):
                await consumer.commit(offsets)
        except (KafkaError, TimeoutError) as exc:
            noisy.warning("pipeline: commit failed (%r); done records stay uncommitted", exc)
            return False
        for tp, meta in offsets.items():
            self.progress[tp].committed = meta.offset
        return True

    def _seek(self, tp: TopicPartition, offset: int) -> None:
        if self.consumer is not None and tp in self.consumer.assignment():
            self.consumer.seek(tp, offset)

    def _alarm_stalls(self) -> None:
        consumer = self.consumer
        if consumer is None:
            return
        now = time.monotonic()
        stalled: dict[str, int] = {}
        for tp in self.ready:
            progress = self.progress.get(tp)
            if progress is None or progress.done is None:
                continue
            highwater = consumer.highwater(tp)
            if highwater is not None and highwater > progress.done:
                if now - progress.moved_at > STALL_SECONDS:
                    stalled[tp.topic] = stalled.get(tp.topic, 0) + 1
                    noisy.error(
                        "pipeline: %s:%d has records up to %d but has not moved from %d for "
                        "%.0f s", tp.topic, tp.partition, highwater, progress.done,
                        now - progress.moved_at,
                    )
            else:
                progress.moved_at = now
        if stalled != self._stalled:  # the gauge moves only when the picture changes
            for topic in stalled.keys() | self._stalled.keys():
                PARTITIONS_STALLED.labels(topic).set(stalled.get(topic, 0))
            self._stalled = stalled

    # ------------------------------------------------------- rebalancing

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self.rebalancing = True
        self._revoking = True
        self._wake.set()
        async with self._lock:
            await self._commit()
            self.ready.clear()
            self._epoch += 1
            # The partitions may come back, but another worker may have owned them in
            # between (this one paused past its session: aiokafka reports that as a
            # revocation too), so their tables are read again from the changelogs.
            for table in self.tables():
                for partition in table.held():
                    table.drop(partition)
        self._revoking = False

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        consumer = self.consumer
        assert consumer is not None  # noqa: S101
        assigned = set(assigned)
        self._epoch += 1
        consumer.pause(*assigned)
        for tp in list(self.progress):
            if tp not in assigned:
                del self.progress[tp]
        for tp in assigned:
            self.progress[tp] = _Progress()  # positions come from the committed offsets
        try:
            await self._fence(assigned)
            await self._restore(assigned)
        except Abandoned:
            return
        self.ready = set(assigned)
        consumer.resume(*assigned)
        self.rebalancing = False
        self.started.set()
        by_topic: dict[str, list[int]] = {}
        for tp in sorted(assigned):
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        log.info(
            "Worker ready: %s owns %d partitions: %s", self.instance, len(assigned),
            "; ".join(f"{t} {p}" for t, p in sorted(by_topic.items()) if not t.startswith("raw.")),
        )

    async def _restore(self, assigned: set[TopicPartition]) -> None:
        """Bring each table's partitions of the new assignment up from its changelog.

        What was restored lives until the partition moves: it is frozen out of the
        collector's sight (`gc.freeze`), so that a full collection scans what records
        made since, not the history held (100,000 order views: half a million objects). The
        views are plain JSON values, freed by their reference counts when dropped."""
        restored = 0
        for table in self.tables():
            sources = {t for s in self.stages.values() if table in s.tables for t in s.topics}
            wanted = {tp.partition for tp in assigned if tp.topic in sources}
            for partition in table.held() - wanted:
                table.drop(partition)
            missing = sorted(wanted - table.held())
            if not missing:
                continue
            self.restoring.add(table.name)
            delay = 0.5
            while True:
                if self._stopping:
                    raise Abandoned("stopping")
                try:
                    started = time.monotonic()
                    async with asyncio.timeout(max(30.0, self.timeout * 6)):
                        count = await self._read_changelog(table, missing)
                    break
                except (KafkaError, TimeoutError) as exc:
                    noisy.warning("restoring table %s failed (%r); retrying", table.name, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_CAP)
            self.restoring.discard(table.name)
            restored += count
            log.info(
                "table %s: partitions %s restored from %s (%d changes, %.2f s)",
                table.name, missing, table.changelog, count, time.monotonic() - started,
            )
        if restored:
            gc.collect()
            gc.freeze()

    async def _read_changelog(self, table: Table, partitions: list[int]) -> int:
        consumer = self._restorer
        assert consumer is not None  # noqa: S101
        tps = [TopicPartition(table.changelog, p) for p in partitions]
        consumer.assign(tps)
        data: dict[int, dict[str, Any]] = {p: {} for p in partitions}
        count = 0
        try:
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            for tp in tps:
                while await consumer.position(tp) < ends[tp]:
                    async with asyncio.timeout(self.timeout * 4):
                        batch = await consumer.getmany(tp, timeout_ms=1000)
                    for record in batch.get(tp, []):
                        if record.offset >= ends[tp]:
                            break
                        key = decode_key(record.key)
                        if key is None:
                            continue
                        value = decode_value(record.value)
                        if value is None:
                            data[tp.partition].pop(key, None)
                        else:
                            data[tp.partition][key] = value
                        count += 1
        finally:
            # read to its end: assigned, it would fetch the changelogs every 20 ms for good
            # (what an idle worker spent most of its CPU on)
            consumer.unsubscribe()
        for partition, held in data.items():
            table.restored(partition, held)
        return count

    # -------------------------------------------------------- shutdown

    async def stop(self, grace: float) -> list[str]:
        """Finish the record in hand, settle, commit, leave; what could not be done."""
        left: list[str] = []
        self._stopping = True
        self._wake.set()
        deadline = time.monotonic() + grace

        def remaining() -> float:
            return max(0.1, deadline - time.monotonic())

        if self._task is not None:
            try:
                async with asyncio.timeout(remaining() * 0.5):
                    await asyncio.shield(self._task)
            except TimeoutError:
                self._task.cancel()
                left.append("a batch was still being processed (it is read again)")
            except Exception as exc:  # noqa: BLE001 - report, keep stopping
                left.append(f"the pipeline loop failed: {exc!r}")
        if self.producer is not None:
            try:
                async with asyncio.timeout(remaining() * 0.4):
                    await self.producer.flush()
            except TimeoutError:
                left.append("the producer could not flush (brokers away?)")
        if self.consumer is not None and not await self._commit_within(remaining() * 0.5):
            left.append("done offsets could not be committed (read again by the next owner)")
        await asyncio.gather(*(self._close_quietly(p) for p in self._fences.values()))
        self._fences.clear()
        coordinator = getattr(self.consumer, "_coordinator", None)
        member = getattr(coordinator, "member_id", "") if coordinator else ""
        node = getattr(coordinator, "coordinator_id", None) if coordinator else None
        if self.consumer is not None:
            try:
                async with asyncio.timeout(max(0.5, remaining() / 3)):
                    await self.consumer.stop()
            except TimeoutError:
                left.append("the consumer did not close in time")
            except Exception as exc:  # noqa: BLE001 - report, keep stopping
                left.append(f"the consumer failed to close: {exc!r}")
            self.consumer = None
        if member and node is not None and self._restorer is not None:
            problem = await self._leave(node, member, max(0.5, remaining() / 3))
            if problem:
                left.append(problem)
        for name, client in (("restorer", self._restorer), ("producer", self.producer)):
            if client is None:
                continue
            try:
                async with asyncio.timeout(max(0.5, remaining() / 3)):
                    await client.stop()
            except TimeoutError:
                left.append(f"the {name} did not close in time")
            except Exception as exc:  # noqa: BLE001 - report, keep stopping
                left.append(f"the {name} failed to close: {exc!r}")
        return left

    async def _leave(self, node: int, member: str, seconds: float) -> str | None:
        """Leave the group as a static member, so that its partitions move now. The
        client sending it may not know the coordinator's broker yet (after brokers came
        back: 'not in current metadata', found by the brokers fault case): it learns the
        cluster again and tries once more."""
        assert self._restorer is not None  # noqa: S101
        client = self._restorer._client
        try:
            async with asyncio.timeout(seconds):
                for attempt in (1, 2):
                    try:
                        if client.cluster.broker_metadata(node) is None:
                            await client.force_metadata_update()
                        response = await client.send(
                            node, StaticLeave(self.group, member, self.instance)
                        )
                        break
                    except KafkaError:
                        if attempt == 2:
                            raise
                        await client.force_metadata_update()
        except (KafkaError, TimeoutError) as exc:
            return f"could not leave the group ({exc!r}): its partitions move after the " \
                "session timeout"
        errors = leave_errors(response)
        if errors:
            return f"leaving the group answered error codes {errors}"
        log.info("pipeline: %s left group %s", self.instance, self.group)
        return None

    async def _commit_within(self, seconds: float) -> bool:
        saved, self.timeout = self.timeout, min(self.timeout, seconds)
        try:
            return await self._commit()
        finally:
            self.timeout = saved

    # ------------------------------------------------------------ status

    def owned(self, topic: str) -> set[int]:
        """The partitions of topic this worker owns (restored and reading)."""
        return {tp.partition for tp in self.ready if tp.topic == topic}

    def behind(self, topic: str, partition: int) -> bool:
        """Whether this worker has records of topic's partition it has not done yet."""
        tp = TopicPartition(topic, partition)
        progress = self.progress.get(tp)
        if self.consumer is None or progress is None or tp not in self.ready:
            return True
        highwater = self.consumer.highwater(tp)
        if highwater is None or progress.done is None:
            return True
        return bool(highwater > progress.done)

    def in_flight(self, topic: str, partition: int) -> bool:
        """Whether records of topic's partition were written, as far as the last fetch
        saw, that this worker has not done yet (True when it cannot tell: not its
        partition, nothing fetched yet)."""
        tp = TopicPartition(topic, partition)
        if self.consumer is None or tp not in self.ready:
            return True
        highwater = self.consumer.highwater(tp)
        done = self._done(tp)
        return highwater is None or done is None or highwater > done

    def _done(self, tp: TopicPartition) -> int | None:
        """The next offset of tp not done here; before any is done since the assignment,
        where the consumer stands (None: it cannot tell)."""
        progress = self.progress.get(tp)
        done = progress.done if progress is not None else None
        if done is None and self.consumer is not None:
            done = position_now(self.consumer, tp)
        return done

    async def in_flight_now(self, topic: str, partition: int) -> bool:
        """`in_flight`, confirmed with the broker when the last fetch saw nothing left to
        do: a record written since (by a worker that held the partition a moment ago and
        was slow to answer, or just now) is in flight too. One ListOffsets round trip, for
        the rare answers that must not be given on a stale view (a refusal, a 404)."""
        if self.in_flight(topic, partition):
            return True
        assert self.consumer is not None  # noqa: S101 - in_flight says True without one
        tp = TopicPartition(topic, partition)
        try:
            async with asyncio.timeout(self.settings.kafka_timeout):
                end = (await self.consumer.end_offsets([tp]))[tp]
        except (KafkaError, TimeoutError):
            return True  # cannot tell: as if in flight
        done = self._done(tp)
        return done is None or end > done

    async def applied_to_now(self, topic: str, partition: int, seconds: float) -> bool:
        """Whether this worker has done every record written to topic's partition before
        now, waiting up to seconds for them (the broker asked where the log ends, once).
        For a partition written to all the time (the subscriptions', by the pump), where
        `in_flight_now` is rarely False: records written after the question do not
        count."""
        tp = TopicPartition(topic, partition)
        if self.consumer is None or tp not in self.ready:
            return False
        until = time.monotonic() + seconds
        try:
            async with asyncio.timeout(self.settings.kafka_timeout):
                end = (await self.consumer.end_offsets([tp]))[tp]
        except (KafkaError, TimeoutError):
            return False  # cannot tell: as if not
        while True:
            done = self._done(tp)
            if done is not None and done >= end:
                return True
            if tp not in self.ready or time.monotonic() >= until:
                return False
            await asyncio.sleep(0.05)

    def owner(self, topic: str, partition: int) -> str | None:
        return self.assignor.owner(topic, partition)

    def urls(self) -> list[str]:
        return sorted(self.assignor.placement)

    def stuck(self) -> dict[str, str]:
        """Stage → why it is retrying, for the stages that are."""
        now = time.monotonic()
        return {
            name: f"retrying for {now - s.since:.0f} s: {s.retrying}"
            for name, s in self.states.items()
            if s.retrying is not None
        }

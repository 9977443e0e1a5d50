"""The cases stage: every revision of a case on ``enf.case.v1`` is kept, and goes to the
parties that supervise the case (docs/design.md §4; rules 三.三, 三.四, 四.六).

A case keeps its record id for life and changes by revision. The stage is the sole
owner of the ``cases`` table: per case, every revision it has seen (number, status,
what it said, when the hub received it) and the latest revision whole. A revision seen
before with other content is parked (``case.revision_changed``): the gateway refuses it
with 409, this is the check for what reaches Kafka another way. For every revision, each
supervisor of the case (`hub.dispatch.readers_of`, from supervision.yaml) gets a
`CaseNotice` with the fields its entry allows, in its inbox and on ``sup.case.v1``;
again, with the same ids, whenever the revision is processed again.

The agent runs the disclose step's core too (`hub.stages.disclose`): the runtime hands
``enf.case.v1``'s records to one agent, which keeps both tables (``cases``,
``disclosed``). A revision parked as changed is not disclosed. It also reads
``enf.execution.v1`` (co-partitioned, keyed by case) and runs the execution step's core
(`hub.stages.execution`) on the same ``cases`` entries: what became of a decided fine.

The stage is also the worker's case book: what ``GET /v1/cases`` reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from yarl import URL

from hub.dispatch import (
    CreditIndex,
    DueIndex,
    EnforcementPeriods,
    Supervision,
    notice_of,
    readers_of,
)
from hub.records import KINDS, EnforcementCase, content_digest
from hub.reference import Reference, WorkCalendar
from hub.serde import AvroSerde
from hub.stages._base import Out, Park, Read, StageBase, State, Step
from hub.stages.disclose import disclose, disclosure_credits
from hub.stages.execution import ExecutionWorld, execute, notice_due_at
from hub.stages.lifecycle import Ownership
from hub.stream import Stage, Table
from hub.wire import Emitter, HubHeaders, inbox_topic, partition_for


@dataclass(frozen=True)
class CaseWorld:
    """What the cases core knows beyond its table."""

    reference: Reference
    supervision: Supervision
    inboxes: Mapping[str, str]  # party -> its inbox topic


def revise(reads: Sequence[Read[EnforcementCase]], cases: State, world: CaseWorld) -> Step:
    """The core: keep each revision, park a changed one, notify the supervisors."""
    step = Step()
    for read in reads:
        case = read.record
        key = str(case.record_id)
        stored = cases.get(key) or {"revisions": []}
        said = content_digest(case)
        seen = next((r for r in stored["revisions"] if r["revision"] == case.revision), None)
        if seen is not None and seen["digest"] != said:
            step.parked.append(Park(
                read.message, "cases", "case.revision_changed",
                f"case {key} revision {case.revision} was received before with other "
                f"content; send the change as revision {case.revision + 1} / 该案件第"
                f"{case.revision}版已以不同内容接收：请将修改作为第{case.revision + 1}版发送",
            ))
            continue
        if seen is None:
            revisions = sorted(
                [*stored["revisions"], {
                    "revision": case.revision,
                    "digest": said,
                    "status": case.status.value,
                    "received_at": case.received_at.isoformat(),
                }],
                key=lambda r: int(r["revision"]),
            )
            current = stored.get("current")
            entry = {**stored, "revisions": revisions, "partition": read.message.partition}
            if current is None or case.revision >= int(current["revision"]):
                entry["current"] = case.model_dump(mode="json")
            cases[key] = entry
        readers = readers_of(case, world.reference, world.supervision)
        headers = HubHeaders(kind="case-notice", trace_id=case.trace_id)
        for reader, supervisor in readers:
            notice = notice_of(case, reader, supervisor)
            for topic in (KINDS["case-notice"].topic, world.inboxes.get(reader)):
                if topic is not None:
                    step.out.append(Out(topic, key.encode(), headers, record=notice))
        step.note(
            case.trace_id,
            f"case {key} revision {case.revision} ({case.status.value}) to its supervisors "
            f"{[reader for reader, _ in readers]}"
        )
    return step


class CaseRevisions(StageBase):
    """The agent around `revise` and `disclose`, and the worker's case book."""

    agent = "cases"

    def __init__(
        self,
        out: Emitter,
        ownership: Ownership,
        serde: AvroSerde,
        reference: Callable[[], Reference],
        supervision: Supervision,
        periods: EnforcementPeriods,
        app_id: str,
        partitions: int,
        reference_ready: asyncio.Event | None = None,
        record_limit: int = 1024 * 1024,
        calendar: WorkCalendar | None = None,
    ) -> None:
        """calendar: the working days a disclosure is due in (none: never late)."""
        super().__init__(out, serde, reference, reference_ready, record_limit)
        self.ownership = ownership
        self.supervision = supervision
        self.periods = periods
        self.calendar = calendar
        self.executions_topic = KINDS["execution"].topic
        self.partitions = partitions
        self.topic = KINDS["case"].topic
        self.inboxes = {
            party.id: inbox_topic(party.id) for party in reference().parties.with_inbox()
        }
        # case record id -> {"revisions": [...], "current": case JSON, "partition": n}
        self.table = Table("cases", app_id, partitions)
        # disclosure id -> {"revision", "digest", "case_no"} (`hub.stages.disclose`)
        self.disclosed = Table("disclosed", app_id, partitions)
        self.credits = CreditIndex(disclosure_credits)  # the counters, kept as they change
        self.disclosed.watch(self.credits)
        # when each case's fine has its next notice due, kept as the cases change
        self.fines = DueIndex(lambda _, entry: notice_due_at(entry, periods))
        self.table.watch(self.fines)
        self.bigdata_inbox = self.inboxes.get("bigdata")

    def stages(self) -> list[Stage]:
        tables = (self.table, self.disclosed)
        return [
            Stage("cases", (self.topic,), self.guarded(self.handle_case), tables),
            Stage("executions", (self.executions_topic,), self.guarded(self.handle_execution),
                  tables),
        ]

    async def handle_execution(self, messages: Sequence[Any]) -> None:
        refused = Step()
        reads = await self.decoded("execution", messages, refused)
        cases = State(self.table)
        world = ExecutionWorld(self.periods, self.inboxes)
        step = execute(reads, cases, world)
        step.parked[:0] = refused.parked
        await self.apply(step, (self.table, cases))

    async def handle_case(self, messages: Sequence[Any]) -> None:
        # checked against the reference data where it entered; a case kept in Kafka
        # stays readable when its officers or the catalogue change later
        undecoded = Step()
        reads = await self.decoded("case", messages, undecoded)
        cases, disclosed = State(self.table), State(self.disclosed)
        world = CaseWorld(self.reference(), self.supervision, self.inboxes)
        step = revise(reads, cases, world)
        refused = {id(park.message) for park in step.parked}
        step.parked[:0] = undecoded.parked
        published = disclose(
            [r for r in reads if id(r.message) not in refused], disclosed, self.bigdata_inbox,
            self._disclosure_due,
        )
        step.out += published.out
        await self.apply(step, (self.table, cases), (self.disclosed, disclosed))

    def _disclosure_due(self, decided_at: datetime) -> datetime:
        """When a decision made at decided_at is to be disclosed by."""
        if self.calendar is None:
            return datetime.max.replace(tzinfo=UTC)
        return self.calendar.add_working_days(decided_at, self.periods.disclosure.working_days)

    # ------------------------------------------------------------- the book

    def assessment_shares(self, period: str) -> dict[str, list[dict[str, Any]]]:
        """The disclosure counters of period of the partitions this worker owns."""
        return self.credits.shares(period, self.ownership.owned(self.topic))

    def stored(self, case_id: str) -> dict[str, Any] | None:
        """A case's revisions and its latest revision, None when not held here."""
        stored = self.table.get(case_id)
        return dict(stored) if stored is not None else None

    def due_cases(self, now: datetime) -> list[dict[str, Any]]:
        """The cases of the partitions this worker actively owns with a notice due by now
        (a heap of due times, not a scan of every case)."""
        return [dict(entry) for entry in self.fines.due(now, self.ownership.owned(self.topic))]

    def active_cases(self) -> list[dict[str, Any]]:
        """The cases of the partitions this worker actively owns."""
        owned = self.ownership.owned(self.topic)
        return [
            dict(value)
            for _, value in list(self.table.items())
            if value is not None and value.get("partition") in owned
        ]

    async def settled(self, case_id: str) -> bool:
        partition = partition_for(case_id, self.partitions)
        for topic in (self.topic, self.executions_topic):
            if await self.ownership.in_flight_now(topic, partition):
                return False
        return True

    def owner_of(self, case_id: str) -> URL | None:
        """The URL of the worker whose partitions hold case_id."""
        url = self.ownership.owner(self.topic, partition_for(case_id, self.partitions))
        return URL(url) if url else None

    def worker_urls(self) -> list[URL]:
        return [URL(url) for url in self.ownership.urls()]

"""The execution step: what became of each decided fine (docs/design.md §4).

``enf.execution.v1`` is keyed by the case and co-partitioned with ``enf.case.v1``, so the
cases agent (`hub.stages.cases.CaseRevisions`) applies a case's executions to the same
``cases`` table entry as its revisions, under ``executions`` (id, type, amount, time,
who). Each applied execution goes to the deciding party's and the finance bureau's
inboxes (罚缴分离: finance oversees fines); one the entry holds already goes there again,
with the same id, and changes nothing; the same id with other content is parked
(``record.changed``).

What is refused here reached Kafka without the gateway's check (it answers the same
rules with 404/422 where it can see the case), and is parked with its reason: a case the
hub has not seen (``execution.case_unknown``), a decision number that is not the case's
fine (``execution.no_such_fine``), a publisher that may not report it
(``execution.not_entitled``: the decider reports everything, finance payments only, the
hub its own notices).

`enforcement_notices` is the clock: for every open fine it raises the notices
`hub.dispatch.notices_due` says are due, as executions from the hub with ids the notice
fixes (``<case>/<type>``), so a second sweep or another worker raises the same records,
applied once. An ``APPLICATION_RAISED`` applied carries the application to the court: an
ENFORCEMENT_APPLICATION order from the decider (`application_of`), whose id the case
fixes, on ``enf.order.v1``; the lifecycle stage delivers it and keeps its deadlines.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust

from hub.dispatch import (
    FINANCE,
    EnforcementPeriods,
    Standing,
    fine_of,
    may_report,
    next_notice_at,
    notices_due,
    standing,
)
from hub.records import (
    HUB_EXECUTION_TYPES,
    KINDS,
    DispatchOrder,
    EnforcementCase,
    Execution,
    ExecutionType,
    content_digest,
    derive_record_id,
)
from hub.reference import Reference
from hub.serde import AvroSerde
from hub.stages._base import Out, Park, Read, StageBase, State, Step
from hub.wire import Emitter, HubHeaders

COURT = "court"


@dataclass(frozen=True)
class ExecutionWorld:
    """What the execution core knows beyond the cases table."""

    periods: EnforcementPeriods
    inboxes: Mapping[str, str]  # party -> its inbox topic


def execute(reads: Sequence[Read[Execution]], cases: State, world: ExecutionWorld) -> Step:
    """The core: apply each execution to its case's entry, deliver it, park what cannot be."""
    step = Step()
    for read in reads:
        execution = read.record
        key = str(execution.case_id)
        stored = cases.get(key)
        current = stored.get("current") if stored else None
        refusal = _refusal(execution, current)
        if refusal is not None:
            step.parked.append(Park(read.message, "execution", *refusal))
            continue
        assert stored is not None and current is not None  # noqa: S101 - _refusal
        said = content_digest(execution)
        executions: list[dict[str, Any]] = list(stored.get("executions") or [])
        seen = next((e for e in executions if e["id"] == str(execution.record_id)), None)
        notice = execution.execution_type in HUB_EXECUTION_TYPES
        if seen is None and notice and not _still_due(current, executions, execution, world):
            step.note(
                execution.trace_id,
                f"case {key}: {execution.execution_type.value} no longer due (paid or revoked "
                "meanwhile); not applied"
            )
            continue
        # the hub's notice raised again is the same notice (its note may count a payment
        # made in between); a party's record with other content is a change
        if seen is not None and seen["digest"] != said and not notice:
            step.parked.append(Park(
                read.message, "execution", "record.changed",
                f"execution {execution.record_id} was received before with other content; "
                "report the change under a new source_id / 该执行情况已以不同内容接收：请以新的"
                "来源编号报送",
            ))
            continue
        if seen is None:
            executions.append({
                "id": str(execution.record_id),
                "digest": said,
                "execution_type": execution.execution_type.value,
                "amount": str(execution.amount) if execution.amount is not None else None,
                "at": execution.occurred_at.isoformat(),
                "party": execution.source_party,
                "received_at": execution.received_at.isoformat(),
            })
            cases[key] = {**stored, "executions": executions}
        headers = HubHeaders(kind="execution", trace_id=execution.trace_id)
        for party in dict.fromkeys((str(current["owner_party"]), FINANCE)):
            topic = world.inboxes.get(party)
            if topic is not None:
                step.out.append(Out(topic, key.encode(), headers, record=execution))
        if execution.execution_type is ExecutionType.APPLICATION_RAISED:
            # the fine as it stood when the application was raised: the same order
            # however often, and after whatever, the notice is processed again
            upto = [e["id"] for e in executions].index(str(execution.record_id)) + 1
            fine = standing(current, executions[:upto], world.periods)
            assert fine is not None  # noqa: S101 - _refusal: the case has a fine
            order = application_of(EnforcementCase.model_validate(current), fine, execution)
            step.out.append(Out(
                KINDS["order"].topic, str(order.order_id).encode(),
                HubHeaders(kind="order", trace_id=order.trace_id), record=order,
            ))
        step.note(
            execution.trace_id,
            f"case {key}: {execution.execution_type.value} from {execution.source_party}",
        )
    return step


def _still_due(
    current: Mapping[str, Any], executions: list[dict[str, Any]], execution: Execution,
    world: ExecutionWorld,
) -> bool:
    """Whether the hub's notice execution is still due when applied: what the sweep saw
    may have changed since (a payment or revocation in flight)."""
    fine = standing(current, executions, world.periods)
    return fine is not None and fine.open


def _refusal(execution: Execution, current: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """(reason, detail) when execution cannot apply to the case (module docstring)."""
    case_id = execution.case_id
    if current is None:
        return (
            "execution.case_unknown",
            f"case {case_id} has not reached the hub: send the case, then this record again "
            f"/ 枢纽尚未收到案件{case_id}：请先报送案件，再重新报送本记录",
        )
    if not fine_of(current, execution.decision_no):
        return (
            "execution.no_such_fine",
            f"case {case_id} has no fine decided under {execution.decision_no} / 案件{case_id}"
            f"没有文号为{execution.decision_no}的罚款决定",
        )
    party, kind = execution.source_party, execution.execution_type
    if not may_report(party, kind, str(current["owner_party"])):
        return (
            "execution.not_entitled",
            f"{party} may not report {kind.value} for case {case_id}: its decider reports "
            f"it (finance reports payments) / {party}无权报送该案件的{kind.value}：由作出决定的"
            "单位报送（缴款也可由财政局报送）",
        )
    return None


def application_of(case: EnforcementCase, fine: Standing, raised: Execution) -> DispatchOrder:
    """The ENFORCEMENT_APPLICATION the hub carries to the court for the decider: its id,
    times and trace come from the case and the APPLICATION_RAISED record, so the record
    processed again makes the same order."""
    assert case.decision is not None and fine.reminder_served_at is not None  # noqa: S101
    return DispatchOrder.model_validate({
        "source_party": case.owner_party,
        "source_id": _APPLICATION + str(case.record_id),
        "occurred_at": raised.occurred_at,
        "received_at": raised.received_at,
        "trace_id": raised.trace_id,
        "order_type": "ENFORCEMENT_APPLICATION",
        "from_party": case.owner_party,
        "to_parties": [COURT],
        "subject_id": case.record_id,
        "matter_code": case.matter_code,
        "issued_at": raised.occurred_at,
        "description": (
            f"申请强制执行：处罚决定{fine.decision_no}（案件{case.case_no}）罚款{fine.amount}元，"
            f"尚有{fine.outstanding}元未缴纳，催告书已送达十日仍未履行 / application for "
            f"compulsory enforcement of decision {fine.decision_no} (case {case.case_no}): "
            f"{fine.outstanding} of {fine.amount} yuan unpaid 10 days after the reminder"
        ),
        "enforcement": {
            "decision_no": fine.decision_no,
            "amount": fine.outstanding,
            "decided_at": case.decision.decided_at,
            "reminder_served_at": fine.reminder_served_at,
        },
    })


def enforcement_notices(
    entries: Iterable[Mapping[str, Any]], now: datetime, periods: EnforcementPeriods
) -> Step:
    """The clock's core: the notices now makes due for each case's fine, as executions
    from the hub to ``enf.execution.v1`` with ids the notice fixes."""
    step = Step()
    for entry in entries:
        found = _standing_of(entry, periods)
        if found is None:
            continue
        current, fine = found
        case_id = str(current["record_id"])
        for due in notices_due(fine, now):
            notice = Execution.model_validate({
                "source_party": "hub",
                "source_id": f"{case_id}/{due.execution_type.value}",
                "occurred_at": due.at,
                "case_id": case_id,
                "decision_no": fine.decision_no,
                "execution_type": due.execution_type,
                "due_at": due.due_at,
                "order_id": _application_id(current)
                if due.execution_type is ExecutionType.APPLICATION_RAISED else None,
                "note": f"{due.reason_zh} / {due.reason_en}",
            })
            step.out.append(Out(
                KINDS["execution"].topic, case_id.encode(),
                HubHeaders(kind="execution", trace_id=notice.trace_id), record=notice,
            ))
    return step


def notice_due_at(entry: Mapping[str, Any], periods: EnforcementPeriods) -> datetime | None:
    """When the case of entry (the cases table's value) has its next notice due, None
    when it has none to come: what the cases stage's `hub.dispatch.DueIndex` keeps, so
    that the sweep reads the cases due, not every case."""
    found = _standing_of(entry, periods)
    return next_notice_at(found[1]) if found is not None else None


def _standing_of(
    entry: Mapping[str, Any], periods: EnforcementPeriods
) -> tuple[Mapping[str, Any], Standing] | None:
    """The case of entry (the cases table's value) and where its fine stands; None for
    an entry without a case or a case without a fine."""
    current = entry.get("current")
    if current is None:
        return None
    fine = standing(current, entry.get("executions") or [], periods)
    return None if fine is None else (current, fine)


_APPLICATION = "enforcement-application/"  # + case id: the application's source_id


def _application_id(current: Mapping[str, Any]) -> str:
    """The id of the application `application_of` makes for the case."""
    owner, case_id = str(current["owner_party"]), str(current["record_id"])
    return str(derive_record_id(owner, _APPLICATION + case_id))


class EnforcementSweep(StageBase):
    """A timer around `enforcement_notices`, over the cases this worker owns that have a
    notice due (`hub.stages.cases.CaseRevisions.due_cases`)."""

    agent = "enforcement"

    def __init__(
        self,
        app: faust.App,
        out: Emitter,
        serde: AvroSerde,
        reference: Callable[[], Reference],
        cases: Callable[[datetime], list[dict[str, Any]]],
        periods: EnforcementPeriods,
        reference_ready: asyncio.Event | None = None,
        every_seconds: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """cases(now): the entries of the cases this worker owns with a notice due by now
        (the cases stage's book)."""
        super().__init__(out, serde, reference, reference_ready)
        self.cases = cases
        self.periods = periods
        self.clock = clock
        app.timer(every_seconds)(self.sweep)

    async def sweep(self) -> None:
        if self.reference_ready is not None and not self.reference_ready.is_set():
            return
        now = self.clock()
        await self.apply_timed(enforcement_notices(self.cases(now), now, self.periods))

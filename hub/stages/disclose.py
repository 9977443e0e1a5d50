"""The disclose step: a case on ``enf.case.v1`` decided with a penalty is disclosed
(三项制度 行政执法公示) on ``pub.penalty.v1`` and in the big-data bureau's inbox, with
natural persons' names and id numbers masked and no phone or address.

A decision is disclosed once: by the first revision of the case that carries it, and
again (same id, same bytes) whenever that revision is processed again; the case's later
revisions (EXECUTING, CLOSED) disclose nothing more. A later revision that changes what
was disclosed (a corrected amount under the same decision number) is disclosed as a
correction, under an id of its own. ``disclosed`` keeps, per disclosure id, the revision
that disclosed it and what it said.

A decision is to be disclosed within 7 working days of being made (行政执法公示,
``enforcement.yaml``'s ``disclosure``); the hub discloses when it receives the revision
that carries it, so a revision received after that is disclosed late. Each disclosure's
entry keeps the deciding party, the month of the decision (Beijing time) and whether it
was late: the deciding party's ``disclosed`` and ``disclosed_late`` in the two-way
assessment (`disclosure_credits`, summed as they change by a `hub.dispatch.CreditIndex`),
counted once per decision.

The cases agent (`hub.stages.cases.CaseRevisions`) runs this core beside `revise` on every
case it reads: the runtime hands a topic's records to one agent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from hub.dispatch import disclosure_of, period_of
from hub.records import KINDS, EnforcementCase, content_digest
from hub.stages._base import Out, Read, State, Step
from hub.wire import HubHeaders


def disclose(
    cases: Sequence[Read[EnforcementCase]],
    disclosed: State,
    bigdata_inbox: str | None,
    due: Callable[[datetime], datetime] | None = None,
) -> Step:
    """The core: the disclosure of each case decided with a penalty, to the public topic
    and the big-data bureau's inbox; recorded in disclosed the first time, late when the
    hub received it after due(decided_at) (no due: never late)."""
    step = Step()
    for read in cases:
        case = read.record
        disclosure = disclosure_of(case)
        if disclosure is None:
            continue
        said = content_digest(disclosure, _NOT_CONTENT)
        earlier = _entry(disclosed.get(str(disclosure.record_id)))
        if earlier is not None and earlier["revision"] != case.revision:
            if earlier["digest"] == said:
                continue  # disclosed by an earlier revision
            disclosure = disclosure_of(case, correction=case.revision)  # a correction
            assert disclosure is not None  # noqa: S101
        key = str(disclosure.record_id)
        headers = HubHeaders(kind="penalty", trace_id=disclosure.trace_id)
        for topic in (KINDS["penalty"].topic, bigdata_inbox):
            if topic is not None:
                step.out.append(Out(topic, key.encode(), headers, record=disclosure))
        if disclosed.get(key) is None:
            decision = case.decision
            assert decision is not None  # noqa: S101 - disclosure_of: decided
            late = due is not None and case.received_at > due(decision.decided_at)
            disclosed[key] = {
                "revision": case.revision, "digest": said, "case_no": case.case_no,
                "party": case.owner_party, "period": period_of(decision.decided_at),
                "late": late, "partition": read.message.partition,
            }
            if late:
                step.note(
                    case.trace_id,
                    f"case {case.record_id}: decision {decision.decision_no} of "
                    f"{decision.decided_at.isoformat()} disclosed late (received "
                    f"{case.received_at.isoformat()})"
                )
    return step


def disclosure_credits(key: str, value: Any) -> dict[str, dict[str, Any]]:
    """What one entry of ``disclosed`` credits to the two-way assessment: the deciding
    party's ``disclosed`` and ``disclosed_late`` in the month of the decision
    (``party|YYYY-MM`` → counters; nothing for entries kept before the hub counted)."""
    entry = _entry(value)
    if entry is None or entry.get("period") is None:
        return {}
    late = int(bool(entry.get("late")))
    return {f"{entry['party']}|{entry['period']}": {"disclosed": 1, "disclosed_late": late}}


_NOT_CONTENT = ("received_at", "trace_id", "source_id", "record_id")


def _entry(value: Any) -> dict[str, Any] | None:
    """A ``disclosed`` value; a case number alone was kept before revisions (revision 1)."""
    if value is None or isinstance(value, dict):
        return value
    return {"revision": 1, "digest": None, "case_no": value}

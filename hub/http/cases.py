"""``GET /v1/cases/{case_id}`` and ``GET /v1/cases?status=``: cases, as each reader may
see them (docs/design.md §4).

The owner of a case reads it whole with every revision it went through; a party that
supervises it (hub/reference/supervision.yaml: the delegating department, the justice
bureau, the procuratorate, the finance bureau for fines) reads the same `CaseNotice` its
inbox received for the latest revision, with the same fields withheld and masked, and
the revisions' numbers, statuses and times. Anyone else is answered 404, as if the case
did not exist; operators 403. Every read is audited (`hub.http.platform`).

A case lives in the ``cases`` table on the worker that owns its partition: a request
reaching another worker is forwarded there once; the list is gathered from every worker
(`hub.http.peers`).

What became of a decided fine (its payments, challenges, reminder, the hub's notices:
`hub.dispatch.standing`) is part of the case as everyone who sees it sees it
(``execution``): no personal data is in it.

This resource also admits every execution record that enters over HTTP
(``/v1/records/execution`` or a native kind mapping to it), on the worker holding its
case: the case must be one the caller decided (finance: any fine), the decision number
its fine's (422 ``execution.no_such_fine``); the hub's own notices are not taken (403),
nor anything but payments from finance. A case the hub has not applied yet while its
partition still has records in flight is taken, and checked by the stage.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from hub.dispatch import (
    FINANCE,
    CaseBook,
    EnforcementPeriods,
    Supervision,
    fine_of,
    may_report,
    notice_of,
    readers_of,
    standing,
)
from hub.errors import FieldError
from hub.http.orders import OrderSummary, not_ops
from hub.http.peers import Peers
from hub.http.platform import Platform
from hub.http.problems import Problem
from hub.http.records import Records
from hub.http.routes import Answer, Param, Route, install_routes, respond
from hub.records import (
    HUB_EXECUTION_TYPES,
    CaseNotice,
    CaseStatus,
    EnforcementCase,
    Execution,
    ExecutionType,
)
from hub.reference import Party, Reference


class CaseRevision(BaseModel):
    """修订记录 one revision of a case: its number, status and when the hub received it."""

    revision: int = Field(ge=1)
    status: CaseStatus
    received_at: str


class CaseSummary(BaseModel):
    """案件摘要 a case in a list, and the caller's role in it."""

    case_id: str
    case_no: str
    owner_party: str
    matter_code: str
    status: CaseStatus
    revision: int = Field(ge=1)
    role: Literal["owner", "supervisor"]


class CaseList(BaseModel):
    cases: list[CaseSummary]


class CaseRecord(EnforcementCase):
    """案件记录 a case as the hub keeps it: the record its owner sent, with the fields the
    hub filled (record_id, received_at)."""


class ExecutionStep(BaseModel):
    """执行记录 one execution of the fine: what, when, reported by whom."""

    execution_type: ExecutionType
    at: str
    party: str
    amount: str | None = None


class ExecutionStanding(BaseModel):
    """执行情况 where the case's fine stands (`hub.dispatch.standing`): amounts in yuan,
    times in UTC; the window is when the court may be applied to."""

    state: Literal["UNPAID", "PAID", "REVOKED", "CHALLENGED", "APPLIED", "LAPSED"]
    amount: str
    paid: str
    outstanding: str
    payment_due: str
    window_opens: str | None
    window_closes: str | None
    reminder_served_at: str | None
    apply_from: str | None
    history: list[ExecutionStep]


class CaseDetail(BaseModel):
    """案件详情 the latest revision as the caller may see it, and every revision's status:
    ``case`` whole for its owner, ``notice`` for a supervisor; ``execution`` for a fine."""

    case_id: str
    role: Literal["owner", "supervisor"]
    case: CaseRecord | None = None
    notice: CaseNotice | None = None
    revisions: list[CaseRevision]
    execution: ExecutionStanding | None = None
    orders: list[OrderSummary] = Field(
        default_factory=list,
        description="the orders about the case the caller is on: criminal referral and its "
        "state (有案必录), transfers, suggestions, the court application",
    )


CASE_ID = Param("case_id", "path", {"type": "string"}, "the case's id (its record_id)")
STATUSES = {"type": "string", "enum": [status.value for status in CaseStatus]}

ROUTES = (
    Route(
        "GET", "/v1/cases", "list_cases", "list_cases",
        "The cases the caller handles or supervises", "cases",
        (Answer(200, "cases", CaseList), Answer(422, "bad status")),
        params=(Param("status", "query", STATUSES),),
    ),
    Route(
        "GET", "/v1/cases/{case_id}", "show_case", "show_case",
        "A case as the caller may see it: whole for its owner, a supervisor's view", "cases",
        (Answer(200, "the case", CaseDetail),
         Answer(404, "no such case, or neither the caller's nor supervised by it")),
        params=(CASE_ID,),
    ),
)


OrdersAbout = Callable[[web.Request, str], Awaitable[list[dict[str, Any]]]]


class Cases:
    """Answers case reads from the cases stage's table (here or on its owner)."""

    def __init__(
        self,
        platform: Platform,
        records: Records,
        book: CaseBook,
        peers: Peers,
        reference: Callable[[], Reference],
        supervision: Supervision,
        periods: EnforcementPeriods,
        orders_about: OrdersAbout,
    ) -> None:
        """orders_about: the orders about a case the caller is on (`Orders.about`)."""
        self.platform = platform
        self.book = book
        self.peers = peers
        self.reference = reference
        self.supervision = supervision
        self.periods = periods
        self.orders_about = orders_about
        records.admission["execution"] = self

    # -------------------------------------------------------------- admission

    async def admit(
        self, request: web.Request, execution: Execution, *, must_exist: bool
    ) -> web.Response | Execution:
        """The one check of an execution (module docstring): the owner's answer when the
        case lives on another worker, the execution when it fits, `Problem` if not."""
        party = self.platform.caller(request)
        kind = execution.execution_type
        if kind in HUB_EXECUTION_TYPES:
            raise Problem(
                "forbidden",
                f"{kind.value} is raised by the hub's enforcement clock, not over HTTP",
                detail_zh="逾期未缴、应当催告、申请强制执行和期限届满由枢纽发出",
            )
        if party.id == FINANCE and kind is not ExecutionType.PAID:
            raise Problem(
                "forbidden",
                "the finance bureau reports payments (PAID); the deciding party reports the rest",
                detail_zh="财政局报送缴款（PAID），其余执行情况由作出决定的单位报送",
            )
        case_id = str(execution.case_id)
        owner = self.peers.owner(case_id)
        if owner is not None:
            return await self.peers.forward(request, owner)
        stored = self.book.stored(case_id)
        current = stored.get("current") if stored else None
        if current is None:
            if must_exist or await self.book.settled(case_id):
                raise _no_case(case_id)
            return execution  # its case is still in flight: the stage checks it
        if not may_report(party.id, kind, str(current["owner_party"])):
            raise _no_case(case_id)  # not the caller's: as if it did not exist
        if not fine_of(current, execution.decision_no):
            raise Problem(
                "invalid-record",
                "decision_no is not the fine this case decided",
                detail_zh="决定书文号不是该案件的罚款决定",
                errors=[FieldError(
                    "decision_no", "execution.no_such_fine",
                    f"案件{case_id}没有文号为{execution.decision_no}的罚款决定",
                    f"case {case_id} has no fine decided under {execution.decision_no}",
                )],
            )
        return execution

    def written(self, admitted: Execution) -> None:
        """Nothing to count: the stage applies an execution whatever the case's state."""

    def install(self, app: web.Application) -> None:
        install_routes(app, ROUTES, self)

    def _role(self, current: EnforcementCase, party: Party) -> CaseNotice | Literal["owner"] | None:
        """"owner", the caller's notice when it supervises the case, or None."""
        if party.id == current.owner_party:
            return "owner"
        for reader, entry in readers_of(current, self.reference(), self.supervision):
            if reader == party.id:
                return notice_of(current, reader, entry)
        return None

    async def show_case(self, request: web.Request) -> web.Response:
        raw = request.match_info["case_id"]
        try:
            case_id = str(uuid.UUID(raw))
        except ValueError:
            raise _no_case(raw) from None
        owner = self.peers.owner(case_id)
        if owner is not None:
            return await self.peers.forward(request, owner)
        party = self.platform.caller(request)
        not_ops(party)
        stored = self.book.stored(case_id)
        if stored is None or stored.get("current") is None:
            raise _no_case(case_id)
        current = EnforcementCase.model_validate(stored["current"])
        role = self._role(current, party)
        if role is None:
            raise _no_case(case_id)  # not the caller's: as if it did not exist
        self.platform.mark(request, subject=case_id)
        detail: dict[str, Any] = {
            "case_id": case_id,
            "revisions": [
                {k: r[k] for k in ("revision", "status", "received_at")}
                for r in stored["revisions"]
            ],
        }
        if role == "owner":
            detail.update(role="owner", case=CaseRecord.model_validate(stored["current"]))
        else:
            detail.update(role="supervisor", notice=role)
        detail["execution"] = self._execution(stored)
        detail["orders"] = await self.orders_about(request, case_id)
        return respond(CaseDetail.model_validate(detail))

    def _execution(self, stored: dict[str, Any]) -> dict[str, Any] | None:
        """Where the case's fine stands, for `ExecutionStanding`; None without a fine."""
        executions = stored.get("executions") or []
        fine = standing(stored["current"], executions, self.periods)
        if fine is None:
            return None

        def when(at: Any) -> str | None:
            return at.isoformat() if at is not None else None

        return {
            "state": fine.state,
            "amount": str(fine.amount),
            "paid": str(fine.paid),
            "outstanding": str(fine.outstanding),
            "payment_due": fine.payment_due.isoformat(),
            "window_opens": when(fine.window_opens),
            "window_closes": when(fine.window_closes),
            "reminder_served_at": when(fine.reminder_served_at),
            "apply_from": when(fine.apply_from),
            "history": [
                {k: e[k] for k in ("execution_type", "at", "party", "amount")}
                for e in executions
            ],
        }

    async def list_cases(self, request: web.Request) -> web.Response:
        party = self.platform.caller(request)
        not_ops(party)
        wanted = request.query.get("status")
        if wanted is not None and wanted not in CaseStatus.__members__:
            raise Problem(
                "invalid-parameter",
                f"status must be one of {', '.join(CaseStatus)}",
                detail_zh="status应为案件状态之一（如FILED、DECIDED）",
            )
        found: list[dict[str, Any]] = []
        for stored in self.book.active_cases():
            if stored.get("current") is None:
                continue
            current = EnforcementCase.model_validate(stored["current"])
            role = self._role(current, party)
            if role is None or (wanted is not None and current.status.value != wanted):
                continue
            found.append({
                "case_id": str(current.record_id),
                "case_no": current.case_no,
                "owner_party": current.owner_party,
                "matter_code": current.matter_code,
                "status": current.status,
                "revision": current.revision,
                "role": "owner" if role == "owner" else "supervisor",
            })
        if not self.peers.forwarded(request):
            for answer in await self.peers.gather(request, "/v1/cases"):
                found += answer["cases"]
        found.sort(key=lambda c: (c["owner_party"], c["case_no"]))
        return respond(CaseList.model_validate({"cases": found}))


def _no_case(case_id: str) -> Problem:
    return Problem("not-found", f"no case {case_id}", detail_zh=f"没有编号为{case_id}的案件")

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
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from hub.dispatch import CaseBook, Supervision, notice_of, readers_of
from hub.http.orders import not_ops
from hub.http.peers import Peers
from hub.http.platform import Platform
from hub.http.problems import Problem
from hub.http.routes import Answer, Param, Route, install_routes, respond
from hub.records import CaseNotice, CaseStatus, EnforcementCase
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


class CaseDetail(BaseModel):
    """案件详情 the latest revision as the caller may see it, and every revision's status:
    ``case`` whole for its owner, ``notice`` for a supervisor."""

    case_id: str
    role: Literal["owner", "supervisor"]
    case: CaseRecord | None = None
    notice: CaseNotice | None = None
    revisions: list[CaseRevision]


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


class Cases:
    """Answers case reads from the cases stage's table (here or on its owner)."""

    def __init__(
        self,
        platform: Platform,
        book: CaseBook,
        peers: Peers,
        reference: Callable[[], Reference],
        supervision: Supervision,
    ) -> None:
        self.platform = platform
        self.book = book
        self.peers = peers
        self.reference = reference
        self.supervision = supervision

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
        return respond(CaseDetail.model_validate(detail))

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

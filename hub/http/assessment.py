"""``GET /v1/assessment?period=YYYY-MM``: the month's two-way assessment 双向考核,
gathered from every worker; the justice bureau sees every party, a party only itself."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel, Field

from hub.dispatch import (
    AssessmentBook,
    assessment_report,
    merge_assessment,
    period_of,
    shares_of,
)
from hub.http.orders import not_ops
from hub.http.peers import Peers
from hub.http.platform import Platform
from hub.http.problems import Problem
from hub.http.routes import Answer, Param, Route, install_routes, respond

_PERIOD = re.compile(r"20\d\d-(0[1-9]|1[0-2])")


class Figures(BaseModel):
    """双向考核 one party's figures for one month (orders it received or issued then)."""

    party: str
    period: str
    received: int = Field(ge=0)
    issued: int = Field(ge=0)
    signed: int = Field(ge=0)
    signed_on_time: int = Field(ge=0)
    signed_on_time_rate: float | None
    answered: int = Field(ge=0)
    answered_on_time: int = Field(ge=0)
    answered_on_time_rate: float | None
    returned: int = Field(ge=0)
    overdue: int = Field(ge=0)
    mean_response_hours: float | None
    p90_response_hours: float | None
    evaluations: int = Field(ge=0)
    mean_evaluation: float | None
    disclosed: int = Field(ge=0, description="decisions made that month, disclosed")
    disclosed_late: int = Field(
        ge=0, description="of them, received after the 7 working days of 行政执法公示"
    )


class MonthAssessment(BaseModel):
    """月度考核 the month's figures, one entry per party the caller may see."""

    period: str
    parties: list[Figures]


ROUTES = (
    Route(
        "GET", "/v1/assessment", "assessment", "assessment",
        "Two-way assessment of a month (justice: every party; others: their own)", "orders",
        (Answer(200, "the month's figures", MonthAssessment),
         Answer(422, "period is not YYYY-MM")),
        params=(
            Param("period", "query",
                  {"type": "string", "pattern": "^20[0-9]{2}-(0[1-9]|1[0-2])$"},
                  "the month, YYYY-MM (default: this month, Beijing time)"),
        ),
    ),
)


class Assessment:
    """Answers the assessment route from the counters of the orders and disclosures."""

    def __init__(
        self, platform: Platform, books: Sequence[AssessmentBook], peers: Peers
    ) -> None:
        self.platform = platform
        self.books = books
        self.peers = peers

    def install(self, app: web.Application) -> None:
        install_routes(app, ROUTES, self)

    async def assessment(self, request: web.Request) -> web.Response:
        """The month's assessment: every party for justice, the caller's own otherwise."""
        party = self.platform.caller(request)
        not_ops(party)
        period = request.query.get("period")  # absent: this month; empty: not a month
        if period is None:
            period = period_of(datetime.now(UTC))
        if not _PERIOD.fullmatch(period):
            raise Problem(
                "invalid-parameter",
                f"period '{period}' is not a month; write YYYY-MM, e.g. 2026-11",
                detail_zh="考核期间应为年月，格式YYYY-MM",
            )
        shares = shares_of(self.books, period)
        if party.id != "justice":
            shares = {party.id: shares.get(party.id, [])}
        if self.peers.forwarded(request):  # a peer gathering: this worker's raw shares
            return web.json_response({"period": period, "shares": shares})
        for answer in await self.peers.gather(request, "/v1/assessment"):
            for name, more in answer["shares"].items():
                shares.setdefault(name, []).extend(more)
        if party.id != "justice":
            shares = {party.id: shares.get(party.id, [])}
        parties = [
            assessment_report(name, period, merge_assessment(shares[name]))
            for name in sorted(shares)
        ]
        return respond(MonthAssessment.model_validate({"period": period, "parties": parties}))

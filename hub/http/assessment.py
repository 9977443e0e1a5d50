"""``GET /v1/assessment?period=YYYY-MM``: the month's two-way assessment 双向考核,
gathered from every worker; the justice bureau sees every party, a party only itself."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp import web

from hub.dispatch import assessment_report, merge_assessment, period_of
from hub.http.orders import OrderBook, not_ops
from hub.http.peers import Peers
from hub.http.platform import Platform
from hub.http.problems import Problem

_PERIOD = re.compile(r"20\d\d-(0[1-9]|1[0-2])")


class Assessment:
    """Answers the assessment route from the dispatch engine's counters."""

    def __init__(self, platform: Platform, engine: OrderBook, peers: Peers) -> None:
        self.platform = platform
        self.engine = engine
        self.peers = peers

    def install(self, app: web.Application) -> None:
        app.router.add_get("/v1/assessment", self.assessment)

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
        shares = self.engine.assessment_shares(period)
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
        return web.json_response({"period": period, "parties": parties})

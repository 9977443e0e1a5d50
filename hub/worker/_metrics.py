"""``/metrics`` on every worker: Prometheus text, for operators and the justice bureau.

Scrapers authenticate like any caller (``Authorization: Bearer`` with an ``ops`` or
``justice`` token; Prometheus' ``authorization`` scrape setting sends it).
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from hub.gateway import Gateway
from hub.gateway._problems import Problem
from hub.reference import PartyKind

METRICS_READERS = frozenset({PartyKind.OPS, PartyKind.JUSTICE})


def install_metrics(
    web_app: web.Application, gateway: Gateway, registry: CollectorRegistry
) -> None:
    async def metrics(request: web.Request) -> web.Response:
        party = gateway.party_of(request)
        if party.kind not in METRICS_READERS:
            raise Problem(
                "forbidden",
                f"{party.id} may not read metrics; they are for operators and the justice bureau",
                detail_zh="只有运维方和司法局可以查看指标",
            )
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    web_app.router.add_get("/metrics", metrics)

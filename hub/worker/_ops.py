"""``/ops``: the operators' page on every worker, and ``/ops/data`` behind it.

A plain HTML page (no build step) that fetches ``/ops/data`` every few seconds and
shows traffic per party, refusals, the DLQ, open and overdue orders, consumer lag and
delivery health. ``/ops/data`` is computed from the very samples ``/metrics`` serves
(`summarise` over the worker's registry), so the page and Prometheus never disagree.

Both need an ``ops`` or ``justice`` token: ``Authorization: Bearer <token>``, or, for a
browser, HTTP Basic with the token as password (any user name); the browser asks for
it and sends it with the page's own requests.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from hub.http import Platform
from hub.http.problems import Problem
from hub.worker._metrics import METRICS_READERS

REFRESH_SECONDS = 5


def _samples(registry: CollectorRegistry) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in registry.collect():
        for sample in family.samples:
            found[sample.name].append((dict(sample.labels), float(sample.value)))
    return found


def _by(
    samples: list[tuple[dict[str, str], float]], *labels: str
) -> dict[tuple[str, ...], float]:
    totals: dict[tuple[str, ...], float] = defaultdict(float)
    for values, value in samples:
        totals[tuple(values.get(label, "") for label in labels)] += value
    return totals


def summarise(registry: CollectorRegistry) -> dict[str, Any]:
    """What the page shows, from the registry's current samples."""
    s = _samples(registry)
    records_in = _by(s["hub_records_in_total"], "party")
    records_out = _by(s["hub_records_out_total"], "party")
    delivered = _by(s["hub_delivery_seconds_count"], "party")
    failures = _by(s["hub_delivery_failures_total"], "party")
    parties = sorted({k[0] for k in (*records_in, *records_out, *delivered, *failures)})
    traffic = [
        {
            "party": party,
            "in": int(records_in.get((party,), 0)),
            "out": int(records_out.get((party,), 0)),
            "delivered": int(delivered.get((party,), 0)),
            "delivery_failures": int(failures.get((party,), 0)),
        }
        for party in parties
    ]
    open_orders = _by(s["hub_orders_open"], "party")
    overdue = _by(s["hub_orders_overdue_open"], "party")
    orders = [
        {"party": p, "open": int(open_orders[(p,)]), "overdue": int(overdue.get((p,), 0))}
        for (p,) in sorted(open_orders)
    ]
    lag = [
        {"group": g, "topic": t, "lag": int(v)}
        for (g, t), v in sorted(_by(s["hub_consumer_lag"], "group", "topic").items())
        if v
    ]
    connectors = [
        {
            "connector": labels["connector"],
            "party": labels["party"],
            "up": bool(value),
            "failures": int(
                _by(s["hub_connector_consecutive_failures"], "connector").get(
                    (labels["connector"],), 0
                )
            ),
            "backlog": int(
                _by(s["hub_connector_backlog"], "connector").get((labels["connector"],), 0)
            ),
        }
        for labels, value in s["hub_connector_up"]
    ]
    rejected = [
        {"stage": stage, "reason": reason, "count": int(v)}
        for (stage, reason), v in sorted(
            _by(s["hub_records_rejected_total"], "stage", "reason").items()
        )
    ]
    depth = s["hub_dlq_depth"]
    return {
        "generated_at": time.time(),
        "totals": {
            "in": sum(row["in"] for row in traffic),
            "out": sum(row["out"] for row in traffic),
            "rejected": sum(row["count"] for row in rejected),
            "dlq_depth": int(depth[0][1]) if depth else 0,
            "open_orders": sum(row["open"] for row in orders),
            "overdue_orders": sum(row["overdue"] for row in orders),
            "lag": sum(row["lag"] for row in lag),
            "delivery_failures": sum(row["delivery_failures"] for row in traffic),
        },
        "traffic": traffic,
        "rejected": rejected,
        "orders": orders,
        "lag": lag,
        "connectors": connectors,
    }


def install_ops_page(
    web_app: web.Application,
    platform: Platform,
    registry: CollectorRegistry,
    readiness: Callable[[], Awaitable[dict[str, str]]],
) -> None:
    def reader(request: web.Request) -> None:
        party = platform.caller(request)
        if party.kind not in METRICS_READERS:
            raise Problem(
                "forbidden",
                f"{party.id} may not open the operations page; it is for operators and the "
                "justice bureau",
                detail_zh="只有运维方和司法局可以查看运维页面",
            )

    async def page(request: web.Request) -> web.Response:
        reader(request)
        return web.Response(
            text=OPS_PAGE,
            content_type="text/html",
            charset="utf-8",
            headers={
                "Cache-Control": "no-store",
                "Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; "
                "style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
            },
        )

    async def data(request: web.Request) -> web.Response:
        reader(request)
        summary = summarise(registry)
        summary["ready"] = await readiness()
        return web.json_response(summary, headers={"Cache-Control": "no-store"})

    web_app.router.add_get("/ops", page)
    web_app.router.add_get("/ops/data", data)


OPS_PAGE = (
    (Path(__file__).parent / "ops.html")
    .read_text(encoding="utf-8")
    .replace("%(refresh)d", str(REFRESH_SECONDS))
)

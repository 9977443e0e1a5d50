"""The operations resources on every worker: ``/healthz``, ``/readyz``, ``/metrics``,
``/ops`` and ``/ops/data``.

- ``/healthz`` (liveness) and ``/readyz`` (readiness) answer without a token: probes and
  load balancers carry none. ``/readyz`` says only which check fails and why, never
  business data; the checks are the worker's (`hub.worker._metrics.readiness_checks`).
- ``/metrics`` serves the worker's Prometheus registry; scrapers authenticate like any
  caller (Prometheus' ``authorization`` scrape setting sends the bearer token).
- ``/ops`` is a plain HTML page (no build step) that fetches ``/ops/data`` every few
  seconds: traffic per party, refusals, the DLQ, open and overdue orders, consumer lag
  and delivery health. ``/ops/data`` is computed from the very samples ``/metrics``
  serves (`summarise`), so the page and Prometheus never disagree.

``/metrics``, ``/ops`` and ``/ops/data`` need an ``ops`` or ``justice`` token:
``Authorization: Bearer <token>``, or, for a browser on ``/ops``, HTTP Basic with the
token as password (any user name).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, Field

from hub.errors import HubError
from hub.http.platform import Platform
from hub.http.problems import Problem
from hub.http.routes import Answer, Route, install_routes, respond
from hub.reference import PartyKind

METRICS_READERS = frozenset({PartyKind.OPS, PartyKind.JUSTICE})
READY_CHECK_TIMEOUT = 3.0
REFRESH_SECONDS = 5
STARTED = web.AppKey("hub_started_at", float)

Check = Callable[[], Awaitable[str | None]]  # None when fine, else what is wrong


# ------------------------------------------------------------------- answers


class Health(BaseModel):
    """The process runs its event loop."""

    status: Literal["ok"]
    uptime_seconds: float


class Readiness(BaseModel):
    """Each check's result: "ok" or what is wrong."""

    status: Literal["ready", "not ready"]
    checks: dict[str, str]


class OpsTotals(BaseModel):
    in_: int = Field(alias="in")
    out: int
    rejected: int
    dlq_depth: int
    open_orders: int
    overdue_orders: int
    lag: int
    delivery_failures: int


class PartyTraffic(BaseModel):
    party: str
    in_: int = Field(alias="in")
    out: int
    delivered: int
    delivery_failures: int


class Refusals(BaseModel):
    stage: str
    reason: str
    count: int


class PartyOrders(BaseModel):
    party: str
    open: int
    overdue: int


class GroupLag(BaseModel):
    group: str
    topic: str
    lag: int


class ConnectorHealth(BaseModel):
    connector: str
    party: str
    up: bool
    failures: int
    backlog: int


class OpsSummary(BaseModel):
    """What the operations page shows (the worker's registry, summed) and its readiness."""

    generated_at: float
    totals: OpsTotals
    traffic: list[PartyTraffic]
    rejected: list[Refusals]
    orders: list[PartyOrders]
    lag: list[GroupLag]
    connectors: list[ConnectorHealth]
    ready: dict[str, str]


_READERS_ONLY = "not an ops or justice token"
HEALTH = Route(  # registered by every worker's web app, before any platform
    "GET", "/healthz", "healthz", "healthz", "Liveness (no data, no authentication)",
    "operations", (Answer(200, "alive", Health),), public=True,
)
ROUTES = (
    Route(
        "GET", "/readyz", "readyz", "readyz",
        "Readiness: Kafka, partitions, tables, stages, registry (no authentication)",
        "operations",
        (Answer(200, "ready", Readiness), Answer(503, "not ready: which check, why", Readiness)),
        public=True,
    ),
    Route(
        "GET", "/metrics", "metrics", "metrics", "Prometheus metrics of this worker",
        "operations",
        (Answer(200, "the Prometheus text format", schema={"type": "string"},
                media="text/plain"),
         Answer(403, _READERS_ONLY)),
        platform=(401, 429),
    ),
    Route(
        "GET", "/ops", "page", "opsPage", "The operations page 运维页面 (HTML)", "operations",
        (Answer(200, "the page", schema={"type": "string"}, media="text/html"),
         Answer(403, _READERS_ONLY)),
        platform=(401, 429),
    ),
    Route(
        "GET", "/ops/data", "data", "opsData", "What the operations page shows", "operations",
        (Answer(200, "the summary", OpsSummary), Answer(403, _READERS_ONLY)),
        platform=(401, 429),
    ),
)


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process runs its event loop. No business data, no authentication."""
    started = request.app[STARTED]
    return respond(Health(status="ok", uptime_seconds=round(time.time() - started, 1)))


async def run_checks(checks: Mapping[str, Check]) -> dict[str, str]:
    """Check name → "ok" or what is wrong; a check that hangs is reported, not waited for."""
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            async with asyncio.timeout(READY_CHECK_TIMEOUT):
                problem = await check()
        except TimeoutError:
            problem = f"no answer within {READY_CHECK_TIMEOUT:g} s"
        except HubError as exc:
            problem = exc.message
        except Exception as exc:  # noqa: BLE001 - a failing check is an answer, not a crash
            problem = f"{type(exc).__name__}: {exc}"
        results[name] = problem or "ok"
    return results


class Ops:
    """/readyz, /metrics, /ops and /ops/data over the worker's registry and checks."""

    def __init__(
        self, platform: Platform, registry: CollectorRegistry, checks: Mapping[str, Check]
    ) -> None:
        self.platform = platform
        self.registry = registry
        self.checks = checks

    def install(self, app: web.Application) -> None:
        install_routes(app, ROUTES, self)

    def _reader(self, request: web.Request, what_en: str, what_zh: str) -> None:
        party = self.platform.caller(request)
        if party.kind not in METRICS_READERS:
            raise Problem(
                "forbidden",
                f"{party.id} may not {what_en}; it is for operators and the justice bureau",
                detail_zh=f"只有运维方和司法局可以{what_zh}",
            )

    async def readyz(self, _: web.Request) -> web.Response:
        results = await run_checks(self.checks)
        failing = any(text != "ok" for text in results.values())
        answer = Readiness(status="not ready" if failing else "ready", checks=results)
        return respond(answer, 503 if failing else 200)

    async def metrics(self, request: web.Request) -> web.Response:
        self._reader(request, "read metrics", "查看指标")
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def page(self, request: web.Request) -> web.Response:
        self._reader(request, "open the operations page", "查看运维页面")
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

    async def data(self, request: web.Request) -> web.Response:
        self._reader(request, "open the operations page", "查看运维页面")
        summary = OpsSummary.model_validate(
            {**summarise(self.registry), "ready": await run_checks(self.checks)}
        )
        response = respond(summary)
        response.headers["Cache-Control"] = "no-store"
        return response


# ------------------------------------------------------------------- summary

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


OPS_PAGE = (
    (Path(__file__).parent / "ops.html")
    .read_text(encoding="utf-8")
    .replace("%(refresh)d", str(REFRESH_SECONDS))
)

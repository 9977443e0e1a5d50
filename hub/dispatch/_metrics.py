"""Prometheus export of the two-way assessment: this month's counters per party.

Each worker exports only the partitions it actively owns, so Prometheus sums the
workers: ``sum by (party) (hub_assessment_orders{measure="signed_on_time"})``. The
response-time histogram is exported with coarse hour buckets for
``histogram_quantile(0.9, sum by (party, le) (rate-free buckets))``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.dispatch._assessment import (
    MEASURES,
    AssessmentBook,
    bucket_upper,
    merge,
    period_of,
    shares_of,
)
from hub.dispatch._deadlines import Dues, passed_deadlines
from hub.dispatch._index import DONE_STATES, PartySla
from hub.dispatch._lifecycle import OrderView

if TYPE_CHECKING:
    from hub.dispatch._book import OrderBook

HOUR_BUCKETS = (1, 2, 4, 8, 24, 48, 72, 168, 336, 720)


def order_sla(
    views: Iterable[OrderView], dues_of: Callable[[OrderView], Dues], now: datetime
) -> dict[str, PartySla]:
    """Per recipient party, the SLA of the open orders among views, counted over them all
    (``hub status`` over a changelog it read; a worker keeps the same figures as its
    orders change: `hub.dispatch.OrderIndex`)."""
    parties: dict[str, PartySla] = {}
    for view in views:
        if view.state in DONE_STATES:
            continue
        late = bool(passed_deadlines(view, now, dues_of(view)))
        age = (now - view.received_at).total_seconds()
        for party in view.recipients:
            sla = parties.setdefault(party, PartySla())
            sla.states[view.state.value] = sla.states.get(view.state.value, 0) + 1
            sla.overdue += int(late)
            sla.oldest_seconds = max(sla.oldest_seconds, age)
    return parties


class OrdersCollector(Collector):
    """Order SLA gauges from the orders this worker actively owns (sum over workers), as
    the worker's order index keeps them: a scrape costs the parties and states, not the
    orders."""

    def __init__(self, engine: OrderBook) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        now = datetime.now(UTC)
        open_orders = GaugeMetricFamily(
            "hub_orders_open",
            "Orders not closed yet, per recipient party and state",
            labels=["party", "state"],
        )
        overdue = GaugeMetricFamily(
            "hub_orders_overdue_open",
            "Open orders with a passed deadline they still wait on, per recipient party",
            labels=["party"],
        )
        oldest = GaugeMetricFamily(
            "hub_orders_oldest_open_seconds",
            "Age of the oldest open order a party received",
            labels=["party"],
        )
        slas = self.engine.sla(now)
        for party, sla in sorted(slas.items()):
            for state, count in sorted(sla.states.items()):
                open_orders.add_metric([party, state], float(count))
            overdue.add_metric([party], float(sla.overdue))
            oldest.add_metric([party], sla.oldest_seconds)
        yield open_orders
        yield overdue
        yield oldest


class AssessmentCollector(Collector):
    """Reads the engine's assessment table at scrape time (no copies kept)."""

    def __init__(self, *books: AssessmentBook) -> None:
        self.books = books

    def collect(self) -> Iterator[Metric]:
        period = period_of(datetime.now(UTC))
        orders = GaugeMetricFamily(
            "hub_assessment_orders",
            "双向考核 this month's assessment counters per party (orders received this month, "
            "decisions made this month); measure: received, issued, signed, signed_on_time, "
            "answered, answered_on_time, returned, overdue, evaluations, disclosed, "
            "disclosed_late",
            labels=["party", "period", "measure"],
        )
        ratings = GaugeMetricFamily(
            "hub_assessment_rating_sum",
            "Sum of the evaluation ratings (1-5) the party received this month",
            labels=["party", "period"],
        )
        responses = HistogramMetricFamily(
            "hub_assessment_response_seconds",
            "Time from receiving an order to the first answer, this month",
            labels=["party", "period"],
        )
        for party, shares in sorted(shares_of(self.books, period).items()):
            total = merge(shares)
            for measure in MEASURES:
                orders.add_metric([party, period, measure], float(total.get(measure, 0)))
            ratings.add_metric([party, period], float(total.get("rating_sum", 0)))
            fine = {int(k): int(v) for k, v in total["buckets"].items()}
            cumulative = []
            for hours in HOUR_BUCKETS:
                limit = hours * 3600
                cumulative.append(
                    (str(float(limit)), sum(c for b, c in fine.items() if bucket_upper(b) <= limit))
                )
            cumulative.append(("+Inf", sum(fine.values())))
            responses.add_metric(
                [party, period],
                buckets=[(edge, float(count)) for edge, count in cumulative],
                sum_value=float(total.get("response_seconds_sum", 0)),
            )
        yield orders
        yield ratings
        yield responses

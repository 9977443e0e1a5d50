"""The orders a worker holds, as its readers see them: the order resources over HTTP,
the deadline sweep and the order metrics. The lifecycle stage implements it
(`hub.stages.Lifecycle`); broker-free tests give a fake."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from hub.dispatch._deadlines import Dues
from hub.dispatch._index import PartySla
from hub.dispatch._lifecycle import OrderView


class CaseBook(Protocol):
    """The cases a worker holds (`hub.stages.Cases`): what ``GET /v1/cases`` reads."""

    def stored(self, case_id: str) -> dict[str, Any] | None:
        """A case's revisions and its latest revision whole, None when not held here."""

    def active_cases(self) -> list[dict[str, Any]]:
        """The cases of the partitions this worker actively owns."""

    def assessment_shares(self, period: str) -> dict[str, list[dict[str, Any]]]:
        """This worker's disclosure counters of period (``disclosed``, ``disclosed_late``),
        per party: one share per partition."""

    async def settled(self, case_id: str) -> bool:
        """Whether every case revision and execution written for case_id's partition so
        far is applied here (none in flight, the broker asked): only then is a case it
        lacks unknown."""


class OrderBook(Protocol):
    def stored(self, order_id: str) -> dict[str, Any] | None:
        """An order's stored view (`view_to_dict` form), None when not held here."""

    async def settled(self, order_id: str) -> bool:
        """Whether every order and event written for order_id's partition so far is applied
        here (none in flight, the broker asked): only then does its stored view say what
        comes next."""

    def dues(self, view: OrderView) -> Dues:
        """When the order's sign-off, answer and acceptance are due."""

    def active_views(self) -> list[OrderView]:
        """The orders of the partitions this worker actively owns."""

    def sla(self, now: datetime) -> dict[str, PartySla]:
        """Per recipient party, the SLA of the open orders this worker actively owns
        (kept as orders change: a call costs the parties, not the orders)."""

    def due(self, now: datetime) -> list[OrderView]:
        """The open orders this worker actively owns with a deadline passed by now and
        not reported yet (what the deadline sweep reports)."""

    def assessment_shares(self, period: str) -> dict[str, list[dict[str, Any]]]:
        """This worker's assessment counters of period, per party."""

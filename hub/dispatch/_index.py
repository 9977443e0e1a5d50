"""Figures over every order, kept as the orders change (`hub.stream.TableIndex`), so that
reading them costs what changed since, never a scan of the orders table's history:

- `CreditIndex`: the assessment counters per partition, month and party, the sum of the
  credits the table's values carry (orders' ``assessment``, disclosures); what
  ``/v1/assessment`` and the ``hub_assessment_*`` metrics read.
- `OpenOrders`: the orders not closed yet, per partition: counts per recipient party and
  state, which are past a deadline, the oldest, and which have a deadline passed and not
  reported yet (what the deadline sweep reports). Deadlines pass with time, not with
  changes: two heaps of due times are read up to now at each look (each order is popped
  once per deadline it waits on).

- `DueIndex`: per partition, when each value is next due for something a timer does
  (a fine's next enforcement notice); what the enforcement sweep reads instead of every
  case.

All are rebuilt from the table when a partition is restored, and forget a partition
that moves away.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.dispatch._assessment import add_share
from hub.dispatch._deadlines import Dues, waited_on
from hub.dispatch._lifecycle import OrderState, OrderView, view_from_dict

DONE_STATES = frozenset({OrderState.CLOSED, OrderState.EVALUATED})
_DONE = frozenset(state.value for state in DONE_STATES)

Credits = Callable[[str, Any], dict[str, dict[str, Any]]]


class CreditIndex:
    """Per partition, month and party, the sum of the credits of a table's values.

    credits_of(key, value) says what one value credits: ``party|YYYY-MM`` → counters
    (`hub.dispatch._assessment.credit`'s form)."""

    def __init__(self, credits_of: Credits) -> None:
        self.credits_of = credits_of
        self._parts: dict[int, dict[str, dict[str, dict[str, Any]]]] = {}

    def changed(self, partition: int, key: str, old: Any, new: Any) -> None:
        periods = self._parts.setdefault(partition, {})
        for sign, value in ((-1, old), (1, new)):
            if value is None:
                continue
            for slot, counters in self.credits_of(key, value).items():
                party, _, period = slot.rpartition("|")
                share = periods.setdefault(period, {}).setdefault(party, {})
                add_share(share, counters, sign)

    def dropped(self, partition: int) -> None:
        self._parts.pop(partition, None)

    def shares(self, period: str, partitions: Iterable[int]) -> dict[str, list[dict[str, Any]]]:
        """The shares of period of partitions, per party (one per partition), as copies."""
        shares: dict[str, list[dict[str, Any]]] = {}
        for partition in partitions:
            for party, share in self._parts.get(partition, {}).get(period, {}).items():
                copy = dict(share)
                if "buckets" in copy:
                    copy["buckets"] = dict(copy["buckets"])
                shares.setdefault(party, []).append(copy)
        return shares


@dataclass
class PartySla:
    """A recipient party's open orders: per state, how many are past a deadline, and
    the age of the oldest."""

    states: dict[str, int] = field(default_factory=dict)
    overdue: int = 0
    oldest_seconds: float = 0.0

    @property
    def open(self) -> int:
        return sum(self.states.values())


@dataclass
class _Open:
    """One open order as the index holds it."""

    view: OrderView
    late_at: datetime | None  # the first deadline it waits on (met or not)
    report_at: datetime | None  # the first it waits on that was not reported yet
    late: bool = False  # counted in `_Part.overdue`


@dataclass
class _Part:
    """The open orders of one partition."""

    orders: dict[str, _Open] = field(default_factory=dict)
    states: dict[tuple[str, str], int] = field(default_factory=dict)  # (party, state)
    overdue: dict[str, int] = field(default_factory=dict)  # party -> late orders
    oldest: dict[str, list[tuple[datetime, int, str, _Open]]] = field(default_factory=dict)
    lates: list[tuple[datetime, int, str, _Open]] = field(default_factory=list)
    reports: list[tuple[datetime, int, str, _Open]] = field(default_factory=list)
    due: dict[str, _Open] = field(default_factory=dict)  # a deadline passed, not reported

    def current(self, entry: tuple[datetime, int, str, _Open]) -> bool:
        return self.orders.get(entry[2]) is entry[3]

    def compact(self) -> None:
        """Drop the heaps' entries of orders changed or closed since, once they are half
        of a heap (they leave only when they surface: one order open for long would
        otherwise keep every later order's entry)."""
        limit = 2 * len(self.orders) + 64
        for heap in (self.lates, self.reports, *self.oldest.values()):
            if len(heap) > limit:
                heap[:] = [entry for entry in heap if self.current(entry)]
                heapq.heapify(heap)
        for party in [p for p, heap in self.oldest.items() if not heap]:
            del self.oldest[party]


def _bump(counts: dict[Any, int], key: Any, by: int) -> None:
    value = counts.get(key, 0) + by
    if value:
        counts[key] = value
    else:
        counts.pop(key, None)


class OrderIndex:
    """The open orders of the ``orders`` table, per partition (see the module).

    dues gives an order's deadlines; they depend on the reference data (the matter's
    sign-off hours), so the owner calls `TableIndex` ``reindex`` when it changes."""

    def __init__(self, dues: Callable[[OrderView], Dues], skip: Callable[[str], bool]) -> None:
        self.dues = dues
        self.skip = skip  # keys that are not orders
        self._parts: dict[int, _Part] = {}
        self._seq = itertools.count()

    # ---------------------------------------------------------- the table's side

    def changed(self, partition: int, key: str, old: Any, new: Any) -> None:
        if self.skip(key):
            return
        part = self._parts.setdefault(partition, _Part())
        gone = part.orders.pop(key, None)
        if gone is not None:
            self._forget(part, key, gone)
        if new is None or new.get("state") in _DONE:
            return
        view = view_from_dict(new)
        waits = waited_on(view, self.dues(view))
        late_at = min((m.due for m in waits), default=None)
        reported = set(view.applied) | {step.event_id for step in view.history}
        # an order without events has reported nothing (an event id is a uuid5 to make)
        report_at = late_at if not reported else min(
            (m.due for m in waits if m.event_id not in reported), default=None
        )
        entry = _Open(view, late_at, report_at)
        part.orders[key] = entry
        seq = next(self._seq)
        for party in view.recipients:
            _bump(part.states, (party, view.state.value), 1)
            heapq.heappush(part.oldest.setdefault(party, []),
                           (view.received_at, seq, key, entry))
        if entry.late_at is not None:
            heapq.heappush(part.lates, (entry.late_at, seq, key, entry))
        if entry.report_at is not None:
            heapq.heappush(part.reports, (entry.report_at, seq, key, entry))
        part.compact()

    def dropped(self, partition: int) -> None:
        self._parts.pop(partition, None)

    def _forget(self, part: _Part, key: str, entry: _Open) -> None:
        for party in entry.view.recipients:
            _bump(part.states, (party, entry.view.state.value), -1)
            if entry.late:
                _bump(part.overdue, party, -1)
        part.due.pop(key, None)
        # its heap entries stay until they surface: `current` tells them apart

    # ---------------------------------------------------------- the readers' side

    def _advance(self, part: _Part, now: datetime) -> None:
        """Count the orders whose first deadline has passed by now, and note those
        with a deadline passed and not reported yet."""
        while part.lates and part.lates[0][0] < now:
            entry = heapq.heappop(part.lates)
            if part.current(entry):
                entry[3].late = True
                for party in entry[3].view.recipients:
                    _bump(part.overdue, party, 1)
        while part.reports and part.reports[0][0] < now:
            entry = heapq.heappop(part.reports)
            if part.current(entry):
                part.due[entry[2]] = entry[3]

    def sla(self, now: datetime, partitions: Iterable[int]) -> dict[str, PartySla]:
        """Per recipient party, the SLA of the open orders of partitions."""
        slas: dict[str, PartySla] = {}
        for partition in partitions:
            part = self._parts.get(partition)
            if part is None:
                continue
            self._advance(part, now)
            for (party, state), count in part.states.items():
                sla = slas.setdefault(party, PartySla())
                sla.states[state] = sla.states.get(state, 0) + count
            for party, count in part.overdue.items():
                slas.setdefault(party, PartySla()).overdue += count
            for party, heap in part.oldest.items():
                while heap and not part.current(heap[0]):
                    heapq.heappop(heap)
                if heap:
                    sla = slas.setdefault(party, PartySla())
                    age = (now - heap[0][0]).total_seconds()
                    sla.oldest_seconds = max(sla.oldest_seconds, age)
        return slas

    def due(self, now: datetime, partitions: Iterable[int]) -> list[OrderView]:
        """The open orders of partitions with a deadline passed by now and not reported
        (they leave this list when the report is applied and changes them)."""
        views: list[OrderView] = []
        for partition in partitions:
            part = self._parts.get(partition)
            if part is None:
                continue
            self._advance(part, now)
            views += [entry.view for entry in part.due.values()]
        return views

    def open_views(self, partitions: Iterable[int]) -> list[OrderView]:
        """The open orders of partitions."""
        return [
            entry.view
            for partition in partitions
            for entry in self._parts.get(partition, _Part()).orders.values()
        ]


DueAt = Callable[[str, Any], datetime | None]


@dataclass
class _Dues:
    at: dict[str, tuple[int, Any]] = field(default_factory=dict)  # key -> (seq, value)
    heap: list[tuple[datetime, int, str]] = field(default_factory=list)
    due: dict[str, Any] = field(default_factory=dict)  # passed, until the value changes


class DueIndex:
    """Per partition, the values whose due time (due_at(key, value), None: never) has
    passed: a heap of due times read up to now at each look; a value stays due until it
    changes (what it was due for is then in it, or still not, and its time is worked out
    again)."""

    def __init__(self, due_at: DueAt) -> None:
        self.due_at = due_at
        self._parts: dict[int, _Dues] = {}
        self._seq = itertools.count()

    def changed(self, partition: int, key: str, old: Any, new: Any) -> None:
        part = self._parts.setdefault(partition, _Dues())
        part.at.pop(key, None)  # its heap entry stays until it surfaces, then is stale
        part.due.pop(key, None)
        at = self.due_at(key, new) if new is not None else None
        if at is None:
            return
        seq = next(self._seq)
        part.at[key] = (seq, new)
        heapq.heappush(part.heap, (at, seq, key))
        if len(part.heap) > 2 * len(part.at) + 64:  # stale entries: rebuild
            part.heap = [entry for entry in part.heap
                         if part.at.get(entry[2], (None,))[0] == entry[1]]
            heapq.heapify(part.heap)

    def dropped(self, partition: int) -> None:
        self._parts.pop(partition, None)

    def due(self, now: datetime, partitions: Iterable[int]) -> list[Any]:
        """The values of partitions due by now (due time <= now)."""
        values: list[Any] = []
        for partition in partitions:
            part = self._parts.get(partition)
            if part is None:
                continue
            while part.heap and part.heap[0][0] <= now:
                _, seq, key = heapq.heappop(part.heap)
                held = part.at.get(key)
                if held is not None and held[0] == seq:
                    part.due[key] = held[1]
            values += part.due.values()
        return values

    def pending(self, partitions: Iterable[int]) -> int:
        """How many values of partitions have a due time (passed or not)."""
        return sum(len(self._parts[p].at) for p in partitions if p in self._parts)

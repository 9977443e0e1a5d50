"""The figures a worker keeps as its orders change (`hub.dispatch.OrderIndex`,
`CreditIndex`): at every moment they equal what a scan of every order would count, and
the table tells them each change, restore and drop (`hub.stream.Table.watch`)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from hub.dispatch import (
    Applied,
    CreditIndex,
    OrderIndex,
    OrderView,
    apply_event,
    changes_of,
    credit,
    missed_deadlines,
    opened,
    view_from_dict,
    view_to_dict,
)
from hub.dispatch._assessment import add_share, merge, period_of
from hub.dispatch._metrics import order_sla
from hub.records import OrderEvent
from hub.stages.deadlines import deadline_notices
from hub.stream import Table
from hub.stream._outputs import Outputs, bind, unbind
from tests.unit.conftest import DEADLINES, ISSUED, MATTER, event, order

PARTITIONS = (0, 1, 2)
TYPES = ("WHISTLE", "WHISTLE", "ASSIGNMENT", "CASE_TRANSFER", "CRIMINAL_REFERRAL")


def issue(order_type: str, at: datetime, deadline_hours: int | None = None) -> OrderView:
    """An order received at at, with the issuer's own deadline or the policy's."""
    when = {"issued_at": at.isoformat(), "received_at": at.isoformat()}
    if deadline_hours is None:
        return order(order_type, drop=("deadline",), **when)
    return order(order_type, deadline=(at + timedelta(hours=deadline_hours)).isoformat(), **when)


def dues(view: OrderView) -> Any:
    return DEADLINES.dues(view, MATTER)


class World:
    """Orders of three partitions, stored as the lifecycle stage stores them, with both
    indexes told every change (as `Table.apply` tells them)."""

    def __init__(self) -> None:
        self.stored: dict[str, tuple[int, dict[str, Any]]] = {}
        self.index = OrderIndex(dues, lambda key: key.startswith("~"))
        self.credits = CreditIndex(lambda key, value: value.get("assessment") or {})

    def put(self, partition: int, view: OrderView, credits: dict[str, Any]) -> None:
        old = self.stored.get(view.order_id, (partition, None))[1]
        new = {**view_to_dict(view), "assessment": credits, "partition": partition}
        self.stored[view.order_id] = (partition, new)
        self.index.changed(partition, view.order_id, old, new)
        self.credits.changed(partition, view.order_id, old, new)

    def views(self, partitions: tuple[int, ...] = PARTITIONS) -> list[OrderView]:
        return [view_from_dict(v) for p, v in self.stored.values() if p in partitions]

    def apply(self, happened: OrderEvent) -> bool:
        partition, stored = self.stored[str(happened.order_id)]
        view = view_from_dict(stored)
        outcome = apply_event(view, happened)
        if not isinstance(outcome, Applied):
            return False
        changes = changes_of(view, outcome.view, happened, dues(view))
        self.put(partition, outcome.view, credit(stored["assessment"], changes))
        return True

    def check(self, now: datetime, partitions: tuple[int, ...] = PARTITIONS) -> None:
        """The indexes against a scan of every order of partitions."""
        views = self.views(partitions)
        assert self.index.sla(now, partitions) == order_sla(views, dues, now)
        due = {v.order_id for v in self.index.due(now, partitions)}
        assert due == {v.order_id for v in views if missed_deadlines(v, now, dues(v))}
        periods = {period_of(v.received_at) for v in views} | {period_of(ISSUED)}
        for period in periods:
            scanned: dict[str, dict[str, Any]] = {}
            for p, stored in self.stored.values():
                if p not in partitions:
                    continue
                for slot, counters in stored["assessment"].items():
                    party, _, month = slot.rpartition("|")
                    if month == period:
                        add_share(scanned.setdefault(party, {}), counters)
            kept = self.credits.shares(period, partitions)
            assert {party: merge(shares) for party, shares in kept.items()} == {
                party: merge([share]) for party, share in scanned.items()
            }


@pytest.mark.parametrize("seed", range(6))
def test_the_indexes_equal_a_scan_of_every_order_through_random_stories(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - a reproducible story, not a secret
    world = World()
    now = ISSUED
    for _ in range(160):
        now += timedelta(minutes=rng.choice((5, 30, 90, 600)))
        if rng.random() < 0.3 or not world.stored:
            view = issue(rng.choice(TYPES), now, rng.choice((None, 3, 48)))
            world.put(rng.choice(PARTITIONS), view, credit(None, opened(view)))
        else:
            _, stored = world.stored[rng.choice(sorted(world.stored))]
            view = view_from_dict(stored)
            kind, actor = rng.choice((
                ("SIGNED", view.recipients[0]), ("ACCEPTED", view.recipients[0]),
                ("REPORTED", view.recipients[0]), ("FEEDBACK", view.recipients[0]),
                ("RETURNED", view.recipients[0]), ("CLOSED", view.issuer),
            ))
            world.apply(event(view, kind, actor, now))
        if rng.random() < 0.25:
            world.check(now)
            # the sweep reports what is due; once applied, it is due no more
            due = world.index.due(now, PARTITIONS)
            for out in deadline_notices(due, now, dues).out:
                assert isinstance(out.record, OrderEvent)
                world.apply(out.record)
            world.check(now)
            assert all(not missed_deadlines(v, now, dues(v)) for v in world.views()
                       if v.order_id in {d.order_id for d in due})
    world.check(now + timedelta(days=30))
    world.check(now + timedelta(days=30), (0, 2))


def test_a_partition_dropped_is_forgotten_and_a_restored_one_counted_again() -> None:
    world = World()
    late = issue("WHISTLE", ISSUED)
    world.put(1, late, credit(None, opened(late)))
    now = ISSUED + timedelta(days=2)
    assert world.index.sla(now, PARTITIONS)[late.recipients[0]].overdue == 1
    world.index.dropped(1)
    world.credits.dropped(1)
    assert world.index.sla(now, PARTITIONS) == {}
    assert world.index.due(now, PARTITIONS) == []
    assert world.credits.shares("2026-11", PARTITIONS) == {}
    del world.stored[late.order_id]
    world.put(1, late, credit(None, opened(late)))  # restored: told as new
    world.check(now)


def test_a_closed_order_leaves_the_open_figures_and_keeps_its_credits() -> None:
    world = World()
    view = issue("WHISTLE", ISSUED)
    world.put(0, view, credit(None, opened(view)))
    party = view.recipients[0]
    assert world.index.sla(ISSUED, (0,))[party].states == {"ISSUED": 1}
    assert world.apply(event(view, "SIGNED", party, ISSUED + timedelta(minutes=5)))
    assert world.index.sla(ISSUED, (0,))[party].states == {"SIGNED": 1}
    stored = world.stored[view.order_id][1]
    signed = view_from_dict(stored)
    story = (("REPORTED", party), ("FEEDBACK", party), ("CLOSED", view.issuer))
    for minutes, (kind, actor) in enumerate(story, start=10):
        assert world.apply(event(signed, kind, actor, ISSUED + timedelta(minutes=minutes)))
        signed = view_from_dict(world.stored[view.order_id][1])
    assert world.index.sla(ISSUED + timedelta(days=9), (0,)) == {}
    assert world.index.open_views((0,)) == []
    [share] = world.credits.shares("2026-11", (0,))[party]
    assert (share["received"], share["signed"], share["answered"]) == (1, 1, 1)
    world.check(ISSUED + timedelta(days=9))


def test_many_orders_open_for_long_do_not_keep_what_closed_in_the_heaps() -> None:
    world = World()
    keep = issue("WHISTLE", ISSUED)
    world.put(0, keep, credit(None, opened(keep)))  # open the whole time
    for minute in range(1, 400):
        at = ISSUED + timedelta(minutes=minute)
        view = issue("WHISTLE", at)
        world.put(0, view, credit(None, opened(view)))
        stored = {**view_to_dict(view), "state": "CLOSED"}
        world.put(0, view_from_dict(stored), {})
    part = world.index._parts[0]
    assert len(part.orders) == 1
    assert max(len(part.lates), len(part.reports), *map(len, part.oldest.values())) <= 66
    world.check(ISSUED + timedelta(days=1))


class Counting:
    """A TableIndex that writes down what it is told."""

    def __init__(self) -> None:
        self.told: list[tuple[Any, ...]] = []

    def changed(self, partition: int, key: str, old: Any, new: Any) -> None:
        self.told.append(("changed", partition, key, old, new))

    def dropped(self, partition: int) -> None:
        self.told.append(("dropped", partition))


def test_the_table_tells_its_indexes_every_change_restore_and_drop() -> None:
    table = Table("orders", "hub", 3)
    table.restored(0, {"a": {"n": 1}})
    seen = Counting()
    table.watch(seen)  # told what is held already
    assert seen.told == [("changed", 0, "a", None, {"n": 1})]
    table.apply(0, "a", {"n": 2})
    table.apply(0, "b", {"n": 1})
    table.apply(0, "a", None)
    assert seen.told[1:] == [
        ("changed", 0, "a", {"n": 1}, {"n": 2}),
        ("changed", 0, "b", None, {"n": 1}),
        ("changed", 0, "a", {"n": 2}, None),
    ]
    seen.told.clear()
    table.restored(1, {"c": {"n": 3}})
    table.drop(0)
    assert seen.told == [("dropped", 1), ("changed", 1, "c", None, {"n": 3}), ("dropped", 0)]
    seen.told.clear()
    table.reindex(seen)
    assert seen.told == [("dropped", 1), ("changed", 1, "c", None, {"n": 3})]


def test_an_index_that_fails_costs_a_log_line_not_the_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        def changed(self, partition: int, key: str, old: Any, new: Any) -> None:
            raise KeyError(key)

        def dropped(self, partition: int) -> None:
            pass

    table = Table("orders", "hub", 1)
    table.watch(Broken())
    table.apply(0, "a", {"n": 1})
    outputs = Outputs(partition=0)
    token = bind(outputs)
    try:
        assert table.get("a") == {"n": 1}
    finally:
        unbind(token)
    assert "index Broken failed on a" in caplog.text

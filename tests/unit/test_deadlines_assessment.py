"""Working calendar, deadline policy, order deadlines and the two-way assessment
(docs/design.md §4)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hub.dispatch import (
    Applied,
    DeadlinePolicy,
    Deadlines,
    Dues,
    OrderView,
    apply_event,
    load_deadline_policy,
    missed_deadlines,
    view_from_dict,
    view_to_dict,
)
from hub.dispatch import _assessment as assessment
from hub.dispatch._assessment import Change, add, changes_of, opened, report
from hub.dispatch._deadlines import RECEIPT_TYPES
from hub.dispatch._metrics import AssessmentCollector
from hub.errors import ConfigError, ReferenceDataError
from hub.records import OrderType, Priority
from hub.reference import BEIJING, REFERENCE_DIR, load_calendar
from hub.reference._calendar import ENDS_KEPT
from tests.unit.conftest import CALENDAR, DEADLINES, ISSUED, MATTER, POLICY, event, order

END_OF_DAY = time(23, 59, 59, 999000)


def bj(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BEIJING)


def end_of(year: int, month: int, day: int) -> datetime:
    return datetime.combine(date(year, month, day), END_OF_DAY, tzinfo=BEIJING)


def step(
    view: OrderView, event_type: str, actor: str, at: datetime | None = None, **extra: Any
) -> OrderView:
    outcome = apply_event(view, event(view, event_type, actor, at, **extra))
    assert isinstance(outcome, Applied), outcome
    return outcome.view


# ------------------------------------------------------------------ working calendar


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 11, 27), True),  # Friday
        (date(2026, 11, 28), False),  # Saturday
        (date(2026, 11, 29), False),  # Sunday
        (date(2026, 10, 5), False),  # Monday of National Day
        (date(2026, 10, 10), True),  # Saturday worked in exchange
        (date(2026, 2, 14), True),  # Saturday before the Spring Festival
        (date(2026, 2, 23), False),  # Monday, last day of the Spring Festival
    ],
)
def test_working_days_follow_weekends_holidays_and_adjusted_saturdays(
    day: date, working: bool
) -> None:
    assert CALENDAR.is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (bj(2026, 11, 20, 10), 1, date(2026, 11, 23)),  # Friday + 1: weekend skipped
        (bj(2026, 4, 3, 10), 1, date(2026, 4, 7)),  # Qingming Sat-Mon skipped
        (bj(2026, 2, 13, 10), 1, date(2026, 2, 14)),  # the working Saturday counts
        (bj(2026, 2, 13, 10), 2, date(2026, 2, 24)),  # then the Spring Festival is skipped
        # 09-30 Wed; 10-01..07 holidays; 10-08 Thu (1), 10-09 Fri (2), 10-10 Sat worked (3),
        # 10-11 Sun rest, 10-12 Mon (4), 10-13 Tue (5), 10-14 Wed (6), 10-15 Thu (7).
        (bj(2026, 9, 30, 16), 7, date(2026, 10, 15)),
        (bj(2026, 11, 25, 23, 59), 0, date(2026, 11, 25)),
        # Thu 26 November 17:00 UTC is Fri 27 01:00 in Beijing: one working day is Mon 30
        (datetime(2026, 11, 26, 17, 0, tzinfo=UTC), 1, date(2026, 11, 30)),
    ],
)
def test_add_working_days_ends_on_the_nth_working_day_in_beijing(
    start: datetime, days: int, due: date
) -> None:
    result = CALENDAR.add_working_days(start, days)
    assert result.date() == due and result.time() == END_OF_DAY
    assert result.tzinfo == ZoneInfo("Asia/Shanghai")
    assert result.utcoffset() == timedelta(hours=8)


def test_a_remembered_deadline_is_the_one_counted_for_its_day_and_length() -> None:
    """The calendar remembers deadlines by first day and length (each order's answer
    deadline is counted on every change): asked again, in another order, it answers as a
    fresh calendar counts, and it keeps at most ENDS_KEPT of them."""
    path = REFERENCE_DIR / "calendar.yaml"
    calendar = load_calendar(path)
    starts = [bj(2026, 9, 28, 9) + timedelta(hours=7 * n) for n in range(40)]
    asked = [(start, days) for start in starts for days in (1, 3, 7, 15)]
    first = {(s, d): calendar.add_working_days(s, d) for s, d in asked}
    for start, days in reversed(asked):
        assert calendar.add_working_days(start, days) == first[(start, days)]
        assert load_calendar(path).add_working_days(start, days) == first[(start, days)]
    assert first[(starts[0], 1)] != first[(starts[0], 3)]  # the length is part of the key
    for n in range(ENDS_KEPT + 10):
        calendar.add_working_days(bj(2026, 1, 1, 9) + timedelta(days=n), 1)
    assert 0 < len(calendar._ends) <= ENDS_KEPT


def test_a_year_outside_the_calendar_counts_weekends_only_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calendar = load_calendar(REFERENCE_DIR / "calendar.yaml")  # fresh: nothing warned yet
    with caplog.at_level(logging.WARNING):
        due = calendar.add_working_days(bj(2027, 9, 30, 10), 1)
    assert due.date() == date(2027, 10, 1)  # a Friday; 2027 holidays are not known
    assert calendar.add_working_days(bj(2027, 10, 1, 10), 1).date() == date(2027, 10, 4)
    assert [r.getMessage() for r in caplog.records if "2027" in r.getMessage()]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("holidays: ['next monday']", "holidays[0]: 'next monday' is not a date"),
        ("holidays: [2026-02-30]", "2026-02-30"),  # an impossible date, unquoted
        ("holidays: [2026-10-10]\nworkdays: [2026-10-10]", "2026-10-10 listed both"),
        ("holidays: [2027-01-01]", "2027-01-01 lies outside the listed years"),
        ("[2026-01-01]", "top level must be a mapping"),
    ],
    ids=["not-a-date", "impossible-date", "holiday-and-workday", "outside-years", "not-a-mapping"],
)
def test_a_bad_calendar_file_names_path_and_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "calendar.yaml"
    text = text if text.startswith("[") else f"years: [2026]\n{text}\n"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ReferenceDataError) as caught:
        load_calendar(path)
    assert str(path) in str(caught.value) and problem in str(caught.value)


# ------------------------------------------------------------------ deadline policy


def test_the_shipped_policy_has_limits_for_every_order_type_and_priority() -> None:
    for order_type in OrderType:
        for priority in Priority:
            limits = POLICY.limits(order_type, priority)
            if order_type in RECEIPT_TYPES:
                assert limits.acceptance_days is not None
            else:
                assert limits.sign_off_hours and limits.answer_working_days
    assert POLICY.limits(OrderType.WHISTLE, Priority.CRITICAL).sign_off_hours == 0.5
    assert POLICY.limits(OrderType.CASE_TRANSFER, Priority.CRITICAL).acceptance_days == 1


def _shipped() -> dict[str, Any]:
    document = yaml.safe_load((REFERENCE_DIR / "deadlines.yaml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize(
    ("entry", "value", "named"),
    [
        (("WHISTLE", "CRITICAL"), None, ["WHISTLE", "CRITICAL"]),
        (("CASE_TRANSFER", "URGENT"), {}, ["CASE_TRANSFER.URGENT", "acceptance_days"]),
        (("ASSIGNMENT", "NORMAL"), {"sign_off_hours": 24, "x": 1}, ["ASSIGNMENT.NORMAL.x"]),
    ],
)
def test_an_incomplete_policy_is_a_config_error_naming_the_entry(
    tmp_path: Path, entry: tuple[str, str], value: Any, named: list[str]
) -> None:
    document = _shipped()
    if value is None:
        del document[entry[0]][entry[1]]
    else:
        document[entry[0]][entry[1]] = value
    path = tmp_path / "deadlines.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_deadline_policy(path)
    assert str(path) in str(caught.value)
    assert all(word in str(caught.value) for word in named), caught.value


# ------------------------------------------------------------------ dues


def test_a_whistle_takes_the_matters_sign_off_hours_or_the_shorter_when_urgent() -> None:
    view = order(priority="NORMAL")
    assert DEADLINES.dues(view, MATTER).sign_off == ISSUED + timedelta(hours=4)  # policy: 2
    assert DEADLINES.dues(view, None).sign_off == ISSUED + timedelta(hours=2)
    assignment = order("ASSIGNMENT", priority="NORMAL")  # matter hours are for whistles only
    assert DEADLINES.dues(assignment, MATTER).sign_off == ISSUED + timedelta(hours=24)
    view = order()  # URGENT takes the shorter: policy 1 h, matter 4 h
    assert DEADLINES.dues(view, MATTER).sign_off == ISSUED + timedelta(hours=1)
    document = _shipped()
    document["WHISTLE"]["URGENT"]["sign_off_hours"] = 3
    slower = Deadlines(DeadlinePolicy.model_validate(document), CALENDAR)
    matter = replace(MATTER, sign_off_hours=2)
    assert slower.dues(view, matter).sign_off == ISSUED + timedelta(hours=2)


def test_the_issuers_deadline_holds_until_a_reassignment() -> None:
    view = order()  # URGENT, deadline 11:30 the same day
    assert DEADLINES.dues(view, MATTER).answer == bj(2026, 11, 25, 11, 30)
    returned = step(view, "RETURNED", "dept-urban")
    moved = step(
        returned, "REASSIGNED", "street-jiyuqiao", bj(2026, 11, 26, 10), reassign_to=["dept-water"]
    )
    dues = DEADLINES.dues(moved, MATTER)
    # Thu 26 + 3 working days (URGENT): Fri 27, Mon 30, Tue 1 December
    assert dues.answer == end_of(2026, 12, 1)
    assert dues.sign_off == bj(2026, 11, 26, 11)


def test_an_order_without_deadline_gets_the_working_day_default() -> None:
    view = order(priority="NORMAL", drop=("deadline",))
    assert view.deadline is None
    # Wed 25 November + 7 working days: 26, 27, 30 Nov, 1, 2, 3, 4 Dec
    assert DEADLINES.dues(view, MATTER).answer == end_of(2026, 12, 4)


@pytest.mark.parametrize("order_type", ["CASE_TRANSFER", "CRIMINAL_REFERRAL"])
def test_transfers_and_referrals_have_only_an_acceptance_deadline(order_type: str) -> None:
    view = order(order_type)
    assert DEADLINES.dues(view, MATTER) == Dues(acceptance=ISSUED + timedelta(days=3))


def test_missed_deadline_ids_are_stable_and_differ_per_round() -> None:
    view = order()
    now = bj(2026, 11, 25, 12)
    first = missed_deadlines(view, now, DEADLINES.dues(view, MATTER))
    again = missed_deadlines(view, now, DEADLINES.dues(view, MATTER))
    assert [(m.which, m.round) for m in first] == [("sign-off", 0), ("answer", 0)]
    assert [m.event_id for m in first] == [m.event_id for m in again]
    assert first[0].source_id == f"overdue/{view.order_id}/sign-off"
    flagged = step(view, "OVERDUE", "hub", source_id=first[0].source_id)
    assert flagged.history[-1].event_id == first[0].event_id
    still = missed_deadlines(flagged, now, DEADLINES.dues(view, MATTER))
    assert [m.which for m in still] == ["answer"]  # the reported sign-off is not due again
    returned = step(flagged, "RETURNED", "dept-urban")
    at = bj(2026, 11, 26, 10)
    moved = step(returned, "REASSIGNED", "street-jiyuqiao", at, reassign_to=["dept-water"])
    later = missed_deadlines(moved, bj(2026, 11, 26, 12), DEADLINES.dues(moved, MATTER))
    assert [(m.which, m.round) for m in later] == [("sign-off", 1)]
    assert later[0].source_id == f"overdue/{view.order_id}/sign-off/r1"
    assert later[0].event_id != first[0].event_id


# ------------------------------------------------------------------ case transfer owner


def test_the_accepting_receiver_becomes_case_owner_and_the_view_round_trips() -> None:
    subject = uuid.uuid4()
    view = order("CASE_TRANSFER", priority="CRITICAL", subject_id=str(subject))
    assert view.case_owner == "street-jiyuqiao" and order().case_owner is None
    signed = step(view, "SIGNED", "dept-urban")
    assert signed.case_owner == "street-jiyuqiao"
    accepted = step(signed, "ACCEPTED", "dept-urban")
    assert accepted.case_owner == "dept-urban"
    restored = view_from_dict(view_to_dict(accepted))
    assert restored == accepted
    assert (restored.priority, restored.subject_id) == (Priority.CRITICAL, str(subject))


def test_a_view_stored_before_the_new_fields_still_loads() -> None:
    stored = view_to_dict(step(order(), "SIGNED", "dept-urban"))
    for key in ("priority", "deadline", "subject_id", "case_owner"):
        del stored[key]
    view = view_from_dict(stored)
    assert view.priority is Priority.NORMAL and view.deadline is None
    assert view.subject_id is None and view.case_owner is None
    assert view.history[0].actor == "dept-urban"


# ------------------------------------------------------------------ assessment

Totals = dict[tuple[str, str], dict[str, Any]]


def count(totals: Totals, changes: list[Change]) -> None:
    for change in changes:
        totals[change.party, change.period] = add(totals.get((change.party, change.period)), change)


def play(
    totals: Totals, view: OrderView, kind: str, actor: str, at: datetime, **extra: Any
) -> OrderView:
    happened = event(view, kind, actor, at, **extra)
    outcome = apply_event(view, happened)
    assert isinstance(outcome, Applied), outcome
    count(totals, changes_of(view, outcome.view, happened, DEADLINES.dues(view, MATTER)))
    return outcome.view


def figures(totals: Totals, party: str, period: str = "2026-11") -> dict[str, Any]:
    return report(party, period, totals.get((party, period), {}))


def test_a_whistle_story_counts_for_recipient_and_issuer() -> None:
    totals: Totals = {}
    view = order()  # URGENT: sign off by 10:30 (1 h), answer by 11:30 (its deadline)
    count(totals, opened(view))
    view = play(totals, view, "SIGNED", "dept-urban", bj(2026, 11, 25, 9, 50))
    view = play(totals, view, "REPORTED", "dept-urban", bj(2026, 11, 25, 10))
    view = play(totals, view, "FEEDBACK", "dept-urban", bj(2026, 11, 25, 12))  # late
    view = play(totals, view, "FEEDBACK", "dept-urban", bj(2026, 11, 25, 12, 30))
    view = play(totals, view, "CLOSED", "street-jiyuqiao", bj(2026, 11, 25, 13))
    play(totals, view, "EVALUATED", "street-jiyuqiao", bj(2026, 11, 25, 14), rating=4)
    urban = figures(totals, "dept-urban")
    counted = ("received", "issued", "signed", "signed_on_time", "answered", "answered_on_time")
    assert [urban[k] for k in counted] == [1, 0, 1, 1, 1, 0]  # the 2nd FEEDBACK counts not
    assert (urban["signed_on_time_rate"], urban["answered_on_time_rate"]) == (1.0, 0.0)
    assert urban["mean_response_hours"] == 2.5
    assert 2.5 <= urban["p90_response_hours"] <= 2.5 * 1.05
    assert (urban["evaluations"], urban["mean_evaluation"]) == (1, 4.0)
    street = figures(totals, "street-jiyuqiao")
    assert (street["issued"], street["received"], street["signed_on_time_rate"]) == (1, 0, None)


def test_returns_reassignments_and_overdue_are_counted_where_they_belong() -> None:
    totals: Totals = {}
    view = order(to_parties=["dept-urban", "dept-water"])
    count(totals, opened(view))
    view = play(totals, view, "OVERDUE", "hub", bj(2026, 11, 25, 12))
    assert figures(totals, "dept-urban")["overdue"] == figures(totals, "dept-water")["overdue"] == 1
    assert figures(totals, "street-jiyuqiao")["overdue"] == 0
    view = play(totals, view, "RETURNED", "dept-urban", bj(2026, 11, 26, 10))
    assert figures(totals, "dept-urban")["returned"] == 1
    assert figures(totals, "dept-water")["returned"] == 0
    moved_at = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 1 December 01:00 in Beijing
    view = play(totals, view, "REASSIGNED", "street-jiyuqiao", moved_at, reassign_to=["police"])
    assert figures(totals, "police", "2026-12")["received"] == 1
    assert figures(totals, "police", "2026-11")["received"] == 0
    play(totals, view, "SIGNED", "police", moved_at + timedelta(minutes=30))  # due in 1 h
    police = figures(totals, "police", "2026-12")
    assert (police["signed"], police["signed_on_time"]) == (1, 1)


@pytest.mark.parametrize(
    ("order_type", "receiver", "after", "on_time"),
    [
        ("CRIMINAL_REFERRAL", "police", timedelta(days=2), 1),
        ("CASE_TRANSFER", "dept-urban", timedelta(days=4), 0),
    ],
)
def test_accepting_a_referral_or_transfer_answers_against_the_acceptance_due(
    order_type: str, receiver: str, after: timedelta, on_time: int
) -> None:
    totals: Totals = {}
    view = order(order_type)
    count(totals, opened(view))
    play(totals, view, "ACCEPTED", receiver, ISSUED + after)
    mine = figures(totals, receiver)
    assert (mine["received"], mine["answered"], mine["answered_on_time"]) == (1, 1, on_time)
    assert mine["mean_response_hours"] == after.total_seconds() / 3600


def test_period_of_uses_beijing_time() -> None:
    assert assessment.period_of(datetime(2026, 11, 30, 17, 0, tzinfo=UTC)) == "2026-12"
    assert assessment.period_of(datetime(2026, 11, 30, 15, 59, tzinfo=UTC)) == "2026-11"


@pytest.mark.parametrize("seconds", [1.0, 59.0, 3600.0, 9000.0, 1.05**10, 86400.0 * 30])
def test_a_response_time_falls_in_a_bucket_5_percent_wide(seconds: float) -> None:
    upper = assessment.bucket_upper(assessment.bucket_of(seconds))
    assert seconds <= upper * (1 + 1e-12) and upper < seconds * 1.05 + 1e-9


def _answer(seconds: float) -> Change:
    counts = {"answered": 1, "response_count": 1, "response_seconds_sum": round(seconds)}
    return Change("dept-urban", "2026-11", counts, response_seconds=seconds)


def test_merge_sums_counters_and_buckets_of_the_shares() -> None:
    one = add(add(None, _answer(3600)), Change("dept-urban", "2026-11", {"received": 2}))
    two = add(None, _answer(3600))
    three = add(two, _answer(7200))
    assert two == add(None, _answer(3600))  # add leaves its input alone
    total = assessment.merge([one, three])
    assert (total["answered"], total["received"], total["response_count"]) == (3, 2, 3)
    assert total["response_seconds_sum"] == 14400 and total["overdue"] == 0
    bucket = assessment.bucket_of
    assert total["buckets"] == {str(bucket(3600)): 2, str(bucket(7200)): 1}


def test_an_orders_credits_add_up_per_party_and_month_into_a_partition_share() -> None:
    first = assessment.credit(None, [Change("street-a", "2026-11", {"received": 1}), _answer(60)])
    again = assessment.credit(first, [_answer(120), Change("street-a", "2026-12", {"overdue": 1})])
    assert first == assessment.credit(
        None, [Change("street-a", "2026-11", {"received": 1}), _answer(60)]
    )
    assert set(again) == {"street-a|2026-11", "street-a|2026-12", "dept-urban|2026-11"}
    assert again["dept-urban|2026-11"]["answered"] == 2
    share: dict[str, Any] = {}
    for credits in (first, again):
        assessment.add_share(share, credits["dept-urban|2026-11"])
    assert (share["answered"], share["response_seconds_sum"]) == (3, 240)
    bucket = assessment.bucket_of
    assert share["buckets"] == {str(bucket(60)): 2, str(bucket(120)): 1}
    assert assessment.merge([share])["answered"] == 3


def test_report_gives_rates_mean_and_p90_within_5_percent_or_none() -> None:
    hours = [0.5 * k for k in range(1, 21)]  # 0.5 h … 10 h; nearest-rank p90 is the 18th: 9 h
    total: dict[str, Any] = {}
    for h in hours:
        total = add(total, _answer(h * 3600))
    total = add(total, Change("x", "2026-11", {"signed": 3, "signed_on_time": 2}))
    got = report("dept-urban", "2026-11", total)
    assert got["signed_on_time_rate"] == 0.6667 and got["answered_on_time_rate"] == 0.0
    assert got["mean_response_hours"] == 5.25
    assert 9.0 <= got["p90_response_hours"] <= 9.0 * 1.05
    empty = report("dept-urban", "2026-11", {})  # no data: no rates, no means
    assert empty["received"] == 0
    rates = ("signed_on_time_rate", "answered_on_time_rate", "mean_response_hours")
    assert [empty[k] for k in (*rates, "p90_response_hours", "mean_evaluation")] == [None] * 5


# ------------------------------------------------------------------ Prometheus export


class FakeEngine:
    def __init__(self, shares: dict[str, list[dict[str, Any]]]) -> None:
        self.shares = shares
        self.asked: list[str] = []

    def assessment_shares(self, period: str) -> dict[str, list[dict[str, Any]]]:
        self.asked.append(period)
        return self.shares


def test_the_collector_exports_counters_and_the_response_histogram() -> None:
    one = add(add(None, _answer(1800)), Change("dept-urban", "2026-11", {"received": 2}))
    two = add(add(None, _answer(9000)), _answer(100000))
    engine = FakeEngine({"dept-urban": [one, two]})
    registry = CollectorRegistry()
    registry.register(AssessmentCollector(cast(Any, engine)))
    text = generate_latest(registry).decode()
    period = engine.asked[-1]
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    labels = {"party": "dept-urban", "period": period}

    def value(name: str, **extra: str) -> float:
        return samples[name, tuple(sorted({**labels, **extra}.items()))]

    assert value("hub_assessment_orders", measure="received") == 2
    assert value("hub_assessment_orders", measure="answered") == 3
    assert value("hub_assessment_orders", measure="overdue") == 0
    bucket = "hub_assessment_response_seconds_bucket"
    assert value(bucket, le="+Inf") == 3 == value("hub_assessment_response_seconds_count")
    edges = ("3600.0", "7200.0", "14400.0", "86400.0", "172800.0")
    assert [value(bucket, le=le) for le in edges] == [1, 1, 2, 2, 3]
    assert value("hub_assessment_response_seconds_sum") == 1800 + 9000 + 100000

"""`hub.records.validate`: valid samples of every kind, derived ids, timestamps, and
invalid records reporting every broken rule at once with path, rule id and zh/en messages."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from hub.errors import FieldError, RecordInvalid
from hub.records import (
    KINDS,
    RULES,
    DispatchOrder,
    EnforcementCase,
    OrderEvent,
    OrderType,
    derive_record_id,
    validate,
)
from hub.reference import Reference, load_seed_reference
from tests.unit import _samples
from tests.unit._samples import ORDER_TYPES, all_samples, order, sample

CJK = re.compile(r"[\u4e00-\u9fff]")
ASCII_LETTER = re.compile(r"[A-Za-z]")


@pytest.fixture(scope="module")
def reference() -> Reference:
    return load_seed_reference()


def errors_of(kind: str, data: Any, reference: Reference | None) -> list[FieldError]:
    with pytest.raises(RecordInvalid) as caught:
        validate(kind, data, reference)
    assert caught.value.kind == kind
    for error in caught.value.errors:
        assert CJK.search(error.message_zh), error
        assert ASCII_LETTER.search(error.message_en), error
    return caught.value.errors


def pairs(errors: list[FieldError]) -> set[tuple[str, str]]:
    return {(e.path, e.rule) for e in errors}


# ------------------------------------------------------------------ valid samples


def test_sample_officers_are_active_and_unexpired_in_the_seed_roster(
    reference: Reference,
) -> None:
    for officer in (_samples.OFFICER_A, _samples.OFFICER_B):
        entry = reference.officers[officer["certificate_no"]]
        assert entry.name == officer["name"]
        assert entry.status == "active"
        assert entry.valid_until >= date.today() + timedelta(days=30)
    for officer in (_samples.EXPIRED_OFFICER, _samples.SUSPENDED_OFFICER):
        assert not reference.officers[officer["certificate_no"]].usable_on(date.today())
    assert _samples.UNKNOWN_OFFICER["certificate_no"] not in reference.officers
    assert {_samples.MATTER, _samples.MATTER_2} <= set(reference.matters)


def test_the_shared_samples_cover_every_kind_and_validate(reference: Reference) -> None:
    """tests/samples.py serves the integration tests: one valid record of every kind."""
    from tests.samples import SAMPLES

    assert set(SAMPLES) == set(KINDS)
    for kind, data in SAMPLES.items():
        validate(KINDS[kind], data, reference)


def test_samples_cover_every_kind_and_order_type() -> None:
    labels = [label for label, _ in all_samples()]
    assert {label.split(":")[0] for label in labels} == set(KINDS)
    assert {label.split(":")[1] for label in labels if ":" in label} == {
        t.value for t in OrderType
    }


@pytest.mark.parametrize(("label", "data"), all_samples(), ids=[x for x, _ in all_samples()])
def test_every_sample_validates(label: str, data: dict[str, Any], reference: Reference) -> None:
    kind = KINDS[label.split(":")[0]]
    record = validate(kind, data, reference)
    assert isinstance(record, kind.model)
    assert record.schema_version == kind.version == kind.model.SCHEMA_VERSION
    # Without a reference the same record passes the structural checks too.
    assert validate(kind, data) == record


@pytest.mark.parametrize(("label", "data"), all_samples(), ids=[x for x, _ in all_samples()])
def test_record_id_is_derived_from_source_and_stable(
    label: str, data: dict[str, Any], reference: Reference
) -> None:
    kind = label.split(":")[0]
    expected = derive_record_id(data["source_party"], data["source_id"])
    assert expected == uuid.uuid5(
        uuid.uuid5(uuid.NAMESPACE_DNS, "hub.enforcement.wuchang.gov.cn"),
        f"{data['source_party']}/{data['source_id']}",
    )
    first = validate(kind, data, reference)
    # Re-sent later, with a new trace and receive time: same record id.
    again = dict(data, trace_id="f" * 32, received_at="2026-04-01T00:00:00Z")
    second = validate(kind, again, reference)
    assert first.record_id == second.record_id == expected
    # Supplying the derived id explicitly is accepted.
    assert validate(kind, dict(data, record_id=str(expected)), reference).record_id == expected
    # Another source id gives another record id.
    other = validate(kind, dict(data, source_id=data["source_id"] + "-2"), reference)
    assert other.record_id != expected


@pytest.mark.parametrize("kind", ["clue", "order", "order-event", "penalty"])
def test_wrong_record_id_is_refused(kind: str, reference: Reference) -> None:
    data = sample(kind)
    data["record_id"] = str(uuid.uuid4())
    errors = errors_of(kind, data, reference)
    assert [(e.path, e.rule) for e in errors] == [("record_id", "record_id.mismatch")]
    assert errors[0].message_zh == RULES["record_id.mismatch"][0]
    assert errors[0].message_en == RULES["record_id.mismatch"][1]


@pytest.mark.parametrize("order_type", ORDER_TYPES)
def test_order_id_equals_record_id(order_type: str, reference: Reference) -> None:
    record = validate("order", order(order_type), reference)
    assert isinstance(record, DispatchOrder)
    assert record.order_id == record.record_id
    assert record.order_id == derive_record_id(record.source_party, f"ORD-{order_type}-0001")
    assert KINDS["order"].key_of(record) == str(record.record_id).encode()


def test_supplied_order_id_must_be_the_record_id(reference: Reference) -> None:
    data = order()
    derived = derive_record_id(data["source_party"], data["source_id"])
    assert validate("order", dict(data, order_id=str(derived)), reference).order_id == derived
    errors = errors_of("order", dict(data, order_id=str(uuid.uuid4())), reference)
    assert [(e.path, e.rule) for e in errors] == [("order_id", "record_id.mismatch")]


def test_event_id_equals_record_id(reference: Reference) -> None:
    data = sample("order-event")
    record = validate("order-event", data, reference)
    assert isinstance(record, OrderEvent)
    assert record.event_id == record.record_id == derive_record_id("dept-urban", "EVT-2026-0001")
    assert str(record.order_id) == _samples.ORDER_ID  # the order it belongs to, untouched
    errors = errors_of("order-event", dict(data, event_id=str(uuid.uuid4())), reference)
    assert [(e.path, e.rule) for e in errors] == [("event_id", "record_id.mismatch")]


# --------------------------------------------------------------------- timestamps


def test_timestamps_are_converted_to_utc_and_truncated_to_milliseconds(
    reference: Reference,
) -> None:
    data = order()
    data["occurred_at"] = "2026-03-01T09:30:15.123987+08:00"
    data["received_at"] = datetime(2026, 3, 1, 1, 30, 16, 999999, tzinfo=UTC)
    data["issued_at"] = datetime(
        2026, 2, 28, 20, 0, 0, 456789, tzinfo=timezone(timedelta(hours=-5, minutes=-30))
    )
    data["deadline"] = "2026-03-02T01:30:00.000999Z"
    record = validate("order", data, reference)
    assert isinstance(record, DispatchOrder)
    assert record.occurred_at == datetime(2026, 3, 1, 1, 30, 15, 123000, tzinfo=UTC)
    assert record.received_at == datetime(2026, 3, 1, 1, 30, 16, 999000, tzinfo=UTC)
    assert record.issued_at == datetime(2026, 3, 1, 1, 30, 0, 456000, tzinfo=UTC)
    assert record.deadline == datetime(2026, 3, 2, 1, 30, 0, 0, tzinfo=UTC)
    for value in (record.occurred_at, record.received_at, record.issued_at, record.deadline):
        assert value.utcoffset() == timedelta(0)
        assert value.tzinfo is UTC
        assert value.microsecond % 1000 == 0


def test_nested_timestamps_are_converted_too(reference: Reference) -> None:
    data = sample("case")
    data["decision"]["decided_at"] = "2026-03-10T10:00:00.987654+08:00"
    record = validate("case", data, reference)
    assert isinstance(record, EnforcementCase)
    assert record.decision is not None
    assert record.decision.decided_at == datetime(2026, 3, 10, 2, 0, 0, 987000, tzinfo=UTC)


def test_received_at_defaults_to_now_in_milliseconds(reference: Reference) -> None:
    data = sample("clue")
    del data["received_at"]
    before = datetime.now(UTC) - timedelta(seconds=1)
    record = validate("clue", data, reference)
    assert before <= record.received_at <= datetime.now(UTC)
    assert record.received_at.tzinfo is UTC
    assert record.received_at.microsecond % 1000 == 0


@pytest.mark.parametrize(
    "naive", ["2026-03-01T09:30:15", "2026-03-01T09:30:15.123", datetime(2026, 3, 1, 9, 30)]
)
def test_naive_timestamps_are_refused(naive: Any, reference: Reference) -> None:
    data = sample("case")
    data["occurred_at"] = naive
    data["decision"]["decided_at"] = naive
    errors = errors_of("case", data, reference)
    assert pairs(errors) == {
        ("occurred_at", "timestamp.naive"),
        ("decision.decided_at", "timestamp.naive"),
    }


@pytest.mark.parametrize(
    "far", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1899-12-31T23:59:59Z",
            "3000-01-01T00:00:00Z"]
)
def test_timestamps_outside_the_years_1900_to_2999_are_refused_not_crashed(
    far: str, reference: Reference
) -> None:
    """Found by the document test: a time whose UTC has no year (0001-01-01 at +01:00)
    raised OverflowError out of validation, a 500 at the gateway."""
    data = sample("case")
    data["occurred_at"] = far
    assert pairs(errors_of("case", data, reference)) == {("occurred_at", "timestamp.range")}


@pytest.mark.parametrize("number", [0, 1764650000, 1764650000.5])
def test_a_time_sent_as_a_number_is_refused(number: Any, reference: Reference) -> None:
    """Found by the fault suite's contract run: "occurred_at": 0 was read as a Unix time
    (1970) and answered 202, though the document says a time is text."""
    data = sample("order-event")
    data["occurred_at"] = number
    assert pairs(errors_of("order-event", data, reference)) == {("occurred_at", "timestamp.type")}


def test_deadline_must_follow_issue_after_millisecond_truncation(reference: Reference) -> None:
    data = order()
    data["issued_at"] = "2026-03-01T10:00:00.000100+08:00"
    data["deadline"] = "2026-03-01T10:00:00.000900+08:00"  # same millisecond
    errors = errors_of("order", data, reference)
    assert pairs(errors) == {("deadline", "deadline.not_after_issue")}


# ----------------------------------------------------- invalid records: every error


def test_case_reports_every_error_at_once(reference: Reference) -> None:
    data = sample("case")
    data["party"]["id_number"] = "11010519491231002" + "1"  # correct check char is X
    data["officers"] = [_samples.UNKNOWN_OFFICER, _samples.EXPIRED_OFFICER]
    data["decision"] = None  # status DECIDED
    errors = errors_of("case", data, reference)
    assert [(e.path, e.rule) for e in errors] == [
        ("party.id_number", "citizen_id.checksum"),
        ("officers[0].certificate_no", "officer.not_on_roster"),
        ("officers[1].certificate_no", "officer.not_valid"),
        ("decision", "case.decision_required"),
    ]
    by_rule = {e.rule: e for e in errors}
    assert "42010699999" in by_rule["officer.not_on_roster"].message_zh
    assert "42010699999" in by_rule["officer.not_on_roster"].message_en
    assert "42010601004" in by_rule["officer.not_valid"].message_en
    assert "DECIDED" in by_rule["case.decision_required"].message_en
    # The exception message lists them all, one per line.
    with pytest.raises(RecordInvalid) as caught:
        validate("case", data, reference)
    assert "4 error(s)" in caught.value.message
    assert "officers[1].certificate_no: [officer.not_valid]" in caught.value.message


def test_case_with_one_officer_and_other_errors(reference: Reference) -> None:
    data = sample("case")
    data["party"]["id_number"] = "11010519491231002" + "0"
    data["officers"] = [_samples.OFFICER_A]
    data["status"] = "CLOSED"
    del data["decision"]
    errors = errors_of("case", data, reference)
    assert pairs(errors) == {
        ("party.id_number", "citizen_id.checksum"),
        ("officers", "officers.too_few"),
        ("decision", "case.decision_required"),
    }
    assert len(errors) == 3


@pytest.mark.parametrize("officer", ["SUSPENDED_OFFICER", "EXPIRED_OFFICER"])
def test_expired_or_suspended_officer_is_refused(officer: str, reference: Reference) -> None:
    data = sample("case")
    data["officers"] = [_samples.OFFICER_A, getattr(_samples, officer)]
    errors = errors_of("case", data, reference)
    assert pairs(errors) == {("officers[1].certificate_no", "officer.not_valid")}


def test_officers_are_checked_against_the_roster_only_with_a_reference(
    reference: Reference,
) -> None:
    data = sample("case")
    data["officers"] = [_samples.UNKNOWN_OFFICER, _samples.EXPIRED_OFFICER]
    validate("case", data)  # structure only
    assert len(errors_of("case", data, reference)) == 2


def test_duplicate_officers_are_refused(reference: Reference) -> None:
    data = sample("case")
    data["officers"] = [_samples.OFFICER_A, _samples.OFFICER_A]
    errors = errors_of("case", data, reference)
    assert pairs(errors) == {("officers", "officers.duplicate")}
    assert "42010602002" in errors[0].message_zh


def test_major_decision_needs_legal_review(reference: Reference) -> None:
    data = sample("case")
    data["major_decision"] = True
    errors = errors_of("case", data, reference)
    assert pairs(errors) == {("legal_review_passed", "case.legal_review_required")}
    validate("case", dict(data, legal_review_passed=True), reference)


def test_fine_needs_an_amount(reference: Reference) -> None:
    data = sample("case")
    data["decision"]["amount"] = None
    assert pairs(errors_of("case", data, reference)) == {
        ("decision.amount", "decision.amount_required")
    }
    data["decision"]["penalty_type"] = "WARNING"
    assert validate("case", data, reference)


def test_order_reports_every_error_at_once(reference: Reference) -> None:
    data = order("CRIMINAL_REFERRAL")
    data["deadline"] = "2026-03-01T09:59:59+08:00"  # before issued_at 10:00
    data["from_party"] = "street-nowhere"
    data["to_parties"] = ["dept-urban"]  # not the police
    del data["referral"]
    errors = errors_of("order", data, reference)
    assert [(e.path, e.rule) for e in errors] == [
        ("from_party", "party.unknown"),
        ("to_parties", "order.referral_to_police"),
        ("deadline", "deadline.not_after_issue"),
        ("referral", "order.detail_missing"),
    ]
    assert "street-nowhere" in errors[0].message_en
    assert "street-nowhere" in errors[0].message_zh
    assert "CRIMINAL_REFERRAL" in errors[3].message_zh
    assert "referral" in errors[3].message_en


def test_unknown_recipient_is_reported_with_its_index(reference: Reference) -> None:
    data = order("ASSIGNMENT")
    data["to_parties"] = ["dept-urban", "nobody"]
    assert pairs(errors_of("order", data, reference)) == {("to_parties[1]", "party.unknown")}


@pytest.mark.parametrize(
    ("to_parties", "order_type"),
    [
        ([], "ASSIGNMENT"),
        (["street-jiyuqiao"], "ASSIGNMENT"),  # the issuer itself
        (["dept-urban", "dept-urban"], "ASSIGNMENT"),
        (["street-jiyuqiao", "dept-urban"], "WHISTLE"),
    ],
)
def test_order_recipients_rule(
    to_parties: list[str], order_type: str, reference: Reference
) -> None:
    data = order(order_type)
    data["to_parties"] = to_parties
    assert pairs(errors_of("order", data, reference)) == {("to_parties", "order.recipients")}


def test_whistle_may_leave_routing_to_the_catalogue(reference: Reference) -> None:
    data = order("WHISTLE")
    data["to_parties"] = []
    assert validate("order", data, reference)


@pytest.mark.parametrize(
    ("order_type", "foreign"),
    [
        ("ASSIGNMENT", "transfer"),
        ("WHISTLE", "referral"),
        ("ASSISTANCE", "transfer"),
        ("CASE_TRANSFER", "assistance"),
        ("CRIMINAL_REFERRAL", "assistance"),
    ],
)
def test_detail_of_another_order_type_is_refused(
    order_type: str, foreign: str, reference: Reference
) -> None:
    donor = {"transfer": "CASE_TRANSFER", "referral": "CRIMINAL_REFERRAL"}.get(
        foreign, "ASSISTANCE"
    )
    data = order(order_type)
    data[foreign] = order(donor)[foreign]
    errors = errors_of("order", data, reference)
    assert [(e.path, e.rule) for e in errors] == [(foreign, "order.detail_mismatch")]
    assert order_type in errors[0].message_en


@pytest.mark.parametrize(
    ("order_type", "detail"),
    [("ASSISTANCE", "assistance"), ("CASE_TRANSFER", "transfer")],
)
def test_detail_of_the_order_type_is_required(
    order_type: str, detail: str, reference: Reference
) -> None:
    data = order(order_type)
    del data[detail]
    assert pairs(errors_of("order", data, reference)) == {(detail, "order.detail_missing")}


@pytest.mark.parametrize("event_type", ["RETURNED", "NOT_FILED", "RECONSIDERATION"])
def test_event_without_reason_is_refused(event_type: str, reference: Reference) -> None:
    data = sample("order-event")
    data["event_type"] = event_type
    errors = errors_of("order-event", data, reference)
    assert [(e.path, e.rule) for e in errors] == [("reason", "event.reason_required")]
    assert event_type in errors[0].message_zh
    validate("order-event", dict(data, reason="不属于本单位职责"), reference)


def test_blank_reason_is_not_a_reason(reference: Reference) -> None:
    data = sample("order-event")
    data["event_type"] = "RETURNED"
    data["reason"] = "   "
    errors = errors_of("order-event", data, reference)
    # (the rule id is wrong, see test_blank_short_text_is_a_string_length_error)
    assert [e.path for e in errors] == ["reason"]


def test_evaluated_needs_a_rating_and_only_evaluated_has_one(reference: Reference) -> None:
    data = sample("order-event")
    data["event_type"] = "EVALUATED"
    assert pairs(errors_of("order-event", data, reference)) == {("rating", "event.rating_required")}
    assert validate("order-event", dict(data, rating=5), reference)
    assert pairs(errors_of("order-event", dict(data, rating=6), reference)) == {
        ("rating", "less_than_equal")
    }
    assert pairs(errors_of("order-event", dict(data, rating=0), reference)) == {
        ("rating", "greater_than_equal")
    }
    feedback = dict(sample("order-event"), rating=4)
    assert pairs(errors_of("order-event", feedback, reference)) == {
        ("rating", "event.rating_unexpected")
    }


def test_reassigned_needs_new_recipients(reference: Reference) -> None:
    data = sample("order-event")
    data["event_type"] = "REASSIGNED"
    assert pairs(errors_of("order-event", data, reference)) == {
        ("reassign_to", "event.reassign_target_required")
    }
    assert pairs(errors_of("order-event", dict(data, reassign_to=[]), reference)) == {
        ("reassign_to", "event.reassign_target_required")
    }
    assert validate("order-event", dict(data, reassign_to=["dept-water"]), reference)
    assert pairs(errors_of("order-event", dict(data, reassign_to=["x-y"]), reference)) == {
        ("reassign_to[0]", "party.unknown")
    }


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (
            {"latitude": 39.9, "longitude": 116.4},  # Beijing
            {
                ("location.latitude", "location.outside_wuhan"),
                ("location.longitude", "location.outside_wuhan"),
            },
        ),
        (
            {"latitude": 30.5, "longitude": 113.0},
            {("location.longitude", "location.outside_wuhan")},
        ),
        ({"latitude": 29.9, "longitude": 114.3}, {("location.latitude", "location.outside_wuhan")}),
        ({"latitude": 30.5}, {("location.longitude", "location.incomplete")}),
        ({"longitude": 114.3}, {("location.longitude", "location.incomplete")}),
        ({"latitude": 30.5, "longitude": None}, {("location.longitude", "location.incomplete")}),
    ],
)
def test_location_rules(
    location: dict[str, Any], expected: set[tuple[str, str]], reference: Reference
) -> None:
    data = sample("clue")
    data["location"] = {"address": "武昌区", **location}
    assert pairs(errors_of("clue", data, reference)) == expected


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [(29.97, 113.68), (31.37, 115.08), (None, None)],
)
def test_location_bounds_are_inclusive_and_coordinates_optional(
    latitude: float | None, longitude: float | None, reference: Reference
) -> None:
    data = sample("clue")
    data["location"] = {"address": "武昌区", "latitude": latitude, "longitude": longitude}
    assert validate("clue", data, reference)


@pytest.mark.parametrize(
    ("amount", "rule"),
    [
        ("-0.01", "greater_than_equal"),
        ("-100", "greater_than_equal"),
        ("1.005", "decimal_max_places"),
        ("0.001", "decimal_max_places"),
        ("1234567890123", "decimal_whole_digits"),
        ("not a number", "decimal_parsing"),
    ],
)
def test_money_rules(amount: str, rule: str, reference: Reference) -> None:
    data = sample("matter")
    data["max_fine"] = amount
    assert pairs(errors_of("matter", data, reference)) == {("max_fine", rule)}
    data = sample("case")
    data["decision"]["amount"] = amount
    assert pairs(errors_of("case", data, reference)) == {("decision.amount", rule)}


@pytest.mark.parametrize("amount", ["0", "0.5", "0.50", "999999999999.99", 500, 12.5])
def test_money_accepts_up_to_two_places(amount: Any, reference: Reference) -> None:
    data = sample("penalty")
    data["amount"] = amount
    record = validate("penalty", data, reference)
    assert record.amount == Decimal(str(amount))  # type: ignore[attr-defined]


def test_money_errors_have_chinese_messages(reference: Reference) -> None:
    data = sample("matter")
    data["max_fine"] = "1.005"
    (error,) = errors_of("matter", data, reference)
    assert error.message_zh == "最多保留两位小数（精确到分）"


def test_too_long_description_is_a_string_length_error(reference: Reference) -> None:
    data = sample("clue")
    assert validate("clue", dict(data, description="字" * 2000), reference)
    errors = errors_of("clue", dict(data, description="字" * 2001), reference)
    assert [e.path for e in errors] == ["description"]
    # A text that is too long must be reported as such, not as a list with too many
    # items ("条目过多"/"items"): Text/ShortText/Name put their length limits after a
    # BeforeValidator, so pydantic applies them as generic length constraints.
    assert errors[0].rule == "string_too_long"
    assert errors[0].message_zh == "内容过长"
    assert "items" not in errors[0].message_en


def test_blank_short_text_is_a_string_length_error(reference: Reference) -> None:
    data = sample("audit")
    errors = errors_of("audit", dict(data, action="  "), reference)
    assert [(e.path, e.rule) for e in errors] == [("action", "string_too_short")]


def test_text_is_stripped(reference: Reference) -> None:
    data = sample("clue")
    data["description"] = "  占道经营\n"
    assert validate("clue", data, reference).description == "占道经营"  # type: ignore[attr-defined]


def test_unknown_matter_code_is_refused_only_with_a_reference(reference: Reference) -> None:
    for kind in ("clue", "case", "order", "penalty"):
        data = sample(kind)
        data["matter_code"] = "URB-999"
        record = validate(kind, data)  # structure only: the shape is right
        assert record.matter_code == "URB-999"  # type: ignore[attr-defined]
        errors = errors_of(kind, data, reference)
        assert [(e.path, e.rule) for e in errors] == [("matter_code", "matter.unknown")]
        assert "URB-999" in errors[0].message_zh


def test_malformed_matter_code_is_refused_without_a_reference() -> None:
    data = sample("clue")
    data["matter_code"] = "urb-5"
    assert pairs(errors_of("clue", data, None)) == {("matter_code", "string_pattern_mismatch")}


def test_extra_unknown_field_is_refused(reference: Reference) -> None:
    data = sample("clue")
    data["priority"] = "URGENT"
    data["location"]["floor"] = 3
    errors = errors_of("clue", data, reference)
    assert pairs(errors) == {
        ("priority", "extra_forbidden"),
        ("location.floor", "extra_forbidden"),
    }
    assert {e.message_zh for e in errors} == {"不允许的字段"}


def test_missing_fields_are_listed(reference: Reference) -> None:
    errors = errors_of("permit", {"source_party": "bigdata"}, reference)
    missing = {e.path for e in errors if e.rule == "missing"}
    assert missing == {
        "source_id",
        "occurred_at",
        "permit_no",
        "holder_uscc",
        "permit_type",
        "issued_by",
        "valid_from",
        "valid_until",
    }
    assert {e.message_zh for e in errors if e.rule == "missing"} == {"缺少必填字段"}


def test_street_must_be_a_street(reference: Reference) -> None:
    data = sample("clue")
    data["street"] = "dept-urban"
    errors = errors_of("clue", data, reference)
    assert pairs(errors) == {("street", "party.kind")}
    data["street"] = "street-atlantis"
    assert pairs(errors_of("clue", data, reference)) == {("street", "party.unknown")}


def test_unknown_source_party_is_refused(reference: Reference) -> None:
    data = sample("clue")
    data["source_party"] = "hackers"
    errors = errors_of("clue", data, reference)
    assert [(e.path, e.rule) for e in errors] == [("source_party", "party.unknown")]


def test_organisation_party_needs_uscc(reference: Reference) -> None:
    data = sample("case")
    data["party"] = {"party_type": "ORGANISATION", "name": "武汉某某餐饮有限公司"}
    errors = errors_of("case", data, reference)
    assert [(e.path, e.rule) for e in errors] == [("party.uscc", "case.party_identity")]
    assert "uscc" in errors[0].message_en
    data["party"]["uscc"] = _samples.ORG_USCC_2
    assert validate("case", data, reference)


def test_natural_person_needs_id_number(reference: Reference) -> None:
    data = sample("case")
    data["party"] = {"party_type": "NATURAL_PERSON", "name": "王五"}
    errors = errors_of("case", data, reference)
    assert [(e.path, e.rule) for e in errors] == [("party.id_number", "case.party_identity")]
    assert "id_number" in errors[0].message_en
    data["party"]["id_number"] = _samples.PERSON_ID_2
    assert validate("case", data, reference)


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("id_number", "11010519491231002x", "citizen_id.shape"),
        ("id_number", "11010519491331002X", "citizen_id.birth_date"),
        ("uscc", "91350100M000100Y44", "uscc.checksum"),
        ("uscc", "91350100M000100YI3", "uscc.shape"),
        ("phone", "12345", "phone.shape"),
    ],
)
def test_case_party_code_rules(field: str, value: str, rule: str, reference: Reference) -> None:
    data = sample("case")
    data["party"][field] = value
    assert pairs(errors_of("case", data, reference)) == {(f"party.{field}", rule)}


def test_codes_are_stripped_before_the_checks(reference: Reference) -> None:
    data = sample("entity")
    data["uscc"] = "  91350100M000100Y43 "
    assert validate("entity", data, reference).uscc == "91350100M000100Y43"  # type: ignore[attr-defined]


def test_uscc_with_full_width_digit_is_a_record_error_not_a_crash(reference: Reference) -> None:
    data = sample("entity")
    data["uscc"] = "913５0100M000100Y43"
    # Must be reported like any other invalid code, not escape as a KeyError.
    assert pairs(errors_of("entity", data, reference)) == {("uscc", "uscc.shape")}


def test_citizen_id_with_full_width_digit_is_refused(reference: Reference) -> None:
    data = sample("case")
    data["party"]["id_number"] = "１1010519491231002X"
    assert pairs(errors_of("case", data, reference)) == {("party.id_number", "citizen_id.shape")}


# ----------------------------------------------------------------------- masking


def test_reporter_name_and_phone_are_masked(reference: Reference) -> None:
    data = sample("clue")
    data["reporter"] = {"name_masked": "张三", "phone_masked": "13812345678"}
    record = validate("clue", data, reference)
    assert record.reporter is not None  # type: ignore[attr-defined]
    assert record.reporter.name_masked == "张*"  # type: ignore[attr-defined]
    assert record.reporter.phone_masked == "138****5678"  # type: ignore[attr-defined]
    # Validating the stored (masked) record again changes nothing.
    assert validate("clue", record.model_dump(), reference) == record


def test_already_masked_reporter_is_kept(reference: Reference) -> None:
    data = sample("clue")
    data["reporter"] = {"name_masked": "欧***", "phone_masked": "027****4321"}
    record = validate("clue", data, reference)
    assert record.reporter.name_masked == "欧***"  # type: ignore[attr-defined]
    assert record.reporter.phone_masked == "027****4321"  # type: ignore[attr-defined]


def test_entity_legal_representative_is_masked(reference: Reference) -> None:
    data = sample("entity")
    data["legal_representative"] = "欧阳娜娜"
    assert validate("entity", data, reference).legal_representative == "欧***"  # type: ignore[attr-defined]


def test_penalty_with_unmasked_id_number_is_refused(reference: Reference) -> None:
    data = sample("penalty")
    data["id_number_masked"] = _samples.PERSON_ID
    errors = errors_of("penalty", data, reference)
    assert [e.path for e in errors] == ["id_number_masked"]
    assert errors[0].rule == "penalty.id_unmasked"
    assert "masked" in errors[0].message_en
    assert "脱敏" in errors[0].message_zh
    data["id_number_masked"] = "110***********002X"
    assert validate("penalty", data, reference)


# ------------------------------------------------------------------- the error list


def test_field_errors_serialise_with_all_four_keys(reference: Reference) -> None:
    data = sample("clue")
    data["matter_code"] = "URB-999"
    (error,) = errors_of("clue", data, reference)
    assert error.as_dict() == {
        "path": "matter_code",
        "rule": "matter.unknown",
        "message_zh": "执法事项目录中没有事项编码URB-999",
        "message_en": "matter code 'URB-999' is not in the matter catalogue",
    }


def test_every_rule_has_a_chinese_and_an_english_message() -> None:
    for rule, (zh, en) in RULES.items():
        assert re.fullmatch(r"[a-z_]+\.[a-z_]+", rule), rule
        assert CJK.search(zh), rule
        assert ASCII_LETTER.search(en), rule


def test_unknown_kind_lists_the_kinds() -> None:
    with pytest.raises(KeyError) as caught:
        validate("parking-ticket", {})
    message = str(caught.value.args[0])
    assert "parking-ticket" in message
    for kind in KINDS:
        assert kind in message


def test_non_mapping_input_is_a_record_error(reference: Reference) -> None:
    errors = errors_of("clue", ["not", "a", "mapping"], reference)
    assert [(e.path, e.rule) for e in errors] == [("(record)", "model_type")]

"""Penalty disclosure: decided cases only, personal data masked, one id per decision."""

from __future__ import annotations

from hub.dispatch._disclosure import disclosure_of
from hub.records import EnforcementCase, validate
from hub.reference import load_seed_reference
from tests.samples import CITIZEN_ID, USCC, sample

REFERENCE = load_seed_reference()


def case(**changes: object) -> EnforcementCase:
    record = validate("case", sample("case", **changes), REFERENCE)
    assert isinstance(record, EnforcementCase)
    return record


def test_a_decided_case_of_a_person_is_disclosed_masked() -> None:
    disclosure = disclosure_of(case())
    assert disclosure is not None
    assert disclosure.party_name == "李*"
    assert disclosure.id_number_masked == CITIZEN_ID[:3] + "*" * 11 + CITIZEN_ID[-4:]
    assert CITIZEN_ID not in disclosure.model_dump_json()
    assert "13900001111" not in disclosure.model_dump_json()
    assert disclosure.penalty_type.value == "FINE" and str(disclosure.amount) == "500.00"
    assert disclosure.deciding_party == "street-jiyuqiao" and disclosure.source_party == "hub"


def test_an_organisation_is_disclosed_by_name_and_credit_code() -> None:
    party = {"party_type": "ORGANISATION", "name": "武汉市示例餐饮有限公司", "uscc": USCC}
    disclosure = disclosure_of(case(party=party))
    assert disclosure is not None
    assert disclosure.party_name == "武汉市示例餐饮有限公司"
    assert disclosure.uscc == USCC and disclosure.id_number_masked is None


def test_a_case_still_under_investigation_discloses_nothing() -> None:
    assert disclosure_of(case(status="INVESTIGATING", decision=None)) is None


def test_the_same_decision_keeps_one_disclosure_id_as_the_case_moves_on() -> None:
    decided, executing, closed = (
        disclosure_of(case(status=s)) for s in ("DECIDED", "EXECUTING", "CLOSED")
    )
    assert decided is not None and executing is not None and closed is not None
    assert decided.record_id == executing.record_id == closed.record_id

"""Penalty disclosure 行政处罚公示 (docs/design.md §1, three systems 三项制度).

A case decided with a penalty becomes a PenaltyDisclosure: what the public may see,
with a natural person's name and ID number masked and no phone or address at all.
"""

from __future__ import annotations

import hashlib

from hub.records import (
    CaseStatus,
    EnforcementCase,
    PartyType,
    PenaltyDisclosure,
    mask_citizen_id,
    mask_name,
)

DISCLOSED_STATUSES = frozenset({CaseStatus.DECIDED, CaseStatus.EXECUTING, CaseStatus.CLOSED})


def disclosure_of(case: EnforcementCase, correction: int | None = None) -> PenaltyDisclosure | None:
    """The disclosure of a decided case, or None while there is nothing to disclose;
    with correction (the case's revision), the corrected disclosure of a decision whose
    content changed after it was disclosed, under an id of its own.

    Its id derives from the case and the decision number, so a re-sent case, or the
    same case moving on to EXECUTING and CLOSED, discloses the decision once; its times
    are the decision's and the case's receipt, so a case processed again discloses the
    same bytes (a reader never sees one id with two contents).
    """
    decision = case.decision
    if case.status not in DISCLOSED_STATUSES or decision is None:
        return None
    person = case.party.party_type is PartyType.NATURAL_PERSON
    return PenaltyDisclosure.model_validate(
        {
            "source_party": "hub",
            # source ids are ASCII; decision numbers are Chinese (武积执罚决字〔2026〕42号)
            "source_id": f"disclosure/{case.record_id}/"
            + hashlib.sha256(decision.decision_no.encode()).hexdigest()[:16]
            + (f"/r{correction}" if correction is not None else ""),
            "occurred_at": decision.decided_at,
            "received_at": case.received_at,
            "trace_id": case.trace_id,
            "case_record_id": case.record_id,
            "case_no": case.case_no,
            "decision_no": decision.decision_no,
            "deciding_party": case.owner_party,
            "party_type": case.party.party_type,
            "party_name": mask_name(case.party.name) if person else case.party.name,
            "id_number_masked": mask_citizen_id(case.party.id_number)
            if person and case.party.id_number
            else None,
            "uscc": None if person else case.party.uscc,
            "matter_code": case.matter_code,
            "legal_basis": case.legal_basis,
            "penalty_type": decision.penalty_type,
            "amount": decision.amount,
            "decided_at": decision.decided_at,
        }
    )

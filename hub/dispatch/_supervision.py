"""Case supervision (docs/design.md §4): who receives which case revisions and what each
sees, from ``hub/reference/supervision.yaml``; no Kafka.

`readers_of` says which parties supervise a case and under which entry; `notice_of`
builds the `CaseNotice` one of them receives, with the fields its entry withholds left
out and a natural person's identity full, masked or absent. The cases stage sends the
notices; ``GET /v1/cases`` answers a supervisor with the same view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub._yaml import load_model
from hub.records import (
    CaseNotice,
    EnforcementCase,
    NoticeParty,
    PartyType,
    mask_citizen_id,
    mask_name,
)
from hub.reference import REFERENCE_DIR, Reference

SUPERVISION_FILE = REFERENCE_DIR / "supervision.yaml"
DELEGATING = "delegating-department"


class Supervisor(BaseModel):
    """One entry of supervision.yaml (its header says what each field means)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reader: str = Field(min_length=1)
    basis: str = Field(min_length=1, max_length=200)
    cases: Literal["all", "streets", "fined"]
    identity: Literal["full", "masked", "none"]
    officers: bool
    decision: bool


class Supervision(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    supervisors: list[Supervisor] = Field(min_length=1)


def load_supervision(path: Path = SUPERVISION_FILE) -> Supervision:
    """Read supervision.yaml; a wrong entry raises ConfigError naming it and the rule."""
    return load_model(path, Supervision)


def readers_of(
    case: EnforcementCase, reference: Reference, supervision: Supervision
) -> list[tuple[str, Supervisor]]:
    """The parties that supervise case and the entry each does it under (the owner never
    supervises itself; a party named by two entries gets the first)."""
    found: dict[str, Supervisor] = {}
    known = case.owner_party in reference.parties
    owner = reference.parties.get(case.owner_party) if known else None
    for entry in supervision.supervisors:
        if entry.cases == "streets" and (owner is None or owner.kind != "street"):
            continue
        if entry.cases == "fined" and (case.decision is None or case.decision.amount is None):
            continue
        if entry.reader == DELEGATING:
            matter = reference.matters.get(case.matter_code)
            if matter is None:
                continue
            reader = matter.department
        else:
            reader = entry.reader
        if reader != case.owner_party and reader in reference.parties:
            found.setdefault(reader, entry)
    return list(found.items())


def notice_of(case: EnforcementCase, reader: str, entry: Supervisor) -> CaseNotice:
    """The revision of case as reader receives it under entry."""
    person = case.party.party_type is PartyType.NATURAL_PERSON
    party = NoticeParty(party_type=case.party.party_type)
    if not person:
        party = NoticeParty(party_type=case.party.party_type, name=case.party.name,
                            uscc=case.party.uscc)
    elif entry.identity == "full":
        party = NoticeParty(party_type=case.party.party_type, name=case.party.name,
                            id_number=case.party.id_number)
    elif entry.identity == "masked":
        party = NoticeParty(
            party_type=case.party.party_type,
            name=mask_name(case.party.name),
            id_number=mask_citizen_id(case.party.id_number) if case.party.id_number else None,
        )
    withheld = ["party.name", "party.id_number"] if person and entry.identity == "none" else []
    withheld += ["party.phone", "party.address"]  # nobody supervising needs them
    if not entry.officers:
        withheld.append("officers")
    if not entry.decision:
        withheld.append("decision")
    return CaseNotice.model_validate(
        {
            "source_party": "hub",
            "source_id": f"notice/{case.record_id}/r{case.revision}/{reader}",
            "occurred_at": case.occurred_at,
            "received_at": case.received_at,  # the case's: a revision processed again
            "trace_id": case.trace_id,  # sends the same bytes
            "case_record_id": case.record_id,
            "revision": case.revision,
            "reader": reader,
            "basis": entry.basis,
            "case_no": case.case_no,
            "owner_party": case.owner_party,
            "matter_code": case.matter_code,
            "legal_basis": case.legal_basis,
            "status": case.status,
            "party": party,
            "officers": [o.certificate_no for o in case.officers] if entry.officers else [],
            "decision": case.decision if entry.decision else None,
            "major_decision": case.major_decision,
            "legal_review_passed": case.legal_review_passed,
            "withheld": withheld,
        }
    )

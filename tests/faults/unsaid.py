"""The rules of the hub's records that a JSON schema cannot say (the OpenAPI document
names them in its description of the publish operations), applied to a body generated
from the document: what a careful client does before it sends a record.

The contract case's hooks mend every positive (schema-conforming) body schemathesis
generates with `mend`, so that "a schema-valid request was refused" is a finding about
the document, never about a check character; tests/unit/test_openapi.py checks the same
on bodies it generates itself.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.records import citizen_id_check_char, uscc_check_char
from hub.records._checks import CITIZEN_ID_SHAPE, USCC_SHAPE
from hub.records._models import TO_AUTHORITIES
from hub.reference import load_seed_reference
from hub.settings import HubSettings
from hub.shared import load_datasets

_SEED = load_seed_reference()
_DATASETS = load_datasets(HubSettings().datasets_file)
_AUTHORITIES = sorted(p.id for p in _SEED.parties if p.kind in ("street", "department"))
_CASE_OWNERS = {
    party for party in _AUTHORITIES
    if sum(1 for o in _SEED.officers.values()
           if o.party == party and o.usable_on(datetime.now(UTC).date())) >= 2
}

_USCC = re.compile(USCC_SHAPE)
_CITIZEN_ID = re.compile(CITIZEN_ID_SHAPE)
USCC_FIELDS = ("uscc", "holder_uscc")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def roster_of(document: dict[str, Any]) -> list[str]:
    """The certificate numbers the served document allows (its roster enum)."""
    officer = document["components"]["schemas"]["Officer"]["properties"]["certificate_no"]
    return list(officer.get("enum", []))


def mend(body: Any, roster: list[str]) -> Any:
    """body with the unsaid rules made true, in place where it is a JSON object."""
    if isinstance(body, list):
        for item in body:
            mend(item, roster)
        return body
    if not isinstance(body, dict):
        return body
    for name in USCC_FIELDS:
        value = body.get(name)
        if isinstance(value, str) and _USCC.fullmatch(value):
            body[name] = value[:17] + uscc_check_char(value[:17])
    value = body.get("id_number")
    if isinstance(value, str) and _CITIZEN_ID.fullmatch(value):
        first = value[:6] + "19800101" + value[14:17]  # a real birth date in the past
        body["id_number"] = first + citizen_id_check_char(first)
    _recipients(body)
    _deadline(body)
    _not_ahead(body)
    _subscription(body)
    _distinct_officers(body, roster)
    _case_of_its_owner(body)
    for value in body.values():
        mend(value, roster)
    return body


def _recipients(body: dict[str, Any]) -> None:
    """An order's issuer is not one of its recipients (nor the police its own referral's)."""
    issuer, recipients = body.get("from_party"), body.get("to_parties")
    if not isinstance(issuer, str) or not isinstance(recipients, list):
        return
    if issuer == "police" and body.get("order_type") == "CRIMINAL_REFERRAL":
        body["from_party"] = issuer = "dept-urban"
    kept = [party for party in recipients if party != issuer]
    if body.get("order_type") in TO_AUTHORITIES:  # streets and departments only
        kept = [party for party in kept if party in _AUTHORITIES]
    if not kept and body.get("order_type") != "WHISTLE":
        kept = ["dept-water" if issuer != "dept-water" else "dept-urban"]
    body["to_parties"] = kept


def _not_ahead(body: dict[str, Any]) -> None:
    """An order issued no later than now, by the hub's clock (5 minutes' grace)."""
    issued = _instant(body.get("issued_at"))
    if issued is None or "order_type" not in body:
        return
    now = datetime.now(UTC)
    if issued > now:
        body["issued_at"] = now.isoformat()
        deadline = _instant(body.get("deadline"))
        if deadline is not None and deadline <= now:
            body["deadline"] = (now + timedelta(days=1)).isoformat()


def one_secondary_key(dataset: Any) -> tuple[str, str]:
    """dataset and one of its secondary keys; another dataset's when it has none."""
    searchable = {d.id: d.secondary for d in _DATASETS.datasets if d.secondary}
    if dataset not in searchable:
        dataset = sorted(searchable)[0]
    return dataset, searchable[dataset][0]


def _subscription(body: dict[str, Any]) -> None:
    """A subscription request filters by a field of its dataset, with its value, or not at
    all (here: not at all), and ends in the future; a decision on one gives its reason
    (required to refuse, and for the owner to revoke) and ends in the future."""
    if body and set(body) <= {"reason", "access", "expires_at"}:  # SubscriptionDecision
        if not isinstance(body.get("reason"), str) or not body["reason"].strip():
            body["reason"] = "核对完毕"
        if body.get("expires_at") is not None:
            body["expires_at"] = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        return
    if "dataset" not in body or "purpose" not in body:
        return
    body["filter_field"] = body["filter_value"] = None
    if body.get("expires_at") is not None:
        body["expires_at"] = (datetime.now(UTC) + timedelta(days=30)).isoformat()


def _case_of_its_owner(body: dict[str, Any]) -> None:
    """A case is its publisher's: the owner is the publisher, its officers the owner's,
    its matter one the owner decides (a street's delegated ones, a department's own), its
    fine within the matter's cap."""
    if "case_no" not in body or "owner_party" not in body:
        return
    owner = body.get("source_party")
    if owner not in _CASE_OWNERS:  # a party that can hold a case: two officers of its own
        owner = "street-jiyuqiao"
        body["source_party"] = owner
    body["owner_party"] = owner
    kind = _SEED.parties.get(owner).kind
    mine = [code for code, m in sorted(_SEED.matters.items()) if m.decided_by(owner, kind)]
    if mine and body.get("matter_code") not in mine:
        body["matter_code"] = mine[0]
    officers = [o.certificate_no for o in sorted(_SEED.officers.values(),
                                                 key=lambda o: o.certificate_no)
                if o.party == owner and o.usable_on(datetime.now(UTC).date())]
    listed = body.get("officers")
    if isinstance(listed, list) and len(officers) >= 2:
        for index, officer in enumerate(listed):
            if isinstance(officer, dict):
                officer["certificate_no"] = officers[index % len(officers)]
        del listed[len(officers):]
    matter = _SEED.matters.get(body.get("matter_code", ""))
    decision = body.get("decision")
    if matter is not None and matter.max_fine_yuan and isinstance(decision, dict):
        amount = decision.get("amount")
        try:
            over = amount is not None and float(amount) > float(matter.max_fine_yuan)
        except (TypeError, ValueError):
            over = False
        if over:
            decision["amount"] = str(matter.max_fine_yuan)


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        return None
    return instant if instant.tzinfo is not None else None


def _millis(instant: datetime) -> int:
    return (instant - _EPOCH) // timedelta(milliseconds=1)


def _deadline(body: dict[str, Any]) -> None:
    """An order's deadline after its issue, to the millisecond the hub keeps."""
    issued, deadline = _instant(body.get("issued_at")), _instant(body.get("deadline"))
    if issued is None or deadline is None:
        return
    if _millis(deadline) <= _millis(issued):
        try:
            body["deadline"] = (issued + timedelta(days=1)).isoformat()
        except OverflowError:
            body["issued_at"] = (deadline - timedelta(days=1)).isoformat()


def _distinct_officers(body: dict[str, Any], roster: list[str]) -> None:
    """A case's officers are distinct people (certificate numbers)."""
    officers = body.get("officers")
    if not isinstance(officers, list):
        return
    taken: set[str] = set()
    spare = [number for number in roster if number not in
             {o.get("certificate_no") for o in officers if isinstance(o, dict)}]
    for officer in officers:
        if not isinstance(officer, dict):
            continue
        number = officer.get("certificate_no")
        if number in taken and spare:
            officer["certificate_no"] = number = spare.pop()
        taken.add(number)

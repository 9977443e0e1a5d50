"""Avro round trips of every kind (property-based) and the Confluent-framed `AvroSerde`."""

from __future__ import annotations

import copy
import io
import json
import struct
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.errors import DecodeError, RecordInvalid, SchemaRegistryError
from hub.records import (
    KINDS,
    Kind,
    citizen_id_check_char,
    to_avro,
    uscc_check_char,
    validate,
)
from hub.reference import load_seed_reference
from hub.serde import AvroSerde, _serde, pack, unpack
from tests.unit._samples import sample

REFERENCE = load_seed_reference()
TODAY = date.today()
PARTIES = [party.id for party in REFERENCE.parties]
STREETS = [party.id for party in REFERENCE.parties if party.kind == "street"]
MATTERS = sorted(REFERENCE.matters)
OFFICERS = sorted(
    (o.certificate_no, o.name)
    for o in REFERENCE.officers.values()
    if o.usable_on(TODAY + timedelta(days=7))
)
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
DIGITS = "0123456789"

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ------------------------------------------------------------------------ strategies

CHARS = st.one_of(
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # CJK
    st.characters(codec="utf-8", exclude_categories=("Cs",)),
    st.sampled_from(" -·（）《》、，。"),
)


def text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Text that is not blank; may carry blanks around it (the models strip them)."""
    return st.text(CHARS, min_size=1, max_size=max_size).filter(lambda s: s.strip() != "")


def raw_text(max_size: int) -> st.SearchStrategy[str]:
    """Any text (plain `str` fields are not stripped)."""
    return st.text(CHARS, min_size=1, max_size=max_size)


ZONES = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
TIMESTAMPS = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2040, 12, 31), timezones=ZONES
)
DATES = st.dates(min_value=date(1950, 1, 1), max_value=date(2060, 12, 31))
MONEY = st.integers(min_value=0, max_value=2).flatmap(
    lambda places: st.decimals(
        min_value=0,
        max_value=Decimal("999999999999.99"),
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )
)
SOURCE_IDS = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40)
TRACE_IDS = st.from_regex(r"[0-9a-f]{16,32}", fullmatch=True)
LATITUDE = st.floats(min_value=29.97, max_value=31.37)
LONGITUDE = st.floats(min_value=113.68, max_value=115.08)


def uscc_codes() -> st.SearchStrategy[str]:
    body = st.sampled_from(USCC_CHARSET)
    prefix = st.builds(
        lambda a, b, c: a + b + c,
        st.text(body, min_size=2, max_size=2),
        st.text(st.sampled_from(DIGITS), min_size=6, max_size=6),
        st.text(body, min_size=9, max_size=9),
    )
    return prefix.map(lambda p: p + uscc_check_char(p))


def citizen_ids() -> st.SearchStrategy[str]:
    prefix = st.builds(
        lambda region, born, serial: region + born.strftime("%Y%m%d") + serial,
        st.text(st.sampled_from(DIGITS), min_size=6, max_size=6),
        st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
        st.text(st.sampled_from(DIGITS), min_size=3, max_size=3),
    )
    return prefix.map(lambda p: p + citizen_id_check_char(p))


PHONES = st.from_regex(r"1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8}", fullmatch=True)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def record(
    required: dict[str, st.SearchStrategy[Any]],
    absent_ok: dict[str, st.SearchStrategy[Any]] | None = None,
    source_party: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    envelope = {
        "source_party": source_party if source_party is not None else st.sampled_from(PARTIES),
        "source_id": SOURCE_IDS,
        "occurred_at": TIMESTAMPS,
    }
    optional_envelope = {"received_at": TIMESTAMPS, "trace_id": TRACE_IDS}
    return st.fixed_dictionaries(
        {**envelope, **required}, optional={**optional_envelope, **(absent_ok or {})}
    )


LOCATION = st.one_of(
    st.fixed_dictionaries({"address": text()}),
    st.fixed_dictionaries({"address": text(), "latitude": LATITUDE, "longitude": LONGITUDE}),
    st.fixed_dictionaries({"address": text(), "latitude": st.none(), "longitude": st.none()}),
)
ATTACHMENT = st.fixed_dictionaries(
    {"uri": raw_text(80), "name": text()},
    optional={
        "media_type": st.from_regex(r"[a-z]{1,10}/[a-z0-9.+-]{1,20}", fullmatch=True),
        "sha256": optional(st.from_regex(r"[0-9a-f]{64}", fullmatch=True)),
    },
)
ATTACHMENTS = st.lists(ATTACHMENT, max_size=3)
REPORTER = st.fixed_dictionaries(
    {}, optional={"name_masked": optional(raw_text(100)), "phone_masked": optional(raw_text(20))}
)


def enum(name: str) -> st.SearchStrategy[str]:
    from hub import records

    return st.sampled_from([member.value for member in getattr(records, name)])


CLUES = record(
    {
        "origin": enum("ClueOrigin"),
        "street": st.sampled_from(STREETS),
        "location": LOCATION,
        "matter_code": st.sampled_from(MATTERS),
        "description": text(300),
    },
    {"reporter": optional(REPORTER), "attachments": ATTACHMENTS},
)


def _decides(owner: str, code: str) -> bool:
    """Whether owner may decide matter code (a street its delegated matters, a department
    its own), as the case rules say."""
    return REFERENCE.matters[code].decided_by(owner, REFERENCE.parties.get(owner).kind)


# the parties that can hold a case: two usable officers of their own, matters to decide
CASE_OWNERS = sorted(
    owner for owner in {o.party for o in REFERENCE.officers.values()}
    if sum(1 for no, _ in OFFICERS if REFERENCE.officers[no].party == owner) >= 2
    and REFERENCE.parties.get(owner).kind in ("street", "department")
    and any(_decides(owner, code) for code in MATTERS)
)


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    owner = draw(st.sampled_from(CASE_OWNERS))
    data = draw(
        record(
            {
                "case_no": text(),
                "owner_party": st.just(owner),
                "matter_code": st.sampled_from([c for c in MATTERS if _decides(owner, c)]),
                "legal_basis": text(200),
                "status": enum("CaseStatus"),
            },
            {"major_decision": st.booleans()},
            source_party=st.just(owner),
        )
    )
    person = draw(st.booleans())
    party: dict[str, Any] = {
        "party_type": "NATURAL_PERSON" if person else "ORGANISATION",
        "name": draw(text(100)),
    }
    if person:
        party["id_number"] = draw(citizen_ids())
        party["uscc"] = draw(optional(uscc_codes()))
    else:
        party["uscc"] = draw(uscc_codes())
        party["id_number"] = draw(optional(citizen_ids()))
    for key, strategy in (("phone", PHONES), ("address", text())):
        if draw(st.booleans()):
            party[key] = draw(optional(strategy))
    data["party"] = party
    own = [(no, name) for no, name in OFFICERS if REFERENCE.officers[no].party == owner]
    officers = draw(st.lists(st.sampled_from(own), min_size=2, max_size=4, unique=True))
    data["officers"] = [{"certificate_no": no, "name": name} for no, name in officers]
    decided = data["status"] in ("DECIDED", "EXECUTING", "CLOSED")
    if decided or draw(st.booleans()):
        penalty = draw(enum("PenaltyType"))
        decision: dict[str, Any] = {
            "decision_no": draw(text()),
            "penalty_type": penalty,
            "decided_at": draw(TIMESTAMPS),
        }
        if penalty == "FINE" or draw(st.booleans()):
            cap = REFERENCE.matters[data["matter_code"]].max_fine_yuan
            amount = draw(MONEY)
            decision["amount"] = amount if not cap or Decimal(amount) <= cap else str(cap)
        data["decision"] = decision
    if data.get("major_decision") and "decision" in data:
        data["legal_review_passed"] = True
    elif draw(st.booleans()):
        data["legal_review_passed"] = draw(st.booleans())
    return data


DETAILS = {
    "CRIMINAL_REFERRAL": (
        "referral",
        st.fixed_dictionaries(
            {"suspected_offence": text(), "evidence": st.lists(text(), min_size=1, max_size=4)},
            optional={"seized_items": st.lists(text(), max_size=3)},
        ),
    ),
    "CASE_TRANSFER": (
        "transfer",
        st.fixed_dictionaries(
            {
                "stop_order_issued": st.booleans(),
                "reason": text(200),
                "materials": st.lists(text(), min_size=1, max_size=4),
            }
        ),
    ),
    "ASSISTANCE": (
        "assistance",
        st.fixed_dictionaries({"kind": enum("AssistanceKind"), "question": text(200)}),
    ),
    "ENFORCEMENT_APPLICATION": (
        "enforcement",
        st.fixed_dictionaries({"decision_no": text(), "amount": MONEY, "decided_at": TIMESTAMPS,
                               "reminder_served_at": TIMESTAMPS}),
    ),
}
DETAILS["REVERSE_TRANSFER"] = DETAILS["CASE_TRANSFER"]
DETAILS["SUGGEST_REFERRAL"] = DETAILS["CRIMINAL_REFERRAL"]
AUTHORITIES = [
    p.id for p in REFERENCE.parties if p.kind in ("street", "department")
]


@st.composite
def orders(draw: st.DrawFn) -> dict[str, Any]:
    order_type = draw(enum("OrderType"))
    data = draw(
        record(
            {
                "order_type": st.just(order_type),
                "matter_code": st.sampled_from(MATTERS),
                "description": text(200),
            },
            {
                "subject_id": optional(st.uuids()),
                "location": optional(LOCATION),
                "priority": enum("Priority"),
            },
        )
    )
    others = [p for p in PARTIES if p != "police"]
    data["from_party"] = draw(st.sampled_from(others))
    candidates = [p for p in PARTIES if p not in (data["from_party"], "police")]
    minimum = 0 if order_type == "WHISTLE" else 1
    recipients = draw(
        st.lists(st.sampled_from(candidates), min_size=minimum, max_size=4, unique=True)
    )
    if order_type == "CRIMINAL_REFERRAL":
        recipients = ["police", *recipients[:3]]
    if order_type == "ENFORCEMENT_APPLICATION":
        recipients = ["court"]
        data["from_party"] = data["source_party"] = "street-yangyuan"
    if order_type in ("REVERSE_TRANSFER", "SUGGEST_REFERRAL", "SUPERVISION_NOTICE",
                      "RECOMMENDATION"):
        recipients = [p for p in recipients if p in AUTHORITIES] or [
            next(p for p in AUTHORITIES if p != data["from_party"])]
    data["to_parties"] = recipients
    issued = draw(TIMESTAMPS)
    data["issued_at"] = issued
    data["deadline"] = issued + draw(st.timedeltas(timedelta(seconds=1), timedelta(days=30)))
    if order_type in DETAILS:
        field, strategy = DETAILS[order_type]
        data[field] = draw(strategy)
    if draw(st.booleans()):
        from hub.records import derive_record_id

        data["order_id"] = str(derive_record_id(data["source_party"], data["source_id"]))
    return data


@st.composite
def order_events(draw: st.DrawFn) -> dict[str, Any]:
    event_type = draw(enum("EventType"))
    data = draw(
        record(
            {
                "order_id": st.uuids(),
                "event_type": st.just(event_type),
                "actor_party": st.sampled_from(PARTIES),
            },
            {"comment": optional(text(200)), "attachments": ATTACHMENTS},
        )
    )
    if event_type in ("RETURNED", "NOT_FILED", "RECONSIDERATION", "DECLINED", "DENIED"):
        data["reason"] = draw(text(200))
    elif draw(st.booleans()):
        data["reason"] = draw(optional(text(200)))
    if event_type == "EVALUATED":
        data["rating"] = draw(st.integers(1, 5))
    if event_type == "REFERRED" or draw(st.booleans()):
        data["linked_order_id"] = draw(st.uuids())
    minimum = 1 if event_type == "REASSIGNED" else 0
    if minimum or draw(st.booleans()):
        data["reassign_to"] = draw(
            st.lists(st.sampled_from(PARTIES), min_size=minimum, max_size=3, unique=True)
        )
    return data


ENTITIES = record(
    {
        "uscc": uscc_codes(),
        "name": text(),
        "legal_representative": raw_text(100),
        "address": text(),
        "registered_on": DATES,
        "status": enum("EntityStatus"),
    }
)
PERMITS = record(
    {
        "permit_no": text(),
        "holder_uscc": uscc_codes(),
        "permit_type": text(),
        "issued_by": text(),
        "valid_from": DATES,
        "valid_until": DATES,
    },
    {"scope": optional(text(300))},
)
OFFICER_RECORDS = record(
    {
        "certificate_no": st.from_regex(r"[0-9]{11}", fullmatch=True),
        "name": text(100),
        "party": st.sampled_from(PARTIES),
        "valid_until": DATES,
        "status": enum("OfficerStatus"),
    }
)
MATTER_RECORDS = record(
    {
        "code": st.from_regex(r"[A-Z]{3}-[0-9]{3}", fullmatch=True),
        "name": text(),
        "name_en": text(),
        "department": st.sampled_from(PARTIES),
        "delegated_to_street": st.booleans(),
        "category": enum("MatterCategory"),
        "legal_basis": text(300),
        "max_fine": MONEY,
        "sign_off_hours": st.integers(1, 720),
    }
)
MASKED_IDS = st.builds(
    lambda head, stars, tail: head + "*" * stars + tail,
    st.text(st.sampled_from(DIGITS), max_size=3),
    st.integers(1, 11),
    st.text(st.sampled_from(DIGITS + "X"), max_size=4),
)
PENALTIES = record(
    {
        "case_record_id": st.uuids(),
        "case_no": text(),
        "decision_no": text(),
        "deciding_party": st.sampled_from(PARTIES),
        "party_type": enum("PartyType"),
        "party_name": text(100),
        "matter_code": st.sampled_from(MATTERS),
        "legal_basis": text(300),
        "penalty_type": enum("PenaltyType"),
        "decided_at": TIMESTAMPS,
    },
    {
        "id_number_masked": optional(MASKED_IDS),
        "uscc": optional(uscc_codes()),
        "amount": optional(MONEY),
    },
)
NOTICES = record(
    {
        "case_record_id": st.uuids(),
        "revision": st.integers(1, 1000),
        "reader": st.sampled_from(PARTIES),
        "basis": text(),
        "case_no": text(),
        "owner_party": st.sampled_from(PARTIES),
        "matter_code": st.sampled_from(MATTERS),
        "legal_basis": text(300),
        "status": enum("CaseStatus"),
        "party": st.fixed_dictionaries(
            {"party_type": enum("PartyType")},
            optional={"name": optional(text(100)), "id_number": optional(MASKED_IDS),
                      "uscc": optional(uscc_codes())},
        ),
    },
    {
        "officers": st.lists(st.sampled_from([no for no, _ in OFFICERS]), max_size=4),
        "decision": optional(st.fixed_dictionaries({
            "decision_no": text(), "penalty_type": enum("PenaltyType"),
            "decided_at": TIMESTAMPS, "amount": MONEY})),
        "major_decision": st.booleans(),
        "legal_review_passed": st.booleans(),
        "withheld": st.lists(text(), max_size=5),
    },
)
AUDITS = record(
    {
        "actor_party": raw_text(40),
        "action": text(),
        "result": enum("AuditResult"),
    },
    {
        "record_kind": optional(raw_text(40)),
        "subject_id": optional(st.uuids()),
        "status_code": optional(st.integers(100, 599)),
        "client_address": optional(raw_text(64)),
        "detail": optional(text(300)),
        "purpose": optional(text()),
        "dataset": optional(raw_text(40)),
        "record_key": optional(text()),
        "fields": st.lists(raw_text(40), max_size=5),
        "returned": optional(st.integers(0, 1000)),
    },
)

EXECUTIONS = record(
    {
        "case_id": st.uuids(),
        "decision_no": text(),
        "execution_type": enum("ExecutionType"),
    },
    {
        "amount": optional(MONEY),
        "due_at": optional(TIMESTAMPS),
        "order_id": optional(st.uuids()),
        "note": optional(text(300)),
    },
).filter(  # a payment names what was paid
    lambda d: d["execution_type"] != "PAID" or d.get("amount") is not None
)

SUBSCRIPTIONS = record(
    {
        "subscription_id": st.uuids(),
        "action": enum("SubscriptionAction"),
        "actor_party": st.sampled_from(PARTIES),
        "dataset": st.sampled_from(["entity", "permit", "penalty"]),
        "subscriber": st.sampled_from(PARTIES),
    },
    {
        "filter_field": optional(st.sampled_from(["uscc", "holder_uscc"])),
        "filter_value": optional(text()),
        "access": optional(st.sampled_from(["full", "masked"])),
        "expires_at": optional(TIMESTAMPS),
        "purpose": optional(text()),
        "reason": optional(text(300)),
    },
)

SHARED_CHANGES = record(
    {
        "subscription_id": st.uuids(),
        "dataset": st.sampled_from(["entity", "permit", "penalty"]),
        "key": text(),
        "position": text(),
    },
    {
        "deleted": st.booleans(),
        "data": optional(raw_text(500)),
    },
)

STRATEGIES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "clue": CLUES,
    "case": cases(),
    "order": orders(),
    "order-event": order_events(),
    "entity": ENTITIES,
    "permit": PERMITS,
    "officer": OFFICER_RECORDS,
    "matter": MATTER_RECORDS,
    "penalty": PENALTIES,
    "case-notice": NOTICES,
    "execution": EXECUTIONS,
    "audit": AUDITS,
    "subscription": SUBSCRIPTIONS,
    "shared-change": SHARED_CHANGES,
}
PARSED = {name: fastavro.parse_schema(kind.schema()) for name, kind in KINDS.items()}


def roundtrip(kind: Kind, data: dict[str, Any]) -> None:
    model = validate(kind, data, REFERENCE)
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, PARSED[kind.name], to_avro(model))
    buffer.seek(0)
    decoded = fastavro.schemaless_reader(buffer, PARSED[kind.name], PARSED[kind.name])
    assert buffer.read() == b"", "reader left bytes unread"
    assert kind.model.model_validate(decoded) == model
    assert kind.model.model_validate(decoded, context={"reference": REFERENCE}) == model


# -------------------------------------------------------------- property round trips


def test_strategies_cover_every_kind() -> None:
    assert set(STRATEGIES) == set(KINDS)
    assert len(OFFICERS) >= 10


def _property(name: str) -> Any:
    @SETTINGS
    @given(data=STRATEGIES[name])
    def check(data: dict[str, Any]) -> None:
        roundtrip(KINDS[name], data)

    return check


@pytest.mark.parametrize("name", list(KINDS))
def test_avro_roundtrip_property(name: str) -> None:
    _property(name)()


def test_roundtrip_keeps_millisecond_utc_time_and_money() -> None:
    data = sample("penalty")
    data["decided_at"] = datetime(
        2026, 3, 10, 10, 0, 0, 123999, tzinfo=timezone(timedelta(hours=8))
    )
    data["amount"] = Decimal("1234.5")
    model = validate("penalty", data, REFERENCE)
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, PARSED["penalty"], to_avro(model))
    buffer.seek(0)
    decoded = fastavro.schemaless_reader(buffer, PARSED["penalty"])
    assert decoded["decided_at"] == datetime(2026, 3, 10, 2, 0, 0, 123000, tzinfo=UTC)
    assert decoded["amount"] == Decimal("1234.50")
    assert decoded["amount"].as_tuple().exponent == -2


@pytest.mark.parametrize("amount", ["1.000", "250.50000", "0.0000000"])
def test_money_with_trailing_zeros_that_validates_can_be_encoded(amount: str) -> None:
    # The Money type accepts "1.000" (pydantic ignores trailing zeros for decimal_places),
    # but the Avro decimal has scale 2 and fastavro refuses a Decimal with exponent -3:
    # a record the hub accepted could then not be published.
    data = sample("matter")
    data["max_fine"] = amount
    model = validate("matter", data, REFERENCE)
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, PARSED["matter"], to_avro(model))
    buffer.seek(0)
    decoded = fastavro.schemaless_reader(buffer, PARSED["matter"])
    assert decoded["max_fine"] == Decimal(amount)


# --------------------------------------------------------------------- wire format


def test_pack_and_unpack() -> None:
    framed = pack(7, b"avro")
    assert framed == b"\x00\x00\x00\x00\x07avro"
    assert unpack(framed) == (7, b"avro")
    assert unpack(pack(0x01020304, b"")) == (0x01020304, b"")
    assert pack(0x01020304, b"x")[1:5] == b"\x01\x02\x03\x04"  # big-endian


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x00\x00\x01"])
def test_unpack_of_too_short_bytes_raises_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError) as caught:
        unpack(data)
    assert caught.value.raw == data
    assert caught.value.stage == "deserialize"
    assert "too short" in caught.value.message


def test_unpack_with_wrong_magic_byte_raises_decode_error() -> None:
    data = b"\x01\x00\x00\x00\x01payload"
    with pytest.raises(DecodeError) as caught:
        unpack(data)
    assert caught.value.raw == data
    assert "magic byte 1" in caught.value.message


class FakeRegistry:
    """In-memory registry: ids from 1, one id per distinct schema text."""

    def __init__(self) -> None:
        self.schemas: dict[int, str] = {}
        self.subjects: dict[str, list[int]] = {}
        self.lookups = 0
        self.status_for_unknown = 404

    async def register(self, subject: str, schema: str) -> int:
        known = {text: schema_id for schema_id, text in self.schemas.items()}
        schema_id = known.get(schema, len(self.schemas) + 1)
        self.schemas[schema_id] = schema
        self.subjects.setdefault(subject, []).append(schema_id)
        return schema_id

    async def schema_by_id(self, schema_id: int) -> str:
        self.lookups += 1
        if schema_id not in self.schemas:
            raise SchemaRegistryError(
                f"schema {schema_id} not found",
                status=self.status_for_unknown,
                error_code=40403,
            )
        return self.schemas[schema_id]


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def serde(registry: FakeRegistry) -> AvroSerde:
    return AvroSerde(registry)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(KINDS))
async def test_serde_encode_decode_roundtrip(
    name: str, serde: AvroSerde, registry: FakeRegistry
) -> None:
    model = validate(name, sample(name), REFERENCE)
    data = await serde.encode(name, model)
    schema_id, payload = unpack(data)
    assert data[0] == 0
    assert registry.subjects[KINDS[name].subject] == [schema_id]
    assert json.loads(registry.schemas[schema_id]) == KINDS[name].schema()
    assert await serde.decode(name, data, REFERENCE) == model
    assert await serde.decode(KINDS[name], data) == model
    datum = await serde.decode_datum(name, data)
    assert datum["record_id"] == model.record_id


async def test_serde_registers_once_and_caches_writer_schemas(
    serde: AvroSerde, registry: FakeRegistry
) -> None:
    model = validate("clue", sample("clue"), REFERENCE)
    first = await serde.encode("clue", model)
    second = await serde.encode("clue", model)
    assert first == second
    assert registry.subjects["enf.clue.v1-value"] == [1]
    await serde.decode("clue", first)
    await serde.decode("clue", second)
    assert registry.lookups == 1


async def test_a_record_encoded_to_be_read_back_is_read_back_as_made_once(
    serde: AvroSerde, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An order the normalise stage routes is read back by the lifecycle stage of the
    same worker: its bytes give the record as made, not decoded and validated again;
    read again (a retry), or written without keep, the bytes are decoded."""
    order = validate("order", sample("order"), REFERENCE)
    kept = await serde.encode("order", order, keep=True)
    assert await serde.decode("order", bytes(kept), REFERENCE) is order
    again = await serde.decode("order", kept, REFERENCE)
    assert again == order and again is not order
    plain = await serde.encode("order", order)
    assert plain == kept and await serde.decode("order", plain) is not order
    # the same bytes read as another kind are decoded as that kind (and refused)
    await serde.encode("order", order, keep=True)
    with pytest.raises(DecodeError):
        await serde.decode("clue", kept)


async def test_the_records_kept_to_be_read_back_are_bounded_oldest_forgotten(
    serde: AvroSerde, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_serde, "KEPT", 3)
    clues = [validate("clue", {**sample("clue"), "source_id": f"CL-{n}"}, REFERENCE)
             for n in range(4)]
    encoded = [await serde.encode("clue", clue, keep=True) for clue in clues]
    assert await serde.decode("clue", encoded[0]) is not clues[0]  # forgotten
    assert [await serde.decode("clue", data) for data in encoded[1:]] == clues[1:]
    assert all([await serde.decode("clue", data) is not clue  # each read back once
                for data, clue in zip(encoded[1:], clues[1:], strict=True)])


async def test_decode_of_unknown_schema_id_raises_decode_error(serde: AvroSerde) -> None:
    data = pack(99, b"\x02")
    with pytest.raises(DecodeError) as caught:
        await serde.decode("clue", data)
    assert caught.value.raw == data
    assert caught.value.schema_id == 99
    assert "99" in caught.value.message


async def test_registry_outage_is_not_a_decode_error(
    serde: AvroSerde, registry: FakeRegistry
) -> None:
    registry.status_for_unknown = 503
    with pytest.raises(SchemaRegistryError) as caught:
        await serde.decode("clue", pack(99, b"\x02"))
    assert not isinstance(caught.value, DecodeError)
    assert caught.value.retriable


@pytest.mark.parametrize(
    "data", [b"\x01\x00\x00\x00\x01abc", b"\x00\x00", b"", b"\x05\x00\x00\x00\x01"]
)
async def test_decode_of_unframed_bytes_raises_decode_error(data: bytes, serde: AvroSerde) -> None:
    with pytest.raises(DecodeError) as caught:
        await serde.decode("clue", data)
    assert caught.value.raw == data


@pytest.mark.parametrize(
    "payload",
    [
        b"",  # nothing at all
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",  # an endless varint
        b"\x10abc",  # string length 8 with 3 bytes
    ],
)
async def test_decode_of_garbage_avro_raises_decode_error(
    payload: bytes, serde: AvroSerde, registry: FakeRegistry
) -> None:
    schema_id = await registry.register("enf.clue.v1-value", json.dumps(KINDS["clue"].schema()))
    data = pack(schema_id, payload)
    with pytest.raises(DecodeError) as caught:
        await serde.decode("clue", data)
    assert caught.value.raw == data
    assert caught.value.schema_id == schema_id


async def test_decode_of_valid_avro_with_broken_rules_raises_record_invalid(
    serde: AvroSerde, registry: FakeRegistry
) -> None:
    datum = to_avro(validate("clue", sample("clue"), REFERENCE))
    datum["matter_code"] = "URB-999"  # not in the catalogue
    schema_id = await registry.register("enf.clue.v1-value", json.dumps(KINDS["clue"].schema()))
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, PARSED["clue"], datum)
    data = pack(schema_id, buffer.getvalue())
    assert await serde.decode("clue", data)  # structure alone is fine
    with pytest.raises(RecordInvalid) as caught:
        await serde.decode("clue", data, REFERENCE)
    assert [(e.path, e.rule) for e in caught.value.errors] == [("matter_code", "matter.unknown")]


# -------------------------------------------------------------- schema evolution


def _v2(schema: dict[str, Any], default: Any = None) -> dict[str, Any]:
    v2 = copy.deepcopy(schema)
    v2["fields"].append(
        {
            "name": "channel",
            "type": ["null", "string"] if default is None else "string",
            "default": default,
            "doc": "渠道 channel the clue came in through",
        }
    )
    return v2


def _v1_bytes() -> tuple[dict[str, Any], Any]:
    model = validate("clue", sample("clue"), REFERENCE)
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, PARSED["clue"], to_avro(model))
    return to_avro(model), buffer.getvalue()


@pytest.mark.parametrize("default", [None, "未知 unknown"])
def test_v1_record_reads_with_a_v2_reader_schema(default: Any) -> None:
    expected, payload = _v1_bytes()
    v1 = KINDS["clue"].schema()
    reader = fastavro.parse_schema(_v2(v1, default))
    decoded = fastavro.schemaless_reader(io.BytesIO(payload), fastavro.parse_schema(v1), reader)
    assert decoded == {**expected, "channel": default}


@dataclass(frozen=True)
class ClueV2(Kind):
    """The clue kind as a later model version would be: one optional field more."""

    def schema(self) -> dict[str, Any]:
        return _v2(super().schema())


async def test_serde_reads_v1_bytes_into_the_current_v2_schema(registry: FakeRegistry) -> None:
    clue = KINDS["clue"]
    v1_id = await registry.register(clue.subject, json.dumps(clue.schema(), ensure_ascii=False))
    assert v1_id == 1
    expected, payload = _v1_bytes()
    v2_kind = ClueV2(clue.name, clue.model, clue.topic, clue.key_field)
    serde = AvroSerde(registry)  # type: ignore[arg-type]
    datum = await serde.decode_datum(v2_kind, pack(v1_id, payload))
    assert datum == {**expected, "channel": None}
    # The v1 kind reads the same bytes without the new field (a fresh serde: readers
    # are cached per kind name).
    fresh = AvroSerde(registry)  # type: ignore[arg-type]
    assert await fresh.decode_datum(clue, pack(v1_id, payload)) == expected


def test_header_layout() -> None:
    assert struct.calcsize(">bI") == 5

"""Field types shared by the canonical records, with their validation rules.

Validators that need reference data (known matters, the officer roster) read a
`hub.reference.Reference` from the validation context (``context={"reference": ref}``);
without one they check structure only. Party ids are always checked, against the
context's parties or the packaged parties file.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo

from hub.records._checks import CITIZEN_ID_SHAPE, USCC_SHAPE, citizen_id_problem, uscc_problem
from hub.records._rules import rule_error
from hub.reference import REFERENCE_DIR, Reference, Registry, load_parties


@lru_cache(maxsize=1)
def packaged_parties() -> Registry:
    """The parties of the packaged reference file (used when no Reference is given)."""
    return load_parties(REFERENCE_DIR / "parties.yaml")


def reference_of(info: ValidationInfo) -> Reference | None:
    """The Reference passed in the validation context, if any."""
    context = info.context
    if isinstance(context, dict):
        reference = context.get("reference")
        if isinstance(reference, Reference):
            return reference
    return None


def parties_of(info: ValidationInfo) -> Registry:
    """The parties to check against: the Reference's, or the packaged file's."""
    reference = reference_of(info)
    return reference.parties if reference is not None else packaged_parties()


_parties = parties_of


def _utc_millis(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise rule_error("timestamp.naive")
    if not YEARS[0] <= value.year <= YEARS[1]:  # and 0001-01-01T00:00+01:00 has no UTC
        raise rule_error("timestamp.range")
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _known_party(value: str, info: ValidationInfo) -> str:
    if value not in _parties(info):
        raise rule_error("party.unknown", value=value)
    return value


def _street(value: str, info: ValidationInfo) -> str:
    value = _known_party(value, info)
    if _parties(info).get(value).kind != "street":
        raise rule_error("party.kind", value=value, expected="street 街道")
    return value


def _matter(value: str, info: ValidationInfo) -> str:
    reference = reference_of(info)
    if reference is not None and value not in reference.matters:
        raise rule_error("matter.unknown", value=value)
    return value


def _uscc(value: str) -> str:
    problem = uscc_problem(value)
    if problem:
        raise rule_error(f"uscc.{problem}")
    return value


def _citizen_id(value: str) -> str:
    problem = citizen_id_problem(value)
    if problem:
        raise rule_error(f"citizen_id.{problem}")
    return value


PHONE_SHAPE = "(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})"
_PHONE = re.compile(PHONE_SHAPE)


def _phone(value: str) -> str:
    if not _PHONE.fullmatch(value):
        raise rule_error("phone.shape")
    return value


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


YEARS = (1900, 2999)
def _timestamp_text(value: Any) -> Any:
    """A time is sent as text (what the document says), never as a number of seconds,
    which pydantic would otherwise read as a Unix time."""
    if isinstance(value, int | float | Decimal):
        raise rule_error("timestamp.type")
    return value


Timestamp = Annotated[
    datetime,
    Field(json_schema_extra={"pattern": "^(19|2[0-9])[0-9]{2}-"}),
    BeforeValidator(_timestamp_text),
    AfterValidator(_utc_millis),
]
"""A point in time: time zone required, years 1900-2999, stored as UTC with millisecond
precision."""


def _fen(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


_MONEY_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def _money_text(value: Any) -> Any:
    """An amount sent as text is written in plain decimal digits (what the JSON schema
    says), not 1e5, 1_000, +1 or ' 1'; the sign, the digit counts and text that is no
    number at all are left to the rules that name them."""
    if isinstance(value, str) and not _MONEY_TEXT.fullmatch(value):
        try:
            Decimal(value)
        except ArithmeticError:
            return value  # decimal_parsing says it
        raise rule_error("amount.shape")
    return value


def _money_schema(schema: dict[str, Any]) -> None:
    """JSON schema: what the validator takes (twelve whole digits, fen at most), as a
    number or a plain decimal string; pydantic's own says any string."""
    schema.clear()
    schema["anyOf"] = [
        {"type": "number", "minimum": 0, "maximum": 999_999_999_999.99, "multipleOf": 0.01},
        {"type": "string", "pattern": r"^0*[0-9]{1,12}(\.[0-9]{1,2}0*)?$"},
    ]


Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2, json_schema_extra=_money_schema),
    BeforeValidator(_money_text),
    AfterValidator(_fen),
]
"""An amount in yuan with fen precision, never negative."""


def _party_enum(schema: dict[str, Any]) -> None:
    """JSON schema: the packaged parties' ids (what a record is checked against when the
    worker's reference data says no more), so the OpenAPI document names them."""
    schema["enum"] = sorted(party.id for party in packaged_parties())


def _street_enum(schema: dict[str, Any]) -> None:
    schema["enum"] = sorted(party.id for party in packaged_parties() if party.kind == "street")


PartyId = Annotated[
    str,
    Field(min_length=2, max_length=40, json_schema_extra=_party_enum),
    AfterValidator(_known_party),
]
StreetId = Annotated[
    str,
    Field(min_length=2, max_length=40, json_schema_extra=_street_enum),
    AfterValidator(_street),
]
OFFICER_ROSTER = "x-hub-officer-roster"
"""Marks a certificate number in the JSON schema; the served document names the
certificates of the officers its roster says may act today."""
MATTER_CATALOGUE = "x-hub-matter-catalogue"
"""Marks a matter code in the JSON schema; the OpenAPI document a worker serves names
the codes of its current matter catalogue there (reference data, not code)."""
MatterCode = Annotated[
    str,
    Field(pattern=r"^[A-Z]{3}-[0-9]{3}$", json_schema_extra={MATTER_CATALOGUE: True}),
    AfterValidator(_matter),
]
# The shapes in the JSON schema; the check characters (and a citizen's birth date) are
# rules a JSON schema cannot say, named in the OpenAPI document's description.
Uscc = Annotated[
    str,
    Field(json_schema_extra={"pattern": "^" + USCC_SHAPE + "$"}),
    BeforeValidator(_strip),
    AfterValidator(_uscc),
]
CitizenId = Annotated[
    str,
    Field(json_schema_extra={"pattern": "^" + CITIZEN_ID_SHAPE + "$"}),
    BeforeValidator(_strip),
    AfterValidator(_citizen_id),
]
Phone = Annotated[
    str,
    Field(json_schema_extra={"pattern": "^" + PHONE_SHAPE + "$"}),
    BeforeValidator(_strip),
    AfterValidator(_phone),
]
# Texts are stripped before their length is checked, so one of blanks only is too short;
# the JSON schema says so with a pattern: a character that is no blank to Python's
# str.strip nor to a JavaScript validator's \s.
_NOT_BLANK = {"pattern": r"[^\s\x1c-\x1f\x85]"}
Text = Annotated[
    str, Field(min_length=1, max_length=2000, json_schema_extra=_NOT_BLANK), BeforeValidator(_strip)
]
ShortText = Annotated[
    str, Field(min_length=1, max_length=200, json_schema_extra=_NOT_BLANK), BeforeValidator(_strip)
]
Name = Annotated[
    str, Field(min_length=1, max_length=100, json_schema_extra=_NOT_BLANK), BeforeValidator(_strip)
]
DATA_CATALOGUE = "x-hub-data-catalogue"
"""Marks a dataset id in the JSON schema; the served document names the datasets of the
worker's data catalogue there (reference data, not code)."""
DatasetId = Annotated[str, Field(min_length=2, max_length=40, pattern=r"^[a-z][a-z-]+$",
                                 json_schema_extra={DATA_CATALOGUE: True})]
"""A dataset's id in the data catalogue (hub/reference/datasets.yaml)."""
FieldName = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]
"""A field of a dataset's records."""
SourceId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]

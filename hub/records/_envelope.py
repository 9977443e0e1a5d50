"""The envelope every canonical record carries (docs/design.md §3) and its deterministic id."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from hub.records._rules import rule_error
from hub.records._types import PartyId, SourceId, Timestamp

HUB_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "hub.enforcement.wuchang.gov.cn")


def derive_record_id(source_party: str, source_id: str) -> uuid.UUID:
    """record_id = uuid5(hub namespace, "<source_party>/<source_id>"): a re-sent record keeps it."""
    return uuid.uuid5(HUB_NAMESPACE, f"{source_party}/{source_id}")


def _now_millis() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class CanonicalModel(BaseModel):
    """Base of every canonical model and nested part: strict keys, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Envelope(CanonicalModel):
    """Fields every canonical record carries, in this order, first."""

    SCHEMA_VERSION: ClassVar[int] = 1

    source_party: PartyId = Field(
        description="来源方 source party: id of the party whose system sent the record"
    )
    source_id: SourceId = Field(
        description="来源编号 source id: the record's id in the sending system"
    )
    record_id: uuid.UUID = Field(
        default=None,
        validate_default=True,
        description="记录编号 record id: uuid5 of source party and source id (re-sent keeps it)",
    )
    occurred_at: Timestamp = Field(description="发生时间 when it happened in the source system")
    received_at: Timestamp = Field(
        default_factory=_now_millis, description="接收时间 when the hub received it"
    )
    schema_version: int = Field(
        default=None,
        validate_default=True,
        ge=1,
        description="模式版本 version of the schema the record was written with",
    )
    trace_id: str = Field(
        default_factory=lambda: uuid.uuid4().hex,
        pattern=r"^[0-9a-f]{16,32}$",
        description="追踪编号 trace id carried across processes for one exchange",
    )

    @field_validator("record_id", mode="before")
    @classmethod
    def _derive_record_id(cls, value: Any, info: ValidationInfo) -> Any:
        party, source = info.data.get("source_party"), info.data.get("source_id")
        if party is None or source is None:
            return value if value is not None else uuid.UUID(int=0)
        derived = derive_record_id(party, source)
        if value is not None and str(value) != str(derived):
            raise rule_error("record_id.mismatch")
        return derived

    @field_validator("schema_version", mode="before")
    @classmethod
    def _default_version(cls, value: Any) -> Any:
        return cls.SCHEMA_VERSION if value is None else value


def identity(record: Envelope) -> str:
    """What makes two records the same record: the record id, and a case's revision."""
    revision = getattr(record, "revision", None)
    return f"{record.record_id}#{revision}" if revision is not None else str(record.record_id)


def content_digest(record: BaseModel, ignore: Iterable[str] = ("received_at", "trace_id")) -> str:
    """What a record says, whenever it was received and under whichever trace it came: two
    copies of one record have one digest, a changed record another."""
    said = record.model_dump_json(exclude=set(ignore))
    return hashlib.sha256(said.encode()).hexdigest()

"""The record kinds the hub exchanges: model, topic, registry subject, key, schema files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from hub.errors import RecordInvalid
from hub.records._avro import avro_schema
from hub.records._envelope import Envelope
from hub.records._models import (
    AuditEvent,
    CaseNotice,
    CertifiedOfficer,
    Clue,
    DispatchOrder,
    EnforcementCase,
    Execution,
    MarketEntity,
    Matter,
    OrderEvent,
    PenaltyDisclosure,
    Permit,
    SharedChange,
    SubscriptionEvent,
)
from hub.records._rules import field_errors
from hub.reference import Reference

SCHEMAS_DIR = Path(__file__).resolve().parent.parent.parent / "schemas"


@dataclass(frozen=True)
class Kind:
    """One kind of canonical record and where it lives."""

    name: str
    model: type[Envelope]
    topic: str
    key_field: str

    @property
    def subject(self) -> str:
        """Schema-registry subject (TopicNameStrategy: ``<topic>-value``)."""
        return f"{self.topic}-value"

    @property
    def version(self) -> int:
        return self.model.SCHEMA_VERSION

    def schema(self) -> dict[str, Any]:
        """The Avro schema generated from the model (the current version)."""
        return avro_schema(self.model)

    def schema_file(self, version: int | None = None, root: Path = SCHEMAS_DIR) -> Path:
        """``schemas/<kind>/v<N>.avsc``; every shipped version is kept there."""
        return root / self.name / f"v{version or self.version}.avsc"

    def key_of(self, record: BaseModel) -> bytes:
        """The Kafka key of a record of this kind."""
        return str(getattr(record, self.key_field)).encode()


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("clue", Clue, "enf.clue.v1", "record_id"),
        Kind("case", EnforcementCase, "enf.case.v1", "record_id"),
        Kind("order", DispatchOrder, "enf.order.v1", "order_id"),
        Kind("order-event", OrderEvent, "enf.order-event.v1", "order_id"),
        Kind("entity", MarketEntity, "share.entity.v1", "uscc"),
        Kind("permit", Permit, "share.permit.v1", "permit_no"),
        Kind("officer", CertifiedOfficer, "share.officer.v1", "certificate_no"),
        Kind("matter", Matter, "share.matter.v1", "code"),
        Kind("penalty", PenaltyDisclosure, "pub.penalty.v1", "record_id"),
        Kind("case-notice", CaseNotice, "sup.case.v1", "case_record_id"),
        Kind("execution", Execution, "enf.execution.v1", "case_id"),
        Kind("audit", AuditEvent, "hub.audit.v1", "actor_party"),
        Kind("subscription", SubscriptionEvent, "data.subscription.v1", "subscription_id"),
        Kind("shared-change", SharedChange, "data.change.v1", "subscription_id"),
    )
}


def kind_of(name: str) -> Kind:
    """The kind called name; `KeyError` listing the known kinds otherwise."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown record kind '{name}'; known: {', '.join(KINDS)}") from None


def validate(
    kind: str | Kind, data: Any, reference: Reference | None = None, now: datetime | None = None
) -> Envelope:
    """Validate data as a record of kind; `RecordInvalid` lists every broken rule at once.

    With a `Reference`, matter codes and officers are checked against the catalogue and
    the roster too; without one, structure, checksums and party ids only. With now (the
    hub's clock, where a record enters the hub), times a sender may not set ahead of it
    are checked too (an order's issued_at).
    """
    kind = kind if isinstance(kind, Kind) else kind_of(kind)
    try:
        return kind.model.model_validate(data, context={"reference": reference, "now": now})
    except ValidationError as exc:
        raise RecordInvalid(kind.name, field_errors(exc)) from None


def committed_schema(kind: Kind, version: int | None = None, root: Path = SCHEMAS_DIR) -> Any:
    """The schema committed in ``schemas/`` for kind (latest version by default)."""
    return json.loads(kind.schema_file(version, root).read_text(encoding="utf-8"))


def schema_versions(kind: Kind, root: Path = SCHEMAS_DIR) -> list[int]:
    """Versions of kind's schema committed in ``schemas/``, ascending."""
    folder = root / kind.name
    return sorted(int(p.stem[1:]) for p in folder.glob("v*.avsc") if p.stem[1:].isdigit())

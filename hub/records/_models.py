"""The canonical records of the hub (docs/design.md §3), as pydantic models.

These models are the one source of truth: the Avro schemas in ``schemas/`` are
generated from them (`hub.records.avro_schema`) and a test fails when a committed
schema and its model drift apart.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from hub.records._envelope import CanonicalModel, Envelope
from hub.records._masking import is_masked, mask_name, mask_phone
from hub.records._rules import rule_error
from hub.records._types import (
    OFFICER_ROSTER,
    CitizenId,
    DatasetId,
    FieldName,
    MatterCode,
    Money,
    Name,
    PartyId,
    Phone,
    ShortText,
    StreetId,
    Text,
    Timestamp,
    Uscc,
    parties_of,
    reference_of,
)

WUHAN_LAT = (29.97, 31.37)
WUHAN_LON = (113.68, 115.08)


# The validators' cross-field rules, said in the JSON schema too, so that the OpenAPI
# document refuses what the hub refuses (`_rules(...)` as a model's json_schema_extra).
# Rules no JSON schema can say (check characters, one field against another's value) are
# listed in the document's description of the publish operations.


def _where(name: str, shape: dict[str, Any]) -> dict[str, Any]:
    """A property that is there and has shape (as an `if` condition or a `then`)."""
    return {"required": [name], "properties": {name: shape}}


def _is(values: Any, negate: bool = False) -> dict[str, Any]:
    shape: dict[str, Any] = {"enum": sorted(str(v) for v in values)}
    return {"not": shape} if negate else shape


def _rules(*rules: tuple[dict[str, Any], dict[str, Any]]) -> Any:
    def extra(schema: dict[str, Any]) -> None:
        schema["allOf"] = [{"if": condition, "then": then} for condition, then in rules]

    return extra


_NULL = {"type": "null"}
_SOMETHING = {"not": {"type": "null"}}


# ----------------------------------------------------------------------------- enums


class ClueOrigin(StrEnum):
    """线索来源 where a clue came from."""

    PATROL = "PATROL"  # 巡查
    HOTLINE_12345 = "HOTLINE_12345"  # 12345热线
    GRID = "GRID"  # 网格
    DEPARTMENT = "DEPARTMENT"  # 部门
    PUBLIC_REPORT = "PUBLIC_REPORT"  # 群众举报


class CaseStatus(StrEnum):
    """案件状态 status of an enforcement case."""

    FILED = "FILED"  # 立案
    INVESTIGATING = "INVESTIGATING"  # 调查
    LEGAL_REVIEW = "LEGAL_REVIEW"  # 法制审核
    DECIDED = "DECIDED"  # 决定
    EXECUTING = "EXECUTING"  # 执行
    CLOSED = "CLOSED"  # 结案


class PartyType(StrEnum):
    """当事人类型 natural person or organisation."""

    NATURAL_PERSON = "NATURAL_PERSON"  # 自然人
    ORGANISATION = "ORGANISATION"  # 法人或其他组织


class PenaltyType(StrEnum):
    """处罚种类 kinds of administrative penalty."""

    WARNING = "WARNING"  # 警告、通报批评
    FINE = "FINE"  # 罚款
    CONFISCATION = "CONFISCATION"  # 没收违法所得、没收非法财物
    PERMIT_SUSPENSION = "PERMIT_SUSPENSION"  # 暂扣许可证件、降低资质等级、吊销许可证件
    BUSINESS_RESTRICTION = "BUSINESS_RESTRICTION"  # 限制开展生产经营活动、责令停产停业
    OTHER = "OTHER"  # 其他


class OrderType(StrEnum):
    """派单类型 kinds of dispatch order."""

    WHISTLE = "WHISTLE"  # 吹哨
    ASSIGNMENT = "ASSIGNMENT"  # 派单
    ASSISTANCE = "ASSISTANCE"  # 协助
    CASE_TRANSFER = "CASE_TRANSFER"  # 移送
    CRIMINAL_REFERRAL = "CRIMINAL_REFERRAL"  # 涉嫌犯罪移送
    REVERSE_TRANSFER = "REVERSE_TRANSFER"  # 反向移送: police → administrative authority
    SUGGEST_REFERRAL = "SUGGEST_REFERRAL"  # 建议移送: procuratorate → authority
    SUPERVISION_NOTICE = "SUPERVISION_NOTICE"  # 执法监督意见: justice → authority
    RECOMMENDATION = "RECOMMENDATION"  # 检察建议: procuratorate → authority
    ENFORCEMENT_APPLICATION = "ENFORCEMENT_APPLICATION"  # 申请法院强制执行: authority → court


class Priority(StrEnum):
    """紧急程度 priority of an order."""

    NORMAL = "NORMAL"  # 一般
    URGENT = "URGENT"  # 紧急
    CRITICAL = "CRITICAL"  # 特急


class AssistanceKind(StrEnum):
    """协助事项 what an assistance request asks for."""

    IDENTIFICATION = "IDENTIFICATION"  # 认定
    APPRAISAL = "APPRAISAL"  # 鉴定
    APPROVAL_RECORDS = "APPROVAL_RECORDS"  # 审批信息
    OTHER = "OTHER"  # 其他


class EventType(StrEnum):
    """派单事件 lifecycle events of an order."""

    SIGNED = "SIGNED"  # 签收
    REPORTED = "REPORTED"  # 报到
    FEEDBACK = "FEEDBACK"  # 办理反馈
    RETURNED = "RETURNED"  # 退单
    REASSIGNED = "REASSIGNED"  # 改派
    CLOSED = "CLOSED"  # 办结
    EVALUATED = "EVALUATED"  # 评价
    OVERDUE = "OVERDUE"  # 超时
    ESCALATED = "ESCALATED"  # 督办
    ACCEPTED = "ACCEPTED"  # 受理
    FILED = "FILED"  # 立案
    NOT_FILED = "NOT_FILED"  # 不予立案
    RECONSIDERATION = "RECONSIDERATION"  # 复议
    SUPERVISION = "SUPERVISION"  # 立案监督
    REFERRED = "REFERRED"  # 已移送 (a suggested referral: linked_order_id names it)
    DECLINED = "DECLINED"  # 不予移送 (a suggested referral declined, with the reason)
    GRANTED = "GRANTED"  # 准予执行 (the court's ruling)
    DENIED = "DENIED"  # 不予执行 (the court's ruling, with the reason)


class EntityStatus(StrEnum):
    """登记状态 registration status of a market entity."""

    ACTIVE = "ACTIVE"  # 存续
    REVOKED = "REVOKED"  # 吊销
    DEREGISTERED = "DEREGISTERED"  # 注销


class OfficerStatus(StrEnum):
    """执法证状态 status of an enforcement certificate."""

    ACTIVE = "ACTIVE"  # 有效
    SUSPENDED = "SUSPENDED"  # 暂扣


class MatterCategory(StrEnum):
    """事项类别 kind of enforcement power."""

    PENALTY = "PENALTY"  # 行政处罚
    INSPECTION = "INSPECTION"  # 行政检查
    COERCION = "COERCION"  # 行政强制


class AuditResult(StrEnum):
    """审计结果 outcome of one exchange."""

    ACCEPTED = "ACCEPTED"  # 已接收
    DELIVERED = "DELIVERED"  # 已送达
    REFUSED = "REFUSED"  # 拒绝（认证或授权）
    REJECTED = "REJECTED"  # 退回（数据无效）
    FAILED = "FAILED"  # 失败


# ----------------------------------------------------------------------- nested parts


class Location(CanonicalModel):
    """地点 where something is: address and optional WGS-84 coordinates within Wuhan."""

    model_config = ConfigDict(
        json_schema_extra=_rules(  # both coordinates or neither
            (_where("latitude", {"type": "number"}), _where("longitude", {"type": "number"})),
            (_where("longitude", {"type": "number"}), _where("latitude", {"type": "number"})),
        )
    )

    address: ShortText = Field(description="地址 street address")
    latitude: float | None = Field(
        default=None,
        description="纬度 latitude (WGS-84)",
        json_schema_extra={"minimum": WUHAN_LAT[0], "maximum": WUHAN_LAT[1]},
    )
    longitude: float | None = Field(
        validate_default=True,
        default=None,
        description="经度 longitude (WGS-84)",
        json_schema_extra={"minimum": WUHAN_LON[0], "maximum": WUHAN_LON[1]},
    )

    @field_validator("latitude")
    @classmethod
    def _lat(cls, value: float | None) -> float | None:
        if value is not None and not WUHAN_LAT[0] <= value <= WUHAN_LAT[1]:
            raise rule_error("location.outside_wuhan")
        return value

    @field_validator("longitude")
    @classmethod
    def _lon(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and not WUHAN_LON[0] <= value <= WUHAN_LON[1]:
            raise rule_error("location.outside_wuhan")
        if "latitude" in info.data and (value is None) != (info.data["latitude"] is None):
            raise rule_error("location.incomplete")
        return value


class Attachment(CanonicalModel):
    """附件 a reference to a file kept by the source system (never the bytes)."""

    uri: str = Field(min_length=1, max_length=500, description="地址 where the file can be fetched")
    name: ShortText = Field(description="文件名 file name")
    media_type: str = Field(
        default="application/octet-stream",
        pattern=r"^[a-z]+/[a-z0-9.+-]+$",
        description="媒体类型 media type",
    )
    sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$", description="摘要 SHA-256 of the file"
    )


class Reporter(CanonicalModel):
    """举报人 who reported a clue; name and phone are stored masked 脱敏."""

    name_masked: str | None = Field(
        default=None, max_length=100, description="姓名（脱敏） reporter name, masked"
    )
    phone_masked: str | None = Field(
        default=None, max_length=20, description="电话（脱敏） reporter phone, masked"
    )

    @field_validator("name_masked")
    @classmethod
    def _mask_name(cls, value: str | None) -> str | None:
        return value if value is None or is_masked(value) else mask_name(value)

    @field_validator("phone_masked")
    @classmethod
    def _mask_phone(cls, value: str | None) -> str | None:
        return value if value is None or is_masked(value) else mask_phone(value)


class CaseParty(CanonicalModel):
    """当事人 the party of a case: a natural person (ID number) or an organisation (USCC)."""

    model_config = ConfigDict(
        json_schema_extra=_rules(
            (_where("party_type", _is([PartyType.NATURAL_PERSON])),
             _where("id_number", {"type": "string"})),
            (_where("party_type", _is([PartyType.ORGANISATION])),
             _where("uscc", {"type": "string"})),
        )
    )

    party_type: PartyType = Field(description="当事人类型 natural person or organisation")
    name: Name = Field(description="姓名或名称 name of the person or organisation")
    id_number: CitizenId | None = Field(
        validate_default=True,
        default=None,
        description="公民身份号码 citizen ID number (GB 11643), natural persons",
    )
    uscc: Uscc | None = Field(
        validate_default=True,
        default=None,
        description="统一社会信用代码 unified social credit code (GB 32100)",
    )
    phone: Phone | None = Field(default=None, description="联系电话 phone")
    address: ShortText | None = Field(default=None, description="住所 address")

    @field_validator("id_number")
    @classmethod
    def _person_has_id(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("party_type") is PartyType.NATURAL_PERSON and value is None:
            raise rule_error(
                "case.party_identity", value="natural person 自然人", expected="id_number"
            )
        return value

    @field_validator("uscc")
    @classmethod
    def _organisation_has_uscc(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("party_type") is PartyType.ORGANISATION and value is None:
            raise rule_error("case.party_identity", value="organisation 组织", expected="uscc")
        return value


class Officer(CanonicalModel):
    """执法人员 an officer acting on a case, by enforcement certificate 执法证."""

    certificate_no: str = Field(
        pattern=r"^[0-9]{11}$",
        description="执法证号 enforcement certificate number",
        json_schema_extra={OFFICER_ROSTER: True},
    )
    name: Name = Field(description="姓名 officer name")

    @field_validator("certificate_no")
    @classmethod
    def _on_roster(cls, value: str, info: ValidationInfo) -> str:
        reference = reference_of(info)
        if reference is None:
            return value
        officer = reference.officers.get(value)
        if officer is None:
            raise rule_error("officer.not_on_roster", value=value)
        if not officer.usable_on(date.today()):
            raise rule_error("officer.not_valid", value=value)
        return value


class Decision(CanonicalModel):
    """处罚决定 the decision of a case."""

    model_config = ConfigDict(
        json_schema_extra=_rules(
            (_where("penalty_type", _is([PenaltyType.FINE])), _where("amount", _SOMETHING)),
        )
    )

    decision_no: ShortText = Field(description="决定书文号 decision document number")
    penalty_type: PenaltyType = Field(description="处罚种类 kind of penalty")
    amount: Money | None = Field(
        validate_default=True, default=None, description="罚没金额 amount in yuan (fen precision)"
    )
    decided_at: Timestamp = Field(description="决定时间 when the decision was made")

    @field_validator("amount")
    @classmethod
    def _fine_has_amount(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("penalty_type") is PenaltyType.FINE and value is None:
            raise rule_error("decision.amount_required")
        return value


class EnforcementDetail(CanonicalModel):
    """申请强制执行 what an application to the court for compulsory enforcement names:
    the decision left unpaid (the order's subject_id is the case) and the reminder."""

    decision_no: ShortText = Field(description="决定书文号 decision document number")
    amount: Money = Field(description="未缴金额 amount left unpaid, yuan")
    decided_at: Timestamp = Field(description="决定时间 when the decision was made")
    reminder_served_at: Timestamp = Field(
        description="催告书送达时间 when the written reminder was served (行政强制法 §54)"
    )


class ReferralDetail(CanonicalModel):
    """移送明细 what a criminal referral 涉嫌犯罪移送 carries."""

    suspected_offence: ShortText = Field(description="涉嫌罪名 suspected offence")
    evidence: list[ShortText] = Field(
        min_length=1, max_length=200, description="证据清单 list of evidence"
    )
    seized_items: list[ShortText] = Field(
        default_factory=list, max_length=200, description="涉案物品清单 seized items"
    )


class TransferDetail(CanonicalModel):
    """移送明细 what a case transfer 案件移送 carries."""

    stop_order_issued: bool = Field(description="已责令停止违法行为 stop order 责令停止 issued")
    reason: Text = Field(description="移送理由 why the other party is competent")
    materials: list[ShortText] = Field(
        min_length=1, max_length=200, description="移送材料 transferred materials"
    )


class AssistanceDetail(CanonicalModel):
    """协助明细 what an assistance request asks for."""

    kind: AssistanceKind = Field(description="协助事项 what is asked for")
    question: Text = Field(description="协助内容 the question or request")


# --------------------------------------------------------------------------- records


class Clue(Envelope):
    """线索 Clue: a possible violation reported by patrol, hotline, grid, department or public."""

    origin: ClueOrigin = Field(description="线索来源 origin of the clue")
    street: StreetId = Field(description="所属街道 street where it happened")
    location: Location = Field(description="地点 location")
    matter_code: MatterCode = Field(description="事项编码 matter code of the catalogue")
    description: Text = Field(description="线索描述 what was observed")
    reporter: Reporter | None = Field(default=None, description="举报人 reporter, masked")
    attachments: list[Attachment] = Field(
        default_factory=list, max_length=20, description="附件 attachment references"
    )


_DECIDED = (CaseStatus.DECIDED, CaseStatus.EXECUTING, CaseStatus.CLOSED)


class EnforcementCase(Envelope):
    """案件 EnforcementCase: an administrative enforcement case, one revision of it.

    A case keeps its record_id for life (its source_id does not change); each change of
    status or content is sent as the next revision. The same revision sent again is a
    duplicate; the same revision with other content is refused (409)."""

    # v2: revision (1 for cases written before it; BACKWARD)
    SCHEMA_VERSION: ClassVar[int] = 2

    model_config = ConfigDict(
        json_schema_extra=_rules(
            (_where("status", _is(_DECIDED)), _where("decision", {"type": "object"})),
            (
                {
                    "required": ["major_decision", "decision"],
                    "properties": {
                        "major_decision": {"const": True},
                        "decision": {"type": "object"},
                    },
                },
                _where("legal_review_passed", {"const": True}),
            ),
        )
    )

    revision: int = Field(
        default=1, ge=1, le=1000,
        description="修订版本 revision: 1 when the case is first sent, one more for each change",
    )
    case_no: ShortText = Field(description="案件编号 case number")
    owner_party: PartyId = Field(description="办案单位 party that handles the case")
    matter_code: MatterCode = Field(description="事项编码 matter code of the catalogue")
    legal_basis: Text = Field(description="法律依据 legal basis")
    party: CaseParty = Field(description="当事人 the party of the case")
    officers: list[Officer] = Field(
        max_length=20,
        description="执法人员 officers (at least two, certified 持证上岗)",
        json_schema_extra={"minItems": 2},
    )
    status: CaseStatus = Field(description="案件状态 case status")
    decision: Decision | None = Field(
        validate_default=True, default=None, description="处罚决定 decision"
    )
    major_decision: bool = Field(
        default=False, description="重大执法决定 major decision needing legal review"
    )
    legal_review_passed: bool = Field(
        validate_default=True,
        default=False,
        description="法制审核通过 legal review 法制审核 passed",
    )

    @field_validator("owner_party")
    @classmethod
    def _owner_publishes(cls, value: str, info: ValidationInfo) -> str:
        source = info.data.get("source_party")
        if source is not None and value != source:
            raise rule_error("case.owner_not_publisher", value=value, expected=source)
        return value

    @field_validator("matter_code")
    @classmethod
    def _owner_holds_the_power(cls, value: str, info: ValidationInfo) -> str:
        """A street decides matters delegated to streets; a department its own matters."""
        reference, owner = reference_of(info), info.data.get("owner_party")
        if reference is None or owner is None or owner not in reference.parties:
            return value
        matter = reference.matters.get(value)
        if matter is None:
            return value
        kind = reference.parties.get(owner).kind
        if kind in ("street", "department") and not matter.decided_by(owner, kind):
            rule = "case.matter_not_delegated" if kind == "street" else "case.matter_of_another"
            raise rule_error(rule, value=value, expected=matter.department)
        return value

    @field_validator("officers")
    @classmethod
    def _two_distinct_officers(cls, value: list[Officer], info: ValidationInfo) -> list[Officer]:
        numbers = [officer.certificate_no for officer in value]
        duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
        if duplicates:
            raise rule_error("officers.duplicate", value=", ".join(duplicates))
        if len(value) < 2:
            raise rule_error("officers.too_few")
        reference, owner = reference_of(info), info.data.get("owner_party")
        if reference is not None and owner is not None:
            roster = reference.officers
            strangers = [n for n in numbers if n in roster and roster[n].party != owner]
            if strangers:
                raise rule_error("case.officer_of_another", value=", ".join(strangers),
                                 expected=owner)
        return value

    @field_validator("decision")
    @classmethod
    def _decided_needs_decision(cls, value: Decision | None, info: ValidationInfo) -> Any:
        status = info.data.get("status")
        if status in _DECIDED and value is None:
            raise rule_error("case.decision_required", value=status.value)
        reference = reference_of(info)
        matter = reference.matters.get(info.data.get("matter_code") or "") if reference else None
        if (
            value is not None
            and value.amount is not None
            and matter is not None
            and matter.max_fine_yuan > 0
            and value.amount > Decimal(matter.max_fine_yuan)
        ):
            raise rule_error("case.fine_over_cap", value=str(value.amount),
                             expected=f"{matter.max_fine_yuan} ({matter.code})")
        return value

    @field_validator("legal_review_passed")
    @classmethod
    def _major_needs_review(cls, value: bool, info: ValidationInfo) -> bool:
        if info.data.get("major_decision") and info.data.get("decision") is not None and not value:
            raise rule_error("case.legal_review_required")
        return value


def _same_as_record_id(value: Any, info: ValidationInfo) -> Any:
    """An id field that must equal the record id (order_id of orders, event_id of events)."""
    record_id = info.data.get("record_id")
    if record_id is None:
        return value if value is not None else uuid.UUID(int=0)
    if value is not None and str(value) != str(record_id):
        raise rule_error("record_id.mismatch")
    return record_id


ISSUE_AHEAD = timedelta(minutes=5)
"""How far an order's issued_at may be ahead of the hub's clock (sending systems' clocks
drift); beyond it the order is refused where it enters the hub."""

_DETAIL_OF = {
    OrderType.CRIMINAL_REFERRAL: "referral",
    OrderType.CASE_TRANSFER: "transfer",
    OrderType.ASSISTANCE: "assistance",
    OrderType.REVERSE_TRANSFER: "transfer",
    OrderType.SUGGEST_REFERRAL: "referral",
    OrderType.ENFORCEMENT_APPLICATION: "enforcement",
}
_DETAILS = ("referral", "transfer", "assistance", "enforcement")
# orders only enforcement units (streets, departments) receive, and the court's one
TO_AUTHORITIES = frozenset({
    OrderType.REVERSE_TRANSFER, OrderType.SUGGEST_REFERRAL, OrderType.SUPERVISION_NOTICE,
    OrderType.RECOMMENDATION,
})
COURT = "court"


def _order_rules() -> Any:
    """Recipients unless a whistle, the police among them for a criminal referral, and
    the detail of the order type, no other."""
    typed: list[tuple[dict[str, Any], dict[str, Any]]] = [
        (_where("order_type", _is([OrderType.WHISTLE], negate=True)),
         {"properties": {"to_parties": {"minItems": 1}}}),
        (_where("order_type", _is([OrderType.CRIMINAL_REFERRAL])),
         {"properties": {"to_parties": {"contains": {"const": "police"}}}}),
    ]
    for order_type, detail in _DETAIL_OF.items():
        typed.append((_where("order_type", _is([order_type])), _where(detail, {"type": "object"})))
    for detail in _DETAILS:
        types = [t for t, d in _DETAIL_OF.items() if d == detail]
        typed.append((_where("order_type", _is(types, negate=True)),
                      {"properties": {detail: _NULL}}))
    typed.append((_where("order_type", _is([OrderType.ENFORCEMENT_APPLICATION])),
                  {"properties": {"to_parties": {"const": [COURT]}}}))
    return _rules(*typed)


class DispatchOrder(Envelope):
    """派单 DispatchOrder: whistle, assignment, assistance, case transfer or criminal referral."""

    model_config = ConfigDict(json_schema_extra=_order_rules())

    # v2: deadline may be left out; the hub then applies the default for the order type
    # and priority (deadlines.yaml), counted in working days.
    # v3: the flows of issue 16 (reverse transfer, suggested referral, supervision notice,
    # procuratorial recommendation, application for compulsory enforcement: `enforcement`)
    SCHEMA_VERSION: ClassVar[int] = 3

    order_id: uuid.UUID = Field(
        default=None,
        validate_default=True,
        description="派单编号 order id, equal to the record id; the key of order topics",
    )
    order_type: OrderType = Field(description="派单类型 order type")
    from_party: PartyId = Field(description="派单方 issuing party")
    to_parties: list[PartyId] = Field(
        max_length=10,
        description="接收方 recipients (a whistle without them is routed by the matter catalogue)",
        json_schema_extra={"uniqueItems": True},
    )
    subject_id: uuid.UUID | None = Field(
        default=None, description="关联线索或案件 record id of the clue or case concerned"
    )
    matter_code: MatterCode = Field(description="事项编码 matter code of the catalogue")
    location: Location | None = Field(default=None, description="地点 location")
    priority: Priority = Field(default=Priority.NORMAL, description="紧急程度 priority")
    issued_at: Timestamp = Field(description="派单时间 when the order was issued")
    deadline: Timestamp | None = Field(
        default=None,
        description="办理期限 when it must be answered; without it the hub applies the "
        "default for the order type and priority, in working days",
    )
    description: Text = Field(description="派单内容 what is asked")
    referral: ReferralDetail | None = Field(
        validate_default=True, default=None, description="涉嫌犯罪移送明细 criminal referral detail"
    )
    transfer: TransferDetail | None = Field(
        validate_default=True, default=None, description="案件移送明细 transfer detail"
    )
    assistance: AssistanceDetail | None = Field(
        validate_default=True, default=None, description="协助明细 assistance detail"
    )
    enforcement: EnforcementDetail | None = Field(
        validate_default=True,
        default=None,
        description="申请强制执行 application for compulsory enforcement (that type only)",
    )

    @field_validator("order_id", mode="before")
    @classmethod
    def _order_id_is_record_id(cls, value: Any, info: ValidationInfo) -> Any:
        return _same_as_record_id(value, info)

    @field_validator("to_parties")
    @classmethod
    def _recipients(cls, value: list[str], info: ValidationInfo) -> list[str]:
        order_type = info.data.get("order_type")
        if len(set(value)) != len(value) or info.data.get("from_party") in value:
            raise rule_error("order.recipients")
        if not value and order_type is not OrderType.WHISTLE:
            raise rule_error("order.recipients")
        if order_type is OrderType.CRIMINAL_REFERRAL and "police" not in value:
            raise rule_error("order.referral_to_police")
        return value

    @field_validator("issued_at")
    @classmethod
    def _issued_by_the_hubs_clock(cls, value: Any, info: ValidationInfo) -> Any:
        now = (info.context or {}).get("now")
        if now is not None and value is not None and value > now + ISSUE_AHEAD:
            raise rule_error("order.issued_in_future", value=value.isoformat())
        return value

    @field_validator("deadline")
    @classmethod
    def _deadline_after_issue(cls, value: Any, info: ValidationInfo) -> Any:
        issued = info.data.get("issued_at")
        if issued is not None and value is not None and value <= issued:
            raise rule_error("deadline.not_after_issue")
        return value

    @field_validator("enforcement")
    @classmethod
    def _recipients_of_type(cls, value: Any, info: ValidationInfo) -> Any:
        """An application for enforcement goes to the court alone; the orders of police,
        procuratorate and justice to enforcement units (streets, departments)."""
        order_type, recipients = info.data.get("order_type"), info.data.get("to_parties") or []
        if order_type is OrderType.ENFORCEMENT_APPLICATION and recipients != [COURT]:
            raise rule_error("order.enforcement_to_court")
        if order_type in TO_AUTHORITIES:
            parties = parties_of(info)
            others = [p for p in recipients if p in parties and parties.get(p).kind not in (
                "street", "department")]
            if others:
                raise rule_error("order.to_authorities", value=order_type.value,
                                 expected=", ".join(others))
        return value

    @field_validator("referral", "transfer", "assistance", "enforcement")
    @classmethod
    def _detail_fits_type(cls, value: Any, info: ValidationInfo) -> Any:
        order_type = info.data.get("order_type")
        if order_type is None:
            return value
        wanted = _DETAIL_OF.get(order_type)
        if info.field_name == wanted and value is None:
            raise rule_error("order.detail_missing", value=order_type.value, expected=wanted)
        if info.field_name != wanted and value is not None:
            raise rule_error(
                "order.detail_mismatch", value=order_type.value, expected=info.field_name
            )
        return value


# The events an OrderEvent must give its reason for (理由).
REASON_REQUIRED = {
    EventType.RETURNED, EventType.NOT_FILED, EventType.RECONSIDERATION, EventType.DECLINED,
    EventType.DENIED,
}


def _event_rules() -> Any:
    """A rating with EVALUATED only, and there required; a reason for return, not-filed
    and reconsideration; new recipients for a reassignment."""
    evaluated = [EventType.EVALUATED]
    return _rules(
        (_where("event_type", _is(evaluated)), _where("rating", {"type": "integer"})),
        (_where("event_type", _is(evaluated, negate=True)), {"properties": {"rating": _NULL}}),
        (_where("event_type", _is(REASON_REQUIRED)), _where("reason", {"type": "string"})),
        (_where("event_type", _is([EventType.REASSIGNED])), _where("reassign_to", {"minItems": 1})),
        (_where("event_type", _is([EventType.REFERRED])),
         _where("linked_order_id", {"type": "string"})),
    )


class OrderEvent(Envelope):
    """派单事件 OrderEvent: one step in the life of a dispatch order."""

    model_config = ConfigDict(json_schema_extra=_event_rules())

    # v2: the events of issue 16's flows (REFERRED with linked_order_id, DECLINED,
    # GRANTED, DENIED)
    SCHEMA_VERSION: ClassVar[int] = 2

    event_id: uuid.UUID = Field(
        default=None,
        validate_default=True,
        description="事件编号 event id, equal to the record id (uuid5 of source party and id)",
    )
    order_id: uuid.UUID = Field(description="派单编号 the order this event belongs to")
    event_type: EventType = Field(description="事件类型 event type")
    actor_party: PartyId = Field(description="操作方 party that acted")
    reason: Text | None = Field(
        validate_default=True,
        default=None,
        description="理由 reason (required for return, not-filed, reconsideration)",
    )
    comment: Text | None = Field(default=None, description="说明 comment or feedback text")
    rating: int | None = Field(
        validate_default=True, default=None, ge=1, le=5, description="评分 evaluation 1-5"
    )
    reassign_to: list[PartyId] = Field(
        validate_default=True,
        default_factory=list,
        max_length=10,
        description="改派接收方 new recipients",
    )
    linked_order_id: uuid.UUID | None = Field(
        validate_default=True,
        default=None,
        description="关联派单 the order this one led to (REFERRED: the criminal referral made)",
    )
    attachments: list[Attachment] = Field(
        default_factory=list, max_length=20, description="附件 attachment references"
    )

    @field_validator("event_id", mode="before")
    @classmethod
    def _event_id_is_record_id(cls, value: Any, info: ValidationInfo) -> Any:
        return _same_as_record_id(value, info)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str | None, info: ValidationInfo) -> str | None:
        event_type = info.data.get("event_type")
        if event_type in REASON_REQUIRED and value is None:
            raise rule_error("event.reason_required", value=event_type.value)
        return value

    @field_validator("rating")
    @classmethod
    def _rating(cls, value: int | None, info: ValidationInfo) -> int | None:
        event_type = info.data.get("event_type")
        if event_type is EventType.EVALUATED and value is None:
            raise rule_error("event.rating_required")
        if event_type is not None and event_type is not EventType.EVALUATED and value is not None:
            raise rule_error("event.rating_unexpected")
        return value

    @field_validator("reassign_to")
    @classmethod
    def _reassign(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("event_type") is EventType.REASSIGNED and not value:
            raise rule_error("event.reassign_target_required")
        return value

    @field_validator("linked_order_id")
    @classmethod
    def _linked(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("event_type") is EventType.REFERRED and value is None:
            raise rule_error("event.linked_order_required")
        return value


class MarketEntity(Envelope):
    """市场主体 MarketEntity: a registered business, shared by the big-data bureau."""

    uscc: Uscc = Field(description="统一社会信用代码 unified social credit code (the key)")
    name: ShortText = Field(description="名称 registered name")
    legal_representative: str = Field(
        max_length=100, description="法定代表人（脱敏） legal representative, masked"
    )
    address: ShortText = Field(description="住所 registered address")
    registered_on: date = Field(description="成立日期 registration date")
    status: EntityStatus = Field(description="登记状态 registration status")

    @field_validator("legal_representative")
    @classmethod
    def _mask(cls, value: str) -> str:
        return value if is_masked(value) else mask_name(value)


class Permit(Envelope):
    """行政许可 Permit: a licence held by a market entity."""

    permit_no: ShortText = Field(description="许可证号 permit number (the key)")
    holder_uscc: Uscc = Field(description="持证主体 holder's unified social credit code")
    permit_type: ShortText = Field(description="许可类型 kind of permit")
    issued_by: ShortText = Field(description="发证机关 issuing authority")
    valid_from: date = Field(description="有效期起 valid from")
    valid_until: date = Field(description="有效期至 valid until")
    scope: Text | None = Field(default=None, description="许可范围 permitted scope")


class CertifiedOfficer(Envelope):
    """持证执法人员 CertifiedOfficer: one entry of the roster kept by the justice bureau."""

    certificate_no: str = Field(
        pattern=r"^[0-9]{11}$", description="执法证号 enforcement certificate number (the key)"
    )
    name: Name = Field(description="姓名 officer name")
    party: PartyId = Field(description="所在单位 party the officer serves")
    valid_until: date = Field(description="有效期至 certificate valid until")
    status: OfficerStatus = Field(description="证件状态 certificate status")


class Matter(Envelope):
    """执法事项 Matter: one entry of the matter catalogue 执法事项目录."""

    code: str = Field(pattern=r"^[A-Z]{3}-[0-9]{3}$", description="事项编码 matter code (the key)")
    name: ShortText = Field(description="事项名称 name (Chinese)")
    name_en: ShortText = Field(description="英文名称 name (English)")
    department: PartyId = Field(description="主管部门 owning department")
    delegated_to_street: bool = Field(description="赋权街道 delegated to the streets")
    category: MatterCategory = Field(description="事项类别 kind of power")
    legal_basis: Text = Field(description="法律依据 legal basis")
    max_fine: Money = Field(description="罚款上限 highest fine in yuan")
    sign_off_hours: int = Field(ge=1, le=720, description="签收时限 sign-off deadline in hours")


class PenaltyDisclosure(Envelope):
    """行政处罚公示 PenaltyDisclosure: what the public may see of a decided case."""

    case_record_id: uuid.UUID = Field(description="案件记录编号 record id of the case")
    case_no: ShortText = Field(description="案件编号 case number")
    decision_no: ShortText = Field(description="决定书文号 decision document number")
    deciding_party: PartyId = Field(description="处罚机关 deciding party")
    party_type: PartyType = Field(description="当事人类型 natural person or organisation")
    party_name: Name = Field(description="当事人 name (natural persons masked)")
    id_number_masked: str | None = Field(
        default=None, max_length=18, description="身份证号（脱敏） ID number, masked"
    )
    uscc: Uscc | None = Field(default=None, description="统一社会信用代码 organisation's USCC")
    matter_code: MatterCode = Field(description="事项编码 matter code")
    legal_basis: Text = Field(description="法律依据 legal basis")
    penalty_type: PenaltyType = Field(description="处罚种类 kind of penalty")
    amount: Money | None = Field(default=None, description="罚没金额 amount in yuan")
    decided_at: Timestamp = Field(description="决定时间 decision time")

    @field_validator("id_number_masked")
    @classmethod
    def _must_be_masked(cls, value: str | None) -> str | None:
        if value is not None and not is_masked(value):
            raise rule_error("penalty.id_unmasked")
        return value


class NoticeParty(CanonicalModel):
    """当事人（按监督方脱敏） the party of a case as a supervisor sees it: an organisation's
    name and credit code (not personal data); a natural person's name and ID number in
    full, masked or not at all, as the reader's entry in supervision.yaml says."""

    party_type: PartyType = Field(description="当事人类型 natural person or organisation")
    name: str | None = Field(
        default=None, max_length=200, description="姓名或名称 name (a person as the reader sees it)"
    )
    id_number: str | None = Field(
        default=None, max_length=18, description="公民身份号码 ID number (full, masked or absent)"
    )
    uscc: Uscc | None = Field(default=None, description="统一社会信用代码 organisation's USCC")


class CaseNotice(Envelope):
    """案件监督信息 CaseNotice: one revision of a case as one supervisor receives it.

    Sent by the hub to each party that supervises the case (hub/reference/supervision.yaml:
    who, on which rule, which fields); its id derives from the case, the revision and the
    reader, so a revision processed again sends the same notice."""

    case_record_id: uuid.UUID = Field(description="案件记录编号 record id of the case")
    revision: int = Field(ge=1, le=1000, description="修订版本 the case's revision")
    reader: PartyId = Field(description="监督方 the supervising party it is for")
    basis: ShortText = Field(description="监督依据 the rule and duty it is sent for")
    case_no: ShortText = Field(description="案件编号 case number")
    owner_party: PartyId = Field(description="办案单位 party that handles the case")
    matter_code: MatterCode = Field(description="事项编码 matter code")
    legal_basis: Text = Field(description="法律依据 legal basis")
    status: CaseStatus = Field(description="案件状态 case status")
    party: NoticeParty = Field(description="当事人 the party of the case, as this reader sees it")
    officers: list[str] = Field(
        default_factory=list, max_length=20,
        description="执法证号 the officers' certificate numbers (empty when withheld)",
    )
    decision: Decision | None = Field(default=None, description="处罚决定 decision")
    major_decision: bool = Field(default=False, description="重大执法决定 major decision")
    legal_review_passed: bool = Field(default=False, description="法制审核通过 legal review passed")
    withheld: list[str] = Field(
        default_factory=list, max_length=20,
        description="未提供字段 the case's fields this reader does not receive",
    )


class ExecutionType(StrEnum):
    """执行情况 what became of a decided fine: what its decider or finance reports, and
    the notices the hub raises on the statutory clock (`hub.dispatch.standing`)."""

    PAID = "PAID"  # 已缴纳 (from the deciding party, or finance's non-tax revenue system)
    RECONSIDERATION = "RECONSIDERATION"  # 当事人申请行政复议
    LAWSUIT = "LAWSUIT"  # 当事人提起行政诉讼
    UPHELD = "UPHELD"  # 复议或诉讼维持原决定
    REVOKED = "REVOKED"  # 决定被撤销（复议、诉讼或自行纠正）
    REMINDER_SERVED = "REMINDER_SERVED"  # 催告书已送达 (行政强制法 §54)
    # raised by the hub
    PAYMENT_OVERDUE = "PAYMENT_OVERDUE"  # 逾期未缴纳 (行政处罚法 §67: 15日)
    REMINDER_DUE = "REMINDER_DUE"  # 申请期限已开始，应当催告 (行政强制法 §53, §54)
    APPLICATION_RAISED = "APPLICATION_RAISED"  # 已向法院申请强制执行
    WINDOW_LAPSED = "WINDOW_LAPSED"  # 申请强制执行期限届满


HUB_EXECUTION_TYPES = frozenset({
    ExecutionType.PAYMENT_OVERDUE, ExecutionType.REMINDER_DUE,
    ExecutionType.APPLICATION_RAISED, ExecutionType.WINDOW_LAPSED,
})


class Execution(Envelope):
    """执行情况 Execution: one step in the execution of a decided fine (罚缴分离).

    The deciding party reports payment, a challenge (复议, 诉讼) and its outcome, and the
    service of the written reminder (催告); the finance bureau reports payments its
    non-tax revenue system received; the hub raises what the statutory clock makes due.
    Keyed by the case, beside it (``enf.execution.v1``)."""

    model_config = ConfigDict(
        json_schema_extra=_rules(
            (_where("execution_type", _is(["PAID"])), _where("amount", _SOMETHING)),
        )
    )

    case_id: uuid.UUID = Field(description="案件记录编号 the case's record id")
    decision_no: ShortText = Field(description="决定书文号 the decision's document number")
    execution_type: ExecutionType = Field(description="执行情况 what happened")
    amount: Money | None = Field(
        validate_default=True, default=None, description="缴款金额 amount paid, yuan (PAID)"
    )
    due_at: Timestamp | None = Field(
        default=None,
        description="期限 what the hub's notice says is due by then (the application "
        "window's end, the earliest day to apply)",
    )
    order_id: uuid.UUID | None = Field(
        default=None, description="派单编号 the application the hub raised (APPLICATION_RAISED)"
    )
    note: Text | None = Field(default=None, description="说明 note")

    @field_validator("amount")
    @classmethod
    def _paid_has_amount(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("execution_type") is ExecutionType.PAID and value is None:
            raise rule_error("execution.amount_required")
        return value


class AuditEvent(Envelope):
    """审计 AuditEvent: one exchange, allowed or refused (who, what, which record, result, when)."""

    # v2: purpose, dataset, record_key, fields, returned (reads of shared data; BACKWARD)
    SCHEMA_VERSION: ClassVar[int] = 2

    actor_party: str = Field(
        min_length=1, max_length=40, description="操作方 caller party id, or 'anonymous'"
    )
    action: ShortText = Field(description="操作 what was attempted, e.g. publish.clue")
    result: AuditResult = Field(description="结果 outcome")
    record_kind: str | None = Field(default=None, max_length=40, description="记录类型 kind")
    subject_id: uuid.UUID | None = Field(
        default=None, description="记录编号 record or order id concerned"
    )
    status_code: int | None = Field(default=None, ge=100, le=599, description="状态码 HTTP status")
    client_address: str | None = Field(
        default=None, max_length=64, description="客户端地址 client address"
    )
    detail: Text | None = Field(default=None, description="说明 reason or detail")
    # v2: a read of shared data 共享数据调阅 says which, why and what it returned
    purpose: ShortText | None = Field(
        default=None, description="用途 why shared data was read (X-Hub-Purpose)"
    )
    dataset: str | None = Field(default=None, max_length=40, description="数据集 dataset read")
    record_key: ShortText | None = Field(
        default=None, description="键 the key (or secondary key=value) looked up"
    )
    fields: list[str] = Field(
        default_factory=list, max_length=100,
        description="返回字段 the field names returned (never their values)",
    )
    returned: int | None = Field(default=None, ge=0, description="返回条数 records returned")


class SubscriptionAction(StrEnum):
    """数据订阅 what happened to a subscription to a shared dataset (申请—审批—订阅)."""

    REQUESTED = "REQUESTED"  # 申请 the subscriber asks (taken at once when it may read)
    APPROVED = "APPROVED"  # 批准 the dataset's owner approves, with an access and an end
    REFUSED = "REFUSED"  # 拒绝 the owner refuses, with a reason
    REVOKED = "REVOKED"  # 撤销 the subscriber or the owner ends it
    EXPIRED = "EXPIRED"  # 到期 the hub ends it when its end has passed
    DELIVER = "DELIVER"  # the hub: deliver the dataset's next changes (its own timer)


class SubscriptionEvent(Envelope):
    """数据订阅事件 SubscriptionEvent: one step of a subscription to a shared dataset.

    Written by the hub for a party's request or decision over HTTP, and by its timers
    (EXPIRED, DELIVER); keyed by the subscription (``data.subscription.v1``), applied in
    order by the subscriptions stage; the requests reach the owner's inbox and the
    decisions the subscriber's."""

    subscription_id: uuid.UUID = Field(description="订阅编号 the subscription's id")
    action: SubscriptionAction = Field(description="操作 what happened")
    actor_party: PartyId = Field(description="操作方 who did it (hub for the hub's timers)")
    dataset: DatasetId = Field(description="数据集 the dataset's id in the data catalogue")
    subscriber: PartyId = Field(description="订阅方 the party that receives the changes")
    filter_field: FieldName | None = Field(
        default=None, description="筛选字段 only records whose field …"
    )
    filter_value: ShortText | None = Field(default=None, description="筛选值 … has this value")
    access: str | None = Field(
        default=None, pattern=r"^(full|masked)$",
        description="访问级别 full, or masked personal data (APPROVED)",
    )
    expires_at: Timestamp | None = Field(
        default=None, description="到期时间 when the subscription ends (APPROVED)"
    )
    purpose: ShortText | None = Field(default=None, description="用途 why (REQUESTED)")
    reason: Text | None = Field(default=None, description="理由 why refused or revoked")


class SharedChange(Envelope):
    """共享数据变更 SharedChange: one record of a subscribed dataset (or its deletion) as
    its subscriber receives it: the snapshot first, then every change, masked as the
    subscription was approved. Its id derives from the subscription and the record's
    place in the dataset's topic, so a change delivered again has the same id."""

    subscription_id: uuid.UUID = Field(description="订阅编号 the subscription")
    dataset: DatasetId = Field(description="数据集 the dataset")
    key: ShortText = Field(description="键 the record's key")
    deleted: bool = Field(default=False, description="已删除 the record was deleted")
    data: str | None = Field(
        default=None, max_length=200_000,
        description="数据 the record as the subscriber sees it, JSON (not deleted)",
    )
    position: ShortText = Field(description="位置 topic/partition/offset it was read at")

"""Valid sample records of every canonical kind, built from the seed reference files.

Officers are certificates the seed roster keeps active and valid until mid-2029
(`test_record_validation` checks that they still are); matter codes are catalogue codes.
Every function returns a fresh dict, so tests may change it freely.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.samples import USCC

# --- codes with a correct check character (computed by the reference rules in the tests)
PERSON_ID = "11010519491231002X"  # GB 11643 published example
PERSON_ID_2 = "420106199001011231"  # Wuchang district, born 1990-01-01
ORG_USCC = "91350100M000100Y43"  # GB 32100 published example
ORG_USCC_2 = USCC  # a Wuchang code whose check character tests/samples.py computes

# Active officers of street-yangyuan (the sample case's owner: a case's officers are its
# owner's), valid until 2029-12-31 and 2029-06-30.
OFFICER_A = {"certificate_no": "42010602002", "name": "杨帆"}
OFFICER_B = {"certificate_no": "42010602001", "name": "陈静"}
EXPIRED_OFFICER = {"certificate_no": "42010601004", "name": "刘洋"}  # expired 2025-06-30
SUSPENDED_OFFICER = {"certificate_no": "42010628002", "name": "姜楠"}  # suspended
UNKNOWN_OFFICER = {"certificate_no": "42010699999", "name": "无名"}

MATTER = "URB-005"  # 在城市道路上擅自摆摊设点（占道经营）
MATTER_2 = "PLN-002"

ORDER_ID = "0b6f3c1e-2f4d-5a6b-8c9d-0e1f2a3b4c5d"
CASE_RECORD_ID = "7d2c1a4e-5b6f-5c7d-9e8f-1a2b3c4d5e6f"

_BASE = {
    "occurred_at": "2026-03-01T09:30:15.123456+08:00",
    "received_at": "2026-03-01T01:30:16.5Z",
    "trace_id": "0123456789abcdef0123456789abcdef",
}

_CLUE: dict[str, Any] = {
    "source_party": "street-jiyuqiao",
    "source_id": "CLUE-2026-0001",
    **_BASE,
    "origin": "PUBLIC_REPORT",
    "street": "street-jiyuqiao",
    "location": {"address": "武昌区中山路1号", "latitude": 30.55, "longitude": 114.31},
    "matter_code": MATTER,
    "description": "路口有流动摊贩占道经营，影响通行",
    "reporter": {"name_masked": "张*", "phone_masked": "138****5678"},
    "attachments": [
        {
            "uri": "https://files.example/clue/1.jpg",
            "name": "现场照片.jpg",
            "media_type": "image/jpeg",
            "sha256": "a" * 64,
        }
    ],
}

_CASE: dict[str, Any] = {
    "source_party": "street-yangyuan",
    "source_id": "CASE-2026-0007",
    **_BASE,
    "case_no": "武杨执罚〔2026〕7号",
    "owner_party": "street-yangyuan",
    "matter_code": MATTER,
    "legal_basis": "《城市道路管理条例》第二十七条第（七）项、第四十二条",
    "party": {
        "party_type": "NATURAL_PERSON",
        "name": "李四",
        "id_number": PERSON_ID,
        "phone": "13812345678",
        "address": "武昌区和平大道100号",
    },
    "officers": [OFFICER_A, OFFICER_B],
    "status": "DECIDED",
    "decision": {
        "decision_no": "武杨执罚决字〔2026〕7号",
        "penalty_type": "FINE",
        "amount": "500.00",
        "decided_at": "2026-03-10T10:00:00+08:00",
    },
    "major_decision": False,
    "legal_review_passed": False,
}

_ORDER_BASE: dict[str, Any] = {
    "source_party": "street-jiyuqiao",
    **_BASE,
    "from_party": "street-jiyuqiao",
    "to_parties": ["dept-urban"],
    "matter_code": MATTER,
    "location": {"address": "武昌区积玉桥街道和平大道", "latitude": 30.57, "longitude": 114.30},
    "priority": "URGENT",
    "issued_at": "2026-03-01T10:00:00+08:00",
    "deadline": "2026-03-01T14:00:00+08:00",
    "description": "请协助处理占道经营问题",
}

_ORDER_DETAILS: dict[str, dict[str, Any]] = {
    "WHISTLE": {"to_parties": ["dept-urban", "dept-planning"]},
    "ASSIGNMENT": {"to_parties": ["street-yangyuan"]},
    "ASSISTANCE": {
        "to_parties": ["dept-planning"],
        "assistance": {"kind": "IDENTIFICATION", "question": "请认定该建筑是否为违法建设"},
    },
    "CASE_TRANSFER": {
        "to_parties": ["dept-planning"],
        "transfer": {
            "stop_order_issued": True,
            "reason": "违法建设查处属于规划部门职权",
            "materials": ["现场勘验笔录", "照片"],
        },
    },
    "CRIMINAL_REFERRAL": {
        "to_parties": ["police"],
        "referral": {
            "suspected_offence": "非法占用农用地罪",
            "evidence": ["询问笔录", "测绘报告"],
            "seized_items": ["挖掘机一台"],
        },
    },
    "REVERSE_TRANSFER": {
        "source_party": "police", "from_party": "police", "to_parties": ["street-yangyuan"],
        "transfer": {"stop_order_issued": False, "reason": "不构成犯罪，依法应予行政处罚",
                     "materials": ["不予立案通知书", "询问笔录"]},
    },
    "SUGGEST_REFERRAL": {
        "source_party": "procuratorate", "from_party": "procuratorate",
        "to_parties": ["street-yangyuan"],
        "referral": {"suspected_offence": "非法经营罪", "evidence": ["行政处罚决定书"]},
    },
    "SUPERVISION_NOTICE": {
        "source_party": "justice", "from_party": "justice", "to_parties": ["street-yangyuan"],
    },
    "RECOMMENDATION": {
        "source_party": "procuratorate", "from_party": "procuratorate",
        "to_parties": ["dept-urban"],
    },
    "ENFORCEMENT_APPLICATION": {
        "source_party": "street-yangyuan", "from_party": "street-yangyuan",
        "to_parties": ["court"], "subject_id": CASE_RECORD_ID,
        "enforcement": {"decision_no": "武杨执罚决字〔2026〕7号", "amount": "500.00",
                        "decided_at": "2026-03-10T10:00:00+08:00",
                        "reminder_served_at": "2026-06-20T10:00:00+08:00"},
    },
}

_EVENT: dict[str, Any] = {
    "source_party": "dept-urban",
    "source_id": "EVT-2026-0001",
    **_BASE,
    "order_id": ORDER_ID,
    "event_type": "FEEDBACK",
    "actor_party": "dept-urban",
    "comment": "已到场处置，摊贩已劝离",
    "attachments": [],
}

_ENTITY: dict[str, Any] = {
    "source_party": "bigdata",
    "source_id": "ENT-91350100M000100Y43",
    **_BASE,
    "uscc": ORG_USCC,
    "name": "武汉市示例餐饮有限公司",
    "legal_representative": "王*",
    "address": "武昌区中南路2号",
    "registered_on": "2015-06-01",
    "status": "ACTIVE",
}

_PERMIT: dict[str, Any] = {
    "source_party": "bigdata",
    "source_id": "PRM-0001",
    **_BASE,
    "permit_no": "JY14201060000001",
    "holder_uscc": ORG_USCC,
    "permit_type": "食品经营许可证",
    "issued_by": "武昌区市场监督管理局",
    "valid_from": "2024-01-01",
    "valid_until": "2029-12-31",
    "scope": "热食类食品制售",
}

_OFFICER: dict[str, Any] = {
    "source_party": "justice",
    "source_id": "officer/42010602002",
    **_BASE,
    "certificate_no": "42010602002",
    "name": "杨帆",
    "party": "street-yangyuan",
    "valid_until": "2029-12-31",
    "status": "ACTIVE",
}

_MATTER: dict[str, Any] = {
    "source_party": "justice",
    "source_id": "matter/URB-005",
    **_BASE,
    "code": MATTER,
    "name": "在城市道路上擅自摆摊设点（占道经营）",
    "name_en": "Street vending on a city road without permission",
    "department": "dept-urban",
    "delegated_to_street": True,
    "category": "PENALTY",
    "legal_basis": "《城市道路管理条例》第二十七条第（七）项、第四十二条",
    "max_fine": "20000",
    "sign_off_hours": 4,
}

_PENALTY: dict[str, Any] = {
    "source_party": "street-yangyuan",
    "source_id": "PUB-2026-0007",
    **_BASE,
    "case_record_id": CASE_RECORD_ID,
    "case_no": "武杨执罚〔2026〕7号",
    "decision_no": "武杨执罚决字〔2026〕7号",
    "deciding_party": "street-yangyuan",
    "party_type": "NATURAL_PERSON",
    "party_name": "李*",
    "id_number_masked": "110***********002X",
    "matter_code": MATTER,
    "legal_basis": "《城市道路管理条例》第四十二条",
    "penalty_type": "FINE",
    "amount": "500.00",
    "decided_at": "2026-03-10T10:00:00+08:00",
}

_NOTICE: dict[str, Any] = {
    "source_party": "hub",
    "source_id": "notice/7d2c1a4e/r2/justice",
    **_BASE,
    "case_record_id": CASE_RECORD_ID,
    "revision": 2,
    "reader": "justice",
    "basis": "三.四.3 行政执法监督",
    "case_no": "武杨执罚〔2026〕7号",
    "owner_party": "street-yangyuan",
    "matter_code": MATTER,
    "legal_basis": "《城市道路管理条例》第四十二条",
    "status": "DECIDED",
    "party": {"party_type": "NATURAL_PERSON", "name": "李*", "id_number": "110***********002X"},
    "officers": ["42010602002", "42010602001"],
    "decision": {"decision_no": "武杨执罚决字〔2026〕7号", "penalty_type": "FINE",
                 "amount": "500.00", "decided_at": "2026-03-10T10:00:00+08:00"},
    "withheld": ["party.phone", "party.address"],
}

_EXECUTION: dict[str, Any] = {
    "source_party": "finance",
    "source_id": "FIN-PAY-0007",
    **_BASE,
    "case_id": CASE_RECORD_ID,
    "decision_no": "武杨执罚决字〔2026〕7号",
    "execution_type": "PAID",
    "amount": "500.00",
    "note": "非税收入缴款书 4201060000007",
}

_AUDIT: dict[str, Any] = {
    "source_party": "ops",
    "source_id": "AUD-0001",
    **_BASE,
    "actor_party": "street-jiyuqiao",
    "action": "publish.clue",
    "result": "ACCEPTED",
    "record_kind": "clue",
    "subject_id": CASE_RECORD_ID,
    "status_code": 202,
    "client_address": "10.0.0.8",
    "detail": "已接收",
}

_SUBSCRIPTION: dict[str, Any] = {
    "source_party": "finance",
    "source_id": "http/5b0d6c2e",
    **_BASE,
    "subscription_id": "6f1c9a52-3d7e-4b8a-9c21-0e5f4d3b2a19",
    "action": "REQUESTED",
    "actor_party": "finance",
    "dataset": "permit",
    "subscriber": "finance",
    "filter_field": "holder_uscc",
    "filter_value": "91420106MA4KXXXX1A",
    "purpose": "罚没款收缴核对",
}

_SHARED_CHANGE: dict[str, Any] = {
    "source_party": "hub",
    "source_id": "6f1c9a52-3d7e-4b8a-9c21-0e5f4d3b2a19/share.permit.v1/0/12",
    **_BASE,
    "subscription_id": "6f1c9a52-3d7e-4b8a-9c21-0e5f4d3b2a19",
    "dataset": "permit",
    "key": "JY14201060001234",
    "data": '{"permit_no": "JY14201060001234", "permit_type": "食品经营许可"}',
    "position": "share.permit.v1/0/12",
}


def order(order_type: str = "ASSIGNMENT") -> dict[str, Any]:
    """A valid dispatch order of order_type."""
    data = {
        **copy.deepcopy(_ORDER_BASE),
        "source_id": f"ORD-{order_type}-0001",
        "order_type": order_type,
    }
    data.update(copy.deepcopy(_ORDER_DETAILS[order_type]))
    return data


ORDER_TYPES = tuple(_ORDER_DETAILS)

_BY_KIND: dict[str, dict[str, Any]] = {
    "clue": _CLUE,
    "case": _CASE,
    "order-event": _EVENT,
    "entity": _ENTITY,
    "permit": _PERMIT,
    "officer": _OFFICER,
    "matter": _MATTER,
    "penalty": _PENALTY,
    "case-notice": _NOTICE,
    "execution": _EXECUTION,
    "audit": _AUDIT,
    "subscription": _SUBSCRIPTION,
    "shared-change": _SHARED_CHANGE,
}


def sample(kind: str) -> dict[str, Any]:
    """A valid record of kind (orders are ASSIGNMENT orders)."""
    if kind == "order":
        return order()
    return copy.deepcopy(_BY_KIND[kind])


def all_samples() -> list[tuple[str, dict[str, Any]]]:
    """(label, data) for every kind, and for each order type."""
    result = [(kind, sample(kind)) for kind in _BY_KIND]
    result += [(f"order:{t}", order(t)) for t in ORDER_TYPES]
    return result

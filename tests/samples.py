"""One valid sample record per kind, in the canonical JSON shape (reused across tests).

Matter codes and officer certificates come from the seed reference files; the USCC and
ID number carry correct check characters.
"""

from __future__ import annotations

import copy
from typing import Any

from hub.records import citizen_id_check_char, derive_record_id, uscc_check_char

USCC = "91420106MA4K" + "00001"  # 17 characters before the check character
USCC = USCC + uscc_check_char(USCC)
CITIZEN_ID = "42010619850312001"
CITIZEN_ID = CITIZEN_ID + citizen_id_check_char(CITIZEN_ID)
ORDER_ID = "6f1c2d1e-3b1a-5c55-9a51-0d3c1c2b7e10"
CASE_ID = str(derive_record_id("street-jiyuqiao", "CASE-2026-0042"))  # the case sample's

_ENVELOPE = {"occurred_at": "2026-11-25T09:30:00+08:00"}

SAMPLES: dict[str, dict[str, Any]] = {
    "clue": {
        **_ENVELOPE,
        "source_party": "street-jiyuqiao",
        "source_id": "CLUE-2026-000123",
        "origin": "HOTLINE_12345",
        "street": "street-jiyuqiao",
        "location": {
            "address": "武昌区积玉桥街和平大道 388 号",
            "latitude": 30.57,
            "longitude": 114.31,
        },
        "matter_code": "URB-001",
        "description": "市民来电反映和平大道人行道被商户长期占用堆放货物",
        "reporter": {"name_masked": "王芳", "phone_masked": "13812345678"},
        "attachments": [
            {
                "uri": "https://grid.example/att/1.jpg",
                "name": "现场照片.jpg",
                "media_type": "image/jpeg",
            }
        ],
    },
    "case": {
        **_ENVELOPE,
        "source_party": "street-jiyuqiao",
        "source_id": "CASE-2026-0042",
        "case_no": "武积执罚〔2026〕42号",
        "owner_party": "street-jiyuqiao",
        "matter_code": "URB-001",
        "legal_basis": "《城市道路管理条例》第二十七条、第四十二条",
        "party": {
            "party_type": "NATURAL_PERSON",
            "name": "李四",
            "id_number": CITIZEN_ID,
            "phone": "13900001111",
        },
        "officers": [
            {"certificate_no": "42010601001", "name": "执法员甲"},
            {"certificate_no": "42010601002", "name": "执法员乙"},
        ],
        "status": "DECIDED",
        "decision": {
            "decision_no": "武积执罚决字〔2026〕42号",
            "penalty_type": "FINE",
            "amount": "500.00",
            "decided_at": "2026-11-20T15:00:00+08:00",
        },
    },
    "order": {
        **_ENVELOPE,
        "source_party": "street-jiyuqiao",
        "source_id": "WS-2026-0001",
        "order_type": "WHISTLE",
        "from_party": "street-jiyuqiao",
        "to_parties": ["dept-urban"],
        "matter_code": "URB-001",
        "priority": "URGENT",
        "issued_at": "2026-11-25T09:30:00+08:00",
        "deadline": "2026-11-25T11:30:00+08:00",
        "description": "积玉桥街道吹哨：占道经营反复发生，请城管部门报到联合整治",
    },
    "order-event": {
        **_ENVELOPE,
        "source_party": "dept-urban",
        "source_id": "EV-2026-0001",
        "order_id": ORDER_ID,
        "event_type": "RETURNED",
        "actor_party": "dept-urban",
        "reason": "该事项已赋权街道，不属于本部门职责",
    },
    "entity": {
        **_ENVELOPE,
        "source_party": "bigdata",
        "source_id": f"entity/{USCC}",
        "uscc": USCC,
        "name": "武汉市武昌区积玉桥示例餐饮店",
        "legal_representative": "赵六",
        "address": "武昌区和平大道 388 号",
        "registered_on": "2019-04-01",
        "status": "ACTIVE",
    },
    "permit": {
        **_ENVELOPE,
        "source_party": "bigdata",
        "source_id": "permit/JY14201060012345",
        "permit_no": "JY14201060012345",
        "holder_uscc": USCC,
        "permit_type": "食品经营许可证",
        "issued_by": "武汉市武昌区市场监督管理局",
        "valid_from": "2024-01-01",
        "valid_until": "2029-01-01",
    },
    "officer": {
        **_ENVELOPE,
        "source_party": "justice",
        "source_id": "officer/42010601001",
        "certificate_no": "42010601001",
        "name": "执法员甲",
        "party": "street-jiyuqiao",
        "valid_until": "2028-12-31",
        "status": "ACTIVE",
    },
    "matter": {
        **_ENVELOPE,
        "source_party": "justice",
        "source_id": "matter/URB-001",
        "code": "URB-001",
        "name": "擅自占用城市道路",
        "name_en": "Occupying a city road without permission",
        "department": "dept-urban",
        "delegated_to_street": True,
        "category": "PENALTY",
        "legal_basis": "《城市道路管理条例》第二十七条、第四十二条",
        "max_fine": "20000.00",
        "sign_off_hours": 2,
    },
    "penalty": {
        **_ENVELOPE,
        "source_party": "street-jiyuqiao",
        "source_id": "DISC-2026-0042",
        "case_record_id": ORDER_ID,
        "case_no": "武积执罚〔2026〕42号",
        "decision_no": "武积执罚决字〔2026〕42号",
        "deciding_party": "street-jiyuqiao",
        "party_type": "NATURAL_PERSON",
        "party_name": "李*",
        "id_number_masked": "420***********0012",
        "matter_code": "URB-001",
        "legal_basis": "《城市道路管理条例》第四十二条",
        "penalty_type": "FINE",
        "amount": "500.00",
        "decided_at": "2026-11-20T15:00:00+08:00",
    },
    "case-notice": {
        **_ENVELOPE,
        "source_party": "hub",
        "source_id": "notice/case-0042/r2/justice",
        "case_record_id": ORDER_ID,
        "revision": 2,
        "reader": "justice",
        "basis": "三.四.3 行政执法监督 enforcement supervision",
        "case_no": "武积执罚〔2026〕42号",
        "owner_party": "street-jiyuqiao",
        "matter_code": "URB-001",
        "legal_basis": "《城市道路管理条例》第二十七条、第四十二条",
        "status": "DECIDED",
        "party": {"party_type": "NATURAL_PERSON", "name": "李*",
                  "id_number": "420***********0012"},
        "officers": ["42010601001", "42010601002"],
        "decision": {"decision_no": "武积执罚决字〔2026〕42号", "penalty_type": "FINE",
                     "amount": "500.00", "decided_at": "2026-11-20T15:00:00+08:00"},
        "withheld": ["party.phone", "party.address"],
    },
    "execution": {
        **_ENVELOPE,
        "source_party": "street-jiyuqiao",
        "source_id": "PAY-2026-0042",
        "case_id": CASE_ID,
        "decision_no": "武积执罚决字〔2026〕42号",
        "execution_type": "PAID",
        "amount": "500.00",
        "note": "当事人已通过非税收入缴款系统缴纳罚款",
    },
    "audit": {
        **_ENVELOPE,
        "source_party": "street-jiyuqiao",
        "source_id": "audit/0001",
        "actor_party": "street-jiyuqiao",
        "action": "publish.order",
        "result": "ACCEPTED",
        "record_kind": "order",
        "status_code": 202,
        "client_address": "127.0.0.1",
    },
    "subscription": {
        **_ENVELOPE,
        "source_party": "finance",
        "source_id": "http/5b0d6c2e",
        "subscription_id": "6f1c9a52-3d7e-4b8a-9c21-0e5f4d3b2a19",
        "action": "REQUESTED",
        "actor_party": "finance",
        "dataset": "permit",
        "subscriber": "finance",
        "filter_field": "holder_uscc",
        "filter_value": USCC,
        "purpose": "罚没款收缴核对",
    },
    "shared-change": {
        **_ENVELOPE,
        "source_party": "hub",
        "source_id": "6f1c9a52-3d7e-4b8a-9c21-0e5f4d3b2a19/share.permit.v1/0/12",
        "subscription_id": "6f1c9a52-3d7e-4b8a-9c21-0e5f4d3b2a19",
        "dataset": "permit",
        "key": "JY14201060001234",
        "data": '{"permit_no": "JY14201060001234", "holder_uscc": "' + USCC + '"}',
        "position": "share.permit.v1/0/12",
    },
}


def sample(kind: str, **changes: Any) -> dict[str, Any]:
    """A deep copy of kind's sample with top-level changes applied."""
    record = copy.deepcopy(SAMPLES[kind])
    record.update(changes)
    return record

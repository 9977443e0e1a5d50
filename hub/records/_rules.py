"""Validation rules and their messages in Chinese and English.

Validators raise `rule_error(rule, **ctx)`; `field_errors` turns a pydantic
`ValidationError` into `FieldError`s with the field path, the rule id and both
messages. Pydantic's own error types get a Chinese message from `_BUILTIN_ZH`.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from hub.errors import FieldError

RULES: dict[str, tuple[str, str]] = {
    "uscc.shape": (
        "统一社会信用代码应为18位，由数字和除I、O、S、V、Z以外的大写字母组成",
        "unified social credit code must be 18 characters of 0-9 and A-Z without I, O, S, V, Z",
    ),
    "uscc.checksum": (
        "统一社会信用代码校验位错误（GB 32100）",
        "unified social credit code check character is wrong (GB 32100)",
    ),
    "citizen_id.shape": (
        "公民身份号码应为17位数字加1位校验码（数字或X）",
        "citizen identity number must be 17 digits and a check character (digit or X)",
    ),
    "citizen_id.birth_date": (
        "公民身份号码中的出生日期无效",
        "the birth date in the citizen identity number is not a plausible date",
    ),
    "citizen_id.checksum": (
        "公民身份号码校验码错误（GB 11643）",
        "citizen identity number check character is wrong (GB 11643)",
    ),
    "amount.shape": (
        "金额应为不超过12位整数、至多2位小数的数字",
        "an amount is plain digits: at most 12 whole digits and 2 decimals (e.g. 200.50)",
    ),
    "phone.shape": (
        "电话号码格式不正确",
        "phone number must be 11 mobile digits or an area code and number",
    ),
    "party.unknown": ("未知的参与方编号：{value}", "unknown party id '{value}'"),
    "party.kind": ("参与方{value}不是{expected}", "party '{value}' is not a {expected}"),
    "matter.unknown": (
        "执法事项目录中没有事项编码{value}",
        "matter code '{value}' is not in the matter catalogue",
    ),
    "officers.too_few": (
        "案件至少需要两名持证执法人员",
        "a case needs at least two certified officers",
    ),
    "officers.duplicate": (
        "执法人员{value}重复列出",
        "officer {value} is listed twice",
    ),
    "officer.not_on_roster": (
        "执法证号{value}不在持证执法人员名册中",
        "enforcement certificate {value} is not on the certified-officer roster",
    ),
    "officer.not_valid": (
        "执法证号{value}已过期或被暂扣",
        "enforcement certificate {value} is expired or suspended",
    ),
    "case.owner_not_publisher": (
        "办案单位{value}须为发布方{expected}本身：请由办案单位发布本案",
        "owner_party {value} must be the publisher {expected}: a case is published by the "
        "party that handles it",
    ),
    "case.matter_not_delegated": (
        "事项{value}未赋权街道，应由{expected}办理：街道只能办理赋权事项",
        "matter {value} is not delegated to the streets; {expected} handles it",
    ),
    "case.matter_of_another": (
        "事项{value}属{expected}主管：部门只能办理本部门事项",
        "matter {value} belongs to {expected}; a department decides only its own matters",
    ),
    "case.officer_of_another": (
        "执法人员{value}不属于办案单位{expected}：须由本单位持证人员办案",
        "officers {value} are not certified for {expected}, the party handling the case",
    ),
    "case.fine_over_cap": (
        "罚款{value}元超过该事项罚款上限{expected}元",
        "a fine of {value} yuan is above the matter's cap of {expected} yuan",
    ),
    "order.enforcement_to_court": (
        "申请强制执行只能发往法院（court）",
        "an application for compulsory enforcement goes to the court (court) alone",
    ),
    "order.to_authorities": (
        "{value}类派单只能发往街道或部门，不能发往{expected}",
        "{value} orders go to streets and departments, not to {expected}",
    ),
    "event.linked_order_required": (
        "已移送须写明所作涉嫌犯罪移送的派单编号（linked_order_id）",
        "REFERRED names the criminal referral it made (linked_order_id)",
    ),
    "order.issued_in_future": (
        "派单时间{value}晚于枢纽当前时间超过5分钟：请校准发送系统时钟",
        "issued_at {value} is more than 5 minutes ahead of the hub's clock; fix the sending "
        "system's clock (the statutory clocks start when the hub receives the order)",
    ),
    "deadline.not_after_issue": (
        "办理期限必须晚于派单时间",
        "the deadline must be after the time the order was issued",
    ),
    "location.outside_wuhan": (
        "坐标不在武汉市范围内",
        "coordinates are outside Wuhan (lat 29.97-31.37, lon 113.68-115.08)",
    ),
    "location.incomplete": (
        "经度和纬度须同时提供",
        "give both latitude and longitude, or neither",
    ),
    "timestamp.type": (
        "时间须为ISO 8601文本（例如2026-11-25T09:30:00+08:00），不能是数字",
        "a time is ISO 8601 text (for example 2026-11-25T09:30:00+08:00), not a number",
    ),
    "timestamp.naive": (
        "时间必须带时区（例如+08:00或Z）",
        "time must carry a time zone (for example +08:00 or Z)",
    ),
    "timestamp.range": (
        "时间的年份须在1900至2999之间",
        "the year of a time must be between 1900 and 2999",
    ),
    "record_id.mismatch": (
        "record_id由来源方和来源编号生成，不能自行指定",
        "record_id is derived from source_party and source_id and cannot be set",
    ),
    "order.recipients": (
        "派单接收方不能为空，也不能包含派单方",
        "an order needs recipients, and the issuer cannot be one of them",
    ),
    "order.detail_missing": (
        "{value}类派单必须填写{expected}明细",
        "a {value} order needs its {expected} detail",
    ),
    "order.detail_mismatch": (
        "{value}类派单不能填写{expected}明细",
        "a {value} order cannot carry a {expected} detail",
    ),
    "order.referral_to_police": (
        "涉嫌犯罪移送必须移送公安机关",
        "a criminal referral must go to the police",
    ),
    "event.reason_required": (
        "{value}事件必须说明理由",
        "a {value} event must give a reason",
    ),
    "event.rating_required": (
        "评价事件必须给出1至5分的评分",
        "an EVALUATED event needs a rating from 1 to 5",
    ),
    "event.rating_unexpected": (
        "只有评价事件可以评分",
        "only EVALUATED events carry a rating",
    ),
    "event.reassign_target_required": (
        "改派事件必须指定新的接收方",
        "a REASSIGNED event must name the new recipients",
    ),
    "case.decision_required": (
        "案件处于{value}状态时必须有处罚决定",
        "a case in status {value} needs its decision",
    ),
    "case.legal_review_required": (
        "重大执法决定须经法制审核",
        "a major decision needs a passed legal review 法制审核",
    ),
    "case.party_identity": (
        "{value}当事人须填写{expected}",
        "a {value} party needs its {expected}",
    ),
    "penalty.id_unmasked": (
        "公示的身份证号必须脱敏（例如420***********1234）",
        "ID numbers are published masked only (for example 420***********1234)",
    ),
    "decision.amount_required": (
        "罚款决定必须填写金额",
        "a fine needs its amount",
    ),
    "execution.amount_required": (
        "缴款记录必须填写缴款金额",
        "a PAID record needs the amount paid",
    ),
}

_BUILTIN_ZH: dict[str, str] = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不允许的字段",
    "string_type": "应为字符串",
    "string_too_short": "内容过短",
    "string_too_long": "内容过长",
    "string_pattern_mismatch": "格式不正确",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "bool_type": "应为布尔值",
    "bool_parsing": "应为布尔值",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "decimal_type": "应为数值",
    "decimal_parsing": "应为数值",
    "decimal_max_places": "最多保留两位小数（精确到分）",
    "decimal_max_digits": "数值位数过多",
    "decimal_whole_digits": "整数部分位数过多",
    "greater_than": "数值过小",
    "greater_than_equal": "数值不能小于下限",
    "less_than": "数值过大",
    "less_than_equal": "数值不能大于上限",
    "enum": "不是允许的取值",
    "literal_error": "不是允许的取值",
    "list_type": "应为列表",
    "too_short": "条目过少",
    "too_long": "条目过多",
    "model_type": "应为对象",
    "dict_type": "应为对象",
    "datetime_type": "应为时间",
    "datetime_parsing": "时间格式不正确（应为ISO 8601）",
    "datetime_from_date_parsing": "时间格式不正确（应为ISO 8601）",
    "timezone_aware": "时间必须带时区",
    "date_type": "应为日期",
    "date_parsing": "日期格式不正确（应为YYYY-MM-DD）",
    "date_from_datetime_parsing": "日期格式不正确（应为YYYY-MM-DD）",
    "uuid_type": "应为UUID",
    "uuid_parsing": "应为UUID",
    "value_error": "取值无效",
    "assertion_error": "取值无效",
    "set_type": "应为集合",
    "none_required": "应为空",
}


def rule_error(rule: str, **context: Any) -> PydanticCustomError:
    """The error a validator raises for one of `RULES`."""
    zh, en = RULES[rule]
    return PydanticCustomError(rule, en, {**context, "zh": zh.format(**context)})


def _path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(record)"


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Every error of a pydantic validation, as `FieldError`s (path, rule, zh, en)."""
    result = []
    for error in exc.errors(include_url=False):
        kind = str(error["type"])
        context = error.get("ctx") or {}
        zh = str(context.get("zh") or _BUILTIN_ZH.get(kind, "取值无效"))
        en = str(error["msg"])
        if en.startswith("Value error, "):
            en = en[len("Value error, ") :]
        # Union members add a tag to the location; drop pydantic's internal tags.
        loc = tuple(
            p
            for p in error["loc"]
            if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))
        )
        result.append(FieldError(path=_path(loc), rule=kind, message_zh=zh, message_en=en))
    return result

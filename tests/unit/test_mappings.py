"""The shipped mapping specs (``connectors/<party kind>/mappings/*.yaml``) and their samples.

Every spec has a sample (``connectors/<party kind>/samples/<native kind>.json``): a native
record and the canonical record it corresponds to. Inbound, the native record maps to the
canonical one, which then passes validation against the seed reference; outbound, the
canonical record (as the hub decodes it from an inbox) renders as the native document,
and the catalogue picks the spec for a party of the folder's kind. Bad input fails with
the `MappingError` rule that names the native field.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from hub.errors import RecordInvalid
from hub.mapping import MappingError, MappingSpec, Shipped, load_catalogue
from hub.records import (
    AssistanceKind,
    Clue,
    ClueOrigin,
    EventType,
    MarketEntity,
    OrderType,
    Priority,
    derive_record_id,
    validate,
)
from hub.reference import Party, PartyKind, Reference, load_seed_reference
from tests.unit import _samples

CATALOGUE = load_catalogue()
SHIPPED = CATALOGUE.shipped
INBOUND = [item for item in SHIPPED if item.spec.direction == "in"]
OUTBOUND = [item for item in SHIPPED if item.spec.direction == "out"]
FOLDERS = {"department", "bigdata", "police", "procuratorate", "court", "street", "finance"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def label(item: Shipped) -> str:
    return f"{folder_of(item)}/{item.spec.native_kind}"


def folder_of(item: Shipped) -> str:
    return item.path.parent.parent.name


def shipped(name: str) -> Shipped:
    """The shipped spec called '<folder>/<native kind>'."""
    for item in SHIPPED:
        if label(item) == name:
            return item
    raise AssertionError(f"no shipped spec {name}")


def spec(name: str) -> MappingSpec:
    return shipped(name).spec


def sample_file(item: Shipped) -> Path:
    return item.path.parent.parent / "samples" / f"{item.spec.native_kind}.json"


def sample_of(name: str | Shipped) -> dict[str, Any]:
    item = shipped(name) if isinstance(name, str) else name
    document: dict[str, Any] = json.loads(sample_file(item).read_text(encoding="utf-8"))
    return document


def payload(document: Any, mapping: MappingSpec, encoding: str | None = None) -> bytes:
    """A native document as its system sends it (its own encoding, no \\u escapes)."""
    return json.dumps(document, ensure_ascii=False).encode(encoding or mapping.encoding)


def map_native(mapping: MappingSpec, document: Any) -> dict[str, Any]:
    return mapping.apply(mapping.decode(payload(document, mapping)))


def users(item: Shipped, reference: Reference) -> list[Party]:
    """The parties that may use a spec: its one department, or every party of its kind."""
    if item.spec.party is not None:
        return [reference.parties.get(item.spec.party)]
    return reference.parties.of_kind(item.kind)


def as_decoded(kind: str, data: dict[str, Any], reference: Reference) -> dict[str, Any]:
    """A canonical record as the hub decodes it from an inbox (validated, as JSON)."""
    dumped: dict[str, Any] = validate(kind, data, reference).model_dump(mode="json")
    return dumped


def mapping_error(mapping: MappingSpec, document: Any) -> MappingError:
    with pytest.raises(MappingError) as caught:
        map_native(mapping, document)
    assert CJK.search(caught.value.message_zh)
    return caught.value


@pytest.fixture(scope="module")
def reference() -> Reference:
    return load_seed_reference()


# ------------------------------------------------------------------ the catalogue


def test_every_folder_ships_an_inbound_and_an_outbound_spec() -> None:
    assert {folder_of(item) for item in INBOUND} == FOLDERS
    assert {folder_of(item) for item in OUTBOUND} == FOLDERS
    assert len(SHIPPED) == 32


def test_each_department_has_one_clue_spec_and_one_order_spec(reference: Reference) -> None:
    departments = {party.id for party in reference.parties.of_kind(PartyKind.DEPARTMENT)}
    assert len(departments) == 8
    clue_specs = [str(i.spec.party) for i in INBOUND if i.kind is PartyKind.DEPARTMENT]
    order_specs = [str(i.spec.party) for i in OUTBOUND if i.kind is PartyKind.DEPARTMENT]
    assert sorted(clue_specs) == sorted(departments)
    assert sorted(order_specs) == sorted(departments)
    assert {i.spec.canonical for i in SHIPPED if i.kind is PartyKind.DEPARTMENT} == {
        "clue",
        "order",
    }


def test_only_department_specs_name_a_party() -> None:
    for item in SHIPPED:
        assert (item.spec.party is not None) == (item.kind is PartyKind.DEPARTMENT), label(item)


def test_expected_kinds_and_filters() -> None:
    found = {label(i): (i.spec.canonical, i.spec.direction, i.spec.when) for i in SHIPPED}
    referral = {"order_type": "CRIMINAL_REFERRAL"}
    assert found["bigdata/market-entity"] == ("entity", "in", {})
    assert found["bigdata/permit"] == ("permit", "in", {})
    assert found["bigdata/penalty-disclosure"] == ("penalty", "out", {})
    assert found["police/case-intake"] == ("order", "out", referral)
    assert found["police/decision"] == ("order-event", "in", {})
    assert found["procuratorate/referral-copy"] == ("order", "out", referral)
    assert found["procuratorate/supervision"] == ("order-event", "in", {})
    assert found["court/enforcement-application"] == (
        "order", "out", {"order_type": "ENFORCEMENT_APPLICATION"})
    assert found["court/ruling"] == ("order-event", "in", {})
    assert found["police/reverse-transfer"] == ("order", "in", {})
    assert found["procuratorate/suggestion"] == ("order", "in", {})
    assert found["procuratorate/recommendation"] == ("order", "in", {})
    assert found["finance/payment"] == ("execution", "in", {})
    assert found["finance/fine-notice"] == ("case-notice", "out", {"reader": "finance"})
    assert found["street/street-clue"] == ("clue", "in", {})
    assert found["street/street-order"] == ("order", "out", {})


@pytest.mark.parametrize("item", SHIPPED, ids=label)
def test_spec_file_documents_its_native_format(item: Shipped) -> None:
    text = item.path.read_text(encoding="utf-8")
    assert text.startswith("# "), "a header comment describes the native system"
    assert "# Native sample" in text
    assert item.path.stem == item.spec.native_kind
    assert CJK.search(item.spec.title) and re.search(r"[a-z]{3}", item.spec.title)
    assert sample_file(item).is_file()


# ------------------------------------------------------------------ code tables


def table_of(mapping: MappingSpec, target: str) -> dict[str, str]:
    rule = mapping.fields[target]
    assert rule.codes is not None, f"{target} has no code table"
    return mapping.codes[rule.codes]


@pytest.mark.parametrize("item", [i for i in INBOUND if i.spec.canonical == "clue"], ids=label)
def test_clue_code_tables_cover_the_streets_and_name_the_right_matters(
    item: Shipped, reference: Reference
) -> None:
    mapping = item.spec
    streets = {party.id for party in reference.parties.of_kind(PartyKind.STREET)}
    assert set(table_of(mapping, "street").values()) == streets
    assert len(table_of(mapping, "street")) >= 14
    matters = table_of(mapping, "matter_code").values()
    for code in matters:
        matter = reference.matters[code]
        if mapping.party is not None:
            assert matter.department == mapping.party, code
        else:  # a street system only reports matters delegated to the streets
            assert matter.delegated_to_street, code
    if mapping.party is None:
        delegated = {m.code for m in reference.matters.values() if m.delegated_to_street}
        assert set(matters) == delegated
    if "origin" in mapping.fields and mapping.fields["origin"].codes:
        assert set(table_of(mapping, "origin").values()) <= set(ClueOrigin)


@pytest.mark.parametrize("item", [i for i in OUTBOUND if i.spec.canonical == "order"], ids=label)
def test_order_code_tables_cover_every_canonical_value(item: Shipped, reference: Reference) -> None:
    mapping = item.spec
    by_source = {rule.field: rule for rule in mapping.fields.values() if rule.codes}
    expected = {
        "order_type": set(OrderType),
        "priority": set(Priority),
        "assistance.kind": set(AssistanceKind),
        "transfer.stop_order_issued": {"True", "False"},
    }
    for source, values in expected.items():
        if source in by_source:
            table = mapping.codes[by_source[source].codes or ""]
            assert set(table) == values, source
            assert len(set(table.values())) == len(table), f"{source}: codes are not distinct"
    units = {p.id for p in reference.parties.of_kind(PartyKind.STREET, PartyKind.DEPARTMENT)}
    for source in ("from_party", "to_parties"):
        if source in by_source:
            assert units <= set(mapping.codes[by_source[source].codes or ""]), source


def test_event_code_tables_name_event_types() -> None:
    for item in INBOUND:
        if item.spec.canonical == "order-event":
            assert set(table_of(item.spec, "event_type").values()) <= set(EventType)


# ------------------------------------------------------------------ inbound


@pytest.mark.parametrize("item", INBOUND, ids=label)
def test_inbound_sample_maps_to_its_canonical_record(item: Shipped) -> None:
    sample = sample_of(item)
    assert map_native(item.spec, sample["native"]) == sample["canonical"]
    assert sample["canonical"]["source_id"] == str(sample["native"][item.spec.source_id])


@pytest.mark.parametrize("item", INBOUND, ids=label)
def test_inbound_sample_is_a_valid_record_for_every_user(
    item: Shipped, reference: Reference
) -> None:
    sample = sample_of(item)
    mapped = map_native(item.spec, sample["native"])
    for party in users(item, reference):
        record = validate(item.spec.canonical, {**mapped, "source_party": party.id}, reference)
        assert record.source_party == party.id
        assert record.record_id == derive_record_id(party.id, mapped["source_id"])
        assert CATALOGUE.inbound(party, item.spec.native_kind) is item.spec


@pytest.mark.parametrize("item", INBOUND, ids=label)
def test_inbound_spec_is_not_offered_to_other_parties(item: Shipped, reference: Reference) -> None:
    others = [
        party
        for party in reference.parties
        if party.kind is not item.kind or party.id not in {p.id for p in users(item, reference)}
    ]
    assert others
    for party in others:
        assert CATALOGUE.inbound(party, item.spec.native_kind) is not item.spec


def test_inbound_records_carry_the_natives_values(reference: Reference) -> None:
    """Spot checks of converted values: zones, masks, nested paths, each-item codes."""
    mapped = map_native(
        spec("department/water-issue"), sample_of("department/water-issue")["native"]
    )
    clue = validate("clue", {**mapped, "source_party": "dept-water"}, reference)
    assert isinstance(clue, Clue)
    assert clue.occurred_at.isoformat() == "2026-11-25T01:30:15+00:00"
    assert clue.reporter is not None and clue.reporter.name_masked == "陈*"
    assert clue.reporter.phone_masked == "139****4567"
    assert clue.location.latitude == pytest.approx(30.5786)

    street = map_native(spec("street/street-clue"), sample_of("street/street-clue")["native"])
    assert street["origin"] == "PATROL"
    assert [a["media_type"] for a in street["attachments"]] == ["image/jpeg", "video/mp4"]

    entity = map_native(spec("bigdata/market-entity"), sample_of("bigdata/market-entity")["native"])
    assert entity["registered_on"] == "2019-04-01"
    record = validate("entity", {**entity, "source_party": "bigdata"}, reference)
    assert isinstance(record, MarketEntity)
    assert record.legal_representative == "赵*"


def test_inbound_attachments_and_reporter_are_optional() -> None:
    native = copy.deepcopy(sample_of("street/street-clue")["native"])
    del native["fj"]
    assert "attachments" not in map_native(spec("street/street-clue"), native)
    native = copy.deepcopy(sample_of("department/water-issue")["native"])
    native["sbr"] = ""
    del native["lxdh"]
    assert "reporter" not in map_native(spec("department/water-issue"), native)


def test_inbound_time_with_its_own_offset_is_kept() -> None:
    native = copy.deepcopy(sample_of("department/construction-inspection")["native"])
    native["inspectTime"] = "2026-11-25T01:30:15+00:00"
    mapped = map_native(spec("department/construction-inspection"), native)
    assert mapped["occurred_at"] == "2026-11-25T01:30:15+00:00"


def test_police_decisions_map_to_referral_events(reference: Reference) -> None:
    mapping = spec("police/decision")
    native = copy.deepcopy(sample_of("police/decision")["native"])
    native.update(
        {"决定类型": "02", "文书名称": "立案决定书", "文书文号": "武公（环）立字〔2026〕9号"}
    )
    del native["理由"]
    mapped = map_native(mapping, native)
    assert mapped["event_type"] == "FILED"
    assert "reason" not in mapped
    assert mapped["comment"] == "立案决定书 武公（环）立字〔2026〕9号"
    validate("order-event", {**mapped, "source_party": "police"}, reference)

    native["决定类型"] = "03"
    not_filed = map_native(mapping, native)
    assert not_filed["event_type"] == "NOT_FILED"
    with pytest.raises(RecordInvalid) as caught:
        validate("order-event", {**not_filed, "source_party": "police"}, reference)
    assert [(e.path, e.rule) for e in caught.value.errors] == [("reason", "event.reason_required")]


def test_court_refusal_is_denied_with_the_ruling_as_its_reason() -> None:
    native = copy.deepcopy(sample_of("court/ruling")["native"])
    native.update({"cdjg": "不准予执行", "cdzw": "不准予强制执行，行政处罚决定书未依法送达"})
    mapped = map_native(spec("court/ruling"), native)
    assert mapped["event_type"] == "DENIED"
    assert mapped["reason"] == "不准予强制执行，行政处罚决定书未依法送达"
    assert mapped["actor_party"] == "court"
    assert mapped["comment"] == (
        "不准予执行（（2026）鄂0106行审15号）：不准予强制执行，行政处罚决定书未依法送达"
    )


# ------------------------------------------------------------------ outbound


@pytest.mark.parametrize("item", OUTBOUND, ids=label)
def test_outbound_sample_renders_its_native_document(item: Shipped) -> None:
    sample = sample_of(item)
    assert item.spec.apply(sample["canonical"]) == sample["native"]


@pytest.mark.parametrize("item", OUTBOUND, ids=label)
def test_outbound_sample_is_a_decoded_canonical_record(item: Shipped, reference: Reference) -> None:
    canonical = sample_of(item)["canonical"]
    assert as_decoded(item.spec.canonical, canonical, reference) == canonical
    if item.spec.canonical == "order":
        assert canonical["order_id"] == canonical["record_id"]


@pytest.mark.parametrize("item", OUTBOUND, ids=label)
def test_catalogue_finds_the_outbound_spec_for_its_parties(
    item: Shipped, reference: Reference
) -> None:
    canonical = sample_of(item)["canonical"]
    for party in users(item, reference):
        assert CATALOGUE.outbound(party, item.spec.canonical, canonical) is item.spec
    for party in reference.parties:
        if party.kind is not item.kind:
            assert CATALOGUE.outbound(party, item.spec.canonical, canonical) is not item.spec


@pytest.mark.parametrize("item", [i for i in OUTBOUND if i.spec.canonical == "order"], ids=label)
@pytest.mark.parametrize("order_type", [t.value for t in OrderType])
def test_order_specs_render_every_order_type_they_accept(
    item: Shipped, order_type: str, reference: Reference
) -> None:
    order = as_decoded("order", _samples.order(order_type), reference)
    party = users(item, reference)[0]
    found = CATALOGUE.outbound(party, "order", order)
    if item.spec.when and not item.spec.matches(order):
        assert found is not item.spec
        return
    assert found is item.spec
    native = item.spec.apply(order)
    rendered = json.dumps(native, ensure_ascii=False)
    assert order["order_id"] in rendered
    assert order["description"] in rendered


def test_order_detail_fields_appear_only_for_their_type(reference: Reference) -> None:
    mapping = spec("department/planning-order")
    transfer = mapping.apply(as_decoded("order", _samples.order("CASE_TRANSFER"), reference))
    assert transfer["pdlx"] == "YS"
    assert transfer["yscl"] == ["现场勘验笔录", "照片"]
    assert transfer["zlty"] == "1"
    assert "xzsx" not in transfer and "xznr" not in transfer
    whistle = mapping.apply(as_decoded("order", _samples.order("WHISTLE"), reference))
    assert whistle["jsdw"] == ["区城市管理执法局", "区自然资源和规划分局"]
    assert not {"ysly", "yscl", "zlty", "xzsx", "xznr"} & set(whistle)


def test_outbound_times_are_beijing_time(reference: Reference) -> None:
    canonical = copy.deepcopy(sample_of("department/water-order")["canonical"])
    canonical["issued_at"] = "2026-11-25T17:30:00Z"  # 01:30 on the 26th in Beijing
    canonical["deadline"] = "2026-11-28T09:30:00Z"
    native = spec("department/water-order").apply(as_decoded("order", canonical, reference))
    assert native["pdsj"] == "20261126013000"
    assert native["blqx"] == "20261128173000"
    intake = spec("police/case-intake").apply({**sample_of("police/case-intake")["canonical"]})
    assert intake["移送时间"] == "2026年11月25日"


def test_order_without_deadline_leaves_the_deadline_field_out(reference: Reference) -> None:
    canonical = copy.deepcopy(sample_of("department/urban-order")["canonical"])
    canonical["deadline"] = None
    native = spec("department/urban-order").apply(as_decoded("order", canonical, reference))
    assert "处置时限" not in native
    assert native["派遣时间"] == "2026-11-25 09:30:00"


def test_penalty_disclosure_of_an_organisation_warning(reference: Reference) -> None:
    canonical = copy.deepcopy(sample_of("bigdata/penalty-disclosure")["canonical"])
    canonical.update(
        {
            "party_type": "ORGANISATION",
            "party_name": "武汉市示例餐饮有限公司",
            "id_number_masked": None,
            "uscc": _samples.ORG_USCC,
            "penalty_type": "WARNING",
            "amount": None,
        }
    )
    native = spec("bigdata/penalty-disclosure").apply(as_decoded("penalty", canonical, reference))
    assert native["行政相对人类别"] == "法人及非法人组织"
    assert native["统一社会信用代码"] == _samples.ORG_USCC
    assert native["证件类型"] == "" and native["证件号码"] == ""
    assert native["处罚类别"] == "警告"
    assert native["罚没金额（元）"] == ""
    assert native["处罚决定日期"] == "2026/03/10"


# ------------------------------------------------------------------ bad input

MISSING = [
    ("department/water-issue", "wtdd"),
    ("department/health-supervision", "案由"),
    ("department/construction-inspection", "project.street"),
    ("department/emergency-hazard", "DWMC"),
    ("bigdata/market-entity", "TYSHXYDM"),
    ("bigdata/permit", "有效期至"),
    ("police/decision", "移送案件编号"),
    ("procuratorate/supervision", "jdnr"),
    ("court/ruling", "ah"),
    ("street/street-clue", "wtms"),
]


def without(document: dict[str, Any], path: str) -> dict[str, Any]:
    document = copy.deepcopy(document)
    *parents, last = path.split(".")
    target = document
    for part in parents:
        target = target[part]
    del target[last]
    return document


@pytest.mark.parametrize(("name", "field"), MISSING)
def test_missing_native_field_is_named(name: str, field: str) -> None:
    error = mapping_error(spec(name), without(sample_of(name)["native"], field))
    assert error.rule == "field.missing"
    assert error.field == field
    assert field in str(error)


@pytest.mark.parametrize(("name", "field"), MISSING[:4])
def test_blank_native_field_counts_as_missing(name: str, field: str) -> None:
    native = copy.deepcopy(sample_of(name)["native"])
    *parents, last = field.split(".")
    target = native
    for part in parents:
        target = target[part]
    target[last] = "  "
    assert mapping_error(spec(name), native).rule == "field.missing"


def test_missing_source_id_is_named() -> None:
    native = without(sample_of("department/water-issue")["native"], "wtbh")
    error = mapping_error(spec("department/water-issue"), native)
    assert (error.rule, error.field, error.target) == ("field.missing", "wtbh", "source_id")


def test_outbound_referral_without_detail_fails() -> None:
    canonical = copy.deepcopy(sample_of("police/case-intake")["canonical"])
    canonical["referral"] = None
    with pytest.raises(MappingError) as caught:
        spec("police/case-intake").apply(canonical)
    assert caught.value.rule == "field.missing"
    assert caught.value.field == "referral.suspected_offence"


UNKNOWN_CODES = [
    ("department/water-issue", "wtly", "09", "wtly"),
    ("department/emergency-hazard", "JDDM", "15", "JDDM"),
    ("department/housing-complaint", "streetName", "武昌街道", "streetName"),
    ("department/planning-violation", "tblx", "QT", "tblx"),
    ("bigdata/market-entity", "DJZT", "迁出", "DJZT"),
    ("police/decision", "决定类型", "04", "决定类型"),
    ("procuratorate/supervision", "jdlx", "09", "jdlx"),
    ("court/ruling", "cdjg", "驳回申请", "cdjg"),
]


@pytest.mark.parametrize(("name", "field", "value", "named"), UNKNOWN_CODES)
def test_unknown_code_is_refused(name: str, field: str, value: str, named: str) -> None:
    native = copy.deepcopy(sample_of(name)["native"])
    native[field] = value
    error = mapping_error(spec(name), native)
    assert error.rule == "code.unknown"
    assert error.field == named
    assert value in error.message_en


def test_unknown_code_inside_a_list_item_is_refused() -> None:
    native = copy.deepcopy(sample_of("street/street-clue")["native"])
    native["fj"][1]["lx"] = "exe"
    error = mapping_error(spec("street/street-clue"), native)
    assert (error.rule, error.field, error.target) == (
        "code.unknown",
        "lx",
        "attachments[].media_type",
    )


def test_matter_joined_from_two_fields_must_be_known() -> None:
    native = copy.deepcopy(sample_of("department/urban-case")["native"])
    native["小类"] = "09"
    error = mapping_error(spec("department/urban-case"), native)
    assert error.rule == "code.unknown"
    assert "0509" in error.message_en


def test_outbound_unknown_party_is_refused(reference: Reference) -> None:
    canonical = copy.deepcopy(sample_of("department/urban-order")["canonical"])
    canonical["from_party"] = "finance"
    with pytest.raises(MappingError) as caught:
        spec("department/urban-order").apply(canonical)
    assert (caught.value.rule, caught.value.field) == ("code.unknown", "from_party")


BAD_DATES = [
    ("department/health-supervision", "登记时间", "2026年02月30日 09时30分"),
    ("department/planning-violation", "jcrq", "20261341"),
    ("department/water-issue", "fxsj", "20261125253015"),
    ("department/emergency-hazard", "FXSJ", "2026-11-25 09:30"),
    ("department/civil-matter", "发现日期", "2026年02月30日"),
    ("bigdata/permit", "有效期至", "2029/02/29"),
    ("police/decision", "决定时间", "2026年13月01日10时00分"),
    ("court/ruling", "cdrq", "2026-12-32"),
    ("street/street-clue", "xcsj", "2026.11.25"),
]


@pytest.mark.parametrize(("name", "field", "value"), BAD_DATES)
def test_impossible_or_foreign_date_is_refused(name: str, field: str, value: str) -> None:
    native = copy.deepcopy(sample_of(name)["native"])
    native[field] = value
    error = mapping_error(spec(name), native)
    assert (error.rule, error.field) == ("date.invalid", field)
    assert value in error.message_en


@pytest.mark.parametrize("value", ["202611250930", "2026112509301"])
def test_compact_timestamp_with_missing_digits_is_refused(value: str) -> None:
    native = copy.deepcopy(sample_of("department/water-issue")["native"])
    native["fxsj"] = value
    assert mapping_error(spec("department/water-issue"), native).rule == "date.invalid"


def test_outbound_impossible_time_is_refused() -> None:
    canonical = copy.deepcopy(sample_of("department/water-order")["canonical"])
    canonical["issued_at"] = "2026-02-30T09:30:00+08:00"
    with pytest.raises(MappingError) as caught:
        spec("department/water-order").apply(canonical)
    assert (caught.value.rule, caught.value.field) == ("date.invalid", "issued_at")


def test_non_numeric_coordinate_is_refused() -> None:
    native = copy.deepcopy(sample_of("department/water-issue")["native"])
    native["jd"] = "东经114度"
    error = mapping_error(spec("department/water-issue"), native)
    assert (error.rule, error.field) == ("type.invalid", "jd")


def test_attachment_list_that_is_not_a_list_is_refused() -> None:
    native = copy.deepcopy(sample_of("department/construction-inspection")["native"])
    native["photos"] = "https://zhgd.example/photo/8812.jpg"
    error = mapping_error(spec("department/construction-inspection"), native)
    assert (error.rule, error.field) == ("type.invalid", "photos")


@pytest.mark.parametrize("item", [i for i in INBOUND if i.spec.encoding == "utf-8"], ids=label)
def test_gbk_bytes_for_a_utf8_spec_are_refused(item: Shipped) -> None:
    data = payload(sample_of(item)["native"], item.spec, encoding="gbk")
    with pytest.raises(MappingError) as caught:
        item.spec.decode(data)
    assert caught.value.rule == "encoding.invalid"
    assert "utf-8" in caught.value.message_en


def test_gbk_spec_reads_gbk_bytes() -> None:
    mapping = spec("department/health-supervision")
    assert mapping.encoding == "gbk"
    native = sample_of("department/health-supervision")["native"]
    data = payload(native, mapping)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert mapping.decode(data) == native


def test_gbk_order_renders_as_gbk_text() -> None:
    """The health system reads GBK: every character of a rendered order has a GBK code."""
    mapping = spec("department/health-order")
    sample = sample_of("department/health-order")
    body = json.dumps(mapping.apply(sample["canonical"]), ensure_ascii=False).encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert json.loads(body.decode(mapping.encoding)) == sample["native"]


def test_planning_violations_arrive_as_csv_rows() -> None:
    """The planning system drops GBK CSV batches; file-drop hands rows over as UTF-8 JSON."""
    sample = sample_of("department/planning-violation")
    columns = list(sample["native"])
    text = ",".join(columns) + "\r\n" + ",".join(sample["native"][c] for c in columns) + "\r\n"
    (row,) = csv.DictReader(io.StringIO(text.encode("gbk").decode("gbk")))
    mapping = spec("department/planning-violation")
    row_payload = json.dumps(row, ensure_ascii=False).encode("utf-8")
    assert mapping.apply(mapping.decode(row_payload, "utf-8")) == sample["canonical"]


@pytest.mark.parametrize("item", INBOUND, ids=label)
def test_truncated_json_is_refused(item: Shipped) -> None:
    text = json.dumps(sample_of(item)["native"], ensure_ascii=False)
    with pytest.raises(MappingError) as caught:
        item.spec.decode(text[: len(text) // 2].encode(item.spec.encoding))
    assert caught.value.rule == "format.invalid"


def test_json_that_is_not_one_object_is_refused() -> None:
    mapping = spec("court/ruling")
    with pytest.raises(MappingError) as caught:
        mapping.decode(payload([sample_of("court/ruling")["native"]], mapping))
    assert (caught.value.rule, caught.value.field) == ("format.invalid", "(payload)")

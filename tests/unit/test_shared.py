"""Information sharing over HTTP, broker-free: the data catalogue per caller, lookups from
the worker's shared view with a purpose, masked per reader, and every read audited with
the names of the fields it returned (issue 17)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

from hub.records import KINDS, validate
from hub.reference import load_seed_reference
from hub.settings import HubSettings
from hub.shared import (
    Access,
    Dataview,
    SharedView,
    ViewStore,
    load_datasets,
    mask_personal,
    rows_of,
)
from tests.samples import USCC, sample

if TYPE_CHECKING:
    from tests.unit.conftest import Served

REFERENCE = load_seed_reference()
STREET = "street-jiyuqiao"
PURPOSE = {"X-Hub-Purpose": quote("案件 CASE-2026-0042 现场检查")}


async def _load(view: SharedView, kind: str, data: dict[str, Any]) -> None:
    """data as its owner's record on its topic, read by the view (its Avro bytes)."""
    record = validate(kind, {**data, "trace_id": "ab" * 16}, REFERENCE)
    value = await view.serde.encode(kind, record)
    await view.apply(KINDS[kind].topic, KINDS[kind].key_of(record), value)


async def _held(served: Served) -> None:
    await _load(served.shared, "entity", sample("entity"))
    await _load(served.shared, "permit", sample("permit"))
    await _load(served.shared, "permit", sample("permit", source_id="permit/2", permit_no="JY2",
                                                 permit_type="烟草专卖零售许可证"))
    served.shared.ready.set()


async def _audits(served: Served) -> list[Any]:
    return [await served.serde.decode("audit", value)
            for _, value, _ in served.broker.to(KINDS["audit"].topic)]


async def test_the_catalogue_says_how_each_caller_reads_each_dataset(served: Served) -> None:
    status, listed = await served.get("/v1/catalogue", STREET)
    assert status == 200
    access = {d["id"]: d["access"] for d in listed["datasets"]}
    assert access == {"entity": "masked", "permit": "full", "officer": "full", "matter": "full",
                      "penalty": "full"}
    permit = next(d for d in listed["datasets"] if d["id"] == "permit")
    assert (permit["owner"], permit["key"], permit["secondary"]) == (
        "bigdata", "permit_no", ["holder_uscc"])
    status, listed = await served.get("/v1/catalogue", "finance")
    assert {d["id"]: d["access"] for d in listed["datasets"]}["permit"] is None  # may request
    assert (await served.get("/v1/catalogue", "ops"))[0] == 403


async def test_a_street_looks_up_an_entity_and_its_permits_with_a_purpose(
    served: Served,
) -> None:
    """Issue 17: a street officer on an inspection needs the shop's licence and permits."""
    await _held(served)
    answer = await served.call("GET", f"/v1/shared/entity/{USCC}", STREET, headers=PURPOSE)
    assert answer.status == 200, answer.body
    record = answer.body["record"]
    assert answer.body["access"] == "masked"
    assert record["uscc"] == USCC and record["name"] == sample("entity")["name"]
    assert record["legal_representative"] == "赵*"
    assert "source_party" not in record and "trace_id" not in record  # the envelope stays
    answer = await served.call("GET", f"/v1/shared/permit?holder_uscc={USCC}", STREET,
                               headers=PURPOSE)
    assert answer.status == 200, answer.body
    assert [p["permit_no"] for p in answer.body["records"]] == ["JY14201060012345", "JY2"]

    reads = [a for a in await _audits(served) if a.dataset is not None]
    assert [(a.actor_party, a.dataset, a.record_key, a.returned) for a in reads] == [
        (STREET, "entity", USCC, 1), (STREET, "permit", f"holder_uscc={USCC}", 2)]
    assert reads[0].purpose == "案件 CASE-2026-0042 现场检查"
    assert reads[0].fields == sorted(record)  # the names returned, never the values
    assert "赵" not in str(reads[0].model_dump())


@pytest.mark.parametrize(
    ("path", "party", "headers", "status", "says"),
    [
        (f"/v1/shared/entity/{USCC}", STREET, {}, 400, "X-Hub-Purpose"),
        (f"/v1/shared/entity/{USCC}", STREET, {"X-Hub-Purpose": "   "}, 400, "X-Hub-Purpose"),
        ("/v1/shared/permit/JY2", "finance", PURPOSE, 403, "request"),
        (f"/v1/shared/entity/{USCC}", "ops", PURPOSE, 403, "operators"),
        ("/v1/shared/nothing/1", STREET, PURPOSE, 404, "catalogue"),
        ("/v1/shared/entity/91420106MA4K000000", STREET, PURPOSE, 404, "entity"),
        ("/v1/shared/permit?permit_type=x", STREET, PURPOSE, 422, "holder_uscc"),
        ("/v1/shared/permit", STREET, PURPOSE, 422, "holder_uscc"),
    ],
)
async def test_a_lookup_that_cannot_be_answered_says_why(
    served: Served, path: str, party: str, headers: dict[str, str], status: int, says: str
) -> None:
    await _held(served)
    answer = await served.call("GET", path, party, headers=headers)
    assert answer.status == status, answer.body
    assert says in answer.body["detail"] and answer.body["detail_zh"]


async def test_a_lookup_before_the_view_has_loaded_is_503_with_retry_after(
    served: Served,
) -> None:
    answer = await served.call("GET", f"/v1/shared/entity/{USCC}", STREET, headers=PURPOSE)
    assert answer.status == 503 and "loading" in answer.body["detail"]


def test_the_view_keeps_the_latest_record_per_key_and_its_indexes_right(tmp_path: Path) -> None:
    catalogue = load_datasets(HubSettings().datasets_file)
    store = ViewStore(tmp_path / "view")
    permits = Dataview(next(d for d in catalogue.datasets if d.id == "permit"), store)
    permits.put("P1", b"P1 of A", ("A",))
    permits.put("P2", b"P2 of A", ("A",))
    permits.put("P1", b"P1 of B", ("B",))  # moved to another holder
    permits.put("P1", b"P1 of B", ("B",))  # read again after a crash: nothing changes
    assert permits.keys_of("holder_uscc", "A") == ["P2"]
    assert permits.keys_of("holder_uscc", "B") == ["P1"]
    assert permits.get("P1") == b"P1 of B"
    permits.put("P2", None)  # a tombstone
    assert permits.keys_of("holder_uscc", "A") == [] and permits.get("P2") is None
    store.keep_offset("share.permit.v1", 2, 41)
    store.close()
    again = ViewStore(tmp_path / "view")  # a restarted worker finds what it read
    assert again.offsets() == {("share.permit.v1", 2): 41}
    assert Dataview(permits.dataset, again).keys_of("holder_uscc", "B") == ["P1"]
    again.clear()
    assert again.offsets() == {} and Dataview(permits.dataset, again).get("P1") is None
    again.close()


def test_personal_values_are_masked_the_way_the_hub_masks_them() -> None:
    catalogue = load_datasets(HubSettings().datasets_file)
    entity = catalogue.get("entity")
    assert entity is not None
    record = {"uscc": USCC, "legal_representative": "赵六", "source_party": "bigdata"}
    assert entity.view(record, Access.FULL) == {"uscc": USCC, "legal_representative": "赵六"}
    assert entity.view(record, Access.MASKED)["legal_representative"] == "赵*"
    assert mask_personal("420106198503120011") == "420***********0011"
    assert mask_personal("13812345678").startswith("138")
    assert mask_personal("13812345678") != "13812345678"


def test_an_extract_is_read_row_by_row_from_json_lines_or_csv(tmp_path: Path) -> None:
    lines = tmp_path / "register.jsonl"
    lines.write_text('{"uscc": "A"}\n\nnot json\n[1]\n{"uscc": "B"}\n', encoding="utf-8")
    assert [(n, r) for n, r, _ in rows_of(lines)] == [
        (1, {"uscc": "A"}), (3, "not JSON: Expecting value"), (4, "not a JSON object"),
        (5, {"uscc": "B"})]
    table = tmp_path / "register.csv"
    table.write_bytes("\ufeffuscc,name,scope\nA,甲商行,\nB,乙商行,零售\n".encode())
    rows = [(n, r) for n, r, _ in rows_of(table)]
    assert rows == [(2, {"uscc": "A", "name": "甲商行"}),  # a BOM is no part of a name;
                    (3, {"uscc": "B", "name": "乙商行", "scope": "零售"})]  # blanks are absent
    (_, _, read), = list(rows_of(tmp_path / "register.csv"))[-1:]
    assert read == table.stat().st_size

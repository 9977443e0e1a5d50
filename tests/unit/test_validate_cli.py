"""`hub validate KIND FILE`: offline validation of a JSON or JSON-lines file; masking helpers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import hub.cli
from hub.records import KINDS, mask_citizen_id, mask_name, mask_phone
from hub.records._masking import is_masked
from tests.unit._samples import order, sample

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DIR = str(ROOT / "hub" / "reference")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = hub.cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write_lines(path: Path, lines: list[Any]) -> Path:
    text = "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def test_valid_json_file_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(sample("case"), ensure_ascii=False, indent=2), encoding="utf-8")
    code, out, err = run(capsys, "validate", "case", str(path), "--reference-dir", REFERENCE_DIR)
    assert code == 0, out + err
    assert out == ""
    assert "1 valid, 0 invalid case record(s)" in err


def test_json_lines_with_invalid_lines_exits_one_and_names_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_deadline = order("ASSIGNMENT")
    bad_deadline["deadline"] = "2026-03-01T09:00:00+08:00"
    bad_two = order("CRIMINAL_REFERRAL")
    bad_two["to_parties"] = ["dept-urban"]
    bad_two["matter_code"] = "URB-999"
    path = write_lines(
        tmp_path / "orders.jsonl",
        [order("WHISTLE"), bad_deadline, "", order("CASE_TRANSFER"), bad_two],
    )
    code, out, err = run(capsys, "validate", "order", str(path), "--reference-dir", REFERENCE_DIR)
    assert code == 1
    lines = out.splitlines()
    assert lines == [
        f"{path}:2: deadline: [deadline.not_after_issue] "
        "the deadline must be after the time the order was issued / 办理期限必须晚于派单时间",
        f"{path}:5: to_parties: [order.referral_to_police] "
        "a criminal referral must go to the police / 涉嫌犯罪移送必须移送公安机关",
        f"{path}:5: matter_code: [matter.unknown] "
        "matter code 'URB-999' is not in the matter catalogue / 执法事项目录中没有事项编码URB-999",
    ]
    assert "2 valid, 2 invalid order record(s)" in err


def test_every_error_line_has_file_line_path_and_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = sample("case")
    bad["officers"] = [{"certificate_no": "42010601004", "name": "刘洋"}]
    bad["extra"] = True
    path = write_lines(tmp_path / "cases.jsonl", [sample("case"), sample("case"), bad, bad])
    code, out, _ = run(capsys, "validate", "case", str(path), "--reference-dir", REFERENCE_DIR)
    assert code == 1
    pattern = re.compile(rf"^{re.escape(str(path))}:(\d+): (\S+): \[([a-z_.]+)\] .+ / .+$")
    found = [pattern.match(line) for line in out.splitlines()]
    assert all(found), out
    assert sorted({(m.group(1), m.group(2), m.group(3)) for m in found if m}) == [
        ("3", "extra", "extra_forbidden"),
        ("3", "officers[0].certificate_no", "officer.not_valid"),
        ("4", "extra", "extra_forbidden"),
        ("4", "officers[0].certificate_no", "officer.not_valid"),
    ]


def test_line_that_is_not_json_is_reported_with_its_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_lines(tmp_path / "clues.jsonl", [sample("clue"), "{not json", sample("clue")])
    code, out, err = run(capsys, "validate", "clue", str(path), "--reference-dir", REFERENCE_DIR)
    assert code == 1
    assert out.startswith(f"{path}:2: not JSON: ")
    assert "(column 2)" in out
    assert len(out.splitlines()) == 1
    assert "2 valid, 1 invalid clue record(s)" in err


def test_all_valid_json_lines_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_lines(tmp_path / "events.jsonl", [sample("order-event")] * 3)
    code, out, err = run(
        capsys, "validate", "order-event", str(path), "--reference-dir", REFERENCE_DIR
    )
    assert code == 0, out
    assert "3 valid, 0 invalid order-event record(s)" in err


def test_empty_file_is_not_a_success(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    code, _, err = run(capsys, "validate", "clue", str(path), "--reference-dir", REFERENCE_DIR)
    assert code == 1
    assert "0 valid, 0 invalid" in err


def test_unknown_kind_exits_two_with_the_kinds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_lines(tmp_path / "x.json", [sample("clue")])
    code, out, err = run(
        capsys, "validate", "parking-ticket", str(path), "--reference-dir", REFERENCE_DIR
    )
    assert code == 2
    assert out == ""
    assert err.startswith("hub: configuration error: unknown record kind 'parking-ticket'")
    for kind in KINDS:
        assert kind in err
    assert "Traceback" not in err


def test_without_reference_dir_and_cache_exits_two_with_advice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    path = write_lines(tmp_path / "x.json", [sample("clue")])
    code, out, err = run(capsys, "validate", "clue", str(path))
    assert code == 2
    assert out == ""
    assert "hub reference sync" in err
    assert "--reference-dir" in err


def test_unreadable_file_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "validate", "clue", str(tmp_path / "missing.json"), "--reference-dir", REFERENCE_DIR
    )
    assert code == 2
    assert "missing.json" in err
    assert "cannot read" in err


# ------------------------------------------------------------------------- masking


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("欧阳娜娜", "欧***"),
        ("李", "李*"),
        (" 王小明 ", "王**"),
        ("", ""),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("027-87654321", "027*****4321"),
        ("02787654321", "027****4321"),
        ("1234567", "*******"),
        ("110", "***"),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("420106199001011234", "420***********1234"),
        ("11010519491231002X", "110***********002X"),
        (" 11010519491231002X ", "110***********002X"),
    ],
)
def test_mask_citizen_id(number: str, masked: str) -> None:
    assert mask_citizen_id(number) == masked
    assert len(masked) == 18


def test_masked_values_are_recognised_and_not_masked_twice() -> None:
    for value in (
        mask_name("张三"),
        mask_phone("13812345678"),
        mask_citizen_id("420106199001011234"),
    ):
        assert is_masked(value)
    assert not is_masked("张三")
    assert not is_masked("13812345678")

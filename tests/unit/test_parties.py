"""hub.reference: the shipped parties file and the rules every parties file must keep."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import ConfigError, ReferenceDataError
from hub.reference import Party, PartyKind, Registry, load_parties
from hub.settings import load_settings

SHIPPED = Path(__file__).resolve().parents[2] / "hub" / "reference" / "parties.yaml"

STREETS = [
    "street-jiyuqiao",
    "street-yangyuan",
    "street-xujiapeng",
    "street-liangdao",
    "street-zhonghualu",
    "street-huanghelou",
    "street-ziyang",
    "street-baishazhou",
    "street-shouyilu",
    "street-zhongnanlu",
    "street-shuiguohu",
    "street-luojiashan",
    "street-shidong",
    "street-nanhu",
]
DEPARTMENTS = [
    "dept-urban",
    "dept-water",
    "dept-emergency",
    "dept-health",
    "dept-housing",
    "dept-construction",
    "dept-civil",
    "dept-planning",
]
BODIES = {
    "bigdata": PartyKind.BIGDATA,
    "justice": PartyKind.JUSTICE,
    "finance": PartyKind.FINANCE,
    "police": PartyKind.POLICE,
    "procuratorate": PartyKind.PROCURATORATE,
    "court": PartyKind.COURT,
    "ops": PartyKind.OPS,
    "hub": PartyKind.OPS,  # the hub itself, source of the records it originates
}
DESIGN_IDS = [*STREETS, *DEPARTMENTS, *BODIES]

GOOD = "  - {id: street-a, name: 甲街道, kind: street}\n"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_parties(SHIPPED)


def write(tmp_path: Path, text: str, name: str = "parties.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def fails(path: Path) -> str:
    """Load path, expect ReferenceDataError naming the file, and return the message."""
    with pytest.raises(ReferenceDataError) as caught:
        load_parties(path)
    message = caught.value.message
    assert str(path) in message
    assert str(caught.value) == message
    return message


# --- the shipped file --------------------------------------------------------------------


def test_settings_point_at_the_shipped_file() -> None:
    assert load_settings().parties_file.resolve() == SHIPPED


def test_shipped_file_loads(registry: Registry) -> None:
    assert len(registry) == 30
    assert registry.source == SHIPPED
    assert all(isinstance(party, Party) for party in registry)


def test_fourteen_streets_and_eight_departments(registry: Registry) -> None:
    assert [p.id for p in registry.of_kind(PartyKind.STREET)] == STREETS
    assert [p.id for p in registry.of_kind(PartyKind.DEPARTMENT)] == DEPARTMENTS
    assert len(registry.of_kind(PartyKind.STREET, PartyKind.DEPARTMENT)) == 22


def test_every_design_id_is_present_with_its_kind(registry: Registry) -> None:
    assert [p.id for p in registry] == DESIGN_IDS
    for party_id in DESIGN_IDS:
        assert party_id in registry
    for party_id, kind in BODIES.items():
        assert registry.get(party_id).kind is kind


def test_ids_are_unique_ascii_and_names_chinese(registry: Registry) -> None:
    ids = [p.id for p in registry]
    assert len(ids) == len(set(ids))
    for party in registry:
        assert party.id.isascii()
        assert party.id == party.id.lower()
        assert party.name.strip() == party.name
        assert not party.name.isascii(), f"{party.id} should carry its Chinese name"


def test_ops_and_hub_have_no_inbox_and_everyone_else_has(registry: Registry) -> None:
    for internal in ("ops", "hub"):
        party = registry.get(internal)
        assert party.kind is PartyKind.OPS
        assert party.inbox is False
    with_inbox = [p.id for p in registry.with_inbox()]
    assert with_inbox == [pid for pid in DESIGN_IDS if pid not in ("ops", "hub")]


def test_unknown_id_raises_key_error_naming_it(registry: Registry) -> None:
    assert "street-nowhere" not in registry
    with pytest.raises(KeyError, match="street-nowhere"):
        registry.get("street-nowhere")


# --- a small valid file ------------------------------------------------------------------


def test_minimal_file_loads_and_defaults_inbox_by_kind(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "parties:\n"
        + GOOD
        + "  - {id: ops, name: '  运维  ', kind: ops}\n"
        + "  - {id: court, name: 法院, kind: court, inbox: false}\n",
    )

    registry = load_parties(path)

    assert [p.id for p in registry] == ["street-a", "ops", "court"]
    assert registry.get("street-a").inbox is True
    assert registry.get("ops").inbox is False
    assert registry.get("ops").name == "运维"
    assert registry.get("court").inbox is False
    assert registry.source == path


# --- malformed files ---------------------------------------------------------------------


def test_unknown_kind(tmp_path: Path) -> None:
    path = write(tmp_path, "parties:\n" + GOOD + "  - {id: tax, name: 税务局, kind: bureau}\n")

    message = fails(path)

    assert "parties[1] (tax)" in message
    assert "kind 'bureau' is not one of" in message
    assert "street" in message  # lists the allowed kinds


def test_duplicate_id(tmp_path: Path) -> None:
    path = write(tmp_path, "parties:\n" + GOOD + "  - {id: street-a, name: 乙街道, kind: street}\n")

    message = fails(path)

    assert "parties[1] (street-a)" in message
    assert "declared twice" in message


@pytest.mark.parametrize(
    "bad_id",
    ["Street-B", "STREET", "street_b", "street--b", "-street", "街道", "1street", "a" * 41],
)
def test_id_breaking_the_rule(tmp_path: Path, bad_id: str) -> None:
    path = write(
        tmp_path, "parties:\n" + GOOD + f"  - {{id: '{bad_id}', name: 乙, kind: street}}\n"
    )

    message = fails(path)

    assert "parties[1]" in message
    assert "lower-case ASCII" in message


def test_id_with_trailing_newline_is_rejected(tmp_path: Path) -> None:
    # A YAML block scalar (`id: |`) keeps a trailing newline; the id would end up inside
    # topic names (raw.<id>.v1) and tokens, so the id rule must reject it.
    path = write(
        tmp_path,
        "parties:\n" + GOOD + "  - id: |\n      street-b\n    name: 乙街道\n    kind: street\n",
    )

    message = fails(path)

    assert "parties[1]" in message
    assert "lower-case ASCII" in message


def test_missing_id(tmp_path: Path) -> None:
    path = write(tmp_path, "parties:\n" + GOOD + "  - {name: 乙街道, kind: street}\n")

    message = fails(path)

    assert "parties[1]:" in message
    assert "id must be" in message


@pytest.mark.parametrize("name_part", ["", "name: '   ', ", "name: 42, "])
def test_missing_or_blank_name(tmp_path: Path, name_part: str) -> None:
    path = write(tmp_path, "parties:\n" + GOOD + f"  - {{id: street-b, {name_part}kind: street}}\n")

    message = fails(path)

    assert "parties[1] (street-b)" in message
    assert "name must be a non-empty string" in message


def test_an_unknown_key_in_the_parties_file_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path, "parties:\n" + GOOD + "  - {id: street-b, name: 乙, kind: street, inbx: false}\n"
    )

    message = fails(path)

    assert "parties[1] (street-b)" in message
    assert "unknown key(s) ['inbx']" in message


def test_inbox_must_be_boolean(tmp_path: Path) -> None:
    path = write(
        tmp_path, "parties:\n" + GOOD + "  - {id: street-b, name: 乙, kind: street, inbox: 'no'}\n"
    )

    message = fails(path)

    assert "parties[1] (street-b)" in message
    assert "inbox must be true or false" in message


def test_entry_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "parties:\n" + GOOD + "  - street-b\n")

    message = fails(path)

    assert "parties[1]" in message
    assert "must be a mapping" in message


def test_a_parties_file_that_is_not_yaml_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "parties:\n  - {id: street-a, name: [unclosed\n")

    message = fails(path)

    assert "not valid YAML" in message


@pytest.mark.parametrize(
    "text", ["", "people:\n" + GOOD, "parties: street-a\n", "- " + GOOD.strip() + "\n"]
)
def test_missing_parties_list(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)

    message = fails(path)

    assert "top level" in message
    assert "'parties' list" in message


def test_empty_parties_list(tmp_path: Path) -> None:
    message = fails(write(tmp_path, "parties: []\n"))

    assert "the list is empty" in message


def test_missing_file(tmp_path: Path) -> None:
    message = fails(tmp_path / "absent.yaml")

    assert "cannot read the parties file" in message
    assert "No such file" in message


def test_unreadable_file_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "parties.yaml"
    folder.mkdir()

    message = fails(folder)

    assert "cannot read the parties file" in message


def test_a_parties_file_not_in_utf8_is_refused(tmp_path: Path) -> None:
    # A file saved in GBK (common for Chinese office tools) must fail as reference data,
    # naming the file, not escape as a bare UnicodeDecodeError with a traceback.
    path = tmp_path / "parties.yaml"
    path.write_bytes(("parties:\n" + GOOD).encode("gbk"))

    fails(path)


def test_reference_data_error_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_parties(write(tmp_path, "parties: []\n"))

    assert isinstance(caught.value, ReferenceDataError)
    assert caught.value.retriable is False

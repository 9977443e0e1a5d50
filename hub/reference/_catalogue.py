"""Reference data validation reads: parties, the matter catalogue and the officer roster.

The seed files (``matters.yaml``, ``officers.yaml`` beside this module) are what
``hub reference load`` publishes to the compacted ``share.matter.v1`` and
``share.officer.v1`` topics; workers and ``hub validate`` build a `Reference` from
those topics (or a local cache of them), never from code constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import yaml

from hub.errors import ReferenceDataError
from hub.reference._parties import Registry, load_parties

REFERENCE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Matter:
    """One entry of the matter catalogue 执法事项目录."""

    code: str
    name: str
    name_en: str
    department: str
    delegated_to_street: bool
    category: str
    legal_basis: str
    max_fine_yuan: Decimal
    sign_off_hours: int

    def decided_by(self, party: str, kind: str) -> bool:
        """Whether a party of kind may decide a case on this matter: a street the matters
        delegated to streets, a department its own (the case rule of docs/design.md §3)."""
        if kind == "street":
            return self.delegated_to_street
        return kind == "department" and self.department == party


@dataclass(frozen=True, slots=True)
class Officer:
    """One certified enforcement officer 持证执法人员 of the roster."""

    certificate_no: str
    name: str
    party: str
    valid_until: date
    status: str

    def usable_on(self, day: date) -> bool:
        return self.status == "active" and self.valid_until >= day


@dataclass
class Reference:
    """What validation looks up: known parties, matters and certified officers."""

    parties: Registry
    matters: dict[str, Matter] = field(default_factory=dict)
    officers: dict[str, Officer] = field(default_factory=dict)


def _load_yaml(path: Path, key: str) -> list[dict[str, object]]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReferenceDataError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ReferenceDataError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise ReferenceDataError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get(key), list):
        raise ReferenceDataError(f"{path}: top level must be a mapping with a '{key}' list")
    entries: list[dict[str, object]] = document[key]
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ReferenceDataError(f"{path}: {key}[{index}]: must be a mapping")
    return entries


def load_matters(path: Path, parties: Registry) -> dict[str, Matter]:
    """Load the matter catalogue seed; each matter's department must be a known department."""
    matters: dict[str, Matter] = {}
    for index, entry in enumerate(_load_yaml(path, "matters")):
        where = f"{path}: matters[{index}] ({entry.get('code')})"
        try:
            matter = Matter(
                code=str(entry["code"]),
                name=str(entry["name"]),
                name_en=str(entry["name_en"]),
                department=str(entry["department"]),
                delegated_to_street=bool(entry["delegated_to_street"]),
                category=str(entry["category"]),
                legal_basis=str(entry["legal_basis"]),
                max_fine_yuan=Decimal(str(entry.get("max_fine_yuan", 0))),
                sign_off_hours=int(str(entry.get("sign_off_hours", 2))),
            )
        except KeyError as exc:
            raise ReferenceDataError(f"{where}: missing key {exc}") from None
        if matter.department not in parties or parties.get(matter.department).kind != "department":
            raise ReferenceDataError(
                f"{where}: department '{matter.department}' is not a department"
            )
        if matter.code in matters:
            raise ReferenceDataError(f"{where}: code '{matter.code}' is declared twice")
        matters[matter.code] = matter
    return matters


def load_officers(path: Path, parties: Registry) -> dict[str, Officer]:
    """Load the certified-officer roster seed; each officer's party must be known."""
    officers: dict[str, Officer] = {}
    for index, entry in enumerate(_load_yaml(path, "officers")):
        where = f"{path}: officers[{index}] ({entry.get('certificate_no')})"
        try:
            officer = Officer(
                certificate_no=str(entry["certificate_no"]),
                name=str(entry["name"]),
                party=str(entry["party"]),
                valid_until=date.fromisoformat(str(entry["valid_until"])),
                status=str(entry.get("status", "active")),
            )
        except KeyError as exc:
            raise ReferenceDataError(f"{where}: missing key {exc}") from None
        except ValueError as exc:
            raise ReferenceDataError(f"{where}: {exc}") from None
        if officer.party not in parties:
            raise ReferenceDataError(f"{where}: unknown party '{officer.party}'")
        if officer.status not in ("active", "suspended"):
            raise ReferenceDataError(f"{where}: status must be active or suspended")
        if officer.certificate_no in officers:
            raise ReferenceDataError(f"{where}: certificate number declared twice")
        officers[officer.certificate_no] = officer
    return officers


def load_seed_reference(
    parties_file: Path | None = None, folder: Path = REFERENCE_DIR
) -> Reference:
    """The reference data of the seed files (what ``hub reference load`` publishes)."""
    parties = load_parties(parties_file or folder / "parties.yaml")
    return Reference(
        parties=parties,
        matters=load_matters(folder / "matters.yaml", parties),
        officers=load_officers(folder / "officers.yaml", parties),
    )

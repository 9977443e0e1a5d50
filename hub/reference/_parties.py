"""The parties reference file (``hub/reference/parties.yaml``): load and validate."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import yaml

from hub.errors import ReferenceDataError

_ID_RULE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_ALLOWED_KEYS = {"id", "name", "kind", "inbox"}


class PartyKind(StrEnum):
    """What a party is; decides what it may publish and read."""

    STREET = "street"  # 街道综合执法中心
    DEPARTMENT = "department"  # 赋权部门
    BIGDATA = "bigdata"  # 区政务服务和大数据管理局
    JUSTICE = "justice"  # 区司法局
    FINANCE = "finance"  # 区财政局
    POLICE = "police"  # 区公安分局
    PROCURATORATE = "procuratorate"  # 区人民检察院
    COURT = "court"  # 区人民法院
    OPS = "ops"  # 运维


@dataclass(frozen=True, slots=True)
class Party:
    """One party: stable ASCII id, Chinese name, kind, and whether it has an inbox topic."""

    id: str
    name: str
    kind: PartyKind
    inbox: bool = True


class Registry:
    """The loaded parties, by id, in file order."""

    def __init__(self, parties: list[Party], source: Path) -> None:
        self._parties = {party.id: party for party in parties}
        self.source = source

    def __iter__(self) -> Iterator[Party]:
        return iter(self._parties.values())

    def __len__(self) -> int:
        return len(self._parties)

    def __contains__(self, party_id: object) -> bool:
        return party_id in self._parties

    def get(self, party_id: str) -> Party:
        """The party with this id; `KeyError` naming the id when unknown."""
        try:
            return self._parties[party_id]
        except KeyError:
            raise KeyError(f"unknown party id '{party_id}'") from None

    def of_kind(self, *kinds: PartyKind) -> list[Party]:
        """Parties of the given kinds, in file order."""
        return [party for party in self._parties.values() if party.kind in kinds]

    def with_inbox(self) -> list[Party]:
        """Parties that receive orders and events in their own ``out.<id>.v1`` topic."""
        return [party for party in self._parties.values() if party.inbox]


def _fail(path: Path, where: str, rule: str) -> ReferenceDataError:
    return ReferenceDataError(f"{path}: {where}: {rule}")


def load_parties(path: Path) -> Registry:
    """Load and validate the parties file; `ReferenceDataError` names file, entry and rule."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReferenceDataError(f"{path}: cannot read the parties file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ReferenceDataError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise ReferenceDataError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("parties"), list):
        raise _fail(path, "top level", "must be a mapping with a 'parties' list")
    parties: list[Party] = []
    seen: set[str] = set()
    for index, entry in enumerate(document["parties"]):
        where = f"parties[{index}]"
        if not isinstance(entry, dict):
            raise _fail(path, where, "each party must be a mapping with id, name and kind")
        if isinstance(entry.get("id"), str):
            where += f" ({entry['id']})"
        unknown = sorted(set(entry) - _ALLOWED_KEYS)
        if unknown:
            raise _fail(path, where, f"unknown key(s) {unknown}; allowed: {sorted(_ALLOWED_KEYS)}")
        party_id, name, kind = entry.get("id"), entry.get("name"), entry.get("kind")
        if not isinstance(party_id, str) or not _ID_RULE.fullmatch(party_id) or len(party_id) > 40:
            raise _fail(
                path, where, "id must be lower-case ASCII words joined by '-' (at most 40 chars)"
            )
        if party_id in seen:
            raise _fail(path, where, f"id '{party_id}' is declared twice")
        if not isinstance(name, str) or not name.strip():
            raise _fail(path, where, "name must be a non-empty string (the Chinese name)")
        try:
            party_kind = PartyKind(str(kind))
        except ValueError:
            allowed = ", ".join(k.value for k in PartyKind)
            raise _fail(path, where, f"kind '{kind}' is not one of: {allowed}") from None
        inbox = entry.get("inbox", party_kind is not PartyKind.OPS)
        if not isinstance(inbox, bool):
            raise _fail(path, where, "inbox must be true or false")
        seen.add(party_id)
        parties.append(Party(id=party_id, name=name.strip(), kind=party_kind, inbox=inbox))
    if not parties:
        raise _fail(path, "parties", "the list is empty")
    return Registry(parties, path)

"""Every mapping spec shipped with the hub, found by party kind and native kind.

Specs live beside their connector: ``connectors/<party kind>/mappings/*.yaml`` (the
department connector has one per department system). A party may use the specs of its
kind; ``department`` specs also name the one department they belong to (``party``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hub.errors import ConfigError
from hub.mapping._engine import MappingSpec, load_spec
from hub.reference import Party, PartyKind
from hub.settings import PROJECT_ROOT

MAPPINGS_ROOT = PROJECT_ROOT / "connectors"
_FOLDERS = {
    "department": PartyKind.DEPARTMENT,
    "bigdata": PartyKind.BIGDATA,
    "police": PartyKind.POLICE,
    "procuratorate": PartyKind.PROCURATORATE,
    "court": PartyKind.COURT,
    "street": PartyKind.STREET,
    "finance": PartyKind.FINANCE,
}


@dataclass(frozen=True)
class Shipped:
    """A spec and who may use it."""

    spec: MappingSpec
    kind: PartyKind
    path: Path


class SpecCatalogue:
    """Lookup of mapping specs: inbound by (party, native kind), outbound by (party, kind)."""

    def __init__(self, shipped: list[Shipped]) -> None:
        self.shipped = shipped
        seen: dict[tuple[PartyKind, str], Path] = {}
        for item in shipped:
            key = (item.kind, item.spec.native_kind)
            if key in seen:
                raise ConfigError(
                    f"{item.path}: native kind '{item.spec.native_kind}' is already used by "
                    f"{seen[key]}; give each native kind of a party kind one spec"
                )
            seen[key] = item.path

    def _usable(self, item: Shipped, party: Party) -> bool:
        return item.kind is party.kind and (item.spec.party in (None, party.id))

    def inbound(self, party: Party, native_kind: str) -> MappingSpec | None:
        """The spec that maps party's native_kind into a canonical record."""
        for item in self.shipped:
            spec = item.spec
            if spec.direction == "in" and spec.native_kind == native_kind:
                if self._usable(item, party):
                    return spec
        return None

    def outbound(
        self, party: Party, canonical: str, record: dict[str, object]
    ) -> MappingSpec | None:
        """The spec that renders a canonical record of kind canonical for party."""
        for item in self.shipped:
            spec = item.spec
            if spec.direction != "out" or spec.canonical != canonical:
                continue
            if self._usable(item, party) and spec.matches(record):
                return spec
        return None

    def native_kinds(self, party: Party) -> list[str]:
        """The native kinds party may send."""
        return sorted(
            item.spec.native_kind
            for item in self.shipped
            if item.spec.direction == "in" and self._usable(item, party)
        )


def load_catalogue(root: Path = MAPPINGS_ROOT) -> SpecCatalogue:
    """Read every ``<party kind>/mappings/*.yaml`` under root."""
    shipped = []
    for folder, kind in _FOLDERS.items():
        for path in sorted((root / folder / "mappings").glob("*.yaml")):
            shipped.append(Shipped(load_spec(path), kind, path))
    return SpecCatalogue(shipped)

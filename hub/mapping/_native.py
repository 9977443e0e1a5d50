"""One native record to its canonical fields: the step the native endpoint and the
normalise stage share, so a native post and a connector's record map alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub.mapping._catalogue import SpecCatalogue
from hub.mapping._engine import MappingError, MappingSpec
from hub.reference import Party
from hub.wire import NATIVE_KIND_HEADER


@dataclass(frozen=True)
class Mapped:
    """The canonical fields a native record maps to, and the spec that mapped it."""

    spec: MappingSpec
    data: dict[str, Any]

    @property
    def canonical(self) -> str:
        return self.spec.canonical


def unknown_kind(party_id: str, native_kind: str, known: Sequence[str] = ()) -> MappingError:
    """A native record of a kind its party has no mapping for (or of no known party)."""
    return MappingError(
        "kind.unknown",
        NATIVE_KIND_HEADER,
        "(record)",
        f"{party_id} has no mapping for native kind '{native_kind}'"
        + (f"; its kinds: {', '.join(known)}" if known else ""),
        f"没有{party_id}的“{native_kind}”报文映射",
    )


def normalise_native(
    catalogue: SpecCatalogue,
    party: Party,
    native_kind: str,
    payload: bytes,
    charset: str | None = None,
) -> Mapped:
    """Decode payload as party's native_kind and map it (``source_party`` set to the
    party); `MappingError` with rule ``kind.unknown`` when party has no such kind, or
    the mapping rule that failed. The caller validates the result as its record kind."""
    spec = catalogue.inbound(party, native_kind)
    if spec is None:
        raise unknown_kind(party.id, native_kind, catalogue.native_kinds(party))
    data = spec.apply(spec.decode(payload, charset))
    data["source_party"] = party.id
    return Mapped(spec, data)

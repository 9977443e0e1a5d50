"""Mappings between the parties' native records and the hub's canonical ones.

The engine (`MappingSpec`, one YAML file per native kind, documented in
`hub.mapping._engine`), the catalogue of every shipped spec (`load_catalogue`, specs
beside their connector in ``connectors/<party kind>/mappings/``), and
`normalise_native`, the one step from native bytes to canonical fields that the native
endpoint and the normalise stage both take.
"""

from hub.mapping._catalogue import MAPPINGS_ROOT, Shipped, SpecCatalogue, load_catalogue
from hub.mapping._engine import MappingError, MappingSpec, Rule, load_spec
from hub.mapping._native import Mapped, normalise_native, unknown_kind

__all__ = [
    "MAPPINGS_ROOT",
    "Mapped",
    "MappingError",
    "MappingSpec",
    "Rule",
    "Shipped",
    "SpecCatalogue",
    "load_catalogue",
    "load_spec",
    "normalise_native",
    "unknown_kind",
]

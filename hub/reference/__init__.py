"""Reference data the hub loads: parties (docs/design.md §2), matter catalogue, officer roster."""

from hub.reference._calendar import BEIJING, WorkCalendar, load_calendar
from hub.reference._catalogue import (
    REFERENCE_DIR,
    Matter,
    Officer,
    Reference,
    load_matters,
    load_officers,
    load_seed_reference,
)
from hub.reference._live import LiveReference
from hub.reference._parties import Party, PartyKind, Registry, load_parties

__all__ = [
    "BEIJING",
    "WorkCalendar",
    "load_calendar",
    "REFERENCE_DIR",
    "LiveReference",
    "Matter",
    "Officer",
    "Party",
    "PartyKind",
    "Reference",
    "Registry",
    "load_matters",
    "load_officers",
    "load_parties",
    "load_seed_reference",
]

"""Reference data the hub loads at start: the parties of DESIGN §2."""

from hub.reference._parties import Party, PartyKind, Registry, load_parties

__all__ = ["Party", "PartyKind", "Registry", "load_parties"]

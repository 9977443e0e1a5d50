"""Test doubles of the parties' own systems (a street platform, a department API...).

They stand in for the other side of a connector in tests and in the demo: the hub's
connectors talk to them over real HTTP, exactly as they would talk to a party. Nothing
under ``hub/`` or ``connectors/`` imports this package; it is not part of the product.

``tests.simulators.party`` holds `PartySimulator` (import it from there; this package
imports nothing, so ``python -m tests.simulators.party`` runs cleanly).
"""

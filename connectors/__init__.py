"""Connectors of the Wuchang enforcement exchange hub: one package per external party kind.

Each connector maps a party's native records to the hub's canonical Avro records and
back, and carries them over its transport (HTTP push or poll, file drop, direct Kafka).
"""

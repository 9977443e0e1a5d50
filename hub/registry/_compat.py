"""Schema compatibility, checked with the Apache ``avro`` package (``avro.compatibility``)."""

from __future__ import annotations

import json
from typing import Final

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

LEVELS: Final = (
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
)


def parse(schema: str) -> avro.schema.Schema:
    """Parse an Avro schema text; `ValueError` with the parser's reason when invalid."""
    try:
        return avro.schema.parse(schema)
    except (avro.errors.SchemaParseException, json.JSONDecodeError, TypeError, KeyError) as exc:
        raise ValueError(f"invalid Avro schema: {exc}") from None


def _can_read(reader: avro.schema.Schema, writer: avro.schema.Schema) -> list[str]:
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(reader, writer)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    kinds = ", ".join(sorted({i.value for i in result.incompatibilities}))
    where = ", ".join(sorted(result.locations))
    return [f"{message} ({kinds} at {where})" for message in sorted(result.messages)] or [kinds]


def incompatibilities(level: str, new: str, previous: list[str]) -> list[str]:
    """Reasons new is not compatible at level with previous (oldest first); [] if it is."""
    if level == "NONE" or not previous:
        return []
    candidate = parse(new)
    against = previous if level.endswith("_TRANSITIVE") else previous[-1:]
    reasons: list[str] = []
    for index, old_text in enumerate(against):
        old = parse(old_text)
        label = "the latest version" if len(against) == 1 else f"version {index + 1}"
        if level.startswith(("BACKWARD", "FULL")):
            reasons += [
                f"{label}: new schema cannot read old data: {r}" for r in _can_read(candidate, old)
            ]
        if level.startswith(("FORWARD", "FULL")):
            reasons += [
                f"{label}: old readers cannot read new data: {r}" for r in _can_read(old, candidate)
            ]
    return reasons


def canonical(schema: str) -> str:
    """A stable text for comparing schemas (parsed and re-serialised, keys sorted)."""
    return json.dumps(json.loads(schema), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

"""The state of the embedded schema registry, rebuilt from the ``_schemas`` topic.

Records use Confluent's own ``_schemas`` layout, so the topic reads the same to any
tool that knows it:

- key ``{"keytype": "SCHEMA", "subject": s, "version": v, "magic": 1}``,
  value ``{"subject": s, "version": v, "id": n, "schema": "...", "deleted": false}``
- key ``{"keytype": "CONFIG", "subject": s | null, "magic": 0}``,
  value ``{"compatibilityLevel": "BACKWARD"}``

The single partition gives every worker the same order; when two workers race for an
id or a subject version, the first record in the log wins and the loser retries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hub.registry._compat import canonical


@dataclass(frozen=True)
class Registered:
    """One version of a subject."""

    subject: str
    version: int
    id: int
    schema: str


@dataclass
class SchemaStore:
    """Subjects, versions, ids and compatibility levels, applied from log records."""

    default_level: str = "BACKWARD"
    subjects: dict[str, list[Registered]] = field(default_factory=dict)
    by_id: dict[int, str] = field(default_factory=dict)
    _id_of_schema: dict[str, int] = field(default_factory=dict)
    levels: dict[str | None, str] = field(default_factory=dict)

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """Apply one ``_schemas`` record; malformed or losing records are ignored."""
        try:
            parsed_key = json.loads(key) if key else None
            parsed_value = json.loads(value) if value else None
        except (ValueError, UnicodeDecodeError):
            return
        if not isinstance(parsed_key, dict):
            return
        if parsed_key.get("keytype") == "CONFIG":
            if isinstance(parsed_value, dict) and "compatibilityLevel" in parsed_value:
                self.levels[parsed_key.get("subject")] = str(parsed_value["compatibilityLevel"])
            elif parsed_value is None:
                self.levels.pop(parsed_key.get("subject"), None)
            return
        if parsed_key.get("keytype") != "SCHEMA" or not isinstance(parsed_value, dict):
            return
        self._apply_schema(parsed_value)

    def _apply_schema(self, value: dict[str, Any]) -> None:
        try:
            subject, version = str(value["subject"]), int(value["version"])
            schema_id, text = int(value["id"]), str(value["schema"])
        except (KeyError, TypeError, ValueError):
            return
        if value.get("deleted"):
            return
        key = canonical(text)
        owner = self.by_id.get(schema_id)
        if owner is not None and canonical(owner) != key:
            return  # id already taken by another schema: first writer won
        if key in self._id_of_schema and self._id_of_schema[key] != schema_id:
            return  # the same schema already has another id
        versions = self.subjects.setdefault(subject, [])
        if any(v.version == version for v in versions):
            return  # this subject version was taken first
        if any(canonical(v.schema) == key for v in versions):
            return  # already registered under this subject
        self.by_id[schema_id] = text
        self._id_of_schema[key] = schema_id
        versions.append(Registered(subject, version, schema_id, text))
        versions.sort(key=lambda v: v.version)

    def level(self, subject: str | None) -> str:
        """The compatibility level of subject (its own, else the global one)."""
        if subject is not None and subject in self.levels:
            return self.levels[subject]
        return self.levels.get(None, self.default_level)

    def find(self, subject: str, schema: str) -> Registered | None:
        """The version of subject holding schema, if registered."""
        key = canonical(schema)
        for version in self.subjects.get(subject, []):
            if canonical(version.schema) == key:
                return version
        return None

    def id_for(self, schema: str) -> int | None:
        """The id of schema under any subject (ids are shared by identical schemas)."""
        return self._id_of_schema.get(canonical(schema))

    def next_id(self) -> int:
        return max(self.by_id, default=0) + 1

    def latest(self, subject: str) -> Registered | None:
        versions = self.subjects.get(subject)
        return versions[-1] if versions else None

    @staticmethod
    def schema_record(entry: Registered) -> tuple[bytes, bytes]:
        """The key and value that register entry in the log."""
        key = {"keytype": "SCHEMA", "subject": entry.subject, "version": entry.version, "magic": 1}
        value = {
            "subject": entry.subject,
            "version": entry.version,
            "id": entry.id,
            "schema": entry.schema,
            "deleted": False,
        }
        return _dump(key), _dump(value)

    @staticmethod
    def config_record(subject: str | None, level: str) -> tuple[bytes, bytes]:
        """The key and value that set subject's (or the global) compatibility level."""
        return _dump({"keytype": "CONFIG", "subject": subject, "magic": 0}), _dump(
            {"compatibilityLevel": level}
        )


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()

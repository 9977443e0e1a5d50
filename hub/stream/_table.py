"""A keyed table a stage keeps per partition, backed by a compacted changelog topic.

The table of partition N lives on the worker that owns partition N of its source topics
(which are co-partitioned): the pipeline restores it from partition N of
``<app>-<name>-changelog`` before it hands that worker a record of partition N, and
drops it when the partition moves away. Keys and values are JSON (the layout Faust's
tables used, so a changelog written by an earlier hub is read as it is).

Inside a record, a write is held in the record's `Outputs` and applied only after the
record's outputs were acknowledged (`hub.stream._outputs`); reads see the record's own
pending writes. Outside a record (never, in the stages) a write would be refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from hub.stream._outputs import StateWrite, current

_MISSING = object()


def encode_key(key: str) -> bytes:
    return json.dumps(key).encode()


def decode_key(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        key = json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
    return key if isinstance(key, str) else str(key)


def encode_value(value: Any) -> bytes | None:
    return None if value is None else json.dumps(value, separators=(",", ":")).encode()


def decode_value(raw: bytes | None) -> Any:
    return None if raw is None else json.loads(raw)


class Table:
    """Partitioned key → JSON value, its durable copy in the changelog topic."""

    def __init__(self, name: str, app_id: str, partitions: int) -> None:
        self.name = name
        self.changelog = f"{app_id}-{name}-changelog"
        self.partitions = partitions
        self._data: dict[int, dict[str, Any]] = {}

    # -------------------------------------------------------------- reading

    def get(self, key: str, default: Any = None) -> Any:
        outputs = current()
        if outputs is not None:
            pending = outputs.pending(self, key)
            if pending is not None:
                return default if pending.value is None else pending.value
        for data in self._data.values():
            if key in data:
                return data[key]
        return default

    def __contains__(self, key: str) -> bool:
        return self.get(key, _MISSING) is not _MISSING

    def items(self) -> Iterator[tuple[str, Any]]:
        """Every key and value of the partitions held here (a snapshot)."""
        for data in list(self._data.values()):
            yield from list(data.items())

    def held(self) -> set[int]:
        """The partitions restored on this worker."""
        return set(self._data)

    # -------------------------------------------------------------- writing

    def __setitem__(self, key: str, value: Any) -> None:
        self._write(key, value)

    def __delitem__(self, key: str) -> None:
        self._write(key, None)

    def pop(self, key: str, default: Any = None) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            return default
        self._write(key, None)
        return value

    def _write(self, key: str, value: Any) -> None:
        outputs = current()
        if outputs is None:
            raise RuntimeError(
                f"table {self.name} changes only while a record is processed (key {key})"
            )
        outputs.writes[(id(self), key)] = StateWrite(self, outputs.partition, key, value)

    # ---------------------------------------------- the pipeline's side

    def apply(self, partition: int, key: str, value: Any) -> None:
        """Apply one change in memory (after its changelog write was acknowledged, or
        while restoring)."""
        data = self._data.setdefault(partition, {})
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value

    def restored(self, partition: int, data: dict[str, Any]) -> None:
        self._data[partition] = data

    def drop(self, partition: int) -> None:
        self._data.pop(partition, None)

"""A keyed table a stage keeps per partition, backed by a compacted changelog topic.

The table of partition N lives on the worker that owns partition N of its source topics
(which are co-partitioned): the pipeline restores it from partition N of
``<app>-<name>-changelog`` before it hands that worker a record of partition N, and
drops it when the partition moves away. Keys and values are JSON (the layout Faust's
tables used, so a changelog written by an earlier hub is read as it is).

Inside a record, a write is held in the record's `Outputs` and applied only after the
record's outputs were acknowledged (`hub.stream._outputs`); reads see the record's own
pending writes. Outside a record (never, in the stages) a write would be refused. Values are
written with orjson (compact, UTF-8) and read with it; what the json module wrote before
reads the same.

A reader that needs a figure over all values (counters, what is open, what is due)
keeps it as a `TableIndex`: the table tells it every change as it is applied, restored
or dropped, so the reader's cost follows the changes, never the table's size.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, Protocol

import orjson

from hub.logs import RateLimited
from hub.stream._outputs import StateWrite, current

_MISSING = object()
log = logging.getLogger(__name__)
noisy = RateLimited(log, every=30.0)


class TableIndex(Protocol):
    """A figure kept over a table's values, told every change of a partition held here."""

    def changed(self, partition: int, key: str, old: Any, new: Any) -> None:
        """key of partition changed from old to new (None: absent)."""

    def dropped(self, partition: int) -> None:
        """partition is no longer held here (moved away, or about to be restored)."""


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
    return None if value is None else orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def decode_value(raw: bytes | None) -> Any:
    return None if raw is None else orjson.loads(raw)


class Table:
    """Partitioned key → JSON value, its durable copy in the changelog topic."""

    def __init__(self, name: str, app_id: str, partitions: int) -> None:
        self.name = name
        self.changelog = f"{app_id}-{name}-changelog"
        self.partitions = partitions
        self._data: dict[int, dict[str, Any]] = {}
        self._indexes: list[TableIndex] = []

    def watch(self, index: TableIndex) -> None:
        """Tell index every change from now on, and what is held already."""
        self._indexes.append(index)
        for partition in list(self._data):
            self._rebuild(index, partition)

    def reindex(self, index: TableIndex) -> None:
        """Tell index everything held again (what it derives from values has changed)."""
        for partition in list(self._data):
            index.dropped(partition)
            self._rebuild(index, partition)

    def _rebuild(self, index: TableIndex, partition: int) -> None:
        for key, value in list(self._data.get(partition, {}).items()):
            self._tell(index, partition, key, None, value)

    def _tell(self, index: TableIndex, partition: int, key: str, old: Any, new: Any) -> None:
        try:
            index.changed(partition, key, old, new)
        except Exception as exc:  # noqa: BLE001 - a figure wrong, never a record lost
            noisy.error("table %s: index %s failed on %s: %r", self.name,
                        type(index).__name__, key, exc)

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
        old = data.pop(key, None) if value is None else data.get(key)
        if value is not None:
            data[key] = value
        for index in self._indexes:
            self._tell(index, partition, key, old, value)

    def restored(self, partition: int, data: dict[str, Any]) -> None:
        self._data[partition] = data
        for index in self._indexes:
            index.dropped(partition)
            self._rebuild(index, partition)

    def drop(self, partition: int) -> None:
        self._data.pop(partition, None)
        for index in self._indexes:
            index.dropped(partition)

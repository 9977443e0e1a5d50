"""The shared view's local store: RocksDB through rocksdict, on the worker's disk.

One store per worker (``<HUB_DATA_DIR>/shared-view/<app id>-<HTTP port>``) holds, for
every dataset, each key's Avro bytes, the values of its secondary keys and an index
entry per secondary key, and for every partition of the datasets' topics the next offset
to read. A restarted worker opens it, checks that the topics still hold those offsets
(a topic deleted and created again, or emptied, does not: the store is cleared and read
from the start) and reads only what was written since. Offsets are stored after the
records they cover, and applying a record is idempotent, so a crash in between reads
a few records again and changes nothing.

Layout (raw bytes keys; ``\\0`` separates parts, which no dataset id, field name, key or
value of a key field contains):

- ``r\\0<dataset>\\0<key>`` → the record's Avro bytes
- ``s\\0<dataset>\\0<key>`` → its secondary keys' values, ``\\0``-joined
- ``i\\0<dataset>\\0<name>\\0<value>\\0<key>`` → empty: the secondary index
- ``o\\0<topic>\\0<partition>`` → the next offset to read, decimal
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from rocksdict import Options, Rdict

log = logging.getLogger(__name__)

SEP = b"\0"


def _key(*parts: str | bytes) -> bytes:
    return SEP.join(p if isinstance(p, bytes) else p.encode() for p in parts)


class ViewStore:
    """Keys and values in one RocksDB; `clear` empties it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._temporary = False
        try:
            self._db = self._open(path)
        except Exception as exc:  # noqa: BLE001 - rocksdict raises plain Exception (a lock)
            self.path = Path(tempfile.mkdtemp(prefix="hub-shared-view-"))
            self._temporary = True
            log.warning("shared view: cannot open %s (%s); keeping the view in %s for this "
                        "run only (read from the start at each start)", path, exc, self.path)
            self._db = self._open(self.path)

    @staticmethod
    def _open(path: Path) -> Rdict:
        path.parent.mkdir(parents=True, exist_ok=True)
        return Rdict(str(path), options=Options(raw_mode=True))

    # ----------------------------------------------------------- key-value

    def get(self, key: bytes) -> bytes | None:
        value = self._db.get(key)
        return None if value is None else bytes(value)

    def put(self, key: bytes, value: bytes) -> None:
        self._db[key] = value

    def delete(self, key: bytes) -> None:
        del self._db[key]

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Every key starting with prefix, in order, with its value."""
        for key, value in self._db.items(from_key=prefix):
            raw = bytes(key)  # type: ignore[arg-type]  # raw mode: keys are bytes
            if not raw.startswith(prefix):
                return
            yield raw, bytes(value)

    # ------------------------------------------------------------ offsets

    def offset(self, topic: str, partition: int) -> int | None:
        value = self.get(_key("o", topic, str(partition)))
        return None if value is None else int(value)

    def offsets(self) -> dict[tuple[str, int], int]:
        found = {}
        for key, value in self.scan(b"o" + SEP):
            _, topic, partition = key.split(SEP)
            found[(topic.decode(), int(partition))] = int(value)
        return found

    def keep_offset(self, topic: str, partition: int, offset: int) -> None:
        self.put(_key("o", topic, str(partition)), str(offset).encode())

    # ------------------------------------------------------------ lifecycle

    def clear(self) -> None:
        """Empty the store (delete its files and open it again)."""
        self._db.close()
        Rdict.destroy(str(self.path))
        self._db = self._open(self.path)

    def close(self) -> None:
        self._db.close()
        if self._temporary:
            shutil.rmtree(self.path, ignore_errors=True)


def record_key(dataset: str, key: str) -> bytes:
    return _key("r", dataset, key)


def secondaries_key(dataset: str, key: str) -> bytes:
    return _key("s", dataset, key)


def index_key(dataset: str, name: str, value: str, key: str = "") -> bytes:
    """The index entry of key (without key: the prefix of every key with that value)."""
    return _key("i", dataset, name, value, key)

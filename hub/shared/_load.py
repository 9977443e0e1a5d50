"""Bulk loads of a shared dataset (issue 17): ``hub shared load FILE --dataset entity``.

A register of market entities is a million rows or more; sending each through the
gateway would take hours. The owner's full extract is read from a file instead (JSON
lines, or CSV with a header row of field names; UTF-8, a BOM allowed), each row checked
by the dataset's record model as if its owner had published it (``source_party`` the
owner, ``source_id`` ``<dataset>/<key>``, ``occurred_at`` the row's or now), encoded once
and written to the dataset's compacted topic with acks=all, in the order of the file.
Rows that break a rule are not written and are reported with their line and rule; the
command exits 1 when there were any. Progress goes to stderr once a second.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.errors import ConfigError, RecordInvalid
from hub.records import KINDS, validate
from hub.serde import AvroSerde
from hub.settings import HubSettings
from hub.shared._catalogue import Dataset
from hub.wire import BulkWriter, new_producer

FLUSH_EVERY = 5000  # rows between waits for the broker's acknowledgements
REPORTED = 20  # rejected rows shown one by one; the rest are counted


@dataclass
class LoadResult:
    """What a load did: rows read, written, rejected (the first few with their reason)."""

    read: int = 0
    written: int = 0
    rejected: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def loadable(dataset: Dataset) -> bool:
    """Whether a dataset is loaded from its owner's extract (the share topics; the
    penalties are the hub's own disclosures)."""
    return dataset.topic.startswith("share.")


def rows_of(path: Path) -> Iterator[tuple[int, dict[str, Any] | str, int]]:
    """(line number, the row or why it is unreadable, bytes read so far) for each row."""
    raw = path.open("rb")
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    try:
        if path.suffix.lower() == ".csv":
            reader = csv.DictReader(text)
            for row in reader:
                cleaned = {k: v for k, v in row.items() if k is not None and v not in ("", None)}
                yield reader.line_num, cleaned, raw.tell()
            return
        for number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, f"not JSON: {exc.msg}", raw.tell()
                continue
            yield number, row if isinstance(row, dict) else "not a JSON object", raw.tell()
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    finally:
        text.close()


async def load_file(
    settings: HubSettings,
    serde: AvroSerde,
    dataset: Dataset,
    path: Path,
    progress: Callable[[LoadResult, float], None] | None = None,
) -> LoadResult:
    """Check and write every row of path to the dataset's topic (module docstring);
    progress(result, share of the file read) about once a second."""
    if not loadable(dataset):
        raise ConfigError(f"{dataset.id} is written by the hub itself, not loaded from a file")
    kind = KINDS[dataset.kind]
    size = _size_of(path)
    result = LoadResult()
    started = last = time.monotonic()
    now = datetime.now(UTC).isoformat()
    producer = new_producer(settings, client_id=f"hub-shared-load-{dataset.id}",
                            linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    try:
        writer = await serde.writer(kind)
        bulk = BulkWriter(producer, kind.topic)
        pending = 0
        for number, row, done in rows_of(path):
            result.read += 1
            record = _record_of(dataset, row, number, now, result)
            if record is not None:
                await bulk.add(kind.key_of(record), serde.encode_with(writer, record))
                result.written += 1
                pending += 1
                if pending >= FLUSH_EVERY:
                    await bulk.flush()
                    pending = 0
            if progress is not None and time.monotonic() - last >= 1.0:
                last = time.monotonic()
                result.seconds = last - started
                progress(result, done / size)
        await bulk.flush()
    finally:
        await producer.stop()
    result.seconds = time.monotonic() - started
    if progress is not None:
        progress(result, 1.0)
    return result


def _size_of(path: Path) -> int:
    """The size of the file to load (at least 1, for the progress share)."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    return max(path.stat().st_size, 1)


def _record_of(
    dataset: Dataset, row: dict[str, Any] | str, number: int, now: str, result: LoadResult
) -> Any:
    """The validated record of one row, or None (counted and reported as rejected)."""
    if isinstance(row, str):
        return _reject(result, number, row)
    key = row.get(dataset.key)
    data = {
        "occurred_at": now,
        **row,
        "source_party": dataset.owner,
        "source_id": f"{dataset.id}/{key}",
    }
    try:
        return validate(dataset.kind, data)
    except RecordInvalid as exc:
        first = exc.errors[0]
        more = f" (+{len(exc.errors) - 1} more)" if len(exc.errors) > 1 else ""
        return _reject(result, number, f"{first.path}: [{first.rule}] {first.message_en} / "
                       f"{first.message_zh}{more}")


def _reject(result: LoadResult, number: int, why: str) -> None:
    result.rejected += 1
    if len(result.problems) < REPORTED:
        result.problems.append(f"line {number}: {why}")
    return None

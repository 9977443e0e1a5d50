"""Sources: HTTP poll with a cursor kept in Kafka, and file drop with a ledger.

Both hand each native record to ``emit`` (durable in ``raw.<party>.v1`` when it returns)
and only then move their position on, so a crash re-reads at most the last page or file,
and record ids (uuid5 of party and native id) make a re-read record the same record.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import logging
import time
from pathlib import Path
from typing import Any, Literal

import aiohttp
from pydantic import Field, HttpUrl

from connectors._base import Emit, RawRecord, Source
from connectors._config import ConnectorSpec
from connectors._registry import Runtime, Transport, register
from hub.errors import HubError
from hub.wire import CHARSET_HEADER, ConnectorState

log = logging.getLogger(__name__)



class PollConnector(ConnectorSpec):
    """Polls the party's HTTP API with a cursor kept in Kafka (HTTP poll)."""

    type: Literal["http-poll"] = Field(description="HTTP poll of the party's API")
    url: HttpUrl = Field(description="GET endpoint answering {records: [...], next_cursor}")
    native_kind: str = Field(description="native kind of the records (a mapping spec)")
    interval_seconds: float = Field(default=30.0, gt=0, description="pause between polls")
    cursor_param: str = Field(default="cursor", description="query parameter of the cursor")
    records_field: str = Field(default="records", description="answer field with the records")
    cursor_field: str = Field(default="next_cursor", description="answer field: next cursor")
    token_file: str | None = Field(
        default=None, description="file with a bearer token for the party's API"
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="per request")


class FileDropConnector(ConnectorSpec):
    """Imports CSV, JSON or JSON-lines files dropped into a folder, each file once."""

    type: Literal["file-drop"] = Field(description="file drop (exchange platform batches)")
    directory: Path = Field(description="folder the party's files arrive in")
    native_kind: str = Field(description="native kind of the rows (a mapping spec)")
    pattern: str = Field(default="*", description="glob of the files to import")
    encoding: str = Field(default="utf-8", description="text encoding of the files")
    csv_delimiter: str = Field(default=",", min_length=1, max_length=1, description="CSV")
    interval_seconds: float = Field(default=5.0, gt=0, description="how often to look")
    settle_seconds: float = Field(
        default=2.0, ge=0, description="a file must be unchanged this long (still copying?)"
    )


def _key(record: Any, key_field: str | None) -> bytes | None:
    """The raw record's Kafka key: the native record's own id (its mapping's source_id
    field), so every version of one native record goes to one partition, in order."""
    if key_field is None or not isinstance(record, dict):
        return None
    value: Any = record
    for part in key_field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return str(value).encode() if value not in (None, "") else None


class PollFailed(HubError):
    """The party's API did not answer usefully; the runner backs off and polls again."""

    retriable = True


class HttpPollSource(Source):
    """GET url?cursor=C → {"records": [...], "next_cursor": "D"}; C is kept in Kafka."""

    def __init__(
        self,
        config: PollConnector,
        state: ConnectorState,
        session: aiohttp.ClientSession | None = None,
        token: str | None = None,
    ) -> None:
        self.config = config
        self.state = state
        self._session = session
        self._own_session = session is None
        self._token = token
        self._stopping = asyncio.Event()
        self.polls = 0

    @property
    def cursor(self) -> str | None:
        entry = self.state.get(self.config.name, "cursor")
        return str(entry["cursor"]) if entry and entry.get("cursor") is not None else None

    async def run(self, emit: Emit) -> None:
        self._stopping = asyncio.Event()  # a stop before (pause) does not end this run
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds)
            )
        try:
            while not self._stopping.is_set():
                more = await self.poll_once(emit)
                if not more:
                    try:
                        await asyncio.wait_for(
                            self._stopping.wait(), timeout=self.config.interval_seconds
                        )
                    except TimeoutError:
                        pass
        finally:
            if self._own_session and self._session is not None:
                await self._session.close()
                self._session = None

    async def poll_once(self, emit: Emit) -> bool:
        """One page: emit its records, then store the next cursor. True when the party
        said there is more (its cursor moved and the page was not empty)."""
        assert self._session is not None  # noqa: S101
        params = {self.config.cursor_param: self.cursor} if self.cursor is not None else {}
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        self.polls += 1
        try:
            async with self._session.get(
                str(self.config.url), params=params, headers=headers
            ) as answer:
                if answer.status != 200:
                    raise PollFailed(f"{self.config.url} answered HTTP {answer.status}")
                page = await answer.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as exc:
            raise PollFailed(f"{self.config.url}: {type(exc).__name__}: {exc}") from None
        if not isinstance(page, dict) or not isinstance(page.get(self.config.records_field), list):
            raise PollFailed(
                f"{self.config.url} did not answer an object with a "
                f"'{self.config.records_field}' list"
            )
        records: list[Any] = page[self.config.records_field]
        next_cursor = page.get(self.config.cursor_field)
        for index, record in enumerate(records):
            payload = json.dumps(record, ensure_ascii=False).encode()
            await emit(
                RawRecord(
                    party=self.config.party,
                    native_kind=self.config.native_kind,
                    payload=payload,
                    key=_key(record, self.key_field),
                    position=f"cursor={self.cursor};index={index}",
                    headers=((CHARSET_HEADER, b"utf-8"),),  # re-encoded from the JSON answer
                )
            )
        moved = next_cursor is not None and str(next_cursor) != self.cursor
        if moved:
            await self.state.put(
                self.config.name, "cursor", {"cursor": str(next_cursor), "at": time.time()}
            )
        return moved and bool(records)

    async def stop(self) -> None:
        self._stopping.set()


class FileDropSource(Source):
    """Imports every new file of a folder once (ledger by content hash in Kafka).

    CSV files (first row: the native field names), JSON arrays and JSON lines. A row
    that cannot be read (a truncated line, a wrong column count, bytes that are not the
    declared encoding) is emitted as it is, so the normaliser parks it in the DLQ with
    the rule it breaks, and the rest of the file goes on.
    """

    def __init__(self, config: FileDropConnector, state: ConnectorState) -> None:
        self.config = config
        self.state = state
        self._stopping = asyncio.Event()
        self.imported = 0

    async def run(self, emit: Emit) -> None:
        self._stopping = asyncio.Event()  # a stop before (pause) does not end this run
        while not self._stopping.is_set():
            await self.scan_once(emit)
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self.config.interval_seconds)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        self._stopping.set()

    async def scan_once(self, emit: Emit) -> int:
        """Import the files that are new and settled; the number imported."""
        folder = self.config.directory
        if not folder.is_dir():
            raise HubError(f"{folder}: not a folder; create it or fix `directory`")
        imported = 0
        now = time.time()
        for path in sorted(folder.glob(self.config.pattern)):
            if not path.is_file() or now - path.stat().st_mtime < self.config.settle_seconds:
                continue
            data = await asyncio.to_thread(path.read_bytes)
            digest = hashlib.sha256(data).hexdigest()
            if self.state.get(self.config.name, f"file/{digest}") is not None:
                continue  # this content was imported before (dropped twice)
            rows = 0
            for position, payload, charset in self._rows(path.name, data):
                headers = ((CHARSET_HEADER, charset.encode()),)
                try:
                    parsed = json.loads(payload) if charset == "utf-8" else None
                except (ValueError, UnicodeDecodeError):
                    parsed = None
                await emit(
                    RawRecord(
                        party=self.config.party,
                        native_kind=self.config.native_kind,
                        payload=payload,
                        key=_key(parsed, self.key_field),
                        position=position,
                        headers=headers,
                    )
                )
                rows += 1
            await self.state.put(
                self.config.name,
                f"file/{digest}",
                {"name": path.name, "rows": rows, "bytes": len(data), "at": time.time()},
            )
            imported += 1
            self.imported += 1
            log.info("%s: imported %s (%d rows)", self.config.name, path.name, rows)
        return imported

    def _rows(self, name: str, data: bytes) -> list[tuple[str, bytes, str]]:
        """(position, payload, charset of the payload) of each row of a file."""
        encoding = self.config.encoding
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            if name.lower().endswith(".csv"):
                return self._csv_rows_by_line(name, data)
            # not the declared encoding somewhere: hand each line over as it is; the
            # mapping's encoding check parks the bad ones with the reason
            return [
                (f"{name}:{n}", line, encoding)
                for n, line in enumerate(data.splitlines(), start=1)
                if line.strip()
            ]
        if name.lower().endswith(".csv"):
            return self._csv_rows(name, text)
        stripped = text.lstrip()
        if stripped.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError:
                items = None
            if isinstance(items, list):
                return [
                    (f"{name}:{n}", json.dumps(item, ensure_ascii=False).encode(), "utf-8")
                    for n, item in enumerate(items, start=1)
                ]
        # JSON lines (also a truncated JSON array: each readable line counts)
        rows = []
        for n, line in enumerate(text.splitlines(), start=1):
            if line.strip() and line.strip() not in ("[", "]"):
                rows.append((f"{name}:{n}", line.strip().rstrip(",").encode(), "utf-8"))
        return rows

    def _csv_rows_by_line(self, name: str, data: bytes) -> list[tuple[str, bytes, str]]:
        """A CSV with some bytes that are not the declared encoding: decode line by line;
        the good rows are read, a bad line is passed on as it is (the DLQ says why)."""
        encoding = self.config.encoding
        lines = data.splitlines()
        try:
            header_text = lines[0].decode(encoding) if lines else ""
        except UnicodeDecodeError:
            return [(f"{name}:{n}", line, encoding) for n, line in enumerate(lines, 1) if line]
        rows = []
        for n, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            try:
                text = line.decode(encoding)
            except UnicodeDecodeError:
                rows.append((f"{name}:{n}", line, encoding))
                continue
            for _, payload, charset in self._csv_rows(name, f"{header_text}\n{text}\n"):
                rows.append((f"{name}:{n}", payload, charset))
        return rows

    def _csv_rows(self, name: str, text: str) -> list[tuple[str, bytes, str]]:
        reader = csv.reader(io.StringIO(text), delimiter=self.config.csv_delimiter)
        header: list[str] | None = None
        rows = []
        for n, cells in enumerate(reader, start=1):
            if header is None:
                header = [cell.strip().lstrip("\ufeff") for cell in cells]
                continue
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                raw = self.config.csv_delimiter.join(cells).encode()
                rows.append((f"{name}:{n}", raw, "utf-8"))  # not JSON: the DLQ says why
                continue
            record = dict(zip(header, cells, strict=True))
            rows.append((f"{name}:{n}", json.dumps(record, ensure_ascii=False).encode(), "utf-8"))
        return rows


def _poll(config: PollConnector, runtime: Runtime) -> HttpPollSource:
    token = runtime.secret(config.token_file)
    return HttpPollSource(config, runtime.state, token=token.decode() if token else None)


register(Transport("http-poll", PollConnector, "source", _poll, lambda c: c.native_kind))
register(Transport(
    "file-drop", FileDropConnector, "source",
    lambda c, runtime: FileDropSource(c, runtime.state), lambda c: c.native_kind,
))

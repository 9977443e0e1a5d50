"""``GET /v1/inbox`` and ``GET /v1/inbox/stream``: what is addressed to the caller.

A party reads its own inbox topic from a cursor (``partition:offset`` pairs), as pages
or as Server-Sent Events resuming from ``Last-Event-ID``. Records are delivered at least
once with stable ids: repeats seen within one page or stream are dropped here, readers
drop the rest by ``record_id``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from hub.errors import DecodeError, KafkaUnavailableError, RecordInvalid
from hub.http.platform import DIGITS, Platform
from hub.http.policy import may_read_inbox
from hub.http.problems import Problem
from hub.http.routes import Answer, Param, Route, install_routes, respond
from hub.reference import Party
from hub.wire import (
    CURSOR_PATTERN,
    HubHeaders,
    InboxItem,
    ReadsInbox,
    decode_cursor,
    encode_cursor,
    inbox_topic,
)


class InboxEntry(BaseModel):
    """收件 one record of the inbox: where it is, its kind, and the record (or why not)."""

    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    kind: str
    record: dict[str, Any] | None = Field(default=None, description="the canonical record")
    error: str | None = Field(default=None, description="why the record could not be read")


class InboxPage(BaseModel):
    """收件箱分页 a page of the inbox and the cursor to resume after its last item."""

    items: list[InboxEntry]
    cursor: str = Field(
        pattern=CURSOR_PATTERN, description="pass back to resume after the last item"
    )


def _cursor(where: str) -> Param:
    return Param(
        "cursor" if where == "query" else "Last-Event-ID",
        "query" if where == "query" else "header",
        {"type": "string", "pattern": CURSOR_PATTERN},
        "partition:offset pairs joined by commas, as the last page (or event id) gave them; "
        "empty or absent: from the start",
    )


ROUTES = (
    Route(
        "GET", "/v1/inbox", "read_inbox", "read_inbox",
        "Orders and events addressed to the caller, from a cursor", "inbox",
        (Answer(200, "a page", InboxPage), Answer(422, "bad cursor or limit")),
        params=(
            _cursor("query"),
            Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000,
                                     "default": 100}),
        ),
    ),
    Route(
        "GET", "/v1/inbox/stream", "stream_inbox", "stream_inbox",
        "The inbox as Server-Sent Events; resumes from Last-Event-ID", "inbox",
        (
            Answer(200, "event stream", schema={"type": "string"}, media="text/event-stream"),
            Answer(422, "bad cursor"),
        ),
        params=(_cursor("query"), _cursor("header")),
        platform=(401, 403, 429),  # Kafka away: an `unavailable` event, the stream goes on
    ),
)


class Inbox:
    """Answers the inbox routes from the parties' inbox topics."""

    def __init__(self, platform: Platform, reader: ReadsInbox) -> None:
        self.platform = platform
        self.inbox = reader
        self.serde = platform.serde
        self._closing = False  # the worker is stopping: open streams end

    def install(self, app: web.Application) -> None:
        install_routes(app, ROUTES, self)
        app.on_shutdown.append(self._end_streams)
        app.on_cleanup.append(self._stop)

    async def _end_streams(self, _: web.Application) -> None:
        """Before the server waits for its handlers: streams end within half a second (a
        browser's EventSource reconnects to another worker with its Last-Event-ID)."""
        self._closing = True

    async def _stop(self, _: web.Application) -> None:
        await self.inbox.stop()

    def _inbox_party(self, request: web.Request) -> Party:
        party: Party = self.platform.caller(request)
        if not may_read_inbox(party.kind) or not party.inbox:
            raise Problem(
                "forbidden",
                f"{party.id} has no inbox: operators read metrics and DLQ metadata only",
                detail_zh="运维方没有收件箱，不能读取业务数据",
            )
        return party

    def _positions(self, cursor: str | None) -> dict[int, int]:
        if not cursor:
            return {}
        try:
            return decode_cursor(cursor)
        except ValueError as exc:
            raise Problem("invalid-parameter", f"cursor: {exc}", detail_zh="游标无效") from None

    async def _render(self, item_headers: dict[str, bytes], value: bytes) -> dict[str, Any]:
        kind_name = HubHeaders.from_kafka(item_headers.items()).kind or "order"
        try:
            record = await self.serde.decode(kind_name, value)
        except (DecodeError, RecordInvalid, KeyError) as exc:
            return {"kind": kind_name, "error": f"unreadable record: {exc}"}
        return {"kind": kind_name, "record": json.loads(record.model_dump_json())}

    async def read_inbox(self, request: web.Request) -> web.Response:
        party = self._inbox_party(request)
        raw_limit = request.query.get("limit", "100")
        if not DIGITS.fullmatch(raw_limit) or not 1 <= int(raw_limit) <= 1000:
            raise Problem(
                "invalid-parameter",
                "limit must be an integer from 1 to 1000",
                detail_zh="limit应为1到1000之间的整数",
            )
        positions = self._positions(request.query.get("cursor"))
        items, after = await self.inbox.read(inbox_topic(party.id), positions, int(raw_limit))
        rendered = []
        seen = _Repeats()
        for item in items:
            if seen.again(item):
                continue  # a redelivery (same record, same bytes): at-least-once inboxes
            rendered.append(
                InboxEntry(
                    partition=item.partition,
                    offset=item.offset,
                    **await self._render(item.headers, item.value),
                )
            )
        return respond(InboxPage(items=rendered, cursor=encode_cursor(after)))

    async def stream_inbox(self, request: web.Request) -> web.StreamResponse:
        party = self._inbox_party(request)
        positions = self._positions(
            request.headers.get("Last-Event-ID") or request.query.get("cursor")
        )
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        topic = inbox_topic(party.id)
        idle = 0.0
        seen = _Repeats()
        while True:
            try:
                items, after = await self.inbox.read(topic, positions, 100)
            except KafkaUnavailableError:
                await response.write(b"event: unavailable\ndata: {}\n\n")
                await asyncio.sleep(2)
                continue
            for item in items:
                positions = {**positions, item.partition: item.offset + 1}
                if seen.again(item):
                    continue
                event = await self._render(item.headers, item.value)
                payload = json.dumps(event, ensure_ascii=False)
                frame = (
                    f"id: {encode_cursor(positions)}\nevent: {event['kind']}\ndata: {payload}\n\n"
                )
                await response.write(frame.encode())
            positions = after
            if self._closing:
                return response
            if not items:
                idle += 0.5
                if idle >= 15:
                    await response.write(b": keep-alive\n\n")
                    idle = 0.0
                await asyncio.sleep(0.5)


class _Repeats:
    """Records already given on this page or stream: the hub delivers at least once,
    and a record it delivers again has the same key and bytes (its ids are stable), so
    repeats a reader can see in one walk are dropped here; across walks readers drop
    them by ``record_id`` (README, "Delivery")."""

    LIMIT = 20_000

    def __init__(self) -> None:
        self._seen: dict[bytes, None] = {}

    def again(self, item: InboxItem) -> bool:
        digest = hashlib.sha256((item.key or b"") + b"\x00" + item.value).digest()
        if digest in self._seen:
            return True
        self._seen[digest] = None
        if len(self._seen) > self.LIMIT:
            self._seen.pop(next(iter(self._seen)))
        return False

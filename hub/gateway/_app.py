"""The HTTP gateway (docs/design.md §8, §9): publish, inbox, authentication, authorisation, audit.

Every request passes, in order: problem rendering (RFC 9457), audit (one AuditEvent per
request, allowed or refused), authentication (bearer token, optional HMAC signature),
the per-party rate limit, and the request timeout. A publish answers 202 only after
every in-sync replica acknowledged the write.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hub.errors import DecodeError, FieldError, KafkaUnavailableError, RecordInvalid
from hub.gateway._limits import RateLimiter, ReplayGuard, retry_after
from hub.gateway._policy import (
    ACTING_FIELD,
    HTTP_KINDS,
    HUB_OWNED_FIELDS,
    may_publish,
    may_read_inbox,
)
from hub.gateway._problems import Problem, count_refusal
from hub.gateway._tokens import TokenEntry, TokenStore
from hub.logs import traced
from hub.metrics import PUBLISH, RECORDS_IN
from hub.records import KINDS, AuditEvent, AuditResult, Envelope, Kind, validate
from hub.reference import Party, Reference
from hub.serde import AvroSerde
from hub.settings import HubSettings
from hub.wire import (
    HubHeaders,
    InboxItem,
    InboxReader,
    Publisher,
    Written,
    decode_cursor,
    encode_cursor,
    inbox_topic,
)

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SIGNATURE_WINDOW = 300.0
_TRACE = re.compile(r"^[0-9a-f]{16,32}$")
_DIGITS = re.compile(r"[0-9]{1,12}")
PUBLIC_PATHS = {"/healthz", "/readyz"}

PARTY = web.RequestKey("hub_party", Party)
TOKEN = web.RequestKey("hub_token", TokenEntry)
OUTCOME = web.RequestKey("hub_outcome", Problem)
TRACE = web.RequestKey("hub_trace_id", str)
SUBJECT = web.RequestKey("hub_subject", str)


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path


PUBLISH_PATHS = ("/v1/records/", "/v1/native/")


def _token(header: str) -> str:
    """The token of an Authorization header: ``Bearer <token>``, or ``Basic`` with the
    token as password (browsers on /ops); "" otherwise."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return ""


class Gateway:
    """Everything the gateway's handlers need; `install` adds routes and middlewares."""

    def __init__(
        self,
        settings: HubSettings,
        reference: Reference,
        serde: AvroSerde,
        tokens: TokenStore | None = None,
    ) -> None:
        """reference may start empty and be replaced (`self.reference = ...`) once loaded."""
        self.settings = settings
        self.reference = reference
        self.serde = serde
        self.tokens = tokens or TokenStore(settings.tokens_path)
        self.publisher = Publisher(settings, settings.kafka_timeout)
        self.inbox = InboxReader(settings, settings.kafka_timeout)
        self.limiter = RateLimiter(settings.gateway_rate, settings.gateway_burst)
        self.replays = ReplayGuard(SIGNATURE_WINDOW)
        self._accepted: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._audit_tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ wiring

    def install(self, app: web.Application) -> None:
        app.middlewares.extend(
            [self._audit, self._problems, self._authenticate, self._rate_limit, self._timeout]
        )
        app.router.add_post("/v1/records/{kind}", self.publish_one)
        app.router.add_post("/v1/records/{kind}/batch", self.publish_batch)
        app.router.add_get("/v1/inbox", self.read_inbox)
        app.router.add_get("/v1/inbox/stream", self.stream_inbox)
        app.router.add_get("/v1/openapi.json", self.openapi)
        app.on_cleanup.append(self._stop)

    async def _stop(self, _: web.Application) -> None:
        if self._audit_tasks:
            await asyncio.wait(self._audit_tasks, timeout=5)
        await self.publisher.stop()
        await self.inbox.stop()

    # ------------------------------------------------------------- middlewares

    @web.middleware
    async def _problems(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except Problem as raised:
            problem = raised
        except web.HTTPRequestEntityTooLarge:
            limit = self.settings.gateway_body_limit
            problem = Problem(
                "body-too-large",
                f"the body is larger than {limit} bytes",
                detail_zh=f"请求体超过{limit}字节",
            )
        except web.HTTPNotFound:
            problem = Problem("not-found", f"no resource at {request.path}")
        except web.HTTPMethodNotAllowed as exc:
            problem = Problem(
                "method-not-allowed",
                f"{request.method} is not allowed on {request.path}",
                headers={"Allow": ", ".join(sorted(exc.allowed_methods))},
            )
        except web.HTTPClientError as exc:
            problem = Problem("bad-request", exc.reason)
        except web.HTTPException:
            raise
        except Exception:  # noqa: BLE001 - answer in the contract's shape, log the cause
            log.exception("unhandled error on %s %s", request.method, request.path)
            problem = Problem("internal", "an unexpected error; the hub logged it")
        request[OUTCOME] = problem
        if request.method == "POST" and request.path.startswith(PUBLISH_PATHS):
            count_refusal(problem)
        return problem.response(request.path)

    @web.middleware
    async def _audit(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.path not in PUBLIC_PATHS and not request.path.startswith("/registry"):
            self._write_audit(request, response.status)
        return response

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS or request.path.startswith("/registry"):
            return await handler(request)
        entry = self.tokens.authenticate(_token(request.headers.get("Authorization", "")))
        if entry is None or entry.party == "hub" or entry.party not in self.reference.parties:
            # a browser opening /ops asks its user for the token (HTTP Basic, as password)
            browser = request.path.startswith("/ops")
            raise Problem(
                "unauthenticated",
                "send Authorization: Bearer <token> with a live token (hub tokens issue PARTY)"
                + ("; a browser: the token as password" if browser else ""),
                detail_zh="请在Authorization头中携带有效令牌",
                headers={
                    "WWW-Authenticate": 'Basic realm="wuchang-hub ops", charset="UTF-8"'
                    if browser
                    else 'Bearer realm="wuchang-hub"'
                },
            )
        request[TOKEN] = entry
        request[PARTY] = self.reference.parties.get(entry.party)
        if request.method == "POST" and (
            self.settings.gateway_require_signature or "X-Hub-Signature" in request.headers
        ):
            await self._verify_signature(request, entry)
        return await handler(request)

    async def _verify_signature(self, request: web.Request, entry: TokenEntry) -> None:
        signature = request.headers.get("X-Hub-Signature", "")
        stamp = request.headers.get("X-Hub-Timestamp", "")
        if not signature.startswith("sha256=") or not _DIGITS.fullmatch(stamp):
            raise Problem(
                "bad-signature",
                "send X-Hub-Timestamp (unix seconds) and X-Hub-Signature: sha256=<hex of "
                "HMAC-SHA256(key=sha256(token) hex, message=timestamp + '.' + body)>",
                detail_zh="请提供X-Hub-Timestamp和X-Hub-Signature签名头",
            )
        if abs(time.time() - int(stamp)) > SIGNATURE_WINDOW:
            raise Problem(
                "stale-signature",
                "X-Hub-Timestamp is more than 5 minutes from the hub's clock",
                detail_zh="签名时间与枢纽时间相差超过5分钟",
            )
        body = await request.read()
        expected = hmac.new(entry.sha256.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        if not hmac.compare_digest(signature[7:], expected.hexdigest()):
            raise Problem(
                "bad-signature", "the signature does not match the body", detail_zh="签名与报文不符"
            )
        if not self.replays.first_use(signature):
            raise Problem(
                "replayed-signature",
                "this exact signed request was already received; sign each request anew",
                detail_zh="该签名请求已被接收过，请重新签名",
            )

    @web.middleware
    async def _rate_limit(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        party: Party | None = request.get(PARTY)
        if party is not None:
            wait = self.limiter.take(party.id)
            if wait > 0:
                raise Problem(
                    "rate-limited",
                    f"{party.id} sent more than {self.settings.gateway_rate:g} requests/s; "
                    f"retry after {retry_after(wait)} s",
                    detail_zh="请求过于频繁，请稍后重试",
                    headers={"Retry-After": retry_after(wait)},
                )
        return await handler(request)

    @web.middleware
    async def _timeout(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/v1/inbox/stream":
            return await handler(request)
        try:
            async with asyncio.timeout(self.settings.gateway_timeout):
                return await handler(request)
        except TimeoutError:
            raise Problem(
                "timeout",
                f"no answer within {self.settings.gateway_timeout:g} s; retry",
                headers={"Retry-After": "1"},
            ) from None
        except KafkaUnavailableError as exc:
            raise self._unavailable(exc) from None

    @staticmethod
    def _unavailable(exc: KafkaUnavailableError) -> Problem:
        """503 that says honestly whether the record may still arrive."""
        if getattr(exc, "maybe_written", False):
            return Problem(
                "kafka-unavailable",
                f"{exc.message}; the record may still be written: resend the same record "
                "(same source_id) later, it keeps its record_id and is applied once",
                detail_zh="消息系统未及时确认，记录可能仍会写入；请稍后以相同记录重试，枢纽按记录编号只处理一次",
                headers={"Retry-After": "5"},
            )
        return Problem(
            "kafka-unavailable",
            f"{exc.message}; nothing was written, retry later",
            detail_zh="消息系统暂不可用，未写入任何数据，请稍后重试",
            headers={"Retry-After": "5"},
        )

    # ------------------------------------------------------------------- audit

    def _write_audit(self, request: web.Request, status: int) -> None:
        party: Party | None = request.get(PARTY)
        outcome = request.get(OUTCOME)
        if status < 400:
            result = AuditResult.ACCEPTED
        elif status in (401, 403, 429):
            result = AuditResult.REFUSED
        elif status < 500:
            result = AuditResult.REJECTED
        else:
            result = AuditResult.FAILED
        detail = outcome.detail[:2000] if isinstance(outcome, Problem) else None
        subject = request.get(SUBJECT)
        event = AuditEvent.model_validate(
            {
                "source_party": "hub",
                "source_id": f"audit/{uuid.uuid4().hex}",
                "occurred_at": datetime.now(UTC),
                "trace_id": request.get(TRACE) or uuid.uuid4().hex,
                "actor_party": party.id if party is not None else "anonymous",
                "action": f"{request.method} {_route(request)}"[:200],
                "result": result,
                "record_kind": kind if (kind := request.match_info.get("kind")) in KINDS else None,
                "subject_id": subject,
                "status_code": status,
                "client_address": (request.remote or "")[:64] or None,
                "detail": detail or None,
            }
        )
        task = asyncio.create_task(self._send_audit(event))
        self._audit_tasks.add(task)
        task.add_done_callback(self._audit_tasks.discard)

    async def _send_audit(self, event: AuditEvent) -> None:
        kind = KINDS["audit"]
        try:
            value = await self.serde.encode(kind, event)
            await self.publisher.send(kind.topic, kind.key_of(event), value, [])
        except Exception:  # noqa: BLE001 - an audit failure must never fail the request
            log.exception("could not write the audit event of %s", event.action)

    # ----------------------------------------------------------------- publish

    @staticmethod
    def party_of(request: web.Request) -> Party:
        """The authenticated party of a request."""
        return request[PARTY]

    def _kind(self, request: web.Request) -> Kind:
        name = request.match_info["kind"]
        if name not in HTTP_KINDS:
            raise Problem(
                "unknown-kind",
                f"'{name}' is not a kind published over HTTP; one of: {', '.join(HTTP_KINDS)}",
                detail_zh=f"不支持通过HTTP发布的记录类型：{name}",
            )
        party: Party = request[PARTY]
        if not may_publish(party.kind, name):
            raise Problem(
                "forbidden",
                f"{party.id} ({party.kind.value}) may not publish {name} records",
                detail_zh=f"{party.name}无权发布{name}类记录",
            )
        return KINDS[name]

    async def read_json(self, request: web.Request) -> Any:
        """The JSON body of request; `Problem` for a wrong media type or bad JSON."""
        if request.content_type != "application/json":
            raise Problem("unsupported-media-type", "send Content-Type: application/json")
        body = await request.read()
        try:
            return json.loads(body)
        except RecursionError:
            raise Problem(
                "invalid-json", "the body nests too deeply", detail_zh="JSON嵌套层级过深"
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise Problem(
                "invalid-json", f"the body is not JSON: {exc}", detail_zh="请求体不是有效的JSON"
            ) from None

    def check_record(self, request: web.Request, kind: Kind, data: Any) -> tuple[Envelope, str]:
        """The validated model and trace id of one posted record; `Problem` otherwise."""
        party: Party = request[PARTY]
        if not isinstance(data, dict):
            raise Problem(
                "invalid-record", "a record must be a JSON object", detail_zh="记录必须是JSON对象"
            )
        owned = [name for name in HUB_OWNED_FIELDS if name in data]
        if owned:
            raise Problem(
                "hub-owned-field",
                f"remove {', '.join(owned)}: the hub derives record_id and stamps received_at",
                detail_zh="请删除record_id和received_at字段，它们由枢纽生成",
            )
        # A missing field is a validation error (422); a field naming another party is forgery.
        for field in ("source_party", ACTING_FIELD.get(kind.name)):
            if field is not None and field in data and data[field] != party.id:
                raise Problem(
                    "forged-source",
                    f"{field} must be '{party.id}', the party of the token",
                    detail_zh=f"{field}必须为{party.id}（调用方本身）",
                )
        trace = request.headers.get("X-Trace-Id", "")
        trace_id = data.get("trace_id") or (trace if _TRACE.fullmatch(trace) else uuid.uuid4().hex)
        try:
            record = validate(kind, {**data, "trace_id": trace_id}, self.reference)
        except RecordInvalid as exc:
            raise Problem(
                "invalid-record",
                f"{len(exc.errors)} rule(s) broken; see errors",
                detail_zh=f"记录有{len(exc.errors)}处错误",
                errors=exc.errors,
            ) from None
        return record, str(trace_id)

    def _remember(self, record_id: str, answer: dict[str, Any]) -> None:
        self._accepted[record_id] = answer
        while len(self._accepted) > 100_000:
            self._accepted.popitem(last=False)

    async def write(
        self, kind: Kind, records: list[tuple[Envelope, str]]
    ) -> list[dict[str, Any] | KafkaUnavailableError]:
        writer = await self.serde.writer(kind)
        messages = []
        for record, trace_id in records:
            headers = HubHeaders(
                kind=kind.name, trace_id=trace_id, source_party=str(record.source_party)
            ).to_kafka()
            messages.append(
                (kind.topic, kind.key_of(record), self.serde.encode_with(writer, record), headers)
            )
        with PUBLISH.labels(str(records[0][0].source_party)).time():
            results = await self.publisher.send_many(messages)
        answers: list[dict[str, Any] | KafkaUnavailableError] = []
        for (record, trace_id), result in zip(records, results, strict=True):
            if isinstance(result, Written):
                RECORDS_IN.labels(str(record.source_party), kind.name).inc()
                record_id = str(record.record_id)
                with traced(trace_id):
                    log.info(
                        "accepted %s %s from %s (%s/%d@%d)",
                        kind.name,
                        record_id,
                        record.source_party,
                        result.topic,
                        result.partition,
                        result.offset,
                    )
                answer: dict[str, Any] = {
                    "record_id": record_id,
                    "topic": result.topic,
                    "partition": result.partition,
                    "offset": result.offset,
                }
                self._remember(record_id, answer)
                answers.append(answer)
            else:
                answers.append(result)
        return answers

    async def publish_one(self, request: web.Request) -> web.Response:
        kind = self._kind(request)
        record, trace_id = self.check_record(request, kind, await self.read_json(request))
        request[TRACE] = trace_id
        record_id = str(record.record_id)
        request[SUBJECT] = record_id
        earlier = self._accepted.get(record_id)
        if earlier is not None:
            return web.json_response({**earlier, "duplicate": True}, status=202)
        (answer,) = await self.write(kind, [(record, trace_id)])
        if isinstance(answer, KafkaUnavailableError):
            raise answer
        return web.json_response(answer, status=202)

    async def publish_batch(self, request: web.Request) -> web.Response:
        kind = self._kind(request)
        body = await self.read_json(request)
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list) or not records:
            raise Problem(
                "invalid-record",
                'send {"records": [...]} with at least one record',
                detail_zh='请求体应为{"records": [...]}，且至少含一条记录',
            )
        not_objects = [i for i, data in enumerate(records) if not isinstance(data, dict)]
        if not_objects:  # the document's shape; each object is then checked on its own
            raise Problem(
                "invalid-record",
                "every item of records must be a JSON object (a record); nothing was written",
                detail_zh="records中的每一项都必须是JSON对象（一条记录），本批未写入",
                errors=[
                    FieldError(
                        f"records[{i}]",
                        "type.object",
                        "记录必须是JSON对象",
                        "a record must be a JSON object",
                    )
                    for i in not_objects
                ],
            )
        if len(records) > self.settings.gateway_batch_limit:
            raise Problem(
                "batch-too-large",
                f"{len(records)} records; at most {self.settings.gateway_batch_limit} per batch",
                detail_zh=f"每批最多{self.settings.gateway_batch_limit}条记录",
            )
        results: list[dict[str, Any] | None] = [None] * len(records)
        to_write: list[tuple[int, Envelope, str]] = []
        first_of: dict[str, int] = {}  # record_id -> index of its first copy in this batch
        repeats: list[tuple[int, int]] = []
        for index, data in enumerate(records):
            try:
                record, trace_id = self.check_record(request, kind, data)
            except Problem as refused:
                count_refusal(refused)
                results[index] = {
                    "index": index,
                    "status": refused.status,
                    "problem": refused.body(request.path),
                }
                continue
            record_id = str(record.record_id)
            earlier = self._accepted.get(record_id)
            if earlier is not None:
                results[index] = {"index": index, "status": 202, **earlier, "duplicate": True}
            elif record_id in first_of:
                repeats.append((index, first_of[record_id]))
            else:
                first_of[record_id] = index
                to_write.append((index, record, trace_id))
        if to_write:
            written = await self.write(kind, [(r, t) for _, r, t in to_write])
            for (index, _, _), answer in zip(to_write, written, strict=True):
                if isinstance(answer, KafkaUnavailableError):
                    failed = self._unavailable(answer)
                    results[index] = {
                        "index": index,
                        "status": 503,
                        "problem": failed.body(request.path),
                    }
                else:
                    results[index] = {"index": index, "status": 202, **answer}
        for index, first in repeats:
            original = results[first]
            assert original is not None  # noqa: S101 - the first copy was answered above
            repeat = {**original, "index": index}
            if original["status"] == 202:
                repeat["duplicate"] = True
            results[index] = repeat
        final = [r for r in results if r is not None]
        accepted = sum(1 for r in final if r["status"] == 202)
        if accepted == 0 and all(r["status"] == 503 for r in final):
            raise KafkaUnavailableError("no record of the batch could be written")
        status = 202 if accepted == len(final) else 207
        return web.json_response({"accepted": accepted, "results": final}, status=status)

    # ------------------------------------------------------------------- inbox

    def _inbox_party(self, request: web.Request) -> Party:
        party: Party = request[PARTY]
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
        if not _DIGITS.fullmatch(raw_limit) or not 1 <= int(raw_limit) <= 1000:
            raise Problem("invalid-parameter", "limit must be an integer from 1 to 1000")
        positions = self._positions(request.query.get("cursor"))
        items, after = await self.inbox.read(inbox_topic(party.id), positions, int(raw_limit))
        rendered = []
        seen = _Repeats()
        for item in items:
            if seen.again(item):
                continue  # a redelivery (same record, same bytes): at-least-once inboxes
            rendered.append(
                {
                    "partition": item.partition,
                    "offset": item.offset,
                    **await self._render(item.headers, item.value),
                }
            )
        return web.json_response({"items": rendered, "cursor": encode_cursor(after)})

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
            if not items:
                idle += 0.5
                if idle >= 15:
                    await response.write(b": keep-alive\n\n")
                    idle = 0.0
                await asyncio.sleep(0.5)

    # ----------------------------------------------------------------- openapi

    async def openapi(self, request: web.Request) -> web.Response:
        from hub.gateway._openapi import document

        return web.json_response(document(self.settings, self.reference))


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

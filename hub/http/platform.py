"""The HTTP platform every resource stands on (docs/design.md §9): the middleware chain,
the authenticated caller, JSON bodies, problems and the audit trail.

Every request passes, in order: audit (one AuditEvent per request, allowed or refused),
problem rendering (RFC 9457, `hub.http.problems`), authentication (bearer token, optional
HMAC body signature; or the workbench's session cookie with its CSRF rules,
`hub.http.cookies`), the per-party rate limit, and the request timeout. Resources
(`hub.http.records`, `.native`, `.inbox`, `.orders`, `.assessment`, `.openapi`) add their
routes and read the caller with `Platform.caller`.
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
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hub.errors import KafkaUnavailableError
from hub.http.cookies import COOKIE, Sessions
from hub.http.limits import RateLimiter, ReplayGuard, retry_after
from hub.http.problems import Problem, count_refusal
from hub.http.tokens import TokenEntry, TokenStore
from hub.records import KINDS, AuditEvent, AuditResult, field_errors
from hub.reference import Party, Reference
from hub.serde import AvroSerde
from hub.settings import HubSettings
from hub.wire import Publishes

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SIGNATURE_WINDOW = 300.0
DIGITS = re.compile(r"[0-9]{1,12}")
PUBLIC_PATHS = {"/healthz", "/readyz"}
PUBLISH_PATHS = ("/v1/records/", "/v1/native/")
SESSION_PATH = "/v1/session"  # signs in itself (`hub.http.session`), audited like the rest


def _pages(path: str) -> bool:
    """The workbench's pages and assets (`hub.http.workbench`): no data, no exchange."""
    return path == "/app" or path.startswith("/app/")
STREAMING_PATHS = {"/v1/inbox/stream"}

PARTY = web.RequestKey("hub_party", Party)
TOKEN = web.RequestKey("hub_token", TokenEntry)
OUTCOME = web.RequestKey("hub_outcome", Problem)
TRACE = web.RequestKey("hub_trace_id", str)
SUBJECT = web.RequestKey("hub_subject", str)
READ = web.RequestKey("hub_read", dict)  # a read of shared data: purpose, dataset, key, fields


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path


def bearer_token(header: str) -> str:
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


def unavailable(exc: KafkaUnavailableError) -> Problem:
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


class Platform:
    """The middlewares, the caller and the audit writer; one per worker."""

    def __init__(
        self,
        settings: HubSettings,
        reference: Callable[[], Reference],
        serde: AvroSerde,
        publisher: Publishes,
        tokens: TokenStore | None = None,
    ) -> None:
        """reference gives the worker's current reference data (its parties)."""
        self.settings = settings
        self.reference = reference
        self.serde = serde
        self.publisher = publisher
        self.tokens = tokens or TokenStore(settings.tokens_path)
        self.sessions = Sessions(settings, self.tokens)
        self.limiter = RateLimiter(settings.gateway_rate, settings.gateway_burst)
        self.replays = ReplayGuard(SIGNATURE_WINDOW)
        self._audit_tasks: set[asyncio.Task[None]] = set()

    def install(self, app: web.Application) -> None:
        app.middlewares.extend(
            [self._audit, self._problems, self._authenticate, self._rate_limit, self._timeout]
        )
        app.on_cleanup.append(self._stop)

    async def _stop(self, _: web.Application) -> None:
        if self._audit_tasks:
            await asyncio.wait(self._audit_tasks, timeout=5)
        await self.publisher.stop()

    # ------------------------------------------------------------------ caller

    @staticmethod
    def caller(request: web.Request) -> Party:
        """The authenticated party of a request."""
        return request[PARTY]

    def identify(self, request: web.Request, entry: TokenEntry) -> bool:
        """Make entry's party the request's caller (for the audit and the resources);
        False when the token may not be a caller (the hub's own, an unknown party)."""
        if entry.party == "hub" or entry.party not in self.reference().parties:
            return False
        request[TOKEN] = entry
        request[PARTY] = self.reference().parties.get(entry.party)
        return True

    @staticmethod
    def mark(
        request: web.Request, *, trace_id: str | None = None, subject: str | None = None
    ) -> None:
        """What the request's audit event names: its trace id, the record it concerns."""
        if trace_id is not None:
            request[TRACE] = trace_id
        if subject is not None:
            request[SUBJECT] = subject

    @staticmethod
    def mark_read(
        request: web.Request, *, purpose: str | None, dataset: str, key: str,
        fields: list[str] | None = None, returned: int | None = None,
    ) -> None:
        """What a read of shared data goes into its audit event as: why, which dataset
        and key, and the names of the fields returned (never their values)."""
        request[READ] = {
            "purpose": purpose, "dataset": dataset, "record_key": key.strip()[:200] or None,
            "fields": sorted(fields or [])[:100], "returned": returned,
        }

    # ------------------------------------------------------------- JSON bodies

    @staticmethod
    async def read_json(request: web.Request) -> Any:
        """The JSON body of request; `Problem` for a wrong media type or bad JSON."""
        if request.content_type != "application/json":
            raise Problem(
                "unsupported-media-type",
                "send Content-Type: application/json",
                detail_zh="请求头Content-Type应为application/json",
            )
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

    async def read_model(self, request: web.Request, model: type[BaseModel]) -> dict[str, Any]:
        """The JSON body of request checked against model (422 naming each field and
        rule), as sent."""
        body = await self.read_json(request)
        try:
            model.model_validate(body)
        except ValidationError as exc:
            errors = field_errors(exc)
            raise Problem(
                "invalid-record",
                f"the body is not a {model.__name__}: "
                + "; ".join(f"{e.path}: {e.message_en}" for e in errors),
                detail_zh="请求体字段有误："
                + "；".join(f"{e.path}：{e.message_zh}" for e in errors),
                errors=errors,
            ) from None
        assert isinstance(body, dict)  # noqa: S101 - a model validated it
        return dict(body)

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
            problem = Problem(
                "not-found",
                f"no resource at {request.path}",
                detail_zh=f"没有此资源：{request.path}",
            )
        except web.HTTPMethodNotAllowed as exc:
            problem = Problem(
                "method-not-allowed",
                f"{request.method} is not allowed on {request.path}",
                detail_zh=f"{request.path}不支持{request.method}方法",
                headers={"Allow": ", ".join(sorted(exc.allowed_methods))},
            )
        except web.HTTPClientError as exc:
            problem = Problem("bad-request", exc.reason, detail_zh=f"请求有误：{exc.reason}")
        except web.HTTPException:
            raise
        except Exception:  # noqa: BLE001 - answer in the contract's shape, log the cause
            log.exception("unhandled error on %s %s", request.method, request.path)
            problem = Problem(
                "internal",
                "an unexpected error; the hub logged it",
                detail_zh="枢纽内部错误，已记录日志",
            )
        request[OUTCOME] = problem
        if request.method == "POST" and request.path.startswith(PUBLISH_PATHS):
            count_refusal(problem)
        return problem.response(request.path)

    @web.middleware
    async def _audit(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if (request.path not in PUBLIC_PATHS and not request.path.startswith("/registry")
                and not _pages(request.path)):
            self._write_audit(request, response.status)
        return response

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if (request.path in PUBLIC_PATHS or request.path == SESSION_PATH
                or request.path.startswith("/registry") or _pages(request.path)):
            return await handler(request)
        header = request.headers.get("Authorization", "")
        session = (
            self.sessions.check(request.cookies.get(COOKIE, ""))
            if not header and COOKIE in request.cookies else None
        )
        entry = (  # the session's token lives as long as the token itself
            self.tokens.live(session.token_id) if session is not None
            else self.tokens.authenticate(bearer_token(header))
        )
        if entry is None or not self.identify(request, entry):
            # a browser opening /ops asks its user for the token (HTTP Basic, as password)
            browser = request.path.startswith("/ops")
            raise Problem(
                "unauthenticated",
                "send Authorization: Bearer <token> with a live token (hub tokens issue PARTY), "
                "or sign in (POST /v1/session)"
                + ("; a browser: the token as password" if browser else ""),
                detail_zh="请在Authorization头中携带有效令牌，或先登录",
                headers={
                    "WWW-Authenticate": 'Basic realm="wuchang-hub ops", charset="UTF-8"'
                    if browser
                    else 'Bearer realm="wuchang-hub"'
                },
            )
        if session is not None:  # after identify: the audit names the party
            self.sessions.check_change(request, session)
        if request.method == "POST" and (
            self.settings.gateway_require_signature or "X-Hub-Signature" in request.headers
        ):
            await self._verify_signature(request, entry)
        return await handler(request)

    async def _verify_signature(self, request: web.Request, entry: TokenEntry) -> None:
        signature = request.headers.get("X-Hub-Signature", "")
        stamp = request.headers.get("X-Hub-Timestamp", "")
        if not signature.startswith("sha256=") or not DIGITS.fullmatch(stamp):
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
        if request.path in STREAMING_PATHS:
            return await handler(request)
        try:
            async with asyncio.timeout(self.settings.gateway_timeout):
                return await handler(request)
        except TimeoutError:
            raise Problem(
                "timeout",
                f"no answer within {self.settings.gateway_timeout:g} s; retry",
                detail_zh=f"{self.settings.gateway_timeout:g}秒内未完成，请重试",
                headers={"Retry-After": "1"},
            ) from None
        except KafkaUnavailableError as exc:
            raise unavailable(exc) from None

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
                **request.get(READ, {}),
            }
        )
        task = asyncio.create_task(self._send_audit(event))
        self._audit_tasks.add(task)
        task.add_done_callback(self._audit_tasks.discard)

    async def _send_audit(self, event: AuditEvent) -> None:
        kind = KINDS["audit"]
        try:
            value = await self.serde.encode(kind, event)
            (result,) = await self.publisher.send_many(
                [(kind.topic, kind.key_of(event), value, [])]
            )
            if isinstance(result, KafkaUnavailableError):
                raise result
        except Exception:  # noqa: BLE001 - an audit failure must never fail the request
            log.exception("could not write the audit event of %s", event.action)

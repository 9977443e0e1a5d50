"""RFC 9457 problem details, in English and Chinese, for every refusal of the gateway."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from hub.errors import FieldError
from hub.metrics import REJECTED

MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem: its slug, HTTP status and titles."""

    slug: str
    status: int
    title: str
    title_zh: str

    @property
    def uri(self) -> str:
        return f"urn:wuchang-hub:problem:{self.slug}"


PROBLEMS = {
    p.slug: p
    for p in (
        ProblemType("invalid-json", 400, "Request body is not valid JSON", "请求体不是有效的JSON"),
        ProblemType(
            "unauthenticated", 401, "Missing or invalid bearer token", "缺少或无效的访问令牌"
        ),
        ProblemType(
            "bad-signature", 401, "Body signature is missing or wrong", "报文签名缺失或错误"
        ),
        ProblemType(
            "stale-signature",
            401,
            "Signature timestamp is too old or in the future",
            "签名时间戳已过期或超前",
        ),
        ProblemType(
            "replayed-signature", 401, "This signature was already used", "该签名已被使用（重放）"
        ),
        ProblemType("forbidden", 403, "Not allowed for this party", "该参与方无权执行此操作"),
        ProblemType(
            "forged-source", 403, "source_party must be the calling party", "来源方必须是调用方本身"
        ),
        ProblemType("not-found", 404, "No such resource", "资源不存在"),
        ProblemType("unknown-kind", 404, "Unknown record kind", "未知的记录类型"),
        ProblemType("method-not-allowed", 405, "Method not allowed", "不支持该请求方法"),
        ProblemType(
            "conflict", 409, "The request conflicts with the current state", "请求与当前状态冲突"
        ),
        ProblemType("body-too-large", 413, "Request body is too large", "请求体过大"),
        ProblemType(
            "batch-too-large", 413, "Too many records in one batch", "批量记录数量超过上限"
        ),
        ProblemType(
            "unsupported-media-type", 415, "Send application/json", "请使用application/json格式"
        ),
        ProblemType("invalid-record", 422, "The record breaks validation rules", "记录未通过校验"),
        ProblemType(
            "hub-owned-field",
            422,
            "Field is set by the hub, not the caller",
            "该字段由枢纽生成，不能由调用方指定",
        ),
        ProblemType("invalid-parameter", 422, "A query parameter is invalid", "查询参数无效"),
        ProblemType("rate-limited", 429, "Too many requests for this party", "请求过于频繁"),
        ProblemType(
            "kafka-unavailable",
            503,
            "Kafka is unavailable; nothing was written",
            "消息系统暂不可用，未写入任何数据",
        ),
        ProblemType("timeout", 503, "The request took too long; retry", "请求超时，请重试"),
        ProblemType("bad-request", 400, "The request is malformed", "请求格式错误"),
        ProblemType("internal", 500, "The hub failed; the error is logged", "枢纽内部错误，已记录"),
    )
}


_URIS: list[JsonValue] = [p.uri for p in sorted(PROBLEMS.values(), key=lambda p: p.uri)]


class FieldProblem(BaseModel):
    """字段错误 one broken rule of a record: where, which, and what to do, in both
    languages."""

    path: str
    rule: str
    message_zh: str
    message_en: str


class ProblemDetails(BaseModel):
    """问题详情 RFC 9457 problem details, in English and Chinese (the body of every
    refusal)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(json_schema_extra={"enum": _URIS})
    title: str
    title_zh: str | None = None
    status: int
    detail: str
    detail_zh: str
    instance: str | None = None
    errors: list[FieldProblem] | None = None


class Problem(Exception):
    """Raised by handlers; the middleware turns it into a problem+json response."""

    def __init__(
        self,
        slug: str,
        detail: str,
        *,
        detail_zh: str,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.type = PROBLEMS[slug]
        self.detail = detail
        self.detail_zh = detail_zh
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra or {}

    @property
    def status(self) -> int:
        return self.type.status

    def body(self, instance: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type.uri,
            "title": self.type.title,
            "title_zh": self.type.title_zh,
            "status": self.type.status,
            "detail": self.detail,
            "detail_zh": self.detail_zh,
            "instance": instance,
        }
        if self.errors:
            body["errors"] = [error.as_dict() for error in self.errors]
        body.update(self.extra)
        return body

    def response(self, instance: str) -> web.Response:
        return web.Response(
            status=self.type.status,
            text=json.dumps(self.body(instance), ensure_ascii=False),
            content_type=MEDIA_TYPE,
            headers=self.headers,
        )


def count_refusal(problem: Problem) -> None:
    """Count a refused publish in ``hub_records_rejected_total{stage="gateway"}``, by its
    first broken rule (or the problem's slug): requests refused whole by the middleware,
    records refused inside a batch where the batch answers for them."""
    if problem.status >= 500:
        return
    reason = problem.errors[0].rule if problem.errors else problem.type.slug
    REJECTED.labels("gateway", reason).inc()

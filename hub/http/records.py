"""``POST /v1/records/{kind}`` and ``/v1/records/{kind}/batch``: canonical records.

A party publishes canonical JSON records of the kinds its role allows
(`hub.http.policy`), as itself; each is validated against the record model and the
reference data (422 naming every broken rule), written with acks=all, and answered 202
with where it was written. A re-post of a record accepted earlier answers the same with
``duplicate: true``; the same record (id, and revision for a case) with other content
is refused with 409 and why, unless its kind keeps only the latest version
(`hub.http.policy.LATEST_WINS`): a changed record is never dropped silently.
`check_record` and `write` serve the native and order-action resources too, so every
record that enters over HTTP is checked and written alike; a kind with an admission
(order events: `hub.http.orders.Orders.admit`) passes it too, whichever address it came
to, and is posted one at a time (no batch).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from aiohttp import web
from pydantic import BaseModel, Field

from hub.errors import FieldError, KafkaUnavailableError, RecordInvalid
from hub.http.platform import Platform, unavailable
from hub.http.policy import (
    ACTING_FIELD,
    ADMITTED_KINDS,
    HTTP_KINDS,
    HUB_OWNED_FIELDS,
    LATEST_WINS,
    may_issue,
    may_publish,
)
from hub.http.problems import Problem, ProblemDetails, count_refusal
from hub.http.routes import Answer, Param, Route, install_routes, respond
from hub.logs import traced
from hub.metrics import PUBLISH, RECORDS_IN
from hub.records import KINDS, Envelope, Kind, OrderType, content_digest, identity, validate
from hub.reference import Reference
from hub.wire import HubHeaders, Publishes, Written

log = logging.getLogger(__name__)

_TRACE = re.compile(r"^[0-9a-f]{16,32}$")
UNSAID = (
    "JSON 模式无法表达、以422拒绝并在问题中指明的规则：统一社会信用代码（GB 32100）和公民身份"
    "号码（GB 11643）的校验码，身份号码中的出生日期须为过去的真实日期；派单接收方不含派单方，"
    "办理期限晚于派单时间，派单时间不晚于枢纽当前时间5分钟以上；公安、检察、司法局的派单只发往"
    "街道和部门；案件执法人员不得重复，且为办案单位本单位持证人员；办案单位即发布方，街道只办理赋权"
    "事项、部门只办理本部门事项，罚款不超过该事项上限。事项编码和执法证号以工作节点当前参考数据为准"
    "（即其所提供文档中的枚举）。 "
    "Rules a JSON schema cannot say, refused with 422 and named in the problem: the check "
    "characters of a unified social credit code (GB 32100) and of a citizen identity "
    "number (GB 11643), whose birth date is a real past date; an order's recipients "
    "other than its issuer, its deadline after its issue, its issued_at no more than 5 "
    "minutes ahead of the hub's clock, and the orders of police, procuratorate and justice "
    "to streets and departments only; a case's officers distinct and certified for its "
    "owner, its owner the publisher, its matter one the owner decides (a street's "
    "delegated ones, a department's own) and its fine within the matter's cap. "
    "Matter codes and certificate numbers are those of the worker's current reference "
    "data (the enums of the document it serves)."
)


class Accepted(BaseModel):
    """已受理 a record durably written (acks=all), and where."""

    record_id: uuid.UUID
    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    duplicate: bool | None = Field(default=None, description="already accepted earlier")


class BatchItem(BaseModel):
    """批量结果 the answer for one record of a batch, at its index: 202 and where, or its
    problem."""

    index: int = Field(ge=0)
    status: int
    record_id: uuid.UUID | None = None
    topic: str | None = None
    partition: int | None = Field(default=None, ge=0)
    offset: int | None = Field(default=None, ge=0)
    duplicate: bool | None = None
    problem: ProblemDetails | None = None


class BatchResult(BaseModel):
    """批量受理 how many records of a batch were accepted, and each one's answer."""

    accepted: int = Field(ge=0)
    results: list[BatchItem]


TRACE_PARAM = Param(
    "X-Trace-Id", "header", {"type": "string"},
    "trace id (16-32 hex) to follow the exchange across the hub",
)


def _routes() -> tuple[Route, ...]:
    routes: list[Route] = []
    for name in HTTP_KINDS:
        model = KINDS[name].model.__name__
        operation = name.replace("-", "_")
        admitted = name in ADMITTED_KINDS
        routes.append(Route(
            "POST", f"/v1/records/{name}", "publish_one", f"publish_{operation}",
            f"Publish one {name} record (202 once the broker acknowledged it)", "publish",
            (
                Answer(202, "durably written (acks=all)", Accepted),
                Answer(400, "body is not JSON"),
                Answer(413, "body too large"),
                Answer(415, "not application/json"),
                Answer(422, "validation errors, hub-owned fields"),
                *((Answer(404, "the order is known and the actor is not on it"),
                   Answer(409, "the event does not fit the order's state, or the same event "
                          "was accepted with other content"))
                  if admitted else ()),
                *((Answer(409, "the same record (a case: the same revision) was accepted "
                          "before with other content"),)
                  if not admitted and name not in LATEST_WINS else ()),
            ),
            params=(TRACE_PARAM,), body=model, description=UNSAID,
            registered="/v1/records/{kind}",
        ))
        if admitted:
            continue  # one at a time: each is checked against its order (no batch)
        routes.append(Route(
            "POST", f"/v1/records/{name}/batch", "publish_batch", f"publish_{operation}_batch",
            f"Publish a batch of {name} records, answered per record", "publish",
            (
                Answer(202, "every record written", BatchResult),
                Answer(207, "some records refused; see results", BatchResult),
                Answer(400, "body is not JSON"),
                Answer(413, "body or batch too large"),
                Answer(415, "not application/json"),
                Answer(422, "no records array, or an item that is not an object"),
            ),
            params=(TRACE_PARAM,),
            body={
                "type": "object",
                "required": ["records"],
                "properties": {
                    "records": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "description": (
                                f"a {model} record; each is checked on its own and answered "
                                "at its index in results (202, or its problem)"
                            ),
                        },
                    }
                },
            },
            registered="/v1/records/{kind}/batch",
        ))
    return tuple(routes)


ROUTES = _routes()
Said = tuple[str, object]  # what a record says apart from when it happened, and when


def said_of(record: Envelope) -> Said:
    """What record says (one digest, whenever and under whichever trace it was received)
    apart from its occurred_at, and its occurred_at: two copies of one record say the same;
    an order action resent without occurred_at (the hub's default) says the same too."""
    digest = content_digest(record, ("received_at", "trace_id", "occurred_at"))
    return digest, record.occurred_at


class Admission(Protocol):
    """A further check of one kind of record against the hub's state, where it lives."""

    async def admit(
        self, request: web.Request, event: Any, *, must_exist: bool
    ) -> web.Response | Any:
        """The answer of the worker that checks it, or what `written` takes; `Problem`
        when the record does not fit."""

    def written(self, admitted: Any) -> None:
        """The admitted record is in Kafka."""


class Records:
    """Checks and writes canonical records; answers the publish routes."""

    def __init__(
        self, platform: Platform, publisher: Publishes, reference: Callable[[], Reference]
    ) -> None:
        self.platform = platform
        self.publisher = publisher
        self.reference = reference
        self.serde = platform.serde
        self.settings = platform.settings
        # identity (record id, and revision) -> what it said (`said_of`) and the answer given
        self._accepted: OrderedDict[str, tuple[Said, Accepted]] = OrderedDict()
        self.admission: dict[str, Admission] = {}  # kind -> its further check

    def install(self, app: web.Application) -> None:
        install_routes(app, ROUTES, self)

    def kind_of(self, request: web.Request) -> Kind:
        """The kind the path names, when the caller may publish it; `Problem` otherwise."""
        name = request.match_info["kind"]
        if name not in HTTP_KINDS:
            raise Problem(
                "unknown-kind",
                f"'{name}' is not a kind published over HTTP; one of: {', '.join(HTTP_KINDS)}",
                detail_zh=f"不支持通过HTTP发布的记录类型：{name}",
            )
        party = self.platform.caller(request)
        if not may_publish(party.kind, name):
            raise Problem(
                "forbidden",
                f"{party.id} ({party.kind.value}) may not publish {name} records",
                detail_zh=f"{party.name}无权发布{name}类记录",
            )
        return KINDS[name]

    def check_record(self, request: web.Request, kind: Kind, data: Any) -> tuple[Envelope, str]:
        """The validated model and trace id of one posted record; `Problem` otherwise."""
        party = self.platform.caller(request)
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
                extra={"fields": owned},
            )
        # A missing field is a validation error (422); a field naming another party is forgery.
        for field in ("source_party", ACTING_FIELD.get(kind.name)):
            if field is not None and field in data and data[field] != party.id:
                raise Problem(
                    "forged-source",
                    f"{field} must be '{party.id}', the party of the token",
                    detail_zh=f"{field}必须为{party.id}（调用方本身）",
                    extra={"fields": [field]},
                )
        trace = request.headers.get("X-Trace-Id", "")
        trace_id = data.get("trace_id") or (trace if _TRACE.fullmatch(trace) else uuid.uuid4().hex)
        try:
            record = validate(
                kind, {**data, "trace_id": trace_id}, self.reference(), datetime.now(UTC)
            )
        except RecordInvalid as exc:
            raise Problem(
                "invalid-record",
                f"{len(exc.errors)} rule(s) broken; see errors",
                detail_zh=f"记录有{len(exc.errors)}处错误",
                errors=exc.errors,
            ) from None
        order_type = getattr(record, "order_type", None)
        if isinstance(order_type, OrderType) and not may_issue(party.kind, order_type):
            raise Problem(
                "forbidden",
                f"{party.id} ({party.kind.value}) may not issue {order_type.value} orders",
                detail_zh=f"{party.name}无权发出{order_type.value}类派单",
            )
        return record, str(trace_id)

    def _remember(self, record: Envelope, answer: Accepted) -> None:
        self._accepted[identity(record)] = (said_of(record), answer)
        while len(self._accepted) > 100_000:
            self._accepted.popitem(last=False)

    def earlier(
        self, kind: Kind, record: Envelope, *, timed: bool = True, said: Said | None = None
    ) -> Accepted | None:
        """The answer given when this record was accepted before (a duplicate); None when
        it is new, or the new version of a kind that keeps the latest; `Problem` (409)
        when the same record was accepted with other content. timed=False: occurred_at
        was the hub's default (an order action that left it out), not the sender's.
        said: the record's `said_of`, when the caller has it already."""
        found = self._accepted.get(identity(record))
        if found is None:
            return None
        (content, occurred), answer = found
        now_content, now_occurred = said or said_of(record)
        if content == now_content and (not timed or occurred == now_occurred):
            return answer
        if kind.name in LATEST_WINS:
            return None
        raise changed(kind, record)

    async def write(
        self, kind: Kind, records: list[tuple[Envelope, str]]
    ) -> list[Accepted | KafkaUnavailableError]:
        writer = await self.serde.writer(kind)
        messages = []
        for record, trace_id in records:
            headers = HubHeaders(
                kind=kind.name, trace_id=trace_id, source_party=str(record.source_party)
            ).to_kafka()
            messages.append(
                (kind.topic, kind.key_of(record), self.serde.encode_with(writer, record, True),
                 headers)
            )
        with PUBLISH.labels(str(records[0][0].source_party)).time():
            results = await self.publisher.send_many(messages)
        answers: list[Accepted | KafkaUnavailableError] = []
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
                answer = Accepted(
                    record_id=record.record_id,
                    topic=result.topic,
                    partition=result.partition,
                    offset=result.offset,
                )
                self._remember(record, answer)
                answers.append(answer)
            else:
                answers.append(result)
        return answers

    async def publish_one(self, request: web.Request) -> web.Response:
        kind = self.kind_of(request)
        record, trace_id = self.check_record(request, kind, await self.platform.read_json(request))
        record_id = str(record.record_id)
        self.platform.mark(request, trace_id=trace_id, subject=record_id)
        earlier = self.earlier(kind, record)
        if earlier is not None:
            return respond(earlier.model_copy(update={"duplicate": True}), 202)
        admission = self.admission.get(kind.name)
        admitted = None
        if admission is not None:
            admitted = await admission.admit(request, record, must_exist=False)
            if isinstance(admitted, web.Response):
                return admitted  # answered by the worker that holds what it is checked against
        (answer,) = await self.write(kind, [(record, trace_id)])
        if isinstance(answer, KafkaUnavailableError):
            raise answer
        if admission is not None:
            admission.written(admitted)
        return respond(answer, 202)

    async def publish_batch(self, request: web.Request) -> web.Response:
        kind = self.kind_of(request)
        if kind.name in ADMITTED_KINDS:
            raise Problem(
                "unknown-kind",
                f"{kind.name} records are posted one at a time (POST /v1/records/{kind.name} or "
                "/v1/orders/{order_id}/events), each checked against its order before 202",
                detail_zh=f"{kind.name}类记录须逐条提交，每条在受理前按所属派单校验",
            )
        body = await self.platform.read_json(request)
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
        results: list[BatchItem | None] = [None] * len(records)
        to_write: list[tuple[int, Envelope, str]] = []
        # identity -> index and digest of its first copy in this batch
        first_of: dict[str, tuple[int, Said]] = {}
        repeats: list[tuple[int, int]] = []
        for index, data in enumerate(records):
            try:
                record, trace_id = self.check_record(request, kind, data)
                same, said = identity(record), said_of(record)
                earlier = self.earlier(kind, record, said=said)
                if same in first_of and first_of[same][1] != said and kind.name not in LATEST_WINS:
                    raise changed(kind, record)
            except Problem as refused:
                count_refusal(refused)
                results[index] = BatchItem(
                    index=index,
                    status=refused.status,
                    problem=ProblemDetails.model_validate(refused.body(request.path)),
                )
                continue
            if earlier is not None:
                results[index] = _item(index, earlier, duplicate=True)
            elif same in first_of and first_of[same][1] == said:
                repeats.append((index, first_of[same][0]))
            else:
                first_of[same] = (index, said)
                to_write.append((index, record, trace_id))
        if to_write:
            written = await self.write(kind, [(r, t) for _, r, t in to_write])
            for (index, _, _), answer in zip(to_write, written, strict=True):
                if isinstance(answer, KafkaUnavailableError):
                    failed = unavailable(answer)
                    results[index] = BatchItem(
                        index=index,
                        status=503,
                        problem=ProblemDetails.model_validate(failed.body(request.path)),
                    )
                else:
                    results[index] = _item(index, answer)
        for index, first in repeats:
            original = results[first]
            assert original is not None  # noqa: S101 - the first copy was answered above
            update: dict[str, Any] = {"index": index}
            if original.status == 202:
                update["duplicate"] = True
            results[index] = original.model_copy(update=update)
        final = [r for r in results if r is not None]
        accepted = sum(1 for r in final if r.status == 202)
        if accepted == 0 and all(r.status == 503 for r in final):
            raise KafkaUnavailableError("no record of the batch could be written")
        status = 202 if accepted == len(final) else 207
        return respond(BatchResult(accepted=accepted, results=final), status)


def _item(index: int, accepted: Accepted, *, duplicate: bool = False) -> BatchItem:
    """The batch answer of a written (or earlier accepted) record."""
    fields = accepted.model_dump(exclude_unset=True)
    if duplicate:
        fields["duplicate"] = True
    return BatchItem(index=index, status=202, **fields)


def changed(kind: Kind, record: Envelope) -> Problem:
    """409: this record was accepted before with other content."""
    revision = getattr(record, "revision", None)
    if revision is not None:
        return Problem(
            "conflict",
            f"{kind.name} {record.record_id} revision {revision} was accepted before with other "
            f"content; send the change as revision {revision + 1}",
            detail_zh=f"该案件第{revision}版已以不同内容受理：请将修改作为第{revision + 1}版发送",
            extra={"rule": "case.revision_changed"},
        )
    return Problem(
        "conflict",
        f"{kind.name} {record.record_id} (source_id {record.source_id}) was accepted before with "
        "other content; a record does not change: send a new record with a new source_id",
        detail_zh=f"来源编号{record.source_id}的记录已以不同内容受理，记录不可修改：请以新的来源编号另行发送",
        extra={"rule": "record.changed"},
    )

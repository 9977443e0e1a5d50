"""``POST /v1/validate/{kind}``: check a record as its publish would, and write nothing.

A form that builds a record (the workbench's create pages, a party's own system before
it sends) asks the worker whether the record would be accepted: the same rules as
``POST /v1/records/{kind}`` (`Records.check_record`: the record model, the worker's
current reference data, the caller's role and the hub-owned fields). The verdict is the
answer, 200 either way: ``valid`` with the record id it would get, or not, with every
broken rule at its field path in both languages (what a publish's 422 would list),
hub-owned fields (record_id, received_at) and a source naming another party among them.
What a publish would refuse whole for the caller stays a problem: 403 for a kind or
order type the caller may not send, 422 for a body that is not an object. Nothing goes
to Kafka, nothing is remembered for duplicates, no refusal is counted as a refused
record; the request is audited like any other.
"""

from __future__ import annotations

import uuid

from aiohttp import web
from pydantic import BaseModel, Field

from hub.http.policy import HTTP_KINDS
from hub.http.problems import FieldProblem, Problem
from hub.http.records import Records
from hub.http.routes import Answer, Route, install_routes, respond
from hub.records import KINDS


class Validated(BaseModel):
    """校验结果 whether the record would be accepted as it is, and if not, why."""

    valid: bool = Field(description="是否通过 whether a publish would accept it")
    kind: str = Field(description="记录类型 the record kind checked")
    record_id: uuid.UUID | None = Field(
        default=None, description="记录编号 the id it would get (when valid)"
    )
    errors: list[FieldProblem] = Field(
        default_factory=list, description="错误 every broken rule, at its field (when not valid)"
    )


def _routes() -> tuple[Route, ...]:
    return tuple(
        Route(
            "POST", f"/v1/validate/{name}", "validate", f"validate_{name.replace('-', '_')}",
            f"Check a {name} record as its publish would, writing nothing", "publish",
            (
                Answer(200, "the verdict: valid with the record id, or the broken rules",
                       Validated),
                Answer(400, "body is not JSON"),
                Answer(413, "body too large"),
                Answer(415, "not application/json"),
                Answer(422, "not a JSON object"),
            ),
            # a draft, whatever it says: the verdict names what breaks the record's rules
            # (POST /v1/records/{kind}'s body), so any object is a request to answer
            body={"type": "object", "description": (
                f"a {KINDS[name].model.__name__} record as it would be published, complete "
                "or not (a form's draft); the answer lists every rule it breaks"
            )},
            platform=(401, 403, 429),  # nothing is written: Kafka's absence does not matter
            description="The rules of POST /v1/records/" + name + " (see there), without "
            "the checks against what the hub holds (an order's state, a duplicate). "
            "与发布相同的规则（不含对派单状态和重复记录的检查），不写入。",
            registered="/v1/validate/{kind}",
        )
        for name in HTTP_KINDS
    )


ROUTES = _routes()
_AT_FIELDS = frozenset({"hub-owned-field", "forged-source"})  # publish: 422 whole; here a verdict


class Validate:
    """Answers the validate routes with the publish resource's own checks."""

    def __init__(self, records: Records) -> None:
        self.records = records

    def install(self, app: web.Application) -> None:
        install_routes(app, ROUTES, self)

    async def validate(self, request: web.Request) -> web.Response:
        kind = self.records.kind_of(request)
        data = await self.records.platform.read_json(request)
        try:
            record, _ = self.records.check_record(request, kind, data)
        except Problem as refused:
            if refused.type.slug in _AT_FIELDS:  # a draft's field the caller may not set
                return respond(Validated(valid=False, kind=kind.name, errors=[
                    FieldProblem(path=name, rule=refused.type.slug, message_en=refused.detail,
                                 message_zh=refused.detail_zh or refused.detail)
                    for name in refused.extra.get("fields", [])]))
            if not refused.errors:  # refused whole (forbidden, not an object)
                raise
            return respond(Validated(valid=False, kind=kind.name, errors=[
                FieldProblem.model_validate(error.as_dict()) for error in refused.errors]))
        return respond(Validated(valid=True, kind=kind.name, record_id=record.record_id))

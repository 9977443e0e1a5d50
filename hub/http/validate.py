"""``POST /v1/validate/{kind}``: check a record as its publish would, and write nothing.

A form that builds a record (the workbench's create pages, a party's own system before
it sends) asks the worker whether the record would be accepted: the same rules as
``POST /v1/records/{kind}`` (`Records.check_record`: the record model, the worker's
current reference data, the caller's role and the hub-owned fields), answered 200 with
the record id it would get, or the same problem a publish would give (422 naming every
broken rule with its field path and Chinese message, 403 for a kind or order type the
caller may not send). Nothing goes to Kafka, nothing is remembered for duplicates, and
no refusal is counted as a refused record; the request is audited like any other.
"""

from __future__ import annotations

import uuid

from aiohttp import web
from pydantic import BaseModel, Field

from hub.http.policy import HTTP_KINDS
from hub.http.records import Records
from hub.http.routes import Answer, Route, install_routes, respond
from hub.records import KINDS


class Validated(BaseModel):
    """校验通过 the record would be accepted as it is."""

    valid: bool = Field(description="是否通过 always true here: a record that breaks a rule is 422")
    kind: str = Field(description="记录类型 the record kind checked")
    record_id: uuid.UUID = Field(description="记录编号 the id the record would get")


def _routes() -> tuple[Route, ...]:
    return tuple(
        Route(
            "POST", f"/v1/validate/{name}", "validate", f"validate_{name.replace('-', '_')}",
            f"Check a {name} record as its publish would, writing nothing", "publish",
            (
                Answer(200, "the record would be accepted", Validated),
                Answer(400, "body is not JSON"),
                Answer(413, "body too large"),
                Answer(415, "not application/json"),
                Answer(422, "validation errors, hub-owned fields"),
            ),
            body=KINDS[name].model,
            platform=(401, 403, 429),  # nothing is written: Kafka's absence does not matter
            description="The rules of POST /v1/records/" + name + " (see there), without "
            "the checks against what the hub holds (an order's state, a duplicate). "
            "与发布相同的规则（不含对派单状态和重复记录的检查），不写入。",
            registered="/v1/validate/{kind}",
        )
        for name in HTTP_KINDS
    )


ROUTES = _routes()


class Validate:
    """Answers the validate routes with the publish resource's own checks."""

    def __init__(self, records: Records) -> None:
        self.records = records

    def install(self, app: web.Application) -> None:
        install_routes(app, ROUTES, self)

    async def validate(self, request: web.Request) -> web.Response:
        kind = self.records.kind_of(request)
        data = await self.records.platform.read_json(request)
        record, _ = self.records.check_record(request, kind, data)
        return respond(Validated(valid=True, kind=kind.name, record_id=record.record_id))

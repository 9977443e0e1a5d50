"""``POST /v1/native/{native_kind}``: a party posts a record in its own native format.

The body goes through the party's mapping spec and the canonical validation at once,
so the caller gets a precise 422 (the mapping rule or the canonical rule, the field, in
Chinese and English) or 202. Accepted bytes are written untouched to the party's
``raw.<party>.v1`` topic (acks=all) with ``hub.native.kind``, like every connector
source; the normalisation agent turns them into the canonical record, whose
``record_id`` the answer already gives (it is deterministic).
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from aiohttp import web
from pydantic import BaseModel, Field

from hub.errors import FieldError, KafkaUnavailableError
from hub.http.policy import may_publish
from hub.http.problems import Problem
from hub.http.routes import Answer, Param, Route, install_routes, respond
from hub.logs import traced
from hub.mapping import MappingError, SpecCatalogue, normalise_native
from hub.records import KINDS
from hub.reference import Party
from hub.wire import HubHeaders, Written, raw_topic

if TYPE_CHECKING:
    from hub.http.platform import Platform
    from hub.http.records import Records

log = logging.getLogger(__name__)


class NativeAccepted(BaseModel):
    """原始报文已受理 a native record mapped, valid and kept as sent in the party's raw
    topic."""

    record_id: uuid.UUID = Field(description="the canonical record's id, once normalised")
    kind: str = Field(description="the canonical kind it maps to")
    topic: str = Field(description="the party's raw topic, where the bytes were written")
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    canonical_topic: str = Field(description="where the normalised record will be")


ROUTES = (
    Route(
        "POST", "/v1/native/{native_kind}", "post_native", "post_native",
        "Post a record in the caller's own native format (its mapping spec)", "records",
        (
            Answer(202, "mapped, valid, written to the party's raw topic", NativeAccepted),
            Answer(404, "not one of the caller's native kinds; or an order event's order is "
                   "known and the caller is not on it"),
            Answer(409, "an order event that does not fit its order's state"),
            Answer(413, "body too large"),
            Answer(422, "the mapping or a canonical rule is broken; see errors"),
        ),
        params=(
            Param("native_kind", "path", {"type": "string"},
                  "one of the caller's native kinds (README: Connectors)"),
        ),
        body={"type": "object"},
        # a body that is not JSON breaks the mapping (422); what a native record may carry
        # is its party's own (a kind it may publish, itself as the actor): no 403
        platform=(401, 429, 503),
    ),
)


class Native:
    """Maps native posts and writes them to the raw topics."""

    def __init__(self, platform: Platform, records: Records, catalogue: SpecCatalogue) -> None:
        self.platform = platform
        self.records = records
        self.catalogue = catalogue

    def install(self, app: web.Application) -> None:
        install_routes(app, ROUTES, self)

    async def post_native(self, request: web.Request) -> web.Response:
        party: Party = self.platform.caller(request)
        native_kind = request.match_info["native_kind"]
        if self.catalogue.inbound(party, native_kind) is None:
            known = self.catalogue.native_kinds(party)
            raise Problem(
                "unknown-kind",
                f"{party.id} has no native kind '{native_kind}'"
                + (f"; its kinds: {', '.join(known)}" if known else "; it sends canonical records"),
                detail_zh=f"{party.name}没有名为{native_kind}的报文格式",
            )
        payload = await request.read()
        try:
            mapped = normalise_native(self.catalogue, party, native_kind, payload)
        except MappingError as exc:
            raise Problem(
                "invalid-record",
                f"the {native_kind} record does not map: {exc.message_en}",
                detail_zh=exc.message_zh,
                errors=[FieldError(exc.field, exc.rule, exc.message_zh, exc.message_en)],
                extra={"target": exc.target},
            ) from None
        kind = KINDS[mapped.canonical]
        if not may_publish(party.kind, kind.name):
            raise Problem(
                "forbidden",
                f"{party.id} ({party.kind.value}) may not publish {kind.name} records",
                detail_zh=f"{party.name}无权发布{kind.name}类记录",
            )
        record, trace_id = self.records.check_record(request, kind, mapped.data)
        admission = self.records.admission.get(kind.name)
        admitted = None
        if admission is not None:  # e.g. an order event: checked against its order
            admitted = await admission.admit(request, record, must_exist=False)
            if isinstance(admitted, web.Response):
                return admitted
        headers = HubHeaders(
            native_kind=native_kind, connector="http-native", trace_id=trace_id
        ).to_kafka()
        topic = raw_topic(party.id)
        (result,) = await self.records.publisher.send_many(
            [(topic, kind.key_of(record), payload, headers)]
        )
        if isinstance(result, KafkaUnavailableError):
            raise result
        assert isinstance(result, Written)  # noqa: S101
        if admission is not None:
            admission.written(admitted)
        with traced(trace_id):
            log.info(
                "accepted native %s %s from %s (%s/%d@%d)",
                native_kind,
                record.record_id,
                party.id,
                result.topic,
                result.partition,
                result.offset,
            )
        return respond(
            NativeAccepted(
                record_id=record.record_id,
                kind=kind.name,
                topic=result.topic,
                partition=result.partition,
                offset=result.offset,
                canonical_topic=kind.topic,
            ),
            202,
        )

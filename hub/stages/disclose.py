"""The disclose stage: a case on ``enf.case.v1`` decided with a penalty is disclosed
(三项制度 行政执法公示) on ``pub.penalty.v1`` and in the big-data bureau's inbox, with
natural persons' names and id numbers masked and no phone or address; again, with the
same id, whenever the case is processed again, and recorded once in ``disclosed``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from hub.dispatch import disclosure_of
from hub.records import KINDS, EnforcementCase
from hub.reference import Reference
from hub.serde import AvroSerde
from hub.stages._base import StageBase
from hub.stream import Stage, Table
from hub.wire import Emitter, HubHeaders, inbox_topic


class Disclose(StageBase):
    """case decided with a penalty → disclosure."""

    agent = "dispatch"

    def __init__(
        self,
        out: Emitter,
        serde: AvroSerde,
        reference: Callable[[], Reference],
        app_id: str,
        case_partitions: int,
        reference_ready: asyncio.Event | None = None,
        record_limit: int = 1024 * 1024,
    ) -> None:
        super().__init__(out, serde, reference, reference_ready, record_limit)
        self.disclosed = Table("disclosed", app_id, case_partitions)
        self.disclosures_topic = KINDS["penalty"].topic
        has_inbox = {party.id for party in reference().parties.with_inbox()}
        self.bigdata_inbox = inbox_topic("bigdata") if "bigdata" in has_inbox else None

    def stage(self) -> Stage:
        return Stage(
            "dispatch-disclosures", (KINDS["case"].topic,), self.guarded(self.handle_case),
            (self.disclosed,),
        )

    async def handle_case(self, message: Any) -> None:
        """Publish the disclosure of a case decided with a penalty, once per decision."""
        case = await self.serde.decode("case", message.value)
        assert isinstance(case, EnforcementCase)  # noqa: S101
        disclosure = disclosure_of(case)
        if disclosure is None:
            return
        key = str(disclosure.record_id)
        # published on every processing of the case (same id and key), recorded once
        value = await self.serde.encode("penalty", disclosure)
        headers = HubHeaders(kind="penalty", trace_id=disclosure.trace_id).to_kafka()
        await self.out.send(self.disclosures_topic, key.encode(), value, headers)
        if self.bigdata_inbox is not None:
            await self.out.send(self.bigdata_inbox, key.encode(), value, headers)
        if self.disclosed.get(key) is None:
            self.disclosed[key] = case.case_no

"""The disclose stage: a case on ``enf.case.v1`` decided with a penalty is disclosed
(三项制度 行政执法公示) on ``pub.penalty.v1`` and in the big-data bureau's inbox, with
natural persons' names and id numbers masked and no phone or address; again, with the
same id, whenever the case is processed again, and recorded once in ``disclosed``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from hub.dispatch import disclosure_of
from hub.records import KINDS, EnforcementCase
from hub.reference import Reference
from hub.serde import AvroSerde
from hub.stages._base import Out, Read, StageBase, State, Step
from hub.stream import Stage, Table
from hub.wire import Emitter, HubHeaders, inbox_topic


def disclose(
    cases: Sequence[Read[EnforcementCase]], disclosed: State, bigdata_inbox: str | None
) -> Step:
    """The core: the disclosure of each case decided with a penalty, to the public topic
    and the big-data bureau's inbox; recorded in disclosed the first time."""
    step = Step()
    for read in cases:
        disclosure = disclosure_of(read.record)
        if disclosure is None:
            continue
        key = str(disclosure.record_id)
        headers = HubHeaders(kind="penalty", trace_id=disclosure.trace_id)
        # published on every processing of the case (same id and key), recorded once
        for topic in (KINDS["penalty"].topic, bigdata_inbox):
            if topic is not None:
                step.out.append(Out(topic, key.encode(), headers, record=disclosure))
        if disclosed.get(key) is None:
            disclosed[key] = read.record.case_no
    return step


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
        has_inbox = {party.id for party in reference().parties.with_inbox()}
        self.bigdata_inbox = inbox_topic("bigdata") if "bigdata" in has_inbox else None

    def stage(self) -> Stage:
        return Stage(
            "dispatch-disclosures", (KINDS["case"].topic,), self.guarded(self.handle_case),
            (self.disclosed,),
        )

    async def handle_case(self, message: Any) -> None:
        case = await self.serde.decode("case", message.value)
        assert isinstance(case, EnforcementCase)  # noqa: S101
        disclosed = State(self.disclosed)
        step = disclose([Read(message, case)], disclosed, self.bigdata_inbox)
        await self.apply(step, (self.disclosed, disclosed))

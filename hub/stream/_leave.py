"""LeaveGroup for a static member (KIP-345), which aiokafka does not send.

A consumer with ``group.instance.id`` leaves its group only by its session timing out,
by design: a restart within the timeout then changes nothing. A worker that is told to
stop for good (Ctrl-C, SIGTERM) should hand its partitions over at once, so the
pipeline sends LeaveGroup v3, which names members by instance id. aiokafka 0.14 knows
LeaveGroup v0-v1 only; the v3 request and response are declared here (Kafka's
LeaveGroupRequest.json, versions 3: non-flexible).
"""

from __future__ import annotations

from typing import Any

from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Int16, Int32, Schema, String


class LeaveGroupResponseV3(Response):  # type: ignore[misc]
    API_KEY = 13
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("error_code", Int16),
        (
            "members",
            Array(
                ("member_id", String("utf-8")),
                ("group_instance_id", String("utf-8")),
                ("error_code", Int16),
            ),
        ),
    )


class LeaveGroupRequestV3(RequestStruct):  # type: ignore[misc]
    API_KEY = 13
    API_VERSION = 3
    RESPONSE_TYPE = LeaveGroupResponseV3
    SCHEMA = Schema(
        ("group_id", String("utf-8")),
        ("members", Array(("member_id", String("utf-8")), ("group_instance_id", String("utf-8")))),
    )


class StaticLeave(Request[LeaveGroupRequestV3]):  # type: ignore[misc]
    """LeaveGroup of one static member: (member id, instance id)."""

    API_KEY = 13

    def __init__(self, group: str, member_id: str, instance: str) -> None:
        self._group = group
        self._member = (member_id, instance)

    def build(self, request_struct_class: type[LeaveGroupRequestV3]) -> LeaveGroupRequestV3:
        return request_struct_class(self._group, [self._member])


def leave_errors(response: Any) -> list[int]:
    """The non-zero error codes of a LeaveGroup v3 response (the whole and per member)."""
    codes = [response.error_code, *(m[2] for m in response.members)]
    return [c for c in codes if c]
